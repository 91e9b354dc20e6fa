// Sockets passed by systemd (see socket_activation.hpp).
#include "server/socket_activation.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "log/log.hpp"

namespace sb::server {
namespace {

constexpr int k_first_passed_fd = 3;  // SD_LISTEN_FDS_START

std::vector<std::string> split_names(const char* names) {
    std::vector<std::string> out;
    if (names == nullptr) return out;
    std::string all(names);
    std::size_t start = 0;
    for (;;) {
        std::size_t colon = all.find(':', start);
        out.push_back(all.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return out;
}

// "tcp://…", "udp://…" or "unix:…" for a passed socket; "" when it is not a
// kind of socket a listener could be.
std::string key_of(int fd) {
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return "";
    net::SockAddr local = net::local_address(fd);
    switch (local.family()) {
        case AF_INET:
        case AF_INET6:
            if (type == SOCK_STREAM) return "tcp://" + local.to_string();
            if (type == SOCK_DGRAM) return "udp://" + local.to_string();
            return "";
        case AF_UNIX:
            return type == SOCK_STREAM ? local.to_string() : "";
        default:
            return "";
    }
}

}  // namespace

std::string passed_key(const net::Listen& listen) {
    const net::Endpoint& e = listen.endpoint;
    if (e.transport == net::Transport::unix_stream) return std::string("unix:") + (e.abstract ? "@" : "") + e.host;
    auto address = e.literal_address();
    if (!address) return "";
    return std::string(e.transport == net::Transport::udp ? "udp://" : "tcp://") + address->to_string();
}

PassedSockets PassedSockets::from_environment(std::string& problem) {
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    std::vector<std::string> names = split_names(std::getenv("LISTEN_FDNAMES"));
    PassedSockets out;
    if (pid != nullptr && fds != nullptr) {
        char* end = nullptr;
        long for_pid = std::strtol(pid, &end, 10);
        long count = std::strtol(fds, &end, 10);
        if (for_pid != static_cast<long>(::getpid())) {
            problem = "LISTEN_PID is not this process: the passed sockets are not ours";
        } else if (*end != '\0' || count < 0 || count > 4096) {
            problem = std::string("LISTEN_FDS is not a count: ") + fds;
        } else {
            out = from_fds(k_first_passed_fd, static_cast<int>(count), names);
        }
    }
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    return out;
}

PassedSockets PassedSockets::from_fds(int first, int count, const std::vector<std::string>& names) {
    PassedSockets out;
    for (int i = 0; i < count; ++i) {
        int fd = first + i;
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) continue;  // not open
        PassedSocket s;
        s.fd = Fd(fd);
        if (static_cast<std::size_t>(i) < names.size()) s.name = names[static_cast<std::size_t>(i)];
        s.address = key_of(fd);
        out.sockets_.push_back(std::move(s));
    }
    return out;
}

void PassedSockets::expect_services(std::map<std::string, std::vector<std::string>> listeners_by_service) {
    services_ = std::move(listeners_by_service);
}

bool PassedSockets::take(const net::Listen& listen, std::string_view service, net::BoundSocket& out) {
    std::string key = passed_key(listen);
    if (key.empty()) return false;
    for (PassedSocket& s : sockets_) {
        if (s.address != key || !s.fd) continue;
        // Named after a service: that service's, whoever else has the address.
        if (s.name != service && services_.contains(s.name)) {
            log::warning("socket-not-adopted",
                         {{"address", key}, {"name", s.name}, {"service", service.empty() ? "-" : std::string(service)},
                          {"reason", "it is named after service " + s.name + ", not this one"}});
            continue;
        }
        int dup = ::fcntl(s.fd.get(), F_DUPFD_CLOEXEC, 0);
        if (dup < 0) return false;
        int flags = ::fcntl(dup, F_GETFL);
        if (flags >= 0) (void)::fcntl(dup, F_SETFL, flags | O_NONBLOCK);
        out = net::BoundSocket{};
        out.fd = dup;  // never created_file: the socket file is systemd's
        if (!s.adopted) {
            log::info("socket-adopted", {{"address", key}, {"name", s.name.empty() ? "-" : s.name},
                                         {"service", service.empty() ? "-" : std::string(service)},
                                         {"matched", s.name == service ? "name,address" : "address"},
                                         {"fd", static_cast<long>(s.fd.get())}});
        }
        s.adopted = true;
        return true;
    }
    return false;
}

bool PassedSockets::holds(const net::Listen& listen) const {
    std::string key = passed_key(listen);
    if (key.empty()) return false;
    for (const PassedSocket& s : sockets_) {
        if (s.address == key && s.fd) return true;
    }
    return false;
}

void PassedSockets::close_unadopted() {
    std::vector<PassedSocket> kept;
    for (PassedSocket& s : sockets_) {
        if (s.adopted) {
            kept.push_back(std::move(s));
            continue;
        }
        std::string why = "no listener is configured at its address";
        if (auto named = services_.find(s.name); named != services_.end()) {
            std::string theirs;
            for (const auto& k : named->second) theirs += (theirs.empty() ? "" : ",") + k;
            why = "it is named after service " + s.name + ", whose listeners (" + (theirs.empty() ? "-" : theirs) +
                  ") are not at its address; no other service may take it";
        }
        log::warning("socket-unused", {{"fd", static_cast<long>(s.fd.get())}, {"name", s.name.empty() ? "-" : s.name},
                                       {"address", s.address.empty() ? "-" : s.address}, {"reason", why}});
    }  // the unadopted ones close here
    sockets_ = std::move(kept);
}

}  // namespace sb::server
