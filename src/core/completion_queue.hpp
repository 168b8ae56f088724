// A completion queue for backends that finish requests on their own threads (thread_pool,
// posix_aio): an intrusive FIFO of finished requests (linked through request::next, so nothing
// is allocated), one blocked reaper at most, and a sticky kick so that a wakeup is never lost.
// Once given an event loop's eventfd (notify_through), a push onto an empty queue writes it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "backends/backend.hpp"
#include "core/eventfd.hpp"
#include "core/request.hpp"
#include "core/request_list.hpp"

namespace fileaio::detail {

class completion_queue {
public:
    // Appends first..last (linked through next, `count` of them). Wakes the reaper only when it
    // now has what it waits for, so a reaper of N sleeps through N-1 completions.
    void push(request *first, request *last, size_t count) {
        bool wake = false;
        bool was_empty = false;
        {
            std::lock_guard lock(mutex_);
            was_empty = done_.empty();
            done_.append(first, last, count);
            wake = sleeping_ && done_.count >= want_;
        }
        if (wake) cv_.notify_one();
        // Onto an empty queue only: the core re-arms the descriptor after every wait (clears it,
        // then looks at size()), so a queue it saw empty is the only news an event loop lacks.
        if (was_empty) {
            if (const int efd = notify_fd_.load(std::memory_order_acquire); efd >= 0) eventfd_signal(efd);
        }
    }

    // From now on, a push onto an empty queue writes efd (see backend::notify_through).
    void notify_through(int efd) { notify_fd_.store(efd, std::memory_order_release); }

    void push(request *r) { push(r, r, 1); }

    // Ends the current (or next) pop promptly.
    void kick() {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            kicked_ = true;
            wake = sleeping_;
        }
        if (wake) cv_.notify_one();
    }

    // Finished requests not popped yet.
    size_t size() {
        std::lock_guard lock(mutex_);
        return done_.count;
    }

    // See backend::reap. A kick is used up by the first pop that could have blocked (one whose
    // deadline had not passed); a polling pop leaves it for the next.
    size_t pop(request **out, size_t cap, size_t want, const deadline &dl) {
        std::unique_lock lock(mutex_);
        const bool may_block = dl.forever || clock::now() < dl.at;
        if (done_.count < want && !kicked_ && may_block) {
            sleeping_ = true;
            want_ = want;
            auto ready = [&] { return done_.count >= want_ || kicked_; };
            if (dl.forever) {
                cv_.wait(lock, ready);
            } else {
                cv_.wait_until(lock, dl.at, ready);
            }
            sleeping_ = false;
        }
        if (may_block) kicked_ = false;
        size_t n = 0;
        while (n < cap && !done_.empty()) out[n++] = done_.pop_front();
        return n;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    request_chain done_;
    size_t want_ = 1;
    bool sleeping_ = false;
    bool kicked_ = false;
    std::atomic<int> notify_fd_{-1};
};

}  // namespace fileaio::detail
