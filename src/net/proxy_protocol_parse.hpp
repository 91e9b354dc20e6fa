// ProxyHeaderParser: reads a PROXY protocol header (v1 or v2, told apart by
// their signatures; haproxy's doc/proxy-protocol.txt) from the start of a
// connection that may deliver it in any number of pieces.
//
// The caller peeks at what the socket holds (MSG_PEEK) and offers it to
// feed(), which says how many of those bytes belong to the header; the
// caller then consumes exactly that many. So the bytes after the header
// stay in the socket for whoever reads the connection next, and since every
// byte before the header's end belongs to it, a header still incomplete
// leaves the socket empty (no busy wakeups). A plain value: no fds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "switchboard/net/endpoint.hpp"

namespace sb::net {

struct ProxyHeader {
    int version = 0;  // 1 or 2
    // The header names no client (v2 LOCAL, v2 UNSPEC, v1 UNKNOWN): the
    // connection's own addresses stand.
    bool local = true;
    SockAddr source;       // the client
    SockAddr destination;  // the address the client connected to
};

class ProxyHeaderParser {
public:
    enum class State : std::uint8_t { more, done, bad };

    // The longest v1 line (the spec's 107 bytes, CRLF included) and the
    // part of a v2 header kept (16 bytes of preamble and the UNIX family's
    // 216 bytes of addresses; TLVs after them are counted and skipped).
    static constexpr std::size_t k_v1_max = 107;
    static constexpr std::size_t k_v2_kept = 16 + 216;

    // Offers the bytes the socket holds now (from the first byte not yet
    // consumed). Returns how many of them are part of the header; the
    // caller consumes exactly those. In state done or bad, returns 0.
    std::size_t feed(std::span<const char> bytes);

    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] const ProxyHeader& header() const { return header_; }
    [[nodiscard]] const std::string& error() const { return error_; }
    // Bytes of the header consumed so far.
    [[nodiscard]] std::size_t consumed() const { return consumed_; }

private:
    std::size_t feed_v1(std::span<const char> bytes);
    std::size_t feed_v2(std::span<const char> bytes);
    void parse_v1();
    void parse_v2();
    void fail(std::string why);

    State state_ = State::more;
    int version_ = 0;  // 0 while the signature is not yet told apart
    std::string head_;  // the kept part of the header
    std::size_t consumed_ = 0;
    std::size_t v2_total_ = 0;  // 16 + length, once known
    ProxyHeader header_;
    std::string error_;
};

}  // namespace sb::net
