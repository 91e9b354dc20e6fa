// The HTTP responder of GET /metrics (see http_metrics.hpp).
#include "switchboard/fd.hpp"
#include "control/http_metrics.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "uv/poll.hpp"
#include "uv/timer.hpp"

namespace sb::control {
namespace {

constexpr std::string_view k_metrics_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view k_path = "/metrics";
constexpr std::size_t k_read_chunk = 4096;
constexpr int k_reads_per_wakeup = 4;
constexpr std::size_t k_max_linger_bytes = 64 * 1024;

std::string respond(int status, std::string_view reason, std::string_view body, std::string_view extra_headers = {},
                    std::string_view type = "text/plain; charset=utf-8", bool head_only = false) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
    out += "Content-Type: ";
    out += type;
    out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
    out += extra_headers;
    out += "\r\n";
    if (!head_only) out += body;
    return out;
}

std::string bad_request() { return respond(400, "Bad Request", "bad request\n"); }

// RFC 9110 token characters (methods, header names).
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// The next line of `head` (without CR LF or LF), advancing it.
std::string_view next_line(std::string_view& head) {
    std::size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

// The path of an origin-form ("/metrics?x") or absolute-form
// ("http://host:9120/metrics") target, without its query.
std::string_view path_of(std::string_view target) {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() > scheme.size() && equals_ignoring_case(target.substr(0, scheme.size()), scheme)) {
            target.remove_prefix(scheme.size());
            std::size_t slash = target.find('/');
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
    }
    return target.substr(0, target.find_first_of("?#"));
}

}  // namespace

std::optional<std::string> http_metrics_response(std::string_view received, std::size_t max_request,
                                                 const MetricsRender& render) {
    // Empty lines before the request line are ignored (RFC 9112 §2.2).
    while (received.starts_with("\r\n") || received.starts_with("\n")) {
        received.remove_prefix(received[0] == '\r' ? 2 : 1);
    }
    constexpr auto npos = std::string_view::npos;
    std::size_t crlf = received.find("\r\n\r\n");
    std::size_t lf = received.find("\n\n");
    std::size_t end = std::min(crlf == npos ? npos : crlf + 4, lf == npos ? npos : lf + 2);
    if (end == npos || end > max_request) {
        if (received.size() <= max_request) return std::nullopt;
        return respond(431, "Request Header Fields Too Large", "request header too large\n");
    }
    std::string_view head = received.substr(0, end);

    std::string_view request_line = next_line(head);
    std::size_t sp1 = request_line.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) return bad_request();
    std::string_view method = request_line.substr(0, sp1);
    std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = request_line.substr(sp2 + 1);
    if (!is_token(method) || target.empty()) return bad_request();
    for (unsigned char c : target) {
        if (c <= ' ' || c == 0x7f) return bad_request();
    }
    bool http11 = version == "HTTP/1.1";
    if (!http11 && version != "HTTP/1.0") {
        bool well_formed = version.size() == 8 && version.starts_with("HTTP/") && version[6] == '.' &&
                           version[5] >= '0' && version[5] <= '9' && version[7] >= '0' && version[7] <= '9';
        return well_formed ? respond(505, "HTTP Version Not Supported", "HTTP/1.0 and HTTP/1.1 only\n")
                           : bad_request();
    }

    bool has_host = false;
    while (!head.empty()) {
        std::string_view line = next_line(head);
        if (line.empty()) break;
        std::size_t colon = line.find(':');
        // No name, a space before the colon, or obsolete line folding.
        if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return bad_request();
        if (equals_ignoring_case(line.substr(0, colon), "host")) {
            if (has_host) return bad_request();
            has_host = true;
        }
    }
    if (http11 && !has_host) return bad_request();

    if (path_of(target) != k_path) return respond(404, "Not Found", "not found; the metrics are at /metrics\n");
    bool head_only = method == "HEAD";
    if (method != "GET" && !head_only) {
        return respond(405, "Method Not Allowed", "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
    }
    return respond(200, "OK", render(), {}, k_metrics_type, head_only);
}

// One client: read the request head, write the response, linger, close.
// Frees itself when its poll and timer have both closed.
class HttpExchange {
public:
    HttpExchange(HttpMetricsServer& owner, Fd fd, std::function<void()> on_closed)
        : owner_(owner), fd_(std::move(fd)), on_closed_(std::move(on_closed)) {}

    [[nodiscard]] bool open() {
        if (poll_.init(owner_.loop_, fd_.get()) != 0) return false;
        pending_closes_ = 1;
        if (timer_.init(owner_.loop_) != 0) return false;
        pending_closes_ = 2;
        poll_.on_event([this](int status, int events) { on_event(status, events); });
        timer_.on_fire([this] { on_timeout(); });
        timer_.start(std::chrono::milliseconds(owner_.limits_.request_timeout_ms));
        return poll_.watch(UV_READABLE) == 0;
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        owner_.forget(this);
        if (pending_closes_ == 0) return finish();
        auto done = [this] {
            if (--pending_closes_ == 0) finish();
        };
        int handles = pending_closes_;
        poll_.close(done);
        if (handles == 2) timer_.close(done);
    }

private:
    enum class State : std::uint8_t { reading, writing, lingering };

    void finish() {
        fd_.reset();
        auto on_closed = std::move(on_closed_);
        delete this;
        if (on_closed) on_closed();
    }

    void on_event(int status, int events) {
        if (closed_) return;
        if (status < 0) return close();
        if (state_ == State::writing && (events & UV_WRITABLE) != 0) return flush();
        if ((events & (UV_READABLE | UV_DISCONNECT)) != 0) read_some();
    }

    void read_some() {
        char buf[k_read_chunk];
        for (int i = 0; i < k_reads_per_wakeup; ++i) {
            ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            if (n <= 0) {
                // The client is done: answer what it sent, if anything is
                // owed, or close.
                if (state_ == State::reading && !in_.empty()) return answer(bad_request());
                return close();
            }
            if (state_ == State::lingering) {
                lingered_ += static_cast<std::size_t>(n);
                if (lingered_ > k_max_linger_bytes) return close();
                continue;
            }
            if (state_ != State::reading) return;  // a pipelined request is not read
            in_.append(buf, static_cast<std::size_t>(n));
            if (auto response = http_metrics_response(in_, owner_.limits_.max_request, owner_.render_)) {
                return answer(std::move(*response));
            }
        }
    }

    void answer(std::string response) {
        out_ = std::move(response);
        in_.clear();
        state_ = State::writing;
        flush();
    }

    void flush() {
        while (sent_ < out_.size()) {
            ssize_t n = ::send(fd_.get(), out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (poll_.watch(UV_WRITABLE) != 0) close();
                return;
            }
            if (n < 0) return close();
            sent_ += static_cast<std::size_t>(n);
        }
        // All sent: say so, and read on until the client closes, so
        // closing with unread input cannot reset the connection under the
        // response.
        (void)::shutdown(fd_.get(), SHUT_WR);
        state_ = State::lingering;
        timer_.start(std::chrono::milliseconds(owner_.limits_.linger_ms));
        if (poll_.watch(UV_READABLE) != 0) close();
    }

    void on_timeout() {
        if (state_ == State::reading) {
            timer_.start(std::chrono::milliseconds(owner_.limits_.request_timeout_ms));
            return answer(respond(408, "Request Timeout", "the request took too long\n"));
        }
        close();
    }

    HttpMetricsServer& owner_;
    Fd fd_;
    std::function<void()> on_closed_;
    uv::Poll poll_;
    uv::Timer timer_;
    int pending_closes_ = 0;
    bool closed_ = false;
    State state_ = State::reading;
    std::string in_;
    std::string out_;
    std::size_t sent_ = 0;
    std::size_t lingered_ = 0;
};

HttpMetricsServer::HttpMetricsServer(uv_loop_t* loop, MetricsRender render, HttpLimits limits)
    : loop_(loop), render_(std::move(render)), limits_(limits) {}

HttpMetricsServer::~HttpMetricsServer() { close_all(); }

void HttpMetricsServer::adopt(int fd, std::function<void()> on_closed) {
    Fd owned(fd);
    int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (open_.size() < limits_.max_connections) {
        auto* exchange = new HttpExchange(*this, std::move(owned), std::move(on_closed));
        open_.insert(exchange);
        if (exchange->open()) return;
        exchange->close();
        return;
    }
    ++refused_;
    std::string busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    owned.reset();
    if (on_closed) on_closed();
}

void HttpMetricsServer::close_all() {
    while (!open_.empty()) (*open_.begin())->close();
}

}  // namespace sb::control
