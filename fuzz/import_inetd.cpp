// Fuzz target: arbitrary bytes as an inetd configuration (see import_fuzz.hpp).
#include "import_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz_import(sb::import::import_inetd_text, data, size);
}
