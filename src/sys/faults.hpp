// Failures on purpose: the seam around the system calls that fail in
// production (STYLE.md, practice 10).
//
// The server calls accept4, bind, listen, splice and pidfd_open through the
// wrappers below, and its log writes (or_fault) and spawns (fault) through
// the same table. Normally each is the plain system call behind one
// predictable branch. When the server was started with
// SWITCHBOARD_FAULTS=FILE in its environment, FILE holds a list of faults,
// read at start and again on every SIGUSR2:
//
//     accept4=EMFILE*3      the next 3 accept4 calls fail with EMFILE
//     bind=EADDRINUSE       every bind fails until the list changes
//     spawn=EAGAIN*1, log_write=ENOSPC*10
//
// (entries separated by commas, blanks or newlines; an empty file clears
// every fault). A failed call sets errno and returns -1 exactly as the
// kernel would, so the code under test takes its real error path. Without
// the environment variable nothing can arm a fault. The state is process-
// wide and atomic: the reload job's thread may reach a wrapped call too.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::sys {

enum class Call : unsigned { accept4, bind, listen, spawn, splice, log_write, pidfd_open };
inline constexpr std::size_t k_call_count = 7;

std::string_view call_name(Call call);
std::optional<Call> call_from_name(std::string_view name);
// "EMFILE" → EMFILE, for the errnos a fault may name; nullopt otherwise.
std::optional<int> errno_from_name(std::string_view name);
std::string_view errno_name(int err);

// A parsed fault list: per call, the errno (0: none) and how many calls
// fail (-1: every call until the list changes).
struct FaultSet {
    int error[k_call_count] = {};
    std::int64_t count[k_call_count] = {};
};

// The file format above; nullopt with `error` set when an entry is invalid.
std::optional<FaultSet> parse_faults(std::string_view spec, std::string& error);
// Replaces every armed fault with `faults`.
void arm_faults(const FaultSet& faults);
// "accept4=EMFILE*2 bind=EADDRINUSE", or "none".
std::string describe_faults(const FaultSet& faults);
// What is armed now, with the counts left.
std::string describe_faults();

namespace detail {
extern std::atomic<bool> g_any_armed;  // written only by arm_faults()
int take_fault(Call call) noexcept;
}  // namespace detail

// 0, or the errno the next `call` must fail with (one use of a counted fault).
inline int fault(Call call) noexcept {
    if (__builtin_expect(!detail::g_any_armed.load(std::memory_order_relaxed), 1)) return 0;
    return detail::take_fault(call);
}

// `real()` (a system call returning -1 and errno on failure), unless a
// fault is armed for `call`: then -1 with that errno, as the kernel would.
template <typename Real>
auto or_fault(Call call, Real&& real) -> decltype(real()) {
    if (int err = fault(call)) {
        errno = err;
        return -1;
    }
    return real();
}

int accept4(int fd, sockaddr* addr, socklen_t* length, int flags);
int bind(int fd, const sockaddr* addr, socklen_t length);
int listen(int fd, int backlog);
ssize_t splice(int in, loff_t* in_offset, int out, loff_t* out_offset, std::size_t length, unsigned flags);
int pidfd_open(pid_t pid, unsigned flags);

}  // namespace sb::sys
