// Fuzz target: arbitrary bytes as one control request line (what any local
// user who can reach the control socket sends). Parsing must never crash,
// hang or throw; a request it accepts must survive a round trip through
// render_request() unchanged, since that is what `ctl` sends.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "control/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view line(reinterpret_cast<const char*>(data), size);
    sb::control::ParsedRequest parsed = sb::control::parse_request(line);
    if (parsed.request.has_value() == !parsed.error.empty()) __builtin_trap();  // exactly one of them
    if (!parsed.request) return 0;
    std::string rendered = sb::control::render_request(*parsed.request);
    if (rendered.empty() || rendered.back() != '\n') __builtin_trap();
    rendered.pop_back();
    sb::control::ParsedRequest again = sb::control::parse_request(rendered);
    if (!again.request || again.request->command != parsed.request->command ||
        again.request->service != parsed.request->service || again.request->token != parsed.request->token) {
        __builtin_trap();
    }
    (void)sb::control::reply_error(parsed.request->service);
    return 0;
}
