// The command-line front end: `switchboard run|check|ctl`. Each command
// returns the process exit code: 0 success, 1 runtime failure, 2 bad usage
// or an invalid configuration.
#pragma once

#include <string>
#include <vector>

namespace sb::cli {

inline constexpr const char* k_default_config = "/etc/switchboard/switchboard.json";

int main(int argc, char** argv);

int run(const std::string& config_path);
int check(const std::string& config_path);
// `switchboard ctl [-s SOCKET] [--json] COMMAND [ARG]`; args are what follows "ctl".
int ctl(int argc, char** argv);
// `switchboard import inetd|xinetd [FILE] ...`; args are what follows "import".
int import_config(int argc, char** argv);

}  // namespace sb::cli
