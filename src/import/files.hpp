// Reading the input files of an import: whole text files, and the entries
// of an xinetd includedir in the order xinetd reads them.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sb::import {

// The file's text, or nullopt with `error` set ("cannot read F: reason").
std::optional<std::string> read_text(const std::string& path, std::string& error);

// Files of `dir` xinetd would read: no '.' in the name, not ending in '~',
// sorted bytewise (the C locale). nullopt with `error` when unreadable.
std::optional<std::vector<std::string>> includedir_files(const std::string& dir, std::string& error);

}  // namespace sb::import
