// The posix_aio backend: glibc's POSIX AIO.
//
// Notification. Every aiocb is submitted with SIGEV_NONE: no signal ever reaches the caller's
// threads, and no thread is created per completion (glibc's SIGEV_THREAD starts a new thread for
// every notification, ~40k completions/s at best, and silently drops the notification when that
// thread cannot be created). Finished requests are found with aio_error, then aio_return exactly
// once. The waiter collects them itself; when it needs more it sleeps in aio_suspend itself for a
// short while (suspend_directly), and for longer waits one watcher thread per context sleeps in
// aio_suspend instead and pushes what finishes to a completion_queue, which reap pops and kick
// interrupts. aio_suspend cannot be woken for requests submitted after it began, nor by a wakeup,
// so both sleep in slices. With nothing to watch the watcher sleeps on a condition variable.
// Requests go on with nobody waiting: while some are in flight and no reap has begun for a
// whole unattended_check period, the watcher goes on duty, collects what finishes and starts the
// rest of short transfers, until a waiter is back. Once the context's descriptor has been asked
// for (an event loop polls it instead of waiting), the watcher is on duty whenever requests are in
// flight, and the completion queue writes the descriptor as it gets them.
//
// Vectored requests: glibc has no aio_readv, so a vectored request runs as a chain of aio
// operations, one contiguous piece at a time (an iovec element or what is left of it), each
// started by the watcher when the previous one is reaped. Short transfers continue the same way.
// The request is reported once, when the chain ends.
//
// Flush (aio_fsync O_SYNC) and data sync (O_DSYNC) are barriers (core/flush_barrier.hpp): a write is on barrier_.writes from
// submit until it is pushed to the completion queue; a flush that finds an earlier write to its
// fd there is held back (barrier_.held) and started once the last of them has been pushed, so it is also
// reported after them. (glibc orders requests per fd, but the later pieces of a chained write
// would be queued after the flush.)
//
// Cancel: held flushes stop (0). A request in glibc goes to aio_cancel: AIO_CANCELED -> 0 (the
// request leaves the watcher's set and its ECANCELED status is reaped with aio_return there, so
// no wait reports it), AIO_NOTCANCELED -> E_IN_PROGRESS, AIO_ALLDONE -> E_COMPLETED. A chain that
// already moved bytes is never reported as stopped: cancel answers E_IN_PROGRESS for it. A
// successful cancel can strand the rest of glibc's queue for that descriptor (a glibc bug, see
// unstrand_locked): the queue is emptied and every context queues its requests again.
//
// One thread of the process at a time calls aio_suspend (suspend_token), whichever context it
// serves. glibc's aio_suspend, when it returns, walks the record it registered on for every
// aiocb of its list that is in progress again; if that aiocb finished and was started anew
// meanwhile, the old record may have been reused, and another thread's aio_suspend may have
// registered on it and gone: the walk then follows a pointer into that thread's dead stack frame
// (seen: two contexts with vectored requests crashed in glibc within seconds). With one suspender
// in the process, a reused record's wait list names nobody else. (Other code in the process that
// calls aio_suspend itself is outside this; documented in docs/backends.md.)
//
// EAGAIN from aio_read/aio_write/aio_fsync (glibc could not allocate its request or start a
// thread): at submit, the batch stops there with E_INSUFFICIENT_RESOURCES and *accepted = the
// requests before it (the rest never reach glibc); for a later piece of a chain or a released
// flush, the request completes with -EAGAIN and the bytes moved so far. Never a 0-byte success.
#include "backends/posix_aio.hpp"

#include <aio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

#include "core/completion_queue.hpp"
#include "core/quiet_thread.hpp"
#include "core/flush_barrier.hpp"
#include "core/request.hpp"
#include "core/request_list.hpp"
#include "core/sync_io.hpp"

// glibc's AIO worker threads are created inside libc, where ThreadSanitizer does not see them;
// when one of them starts another, TSan's allocator crashes in it (no thread state).
#if defined(__SANITIZE_THREAD__)
#define FILEAIO_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FILEAIO_UNDER_TSAN 1
#endif
#endif
#ifndef FILEAIO_UNDER_TSAN
#define FILEAIO_UNDER_TSAN 0
#endif

namespace fileaio::detail {
namespace {

constexpr auto suspend_slice = std::chrono::milliseconds(1);
// The waiter's own sleep in aio_suspend (see reap): a wakeup waits at most one slice.
constexpr auto direct_slice = std::chrono::microseconds(100);
constexpr auto direct_budget = std::chrono::milliseconds(1);
constexpr size_t direct_max_entries = 64;
// aio_suspend keeps two arrays of this many entries on the watcher's stack.
constexpr size_t suspend_max_entries = 1024;
// Beyond this many descriptors in flight the watcher sleeps on every request (see
// fill_suspend_list_locked).
constexpr size_t max_targeted_fds = 64;
// While requests are in flight and the waiter is not in reap, the idle watcher looks this often;
// when no reap has begun for a whole period it goes on duty (see on_duty_locked).
constexpr auto unattended_check = std::chrono::milliseconds(2);
// What the first posix_aio context asks of glibc (aio_init), see raise_glibc_thread_bound.
constexpr int glibc_aio_threads = 1024;
constexpr int glibc_aio_num = 64;
constexpr int glibc_aio_idle_seconds = 1;

// request::stage for this backend.
enum stage : uint32_t {
    stage_new = 0,
    stage_starting,  // an aio operation is being started for it (not yet in inflight_)
    stage_glibc,     // in glibc, on inflight_
    stage_held,      // a flush held by barrier_ for earlier writes
    stage_done,      // finished, pushed to the completion queue
    stage_canceled,
};

// What this backend keeps in request::scratch.
struct paio_scratch {
    struct aiocb cb;
    request *wnext;  // barrier_.writes (a write is on inflight_ and there at once)
    request *wprev;
    uint64_t listed;  // the suspend (suspend_epoch_) whose list last named cb
    int own_fd;       // a stream request's own duplicate of its fd (see stream_fd), or -1
};
static_assert(sizeof(paio_scratch) <= backend_scratch_size, "the aiocb must fit the request's scratch");
static_assert(alignof(paio_scratch) <= 16, "scratch is 16-aligned");

paio_scratch *scratch_of(request *r) { return std::launder(reinterpret_cast<paio_scratch *>(r->scratch)); }

// The descriptor glibc sees for r. glibc runs one request per descriptor at a time, in order: on
// a stream (pipe, FIFO, socket, character device) a read that only a later write on the same
// descriptor can satisfy would hold that write back for ever. So a read or write on a stream
// gets its own duplicate of the descriptor (the same open file: the same stream and position),
// made at submit and closed when the request leaves glibc for good; where no descriptor is left
// it shares the caller's (and queues behind the others, as glibc alone would).
int glibc_fd(request *r) {
    const int own = scratch_of(r)->own_fd;
    return own >= 0 ? own : r->fd;
}

void release_own_fd(request *r) {
    paio_scratch *s = scratch_of(r);
    if (s->own_fd >= 0) close(s->own_fd);
    s->own_fd = -1;
}

// writes_ links a write through its scratch, since it is on inflight_ at the same time.
struct write_links {
    static request *&next(request *r) { return scratch_of(r)->wnext; }
    static request *&prev(request *r) { return scratch_of(r)->wprev; }
};

// The contiguous piece of r still to transfer, from r->transferred on: the first element of
// what is left (glibc has no vectored aio).
void next_piece(request *r, void **base, size_t *len) {
    struct iovec one;
    const struct iovec piece = rest_of(r, &one).vec[0];
    *base = piece.iov_base;
    *len = piece.iov_len;
}

// The one place a request becomes an aio operation: starts the next piece of r (or its sync).
// Returns 0 or the errno of aio_read/aio_write/aio_fsync.
int start_op(request *r) {
    struct aiocb *cb = &scratch_of(r)->cb;
    std::memset(cb, 0, sizeof *cb);
    cb->aio_fildes = glibc_fd(r);
    cb->aio_sigevent.sigev_notify = SIGEV_NONE;
    int rc;
    if (r->is_sync()) {
        rc = aio_fsync(r->kind == op::flush ? O_SYNC : O_DSYNC, cb);
    } else {
        void *base = nullptr;
        size_t len = 0;
        next_piece(r, &base, &len);
        cb->aio_buf = base;
        cb->aio_nbytes = len;
        cb->aio_offset = static_cast<off_t>(r->offset + static_cast<int64_t>(r->transferred));
        rc = r->is_write() ? aio_write(cb) : aio_read(cb);
    }
    return rc == 0 ? 0 : errno;
}

// One finished piece of r (a byte count or -errno): true when it finishes r (request::absorb),
// false when another piece must be started. This backend's retry rule: -EINTR.
bool completion_finishes(request *r, long res) { return res != -EINTR && r->absorb(res); }

timespec to_timespec(std::chrono::nanoseconds d) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(d.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(d.count() % 1'000'000'000);
    return ts;
}

// glibc's aio_suspend is safe for one thread of the process at a time (see the top of this file):
// the records it registers on are shared by every context, so every posix_aio context takes
// this token around each call. Never destroyed: a watcher may still run during exit.
class suspend_token {
public:
    static suspend_token &get() {
        static suspend_token *const token = new suspend_token;
        return *token;
    }

    bool try_take() {
        std::lock_guard lock(mutex_);
        if (busy_) return false;
        busy_ = true;
        return true;
    }

    // Takes the token, or gives up at `until`.
    bool take_until(clock::time_point until) {
        std::unique_lock lock(mutex_);
        ++waiting_;
        const bool got = cv_.wait_until(lock, until, [&] { return !busy_; });
        --waiting_;
        if (!got) return false;
        busy_ = true;
        return true;
    }

    void give_back() {
        bool others;
        {
            std::lock_guard lock(mutex_);
            busy_ = false;
            others = waiting_ != 0;
        }
        if (others) cv_.notify_one();
    }

    // Someone waits for the token: the holder sleeps in short slices.
    bool contended() {
        std::lock_guard lock(mutex_);
        return waiting_ != 0;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool busy_ = false;
    size_t waiting_ = 0;
};

class posix_aio_backend final : public backend {
public:
    explicit posix_aio_backend(uint32_t max_reqs)
        : suspend_list_(std::min<size_t>(max_reqs, suspend_max_entries)) {
        fd_counts_.reserve(max_targeted_fds + 1);  // the watcher never allocates
    }

    ~posix_aio_backend() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        watcher_cv_.notify_all();
        if (watcher_.joinable()) watcher_.join();
    }

    // Starts the watcher with every signal blocked: the caller's signals stay the caller's.
    int start() {
        return start_quiet_thread([this] { watcher_ = std::thread([this] { watcher_main(); }); });
    }

    int submit(request *const *reqs, size_t n, size_t *accepted) override {
        request_list released;
        size_t i = 0;
        int rc = 0;
        bool wake;
        {
            // Operations are started under mutex_ so that inflight_ always holds every request of
            // ours that glibc has, in glibc's order (see fill_suspend_list_locked).
            std::lock_guard lock(mutex_);
            request_chain failed;
            int last_fd = -1;
            bool last_stream = false;
            for (; i < n; ++i) {
                request *r = reqs[i];
                new (r->scratch) paio_scratch{};
                scratch_of(r)->own_fd = -1;
                r->result = 0;
                r->transferred = 0;
                if (!r->is_sync()) {
                    if (r->fd != last_fd) {  // per descriptor per batch, never cached by number
                        last_fd = r->fd;
                        last_stream = is_stream_fd(r->fd);
                    }
                    if (last_stream) scratch_of(r)->own_fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
                }
                if (r->is_write() || r->is_sync()) {
                    r->seq = ++seq_;
                    if (r->is_write()) {
                        barrier_.writes.push_back(r);
                    } else if (barrier_.holds(r)) {
                        r->stage.store(stage_held, std::memory_order_release);
                        barrier_.held.push_back(r);
                        continue;
                    }
                }
                const int err = start_locked(r);
                if (err == 0) continue;
                if (err == EAGAIN) {
                    // glibc is out of memory or threads: reqs[i..n) stay PREPARED and never reach it.
                    release_own_fd(r);
                    if (r->is_write()) {
                        barrier_.writes.remove(r);
                        release_flushes_locked(&released);
                    }
                    rc = FILEAIO_E_INSUFFICIENT_RESOURCES;
                    break;
                }
                r->result = -err;  // refused at once (EBADF for a sync on a closed fd, ...)
                finish_locked(r, &failed, &released);
            }
            if (failed.count != 0) completions_.push(failed.head, failed.tail, failed.count);
            wake = watcher_should_wake_locked();
        }
        if (wake) watcher_cv_.notify_one();
        launch(&released);
        *accepted = rc == 0 ? n : i;
        return rc;
    }

    // The waiter collects finished requests itself first (no thread switch while it keeps up),
    // then sleeps in aio_suspend itself for a short while (direct_budget), and only when it must
    // sleep longer does it put the watcher on duty and sleep where a wakeup reaches it at once.
    size_t reap(request **out, size_t cap, size_t want, const deadline &dl) override {
        reaps_.fetch_add(1, std::memory_order_relaxed);
        reaper_inside_.store(true, std::memory_order_relaxed);
        struct leave_guard {
            std::atomic<bool> &inside;
            ~leave_guard() { inside.store(false, std::memory_order_relaxed); }
        } guard{reaper_inside_};
        size_t n = completions_.pop(out, cap, want, deadline::poll());
        if (n < cap) {
            harvest();
            n += completions_.pop(out + n, cap - n, 1, deadline::poll());
        }
        if (n >= want || kick_pending_.exchange(false, std::memory_order_acq_rel) || dl.expired()) return n;
        n += suspend_directly(out + n, cap - n, want - n, dl);
        if (n >= want || kick_pending_.exchange(false, std::memory_order_acq_rel) || dl.expired()) return n;
        bool wake;
        {
            std::lock_guard lock(mutex_);
            reaper_need_ = want - n;  // what the pop below waits for (n < want: never 0)
            wake = watcher_idle_;
        }
        if (wake) watcher_cv_.notify_one();
        n += completions_.pop(out + n, cap - n, want - n, dl);
        {
            std::lock_guard lock(mutex_);
            reaper_need_ = 0;
        }
        kick_pending_.exchange(false, std::memory_order_acq_rel);  // this return answers it
        return n;
    }

    void kick() override {
        kick_pending_.store(true, std::memory_order_release);
        completions_.kick();
    }

    // An event loop learns of completions only from the queue: from now on the watcher is on duty
    // whenever requests are in flight, and the queue writes efd as it gets them.
    int notify_through(int efd) override {
        bool wake;
        {
            std::lock_guard lock(mutex_);
            completions_.notify_through(efd);
            polled_ = true;
            wake = watcher_should_wake_locked();
        }
        if (wake) watcher_cv_.notify_one();
        return 0;
    }

    bool has_completions() override { return completions_.size() != 0; }

    int cancel(request *r) override {
        request_list restart;
        {
            std::unique_lock lock(mutex_);
            switch (r->stage.load(std::memory_order_relaxed)) {
                case stage_held:
                    barrier_.held.remove(r);
                    r->stage.store(stage_canceled, std::memory_order_release);
                    return 0;
                case stage_glibc: break;
                case stage_done: return FILEAIO_E_COMPLETED;
                case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
                default: return FILEAIO_E_IN_PROGRESS;  // between two pieces, about to start again
            }
            if (r->transferred != 0) return FILEAIO_E_IN_PROGRESS;  // a chain that moved bytes goes on
            struct aiocb *cb = &scratch_of(r)->cb;
            switch (aio_cancel(glibc_fd(r), cb)) {
                case AIO_CANCELED: break;
                case AIO_ALLDONE: return FILEAIO_E_COMPLETED;
                default: return FILEAIO_E_IN_PROGRESS;  // AIO_NOTCANCELED, or -1 (fd closed meanwhile)
            }
            // Stopped in glibc's queue. Reap its ECANCELED status here, once; the watcher only
            // looks at inflight_, so it never reports it.
            (void)aio_return(cb);
            unwatch(r);
            unstrand_locked(glibc_fd(r), &restart);
            if (r->is_write()) {
                barrier_.writes.remove(r);
                release_flushes_locked(&restart);
            }
            r->stage.store(stage_canceled, std::memory_order_release);
            // The caller may free or reuse r as soon as this returns: not while a sleeper's list
            // names its aiocb (glibc reads it when it wakes, which this cancel has just caused).
            suspend_done_cv_.wait(lock, [&] { return !listed_locked(r); });
            release_own_fd(r);
        }
        launch(&restart);
        return 0;
    }

private:
    // The waiter's short sleep: in slices of direct_slice (a wakeup is seen between two), for at
    // most direct_budget, on a targeted list of at most direct_max_entries (glibc puts arrays of
    // that many on this, the caller's, stack), when the suspend token is free. Collects what
    // finishes. Returns how many it put in out (up to need, and more if they are there).
    size_t suspend_directly(request **out, size_t cap, size_t need, const deadline &dl) {
        const clock::time_point until =
            std::min(clock::now() + direct_budget, dl.forever ? clock::time_point::max() : dl.at);
        suspend_token &token = suspend_token::get();
        size_t got = 0;
        while (got < need && !kick_pending_.load(std::memory_order_acquire) && clock::now() < until) {
            if (!token.try_take()) return got;
            size_t k;
            {
                std::lock_guard lock(mutex_);
                k = fill_suspend_list_locked(need - got, direct_max_entries);
            }
            if (k == 0) {  // nothing in flight, or too much for this stack
                token.give_back();
                return got;
            }
            const auto left = std::max(std::chrono::nanoseconds(0), std::chrono::nanoseconds(until - clock::now()));
            const timespec ts = to_timespec(std::min<std::chrono::nanoseconds>(direct_slice, left));
            aio_suspend(suspend_list_.data(), static_cast<int>(k), &ts);
            end_suspend();
            token.give_back();
            harvest();
            got += completions_.pop(out + got, cap - got, 1, deadline::poll());
        }
        return got;
    }

    // Starts r's next piece (or its sync) and watches it. Returns 0 or the errno.
    int start_locked(request *r) {
        const int err = start_op(r);
        if (err == 0) {
            watch(r);
            r->stage.store(stage_glibc, std::memory_order_release);
        }
        return err;
    }

    // Starts each request of *list (a continuation, a released flush, a requeued request). One
    // glibc refuses completes with that error (-EAGAIN included) and the bytes moved so far.
    void launch(request_list *list) {
        while (!list->empty()) {
            request_list released;
            bool wake;
            {
                std::lock_guard lock(mutex_);
                request_chain failed;
                while (request *r = list->pop_front()) {
                    if (const int err = start_locked(r); err != 0) {
                        r->result = -err;
                        finish_locked(r, &failed, &released);
                    }
                }
                if (failed.count != 0) completions_.push(failed.head, failed.tail, failed.count);
                wake = watcher_should_wake_locked();
            }
            if (wake) watcher_cv_.notify_one();
            *list = released;
        }
    }

    // glibc's aio_cancel, removing the first request queued on a descriptor while it waits for a
    // thread, marks the next one runnable without putting it on glibc's run list
    // (rt/aio_misc.c, __aio_remove_request): that one and all behind it would never run, whichever
    // context (or other code) queued them. So after every request it stopped, cancel cancels all
    // that is still queued on the descriptor (glibc's aio_cancel(fd, NULL) takes the whole queue
    // out, leaving only a request a thread is running). Every posix_aio context treats an
    // ECANCELED it did not ask for as "queue it again" (harvest_locked): this context's own are
    // requeued here at once, other contexts' at their next look, which the cancellation itself
    // wakes when they sleep on them.
    void unstrand_locked(int fd, request_list *restart) {
        (void)aio_cancel(fd, nullptr);
        request_chain batch;
        harvest_locked(&batch, restart);
    }

    // r is finished: it joins `batch`, and a write leaves barrier_.writes, releasing the flushes it held.
    // The caller pushes the batch before it lets go of mutex_ and launches the released flushes
    // after, so a flush is always queued behind the writes it waited for.
    void finish_locked(request *r, request_chain *batch, request_list *released) {
        release_own_fd(r);  // glibc is done with it (aio_return, or refused at start)
        r->stage.store(stage_done, std::memory_order_release);
        if (r->is_write()) {
            barrier_.writes.remove(r);
            release_flushes_locked(released);
        }
        batch->append(r);
    }

    void release_flushes_locked(request_list *released) {
        barrier_.release_ready([&](request *h) {
            h->stage.store(stage_starting, std::memory_order_release);
            released->push_back(h);
        });
    }

    // In flight, watched: vectored requests (chains) keep the watcher on duty without a waiter.
    void watch(request *r) {
        inflight_.push_back(r);
        if (r->is_vectored()) ++chains_;
    }
    void unwatch(request *r) {
        inflight_.remove(r);
        if (r->is_vectored()) --chains_;
    }

    // The watcher sleeps in aio_suspend only while someone depends on it: a sleeping waiter, a
    // chain that must go on, a flush waiting for writes, or requests in flight that nobody has
    // come to reap for a while (the rest of a short transfer must start without a waiter: API.md
    // "Asynchrony"). Otherwise the waiter collects.
    bool on_duty_locked() const {
        return reaper_need_ != 0 || chains_ != 0 || !barrier_.held.empty() || unattended_ || polled_;
    }
    // An idle watcher is woken when it is needed, or when it sleeps without a time limit (nothing
    // was in flight) and must start looking at what was just started.
    bool watcher_should_wake_locked() const { return watcher_idle_ && (on_duty_locked() || watcher_parked_); }

    // Collects every finished operation (aio_return exactly once each), pushes the finished
    // requests and starts the next piece of the others.
    void harvest() {
        request_chain batch;
        request_list again;
        {
            std::lock_guard lock(mutex_);
            harvest_locked(&batch, &again);
        }
        launch(&again);
    }

    void harvest_locked(request_chain *batch, request_list *again) {
        for (request *r = inflight_.head; r != nullptr;) {
            request *after = r->next;
            struct aiocb *cb = &scratch_of(r)->cb;
            const int err = listed_locked(r) ? EINPROGRESS : aio_error(cb);
            if (err != EINPROGRESS) {
                const ssize_t ret = aio_return(cb);
                unwatch(r);
                if (err == ECANCELED) {
                    // Not by cancel() (which takes its request off inflight_ first): a cancel
                    // emptied glibc's queue for this descriptor (unstrand_locked). Again.
                    r->stage.store(stage_starting, std::memory_order_release);
                    again->push_back(r);
                } else if (completion_finishes(r, err == 0 ? static_cast<long>(ret) : -static_cast<long>(err))) {
                    finish_locked(r, batch, again);
                } else {
                    r->stage.store(stage_starting, std::memory_order_release);
                    again->push_back(r);
                }
            }
            r = after;
        }
        if (batch->count != 0) completions_.push(batch->head, batch->tail, batch->count);
    }

    void watcher_main() {
        const timespec slice = to_timespec(suspend_slice);
        const timespec short_slice = to_timespec(direct_slice);
        std::unique_lock lock(mutex_);
        for (;;) {
            if (unattended_ && reaper_inside_.load(std::memory_order_relaxed)) unattended_ = false;  // it is back
            if (inflight_.empty() || !on_duty_locked()) {
                if (stopping_ && inflight_.empty()) return;
                watcher_idle_ = true;
                if (inflight_.empty()) {
                    watcher_parked_ = true;
                    watcher_cv_.wait(lock);
                    watcher_parked_ = false;
                } else {
                    watcher_cv_.wait_for(lock, unattended_check);
                }
                watcher_idle_ = false;
                // Nobody inside reap, and no reap begun since the last look: nobody attends.
                const uint64_t reaps = reaps_.load(std::memory_order_relaxed);
                unattended_ = !inflight_.empty() && !reaper_inside_.load(std::memory_order_relaxed) && reaps == reaps_seen_;
                reaps_seen_ = reaps;
                continue;
            }
            request_chain batch;
            request_list again;
            harvest_locked(&batch, &again);
            if (!again.empty()) {
                lock.unlock();
                launch(&again);
                lock.lock();
                continue;
            }
            if (batch.count != 0) continue;  // look again before sleeping
            // The token, waited for at most one slice; then everything is looked at again.
            lock.unlock();
            suspend_token &token = suspend_token::get();
            if (!token.take_until(clock::now() + suspend_slice)) {
                lock.lock();
                continue;
            }
            lock.lock();
            if (inflight_.empty() || !on_duty_locked()) {
                token.give_back();
                continue;
            }
            size_t need = 0;  // 0: every completion matters
            if (reaper_need_ != 0) need = std::max<size_t>(1, reaper_need_ - std::min(reaper_need_, completions_.size()));
            const size_t k = fill_suspend_list_locked(need, suspend_list_.size());
            lock.unlock();
            // Returns when one of them finishes, after a slice (requests submitted meanwhile are
            // not in the list), or on EINTR; each is just another look. Short slices while
            // another context waits for the token.
            aio_suspend(suspend_list_.data(), static_cast<int>(k), token.contended() ? &short_slice : &slice);
            lock.lock();
            end_suspend_locked();
            token.give_back();
        }
    }

    // The suspender is back from aio_suspend: the requests its list named may be collected,
    // started again, cancelled and handed back (see listed_locked).
    void end_suspend() {
        std::lock_guard lock(mutex_);
        end_suspend_locked();
    }
    void end_suspend_locked() {
        suspending_ = false;
        suspend_done_cv_.notify_all();
    }

    // r's aiocb is named by the list of a sleeper still inside aio_suspend. glibc reads every
    // aiocb of the list when it wakes, and walks the record it registered on for each one that is
    // in progress again: so such a request is not collected (harvest_locked skips it: the sleeper
    // collects it when it is back), not started again, and not handed back by cancel until then.
    // A completion or cancellation of a listed aiocb is what wakes the sleeper, so the wait is short.
    bool listed_locked(request *r) const { return suspending_ && scratch_of(r)->listed == suspend_epoch_; }

    // What a suspender sleeps on, at most `cap` entries (0 when even the targeted list is longer).
    // glibc runs the requests of one descriptor one at a time, in the order they were queued,
    // which is inflight_'s order. So a waiter needing `need` more completions need only sleep on,
    // for each of the F descriptors in flight, its t-th request (or its last), t = 1 + (need - 1) / F:
    // completions that leave all of these in progress are a prefix of fewer than t on each
    // descriptor, fewer than `need` in all. One entry instead of every request: glibc's aio_suspend
    // looks each entry up under its global lock, against its worker threads, and wakes on every
    // completion of the list. need == 0 (nobody waits), a chain or a held flush: every completion
    // matters, and the list is everything in flight. (Threads submitting with different real-time
    // priorities reorder glibc's queue; a wait then ends at worst one slice late.)
    size_t fill_suspend_list_locked(size_t need, size_t cap) {
        const size_t k = list_locked(need, std::min(cap, suspend_list_.size()));
        if (k != 0) {
            ++suspend_epoch_;
            for (size_t i = 0; i < k; ++i) owner_of(suspend_list_[i])->listed = suspend_epoch_;
            suspending_ = true;  // until end_suspend_locked
        }
        return k;
    }

    static paio_scratch *owner_of(const struct aiocb *cb) {
        return reinterpret_cast<paio_scratch *>(reinterpret_cast<uintptr_t>(cb) - offsetof(paio_scratch, cb));
    }

    size_t list_locked(size_t need, size_t cap) {
        size_t k = 0;
        fd_counts_.clear();
        if (chains_ == 0 && barrier_.held.empty() && need != 0) {
            for (request *r = inflight_.head; r != nullptr && fd_counts_.size() <= max_targeted_fds; r = r->next)
                ++count_of(glibc_fd(r)).in_flight;
        }
        if (fd_counts_.empty() || fd_counts_.size() > std::min(max_targeted_fds, cap)) {
            for (request *r = inflight_.head; r != nullptr; r = r->next) {
                if (k == cap) return cap == suspend_list_.size() ? k : 0;  // the watcher lists what fits
                suspend_list_[k++] = &scratch_of(r)->cb;
            }
            return k;
        }
        const size_t t = 1 + (need - 1) / fd_counts_.size();
        for (request *r = inflight_.head; r != nullptr; r = r->next) {
            fd_count &c = count_of(glibc_fd(r));
            if (++c.seen == std::min(t, c.in_flight)) suspend_list_[k++] = &scratch_of(r)->cb;
        }
        return k;
    }

    struct fd_count {
        int fd;
        size_t in_flight;
        size_t seen;
    };
    fd_count &count_of(int fd) {
        for (fd_count &c : fd_counts_)
            if (c.fd == fd) return c;
        return fd_counts_.emplace_back(fd_count{fd, 0, 0});
    }

    completion_queue completions_;
    std::atomic<bool> kick_pending_{false};
    // The suspender's own: whoever holds the suspend token (the watcher, or the waiter).
    std::vector<const struct aiocb *> suspend_list_;
    std::vector<fd_count> fd_counts_;
    std::thread watcher_;

    std::mutex mutex_;  // guards everything below (taken before the completion queue's)
    std::condition_variable watcher_cv_;
    request_list inflight_;  // operations in glibc, watched
    flush_barrier<write_links> barrier_;  // writes from submit until reported; flushes held for them
    uint64_t seq_ = 0;
    size_t chains_ = 0;          // vectored requests on inflight_
    size_t reaper_need_ = 0;     // what the sleeping waiter's pop waits for; 0: no waiter sleeps
    // This context's thread inside aio_suspend (the waiter or the watcher), and which of its
    // lists is current (paio_scratch::listed); see listed_locked.
    bool suspending_ = false;
    uint64_t suspend_epoch_ = 0;
    std::condition_variable suspend_done_cv_;
    bool watcher_idle_ = false;
    bool watcher_parked_ = false;  // idle without a time limit: nothing was in flight
    bool polled_ = false;          // an event loop watches the context's descriptor (notify_through)
    bool unattended_ = false;      // on duty because nobody has come to reap (see on_duty_locked)
    uint64_t reaps_seen_ = 0;      // reaps_ at the watcher's last idle look
    bool stopping_ = false;
    std::atomic<uint64_t> reaps_{0};             // reaps begun
    std::atomic<bool> reaper_inside_{false};     // a thread is inside reap
};

}  // namespace

int posix_aio_probe(char *reason, size_t reason_size) {
#if FILEAIO_UNDER_TSAN
    if (reason != nullptr && reason_size != 0)
        std::snprintf(reason, reason_size,
                      "not in a ThreadSanitizer build: glibc's AIO threads start threads TSan cannot see, and it "
                      "crashes in them");
    return FILEAIO_E_NOT_SUPPORTED;
#else
    if (reason != nullptr && reason_size != 0)
        std::snprintf(reason, reason_size, "available (glibc POSIX AIO: one request at a time per file descriptor)");
    return 0;
#endif
}

// glibc runs at most aio_threads requests at once (default 20, one per descriptor), so 21 reads
// of pipes that only later requests of the same program will fill would wait forever. Before its
// first request, glibc takes a larger bound from aio_init (threads start on demand and leave
// after a second idle). A program that has already used aio.h keeps glibc's settings.
static void raise_glibc_thread_bound() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct aioinit init {};
        init.aio_threads = glibc_aio_threads;
        init.aio_num = glibc_aio_num;
        init.aio_idle_time = glibc_aio_idle_seconds;
        aio_init(&init);
    });
}

int posix_aio_create(const backend_config &config, std::unique_ptr<backend> *out) {
    raise_glibc_thread_bound();
    std::unique_ptr<posix_aio_backend> be;
    try {
        be = std::make_unique<posix_aio_backend>(config.max_reqs);
    } catch (const std::bad_alloc &) {
        return FILEAIO_E_NO_MEMORY;
    }
    if (int rc = be->start(); rc != 0) return rc;
    *out = std::move(be);
    return 0;
}

int posix_aio_limits(fileaio_limits *limits) {
    limits->max_outstanding = FILEAIO_UNLIMITED_REQS;  // glibc sets no cap (_SC_AIO_MAX is -1)
    limits->buffer_alignment = 0;
    return 0;
}

}  // namespace fileaio::detail
