// The metrics listener (metrics.listen): one more listening socket of the
// server's set. apply() binds it when the address is new, keeps the same
// socket when the address is unchanged, and closes the old one when it
// moves or goes, all or nothing with the service listeners. Accepted
// connections are counted in the fd budget and handed, with their lease,
// to the handler control/ installs (the HTTP responder).
#include "log/log.hpp"
#include "server/server.hpp"

namespace sb::server {

Server::MetricsSwap Server::prepare_metrics_listener(const config::Config& next, std::string& error) {
    MetricsSwap swap;
    if (next.metrics.listen == config_.metrics.listen) {
        swap.next = metrics_listener_;
        return swap;
    }
    if (!next.metrics.listen) return swap;
    config::Listen listen;
    listen.endpoint = *next.metrics.listen;
    net::BoundSocket bound;
    if (!passed_.take(listen, "", bound) && net::bind_listener(listen, bound, error) != 0) return swap;
    swap.next = Listener::adopt(loop_, listen, bound, error);
    swap.fresh = swap.next != nullptr;
    return swap;
}

void Server::commit_metrics_listener(const MetricsSwap& swap) {
    if (swap.next != metrics_listener_ && metrics_listener_ != nullptr) metrics_listener_->close(true);
    metrics_listener_ = swap.next;
    if (metrics_listener_ != nullptr) metrics_listener_->set_handler(this);
}

void Server::accept_metrics(Fd fd) {
    FdLease lease = FdLease::accepted(fd_budget_, fd.get());
    if (metrics_handler_) metrics_handler_(std::move(fd), std::move(lease));
    update_fd_pause();
}  // without a handler, `fd` closes and its lease ends

}  // namespace sb::server
