// Server: the owner of the loop's work. It holds the listeners, the service
// table, the connection registry, the signal handles and the timers, and it
// applies configurations (start and reload are the same operation).
//
// One Server per process, created by `switchboard run`, used from the loop
// thread only. The one piece of work done elsewhere is a reload's reading
// of the files, on libuv's threadpool, which touches nothing but its own
// ReloadJob (see reload()). It dies by shutdown(): stop accepting, drain,
// stop what is left, close every handle; the loop then runs out (after any
// load in flight has come back) and run() returns.
//
// Its parts live in files named after them: server.cpp (start, signals,
// the start-up table), reload_job.cpp, apply.cpp, accept.cpp,
// datagrams.cpp, wait_handoff.cpp, listener_pausing.cpp,
// connection_registry.cpp, listener_recovery.cpp, metrics_listener.cpp and
// shutdown.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/pipe_pool.hpp"
#include "server/proxy_wait.hpp"
#include "process/spawn.hpp"
#include "server/admission.hpp"
#include "server/connection.hpp"
#include "server/fd_budget.hpp"
#include "server/listener.hpp"
#include "server/own_addresses.hpp"
#include "server/server_control.hpp"
#include "server/service_runtime.hpp"
#include "server/socket_activation.hpp"
#include "switchboard/config.hpp"
#include "uv/signal.hpp"
#include "uv/timer.hpp"

namespace sb::services {
class WaitService;
}

namespace sb::server {

struct ReloadPlan;

class Server final : public ListenerHandler, public ServerControl {
public:
    explicit Server(uv_loop_t* loop);
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server();

    void add_observer(ServerObserver* observer) override { observers_.push_back(observer); }
    void set_metrics_handler(MetricsHandler handler) override { metrics_handler_ = std::move(handler); }

    // Installs signal handles and timers. Call once, on the thread that
    // runs the loop, before the first apply. On failure some handles may
    // be open: shutdown(true) and run the loop to close them.
    [[nodiscard]] int start(std::string config_path);

    // Sockets a service manager passed (LISTEN_FDS): listeners adopt them
    // instead of binding. Call before the first apply, which closes those
    // that no listener took.
    void take_passed_sockets(PassedSockets passed) { passed_ = std::move(passed); }

    // Makes `config` the running configuration. All or nothing: on any
    // error (a listener that cannot be bound, a log file that cannot be
    // opened) nothing changes and the report lists why. `load_milliseconds`
    // is what reading `config` took, for the reload log line.
    ApplyReport apply(const config::Config& config, double load_milliseconds = 0);


    // Reads the configuration file again and applies it (SIGHUP, ctl reload,
    // the watcher). The files are read and validated on libuv's threadpool,
    // because user and group lookups may wait on the network and the loop
    // must not; the apply runs back on the loop. Returns at once. `done`
    // runs later with the outcome of a load that started after this call:
    // requests made while a load is in flight share the one load that
    // follows it. When the server is stopping, `done` runs at once with
    // that error. Errors leave the running configuration untouched.
    void reload(std::string_view trigger, ReloadDone done = {}) override;

    [[nodiscard]] bool reload_in_flight() const { return reload_.in_flight != nullptr; }

    // Stops accepting, lets connections drain for shutdown_grace, then stops
    // what remains and closes everything. `immediate` skips the grace.
    void shutdown(bool immediate);

    // Stops everything at once or after the grace (see shutdown); drain()
    // waits for connections however long they take, then exits.
    void drain() override;

    // ctl enable/disable: stop or resume accepting for one service without
    // touching the configuration. False when there is no such service.
    [[nodiscard]] bool set_enabled(const std::string& name, bool enabled) override;

    [[nodiscard]] bool stopping() const override { return stopping_; }
    [[nodiscard]] uv_loop_t* loop() const override { return loop_; }
    [[nodiscard]] const config::Config& config() const { return config_; }
    [[nodiscard]] std::uint64_t generation() const override { return generation_; }
    [[nodiscard]] std::size_t connection_count() const override { return connections_.size(); }

    // Snapshots for the parts that only look (snapshot.cpp).
    [[nodiscard]] StatusSnapshot status_snapshot() const override;
    [[nodiscard]] std::vector<ServiceSnapshot> service_snapshots() const override;
    [[nodiscard]] std::vector<ConnectionSnapshot> connection_snapshots() const override;
    [[nodiscard]] std::uint64_t started_at() const { return started_at_; }

    // Prints the service table (service, protocol, address) to stderr.
    void print_table() const;

private:
    // ListenerHandler (accept.cpp, datagrams.cpp, listener_pausing.cpp)
    void on_accepted(Listener& listener, Fd fd, const net::SockAddr& peer) override;
    void on_ready(Listener& listener) override;
    void on_accept_exhausted(Listener& listener, int err) override;
    void on_accept_failed(Listener& listener, int err) override;
    void on_listener_broken(Listener& listener, int status) override;

    // listener_recovery.cpp: a listener that no longer listens, or whose
    // poll failed, is watched again, listens again, or is bound afresh.
    void revive(Listener& listener);
    void replace_listener(Listener& dead);
    void revive_dead_listeners();
    static constexpr std::chrono::milliseconds k_revive_retry{1000};

    // accept.cpp: admitting a stream connection, or turning it away.
    void reject(ServiceRuntime& service, Fd fd, const net::SockAddr& peer, RejectReason reason);
    void count_reject(ServiceRuntime& service, const net::SockAddr& peer, RejectReason reason);
    // Admission and a session for an accepted stream (`local`: the address
    // the client connected to, from a PROXY header; empty: the socket's).
    void admit_stream(const std::shared_ptr<ServiceRuntime>& runtime, const config::Listen& listen, Fd fd,
                      const net::SockAddr& peer, const net::SockAddr& local, FdLease lease, std::uint64_t accepted_ns);
    void wait_for_proxy_header(const std::shared_ptr<ServiceRuntime>& runtime, const config::Listen& listen, Fd fd,
                               const net::SockAddr& peer, FdLease lease);
    void proxy_header_done(ProxyWait& wait, bool ok, const std::string& error);
    // An admitted connection: its record, its session, started (accept.cpp).
    void start_connection(const std::shared_ptr<ServiceRuntime>& runtime, Fd fd, const net::SockAddr& peer,
                          const net::SockAddr& local, net::Transport transport, AdmissionTicket ticket,
                          FdLease lease, std::string greeting, std::uint64_t accepted_ns);

public:
    // tcpmux (accept.cpp): the names on offer, and a client handed from the
    // connection `from` to the service that answers to `name`.
    [[nodiscard]] std::vector<std::string> tcpmux_names() const;
    [[nodiscard]] std::string tcpmux_hand_over(Connection& from, std::string_view name, Fd& fd);

private:

    // connection_registry.cpp: open connections, children, the timeout sweep.
    friend struct Connection;
    void connection_done(Connection& connection, const services::Outcome& outcome);
    void child_spawned(ServiceRuntime& service, pid_t pid);
    void spawn_failed(ServiceRuntime& service, const std::string& peer, std::string_view error);
    void forward_failed(ServiceRuntime& service, const std::string& peer, std::string_view error);
    void child_exited(ServiceRuntime& service, pid_t pid, int exit_code, int signal);
    void sweep();
    void bury(Connection* connection);

    // datagrams.cpp: UDP listeners.
    void serve_datagrams(Listener& listener, ServiceRuntime& service);
    [[nodiscard]] bool admit_datagram(ServiceRuntime& service, const net::SockAddr& peer);
    [[nodiscard]] bool admit_wait_datagram(Listener& listener, ServiceRuntime& service);
    // The addresses of every UDP listener, for admit_datagram (after each apply).
    void note_udp_listeners();

    // wait_handoff.cpp: wait-mode services, one per listening socket.
    // A wait-mode service on one listener.
    struct Waiter {
        services::WaitService* service = nullptr;  // frees itself once closed
        Listener* listener = nullptr;              // the socket it hands out; null once it must not be touched
        // The service whose child it started last: that child is counted
        // there, even after a reload dropped the service.
        std::shared_ptr<ServiceRuntime> runtime;
        std::uint32_t child_cost = 0;  // the fds a child of `runtime` costs (ServiceKind::child_fds)
        FdLease child_fds;             // what the running child holds of the fd budget
        bool holding = false;          // a child, or a backoff, has the socket
        bool retired = false;          // closing: hands nothing out any more
    };
    void hand_off(Listener& listener, const std::shared_ptr<ServiceRuntime>& service);
    // The wait-mode service on `listener` stops handing it out. A child that
    // has the socket may go on for `grace` (WaitService::close); meanwhile
    // the listener stays paused, until the child has exited. With
    // `listener_closes` the caller closes the listener next: no waiter
    // touches it again.
    void retire_waiter(Listener* listener, std::chrono::milliseconds grace, bool listener_closes = false);
    void retire_all_waiters(std::chrono::milliseconds grace);
    void terminate_retired_waiters();
    [[nodiscard]] Waiter* serving_waiter(const Listener* listener) const;
    [[nodiscard]] bool waiter_holds(const Listener* listener) const;
    void free_waiter(Waiter* waiter);

    // listener_pausing.cpp: why each listener is not accepting, derived
    // from the state in one place.
    [[nodiscard]] std::uint8_t pause_reasons(const Listener& listener) const;
    void refresh_pauses(Listener& listener);
    void refresh_pauses(ServiceRuntime& service);
    void refresh_all_pauses();
    void update_fd_pause();

    // listener_moves.cpp: a reload that moves a service between overlapping
    // TCP or UDP addresses (127.0.0.1:P to *:P) frees the old address just
    // before binding the new one, and puts it back if the reload fails.
    [[nodiscard]] int bind_moving(const ReloadPlan& plan, const config::Listen& listen, net::BoundSocket& bound,
                                  std::vector<Listener*>& released, std::string& error);
    void undo_moves(const std::vector<Listener*>& fresh, const std::vector<Listener*>& released);

    // metrics_listener.cpp: metrics.listen, bound, kept or moved with the
    // rest of the listener set by apply(), served by metrics_handler_.
    struct MetricsSwap {
        Listener* next = nullptr;  // the listener the next configuration uses
        bool fresh = false;        // bound by this apply: closed again if it fails
    };
    [[nodiscard]] MetricsSwap prepare_metrics_listener(const config::Config& next, std::string& error);
    void commit_metrics_listener(const MetricsSwap& swap);
    void accept_metrics(Fd fd);

    // shutdown.cpp
    // At the start of a shutdown or drain: closes every listening socket
    // (new clients are refused at once) except those passed by systemd,
    // which only stop being watched.
    void stop_listening();
    void finish_if_drained();
    void abandon_proxy_waits();
    void close_everything();

    // reload_job.cpp: one load on the threadpool at a time (see reload()).
    struct ReloadJob;
    struct ReloadState {
        ReloadJob* in_flight = nullptr;          // the threadpool holds it until its after-callback
        std::vector<ReloadDone> waiting;         // asked while it ran: answered by the next load
        std::vector<std::string> next_triggers;  // who asked since; non-empty means another load is due
        uv_thread_t loop_thread{};               // set by start(): the only thread that touches the server

        ReloadState() = default;
        ReloadState(const ReloadState&) = delete;
        ReloadState& operator=(const ReloadState&) = delete;
        // A Server destroyed with a load in flight (an abandoned loop) cuts
        // the job loose: its after-callback then only frees it.
        ~ReloadState();
    };
    [[nodiscard]] bool on_loop_thread() const;
    void start_load();
    void finish_load(ReloadJob& job, int status);

    uv_loop_t* loop_;
    std::string config_path_;
    config::Config config_;
    std::map<std::string, std::shared_ptr<ServiceRuntime>> services_;
    std::map<std::string, Listener*> listeners_;  // by endpoint, canonical spelling
    std::map<Listener*, std::shared_ptr<ServiceRuntime>> listener_services_;
    ConnectionList connections_;
    IntrusiveList<ProxyWait> proxy_waits_;  // connections whose PROXY header is being read
    process::Spawner spawner_;
    io::PipePool pipes_;  // for redirect's splicing; declared before the connections that use it
    // Wait-mode services, serving or retired (closing until their child has
    // exited). Owned here; each WaitService frees itself once closed, and
    // its Waiter is freed in that close's callback.
    std::vector<std::unique_ptr<Waiter>> waiters_;
    OwnAddresses own_udp_;    // our UDP listeners' addresses: never answered
    GlobalAdmission global_;  // limits.max_connections and max_children, all services together
    FdBudget fd_budget_;
    bool fd_backoff_ = false;  // accept4 ran out of fds: paused until fd_pause_timer_ fires
    bool fd_paused_ = false;   // every listener is paused for k_pause_fds
    std::uint64_t fd_budget_pauses_ = 0;  // times fd_paused_ became true
    std::uint64_t accept_failures_ = 0;   // on_accept_exhausted() and on_accept_failed() calls
    std::vector<Connection*> graveyard_;  // freed on the next loop turn
    std::vector<ServerObserver*> observers_;
    PassedSockets passed_;                  // from systemd; open for the life of the process
    Listener* metrics_listener_ = nullptr;  // metrics.listen, when set
    MetricsHandler metrics_handler_;
    std::uint64_t next_connection_id_ = 1;
    std::uint64_t generation_ = 0;
    std::uint64_t started_at_ = 0;
    std::uint64_t last_housekeeping_ = 0;
    bool stopping_ = false;
    bool closed_ = false;
    ReloadState reload_;

    uv::Signal sigterm_, sigint_, sighup_, sigusr1_;
    // Failures on purpose (sys/faults.hpp): SIGUSR2 re-reads the file named
    // by $SWITCHBOARD_FAULTS; neither exists without that variable.
    uv::Signal sigusr2_;
    std::string faults_file_;
    void load_faults();
    uv::Timer sweep_timer_;      // idle and duration limits, drain deadlines
    uv::Timer grace_timer_;      // shutdown grace
    uv::Timer fd_pause_timer_;   // retry accepting after EMFILE
    uv::Timer graveyard_timer_;  // frees finished connections outside their callbacks
    uv::Timer revive_timer_;     // tries broken listeners again
};

}  // namespace sb::server
