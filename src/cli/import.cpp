// `switchboard import inetd|xinetd [FILE]`: writes the configuration to
// stdout or -o FILE, the warnings to stderr.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "switchboard/fd.hpp"
#include "cli/cli.hpp"
#include "import/import.hpp"

namespace sb::cli {

namespace {

constexpr const char* k_import_usage =
    "usage: switchboard import inetd  [FILE] [-o OUT [--force]] [--strict] [--services FILE] [--hosts FILE]\n"
    "                                [--dialect openbsd|inetutils]\n"
    "       switchboard import xinetd [FILE] [-o OUT [--force]] [--strict] [--services FILE] [--hosts FILE]\n"
    "FILE defaults to /etc/inetd.conf or /etc/xinetd.conf; OUT defaults to stdout.\n";

int import_usage(const std::string& message) {
    std::fprintf(stderr, "switchboard import: %s\n%s", message.c_str(), k_import_usage);
    return 2;
}

// Writes `text` to `path`: a new file, or with `force` a replacement (by
// rename, so a reader never sees half a file).
bool write_output(const std::string& path, const std::string& text, bool force, std::string& error) {
    const std::string target = force ? path + ".import-partial" : path;
    Fd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!file && errno == EEXIST && force) {
        ::unlink(target.c_str());
        file.reset(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    }
    if (!file) {
        error = errno == EEXIST ? path + " exists; use --force to replace it"
                                : "cannot write " + path + ": " + std::strerror(errno);
        return false;
    }
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(file.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = "cannot write " + path + ": " + std::strerror(errno);
            file.reset();
            ::unlink(target.c_str());
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    file.reset();
    if (force && ::rename(target.c_str(), path.c_str()) != 0) {
        error = "cannot replace " + path + ": " + std::strerror(errno);
        ::unlink(target.c_str());
        return false;
    }
    return true;
}

}  // namespace

int import_config(int argc, char** argv) {
    if (argc < 1) return import_usage("say what to import: inetd or xinetd");
    const std::string_view kind = argv[0];
    if (kind == "--help" || kind == "-h") {
        std::fputs(k_import_usage, stdout);
        return 0;
    }
    if (kind != "inetd" && kind != "xinetd") return import_usage("unknown format '" + std::string(kind) + "'");
    std::string input = kind == "inetd" ? "/etc/inetd.conf" : "/etc/xinetd.conf";
    std::string output;
    bool force = false, strict = false, have_input = false;
    import::Options options;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&](std::string& into) {
            if (i + 1 >= argc) return false;
            into = argv[++i];
            return true;
        };
        std::string dialect;
        if (arg == "-o" || arg == "--output") {
            if (!value(output)) return import_usage(std::string(arg) + " needs a file");
        } else if (arg == "--services") {
            if (!value(options.services_file)) return import_usage("--services needs a file");
        } else if (arg == "--dialect" && kind == "inetd") {
            if (!value(dialect) || (dialect != "openbsd" && dialect != "inetutils")) {
                return import_usage("--dialect is openbsd or inetutils");
            }
            options.dialect = dialect == "openbsd" ? import::Dialect::openbsd : import::Dialect::inetutils;
        } else if (arg == "--hosts") {
            std::string hosts;
            if (!value(hosts)) return import_usage("--hosts needs a file");
            options.resolve = import::hosts_file_resolver(hosts);
        } else if (arg == "--force") {
            force = true;
        } else if (arg == "--strict") {
            strict = true;
        } else if (arg == "--help" || arg == "-h") {
            std::fputs(k_import_usage, stdout);
            return 0;
        } else if (!arg.starts_with("-") && !have_input) {
            input = std::string(arg);
            have_input = true;
        } else {
            return import_usage("unknown argument '" + std::string(arg) + "'");
        }
    }
    if (force && output.empty()) return import_usage("--force goes with -o FILE");

    import::Result result = kind == "inetd" ? import::import_inetd(input, options) : import::import_xinetd(input, options);
    if (!result.error.empty()) {
        std::fprintf(stderr, "switchboard import: %s\n", result.error.c_str());
        return 1;
    }
    std::size_t unmapped = 0;
    for (const auto& w : result.warnings) {
        std::fprintf(stderr, "%s\n", w.to_string(strict).c_str());
        unmapped += w.unmapped ? 1 : 0;
    }
    if (strict && unmapped > 0) {
        std::fprintf(stderr, "switchboard import: %zu unmapped item%s (--strict); nothing written\n", unmapped,
                     unmapped == 1 ? "" : "s");
        return 2;
    }
    const std::string text = import::render(result.config);
    if (output.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return std::fflush(stdout) == 0 ? 0 : 1;
    }
    std::string error;
    if (!write_output(output, text, force, error)) {
        std::fprintf(stderr, "switchboard import: %s\n", error.c_str());
        return 1;
    }
    return 0;
}

}  // namespace sb::cli
