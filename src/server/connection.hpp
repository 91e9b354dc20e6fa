// Connection: the server's record of one admitted stream connection.
//
// Owned by the Server's registry (an intrusive list, so the registry itself
// allocates nothing per connection). The record owns the service session;
// both are freed together after the session reported done.
#pragma once

#include <cstdint>
#include <memory>

#include "net/packed_address.hpp"
#include "server/fd_budget.hpp"
#include "server/service_runtime.hpp"
#include "services/session.hpp"
#include "services/tcpmux.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::server {

class Server;

// The record is its session's observer, so a finished session finds its
// record without a search; and a tcpmux session's directory, so a hand-over
// moves this record's fd lease to the connection it starts.
struct Connection final : services::SessionObserver, services::TcpmuxDirectory {
    void on_session_done(services::Session& session, const services::Outcome& outcome) override;
    void on_child_spawned(services::Session& session, pid_t pid) override;
    void on_spawn_failed(services::Session& session, std::string_view error) override;
    void on_child_exited(services::Session& session, pid_t pid, int exit_code, int signal) override;
    [[nodiscard]] std::vector<std::string> tcpmux_names() const override;
    [[nodiscard]] std::string tcpmux_hand_over(std::string_view name, Fd& fd) override;
    void on_forward_failed(services::Session& session, std::string_view error) override;
    bool on_fds_changed(services::Session& session, int delta) override;

    Server* server = nullptr;
    std::uint64_t id = 0;
    std::shared_ptr<ServiceRuntime> service;
    std::shared_ptr<const config::Service> definition;  // the one it started with
    net::PackedAddress peer;  // the client (named by a PROXY header, if the service takes one)
    // From a PROXY header: the address the client connected to; null: the
    // socket's own (on the heap, as few connections have one).
    std::unique_ptr<net::SockAddr> local;
    net::Transport transport = net::Transport::tcp;  // of the listener that accepted it
    AdmissionTicket ticket;  // what admission counted, given back when it ends
    FdLease fds;             // what it holds of the server's fd budget
    std::uint64_t started = 0;  // uv_now()
    std::uint64_t accepted_ns = 0;  // uv_hrtime() at accept, for the spawn latency
    std::unique_ptr<services::Session> session;
    Connection* prev = nullptr;
    Connection* next = nullptr;
};

// A list of records linked through their own prev/next members, oldest
// first: the open connections, the connections waiting for a PROXY header.
template <typename T>
class IntrusiveList {
public:
    void push_back(T* c) {
        c->prev = tail_;
        c->next = nullptr;
        (tail_ ? tail_->next : head_) = c;
        tail_ = c;
        ++size_;
    }
    void erase(T* c) {
        (c->prev ? c->prev->next : head_) = c->next;
        (c->next ? c->next->prev : tail_) = c->prev;
        c->prev = c->next = nullptr;
        --size_;
    }
    [[nodiscard]] T* front() const { return head_; }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] bool empty() const { return size_ == 0; }

    // Visits every connection; `f` may stop (and so unlink) the one it is given.
    template <typename F>
    void for_each(F&& f) {
        for (T* c = head_; c != nullptr;) {
            T* next = c->next;
            f(*c);
            c = next;
        }
    }

private:
    T* head_ = nullptr;
    T* tail_ = nullptr;
    std::size_t size_ = 0;
};

using ConnectionList = IntrusiveList<Connection>;

}  // namespace sb::server
