// A completion queue for backends that finish requests on their own threads (thread_pool,
// posix_aio): an intrusive FIFO of finished requests (linked through request::next, so nothing
// is allocated), one blocked reaper at most, and a sticky kick so that a wakeup is never lost.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "backends/backend.hpp"
#include "core/request.hpp"

namespace fileaio::detail {

class completion_queue {
public:
    // Appends first..last (linked through next, `count` of them). Wakes the reaper only when it
    // now has what it waits for, so a reaper of N sleeps through N-1 completions.
    void push(request *first, request *last, size_t count) {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            last->next = nullptr;
            if (tail_ != nullptr) {
                tail_->next = first;
            } else {
                head_ = first;
            }
            tail_ = last;
            size_ += count;
            wake = sleeping_ && size_ >= want_;
        }
        if (wake) cv_.notify_one();
    }

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
        return size_;
    }

    // See backend::reap. A kick is used up by the first pop that could have blocked (one whose
    // deadline had not passed); a polling pop leaves it for the next.
    size_t pop(request **out, size_t cap, size_t want, const deadline &dl) {
        std::unique_lock lock(mutex_);
        const bool may_block = dl.forever || clock::now() < dl.at;
        if (size_ < want && !kicked_ && may_block) {
            sleeping_ = true;
            want_ = want;
            auto ready = [&] { return size_ >= want_ || kicked_; };
            if (dl.forever) {
                cv_.wait(lock, ready);
            } else {
                cv_.wait_until(lock, dl.at, ready);
            }
            sleeping_ = false;
        }
        if (may_block) kicked_ = false;
        size_t n = 0;
        while (n < cap && head_ != nullptr) {
            out[n++] = head_;
            head_ = head_->next;
        }
        if (head_ == nullptr) tail_ = nullptr;
        size_ -= n;
        return n;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    request *head_ = nullptr;
    request *tail_ = nullptr;
    size_t size_ = 0;
    size_t want_ = 1;
    bool sleeping_ = false;
    bool kicked_ = false;
};

}  // namespace fileaio::detail
