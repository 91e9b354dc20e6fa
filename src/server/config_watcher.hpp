// ConfigWatcher: with "watch": true, reloads the configuration when the
// main file, an included file, or an include directory changes.
//
// It watches directories, never files (editors replace a file by renaming
// a new one over it, which ends a watch on the file), and waits for a
// quiet moment before reloading, so a burst of writes becomes one reload.
// It follows the server as a ServerObserver: every apply re-arms the watch
// set (an include may have added a directory), and the server's closing
// closes it.
//
// Owns one uv::FsEvent per watched directory (each freed after its close
// callback) and a debounce timer. Created by `switchboard run` after the
// first apply; it must outlive the loop's run. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/server.hpp"
#include "uv/fs_event.hpp"
#include "uv/timer.hpp"

namespace sb::server {

// Which names in the watched directories can change the configuration: a
// file it was read from, or a new *.json file (what include patterns match).
// Hidden files, editor backups and the log file never can.
struct ConfigChangeFilter {
    std::set<std::string> files;  // absolute paths
    std::vector<std::string> awaited_dirs;  // include directories that do not exist yet
    std::string log_file;

    static ConfigChangeFilter of(const config::Config& config);
    // `name` may be null when the kernel did not say which entry changed.
    [[nodiscard]] bool relevant(std::string_view dir, const char* name) const;
};

class ConfigWatcher final : public ServerObserver {
public:
    // Quiet time after the last event before the reload starts.
    static constexpr std::chrono::milliseconds k_quiet{200};
    // A directory that never stops changing is still reloaded this often.
    static constexpr std::chrono::milliseconds k_max_delay{2000};

    explicit ConfigWatcher(Server& server);
    ConfigWatcher(const ConfigWatcher&) = delete;
    ConfigWatcher& operator=(const ConfigWatcher&) = delete;
    ~ConfigWatcher() = default;

    // Arms the watches `config` asks for (none unless config.watch). Returns
    // 0, or the libuv error of the timer; a directory that cannot be
    // watched is logged and skipped.
    [[nodiscard]] int start(const config::Config& config);

    // Closes every watch and the timer. Idempotent.
    void close();

    [[nodiscard]] std::size_t watched() const { return watches_.size(); }

    // ServerObserver
    void on_applied(const config::Config& config, const ApplyReport& report) override;
    // A failed reload keeps the running configuration, and so its watches.
    void on_reload_failed(const ApplyReport&) override {}
    void on_dump_requested() override {}
    void on_closing() override { close(); }

private:
    struct Watch;

    void arm(const config::Config& config);
    void on_change(const std::string& dir, const char* name, int status);
    void fire();

    Server& server_;
    std::map<std::string, Watch*> watches_;  // by directory
    ConfigChangeFilter filter_;
    uv::Timer debounce_;
    std::uint64_t burst_started_ = 0;  // uv_now() of the first event not yet reloaded, 0: none
    bool closed_ = false;
};

}  // namespace sb::server
