// The worker pool of thread_pool and linux_aio (see worker_pool.hpp).
#include "core/worker_pool.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <chrono>

#include "core/quiet_thread.hpp"
#include "core/sync_io.hpp"

namespace fileaio::detail {
namespace {

// A batch with at least this many cached-read candidates wakes an idle worker to share them.
// Shared requests are taken this many at a time: small enough to balance two threads, large
// enough that the lock is not taken per request.
constexpr size_t share_chunk = 4;
// A worker beyond `threads` (started while others ran stream requests) exits after this long
// without work.
constexpr auto surplus_idle = std::chrono::seconds(1);

}  // namespace

int worker_pool::start() {
    {
        std::unique_lock lock(mutex_);
        if (!spawn_one(lock)) return FILEAIO_E_INSUFFICIENT_RESOURCES;
    }
    return start_quiet_thread([&] { staffer_ = std::thread([this] { staffer_main(); }); });
}

void worker_pool::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    staff_cv_.notify_all();
    // Only the staffer starts workers (and start(), before it); once it is gone, workers_ no
    // longer changes.
    if (staffer_.joinable()) staffer_.join();
    for (auto &w : workers_)
        if (w.thread.joinable()) w.thread.join();
    workers_.clear();
}

void worker_pool::enqueue(request *const *reqs, size_t n) {
    size_t woken = 0;
    {
        std::lock_guard lock(mutex_);
        size_t queued = 0;
        for (size_t i = 0; i < n; ++i) queued += queue_locked(reqs[i]);
        woken = staff_locked(queued);
    }
    wake(woken);
}

size_t worker_pool::queue_locked(request *r) {
    r->stage.store(stages_.queued, std::memory_order_release);
    pool_entry &e = entry(r);
    e.lane = 0;
    e.lane_head = false;
    if (e.serial) {
        size_t free_slot = max_lanes;
        bool has_lane = false;
        for (size_t i = 0; i < max_lanes; ++i) {
            lane &l = lanes_[i];
            if (l.fd == r->fd) {
                has_lane = true;
                if (may_join_locked(l)) {
                    l.backlog.push_back(r);  // its worker runs it: nobody to wake
                    e.lane = static_cast<uint8_t>(i + 1);
                    return 0;
                }
                break;  // other work waits in the FIFO: this write queues behind it, outside the lane
            }
            if (l.fd < 0 && free_slot == max_lanes) free_slot = i;
        }
        if (!has_lane && free_slot != max_lanes) {
            lanes_[free_slot].fd = r->fd;
            e.lane = static_cast<uint8_t>(free_slot + 1);
            e.lane_head = true;
        }
    }
    queue_.push_back(r);
    return 1;
}

// A write may join lane l's backlog only while the FIFO holds nothing but l's own head: a lane
// that kept taking writes while anything else waited for a worker could hold that back for as
// long as the writes kept coming (with threads = 1, or every worker busy).
bool worker_pool::may_join_locked(const lane &l) const {
    if (queue_.empty()) return true;
    if (queue_.head != queue_.tail) return false;
    const pool_entry &e = entry(queue_.head);
    return e.lane_head && &lanes_[e.lane - 1] == &l;
}

void worker_pool::remove_queued_locked(request *r) {
    pool_entry &e = entry(r);
    if (e.lane == 0) {
        queue_.remove(r);
        return;
    }
    lane &l = lanes_[e.lane - 1];
    e.lane = 0;
    if (!e.lane_head) {
        l.backlog.remove(r);
        return;
    }
    // A head not yet taken: the next write of its backlog takes its place in the FIFO (and so
    // stays ahead of whatever was queued after the head), or the lane ends.
    e.lane_head = false;
    if (request *next = l.backlog.pop_front()) {
        entry(next).lane_head = true;
        queue_.replace(r, next);
    } else {
        queue_.remove(r);
        l.fd = -1;
    }
}

// For n newly queued requests: returns how many idle workers to wake, and asks the staffer for more
// workers for the work that idle ones cannot take: up to `threads` counted workers, where a worker
// that runs a request on a descriptor that may wait indefinitely does not count (so such requests
// can never hold every thread while the request that would end their wait is queued); never more
// than max_total threads in all. A notified worker still counts as idle until it runs: counting it
// twice would leave new work without a thread.
size_t worker_pool::staff_locked(size_t n) {
    if (n == 0) return 0;
    const size_t woken = std::min(n, idle_unclaimed_locked());
    notified_ += woken;
    if (const size_t extra = n - woken; extra != 0) {
        const size_t room = room_locked();
        if (spawn_wanted_ < room) {
            spawn_wanted_ = std::min(room, spawn_wanted_ + extra);
            staff_cv_.notify_one();
        }
    }
    return woken;
}

// Workers that may still be started: up to `threads` that count, max_total in all.
size_t worker_pool::room_locked() const {
    const size_t counted = live_ - unbounded_running_;
    if (counted >= max_threads_ || live_ >= max_total_) return 0;
    return std::min<size_t>(max_threads_ - counted, max_total_ - live_);
}

void worker_pool::share(request *const *reqs, size_t n, uint64_t batch) {
    bool woken = false;
    {
        std::lock_guard lock(mutex_);
        for (size_t i = 0; i < n; ++i) {
            entry(reqs[i]).batch = batch;
            reqs[i]->stage.store(stages_.shared, std::memory_order_release);
            shared_.push_back(reqs[i]);
        }
        shared_size_ += n;
        shared_pending_.store(true, std::memory_order_relaxed);
        woken = idle_unclaimed_locked() != 0 && shared_size_ >= share_min_batch;
        if (woken) ++notified_;
    }
    if (woken) work_cv_.notify_one();
}

void worker_pool::remove_shared_locked(request *r) {
    shared_.remove(r);
    --shared_size_;
    if (shared_.empty()) shared_pending_.store(false, std::memory_order_relaxed);
}

// A worker's: serves one chunk of the shared list, whoever shared it (the lock is held on entry
// and on exit).
void worker_pool::serve_shared(std::unique_lock<std::mutex> &lock) {
    request_chain taken;
    while (taken.count < share_chunk && !shared_.empty()) {
        request *r = shared_.pop_front();
        r->stage.store(stages_.serving, std::memory_order_release);
        taken.append(r);
    }
    serve(lock, taken);
}

// The submitter's: serves, a chunk at a time, the candidates of its own call that no worker has
// taken. It looks only at the shared list, which holds requests still in flight (a request of
// this call that a worker finished may have been handed back and destroyed already).
void worker_pool::serve_own(uint64_t batch) {
    std::unique_lock lock(mutex_);
    for (;;) {
        request_chain taken;
        for (request *r = shared_.head; r != nullptr && taken.count < share_chunk;) {
            request *after = links::next(r);
            if (entry(r).batch == batch) {
                shared_.remove(r);
                r->stage.store(stages_.serving, std::memory_order_release);
                taken.append(r);
            }
            r = after;
        }
        if (taken.count == 0) return;
        serve(lock, taken);
    }
}

// Runs the cached reads `taken` off the shared list with RWF_NOWAIT, without the lock (held on
// entry and on exit, released in between). What would block is queued.
void worker_pool::serve(std::unique_lock<std::mutex> &lock, request_chain &taken) {
    shared_size_ -= taken.count;
    if (shared_.empty()) shared_pending_.store(false, std::memory_order_relaxed);
    lock.unlock();
    request_chain done;
    request_chain blocked;
    try_each(taken, &done, &blocked);
    lock.lock();
    settle_served_locked(lock, done, blocked);
}

void worker_pool::serve_candidates(request *const *reqs, size_t n, uint64_t batch) {
    if (n >= share_min_batch) {
        share(reqs, n, batch);
        serve_own(batch);
        return;
    }
    // Stage `serving` before the first try: a cancel then answers that it runs.
    request_chain taken;
    for (size_t i = 0; i < n; ++i) {
        reqs[i]->stage.store(stages_.serving, std::memory_order_release);
        taken.append(reqs[i]);
    }
    request_chain done;
    request_chain blocked;
    try_each(taken, &done, &blocked);
    std::unique_lock lock(mutex_);
    settle_served_locked(lock, done, blocked);
}

// Tries each of `taken` with RWF_NOWAIT, without the lock: whole ones to *done, the rest to *blocked.
void worker_pool::try_each(request_chain &taken, request_chain *done, request_chain *blocked) {
    for (request *r = taken.head; r != nullptr;) {
        request *next = r->next;
        if (run_io(r, RWF_NOWAIT)) {
            done->append(r);
        } else {
            blocked->append(r);
        }
        r = next;
    }
}

// What serving found: misses to the queue (staffed), hits to the backend (the lock is held on entry
// and on exit).
void worker_pool::settle_served_locked(std::unique_lock<std::mutex> &lock, request_chain &done, request_chain &blocked) {
    for (request *r = blocked.head; r != nullptr;) {
        request *next = r->next;
        // A read that would block on a descriptor that cannot seek (a pipe, FIFO, socket, tty:
        // ESPIPE) may wait for another request.
        entry(r).unbounded = r->at_stream;
        queue_locked(r);
        r = next;
    }
    // Misses run in parallel on as many workers as there are misses (up to `threads`).
    const size_t woken = staff_locked(blocked.count);
    if (!done.empty() && client_.served_locked(done)) {
        lock.unlock();
        wake(woken);
        client_.after_finish();
        lock.lock();
    } else {
        wake(woken);
    }
}

// Starts a worker with every signal blocked (the caller's signals stay the caller's). The lock is
// held on entry and on exit, and released while the system creates the thread. Only start() and
// the staffer call it, so workers_ changes nowhere else meanwhile.
bool worker_pool::spawn_one(std::unique_lock<std::mutex> &lock) {
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

// The staffer: starts the workers staff_locked asks for and joins the ones that retired, so that
// no submit ever waits for the system to create or reap a thread.
void worker_pool::staffer_main() {
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

void worker_pool::worker(worker_slot &self) {
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
                // Joined by the staffer (or stop): after this unlock, the worker touches nothing
                // of the pool.
                self.retired = true;
                ++retired_;
                --live_;
                staff_cv_.notify_one();
                return;
            }
        }
        if (!shared_.empty()) {
            while (!shared_.empty()) serve_shared(lock);
            continue;
        }
        if (queue_.empty()) return;  // stopping
        request *r = queue_.pop_front();
        if (entry(r).lane_head) {
            run_lane(lock, lanes_[entry(r).lane - 1], r);
            continue;
        }
        r->stage.store(stages_.running, std::memory_order_release);
        const bool unbounded = entry(r).unbounded;
        if (unbounded) {
            // This worker stops counting toward `threads` while it runs r: what is queued behind
            // r gets a worker of its own.
            ++unbounded_running_;
            wake(staff_locked(queue_.empty() ? 0 : 1));  // one slot freed
        }
        client_.starting_locked(r, lock);
        lock.unlock();
        client_.run(r);
        lock.lock();
        if (unbounded) --unbounded_running_;
        const size_t woken = staff_locked(client_.finished_locked(&r, 1));
        lock.unlock();
        wake(woken);
        client_.after_finish();
        lock.lock();
    }
}

// A worker's: runs lane l from its head, then its backlog, lane_chunk writes at a time (finished
// under one lock), until the backlog is empty; then the lane ends. The lock is held on entry and
// on exit. Lane writes are on regular files: never unbounded.
void worker_pool::run_lane(std::unique_lock<std::mutex> &lock, lane &l, request *head) {
    request *run[lane_chunk];
    size_t n = 0;
    run[n++] = head;
    for (;;) {
        while (n < lane_chunk && !l.backlog.empty()) run[n++] = l.backlog.pop_front();
        if (n == 0) {
            l.fd = -1;
            return;
        }
        for (size_t i = 0; i < n; ++i) {
            entry(run[i]).lane = 0;
            entry(run[i]).lane_head = false;
            run[i]->stage.store(stages_.running, std::memory_order_release);
            client_.starting_locked(run[i], lock);
        }
        lock.unlock();
        for (size_t i = 0; i < n; ++i) client_.run(run[i]);
        lock.lock();
        const size_t woken = staff_locked(client_.finished_locked(run, n));
        n = 0;
        if (l.backlog.empty()) l.fd = -1;  // ended: a write from now on starts a lane of its own
        const bool ended = l.fd < 0;
        lock.unlock();
        wake(woken);
        client_.after_finish();
        lock.lock();
        if (ended) return;
    }
}

}  // namespace fileaio::detail
