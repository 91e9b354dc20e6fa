// `switchboard probe ADDRESS`: a minimal client for trying services without
// nc or telnet. Stream addresses (tcp://, unix:) get stdin sent while the
// answer is copied to stdout, then a half-close; it ends when the server
// closes. udp:// sends stdin as one datagram and prints one answer.
//
// Exit codes: 0 the exchange finished (the server closed, the answer came,
// or --max-bytes were read); 1 no connection, an I/O error or the timeout;
// 2 a usage error.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "cli/cli.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::cli {
namespace {

constexpr const char* k_probe_usage =
    "usage: switchboard probe [-t SECONDS] [-n BYTES] ADDRESS\n"
    "\n"
    "Sends stdin to ADDRESS and prints the answer.\n"
    "  ADDRESS        tcp://HOST:PORT, udp://HOST:PORT (HOST a literal IPv4 or [IPv6]), unix:/path, unix:@name\n"
    "  -t, --timeout  give up after SECONDS without a byte either way (default 5)\n"
    "  -n, --max-bytes  stop after printing BYTES bytes of the answer (for endless services like chargen)\n"
    "\n"
    "Streams: stdin is sent, then the sending side is shut down; the answer is printed until the server\n"
    "closes. UDP: stdin is one datagram; the first answer is printed.\n"
    "exit 0 when the exchange finished, 1 on no connection, an error or the timeout, 2 on a usage error.\n";

constexpr std::size_t k_max_datagram = 65507;

int usage_error(const std::string& message) {
    std::fprintf(stderr, "switchboard probe: %s\n%s", message.c_str(), k_probe_usage);
    return 2;
}

int fail(const std::string& address, const std::string& what) {
    std::fprintf(stderr, "switchboard probe: %s: %s\n", address.c_str(), what.c_str());
    return 1;
}

bool write_out(const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::write(STDOUT_FILENO, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

std::optional<double> parse_seconds(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value > 0) || value > 86400) return std::nullopt;
    return value;
}

struct Options {
    std::string address;
    bool stdin_closed = false;  // fd 0 not open at all: no input
    int timeout_ms = 5000;
    std::optional<std::size_t> max_bytes;
};

// Stream: copy stdin → socket and socket → stdout until the server closes.
int stream_exchange(int fd, const Options& o) {
    bool stdin_open = !o.stdin_closed;
    if (!stdin_open) (void)::shutdown(fd, SHUT_WR);
    std::size_t printed = 0;
    char buf[65536];
    for (;;) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        int n = ::poll(fds, stdin_open ? 2 : 1, o.timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(o.address, std::strerror(errno));
        if (n == 0) return fail(o.address, "no answer within the timeout");
        if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) {
            ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                stdin_open = false;
                (void)::shutdown(fd, SHUT_WR);
            } else {
                // A blocking send: backpressure from the server pauses stdin,
                // while poll keeps the answer flowing between chunks.
                std::string_view data(buf, static_cast<std::size_t>(got));
                while (!data.empty()) {
                    ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
                    if (sent < 0 && errno == EINTR) continue;
                    if (sent < 0) return fail(o.address, std::string("send: ") + std::strerror(errno));
                    data.remove_prefix(static_cast<std::size_t>(sent));
                }
            }
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            ssize_t got = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got < 0) return fail(o.address, std::strerror(errno));
            if (got == 0) return 0;  // the server closed: done
            std::size_t take = static_cast<std::size_t>(got);
            if (o.max_bytes) take = std::min(take, *o.max_bytes - printed);
            if (!write_out(buf, take)) return fail("stdout", std::strerror(errno));
            printed += take;
            if (o.max_bytes && printed >= *o.max_bytes) return 0;
        }
    }
}

// UDP: stdin as one datagram, one answer printed.
int datagram_exchange(int fd, const Options& o) {
    std::string payload;
    char buf[k_max_datagram + 1];
    while (!o.stdin_closed) {
        ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail("stdin", std::strerror(errno));
        if (got == 0) break;
        payload.append(buf, static_cast<std::size_t>(got));
        if (payload.size() > k_max_datagram) {
            return fail(o.address, "stdin is larger than one datagram (" + std::to_string(k_max_datagram) + " bytes)");
        }
    }
    if (::send(fd, payload.data(), payload.size(), 0) < 0) return fail(o.address, std::strerror(errno));
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, o.timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(o.address, std::strerror(errno));
        if (n == 0) return fail(o.address, "no answer within the timeout");
        ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail(o.address, std::strerror(errno));  // ECONNREFUSED: nothing listens
        std::size_t take = static_cast<std::size_t>(got);
        if (o.max_bytes) take = std::min(take, *o.max_bytes);
        if (!write_out(buf, take)) return fail("stdout", std::strerror(errno));
        return 0;
    }
}

}  // namespace

int probe(int argc, char** argv) {
    Options o;
    // Checked before any socket exists: with fd 0 closed, the socket would
    // become fd 0 and be read as if it were stdin.
    o.stdin_closed = ::fcntl(STDIN_FILENO, F_GETFD) < 0;
    std::optional<std::string> address;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(k_probe_usage, stdout);
            return 0;
        }
        if (arg == "-t" || arg == "--timeout" || arg == "-n" || arg == "--max-bytes") {
            if (i + 1 >= argc) return usage_error(std::string(arg) + " needs a value");
            std::string_view value = argv[++i];
            if (arg == "-t" || arg == "--timeout") {
                auto seconds = parse_seconds(value);
                if (!seconds) return usage_error("the timeout must be a number of seconds, more than 0 and at most 86400");
                o.timeout_ms = static_cast<int>(*seconds * 1000 + 0.5);
                if (o.timeout_ms < 1) o.timeout_ms = 1;
            } else {
                std::size_t bytes = 0;
                auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), bytes);
                if (ec != std::errc() || end != value.data() + value.size() || bytes == 0) {
                    return usage_error("--max-bytes must be a positive number");
                }
                o.max_bytes = bytes;
            }
        } else if (arg.size() > 1 && arg.front() == '-') {
            return usage_error("unknown option '" + std::string(arg) + "'");
        } else if (address) {
            return usage_error("only one ADDRESS");
        } else {
            address = std::string(arg);
        }
    }
    if (!address) return usage_error("an ADDRESS is required");
    o.address = *address;
    std::string why;
    auto ep = net::parse_endpoint(o.address, why);
    if (ep && ep->any) why = "\"*\" is for listening; give the address to connect to";
    auto target = ep && !ep->any ? ep->literal_address() : std::nullopt;
    if (!target) return usage_error(o.address + ": " + (why.empty() ? "not an address to connect to" : why));

    int type = ep->transport == net::Transport::udp ? SOCK_DGRAM : SOCK_STREAM;
    int fd = ::socket(target->family(), type | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(o.address, std::strerror(errno));
    timeval tv{};  // bounds connect and a send the server never drains
    tv.tv_sec = o.timeout_ms / 1000;
    tv.tv_usec = (o.timeout_ms % 1000) * 1000;
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = 0;
    if (::connect(fd, target->get(), target->length) != 0) {
        rc = fail(o.address, std::string("cannot connect: ") + std::strerror(errno));
    } else {
        rc = type == SOCK_DGRAM ? datagram_exchange(fd, o) : stream_exchange(fd, o);
    }
    ::close(fd);
    return rc;
}

}  // namespace sb::cli
