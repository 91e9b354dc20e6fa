// Watching the configuration's directories (see config_watcher.hpp).
#include "server/config_watcher.hpp"

#include <algorithm>
#include <set>

#include "log/log.hpp"

namespace sb::server {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

}  // namespace

// One watched directory. Freed in its close callback.
struct ConfigWatcher::Watch {
    std::string dir;
    uv::FsEvent event;

    void close() {
        event.close([this] { delete this; });
    }
};

ConfigWatcher::ConfigWatcher(Server& server) : server_(server) {}

int ConfigWatcher::start(const config::Config& config) {
    if (int rc = debounce_.init(server_.loop()); rc != 0) return rc;
    debounce_.on_fire([this] { fire(); });
    arm(config);
    return 0;
}

void ConfigWatcher::close() {
    if (closed_) return;
    closed_ = true;
    for (auto& [dir, watch] : watches_) watch->close();
    watches_.clear();
    debounce_.close();
}

ConfigChangeFilter ConfigChangeFilter::of(const config::Config& config) {
    ConfigChangeFilter f;
    f.files.insert(config.files.begin(), config.files.end());
    f.log_file = config.log.file;
    f.awaited_dirs = config.awaited_dirs;
    return f;
}

bool ConfigChangeFilter::relevant(std::string_view dir, const char* name) const {
    if (name == nullptr || *name == '\0') return true;  // the kernel did not say: assume it matters
    std::string path = std::string(dir) + "/" + name;
    if (!log_file.empty() && path == log_file) return false;
    if (files.count(path) != 0) return true;
    // A directory an include waits for, or one on the way to it, appeared.
    for (const std::string& awaited : awaited_dirs) {
        if (awaited == path || (awaited.starts_with(path) && awaited[path.size()] == '/')) return true;
    }
    std::string_view n = name;
    if (n.front() == '.' || n.back() == '~' || ends_with(n, ".swp") || ends_with(n, ".swx") || n == "4913") {
        return false;  // editors' scratch files
    }
    return ends_with(n, ".json");
}

void ConfigWatcher::on_applied(const config::Config& config, const ApplyReport&) { arm(config); }

void ConfigWatcher::arm(const config::Config& config) {
    if (closed_) return;
    std::set<std::string> wanted;
    if (config.watch) wanted.insert(config.watch_dirs.begin(), config.watch_dirs.end());
    for (auto it = watches_.begin(); it != watches_.end();) {
        if (wanted.count(it->first) == 0) {
            it->second->close();
            it = watches_.erase(it);
        } else {
            ++it;
        }
    }
    for (const std::string& dir : wanted) {
        if (watches_.count(dir) != 0) continue;
        auto* watch = new Watch;
        watch->dir = dir;
        int rc = watch->event.start(server_.loop(), dir, [this, watch](const char* name, int, int status) {
            on_change(watch->dir, name, status);
        });
        if (rc != 0) {
            log::warning("watch-failed", {{"dir", dir}, {"error", uv_strerror(rc)}});
            watch->close();
            continue;
        }
        watches_[dir] = watch;
    }
    filter_ = ConfigChangeFilter::of(config);
    if (!watches_.empty()) log::debug("watching", {{"dirs", watches_.size()}});
}

void ConfigWatcher::on_change(const std::string& dir, const char* name, int status) {
    if (closed_) return;
    if (status < 0) {
        // The directory is gone or unreadable; the next reload re-arms it if it is back.
        log::warning("watch-error", {{"dir", dir}, {"error", uv_strerror(status)}});
        if (auto it = watches_.find(dir); it != watches_.end()) {
            it->second->close();
            watches_.erase(it);
        }
        return;
    }
    if (!filter_.relevant(dir, name)) return;
    std::uint64_t now = uv_now(server_.loop());
    if (burst_started_ == 0) burst_started_ = now;
    auto waited = std::chrono::milliseconds(now - burst_started_);
    auto delay = std::min(k_quiet, std::max(std::chrono::milliseconds(0), k_max_delay - waited));
    debounce_.start(delay);
}

void ConfigWatcher::fire() {
    burst_started_ = 0;
    if (closed_ || server_.stopping()) return;
    log::info("config-changed", {{"dirs", watches_.size()}});
    server_.reload("watch");  // its outcome is logged and counted by the server's observers
}

}  // namespace sb::server
