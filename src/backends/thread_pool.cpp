// The thread_pool backend.
//
// submit: a read that is not O_DIRECT (and not huge) is a cached-read candidate: it goes to the
// shared list, and the submitting thread then serves its own candidates (tagged with its call's
// batch number) with preadv2(RWF_NOWAIT), a few at a time, while one idle worker (woken for a
// batch of 8 or more) serves the shared list too. A hit completes without a thread switch; a miss
// moves on to the FIFO. Everything else — O_DIRECT, writes, flushes — goes straight to the FIFO,
// served by a pool of workers that grows on demand up to `threads`. Requests on one file run in
// parallel (unlike glibc's aio).
//
// Short calls (an event loop's thread submits): submit does the caller's own batch and nothing
// else. It never serves another thread's reads, and it never starts or joins a thread: the pool
// grows through its staffer, a thread that sleeps until work is queued that no idle worker can
// take, starts workers (without holding the pool's lock while the system creates them) and joins
// the ones that retired.
//
// A worker that runs a request on a pipe, FIFO, socket or character device (statx type, per fd per
// batch; for a cached read that misses, its ESPIPE) does not count toward `threads` while it does:
// such a request may wait for another request of the same context (24 reads of empty pipes, then
// the 24 writes that fill them), which must still get a worker. The pool then grows past
// `threads`, never past max_reqs. The workers beyond `threads` exit once they have found no work
// for a second (not at once: a steady stream workload would then start a thread per request), so
// after a burst the pool shrinks back to `threads`; the next spawn (or destroy) joins them.
// (linux_aio's helper pool is a near-copy.)
//
// Flush and data sync are barriers: the FIFO hands out every request queued before a flush
// before the flush itself, and the worker that takes the flush then waits until the writes to
// the same fd that were queued before it (and are running on other workers) have finished. A
// write's completion is pushed before it leaves the running list, under the same lock, so the
// flush is handed back after it. Writes never complete inline, so they need no other tracking.
//
// A descriptor that cannot seek answers the first call of a request with ESPIPE; that request
// then works at the stream's position (offset -1), inline and on the workers alike. A cached read
// of a pipe that would block (RWF_NOWAIT: EAGAIN) moves on to the FIFO like any miss.
//
// cancel removes a request still in the FIFO or the shared list (0) if it has moved no bytes; one
// that was served in part (a cached read that then would block), runs or ran cannot be stopped.
#include "backends/thread_pool.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <list>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

#include "core/completion_queue.hpp"
#include "core/request_list.hpp"
#include "core/quiet_thread.hpp"
#include "core/request.hpp"
#include "core/sync_io.hpp"

namespace fileaio::detail {
namespace {

constexpr uint32_t default_threads = 16;
// Larger cached reads are left to the workers, which can copy in parallel.
constexpr size_t inline_max_bytes = 256 * 1024;

// request::stage for this backend.
enum stage : uint32_t { stage_new = 0, stage_queued, stage_shared, stage_running, stage_done, stage_canceled };

// A batch with at least this many cached-read candidates wakes an idle worker to share them.
constexpr size_t share_min_batch = 8;
// Shared requests are taken this many at a time: small enough to balance two threads, large
// enough that the lock is not taken per request.
constexpr size_t share_chunk = 4;
// A worker beyond `threads` (started while others ran stream requests) exits after this long
// without work.
constexpr auto surplus_idle = std::chrono::seconds(1);

// What this backend keeps in request::scratch.
struct pool_scratch {
    bool unbounded;  // on a pipe, FIFO, socket or character device: may wait for another request
    uint64_t batch;  // the submit call that put it on the shared list (serve_own)
};

pool_scratch *scratch_of(request *r) { return std::launder(reinterpret_cast<pool_scratch *>(r->scratch)); }

// Whether I/O on fd may wait indefinitely, for something only another request may do (a pipe,
// FIFO, socket, terminal...). Decided per fd per batch (numbers are reused); statx with
// AT_STATX_DONT_SYNC answers from the cached inode, with no round trip to a FUSE daemon or NFS
// server.
bool may_wait_indefinitely(int fd) {
    struct statx stx {};
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) != 0) return false;
    return S_ISFIFO(stx.stx_mode) || S_ISSOCK(stx.stx_mode) || S_ISCHR(stx.stx_mode);
}

// A worker's thread; retired (under the pool's lock) once the worker has exited for lack of work.
struct worker_slot {
    std::thread thread;
    bool retired = false;
};

class thread_pool_backend final : public backend {
public:
    thread_pool_backend(uint32_t max_threads, uint32_t max_total) : max_threads_(max_threads), max_total_(max_total) {}

    ~thread_pool_backend() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        work_cv_.notify_all();
        staff_cv_.notify_all();
        // Only the staffer starts workers; once it is gone, workers_ no longer changes.
        if (staffer_.joinable()) staffer_.join();
        for (auto &w : workers_)
            if (w.thread.joinable()) w.thread.join();
    }

    // Starts the first worker, so that queued work always has someone to run it, and the staffer.
    int start() {
        {
            std::unique_lock lock(mutex_);
            if (!spawn_one(lock)) return FILEAIO_E_INSUFFICIENT_RESOURCES;
        }
        return start_quiet_thread([&] { staffer_ = std::thread([this] { staffer_main(); }); });
    }

    int submit(request *const *reqs, size_t n, size_t *accepted) override {
        // Cached-read candidates go to the shared list, which this thread then serves itself,
        // a few at a time, while an idle worker (woken for a big enough batch) serves it too:
        // two cores copy at once and neither waits for the other. Everything else is punted.
        request *punt[batch_chunk];
        size_t punted = 0;
        const uint64_t batch = next_batch_.fetch_add(1, std::memory_order_relaxed);
        request *share[batch_chunk];
        size_t shared_n = 0;
        int last_fd = -1;  // of the last fcntl
        bool last_direct = true;
        int type_fd = -1;  // of the last statx
        bool type_known = false;
        bool unbounded = false;
        for (size_t i = 0; i < n; ++i) {
            request *r = reqs[i];
            r->transferred = 0;
            r->result = 0;
            new (r->scratch) pool_scratch{false, batch};
            bool candidate = false;
            if (!r->is_sync() && !r->is_write() && r->size <= inline_max_bytes) {
                if (r->fd != last_fd) {
                    int fl = fcntl(r->fd, F_GETFL);
                    last_fd = r->fd;
                    last_direct = fl < 0 || (fl & O_DIRECT) != 0;
                }
                candidate = !last_direct;
            }
            // A candidate that misses knows by then (ESPIPE: r->at_stream, set in serve_shared);
            // the rest asks statx, once per fd per batch.
            if (!candidate) {
                if (!type_known || r->fd != type_fd) {
                    type_fd = r->fd;
                    type_known = true;
                    unbounded = may_wait_indefinitely(r->fd);
                }
                scratch_of(r)->unbounded = unbounded;
            }
            if (candidate) {
                share[shared_n++] = r;
                if (shared_n == batch_chunk) {
                    enqueue_shared(share, shared_n);
                    shared_n = 0;
                }
            } else {
                punt[punted++] = r;
                if (punted == batch_chunk) {
                    enqueue(punt, punted);
                    punted = 0;
                }
            }
        }
        if (shared_n != 0) enqueue_shared(share, shared_n);
        if (punted != 0) enqueue(punt, punted);
        if (shared_pending_.load(std::memory_order_relaxed)) serve_own(batch);
        *accepted = n;
        return 0;
    }

    size_t reap(request **out, size_t cap, size_t want, const deadline &dl) override {
        return completions_.pop(out, cap, want, dl);
    }

    void kick() override { completions_.kick(); }

    int notify_through(int efd) override {
        completions_.notify_through(efd);
        return 0;
    }

    bool has_completions() override { return completions_.size() != 0; }

    int cancel(request *r) override {
        std::lock_guard lock(mutex_);
        const uint32_t st = r->stage.load(std::memory_order_relaxed);
        // Cancel 0 means "stopped before it touched the file": a read served in part in submit
        // (RWF_NOWAIT) and queued for the rest has moved bytes already, and goes on.
        if ((st == stage_queued || st == stage_shared) && r->transferred != 0) return FILEAIO_E_IN_PROGRESS;
        switch (st) {
            case stage_queued:
                queue_.remove(r);
                r->stage.store(stage_canceled, std::memory_order_relaxed);
                return 0;
            case stage_shared:
                shared_.remove(r);
                r->stage.store(stage_canceled, std::memory_order_relaxed);
                return 0;
            case stage_done: return FILEAIO_E_COMPLETED;
            case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
            default: return FILEAIO_E_IN_PROGRESS;
        }
    }

private:
    static constexpr size_t batch_chunk = 64;

    void enqueue(request *const *reqs, size_t n) {
        size_t wake = 0;
        {
            std::lock_guard lock(mutex_);
            for (size_t i = 0; i < n; ++i) queue_locked(reqs[i]);
            wake = staff_locked(n);
        }
        for (size_t i = 0; i < wake; ++i) work_cv_.notify_one();
    }

    void queue_locked(request *r) {
        r->seq = ++seq_;
        r->stage.store(stage_queued, std::memory_order_relaxed);
        queue_.push_back(r);
        ++queued_;
    }

    // Idle workers not already woken for earlier work: a notified worker still counts as idle
    // until it runs, and counting it twice would leave new work without a thread.
    size_t idle_unclaimed_locked() const { return idle_ > notified_ ? idle_ - notified_ : 0; }

    // For n newly queued requests: returns how many idle workers to wake, and starts more workers
    // for the work that idle ones cannot take: up to `threads` counted workers, where a worker
    // that runs a request on a descriptor that may wait indefinitely does not count (so such
    // requests can never hold every thread while the request that would end their wait is
    // queued); never more than max_reqs threads in all.
    size_t staff_locked(size_t n) {
        size_t wake = std::min(n, idle_unclaimed_locked());
        notified_ += wake;
        if (const size_t extra = n - wake; extra != 0) {
            // The staffer starts them; until then the workers that exist take the work in turn.
            const size_t room = room_locked();
            if (spawn_wanted_ < room) {
                spawn_wanted_ = std::min(room, spawn_wanted_ + extra);
                staff_cv_.notify_one();
            }
        }
        return wake;
    }

    // Workers that may still be started: up to `threads` that count, max_reqs in all.
    size_t room_locked() const {
        const size_t counted = live_ - unbounded_running_;
        if (counted >= max_threads_ || live_ >= max_total_) return 0;
        return std::min<size_t>(max_threads_ - counted, max_total_ - live_);
    }

    // More workers count toward `threads` than `threads`: the extra ones were started while
    // others ran stream requests, which have finished since.
    bool surplus_locked() const { return live_ - unbounded_running_ > max_threads_; }

    // Appends cached-read candidates to the shared list; wakes one idle worker to help when
    // there is enough to share (below that, the wakeup costs more than it saves).
    void enqueue_shared(request *const *reqs, size_t n) {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            for (size_t i = 0; i < n; ++i) {
                reqs[i]->stage.store(stage_shared, std::memory_order_relaxed);
                shared_.push_back(reqs[i]);
            }
            shared_size_ += n;
            shared_pending_.store(true, std::memory_order_relaxed);
            wake = idle_unclaimed_locked() != 0 && shared_size_ >= share_min_batch;
            if (wake) ++notified_;
        }
        if (wake) work_cv_.notify_one();
    }

    // A worker's: serves one chunk of the shared list, whoever submitted it (the lock is held on
    // entry and on exit).
    void serve_shared(std::unique_lock<std::mutex> &lock) {
        request_chain taken;
        while (taken.count < share_chunk && !shared_.empty()) {
            request *r = shared_.pop_front();
            r->stage.store(stage_running, std::memory_order_relaxed);
            taken.append(r);
        }
        serve(lock, taken);
    }

    // The submitter's: serves, a chunk at a time, the candidates of its own call (`batch`) that no
    // worker has taken — never another thread's. It looks only at the shared list, which holds
    // requests still in flight (a request of this call that a worker finished may have been
    // handed back and destroyed already).
    void serve_own(uint64_t batch) {
        std::unique_lock lock(mutex_);
        for (;;) {
            request_chain taken;
            for (request *r = shared_.head; r != nullptr && taken.count < share_chunk;) {
                request *after = r->next;
                if (scratch_of(r)->batch == batch) {
                    shared_.remove(r);
                    r->stage.store(stage_running, std::memory_order_relaxed);
                    taken.append(r);
                }
                r = after;
            }
            if (taken.count == 0) return;
            serve(lock, taken);
        }
    }

    // Runs the cached reads `taken` off the shared list with RWF_NOWAIT, without the lock (held on
    // entry and on exit). What would block goes to the ordinary queue.
    void serve(std::unique_lock<std::mutex> &lock, request_chain &taken) {
        shared_size_ -= taken.count;
        if (shared_.empty()) shared_pending_.store(false, std::memory_order_relaxed);
        lock.unlock();
        request_chain done;
        request_chain blocked;
        for (request *r = taken.head; r != nullptr;) {
            request *next = r->next;
            if (run_io(r, RWF_NOWAIT)) {
                done.append(r);
            } else {
                blocked.append(r);
            }
            r = next;
        }
        lock.lock();
        for (request *r = blocked.head; r != nullptr;) {
            request *next = r->next;
            // A read that would block on a descriptor that cannot seek (a pipe, FIFO, socket, tty:
            // ESPIPE) may wait for another request.
            scratch_of(r)->unbounded = r->at_stream;
            queue_locked(r);
            r = next;
        }
        // Misses run in parallel on as many workers as there are misses (up to `threads`).
        size_t wake = staff_locked(blocked.count);
        for (size_t i = 0; i < wake; ++i) work_cv_.notify_one();
        for (request *r = done.head; r != nullptr; r = r->next) r->stage.store(stage_done, std::memory_order_relaxed);
        if (done.count != 0) completions_.push(done.head, done.tail, done.count);
    }

    // Starts a worker with every signal blocked (the caller's signals stay the caller's). The
    // lock is held on entry and on exit, and released while the system creates the thread. Only
    // start() and the staffer call it, so workers_ changes nowhere else meanwhile.
    bool spawn_one(std::unique_lock<std::mutex> &lock) {
        if (stopping_) return false;
        auto slot = workers_.end();
        try {
            slot = workers_.emplace(workers_.end());
        } catch (const std::bad_alloc &) {
            return false;
        }
        ++live_;  // counted from now on, so that staff_locked does not ask twice
        lock.unlock();
        const int rc = start_quiet_thread([&] { slot->thread = std::thread([this, w = &*slot] { worker(*w); }); });
        lock.lock();
        if (rc != 0) {
            workers_.erase(slot);  // its thread never started
            --live_;
            return false;
        }
        return true;
    }

    // The staffer: starts the workers staff_locked asks for and joins the ones that retired, so
    // that no submit ever waits for the system to create or reap a thread.
    void staffer_main() {
        std::unique_lock lock(mutex_);
        for (;;) {
            staff_cv_.wait(lock, [&] { return stopping_ || spawn_wanted_ != 0 || retired_ != 0; });
            if (stopping_) return;
            if (retired_ != 0) {
                // They have exited (or are exiting) and touch nothing of the pool any more.
                std::list<worker_slot> gone;
                for (auto it = workers_.begin(); it != workers_.end();) {
                    auto at = it++;
                    if (at->retired) gone.splice(gone.end(), workers_, at);
                }
                retired_ = 0;
                lock.unlock();
                for (auto &w : gone) w.thread.join();
                lock.lock();
            }
            while (spawn_wanted_ != 0 && !stopping_) {
                --spawn_wanted_;
                if (room_locked() == 0) continue;  // workers freed up or retired meanwhile
                if (!spawn_one(lock)) {
                    spawn_wanted_ = 0;  // the system refused: the workers that exist take it in turn
                    break;
                }
            }
        }
    }

    bool earlier_write_running(const request *flush) const {
        for (const request *w = running_writes_.head; w != nullptr; w = w->next)
            if (w->fd == flush->fd && w->seq < flush->seq) return true;
        return false;
    }

    void worker(worker_slot &self) {
        std::unique_lock lock(mutex_);
        for (;;) {
            while (!stopping_ && queue_.empty() && shared_.empty()) {
                ++idle_;
                bool timed_out = false;
                if (surplus_locked()) {
                    timed_out = work_cv_.wait_for(lock, surplus_idle) == std::cv_status::timeout;
                } else {
                    work_cv_.wait(lock);
                }
                --idle_;
                if (notified_ != 0) --notified_;
                if (timed_out && !stopping_ && queue_.empty() && shared_.empty() && surplus_locked()) {
                    // Joined by the next spawn or by destroy: after this unlock, the worker
                    // touches nothing of the pool.
                    self.retired = true;
                    ++retired_;
                    --live_;
                    staff_cv_.notify_one();  // the staffer joins us
                    return;
                }
            }
            if (!shared_.empty()) {
                while (!shared_.empty()) serve_shared(lock);
                continue;
            }
            if (queue_.empty()) return;  // stopping
            request *r = queue_.pop_front();
            --queued_;
            r->stage.store(stage_running, std::memory_order_relaxed);
            const bool unbounded = scratch_of(r)->unbounded;
            if (unbounded) {
                // This worker stops counting toward `threads` while it runs r: what is queued
                // behind r gets a worker of its own.
                ++unbounded_running_;
                const size_t wake = staff_locked(queue_.empty() ? 0 : 1);  // one slot freed
                for (size_t i = 0; i < wake; ++i) work_cv_.notify_one();
            }
            if (r->is_write()) running_writes_.push_back(r);
            if (r->is_sync()) {
                ++barrier_waiters_;
                barrier_cv_.wait(lock, [&] { return !earlier_write_running(r); });
                --barrier_waiters_;
            }
            lock.unlock();

            if (r->is_sync()) {
                run_sync(r);
            } else {
                run_io(r, 0);
            }

            lock.lock();
            if (unbounded) --unbounded_running_;
            const bool was_write = r->is_write();
            if (was_write) running_writes_.remove(r);
            r->stage.store(stage_done, std::memory_order_relaxed);
            // Pushed under mutex_: a flush waiting on this write is reported after it.
            completions_.push(r);
            if (was_write && barrier_waiters_ != 0) barrier_cv_.notify_all();
        }
    }

    const uint32_t max_threads_;  // workers that count (see staff_locked)
    const uint32_t max_total_;    // max_reqs: workers in all
    completion_queue completions_;

    std::mutex mutex_;  // guards everything below
    std::condition_variable work_cv_;
    std::condition_variable barrier_cv_;
    std::condition_variable staff_cv_;
    size_t spawn_wanted_ = 0;  // workers staff_locked asked the staffer for
    request_list queue_;
    request_list shared_;  // cached-read candidates shared by a submit, served as one chunk
    request_list running_writes_;
    std::list<worker_slot> workers_;  // started, not yet joined
    size_t live_ = 0;                 // of those, not retired
    size_t retired_ = 0;              // of those, retired (exited or exiting)
    size_t idle_ = 0;      // workers waiting for work
    size_t notified_ = 0;  // of those, woken for work already queued but not yet running
    std::atomic<bool> shared_pending_{false};  // shared_ is not empty (read without the lock)
    size_t shared_size_ = 0;
    size_t queued_ = 0;
    size_t unbounded_running_ = 0;  // workers running a request that may wait indefinitely
    size_t barrier_waiters_ = 0;
    uint64_t seq_ = 0;
    bool stopping_ = false;
    std::atomic<uint64_t> next_batch_{1};  // submit calls, for pool_scratch::batch
    std::thread staffer_;  // last: started by start(), joined first by the destructor
};

}  // namespace

int thread_pool_probe(char *reason, size_t reason_size) {
    if (reason != nullptr && reason_size != 0) std::snprintf(reason, reason_size, "available (worker threads)");
    return 0;
}

int thread_pool_create(const backend_config &config, std::unique_ptr<backend> *out) {
    uint32_t threads = config.threads != 0 ? config.threads : default_threads;
    threads = std::min(threads, config.max_reqs);
    auto be = std::unique_ptr<thread_pool_backend>(new (std::nothrow) thread_pool_backend(threads, config.max_reqs));
    if (!be) return FILEAIO_E_NO_MEMORY;
    if (int rc = be->start(); rc != 0) return rc;
    *out = std::move(be);
    return 0;
}

int thread_pool_limits(fileaio_limits *limits) {
    limits->max_outstanding = FILEAIO_UNLIMITED_REQS;
    limits->buffer_alignment = 0;
    return 0;
}

}  // namespace fileaio::detail
