// The fault table behind sys/faults.hpp.
#include "sys/faults.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <utility>

namespace sb::sys {
namespace {

constexpr std::array<std::string_view, k_call_count> k_call_names = {
    "accept4", "bind", "listen", "spawn", "splice", "log_write", "pidfd_open"};

constexpr std::array k_errnos = {
    std::pair{std::string_view{"EMFILE"}, EMFILE},       std::pair{std::string_view{"ENFILE"}, ENFILE},
    std::pair{std::string_view{"EADDRINUSE"}, EADDRINUSE}, std::pair{std::string_view{"ENOMEM"}, ENOMEM},
    std::pair{std::string_view{"EAGAIN"}, EAGAIN},       std::pair{std::string_view{"EPIPE"}, EPIPE},
    std::pair{std::string_view{"ENOSPC"}, ENOSPC},       std::pair{std::string_view{"ENOENT"}, ENOENT},
    std::pair{std::string_view{"EACCES"}, EACCES},       std::pair{std::string_view{"ENOBUFS"}, ENOBUFS},
    std::pair{std::string_view{"EIO"}, EIO},             std::pair{std::string_view{"ECONNABORTED"}, ECONNABORTED},
    std::pair{std::string_view{"EHOSTUNREACH"}, EHOSTUNREACH},
};

// remaining: how many more calls fail; k_always for "until cleared".
constexpr std::int64_t k_always = -1;
struct Slot {
    std::atomic<int> error{0};
    std::atomic<std::int64_t> remaining{0};
};
std::array<Slot, k_call_count> g_slots;

bool is_separator(char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

namespace detail {
std::atomic<bool> g_any_armed{false};

int take_fault(Call call) noexcept {
    Slot& slot = g_slots[static_cast<unsigned>(call)];
    int error = slot.error.load(std::memory_order_relaxed);
    if (error == 0) return 0;
    std::int64_t left = slot.remaining.load(std::memory_order_relaxed);
    while (left != k_always) {
        if (left <= 0) return 0;
        if (slot.remaining.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return error;
    }
    return error;
}
}  // namespace detail

std::string_view call_name(Call call) { return k_call_names[static_cast<unsigned>(call)]; }

std::optional<Call> call_from_name(std::string_view name) {
    for (std::size_t i = 0; i < k_call_names.size(); ++i) {
        if (k_call_names[i] == name) return static_cast<Call>(i);
    }
    return std::nullopt;
}

std::optional<int> errno_from_name(std::string_view name) {
    for (const auto& [n, e] : k_errnos) {
        if (n == name) return e;
    }
    return std::nullopt;
}

std::string_view errno_name(int err) {
    for (const auto& [n, e] : k_errnos) {
        if (e == err) return n;
    }
    return "E?";
}

std::optional<FaultSet> parse_faults(std::string_view spec, std::string& error) {
    FaultSet parsed;
    std::size_t i = 0;
    while (i < spec.size()) {
        if (is_separator(spec[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < spec.size() && !is_separator(spec[end])) ++end;
        std::string_view entry = spec.substr(i, end - i);
        i = end;
        auto fail = [&](std::string_view why) {
            error = "fault \"" + std::string(entry) + "\": " + std::string(why);
            return std::nullopt;
        };
        auto eq = entry.find('=');
        if (eq == std::string_view::npos) return fail("expected CALL=ERRNO[*COUNT]");
        auto call = call_from_name(entry.substr(0, eq));
        if (!call) return fail("unknown call (accept4, bind, listen, spawn, splice, log_write, pidfd_open)");
        std::string_view rest = entry.substr(eq + 1);
        std::int64_t count = k_always;
        if (auto star = rest.find('*'); star != std::string_view::npos) {
            std::string_view digits = rest.substr(star + 1);
            rest = rest.substr(0, star);
            count = 0;
            for (char c : digits) {
                if (c < '0' || c > '9' || count > INT32_MAX) return fail("COUNT must be a positive number");
                count = count * 10 + (c - '0');
            }
            if (count < 1) return fail("COUNT must be a positive number");
        }
        auto err = errno_from_name(rest);
        if (!err) return fail("unknown errno name");
        parsed.error[static_cast<unsigned>(*call)] = *err;
        parsed.count[static_cast<unsigned>(*call)] = count;
    }
    return parsed;
}

void arm_faults(const FaultSet& faults) {
    bool any = false;
    for (std::size_t c = 0; c < k_call_count; ++c) {
        g_slots[c].remaining.store(faults.count[c], std::memory_order_relaxed);
        g_slots[c].error.store(faults.error[c], std::memory_order_relaxed);
        any = any || faults.error[c] != 0;
    }
    detail::g_any_armed.store(any, std::memory_order_relaxed);
}

std::string describe_faults(const FaultSet& faults) {
    std::string out;
    for (std::size_t c = 0; c < k_call_count; ++c) {
        if (faults.error[c] == 0 || faults.count[c] == 0) continue;
        if (!out.empty()) out += ' ';
        out += k_call_names[c];
        out += '=';
        out += errno_name(faults.error[c]);
        if (faults.count[c] != k_always) out += "*" + std::to_string(faults.count[c]);
    }
    return out.empty() ? "none" : out;
}

std::string describe_faults() {
    FaultSet now;
    for (std::size_t c = 0; c < k_call_count; ++c) {
        now.error[c] = g_slots[c].error.load(std::memory_order_relaxed);
        now.count[c] = g_slots[c].remaining.load(std::memory_order_relaxed);
    }
    return describe_faults(now);
}

int accept4(int fd, sockaddr* addr, socklen_t* length, int flags) {
    return or_fault(Call::accept4, [&] { return ::accept4(fd, addr, length, flags); });
}

int bind(int fd, const sockaddr* addr, socklen_t length) {
    return or_fault(Call::bind, [&] { return ::bind(fd, addr, length); });
}

int listen(int fd, int backlog) {
    return or_fault(Call::listen, [&] { return ::listen(fd, backlog); });
}

ssize_t splice(int in, loff_t* in_offset, int out, loff_t* out_offset, std::size_t length, unsigned flags) {
    return or_fault(Call::splice, [&] { return ::splice(in, in_offset, out, out_offset, length, flags); });
}

int pidfd_open(pid_t pid, unsigned flags) {
    return or_fault(Call::pidfd_open, [&] { return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags)); });
}

}  // namespace sb::sys
