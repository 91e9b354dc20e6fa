// Fuzz target: arbitrary bytes as the start of a connection on a listener
// that expects a PROXY protocol header (v1 or v2). The parser must never
// crash, never claim more bytes than it was offered, and reach the same
// verdict, with the same header length, whether the bytes come at once or
// one at a time (a header split across many TCP segments).
#include <cstddef>
#include <cstdint>
#include <span>

#include "net/proxy_protocol_parse.hpp"

using sb::net::ProxyHeaderParser;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const char> bytes(reinterpret_cast<const char*>(data), size);

    ProxyHeaderParser whole;
    std::size_t used = whole.feed(bytes);
    if (used > size || used != whole.consumed()) __builtin_trap();
    if (whole.state() == ProxyHeaderParser::State::more && used != size) __builtin_trap();  // all of it is header

    ProxyHeaderParser pieces;
    std::size_t offset = 0;
    while (offset < size && pieces.state() == ProxyHeaderParser::State::more) {
        std::size_t n = pieces.feed(bytes.subspan(offset, 1));
        if (n > 1) __builtin_trap();
        offset += n;
        if (n == 0) break;
    }
    if (pieces.state() != whole.state() || pieces.consumed() != whole.consumed()) __builtin_trap();
    if (whole.state() == ProxyHeaderParser::State::done) {
        const auto& h = whole.header();
        if (h.version != 1 && h.version != 2) __builtin_trap();
        if (!h.local && (h.source.length == 0 || h.source.family() != h.destination.family())) __builtin_trap();
        if (whole.feed(bytes) != 0) __builtin_trap();  // done: nothing more is taken
    }
    if (whole.state() == ProxyHeaderParser::State::bad && whole.error().empty()) __builtin_trap();
    return 0;
}
