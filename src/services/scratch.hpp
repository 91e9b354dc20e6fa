// The loop-wide scratch buffer: every read lands here first, so an idle
// connection holds no buffer at all. Loop thread only; contents do not
// survive the callback that filled them.
#pragma once

#include <cstddef>
#include <span>

namespace sb::services {

inline std::span<char> scratch_buffer() {
    static char buffer[64 * 1024];
    return {buffer, sizeof buffer};
}

}  // namespace sb::services
