// The command-line front end: `switchboard run|check|ctl|probe`. Each command
// returns the process exit code: 0 success, 1 runtime failure, 2 bad usage
// or an invalid configuration.
#pragma once

#include <string>
#include <vector>

namespace sb::cli {

inline constexpr const char* k_default_config = "/etc/switchboard/switchboard.json";

// The configuration file when no -c is given: $SWITCHBOARD_CONFIG if set
// and non-empty, else k_default_config.
std::string default_config();

int main(int argc, char** argv);

int run(const std::string& config_path);
// offline: LoadOptions::offline (nothing of this host is looked up).
int check(const std::string& config_path, bool offline);
// `switchboard ctl [-s SOCKET | -c FILE] [--json] COMMAND [ARG]`; args are what follows "ctl".
int ctl(int argc, char** argv);
// `switchboard probe [-t SECONDS] [-n BYTES] ADDRESS`; args are what follows "probe".
int probe(int argc, char** argv);

}  // namespace sb::cli
