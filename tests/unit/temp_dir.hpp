// A temporary directory for unit tests that need real files or UNIX
// sockets: made under /tmp with a recognisable prefix, removed with
// everything in it when the test is over.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace sb::test {

struct TempDir {
    std::string path;

    // `prefix`: "sb-socket" makes /tmp/sb-socket-XXXXXX.
    explicit TempDir(const std::string& prefix) {
        std::string pattern = "/tmp/" + prefix + "-XXXXXX";
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() { (void)!std::system(("rm -rf '" + path + "'").c_str()); }
};

// Replaces the file whole, as editors do (write a new file, then rename):
// a reload reading it meanwhile, on the threadpool, sees the old text or the
// new, never an empty or half-written file.
inline void write_file(const std::string& path, const std::string& text) {
    std::string partial = path + ".partial";
    { std::ofstream(partial) << text; }
    REQUIRE(std::rename(partial.c_str(), path.c_str()) == 0);
}

}  // namespace sb::test
