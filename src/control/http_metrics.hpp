// The Prometheus scrape endpoint: a small HTTP/1.0 and 1.1 responder for
// stream connections someone else accepted (the metrics listener, which
// the server owns). It answers one request per connection:
//
//   GET or HEAD /metrics   200, Content-Type: text/plain; version=0.0.4,
//                          the text of the render callback
//   another path           404
//   another method         405 with Allow: GET, HEAD (on /metrics)
//   malformed              400; an HTTP/1.1 request without Host is one
//   other HTTP versions    505
//   a head over the limit  431; no whole head within the time limit: 408
//
// and always closes (Connection: close): after the response it shuts down
// its sending side and reads what the client still sends for a short
// linger, so the client sees the whole response instead of a reset.
//
// HttpMetricsServer owns the connections it adopted (each one's fd, a
// uv::Poll and a uv::Timer; a connection frees itself once both close
// callbacks have run). Call close_all() and let the loop run before the
// server is destroyed. Loop thread only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace sb::control {

struct HttpLimits {
    std::size_t max_request = 8 * 1024;       // the request head, in bytes
    std::uint64_t request_timeout_ms = 10'000;  // for the whole head to arrive
    std::uint64_t linger_ms = 2'000;           // reading after the response, before closing
    std::size_t max_connections = 32;          // more are answered 503 and closed at once
};

using MetricsRender = std::function<std::string()>;

// The whole response to what a client sent so far, once it is decided;
// nullopt while the request head is incomplete and within `max_request`.
// `render` is called only for a request that gets the metrics.
std::optional<std::string> http_metrics_response(std::string_view received, std::size_t max_request,
                                                 const MetricsRender& render);

class HttpExchange;

class HttpMetricsServer {
public:
    HttpMetricsServer(uv_loop_t* loop, MetricsRender render, HttpLimits limits = {});
    HttpMetricsServer(const HttpMetricsServer&) = delete;
    HttpMetricsServer& operator=(const HttpMetricsServer&) = delete;
    ~HttpMetricsServer();

    // Takes ownership of `fd`, an accepted, connected stream socket; it is
    // made non-blocking here. Over max_connections the client gets a 503
    // (if its buffer takes it) and the fd is closed at once; so is it when
    // the loop refuses a handle. `on_closed` runs once the fd is closed
    // (the server gives its fd-budget lease back there).
    void adopt(int fd, std::function<void()> on_closed = {});

    // Closes every connection now, answered or not.
    void close_all();

    [[nodiscard]] std::size_t connections() const { return open_.size(); }
    [[nodiscard]] std::uint64_t refused() const { return refused_; }

private:
    friend class HttpExchange;
    void forget(HttpExchange* exchange) { open_.erase(exchange); }

    uv_loop_t* loop_;
    MetricsRender render_;
    HttpLimits limits_;
    std::set<HttpExchange*> open_;
    std::uint64_t refused_ = 0;
};

}  // namespace sb::control
