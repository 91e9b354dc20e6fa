// Collects the warnings of one import, in the order they were found.
#pragma once

#include <string>
#include <vector>

#include "import/import.hpp"

namespace sb::import {

class Report {
public:
    // Something the configuration written does not do as the input did.
    void unmapped(const std::string& file, int line, std::string message) {
        warnings_.push_back(Warning{file, line, std::move(message), true});
    }
    // Worth knowing, but the meaning is kept.
    void note(const std::string& file, int line, std::string message) {
        warnings_.push_back(Warning{file, line, std::move(message), false});
    }
    std::vector<Warning> take() { return std::move(warnings_); }

private:
    std::vector<Warning> warnings_;
};

// Where a piece of input came from, for warnings.
struct Origin {
    std::string file;
    int line = 0;
};

}  // namespace sb::import
