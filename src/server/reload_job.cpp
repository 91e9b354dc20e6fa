// Server::reload: reading the configuration files again off the loop, on
// libuv's threadpool, and applying the result back on the loop. One load
// runs at a time; requests made meanwhile share the next one. Owns the
// ReloadJob while it is queued (the threadpool holds it until its
// after-callback frees it).
#include <algorithm>
#include <cassert>
#include <chrono>
#include <exception>
#include <memory>

#include "log/log.hpp"
#include "server/server.hpp"
#include "switchboard/config/load.hpp"

namespace sb::server {

// One load of the configuration files. The threadpool runs load_on_worker()
// on one of its threads, then after_load() on the loop. The worker touches
// `path`, `result` and `load_milliseconds` only, and the loop touches none
// of them until after_load(): libuv orders the two callbacks, so the job
// needs no lock. Everything else in it is the loop's.
struct Server::ReloadJob {
    uv_work_t work{};
    Server* server = nullptr;  // null once the Server is gone: after_load() then only frees the job
    uv_thread_t loop_thread{};
    std::string trigger;
    std::vector<ReloadDone> waiting;  // answered with this load's outcome

    std::string path;
    config::LoadResult result;
    double load_milliseconds = 0;
};

namespace {

[[maybe_unused]] bool is_thread(const uv_thread_t& thread) {
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &thread) != 0;
}

std::string join_triggers(const std::vector<std::string>& triggers) {
    std::string out;
    for (const auto& t : triggers) out += (out.empty() ? "" : "+") + t;
    return out;
}

void answer(std::vector<Server::ReloadDone>& waiting, const ApplyReport& report) {
    for (auto& done : waiting) done(report);
    waiting.clear();
}

}  // namespace

Server::ReloadState::~ReloadState() {
    if (in_flight == nullptr) return;
    in_flight->server = nullptr;
    in_flight->waiting.clear();  // their owners may be gone too: never call them
}

bool Server::on_loop_thread() const { return is_thread(reload_.loop_thread); }

void Server::reload(std::string_view trigger, ReloadDone done) {
    assert(on_loop_thread());
    if (stopping_) {
        ApplyReport report;
        report.errors.emplace_back("the server is shutting down");
        if (done) done(report);
        return;
    }
    if (done) reload_.waiting.push_back(std::move(done));
    auto& triggers = reload_.next_triggers;
    if (std::find(triggers.begin(), triggers.end(), trigger) == triggers.end()) triggers.emplace_back(trigger);
    // A load in flight may have read the files before this request was
    // made: the request waits for the next one, which finish_load() starts.
    if (reload_.in_flight == nullptr) start_load();
}

void Server::start_load() {
    auto* job = new ReloadJob;
    job->server = this;
    job->loop_thread = reload_.loop_thread;
    job->trigger = join_triggers(reload_.next_triggers);
    reload_.next_triggers.clear();
    job->waiting = std::move(reload_.waiting);
    reload_.waiting.clear();
    job->path = config_path_;
    job->work.data = job;
    for (auto* o : observers_) o->on_reload_started(job->trigger);

    // Threadpool thread. config::load_file keeps no state between calls
    // and shares none with the loop: it reads files through its own fds
    // (O_CLOEXEC, so a child spawned meanwhile inherits none), asks NSS
    // through the reentrant getpwnam_r/getgrnam_r/getgrouplist, expands
    // includes with glob() without GLOB_TILDE (so no getenv or utmp), uses
    // glibc's thread-safe strerror, and never logs. The only process-wide
    // state it reads is the working directory, which nothing changes
    // after start (a child's chdir happens in the child, without CLONE_FS).
    // Nothing may throw into libuv: an exception (out of memory) becomes
    // the load's error.
    auto load_on_worker = [](uv_work_t* work) noexcept {
        auto* j = static_cast<ReloadJob*>(work->data);
        assert(!is_thread(j->loop_thread));
        auto t0 = std::chrono::steady_clock::now();
        try {
            j->result = config::load_file(j->path);
        } catch (const std::exception& e) {
            j->result = config::LoadResult{};
            j->result.errors.push_back(config::Error{.file = j->path, .message = e.what()});
        }
        j->load_milliseconds =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    // Loop thread, whether the load ran, failed, or was cancelled.
    auto after_load = [](uv_work_t* work, int status) noexcept {
        std::unique_ptr<ReloadJob> j(static_cast<ReloadJob*>(work->data));
        if (j->server != nullptr) j->server->finish_load(*j, status);
    };
    if (int rc = uv_queue_work(loop_, &job->work, load_on_worker, after_load); rc != 0) {
        // libuv refuses only a missing callback; still, nobody may wait forever.
        std::unique_ptr<ReloadJob> j(job);
        ApplyReport report;
        report.errors.push_back(std::string("cannot start loading the configuration: ") + uv_strerror(rc));
        log::error("reload-failed", {{"trigger", j->trigger}, {"error", uv_strerror(rc)}});
        for (auto* o : observers_) o->on_reload_failed(report);
        answer(j->waiting, report);
        return;
    }
    reload_.in_flight = job;
    log::debug("reload-loading", {{"trigger", job->trigger}, {"file", job->path}});
}

void Server::finish_load(ReloadJob& job, int status) {
    assert(on_loop_thread());
    reload_.in_flight = nullptr;
    ApplyReport report;
    if (stopping_) {
        // Shutting down: apply nothing, and start no further load. Those
        // who asked since get the same answer.
        report.errors.emplace_back("the server is shutting down; the reload was not applied");
        log::info("reload-abandoned", {{"trigger", job.trigger}});
        reload_.next_triggers.clear();
        std::vector<ReloadDone> waiting = std::move(job.waiting);
        for (auto& done : reload_.waiting) waiting.push_back(std::move(done));
        reload_.waiting.clear();
        answer(waiting, report);
        return;
    }
    if (status != 0) {
        // Only uv_cancel() makes one, and nothing calls it; still, say so.
        report.errors.push_back(std::string("loading the configuration did not run: ") + uv_strerror(status));
        log::error("reload-failed", {{"trigger", job.trigger}, {"error", uv_strerror(status)}});
    } else if (!job.result.config) {
        for (const auto& e : job.result.errors) report.errors.push_back(e.to_string());
        report.load_milliseconds = report.milliseconds = job.load_milliseconds;
        log::error("reload-failed", {{"trigger", job.trigger}, {"errors", report.errors.size()},
                                     {"ms", report.milliseconds}});
        for (const auto& e : report.errors) log::error("config-error", {{"detail", e}});
    } else {
        report = apply(*job.result.config, job.load_milliseconds);
    }
    if (!report.ok()) {
        for (auto* o : observers_) o->on_reload_failed(report);
    }
    // Requests that came in during this load start the next one before
    // anyone is answered, so an answer that asks again joins a fresh load.
    if (!reload_.next_triggers.empty()) start_load();
    answer(job.waiting, report);
}

}  // namespace sb::server
