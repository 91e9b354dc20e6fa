// `switchboard check`: everything a start would verify, without binding.
#include <cstdio>

#include "cli/cli.hpp"
#include "switchboard/config/load.hpp"

namespace sb::cli {

int check(const std::string& config_path) {
    auto result = config::load_file(config_path);
    if (!result.config) {
        for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "%s: %zu error%s\n", config_path.c_str(), result.errors.size(),
                     result.errors.size() == 1 ? "" : "s");
        return 2;
    }
    std::size_t listeners = 0;
    for (const auto& [name, s] : result.config->services) listeners += s.listen.size();
    std::printf("%s: ok, %zu service%s, %zu listener%s, %zu file%s\n", config_path.c_str(),
                result.config->services.size(), result.config->services.size() == 1 ? "" : "s", listeners,
                listeners == 1 ? "" : "s", result.config->files.size(), result.config->files.size() == 1 ? "" : "s");
    return 0;
}

}  // namespace sb::cli
