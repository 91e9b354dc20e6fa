// Collects the warnings of one import, in the order they were found.
#pragma once

#include <algorithm>
#include <map>
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
    void append(Report& other) {
        for (auto& w : other.warnings_) warnings_.push_back(std::move(w));
        other.warnings_.clear();
    }
    // Files in the order they were read: warnings come out in that order,
    // by line within a file, whichever step found them.
    void reading(const std::string& file) { rank_.emplace(file, rank_.size()); }

    std::vector<Warning> take() {
        auto rank = [&](const Warning& w) {
            auto it = rank_.find(w.file);
            return it == rank_.end() ? rank_.size() : it->second;
        };
        std::stable_sort(warnings_.begin(), warnings_.end(), [&](const Warning& a, const Warning& b) {
            return std::pair(rank(a), a.line) < std::pair(rank(b), b.line);
        });
        // A default applied to many services is reported once.
        auto same = [](const Warning& a, const Warning& b) {
            return a.file == b.file && a.line == b.line && a.message == b.message;
        };
        warnings_.erase(std::unique(warnings_.begin(), warnings_.end(), same), warnings_.end());
        return std::move(warnings_);
    }

private:
    std::vector<Warning> warnings_;
    std::map<std::string, std::size_t> rank_;
};

// Where a piece of input came from, for warnings.
struct Origin {
    std::string file;
    int line = 0;
};

}  // namespace sb::import
