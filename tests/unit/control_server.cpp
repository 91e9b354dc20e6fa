// The control socket on a real loop and a real (empty) server: requests in,
// replies out, bad input answered and survived, and every handle closed at
// the end, the socket file with them.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "temp_dir.hpp"
#include "control/control_server.hpp"
#include "log/log.hpp"
#include "server/server.hpp"
#include "uv/loop.hpp"

using namespace sb;
using sb::test::TempDir;
using nlohmann::json;

namespace {

// A test client on a non-blocking socket, served by running the loop.
class Client {
public:
    Client(uv::Loop& loop, const std::string& path) : loop_(loop) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, path.c_str(), path.size());
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
        REQUIRE(::fcntl(fd_, F_SETFL, O_NONBLOCK) == 0);
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client() { ::close(fd_); }

    void send(const std::string& data) {
        std::size_t off = 0;
        for (int i = 0; off < data.size() && i < 2000; ++i) {
            ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
            } else {
                loop_.run(UV_RUN_NOWAIT);  // let the server read
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        REQUIRE(off == data.size());
    }

    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

    // The next reply line, parsed; null if none came within about two seconds.
    json reply() {
        for (int i = 0; i < 2000; ++i) {
            if (auto nl = in_.find('\n'); nl != std::string::npos) {
                std::string line = in_.substr(0, nl);
                in_.erase(0, nl + 1);
                return json::parse(line);
            }
            loop_.run(UV_RUN_NOWAIT);
            char buf[4096];
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                in_.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) eof_ = true;
            if (eof_) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return nullptr;
    }

    // Whether the server closed the connection (within about two seconds).
    bool closed_by_server() {
        for (int i = 0; i < 2000 && !eof_; ++i) {
            loop_.run(UV_RUN_NOWAIT);
            char buf[4096];
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) eof_ = true;
            if (n <= 0 && !eof_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return eof_;
    }

private:
    uv::Loop& loop_;
    int fd_ = -1;
    std::string in_;
    bool eof_ = false;
};

struct Fixture {
    TempDir dir{"sb-control"};
    uv::Loop loop;
    std::string socket = dir.path + "/run/control.sock";
    server::Server server{loop.get()};
    control::ControlServer control{server};

    Fixture() {
        REQUIRE(server.start(dir.path + "/missing.json") == 0);
        config::Config config;
        config.log.level = config::LogLevel::error;
        config.control.socket = socket;
        REQUIRE(server.apply(config).ok());
        server.add_observer(&control);
        REQUIRE(control.start(config.control) == "");
    }

    // Stops the server, runs the loop dry, and checks that nothing is left open.
    void finish() {
        if (!server.stopping()) server.shutdown(true);
        loop.run();
        CHECK(loop.close() == 0);
    }
};

}  // namespace

TEST_CASE("the socket is created with mode 0600 in a new directory") {
    Fixture f;
    struct stat st {};
    REQUIRE(::stat(f.socket.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(f.control.socket_path() == f.socket);
    f.finish();
    CHECK(::stat(f.socket.c_str(), &st) != 0);  // removed on exit
}

TEST_CASE("requests on one connection are answered in order") {
    Fixture f;
    {
        Client c(f.loop, f.socket);
        c.send("{\"command\":\"status\"}\n{\"command\":\"services\"}\n");
        json status = c.reply();
        CHECK(status["ok"] == true);
        CHECK(status["generation"] == 1);
        CHECK(status["services"] == 0);
        json services = c.reply();
        CHECK(services["ok"] == true);
        CHECK(services["services"] == json::array());
        // The last request may end with EOF instead of a newline.
        c.send("{\"command\":\"connections\"}");
        c.shutdown_write();
        json connections = c.reply();
        CHECK(connections == json::parse(R"({"ok":true,"connections":[]})"));
        CHECK(c.closed_by_server());
    }
    f.finish();
}

TEST_CASE("malformed requests get an error reply and the connection goes on") {
    Fixture f;
    {
        Client c(f.loop, f.socket);
        c.send("not json\n");
        CHECK(c.reply() == json::parse(R"({"ok":false,"error":"malformed request: not valid JSON"})"));
        c.send("{\"command\":\"enable\"}\n");
        CHECK(c.reply()["error"] == "enable needs a \"service\"");
        c.send("{\"command\":\"enable\",\"service\":\"nope\"}\n");
        CHECK(c.reply()["error"] == "no service named \"nope\"");
        c.send("{\"command\":\"status\"}\n");
        CHECK(c.reply()["ok"] == true);
    }
    f.finish();
}

TEST_CASE("an oversized request gets an error reply, then the connection closes") {
    Fixture f;
    {
        Client big(f.loop, f.socket);
        big.send(std::string(control::k_max_request + 10, 'x'));
        json r = big.reply();
        CHECK(r["ok"] == false);
        CHECK(r["error"].get<std::string>().starts_with("request too large"));
        CHECK(big.closed_by_server());
        // Others are served as before.
        Client c(f.loop, f.socket);
        c.send("{\"command\":\"status\"}\n");
        CHECK(c.reply()["ok"] == true);
    }
    f.finish();
}

TEST_CASE("a failed reload reports its errors and changes nothing") {
    Fixture f;
    {
        Client c(f.loop, f.socket);
        c.send("{\"command\":\"reload\"}\n");
        json r = c.reply();
        CHECK(r["ok"] == false);
        REQUIRE(r["errors"].size() == 1);
        CHECK(r["errors"][0].get<std::string>().find("missing.json") != std::string::npos);
        CHECK(f.server.generation() == 1);
        CHECK(f.control.reloads().failed == 1);
        c.send("{\"command\":\"metrics\"}\n");
        std::string metrics = c.reply()["metrics"];
        CHECK(metrics.find("switchboard_reloads_total{result=\"failed\"} 1\n") != std::string::npos);
    }
    f.finish();
}

TEST_CASE("a reload answers when it is done, and requests sent behind it wait their turn") {
    Fixture f;
    {
        Client c(f.loop, f.socket);
        Client other(f.loop, f.socket);
        // Both in one write: the status must not overtake the reload.
        c.send("{\"command\":\"reload\"}\n{\"command\":\"status\"}\n");
        other.send("{\"command\":\"reload\"}\n");
        json r = c.reply();
        CHECK(r["ok"] == false);  // missing.json
        json status = c.reply();
        CHECK(status["ok"] == true);
        CHECK(status["reloads"]["failed"] >= 1);
        CHECK(other.reply()["ok"] == false);
        CHECK(f.control.reloads().failed >= 1);
        CHECK(f.control.reloads().failed <= 2);  // the second request may have shared a load
    }
    f.finish();
}

TEST_CASE("a client waiting for its reload hears why when the server stops") {
    Fixture f;
    {
        Client c(f.loop, f.socket);
        c.send("{\"command\":\"reload\"}");
        c.shutdown_write();  // an EOF behind the request must not drop its reply
        for (int i = 0; i < 200 && !f.server.reload_in_flight(); ++i) f.loop.run(UV_RUN_NOWAIT);
        REQUIRE(f.server.reload_in_flight());
        f.server.shutdown(true);
        json r = c.reply();
        CHECK(r["ok"] == false);
        REQUIRE(r["errors"].size() == 1);
        CHECK(r["errors"][0] == "the server is shutting down; the reload was not applied");
        CHECK(c.closed_by_server());
    }
    f.finish();
}

TEST_CASE("every command is logged with the peer's uid at info level") {
    TempDir dir{"sb-control"};
    std::string log_file = dir.path + "/switchboard.log";
    uv::Loop loop;
    {
        server::Server server(loop.get());
        REQUIRE(server.start(dir.path + "/missing.json") == 0);
        config::Config config;
        config.log.level = config::LogLevel::info;
        config.log.file = log_file;
        config.control.socket = dir.path + "/control.sock";
        REQUIRE(server.apply(config).ok());
        control::ControlServer control(server);
        server.add_observer(&control);
        REQUIRE(control.start(config.control) == "");
        {
            Client c(loop, config.control.socket);
            c.send("{\"command\":\"status\"}\n{\"command\":\"metrics\"}\n");
            CHECK(c.reply()["ok"] == true);
            CHECK(c.reply()["ok"] == true);
        }
        server.shutdown(true);
        loop.run();
    }
    CHECK(loop.close() == 0);
    config::Log quiet;
    quiet.level = config::LogLevel::error;
    REQUIRE(log::configure(quiet).empty());  // back to stderr before the file goes
    std::ifstream in(log_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string uid = "uid=" + std::to_string(::getuid());
    for (const char* command : {"status", "metrics"}) {
        std::string want = std::string(" info control command=") + command + " ";
        auto at = text.find(want);
        REQUIRE_MESSAGE(at != std::string::npos, want, "\n", text);
        CHECK(text.substr(at, text.find('\n', at) - at).find(uid) != std::string::npos);
    }
}

TEST_CASE("drain replies, then the server closes everything, the control socket included") {
    Fixture f;
    Client c(f.loop, f.socket);
    c.send("{\"command\":\"drain\"}\n");
    CHECK(c.reply() == json::parse(R"({"ok":true,"state":"draining","connections":0})"));
    CHECK(f.server.stopping());
    CHECK(c.closed_by_server());
    f.finish();
    struct stat st {};
    CHECK(::stat(f.socket.c_str(), &st) != 0);
}

TEST_CASE("a stale socket file is replaced; a live one is not") {
    TempDir dir{"sb-control"};
    std::string path = dir.path + "/c.sock";
    {
        // A socket file nobody listens on any more.
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, path.c_str(), path.size());
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
        ::close(fd);
    }
    uv::Loop loop;
    {
        server::Server server(loop.get());
        REQUIRE(server.start(dir.path + "/missing.json") == 0);
        config::Config config;
        config.log.level = config::LogLevel::error;
        REQUIRE(server.apply(config).ok());
        control::ControlServer first(server);
        control::ControlServer second(server);
        server.add_observer(&first);
        server.add_observer(&second);
        config::Control control;
        control.socket = path;
        CHECK(first.start(control) == "");
        std::string error = second.start(control);
        CHECK(error.find("in use") != std::string::npos);
        server.shutdown(true);
        loop.run();
    }
    CHECK(loop.close() == 0);
}
