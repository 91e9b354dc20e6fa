// Preparing a spawn's Plan in the parent, and reading back a failure.
#include "process/spawn_plan.hpp"

#include "process/fd_limit.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sb::process::detail {
namespace {

std::uint64_t kernel_limit(std::uint64_t v) { return v == RLIM_INFINITY ? RLIM64_INFINITY : v; }

}  // namespace

std::string describe_failure(const Plan& plan, const SpawnRequest& request) {
    const ProcessAttributes* a = request.attributes;
    std::string what;
    switch (plan.failed_step) {
        case Step::none: break;
        case Step::signals: what = "sigprocmask"; break;
        case Step::setsid: what = "setsid"; break;
        case Step::dup: {
            const FdMapping& m = plan.fds[plan.failed_index];
            what = "dup2 fd " + std::to_string(m.from) + " to " + std::to_string(m.to);
            break;
        }
        case Step::close_fds: what = "close_range"; break;
        case Step::rlimit: {
            if (a == nullptr || plan.failed_index >= a->rlimits.size()) {
                what = "setrlimit nofile (the server's starting limit)";
                break;
            }
            const auto& r = a->rlimits[plan.failed_index];
            what = "setrlimit " + (r.name.empty() ? std::to_string(r.resource) : r.name);
            break;
        }
        case Step::nice: what = "setpriority " + std::to_string(plan.nice); break;
        case Step::setgroups: what = "setgroups"; break;
        case Step::setgid:
            what = "setgid " + (a->credentials.group_name.empty() ? std::to_string(plan.gid)
                                                                   : a->credentials.group_name);
            break;
        case Step::setuid:
            what = "setuid " + (a->credentials.user_name.empty() ? std::to_string(plan.uid)
                                                                  : a->credentials.user_name);
            break;
        case Step::chdir: what = std::string("chdir ") + plan.cwd; break;
        case Step::no_new_privileges: what = "prctl PR_SET_NO_NEW_PRIVS"; break;
        case Step::execve: what = std::string("execve ") + plan.path; break;
    }
    return what + ": " + std::strerror(plan.failed_errno);
}

void plan_rlimits(Plan& plan, const ProcessAttributes* a, std::vector<std::uint64_t>& rlimits) {
    rlimits.clear();
    bool nofile_set = false;
    if (a != nullptr) {
        for (const auto& r : a->rlimits) {
            rlimits.push_back(static_cast<std::uint64_t>(r.resource));
            rlimits.push_back(kernel_limit(r.soft));
            rlimits.push_back(kernel_limit(r.hard));
            nofile_set = nofile_set || r.resource == RLIMIT_NOFILE;
        }
    }
    if (auto inherited = child_fd_limit(); inherited && !nofile_set) {
        rlimits.push_back(RLIMIT_NOFILE);
        rlimits.push_back(kernel_limit(inherited->soft));
        rlimits.push_back(kernel_limit(inherited->hard));
    }
    plan.rlimits = rlimits.data();
    plan.rlimit_count = rlimits.size() / 3;
}

void plan_attributes(Plan& plan, const ProcessAttributes& a, std::vector<gid_t>& groups) {
    plan.new_session = a.new_session;
    if (a.nice) {
        plan.set_nice = true;
        plan.nice = *a.nice;
    }
    if (a.umask) {
        plan.set_umask = true;
        plan.umask = *a.umask;
    }
    if (!a.cwd.empty()) plan.cwd = a.cwd.c_str();
    plan.no_new_privileges = a.no_new_privileges;

    // Switch identity only when it differs from the server's: an unprivileged
    // server runs services as itself, and asking for another user fails
    // loudly (EPERM) instead of silently running as the wrong one.
    const auto& c = a.credentials;
    bool switch_user = c.uid && *c.uid != geteuid();
    bool switch_group = c.gid && (*c.gid != getegid() || switch_user);
    if (!switch_user && !switch_group) return;
    if (geteuid() == 0) {
        groups.assign(c.supplementary.begin(), c.supplementary.end());
        plan.set_groups = true;
        plan.groups = groups.data();
        plan.group_count = groups.size();
    }
    if (c.gid) {
        plan.set_gid = true;
        plan.gid = *c.gid;
    }
    if (switch_user) {
        plan.set_uid = true;
        plan.uid = *c.uid;
    }
}

int plan_fds(Plan& plan, const std::vector<FdMapping>& fds, std::string& error) {
    if (fds.size() > k_max_fd_mappings) {
        error = "spawn: more than " + std::to_string(k_max_fd_mappings) + " fd mappings";
        return -EINVAL;
    }
    unsigned targets[k_max_fd_mappings];
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].from < 0 || fds[i].to < 0) {
            error = "spawn: negative fd in mapping " + std::to_string(fds[i].from) + " to " + std::to_string(fds[i].to);
            return -EBADF;
        }
        plan.fds[i] = fds[i];
        targets[i] = static_cast<unsigned>(fds[i].to);
    }
    plan.fd_count = fds.size();
    std::sort(targets, targets + fds.size());
    unsigned next = 0;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (i > 0 && targets[i] == targets[i - 1]) {
            error = "spawn: fd " + std::to_string(targets[i]) + " is mapped twice";
            return -EINVAL;
        }
        if (targets[i] > next) {
            plan.close_ranges[plan.close_range_count][0] = next;
            plan.close_ranges[plan.close_range_count][1] = targets[i] - 1;
            ++plan.close_range_count;
        }
        next = targets[i] + 1;
    }
    plan.close_ranges[plan.close_range_count][0] = next;
    plan.close_ranges[plan.close_range_count][1] = ~0U;
    ++plan.close_range_count;
    plan.first_above_targets = static_cast<int>(next);
    return 0;
}

}  // namespace sb::process::detail
