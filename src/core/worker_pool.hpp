// The pool of worker threads of the thread_pool and linux_aio backends: what runs the requests
// that may block (buffered I/O, pipes, sockets, flushes), and cached reads served with
// preadv2(RWF_NOWAIT) by the submitting thread and a worker at once.
//
// The queue is a FIFO served by workers that the pool starts on demand, up to `threads` workers
// that count. A worker that runs a request that may wait indefinitely (entry.unbounded: a pipe,
// FIFO, socket or character device) does not count while it does: such a request may wait for
// another request of the same context (24 reads of empty pipes, then the 24 writes that fill
// them), which must still get a worker. The pool then grows past `threads`, never past max_total
// (max_reqs). The workers beyond `threads` exit once they have found no work for a second (not at
// once: a steady stream workload would then start a thread per request), so after a burst the
// pool shrinks back to `threads`.
//
// Cached-read candidates (share) go to the shared list, tagged with the batch number of the submit
// call that put them there. That call then serves its own candidates (serve_own) and nothing else,
// a chunk at a time; an idle worker, woken for a batch of 8 or more, serves the shared list too,
// whoever put it there: two cores copy at once and neither waits for the other. A hit completes
// without a thread switch; what would block is queued like any other request.
//
// Lanes: buffered writes to a regular file (entry.serial, set by the backend) run one worker at a
// time per descriptor. Linux takes the inode lock exclusively for every buffered write (ext4, xfs,
// btrfs, tmpfs, FUSE), so N workers writing one file add only lock hand-offs and thread switches,
// and ext4 refuses buffered RWF_NOWAIT writes (EOPNOTSUPP), so they cannot be tried in the
// submitting thread as cached reads are. The first such write to an fd queues in the FIFO as its
// lane's head; the ones after it join the lane's backlog, with no wakeup, while the FIFO holds
// nothing but that head (so a lane never holds back what is queued for others: once anything else
// waits, further writes queue in the FIFO like any request). The worker that takes the head runs
// the backlog after it, a chunk at a time, finishing each chunk under one lock, until it is empty:
// in a steady stream one worker writes without ever sleeping, and a submit hands it writes for
// the cost of a list append. A backlog request is `queued` (cancel takes it off the lane);
// cancelling a head puts the next write of its backlog in its place in the FIFO. The fd number
// keys a lane only while requests are on it (numbers are reused: at worst two files share a lane).
//
// Short calls (an event loop's thread submits): nothing a submit calls here starts or joins a
// thread. The staffer, a thread of the pool's own, sleeps until work is queued that no idle worker
// can take, then starts workers (without holding the lock while the system creates them), and
// joins the ones that retired. Until it has, the workers that exist take the work in turn.
//
// The backend keeps its own parts and gives them through pool_client: how a request runs, what a
// worker does before it runs one (thread_pool's flush barrier waits there), and where finished
// requests go (a completion queue, linux_aio's done_, and what a finished write releases). The
// backend's mutex guards the pool too, so that its hooks see the pool and the backend's own state
// under one lock. The stage values the pool stores are the backend's (pool_stages); cancel is the
// backend's, through remove_queued_locked and remove_shared_locked.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <new>
#include <thread>

#include "core/request.hpp"
#include "core/request_list.hpp"

namespace fileaio::detail {

// What the pool keeps per request, at the start of request::scratch (a backend's own scratch
// begins with one: see worker_pool::entry). Its links are the pool's own, so a request may be on
// one of the backend's lists (request::next/prev) while it is queued here.
struct pool_entry {
    request *next;
    request *prev;
    uint64_t batch;  // the submit call that shared it (serve_own)
    bool unbounded;  // on a descriptor that may wait indefinitely: the worker running it does not count
    bool serial;     // a buffered write to a regular file: it runs on its fd's lane (set by the backend)
    bool lane_head;  // in the FIFO for its lane: the worker that takes it runs the lane
    uint8_t lane;    // 1 + the index of its lane (0: none)
};

// The values of request::stage the pool stores, in the backend's numbering.
struct pool_stages {
    uint32_t queued;   // in the FIFO
    uint32_t shared;   // on the shared list
    uint32_t serving;  // taken off the shared list, being tried with RWF_NOWAIT
    uint32_t running;  // a worker runs it
};

// What the backend does for the pool. Called with the backend's mutex held unless said otherwise.
class pool_client {
public:
    // Runs what is left of r, blocking as long as it takes (lock not held).
    virtual void run(request *r) = 0;
    // r was taken off the queue by a worker, which runs it next. May wait on `lock`.
    virtual void starting_locked(request *r, std::unique_lock<std::mutex> &lock) = 0;
    // A worker ran rs[0..n) (a lane runs several, finished under one lock: one wakeup for the
    // lot). Returns how many requests this queued (queue_locked) in turn.
    virtual size_t finished_locked(request *const *rs, size_t n) = 0;
    // Cached reads that were served whole (linked through request::next). Returns whether
    // after_finish is wanted (else the pool keeps the lock, as a submit serves chunk after chunk).
    virtual bool served_locked(request_chain &hits) = 0;
    // After finished_locked, or a served_locked that asked for it, once the lock is released
    // (lock not held).
    virtual void after_finish() = 0;

protected:
    ~pool_client() = default;
};

class worker_pool {
public:
    // max_threads: workers that count; max_total: workers in all. `mutex` is the backend's.
    worker_pool(std::mutex &mutex, pool_client &client, pool_stages stages, uint32_t max_threads,
                uint32_t max_total)
        : mutex_(mutex), client_(client), stages_(stages), max_threads_(max_threads), max_total_(max_total) {}
    worker_pool(const worker_pool &) = delete;
    worker_pool &operator=(const worker_pool &) = delete;
    ~worker_pool() { stop(); }

    // Starts the first worker, so that queued work always has someone to run it, and the staffer.
    // 0 or E_INSUFFICIENT_RESOURCES / E_NO_MEMORY.
    int start();
    // Stops and joins every thread of the pool; the workers finish what is queued first.
    void stop();

    static pool_entry &entry(request *r) { return *std::launder(reinterpret_cast<pool_entry *>(r->scratch)); }

    // A number for one submit call's candidates.
    uint64_t new_batch() { return next_batch_.fetch_add(1, std::memory_order_relaxed); }
    // Puts cached-read candidates of `batch` on the shared list; wakes an idle worker to help when
    // there is enough to share (below that, the wakeup costs more than it saves).
    void share(request *const *reqs, size_t n, uint64_t batch);
    // Whether the shared list may hold anything (read without the lock).
    bool shared_pending() const { return shared_pending_.load(std::memory_order_relaxed); }
    // Serves the candidates of `batch` that no worker has taken — never another call's.
    void serve_own(uint64_t batch);
    // A submit's cached-read candidates: fewer than would wake a worker to help are served right
    // here, off every list (one lock for the lot); more are shared and served with serve_own.
    void serve_candidates(request *const *reqs, size_t n, uint64_t batch);
    static constexpr size_t share_min_batch = 8;  // a batch that wakes an idle worker to help

    // Queues requests (their entry().unbounded and .serial set) and staffs them.
    void enqueue(request *const *reqs, size_t n);
    // The same under the lock, in two steps: queue each, then staff_locked for the sum of what
    // queue_locked returned (1, or 0 for a write that joined a lane's backlog), and wake() what it
    // returns once the lock is released.
    size_t queue_locked(request *r);
    size_t staff_locked(size_t n);
    void wake(size_t n) {
        for (size_t i = 0; i < n; ++i) work_cv_.notify_one();
    }

    // For cancel: takes r (stage queued, or shared) off its list.
    void remove_queued_locked(request *r);
    void remove_shared_locked(request *r);

    static constexpr size_t max_lanes = 4;   // fds with a lane at once (more: plain FIFO)
    static constexpr size_t lane_chunk = 16;  // lane writes run between two takings of the lock

private:
    struct links {
        static request *&next(request *r) { return entry(r).next; }
        static request *&prev(request *r) { return entry(r).prev; }
    };
    // The buffered writes to one fd, run by one worker at a time (see the top of this file).
    struct lane {
        int fd = -1;  // -1: free
        basic_request_list<links> backlog;
    };
    // A worker's thread; retired (under the lock) once the worker has exited for lack of work.
    struct worker_slot {
        std::thread thread;
        bool retired = false;
    };

    size_t idle_unclaimed_locked() const { return idle_ > notified_ ? idle_ - notified_ : 0; }
    size_t room_locked() const;
    bool surplus_locked() const { return live_ - unbounded_running_ > max_threads_; }
    void serve_shared(std::unique_lock<std::mutex> &lock);
    void serve(std::unique_lock<std::mutex> &lock, request_chain &taken);
    static void try_each(request_chain &taken, request_chain *done, request_chain *blocked);
    void settle_served_locked(std::unique_lock<std::mutex> &lock, request_chain &done, request_chain &blocked);
    bool spawn_one(std::unique_lock<std::mutex> &lock);
    void staffer_main();
    void worker(worker_slot &self);
    bool may_join_locked(const lane &l) const;
    void run_lane(std::unique_lock<std::mutex> &lock, lane &l, request *head);

    std::mutex &mutex_;  // the backend's; guards everything below
    pool_client &client_;
    const pool_stages stages_;
    const uint32_t max_threads_;  // workers that count (see staff_locked)
    const uint32_t max_total_;    // max_reqs: workers in all
    std::condition_variable work_cv_;
    std::condition_variable staff_cv_;
    basic_request_list<links> queue_;
    basic_request_list<links> shared_;  // cached-read candidates, served a chunk at a time
    size_t shared_size_ = 0;
    lane lanes_[max_lanes];
    std::atomic<bool> shared_pending_{false};  // shared_ is not empty (read without the lock)
    std::list<worker_slot> workers_;  // started, not yet joined
    size_t spawn_wanted_ = 0;         // workers staff_locked asked the staffer for
    size_t live_ = 0;                 // workers not retired
    size_t retired_ = 0;              // workers retired (exited or exiting), not yet joined
    size_t idle_ = 0;                 // workers waiting for work
    size_t notified_ = 0;             // of those, woken for work already queued but not yet running
    size_t unbounded_running_ = 0;    // workers running a request that may wait indefinitely
    bool stopping_ = false;
    std::atomic<uint64_t> next_batch_{1};
    std::thread staffer_;
};

}  // namespace fileaio::detail
