// Input files of an import.
#include "import/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sb::import {

std::optional<std::string> read_text(const std::string& path, std::string& error) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        error = "cannot read " + path + ": it is a directory";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read " + path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

Result import_file(const std::string& path, const Options& options,
                   Result (*import_text)(std::string_view, const std::string&, const Options&)) {
    Result result;
    auto text = read_text(path, result.error);
    if (!text) return result;
    return import_text(*text, path, options);
}

std::optional<std::vector<std::string>> includedir_files(const std::string& dir, std::string& error) {
    std::error_code ec;
    std::vector<std::string> names;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.find('.') != std::string::npos || name.ends_with("~")) continue;
        if (!it->is_regular_file(ec)) continue;
        names.push_back(name);
    }
    if (ec) {
        error = "cannot read directory " + dir + ": " + ec.message();
        return std::nullopt;
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) n = (std::filesystem::path(dir) / n).string();
    return names;
}

}  // namespace sb::import
