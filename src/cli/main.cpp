// Argument parsing and dispatch for the switchboard binary.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/cli.hpp"

namespace sb::cli {
namespace {

constexpr const char* k_usage =
    "usage: switchboard run   [-c FILE]            serve in the foreground, logging to stderr\n"
    "       switchboard check [-c FILE] [--offline] validate a configuration and show what would run;\n"
    "                                              exit 0, or 2 listing every error\n"
    "       switchboard ctl   [-s SOCKET | -c FILE] [--json] COMMAND [NAME]\n"
    "                 status | services | connections | metrics | reload | enable NAME | disable NAME | drain\n"
    "       switchboard probe [-t SECONDS] [-n BYTES] ADDRESS   send stdin to a service, print the answer\n"
    "       switchboard --version | --help\n"
    "\n"
    "FILE defaults to $SWITCHBOARD_CONFIG, else " SWITCHBOARD_DEFAULT_CONFIG ".\n"
    "--offline checks no users, groups, programs or files of this host.\n";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "switchboard: %s\n%s", message.c_str(), k_usage);
    return 2;
}

}  // namespace

std::string default_config() {
    const char* env = std::getenv("SWITCHBOARD_CONFIG");
    return env != nullptr && *env != '\0' ? std::string(env) : std::string(k_default_config);
}

int main(int argc, char** argv) {
    if (argc < 2) return usage_error("a command is required");
    std::string_view command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        std::fputs(k_usage, stdout);
        return 0;
    }
    if (command == "--version" || command == "-V") {
        std::printf("switchboard %s\n", SWITCHBOARD_VERSION);
        return 0;
    }
    if (command == "ctl") return ctl(argc - 2, argv + 2);
    if (command == "probe") return probe(argc - 2, argv + 2);
    if (command != "run" && command != "check") return usage_error("unknown command '" + std::string(command) + "'");

    std::string config_path = default_config();
    bool offline = false;
    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-c" || arg == "--config") {
            if (i + 1 >= argc) return usage_error(std::string(arg) + " needs a file");
            config_path = argv[++i];
        } else if (arg.starts_with("--config=")) {
            config_path = std::string(arg.substr(9));
        } else if (arg == "--offline" && command == "check") {
            offline = true;
        } else if (arg == "--help" || arg == "-h") {
            std::fputs(k_usage, stdout);
            return 0;
        } else {
            return usage_error("unknown argument '" + std::string(arg) + "'");
        }
    }
    return command == "run" ? run(config_path) : check(config_path, offline);
}

}  // namespace sb::cli
