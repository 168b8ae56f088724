// The thread_pool backend.
//
// submit: a read that is not O_DIRECT (and not huge) is a cached-read candidate: it goes to the
// pool's shared list, and the submitting thread then serves its own candidates (tagged with its
// call's batch number) with preadv2(RWF_NOWAIT), a few at a time, while one idle worker (woken for
// a batch of 8 or more) serves the shared list too. A hit completes without a thread switch; a miss
// moves on to the FIFO. Everything else — O_DIRECT, writes, flushes — goes straight to the FIFO,
// served by a pool of workers that grows on demand up to `threads`. Requests on one file run in
// parallel (unlike glibc's aio), except buffered writes to a regular file (fcntl and statx, per
// fd per batch): those run on the fd's lane, one worker at a time, back to back (the kernel takes
// the inode lock for each anyway; ext4 refuses them with RWF_NOWAIT, so they cannot be tried in
// submit like reads): see core/worker_pool.hpp.
//
// The pool is core/worker_pool (shared with linux_aio's helpers): short calls (submit does the
// caller's own batch and nothing else; it never starts or joins a thread: the pool's staffer does),
// workers on a pipe, FIFO, socket or character device (statx type, per fd per batch; for a cached
// read that misses, its ESPIPE) not counting toward `threads` while they run such a request, and
// the workers beyond `threads` retiring after a second without work. Completions go to a
// completion_queue.
//
// Flush and data sync are barriers: every write is on a list from submit until it finishes (or
// is cancelled); the worker that takes a flush waits until the writes to the same fd submitted
// before it have left that list. They are all running by then, or about to: the FIFO hands out
// every request queued before a flush before the flush itself, and a write on a lane's backlog
// sits behind a head that was queued before the flush (its worker runs the backlog). A write's
// completion is pushed before it leaves the list, under the same lock, so the flush is handed
// back after it. Writes never complete inline, so they need no other tracking.
//
// A descriptor that cannot seek answers the first call of a request with ESPIPE; that request
// then works at the stream's position (offset -1), inline and on the workers alike. A cached read
// of a pipe that would block (RWF_NOWAIT: EAGAIN) moves on to the FIFO like any miss.
//
// cancel removes a request still in the FIFO or the shared list (0) if it has moved no bytes; one
// that was served in part (a cached read that then would block), runs or ran cannot be stopped.
#include "backends/thread_pool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <new>

#include "core/completion_queue.hpp"
#include "core/request_list.hpp"
#include "core/request.hpp"
#include "core/sync_io.hpp"
#include "core/worker_pool.hpp"

namespace fileaio::detail {
namespace {

constexpr uint32_t default_threads = 16;
// Larger cached reads are left to the workers, which can copy in parallel.
constexpr size_t inline_max_bytes = 256 * 1024;

// request::stage for this backend.
enum stage : uint32_t { stage_new = 0, stage_queued, stage_shared, stage_running, stage_done, stage_canceled };

// request::scratch holds the pool's entry (worker_pool::entry) and nothing else.
static_assert(sizeof(pool_entry) <= backend_scratch_size);

class thread_pool_backend final : public backend, private pool_client {
public:
    thread_pool_backend(uint32_t max_threads, uint32_t max_total)
        : pool_(mutex_, *this, pool_stages{stage_queued, stage_shared, stage_running, stage_running}, max_threads,
                max_total) {}

    ~thread_pool_backend() override { pool_.stop(); }

    int start() { return pool_.start(); }

    int submit(request *const *reqs, size_t n, size_t *accepted) override {
        // Cached-read candidates go to the pool's shared list, which this thread then serves
        // itself (its own call's, never another's), a few at a time, while an idle worker (woken
        // for a big enough batch) serves it too: two cores copy at once and neither waits for the
        // other. Everything else is queued.
        request *punt[batch_chunk];
        size_t punted = 0;
        size_t candidates = 0;  // in this call
        const uint64_t batch = pool_.new_batch();
        request *share[batch_chunk];
        size_t shared_n = 0;
        int last_fd = -1;  // of the last fcntl
        bool last_direct = true;
        int type_fd = -1;  // of the last statx
        bool type_known = false;
        unsigned mode = 0;
        for (size_t i = 0; i < n; ++i) {
            request *r = reqs[i];
            r->transferred = 0;
            r->result = 0;
            new (r->scratch) pool_entry{};
            bool candidate = false;
            bool buffered = false;
            if (!r->is_sync() && (r->is_write() || r->size <= inline_max_bytes)) {
                if (r->fd != last_fd) {
                    int fl = fcntl(r->fd, F_GETFL);
                    last_fd = r->fd;
                    last_direct = fl < 0 || (fl & O_DIRECT) != 0;
                }
                buffered = !last_direct;
                candidate = buffered && !r->is_write();
            }
            // A candidate that misses knows by then (ESPIPE: r->at_stream, set in the pool's
            // serve); the rest asks statx, once per fd per batch.
            if (!candidate) {
                if (!type_known || r->fd != type_fd) {
                    type_fd = r->fd;
                    type_known = true;
                    mode = fd_mode(r->fd);
                }
                worker_pool::entry(r).unbounded = is_stream_type(mode);
                worker_pool::entry(r).serial = buffered && S_ISREG(mode);  // a buffered write to a file
            }
            if (candidate) {
                ++candidates;
                share[shared_n++] = r;
                if (shared_n == batch_chunk) {
                    pool_.share(share, shared_n, batch);
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
        if (punted != 0) enqueue(punt, punted);
        if (shared_n != 0 && shared_n == candidates) {
            pool_.serve_candidates(share, shared_n, batch);  // all of them: a small batch is served off the list
        } else {
            if (shared_n != 0) pool_.share(share, shared_n, batch);
            if (pool_.shared_pending()) pool_.serve_own(batch);
        }
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
                pool_.remove_queued_locked(r);
                r->stage.store(stage_canceled, std::memory_order_relaxed);
                if (r->is_write()) {
                    writes_.remove(r);  // it holds no flush back any more
                    if (barrier_waiters_ != 0) barrier_cv_.notify_all();
                }
                return 0;
            case stage_shared:
                pool_.remove_shared_locked(r);
                r->stage.store(stage_canceled, std::memory_order_relaxed);
                return 0;
            case stage_done: return FILEAIO_E_COMPLETED;
            case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
            default: return FILEAIO_E_IN_PROGRESS;
        }
    }

private:
    static constexpr size_t batch_chunk = 64;

    // Queues requests in order: each gets its number in the FIFO (request::seq, for the barrier).
    void enqueue(request *const *reqs, size_t n) {
        size_t woken = 0;
        {
            std::lock_guard lock(mutex_);
            size_t queued = 0;
            for (size_t i = 0; i < n; ++i) {
                reqs[i]->seq = ++seq_;
                if (reqs[i]->is_write()) writes_.push_back(reqs[i]);
                queued += pool_.queue_locked(reqs[i]);
            }
            woken = pool_.staff_locked(queued);
        }
        pool_.wake(woken);
    }

    bool earlier_write_unfinished(const request *flush) const {
        for (const request *w = writes_.head; w != nullptr; w = w->next)
            if (w->fd == flush->fd && w->seq < flush->seq) return true;
        return false;
    }

    // --- pool_client ---

    void run(request *r) override { run_blocking(r); }

    // The FIFO hands out every request queued before a flush before the flush; the flush then
    // waits here for the writes to its fd submitted before it that still run on other workers
    // (or wait on a lane's backlog behind a head that a worker runs).
    void starting_locked(request *r, std::unique_lock<std::mutex> &lock) override {
        if (r->is_sync()) {
            ++barrier_waiters_;
            barrier_cv_.wait(lock, [&] { return !earlier_write_unfinished(r); });
            --barrier_waiters_;
        }
    }

    size_t finished_locked(request *const *rs, size_t n) override {
        bool any_write = false;
        request_chain done;
        for (size_t i = 0; i < n; ++i) {
            request *r = rs[i];
            if (r->is_write()) {
                writes_.remove(r);
                any_write = true;
            }
            r->stage.store(stage_done, std::memory_order_relaxed);
            done.append(r);
        }
        // Pushed under mutex_: a flush waiting on one of these writes is reported after it. One
        // push for the lot: the reaper is woken once.
        completions_.push(done.head, done.tail, done.count);
        if (any_write && barrier_waiters_ != 0) barrier_cv_.notify_all();
        return 0;
    }

    bool served_locked(request_chain &hits) override {
        for (request *r = hits.head; r != nullptr; r = r->next) r->stage.store(stage_done, std::memory_order_relaxed);
        completions_.push(hits.head, hits.tail, hits.count);
        return false;
    }

    void after_finish() override {}

    completion_queue completions_;
    std::mutex mutex_;  // guards the pool and everything below
    std::condition_variable barrier_cv_;
    request_list writes_;  // from submit until finished or cancelled (the flush barrier)
    size_t barrier_waiters_ = 0;
    uint64_t seq_ = 0;
    worker_pool pool_;  // last: its threads use the members above; stopped first by the destructor
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
