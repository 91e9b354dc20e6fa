// Reading the input files of an import: whole text files, and the entries
// of an xinetd includedir in the order xinetd reads them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "import/import.hpp"

namespace sb::import {

// Reads `path` and imports its text with `import_text`; an unreadable file
// is the result's error.
Result import_file(const std::string& path, const Options& options,
                   Result (*import_text)(std::string_view, const std::string&, const Options&));

// The file's text, or nullopt with `error` set ("cannot read F: reason").
std::optional<std::string> read_text(const std::string& path, std::string& error);

// Files of `dir` xinetd would read: no '.' in the name, not ending in '~',
// sorted bytewise (the C locale). nullopt with `error` when unreadable.
std::optional<std::vector<std::string>> includedir_files(const std::string& dir, std::string& error);

}  // namespace sb::import
