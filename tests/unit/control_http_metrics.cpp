// The HTTP responder of GET /metrics: what each request gets (pure), and
// the same over real loopback TCP connections on a libuv loop, including a
// slow client, a huge response, the connection limit, and the metrics text
// of a known state parsed by Prometheus' own parser (python3-prometheus-client).
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "control/http_metrics.hpp"
#include "control/metrics.hpp"
#include "temp_dir.hpp"

using namespace sb;
using control::http_metrics_response;

namespace {

constexpr std::size_t k_max = 8192;

std::string answer(std::string_view request, const control::MetricsRender& render = [] { return std::string("m 1\n"); }) {
    auto response = http_metrics_response(request, k_max, render);
    REQUIRE(response.has_value());
    return *response;
}

std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }

std::string body_of(const std::string& response) {
    auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : response.substr(at + 4);
}

}  // namespace

TEST_CASE("http: GET /metrics over HTTP/1.1 and 1.0") {
    std::string ok = answer("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9120\r\nAccept: */*\r\n\r\n");
    CHECK(ok == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                "Content-Length: 4\r\nConnection: close\r\n\r\nm 1\n");
    CHECK(status_line(answer("GET /metrics HTTP/1.0\r\n\r\n")) == "HTTP/1.1 200 OK");
    CHECK(status_line(answer("GET /metrics HTTP/1.0\n\n")) == "HTTP/1.1 200 OK");
    CHECK(status_line(answer("\r\nGET /metrics?name[]=up HTTP/1.1\r\nhost: x\r\n\r\n")) == "HTTP/1.1 200 OK");
    CHECK(status_line(answer("GET http://127.0.0.1:9120/metrics HTTP/1.1\r\nHost: x\r\n\r\n")) == "HTTP/1.1 200 OK");
    std::string head = answer("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_line(head) == "HTTP/1.1 200 OK");
    CHECK(head.find("Content-Length: 4\r\n") != std::string::npos);
    CHECK(body_of(head).empty());
}

TEST_CASE("http: other paths 404, other methods 405 with Allow") {
    int renders = 0;
    auto render = [&] {
        ++renders;
        return std::string("m 1\n");
    };
    CHECK(status_line(answer("GET / HTTP/1.1\r\nHost: x\r\n\r\n", render)) == "HTTP/1.1 404 Not Found");
    CHECK(status_line(answer("GET /metrics/ HTTP/1.0\r\n\r\n", render)) == "HTTP/1.1 404 Not Found");
    CHECK(status_line(answer("POST /other HTTP/1.0\r\n\r\n", render)) == "HTTP/1.1 404 Not Found");
    std::string post = answer("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", render);
    CHECK(status_line(post) == "HTTP/1.1 405 Method Not Allowed");
    CHECK(post.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
    CHECK(post.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(status_line(answer("DELETE /metrics HTTP/1.0\r\n\r\n", render)) == "HTTP/1.1 405 Method Not Allowed");
    CHECK(renders == 0);
}

TEST_CASE("http: malformed requests get 400, other versions 505") {
    for (const char* bad : {"GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                            "GET /metrics HTTP/1.1 extra\r\nHost: x\r\n\r\n", "G(T /metrics HTTP/1.0\r\n\r\n",
                            "GET /metrics HTTP/1.1\r\n\r\n",  // 1.1 needs Host
                            "GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                            "GET /metrics HTTP/1.0\r\nNo colon here\r\n\r\n",
                            "GET /metrics HTTP/1.0\r\nName : value\r\n\r\n",
                            "GET /metrics HTTP/1.0\r\nA: b\r\n  folded\r\n\r\n", "GET /metrics HTTPS/1.0\r\n\r\n",
                            "\x16\x03\x01\x02\x01\xfc\x03\x03 / HTTP/1.0\r\n\r\n"}) {
        INFO(bad);
        CHECK(status_line(answer(bad)) == "HTTP/1.1 400 Bad Request");
    }
    CHECK(status_line(answer("GET /metrics HTTP/2.0\r\n\r\n")) == "HTTP/1.1 505 HTTP Version Not Supported");
    CHECK(status_line(answer("GET /metrics HTTP/0.9\r\n\r\n")) == "HTTP/1.1 505 HTTP Version Not Supported");
}

TEST_CASE("http: an incomplete head waits; one over the limit gets 431") {
    auto render = [] { return std::string(); };
    CHECK_FALSE(http_metrics_response("", k_max, render).has_value());
    CHECK_FALSE(http_metrics_response("GET /metrics HTTP/1.1\r\nHost: x\r\n", k_max, render).has_value());
    std::string big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + std::string(k_max, 'a');
    CHECK(status_line(*http_metrics_response(big, k_max, render)) == "HTTP/1.1 431 Request Header Fields Too Large");
    CHECK(status_line(*http_metrics_response(big + "\r\n\r\n", k_max, render)) ==
          "HTTP/1.1 431 Request Header Fields Too Large");
}

namespace {

// A loop, a loopback listener, and clients whose accepted ends go to the
// responder, as the server's metrics listener will hand them over.
struct Fixture {
    uv_loop_t loop{};
    int listener = -1;
    sockaddr_in address{};

    Fixture() {
        REQUIRE(uv_loop_init(&loop) == 0);
        listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t length = sizeof address;
        REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        REQUIRE(::listen(listener, 16) == 0);
    }
    Fixture(const Fixture&) = delete;
    Fixture& operator=(const Fixture&) = delete;
    ~Fixture() {
        ::close(listener);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);  // every handle closed
    }

    // A connected client; its accepted end handed to `server`.
    int connect(control::HttpMetricsServer& server) {
        int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        int accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        REQUIRE(accepted >= 0);
        server.adopt(accepted);
        return client;
    }

    // Everything the server sends until it closes, running the loop
    // meanwhile; bounded in rounds.
    std::string read_all(int client, std::size_t rounds = 5000) {
        std::string out;
        char buf[65536];
        for (std::size_t i = 0; i < rounds; ++i) {
            uv_run(&loop, UV_RUN_NOWAIT);
            pollfd p{client, POLLIN, 0};
            if (::poll(&p, 1, 5) != 1) continue;
            ssize_t n = ::recv(client, buf, sizeof buf, 0);
            if (n <= 0) return out;
            out.append(buf, static_cast<std::size_t>(n));
        }
        FAIL("the server did not close the connection");
        return out;
    }

    // Runs the loop until the server has let go of every connection.
    void settle(const control::HttpMetricsServer& server) {
        for (int i = 0; i < 1000 && server.connections() > 0; ++i) {
            uv_run(&loop, UV_RUN_NOWAIT);
            ::usleep(1000);
        }
        REQUIRE(server.connections() == 0);
    }

    std::string exchange(control::HttpMetricsServer& server, std::string_view request) {
        int client = connect(server);
        REQUIRE(::send(client, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
        std::string out = read_all(client);
        ::close(client);
        return out;
    }
};

}  // namespace

TEST_CASE("http over loopback: a request in pieces, the answer, then close") {
    Fixture f;
    {
        control::HttpMetricsServer server(&f.loop, [] { return std::string("up 1\n"); });
        int client = f.connect(server);
        for (std::string_view piece : {"GET /met", "rics HTTP/1.1\r\nHo", "st: x\r\n", "\r\n"}) {
            REQUIRE(::send(client, piece.data(), piece.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(piece.size()));
            for (int i = 0; i < 10; ++i) uv_run(&f.loop, UV_RUN_NOWAIT);
        }
        std::string response = f.read_all(client);
        ::close(client);
        CHECK(status_line(response) == "HTTP/1.1 200 OK");
        CHECK(body_of(response) == "up 1\n");
        CHECK(status_line(f.exchange(server, "PUT /metrics HTTP/1.0\r\n\r\n")) == "HTTP/1.1 405 Method Not Allowed");
        CHECK(status_line(f.exchange(server, "GET /x HTTP/1.0\r\n\r\n")) == "HTTP/1.1 404 Not Found");
        f.settle(server);
    }
}

TEST_CASE("http over loopback: a response larger than the socket buffers arrives whole") {
    Fixture f;
    std::string big(8 * 1024 * 1024, 'x');
    control::HttpMetricsServer server(&f.loop, [&] { return big; });
    std::string response = f.exchange(server, "GET /metrics HTTP/1.0\r\n\r\n");
    CHECK(response.find("Content-Length: 8388608\r\n") != std::string::npos);
    CHECK(body_of(response) == big);
}

TEST_CASE("http over loopback: bounded in time, size and connections") {
    Fixture f;
    control::HttpLimits limits;
    limits.request_timeout_ms = 50;
    limits.linger_ms = 50;
    limits.max_connections = 1;
    control::HttpMetricsServer server(&f.loop, [] { return std::string("up 1\n"); }, limits);

    int slow = f.connect(server);  // sends half a request, then nothing
    REQUIRE(::send(slow, "GET /metr", 9, MSG_NOSIGNAL) == 9);
    int second = f.connect(server);  // over the limit
    CHECK(status_line(f.read_all(second)) == "HTTP/1.1 503 Service Unavailable");
    CHECK(server.refused() == 1);
    ::close(second);
    CHECK(status_line(f.read_all(slow)) == "HTTP/1.1 408 Request Timeout");
    ::close(slow);
    f.settle(server);

    std::string huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    int client = f.connect(server);
    (void)::send(client, huge.data(), huge.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    CHECK(status_line(f.read_all(client)) == "HTTP/1.1 431 Request Header Fields Too Large");
    ::close(client);
    f.settle(server);

    int mute = f.connect(server);  // connects and says nothing; closed by close_all
    server.close_all();
    CHECK(f.read_all(mute).empty());
    ::close(mute);
}

TEST_CASE("http over loopback: the metrics of a known state, parsed by prometheus_client") {
    control::StatusView status;
    status.version = "0.1.0";
    status.uptime_seconds = 12.5;
    status.generation = 2;
    status.reloads.succeeded = 1;
    control::ServiceView echo;
    echo.name = "echo";
    echo.state = "enabled";
    echo.active = 3;
    echo.counters.accepted = 40;
    echo.counters.rejected[static_cast<std::size_t>(server::RejectReason::rate)] = 7;
    control::ServiceView odd;
    odd.name = "quote\"back\\slash";  // label escaping must survive a real parser
    odd.state = "disabled";

    Fixture f;
    control::HttpMetricsServer server(&f.loop, [&] { return control::render_metrics(status, {echo, odd}); });
    std::string response = f.exchange(server, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(status_line(response) == "HTTP/1.1 200 OK");

    test::TempDir dir("sb-prom");
    std::ofstream(dir.path + "/metrics.txt") << body_of(response);
    std::ofstream(dir.path + "/parse.py") << R"(import sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        out.append("%s %s{%s} %g" % (family.type, s.name, labels, s.value))
print("\n".join(out))
)";
    // Debian's python3-prometheus-client is for the system interpreter,
    // whatever python3 comes first on PATH.
    std::string command = "/usr/bin/python3 " + dir.path + "/parse.py " + dir.path + "/metrics.txt 2>&1";
    std::string parsed;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) parsed.append(buf, n);
    CHECK(::pclose(pipe) == 0);
    INFO(parsed);
    CHECK(parsed.find("counter switchboard_connections_accepted_total{service=echo} 40\n") != std::string::npos);
    CHECK(parsed.find("counter switchboard_connections_rejected_total{reason=rate,service=echo} 7\n") !=
          std::string::npos);
    CHECK(parsed.find("gauge switchboard_connections_active{service=echo} 3\n") != std::string::npos);
    CHECK(parsed.find("gauge switchboard_service_enabled{service=quote\"back\\slash} 0\n") != std::string::npos);
    CHECK(parsed.find("gauge switchboard_uptime_seconds{} 12.5\n") != std::string::npos);
    CHECK(parsed.find("counter switchboard_reloads_total{result=ok} 1\n") != std::string::npos);
}
