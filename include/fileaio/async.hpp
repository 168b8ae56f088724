// fileaio — C++20 coroutines over a context: awaitable reads, writes, vectored I/O, flush and
// data sync, a driver that resumes coroutines from completions, and a small task<T>.
//
//   fileaio::context ctx(64);
//   fileaio::io_scheduler io(ctx);                 // a pool of requests, made once
//   fileaio::task<void> copy(fileaio::io_scheduler &io, int in, int out) {
//       std::array<std::byte, 65536> buf;
//       auto [ec, n] = co_await io.read(in, 0, buf);  // fileaio::result: error_code and bytes
//       ...
//   }
//   fileaio::sync_wait(io, copy(io, in, out));     // or spawn(io, ...) and io.run() / io.poll()
//
// Design (docs/API.md, "C++: coroutines"):
// - No allocation per I/O. The awaitable lives in the coroutine frame; the fileaio request it
//   needs comes from the scheduler's pool, made when the scheduler is. When the pool is empty
//   the awaitable waits in an intrusive queue (in-flight I/O is bounded by the pool size) and is
//   submitted as soon as a request comes back. Requests awaited during one step of the driver
//   go to the context in one batch at its end; one awaited outside a step goes out at once.
// - One thread drives: run(), run_until(pred), run_one() or poll() (one non-blocking step, for
//   an event loop that watches get_fd() for POLLIN). Coroutines are resumed on that thread,
//   inside those calls. Awaiting and
//   destroying coroutine frames happen on that thread too (or while no thread drives).
//   stop() and stop tokens may be used from any thread.
// - Exactly once: an operation resumes its coroutine once, with its result, or with
//   errc::canceled when a stop request stopped it before it touched the file (a cancel that
//   comes too late leaves the real result).
// - Lifetimes: destroying a suspended coroutine destroys its awaitable, which cancels the I/O
//   and, if the cancel cannot stop it, waits on the context until it is done, so the buffer is
//   no longer used when the frame's memory goes (completions of others that this wait takes are
//   kept and resumed by the next step). The scheduler's destructor cancels everything in
//   flight and waits it out; coroutines still suspended then are never resumed.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cassert>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "fileaio/fileaio.hpp"

namespace fileaio {

class io_scheduler;

namespace detail {

// Takes `node` off a singly linked FIFO (head, tail, linked through node->*next), if it is there.
template <class T>
void unlink(T *&head, T *&tail, T *node, T *T::*next) noexcept {
    T *prev = nullptr;
    for (T *p = head; p != nullptr; prev = p, p = p->*next) {
        if (p != node) continue;
        (prev != nullptr ? prev->*next : head) = node->*next;
        if (tail == node) tail = prev;
        node->*next = nullptr;
        return;
    }
}

enum class io_kind : unsigned char { read, write, readv, writev, flush, datasync };

class io_op_base;

// One pooled request. Its user pointer is the slot, so a completion leads back here.
struct io_slot {
    fileaio_req *req = nullptr;
    io_op_base *op = nullptr;  // null once the awaitable is gone (its completion is then dropped)
    io_slot *next = nullptr;   // free list or ready list
    int forced_rc = 0;         // a submit that failed: the result to deliver instead of the request's
    bool forced = false;
    bool completed = false;  // handed back (or failed): on the ready list, no longer in the context
};

// What an awaitable is, seen from the scheduler.
class io_op_base {
public:
    io_op_base(const io_op_base &) = delete;
    io_op_base &operator=(const io_op_base &) = delete;

protected:
    friend class fileaio::io_scheduler;

    // finished: on the scheduler's list of operations to resume without a request (cancelled or
    // refused); it must leave that list if its frame goes first.
    enum class phase : unsigned char { idle, queued, batched, in_flight, finished, done };

    io_op_base(io_scheduler &s, io_kind k, int fd, int64_t offset, void *buf, std::size_t size,
               const struct iovec *iov, int iovcnt, std::stop_token st) noexcept
        : sched_(&s), kind_(k), fd_(fd), offset_(offset), buf_(buf), size_(size), iov_(iov), iovcnt_(iovcnt),
          stop_(std::move(st)) {}
    ~io_op_base();

    bool ready() noexcept;
    bool suspend(std::coroutine_handle<> h) noexcept;
    fileaio::result resume_value() const noexcept { return result_; }

    struct canceller {
        io_op_base *op;
        void operator()() const noexcept;
    };

    io_scheduler *sched_;
    io_kind kind_;
    phase phase_ = phase::idle;
    int fd_;
    int64_t offset_;
    void *buf_;
    std::size_t size_;
    const struct iovec *iov_;
    int iovcnt_;
    std::stop_token stop_;
    std::optional<std::stop_callback<canceller>> on_stop_;
    std::coroutine_handle<> waiter_;
    io_slot *slot_ = nullptr;
    io_op_base *prev_ = nullptr, *next_ = nullptr;  // the queue for a free slot
    io_op_base *cancel_next_ = nullptr;             // the list of stop requests (under the mutex)
    bool cancel_listed_ = false;                    // under the mutex
    fileaio::result result_{};
};

}  // namespace detail

// An awaitable I/O operation: co_await gives a fileaio::result {error, transferred}.
// Made by io_scheduler::read and friends; await it at once (it refers to the buffer given).
class [[nodiscard]] io_op : private detail::io_op_base {
public:
    bool await_ready() noexcept { return ready(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept { return suspend(h); }
    fileaio::result await_resume() const noexcept { return resume_value(); }

private:
    friend class io_scheduler;
    using io_op_base::io_op_base;
};

class io_scheduler {
public:
    // A driver for ctx with a pool of `max_in_flight` requests (0: the context's max_requests(),
    // at most 1024; never more than max_requests()). Throws std::system_error if the requests cannot be made; create() does not.
    explicit io_scheduler(context &ctx, std::size_t max_in_flight = 0) : ctx_(&ctx) {
        if (std::error_code ec = init(max_in_flight); ec) throw std::system_error(ec, "fileaio::io_scheduler");
    }
    io_scheduler(const io_scheduler &) = delete;
    io_scheduler &operator=(const io_scheduler &) = delete;
    // Cancels what is in flight, waits it out, frees the pool. Coroutines still suspended on
    // it are never resumed (destroy them first; destroying them later is safe and does nothing).
    ~io_scheduler() { shutdown(); }

    context &get_context() const noexcept { return *ctx_; }
    std::size_t capacity() const noexcept { return slots_.size(); }
    // Operations started and not yet resumed (queued for a request, batched, in flight, ready).
    std::size_t outstanding() const noexcept { return outstanding_; }

    // ---- the operations (the buffers and iovec arrays must stay valid until resumed) ----
    io_op read(int fd, int64_t offset, std::span<std::byte> buf, std::stop_token st = {}) noexcept {
        return io_op(*this, detail::io_kind::read, fd, offset, buf.data(), buf.size(), nullptr, 0, std::move(st));
    }
    io_op write(int fd, int64_t offset, std::span<const std::byte> buf, std::stop_token st = {}) noexcept {
        return io_op(*this, detail::io_kind::write, fd, offset, const_cast<std::byte *>(buf.data()), buf.size(),
                     nullptr, 0, std::move(st));
    }
    io_op readv(int fd, int64_t offset, std::span<const struct iovec> iov, std::stop_token st = {}) noexcept {
        return io_op(*this, detail::io_kind::readv, fd, offset, nullptr, 0, iov.data(), iov_count(iov), std::move(st));
    }
    io_op writev(int fd, int64_t offset, std::span<const struct iovec> iov, std::stop_token st = {}) noexcept {
        return io_op(*this, detail::io_kind::writev, fd, offset, nullptr, 0, iov.data(), iov_count(iov),
                     std::move(st));
    }
    io_op flush(int fd, std::stop_token st = {}) noexcept {
        return io_op(*this, detail::io_kind::flush, fd, 0, nullptr, 0, nullptr, 0, std::move(st));
    }
    io_op datasync(int fd, std::stop_token st = {}) noexcept {
        return io_op(*this, detail::io_kind::datasync, fd, 0, nullptr, 0, nullptr, 0, std::move(st));
    }

    // ---- driving ----

    // One non-blocking step, for an event loop: submits what was awaited, takes the completions
    // that are there and resumes their coroutines. Returns how many it resumed.
    std::size_t poll() noexcept { return step(0); }

    // Blocks until at least one coroutine was resumed, the timeout, stop(), or nothing is
    // outstanding. Returns how many it resumed.
    std::size_t run_one(std::chrono::milliseconds timeout = forever) noexcept {
        const auto deadline = timeout == forever ? std::chrono::steady_clock::time_point::max()
                                                 : std::chrono::steady_clock::now() + timeout;
        for (;;) {
            std::size_t n = step(remaining(deadline));
            if (n != 0 || stopped() || outstanding_ == 0) return n;
            if (deadline != std::chrono::steady_clock::time_point::max() && std::chrono::steady_clock::now() >= deadline)
                return 0;
        }
    }

    // Runs until nothing is outstanding or stop() is called. Returns how many it resumed.
    std::size_t run() noexcept {
        return run_until([] { return false; });
    }

    // Runs until pred() holds (checked after every step), nothing is outstanding, or stop().
    template <class Pred>
    std::size_t run_until(Pred &&pred) {
        std::size_t total = 0;
        while (!pred()) {
            if (stopped() || (outstanding_ == 0)) break;
            total += step(FILEAIO_WAIT_FOREVER);
        }
        return total;
    }

    // Any thread: makes run/run_until/run_one return soon; restart() undoes it.
    void stop() noexcept {
        stop_.store(true, std::memory_order_release);
        fileaio_ctx_wakeup(ctx_->native_handle());
    }
    bool stopped() const noexcept { return stop_.load(std::memory_order_acquire); }
    void restart() noexcept { stop_.store(false, std::memory_order_release); }

    // The context's pollable descriptor (context::get_fd): an event loop watches it for POLLIN
    // and calls poll() when it is readable. Stop requests and stop() make it readable too.
    std::error_code get_fd(int &fd) noexcept { return ctx_->get_fd(fd); }

    // Sends what was awaited since the last step to the context now (steps do it themselves).
    void flush() noexcept { flush_batch(); }

private:
    friend class detail::io_op_base;
    using io_op_base = detail::io_op_base;
    using io_slot = detail::io_slot;

    static int iov_count(std::span<const struct iovec> iov) noexcept {
        return iov.size() > static_cast<std::size_t>(INT32_MAX) ? -1 : static_cast<int>(iov.size());
    }

    static uint32_t remaining(std::chrono::steady_clock::time_point deadline) noexcept {
        if (deadline == std::chrono::steady_clock::time_point::max()) return FILEAIO_WAIT_FOREVER;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return 0;
        if (left.count() >= static_cast<int64_t>(FILEAIO_WAIT_FOREVER)) return FILEAIO_WAIT_FOREVER - 1;
        return static_cast<uint32_t>(left.count());
    }

    std::error_code init(std::size_t n) noexcept {
        if (n == 0) n = std::min<std::size_t>(ctx_->max_requests(), 1024);
        // More requests than the context takes would meet E_LIMIT_EXCEEDED: they queue instead.
        n = std::min<std::size_t>(n, ctx_->max_requests());
        try {
            slots_.resize(n);
            batch_.reserve(n);
            batch_slots_.reserve(n);
        } catch (...) {
            return make_error_code(errc::no_memory);
        }
        for (auto &s : slots_) {
            if (int rc = fileaio_req_create(&s.req); rc != 0) {
                // The constructor throws and no destructor runs: free the ones made so far.
                for (auto &made : slots_) fileaio_req_destroy(made.req);
                slots_.clear();
                free_ = nullptr;
                return to_error_code(rc);
            }
            s.next = free_;
            free_ = &s;
        }
        return {};
    }

    bool owns(const void *p) const noexcept {
        auto *s = static_cast<const io_slot *>(p);
        return !slots_.empty() && s >= slots_.data() && s < slots_.data() + slots_.size();
    }

    // ---- the awaitables' side ----

    // Gives op a request and prepares it; queued when none is free. False: op is finished
    // (prepare refused the arguments) and its coroutine goes on at once.
    bool start(io_op_base *op) noexcept {
        ++outstanding_;
        if (free_ == nullptr) {
            op->phase_ = io_op_base::phase::queued;
            op->prev_ = queue_tail_;
            op->next_ = nullptr;
            (queue_tail_ != nullptr ? queue_tail_->next_ : queue_head_) = op;
            queue_tail_ = op;
            return true;
        }
        if (prepare(op, take_slot())) return true;
        op->phase_ = io_op_base::phase::done;
        --outstanding_;
        return false;
    }

    io_slot *take_slot() noexcept {
        io_slot *s = free_;
        free_ = s->next;
        s->next = nullptr;
        s->forced = false;
        s->completed = false;
        return s;
    }

    void give_slot(io_slot *s) noexcept {
        s->op = nullptr;
        s->next = free_;
        free_ = s;
    }

    bool prepare(io_op_base *op, io_slot *s) noexcept {
        int rc = 0;
        fileaio_req *r = s->req;
        switch (op->kind_) {
            case detail::io_kind::read: rc = fileaio_req_prepare_read(r, op->fd_, op->offset_, op->buf_, op->size_, s); break;
            case detail::io_kind::write: rc = fileaio_req_prepare_write(r, op->fd_, op->offset_, op->buf_, op->size_, s); break;
            case detail::io_kind::readv: rc = fileaio_req_prepare_readv(r, op->fd_, op->offset_, op->iov_, op->iovcnt_, s); break;
            case detail::io_kind::writev: rc = fileaio_req_prepare_writev(r, op->fd_, op->offset_, op->iov_, op->iovcnt_, s); break;
            case detail::io_kind::flush: rc = fileaio_req_prepare_flush(r, op->fd_, s); break;
            case detail::io_kind::datasync: rc = fileaio_req_prepare_datasync(r, op->fd_, s); break;
        }
        if (rc != 0) {
            give_slot(s);
            op->result_ = {to_error_code(rc), 0};
            return false;
        }
        s->op = op;
        op->slot_ = s;
        op->phase_ = io_op_base::phase::batched;
        batch_.push_back(s->req);  // reserved for every slot: never allocates
        batch_slots_.push_back(s);
        return true;
    }

    // A request came back: the next queued operation gets it (it goes out with the next batch).
    void recycle(io_slot *s) noexcept {
        give_slot(s);
        while (queue_head_ != nullptr && free_ != nullptr) {
            io_op_base *op = unqueue(queue_head_);
            if (!prepare(op, take_slot())) resume_later(op);
        }
    }

    io_op_base *unqueue(io_op_base *op) noexcept {
        (op->prev_ != nullptr ? op->prev_->next_ : queue_head_) = op->next_;
        (op->next_ != nullptr ? op->next_->prev_ : queue_tail_) = op->prev_;
        op->prev_ = op->next_ = nullptr;
        return op;
    }

    // An operation that finished without a request (refused or cancelled before it was sent)
    // resumes through a slot-less entry on the ready list: it is put on its own list.
    void resume_later(io_op_base *op) noexcept {
        op->phase_ = io_op_base::phase::finished;
        op->next_ = nullptr;
        (finished_tail_ != nullptr ? finished_tail_->next_ : finished_head_) = op;
        finished_tail_ = op;
    }

    void remove_from_batch(io_slot *s) noexcept {
        for (std::size_t i = 0; i < batch_slots_.size(); ++i)
            if (batch_slots_[i] == s) {
                batch_slots_.erase(batch_slots_.begin() + static_cast<std::ptrdiff_t>(i));
                batch_.erase(batch_.begin() + static_cast<std::ptrdiff_t>(i));
                return;
            }
    }

    void flush_batch() noexcept {
        std::size_t done = 0;
        while (done < batch_.size()) {
            std::size_t submitted = 0;
            int rc = fileaio_ctx_submit(ctx_->native_handle(), batch_.data() + done, batch_.size() - done, &submitted);
            for (std::size_t i = done; i < done + submitted; ++i) batch_slots_[i]->op->phase_ = io_op_base::phase::in_flight;
            in_flight_ += submitted;
            done += submitted;
            if (rc != 0 && done < batch_.size()) {
                // The first one not submitted fails with the code (the rest are tried again).
                io_slot *s = batch_slots_[done++];
                s->op->phase_ = io_op_base::phase::in_flight;  // "completed": on the ready list
                s->forced = true;
                s->forced_rc = rc;
                mark_ready(s);
                // Nothing in the context makes the descriptor readable for it: an event loop
                // would never call poll() to resume it.
                fileaio_ctx_wakeup(ctx_->native_handle());
            }
        }
        batch_.clear();
        batch_slots_.clear();
    }

    void unready(io_slot *s) noexcept { detail::unlink(ready_head_, ready_tail_, s, &io_slot::next); }

    void mark_ready(io_slot *s) noexcept {
        s->completed = true;
        s->next = nullptr;
        (ready_tail_ != nullptr ? ready_tail_->next : ready_head_) = s;
        ready_tail_ = s;
    }

    // Takes completions from the context onto the ready list (nothing is resumed here).
    int reap(uint32_t timeout_ms) noexcept {
        std::array<fileaio_req *, 64> out;
        std::size_t count = 0;
        int rc = fileaio_ctx_wait(ctx_->native_handle(), 1, timeout_ms, out.data(), out.size(), &count);
        for (std::size_t i = 0; i < count; ++i) {
            void *u = fileaio_req_get_user(out[i]);
            if (!owns(u)) {
                report_foreign(out[i]);
                continue;
            }
            --in_flight_;
            mark_ready(static_cast<io_slot *>(u));
        }
        return rc;
    }

    static void report_foreign(fileaio_req *r) noexcept {
        // A request submitted to this context by someone else: the scheduler owns the waits of
        // its context, so nobody else would ever see this completion.
        std::fprintf(stderr, "fileaio: io_scheduler got request %p that it did not submit; dropped\n",
                     static_cast<void *>(r));
    }

    // Resumes what is ready (completions, cancellations, refusals). Returns how many.
    std::size_t dispatch() noexcept {
        std::size_t n = 0;
        for (;;) {
            if (finished_head_ != nullptr) {
                io_op_base *op = finished_head_;
                finished_head_ = op->next_;
                if (finished_head_ == nullptr) finished_tail_ = nullptr;
                op->next_ = nullptr;
                n += finish(op) ? 1 : 0;
                continue;
            }
            io_slot *s = ready_head_;
            if (s == nullptr) return n;
            ready_head_ = s->next;
            if (ready_head_ == nullptr) ready_tail_ = nullptr;
            io_op_base *op = s->op;
            if (op != nullptr) {
                if (s->forced) {
                    op->result_ = {to_error_code(s->forced_rc), 0};
                } else {
                    std::size_t moved = 0;
                    int rc = fileaio_req_get_result(s->req, &moved);
                    op->result_ = {to_error_code(rc), moved};
                }
                op->slot_ = nullptr;
            }
            recycle(s);
            if (op != nullptr && finish(op)) ++n;
        }
    }

    // Resumes op's coroutine: the stop callback goes first (its destructor waits for a callback
    // running on another thread), so nothing refers to op once it is resumed.
    bool finish(io_op_base *op) noexcept {
        // Only an operation with a stop callback can be on the list of stop requests: the others
        // skip the mutex.
        if (op->on_stop_.has_value()) {
            op->on_stop_.reset();
            unlist_cancel(op);
        }
        op->phase_ = io_op_base::phase::done;
        --outstanding_;
        if (op->waiter_) op->waiter_.resume();
        return true;
    }

    // ---- stop requests (any thread): a list under the mutex, acted on by the driver ----

    void request_cancel(io_op_base *op) noexcept {
        {
            std::lock_guard lock(cancel_mutex_);
            if (op->cancel_listed_) return;
            op->cancel_listed_ = true;
            op->cancel_next_ = cancel_head_;
            cancel_head_ = op;
            cancel_pending_.store(true, std::memory_order_release);
        }
        fileaio_ctx_wakeup(ctx_->native_handle());
    }

    void unlist_cancel(io_op_base *op) noexcept {
        std::lock_guard lock(cancel_mutex_);
        if (!op->cancel_listed_) return;
        for (io_op_base **p = &cancel_head_; *p != nullptr; p = &(*p)->cancel_next_)
            if (*p == op) {
                *p = op->cancel_next_;
                break;
            }
        op->cancel_listed_ = false;
        op->cancel_next_ = nullptr;
    }

    // Acts on the stop requests: a queued or batched operation finishes as cancelled; one in
    // flight is cancelled if the context can still stop it (else its completion comes by wait).
    void process_cancels() noexcept {
        if (!cancel_pending_.load(std::memory_order_acquire)) return;
        for (;;) {
            io_op_base *op;
            {
                std::lock_guard lock(cancel_mutex_);
                op = cancel_head_;
                if (op == nullptr) {
                    cancel_pending_.store(false, std::memory_order_release);
                    return;
                }
                cancel_head_ = op->cancel_next_;
                op->cancel_next_ = nullptr;
                op->cancel_listed_ = false;
            }
            cancel_now(op);
        }
    }

    void cancel_now(io_op_base *op) noexcept {
        using phase = io_op_base::phase;
        const auto canceled = fileaio::result{make_error_code(errc::canceled), 0};
        switch (op->phase_) {
            case phase::queued:
                unqueue(op);
                op->result_ = canceled;
                resume_later(op);
                break;
            case phase::batched:
                remove_from_batch(op->slot_);
                op->result_ = canceled;
                give_slot_and_pump(op);
                resume_later(op);
                break;
            case phase::in_flight:
                if (!op->slot_->completed && fileaio_req_cancel(op->slot_->req) == 0) {
                    // Stopped: no wait will ever return it.
                    --in_flight_;
                    op->result_ = canceled;
                    give_slot_and_pump(op);
                    resume_later(op);
                }
                break;
            case phase::finished:
            case phase::idle:
            case phase::done: break;
        }
    }

    void unfinish(io_op_base *op) noexcept { detail::unlink(finished_head_, finished_tail_, op, &io_op_base::next_); }

    void give_slot_and_pump(io_op_base *op) noexcept {
        io_slot *s = op->slot_;
        op->slot_ = nullptr;
        recycle(s);
    }

    // ---- the step ----

    std::size_t step(uint32_t timeout_ms) noexcept {
        struct in_step_guard {
            bool &flag;
            bool was;
            ~in_step_guard() { flag = was; }
        } guard{in_step_, std::exchange(in_step_, true)};
        flush_batch();
        process_cancels();
        std::size_t n = dispatch();
        if (n != 0) timeout_ms = 0;
        flush_batch();
        // A poll waits even with nothing in flight: on a context made with
        // wait_without_pending a wakeup makes the descriptor readable, and only a wait takes it.
        if (in_flight_ != 0 || timeout_ms == 0) {
            int rc = reap(timeout_ms);
            if (rc == FILEAIO_E_INTERRUPTED) process_cancels();
            n += dispatch();
            flush_batch();
        }
        return n;
    }

    // ---- an awaitable destroyed while its I/O is in flight ----

    void abandon(io_op_base *op) noexcept {
        using phase = io_op_base::phase;
        op->on_stop_.reset();
        unlist_cancel(op);
        switch (op->phase_) {
            case phase::queued: unqueue(op); break;
            case phase::finished: unfinish(op); break;  // cancelled or refused, not yet resumed
            case phase::batched:
                remove_from_batch(op->slot_);
                give_slot_and_pump(op);
                break;
            case phase::in_flight: {
                io_slot *s = op->slot_;
                s->op = nullptr;  // its completion, whenever it comes, resumes nobody
                if (!s->completed) {
                    if (fileaio_req_cancel(s->req) == 0) {
                        --in_flight_;
                        recycle(s);
                    } else {
                        // Running: the frame (and maybe the buffer) is about to go, so wait it
                        // out. Other completions taken meanwhile stay on the ready list.
                        if (detail::report_lifetimes())
                            std::fprintf(stderr, "fileaio: coroutine destroyed while request %p is in flight: waiting for it\n",
                                         static_cast<void *>(s->req));
                        const bool had_ready = ready_head_ != nullptr;
                        bool interrupted = false;
                        while (!s->completed) {
                            int rc = reap(1000);
                            if (rc == FILEAIO_E_BUSY) std::this_thread::yield();  // a driver on another thread
                            if (rc == FILEAIO_E_INTERRUPTED) interrupted = true;
                        }
                        // A wakeup this wait took was meant for the driver (a stop request, stop()):
                        // give it back, or an event loop never looks at the stop request.
                        if (interrupted) fileaio_ctx_wakeup(ctx_->native_handle());
                        // The request is free at once (a queued operation may take it); others'
                        // completions taken meanwhile wait for the next step: outside a step, wake
                        // the loop so that it comes.
                        if (!in_step_ && !had_ready && ready_head_ != nullptr && ready_head_->next != nullptr)
                            fileaio_ctx_wakeup(ctx_->native_handle());
                    }
                }
                if (s->completed) {  // handed back (now or by an earlier wait) and not yet dispatched
                    unready(s);
                    recycle(s);
                }
                break;
            }
            case phase::idle:
            case phase::done: return;
        }
        --outstanding_;
        op->phase_ = phase::done;
        // A request given back here may have gone to a queued operation: outside a step nothing
        // else would send it.
        if (!in_step_) flush_batch();
    }

    // An operation the scheduler drops at its end: never resumed, never cancelled.
    void detach(io_op_base *op) noexcept {
        op->on_stop_.reset();
        unlist_cancel(op);
        op->phase_ = io_op_base::phase::done;
        op->sched_ = nullptr;
    }

    void shutdown() noexcept {
        if (slots_.empty()) return;
        // Queued operations never start; batched ones are never sent. Each drops its stop
        // callback too: a stop request after this must not reach the scheduler (sched_ is null).
        while (queue_head_ != nullptr) detach(unqueue(queue_head_));
        for (io_slot *s : batch_slots_)
            if (s->op != nullptr) detach(s->op);
        batch_.clear();
        batch_slots_.clear();
        for (io_op_base *op = finished_head_; op != nullptr;) {
            io_op_base *next = op->next_;
            detach(op);
            op = next;
        }
        finished_head_ = finished_tail_ = nullptr;
        std::size_t abandoned = 0;
        for (auto &s : slots_) {
            if (s.op != nullptr) {
                ++abandoned;
                s.op->on_stop_.reset();
                unlist_cancel(s.op);
                s.op->phase_ = io_op_base::phase::done;
                s.op->sched_ = nullptr;
                s.op = nullptr;
            }
        }
        if (abandoned != 0 && detail::report_lifetimes())
            std::fprintf(stderr, "fileaio: io_scheduler destroyed with %zu operations outstanding: cancelling them\n",
                         abandoned);
        for (auto &s : slots_)
            if (s.req != nullptr && fileaio_req_get_state(s.req) == FILEAIO_REQ_SUBMITTED && !s.completed &&
                fileaio_req_cancel(s.req) == 0)
                --in_flight_;
        while (in_flight_ != 0) {
            int rc = reap(1000);
            if (rc == FILEAIO_E_BUSY) std::this_thread::yield();
        }
        for (auto &s : slots_) fileaio_req_destroy(s.req);
        slots_.clear();
    }

    context *ctx_;
    std::vector<io_slot> slots_;
    io_slot *free_ = nullptr;
    io_slot *ready_head_ = nullptr, *ready_tail_ = nullptr;
    io_op_base *queue_head_ = nullptr, *queue_tail_ = nullptr;        // waiting for a request
    io_op_base *finished_head_ = nullptr, *finished_tail_ = nullptr;  // done without a request
    std::vector<fileaio_req *> batch_;  // prepared, sent at the next flush
    std::vector<io_slot *> batch_slots_;
    bool in_step_ = false;         // inside a step: awaits are batched until its end
    std::size_t in_flight_ = 0;    // submitted and not yet handed back or stopped
    std::size_t outstanding_ = 0;  // started and not yet resumed
    std::atomic<bool> stop_{false};
    std::mutex cancel_mutex_;
    io_op_base *cancel_head_ = nullptr;
    std::atomic<bool> cancel_pending_{false};
};

namespace detail {

inline io_op_base::~io_op_base() {
    if (sched_ != nullptr && phase_ != phase::idle && phase_ != phase::done) sched_->abandon(this);
}

inline bool io_op_base::ready() noexcept {
    if (stop_.stop_requested()) {
        result_ = {make_error_code(errc::canceled), 0};
        phase_ = phase::done;
        return true;
    }
    return false;
}

inline bool io_op_base::suspend(std::coroutine_handle<> h) noexcept {
    waiter_ = h;
    if (!sched_->start(this)) return false;  // refused at prepare: resume now with the error
    // Outside a step (a coroutine started by spawn, sync_wait or an event loop's callback) the
    // request goes out now: nothing else would send it before the loop waits for its completion.
    if (!sched_->in_step_) sched_->flush_batch();
    // May run the callback at once (a stop requested meanwhile): it only lists the request.
    if (stop_.stop_possible()) on_stop_.emplace(stop_, canceller{this});
    return true;
}

inline void io_op_base::canceller::operator()() const noexcept { op->sched_->request_cancel(op); }

}  // namespace detail

// ---- task<T>: a lazy coroutine that resumes its awaiter when done ----

template <class T = void>
class task;

namespace detail {

struct task_promise_base {
    std::coroutine_handle<> continuation;
    std::exception_ptr error;

    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
        bool await_ready() noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            auto c = h.promise().continuation;
            return c ? c : std::noop_coroutine();
        }
        void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct task_promise : task_promise_base {
    std::optional<T> value;
    task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U &&v) {
        value.emplace(std::forward<U>(v));
    }
    T take() {
        if (error) std::rethrow_exception(error);
        return std::move(*value);
    }
};

template <>
struct task_promise<void> : task_promise_base {
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {
        if (error) std::rethrow_exception(error);
    }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;

    task() noexcept = default;
    explicit task(handle_type h) noexcept : h_(h) {}
    task(task &&o) noexcept : h_(std::exchange(o.h_, {})) {}
    task &operator=(task &&o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    // Destroying a task that has not finished destroys its frame: the I/O it awaits is
    // cancelled or waited out (see io_op), never left writing into freed memory.
    ~task() {
        if (h_) h_.destroy();
    }

    bool done() const noexcept { return !h_ || h_.done(); }
    handle_type handle() const noexcept { return h_; }
    handle_type release() noexcept { return std::exchange(h_, {}); }

    // co_await task: runs it, resumes the awaiter when it is done, gives its value.
    auto operator co_await() && noexcept {
        struct awaiter {
            handle_type h;
            bool await_ready() noexcept { return !h || h.done(); }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> c) noexcept {
                h.promise().continuation = c;
                return h;
            }
            T await_resume() { return h.promise().take(); }
        };
        return awaiter{h_};
    }

private:
    handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}

// The frame spawn() runs a task in: it frees itself when the task is done.
struct detached {
    struct promise_type {
        detached get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept {
            std::fputs("fileaio: a task started by spawn() threw; terminating\n", stderr);
            std::terminate();
        }
    };
};

inline detached run_detached(task<void> t) { co_await std::move(t); }

template <class T>
task<void> run_and_flag(task<T> t, std::optional<T> &out, bool &done) {
    out.emplace(co_await std::move(t));
    done = true;
}
inline task<void> run_and_flag_void(task<void> t, bool &done) {
    co_await std::move(t);
    done = true;
}
}  // namespace detail

// Starts t now, on this thread (the driver's); it runs until its first suspension and is then
// resumed by the scheduler's steps. Its frame frees itself when it finishes.
inline void spawn(task<void> t) { detail::run_detached(std::move(t)); }

// Runs t to completion by driving `io` on this thread; returns its value (or rethrows).
template <class T>
T sync_wait(io_scheduler &io, task<T> t) {
    bool done = false;
    if constexpr (std::is_void_v<T>) {
        task<void> outer = detail::run_and_flag_void(std::move(t), done);
        outer.handle().resume();
        // The outer task is also done when t threw (done is then never set): take() rethrows.
        while (!done && !outer.done()) {
            if (io.run_one() == 0 && !done && !outer.done() && io.outstanding() == 0) {
                std::fputs("fileaio: sync_wait: the task waits for something that is not I/O of this scheduler\n", stderr);
                std::abort();
            }
        }
        outer.handle().promise().take();
    } else {
        std::optional<T> value;
        task<void> outer = detail::run_and_flag(std::move(t), value, done);
        outer.handle().resume();
        // The outer task is also done when t threw (done is then never set): take() rethrows.
        while (!done && !outer.done()) {
            if (io.run_one() == 0 && !done && !outer.done() && io.outstanding() == 0) {
                std::fputs("fileaio: sync_wait: the task waits for something that is not I/O of this scheduler\n", stderr);
                std::abort();
            }
        }
        outer.handle().promise().take();
        return std::move(*value);
    }
}

}  // namespace fileaio
