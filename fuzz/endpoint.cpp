// Fuzz target: arbitrary bytes as an address ("tcp://[::1]:7",
// "unix:@name", a redirect target with a host name), as an operator writes
// it in the configuration. Parsing must never crash or throw, and an
// accepted address must read back as itself from its canonical spelling
// (what `check`, logs and reload plans show and compare).
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/net/endpoint.hpp"

namespace {

void round_trip(std::string_view text, bool allow_names) {
    std::string error;
    auto ep = sb::net::parse_endpoint(text, error, allow_names);
    if (ep.has_value() == !error.empty()) __builtin_trap();  // exactly one of them
    if (!ep) return;
    std::string shown = ep->to_string();
    std::string again_error;
    auto again = sb::net::parse_endpoint(shown, again_error, allow_names);
    if (!again || !(*again == *ep)) __builtin_trap();
    // Literal hosts (and every accepted UNIX path or name) make an address
    // of their own family; a name never does.
    if (auto addr = ep->literal_address()) {
        bool unix_family = addr->get()->sa_family == AF_UNIX;
        if (unix_family != (ep->transport == sb::net::Transport::unix_stream)) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    round_trip(text, false);
    round_trip(text, true);
    return 0;
}
