// FdBudget: how many file descriptors the server may still open, so it can
// stop accepting before accept4 fails with EMFILE.
//
// The count is a base measured from /proc/self/fd (listeners, the log, the
// loop's own fds: whatever was open when measured) plus what the server
// reports as it goes: +n when it takes fds for a connection or a child, -n
// when it closes them. Headroom is kept free for spawning children and for
// binding new listeners in a reload. Counting costs nothing per connection;
// the directory is read only on measure() (start, reload, after EMFILE).
//
// Owned by the Server; a plain value, loop thread only.
#pragma once

#include <cstdint>
#include <optional>

namespace sb::server {

class FdBudget {
public:
    // The budget of this process: the soft RLIMIT_NOFILE and the fds open now.
    static FdBudget of_process();

    // A budget of `limit` fds, `open_now` of them in use (tests, and of_process()).
    FdBudget(std::uint64_t limit, std::uint64_t open_now);

    // Headroom for a limit: 1% of it, at least 64 and at most 4096, but
    // never more than half of it, so a small limit still serves some
    // connections.
    [[nodiscard]] static std::uint64_t headroom_for(std::uint64_t limit);

    // The server took (acquire) or closed (release) `n` fds it reports.
    void acquire(std::uint64_t n = 1) { reported_ += n; }
    void release(std::uint64_t n = 1) { reported_ -= n < reported_ ? n : reported_; }

    // acquire(1) for an fd the kernel just handed out (accept4). The kernel
    // gives the lowest free number, so fds 0..fd are all open: a count below
    // fd + 1 means some fds were opened without being reported, and the
    // base grows to match. Costs nothing.
    void acquire_fd(int fd);

    // Counts /proc/self/fd again and makes the base what is open beyond the
    // reported fds (in_use() is then exactly what is open). Reads a directory: at start, after a reload, after
    // EMFILE. Returns false (and keeps the old base) if it cannot be read,
    // which is likely while the table is full.
    bool measure();
    // The same with a count taken elsewhere (tests).
    void rebase(std::uint64_t open_now);

    [[nodiscard]] std::uint64_t limit() const { return limit_; }
    [[nodiscard]] std::uint64_t headroom() const { return headroom_; }
    [[nodiscard]] std::uint64_t in_use() const { return base_ + reported_; }
    // Fds that may still be opened for connections before the headroom.
    [[nodiscard]] std::uint64_t available() const {
        std::uint64_t ceiling = limit_ - headroom_;
        return in_use() < ceiling ? ceiling - in_use() : 0;
    }
    // True when accepting must pause: only the headroom is left.
    [[nodiscard]] bool should_pause() const { return available() == 0; }
    // True when `n` more fds (a child's pipes) fit without eating into the
    // half of the headroom kept for reloads.
    [[nodiscard]] bool can_spawn(std::uint64_t n) const { return in_use() + n + headroom_ / 2 <= limit_; }

private:
    std::uint64_t limit_;
    std::uint64_t headroom_;
    std::uint64_t base_ = 0;
    std::uint64_t reported_ = 0;
};

// FdLease: fds that one holder (a connection, a wait-mode child) has taken
// from the budget, given back when the lease is reset or dies, so the
// budget's count is the sum of the live leases and cannot drift from them.
// Move-only; the budget must outlive it. Loop thread only.
class FdLease {
public:
    FdLease() = default;
    // Takes `n` fds from `budget`.
    FdLease(FdBudget& budget, std::uint32_t n) : budget_(&budget), count_(n) { budget.acquire(n); }
    // The lease of the fd accept4 just returned (FdBudget::acquire_fd).
    static FdLease accepted(FdBudget& budget, int fd) {
        budget.acquire_fd(fd);
        FdLease lease;
        lease.budget_ = &budget;
        lease.count_ = 1;
        return lease;
    }
    FdLease(const FdLease&) = delete;
    FdLease& operator=(const FdLease&) = delete;
    FdLease(FdLease&& other) noexcept : budget_(other.budget_), count_(other.count_) { other.budget_ = nullptr; }
    FdLease& operator=(FdLease&& other) noexcept {
        if (this != &other) {
            reset();
            budget_ = other.budget_;
            count_ = other.count_;
            other.budget_ = nullptr;
        }
        return *this;
    }
    ~FdLease() { reset(); }

    // Takes `n` more fds.
    void grow(std::uint32_t n) {
        if (budget_ == nullptr) return;
        budget_->acquire(n);
        count_ += n;
    }
    // Gives `n` of its fds back.
    void shrink(std::uint32_t n) {
        if (budget_ == nullptr) return;
        n = n < count_ ? n : count_;
        budget_->release(n);
        count_ -= n;
    }
    // Gives every fd back.
    void reset() {
        if (budget_ != nullptr) budget_->release(count_);
        budget_ = nullptr;
        count_ = 0;
    }
    [[nodiscard]] std::uint32_t count() const { return budget_ != nullptr ? count_ : 0; }

private:
    FdBudget* budget_ = nullptr;
    std::uint32_t count_ = 0;
};

// The number of open fds of this process, from /proc/self/fd; nullopt if
// the directory cannot be read.
[[nodiscard]] std::optional<std::uint64_t> count_open_fds();

}  // namespace sb::server
