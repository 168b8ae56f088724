// fileaio — Asio integration (standalone Asio >= 1.22, header-only; Debian: libasio-dev).
//
// Files on every backend for Asio programs, with completion tokens (callbacks, use_awaitable,
// use_future, deferred, ...) and per-operation cancellation:
//
//   asio::io_context io;
//   fileaio::context fctx(256);                       // or any fileaio_ctx *
//   fileaio::asio::context actx(io.get_executor(), fctx.native_handle());
//   fileaio::asio::file f(actx, fd);
//   auto [ec, n] = co_await f.async_read_some_at(off, asio::buffer(buf),
//                                                asio::as_tuple(asio::use_awaitable));
//
// How it runs. A fileaio::asio::context is the waiter of one fileaio context (API.md "Wait":
// one waiter per context): it watches the context's pollable descriptor (fileaio_ctx_get_fd)
// with an asio::posix::stream_descriptor, and when that is readable it takes completions with
// fileaio_ctx_wait(timeout 0) on a strand and hands each one to its handler through the
// request's user pointer. Nobody else may wait on that fileaio context while the Asio context
// exists; any thread may start operations (submit is thread-safe).
//
// Asio registers descriptors edge-triggered: after taking everything, the driver arms the wait
// and then looks once more (a completion that arrived before the arm made no edge the wait can
// see, but the look finds it); initiations arm before they submit. The wait is armed only while
// operations are in flight, so io_context::run() returns when the work is done.
//
// Requests come from a pool of fileaio requests made on first use, at most max_reqs of them
// (fileaio_ctx_get_max_req_count); operations beyond that wait in a FIFO and are submitted as
// requests come back — never an error. If a request cannot be made (fileaio_req_create fails,
// E_NO_MEMORY) the operation waits the same way while some request is out (one comes back);
// with none out nothing would ever take it from the queue, so it completes (posted) with
// fileaio::errc::no_memory. Per operation, the only allocation is the one Asio's
// handler allocator makes (the operation object holds the handler and its iovecs). Operations
// started by a handler that this driver runs are submitted in one batch after the handlers of
// that round.
//
// Results, in Asio's style: handlers get (std::error_code, std::size_t) for reads and writes,
// (std::error_code) for flush/datasync. asio::error_code is std::error_code in standalone Asio.
// An -errno from the system is {errno, std::system_category()} (== asio::error::bad_descriptor
// for EBADF, and == std::errc values); a read at or past end of file that moves no bytes is
// asio::error::eof (what asio::async_read_at expects); a cancelled operation is
// asio::error::operation_aborted; fileaio's own codes (rare: E_NO_MEMORY, ...) are in the
// fileaio category (fileaio::error_category()). Unlike a socket's read_some, a fileaio read or
// write moves every byte unless it hits end of file or an error (API.md "Results").
//
// Cancellation: asio::bind_cancellation_slot (or anything that associates a slot, like
// awaitable operators and asio::experimental::make_parallel_group) — terminal, partial and total
// requests all map to fileaio_req_cancel. An operation still queued is removed; one that has its
// request but is not yet submitted (in the driver's batch, or on another thread on its way to
// submit) is aborted before the submit, or — if the cancel meets it inside the submit — cancelled
// right after; a submitted one is cancelled if the backend can stop it (its handler gets
// operation_aborted), else it finishes and its handler gets the real result. Either way the
// handler runs exactly once. file::close() and ~file() cancel the file's operations and wait out
// the ones that cannot be stopped (the kernel never writes into a buffer after close returns);
// ~context does the same for all. Their handlers are posted (not run inside close).
//
// Handlers run on their associated executor (default: the context's executor), via dispatch
// when the driver already runs there; their associated allocator allocates the operation.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/strand.hpp>

#include "fileaio/fileaio.hpp"

namespace fileaio::asio {

namespace detail {

// At most this many buffers of a sequence go into one request (like Asio's own descriptors: a
// "some" operation may move fewer bytes than the sequence holds).
inline constexpr int max_iov = 16;

enum class op_kind : unsigned char { read, write, flush, datasync };
// bound: holds a prepared request not yet handed to fileaio_ctx_submit (in the driver's batch,
// or on its way to submit); submitting: inside that submit; reaped: a wait took its completion
// before its submitter saw the submit return (the submitter finishes it).
enum class op_state : unsigned char { created, queued, bound, submitting, submitted, reaped, done };

// A C result as Asio users expect it (see the top of this file).
inline std::error_code to_asio_error(int rc, op_kind kind, std::size_t asked, std::size_t moved) noexcept {
    if (rc == 0) {
        if (kind == op_kind::read && asked != 0 && moved == 0) return ::asio::error::eof;
        return {};
    }
    if (rc == FILEAIO_E_CANCELED) return ::asio::error::operation_aborted;
    if (rc < 0 && rc >= -4095) return {-rc, ::asio::error::get_system_category()};
    return fileaio::to_error_code(rc);
}

struct file_state {
    int fd = -1;
    std::size_t in_flight = 0;  // its operations not yet retired: queued, bound, submitting, submitted, reaped (core::mutex_)
};

// What the driver keeps of an operation; the handler lives in op<> (allocated with the handler's
// allocator). The fields the driver changes are guarded by core::mutex_.
struct op_base {
    using finish_fn = void (*)(op_base *, bool post);
    explicit op_base(finish_fn f) noexcept : finish(f) {}

    finish_fn finish;             // gives the result to the handler and frees the operation
    op_base *next = nullptr;      // the FIFO of operations waiting for a request
    op_base *live_prev = nullptr;  // every operation in flight (for close and shutdown)
    op_base *live_next = nullptr;
    file_state *owner = nullptr;
    fileaio_req *req = nullptr;  // from bound until done
    op_kind kind = op_kind::read;
    op_state state = op_state::created;
    bool cancel_asked = false;  // a cancel came before start, or while bound/submitting
    bool bad = false;           // prepare refused it: fails at submit with ec
    int fd = -1;
    int iovcnt = 0;
    int64_t offset = 0;
    std::size_t asked = 0;
    std::error_code ec;  // the result, set before finish
    std::size_t moved = 0;
    struct iovec iov[max_iov];
};

// The shared state of a context: the armed wait and the posts keep it alive.
class core : public std::enable_shared_from_this<core> {
public:
    core(const ::asio::any_io_executor &ex, fileaio_ctx *ctx)
        : ex_(ex), strand_(::asio::make_strand(ex)), ctx_(ctx), sd_(ex) {}

    ~core() {
        for (fileaio_req *r : free_) fileaio_req_destroy(r);
    }

    std::error_code open() {
        if (ctx_ == nullptr) return fileaio::make_error_code(fileaio::errc::invalid_handle);
        int fd = -1;
        if (int rc = fileaio_ctx_get_fd(ctx_, &fd); rc != 0) return fileaio::to_error_code(rc);
        max_reqs_ = fileaio_ctx_get_max_req_count(ctx_);
        const uint32_t cap = max_reqs_ < 4096 ? max_reqs_ : 4096;
        free_.reserve(cap);
        batch_.reserve(cap);
        batch_reqs_.reserve(cap);
        std::error_code ec;
        sd_.assign(fd, ec);
        return ec;
    }

    // Cancels everything, waits out what cannot be stopped, lets go of the descriptor (the fileaio
    // context owns it: released, never closed). No fileaio call after this.
    void shutdown() {
        cancel_and_wait_out(nullptr);
        std::lock_guard lock(mutex_);
        closed_ = true;
        std::error_code ignored;
        sd_.cancel(ignored);
        sd_.release();
    }

    const ::asio::any_io_executor &executor() const noexcept { return ex_; }
    fileaio_ctx *native() const noexcept { return ctx_; }

    // Starts o: filled in, its cancellation slot (if any) already connected.
    void start(op_base *o) {
        bool run = false;
        bool marked = false;  // submitting: submit it now
        std::error_code failed;
        {
            std::lock_guard lock(mutex_);
            int create_rc = 0;
            if (o->cancel_asked || closed_) {
                failed = ::asio::error::operation_aborted;
            } else if (queue_head_ == nullptr && bind_request(o, &create_rc)) {
                run = true;
                if (tl_driver() != this && !o->bad) {
                    o->state = op_state::submitting;
                    marked = true;
                }
            } else if (create_rc != 0 && made_ == free_.size()) {
                // No request could be made (E_NO_MEMORY) and none is out: none will come back
                // to take o from the queue. It fails now rather than wait forever.
                failed = to_asio_error(create_rc, o->kind, 0, 0);
            } else {
                o->state = op_state::queued;
                if (queue_tail_ != nullptr) queue_tail_->next = o;
                else queue_head_ = o;
                queue_tail_ = o;
            }
            if (failed) {
                o->state = op_state::done;
            } else {
                link_live(o);
                ++o->owner->in_flight;
                ++in_flight_;
                // Armed before the submit: a completion then makes an edge the wait sees (or
                // the driver, running now, looks again before it leaves).
                if (!wait_queued_ && !driving_) arm_locked();
            }
        }
        if (failed) {
            o->ec = failed;
            o->moved = 0;
            return o->finish(o, true);
        }
        if (marked) submit_marked(o);
        else if (run) submit_or_batch(o);
    }

    // Completes an operation that needs no I/O (nothing to read or write): posted, as Asio does
    // for an operation that ends inside its initiating function.
    static void complete_now(op_base *o, std::error_code ec) {
        o->state = op_state::done;
        o->ec = ec;
        o->moved = 0;
        o->finish(o, true);
    }

    // From a cancellation slot (the thread that emits it). o is alive: finish clears the slot.
    void cancel(op_base *o) {
        op_base *next = nullptr;
        {
            std::lock_guard lock(mutex_);
            switch (o->state) {
            case op_state::created: o->cancel_asked = true; return;
            case op_state::queued: unlink_queued(o); break;
            // Its request is PREPARED (fileaio_req_cancel would refuse it) or on its way into
            // submit: whoever submits it sees the flag and aborts it unsubmitted, or cancels it
            // once the submit has returned (the abort in submit_now and flush_batch, the cancel
            // after the submit in submitted()).
            case op_state::bound:
            case op_state::submitting: o->cancel_asked = true; return;
            case op_state::submitted:
                if (fileaio_req_cancel(o->req) != 0) return;  // finishing: a wait hands it back
                next = release_request(o);
                break;
            case op_state::reaped:  // completed: its submitter finishes it with the result
            case op_state::done: return;
            }
            retire(o);
            disarm_if_idle();
        }
        o->ec = ::asio::error::operation_aborted;
        o->moved = 0;
        if (next != nullptr) submit_now(next);
        o->finish(o, true);  // last: this destroys the cancellation handler that called us
    }

    // Cancels the operations of f (nullptr: all) and returns once none of them is in flight.
    void cancel_and_wait_out(file_state *f) {
        std::vector<op_base *> aborted;
        std::vector<op_base *> resubmit;
        {
            std::lock_guard lock(mutex_);
            // The queued ones leave the queue first: a request a cancel below frees goes to the
            // queue's first operation, which must not be one that is being aborted (it would be
            // submitted after its handler ran and it was freed).
            for (op_base *o = live_head_; o != nullptr; o = o->live_next) {
                if ((f != nullptr && o->owner != f) || o->state != op_state::queued) continue;
                unlink_queued(o);
                aborted.push_back(o);
            }
            for (op_base *o = live_head_; o != nullptr; o = o->live_next) {
                if (f != nullptr && o->owner != f) continue;
                if (o->state == op_state::bound || o->state == op_state::submitting) {
                    o->cancel_asked = true;  // its submitter aborts or cancels it (as in cancel)
                } else if (o->state == op_state::submitted && fileaio_req_cancel(o->req) == 0) {
                    if (op_base *n = release_request(o)) resubmit.push_back(n);
                    aborted.push_back(o);
                }
            }
            for (op_base *o : aborted) {
                retire(o);
                o->ec = ::asio::error::operation_aborted;
                o->moved = 0;
            }
            disarm_if_idle();
        }
        for (op_base *n : resubmit) submit_now(n);
        for (op_base *o : aborted) o->finish(o, true);
        // The driver's own batch would never go out while it waits here: the flagged ones in it
        // are aborted, the rest submitted.
        if (tl_driver() == this) flush_batch();
        // What could not be stopped finishes: take completions (as the waiter) until f has none.
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if ((f != nullptr ? f->in_flight : in_flight_) == 0) return;
            }
            take_completions(100, /*post=*/true);
            std::lock_guard lock(mutex_);
            disarm_if_idle();
        }
    }

    // The wait's handler, on the strand: takes everything; while operations are in flight, arms
    // the wait (at most one is ever queued) and looks once more, since a completion that came
    // before the arm made no edge the wait can see. With nothing in flight it leaves no wait
    // queued, so io_context::run() can return.
    void drive() {
        {
            std::lock_guard lock(mutex_);
            wait_queued_ = false;
            driving_ = true;
        }
        core *const outer = tl_driver();
        tl_driver() = this;
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (closed_) {
                    driving_ = false;
                    break;
                }
            }
            const std::size_t got = take_completions(0, /*post=*/false);
            std::lock_guard lock(mutex_);
            if (in_flight_ != 0 && got == take_batch) continue;  // more may be there
            if (in_flight_ != 0 && !wait_queued_) {
                arm_locked();  // then look once more
                continue;
            }
            // Leaving: in the same critical section as the decision, so that a start() on another
            // thread either came before it (and is in flight: the wait is armed) or sees
            // driving_ false and arms the wait itself. (Clearing driving_ under a later lock let a
            // start() in between skip the arm, and its completion was never taken: a hang.)
            driving_ = false;
            disarm_if_idle();
            break;
        }
        tl_driver() = outer;
    }

private:
    static core *&tl_driver() noexcept {
        static thread_local core *driver = nullptr;
        return driver;
    }

    // Queues the one wait (mutex_ held, so that disarm_if_idle never misses it).
    void arm_locked() {
        wait_queued_ = true;
        sd_.async_wait(::asio::posix::descriptor_base::wait_read,
                       ::asio::bind_executor(strand_, [self = shared_from_this()](const std::error_code &) {
                           self->drive();  // also when disarm_if_idle cancelled it: drive sorts it out
                       }));
    }

    // Nothing in flight and nobody driving: a queued wait would keep io_context::run() from
    // returning, so it ends now (its handler runs drive, which finds nothing to do). mutex_ held.
    void disarm_if_idle() {
        if (in_flight_ != 0 || !wait_queued_ || driving_ || closed_) return;
        std::error_code ignored;
        sd_.cancel(ignored);
    }

    // Takes what is there (timeout_ms 0), or waits up to timeout_ms for something (close's
    // wait-out), and finishes each operation. Returns how many it took.
    static constexpr std::size_t take_batch = 64;
    std::size_t take_completions(uint32_t timeout_ms, bool post) {
        constexpr std::size_t cap = take_batch;
        fileaio_req *out[cap];
        op_base *done[cap];
        std::size_t count = 0;
        if (fileaio_ctx_wait(ctx_, 1, timeout_ms, out, cap, &count) == FILEAIO_E_BUSY)
            std::this_thread::yield();  // the loop thread polls right now (close from another thread)
        for (std::size_t i = 0; i < count; ++i) {
            op_base *o = static_cast<op_base *>(fileaio_req_get_user(out[i]));
            std::size_t moved = 0;
            const int result = fileaio_req_get_result(out[i], &moved);
            const std::error_code ec = to_asio_error(result, o->kind, o->asked, moved);
            op_base *next;
            {
                std::lock_guard lock(mutex_);
                done[i] = nullptr;
                if (o->state == op_state::submitting) {
                    // Its submitter has not yet seen the submit return: it finishes o.
                    o->state = op_state::reaped;
                    o->ec = ec;
                    o->moved = moved;
                    continue;
                }
                next = release_request(o);
                retire(o);
            }
            o->ec = ec;
            o->moved = moved;
            done[i] = o;
            if (next != nullptr) {
                if (post) submit_now(next);
                else submit_or_batch(next);
            }
        }
        for (std::size_t i = 0; i < count; ++i)
            if (done[i] != nullptr) done[i]->finish(done[i], post);
        if (!post) flush_batch();
        return count;
    }

    // o gives its request back; the queue's first operation takes it (returned, to be submitted).
    // mutex_ held.
    op_base *release_request(op_base *o) noexcept {
        free_.push_back(o->req);
        o->req = nullptr;
        op_base *n = queue_head_;
        if (n == nullptr) return nullptr;
        queue_head_ = n->next;
        if (queue_head_ == nullptr) queue_tail_ = nullptr;
        n->next = nullptr;
        bind_request(n);  // a request is free: cannot fail
        return n;
    }

    // Gives o a request of the pool and prepares it (o is then bound); false while max_reqs are
    // out, or when a request cannot be made (fileaio_req_create's code in *create_rc). mutex_ held.
    bool bind_request(op_base *o, int *create_rc = nullptr) noexcept {
        fileaio_req *r = nullptr;
        if (!free_.empty()) {
            r = free_.back();
            free_.pop_back();
        } else if (made_ < max_reqs_) {
            if (const int rc = fileaio_req_create(&r); rc != 0) {
                if (create_rc != nullptr) *create_rc = rc;
                return false;
            }
            ++made_;
        } else {
            return false;
        }
        int rc = 0;
        switch (o->kind) {
        case op_kind::read:
            rc = o->iovcnt == 1 ? fileaio_req_prepare_read(r, o->fd, o->offset, o->iov[0].iov_base, o->iov[0].iov_len, o)
                                : fileaio_req_prepare_readv(r, o->fd, o->offset, o->iov, o->iovcnt, o);
            break;
        case op_kind::write:
            rc = o->iovcnt == 1 ? fileaio_req_prepare_write(r, o->fd, o->offset, o->iov[0].iov_base, o->iov[0].iov_len, o)
                                : fileaio_req_prepare_writev(r, o->fd, o->offset, o->iov, o->iovcnt, o);
            break;
        case op_kind::flush: rc = fileaio_req_prepare_flush(r, o->fd, o); break;
        case op_kind::datasync: rc = fileaio_req_prepare_datasync(r, o->fd, o); break;
        }
        o->req = r;
        o->state = op_state::bound;
        o->bad = rc != 0;
        if (rc != 0) o->ec = to_asio_error(rc, o->kind, 0, 0);  // fd < 0, offset < 0, ...
        return true;
    }

    // Submits o now, or with the batch when a handler that this driver runs started it.
    void submit_or_batch(op_base *o) {
        if (tl_driver() == this && !o->bad) batch_.push_back(o);
        else submit_now(o);
    }

    // Submits o (bound), unless it was refused at prepare or cancelled meanwhile.
    void submit_now(op_base *o) {
        std::error_code refused;
        {
            std::lock_guard lock(mutex_);
            if (o->bad) refused = o->ec;
            else if (o->cancel_asked) refused = ::asio::error::operation_aborted;
            else o->state = op_state::submitting;
        }
        if (refused) return fail_unsubmitted(o, refused);
        submit_marked(o);
    }

    // o is submitting: submits it. A wait may take its completion before the submit returns;
    // while o is submitting it only marks o reaped, so o and its request stay ours until
    // submitted() has looked.
    void submit_marked(op_base *o) {
        fileaio_req *r = o->req;
        if (const int rc = fileaio_ctx_submit(ctx_, &r, 1, nullptr); rc != 0)
            return fail_unsubmitted(o, to_asio_error(rc, o->kind, 0, 0));  // not submitted
        submitted(o);
    }

    // o's submit took it. Normally it is now in flight and nothing of it is read any more; a
    // cancel that came while it was submitting is carried out now, and if a wait already took
    // its completion (reaped), it finishes here.
    void submitted(op_base *o) {
        op_base *next;
        {
            std::lock_guard lock(mutex_);
            if (o->state == op_state::submitting) {
                o->state = op_state::submitted;
                if (!o->cancel_asked || fileaio_req_cancel(o->req) != 0) return;
                o->ec = ::asio::error::operation_aborted;
                o->moved = 0;
            }
            next = release_request(o);
            retire(o);
            disarm_if_idle();
        }
        if (next != nullptr) submit_now(next);
        o->finish(o, true);
    }

    // o holds a request that is not submitted (refused, or cancelled before): it finishes with ec.
    void fail_unsubmitted(op_base *o, std::error_code ec) {
        op_base *next;
        {
            std::lock_guard lock(mutex_);
            next = release_request(o);
            retire(o);
            disarm_if_idle();
        }
        o->ec = ec;
        o->moved = 0;
        o->finish(o, true);
        if (next != nullptr) submit_now(next);
    }

    void flush_batch() {
        if (batch_.empty()) return;
        // The ones cancelled while they waited here move behind the rest and are aborted
        // unsubmitted; the rest (in their order) are submitting from now on.
        std::size_t kept = 0;
        {
            std::lock_guard lock(mutex_);
            for (std::size_t i = 0; i < batch_.size(); ++i) {
                if (batch_[i]->cancel_asked) continue;
                batch_[i]->state = op_state::submitting;
                std::swap(batch_[kept++], batch_[i]);
            }
        }
        batch_reqs_.clear();
        for (std::size_t i = 0; i < kept; ++i) batch_reqs_.push_back(batch_[i]->req);
        for (std::size_t i = kept; i < batch_.size(); ++i) fail_unsubmitted(batch_[i], ::asio::error::operation_aborted);
        std::size_t done = 0;
        while (done < kept) {
            std::size_t n = 0;
            const int rc = fileaio_ctx_submit(ctx_, batch_reqs_.data() + done, kept - done, &n);
            {
                // One lock for the batch: the usual op (no cancel, not reaped yet) is now simply
                // in flight and is not touched again; submitted() takes the others one by one.
                std::lock_guard lock(mutex_);
                for (std::size_t i = done; i < done + n; ++i) {
                    if (batch_[i]->state != op_state::submitting || batch_[i]->cancel_asked) continue;
                    batch_[i]->state = op_state::submitted;
                    batch_[i] = nullptr;
                }
            }
            for (std::size_t i = done; i < done + n; ++i)
                if (batch_[i] != nullptr) submitted(batch_[i]);
            done += n;
            if (rc != 0 && done < kept) {
                // The first one not taken fails alone with the reason; the rest are tried again.
                op_base *o = batch_[done++];
                fail_unsubmitted(o, to_asio_error(rc, o->kind, 0, 0));
            }
        }
        batch_.clear();
    }

    void unlink_queued(op_base *o) noexcept {
        op_base *prev = nullptr;
        for (op_base *p = queue_head_; p != nullptr; prev = p, p = p->next) {
            if (p != o) continue;
            if (prev != nullptr) prev->next = o->next;
            else queue_head_ = o->next;
            if (queue_tail_ == o) queue_tail_ = prev;
            o->next = nullptr;
            return;
        }
    }

    void link_live(op_base *o) noexcept {
        o->live_prev = nullptr;
        o->live_next = live_head_;
        if (live_head_ != nullptr) live_head_->live_prev = o;
        live_head_ = o;
    }

    // o is done: no longer in flight (mutex_ held).
    void retire(op_base *o) noexcept {
        o->state = op_state::done;
        if (o->live_prev != nullptr) o->live_prev->live_next = o->live_next;
        else live_head_ = o->live_next;
        if (o->live_next != nullptr) o->live_next->live_prev = o->live_prev;
        --o->owner->in_flight;
        --in_flight_;
    }

    ::asio::any_io_executor ex_;
    ::asio::strand<::asio::any_io_executor> strand_;
    fileaio_ctx *ctx_;
    ::asio::posix::stream_descriptor sd_;
    uint32_t max_reqs_ = 0;
    uint32_t made_ = 0;

    std::mutex mutex_;
    std::vector<fileaio_req *> free_;  // the pool
    op_base *queue_head_ = nullptr;    // waiting for a request, FIFO
    op_base *queue_tail_ = nullptr;
    op_base *live_head_ = nullptr;     // every operation not yet retired (queued through reaped)
    std::size_t in_flight_ = 0;
    bool wait_queued_ = false;  // the descriptor's async_wait is queued (at most one)
    bool driving_ = false;      // drive runs (and arms before it leaves if work is in flight)
    bool closed_ = false;  // shutdown: no fileaio call any more

    std::vector<op_base *> batch_;  // bound, started by handlers the driver runs (driver thread only)
    std::vector<fileaio_req *> batch_reqs_;  // their requests, for the submit
};

// An operation with its handler. Sized: the handler gets (ec, bytes); else (ec).
template <class Handler, bool Sized>
class op final : public op_base {
public:
    using executor_type = ::asio::associated_executor_t<Handler, ::asio::any_io_executor>;
    using allocator_type = ::asio::associated_allocator_t<Handler, ::asio::recycling_allocator<void>>;
    using self_allocator = typename std::allocator_traits<allocator_type>::template rebind_alloc<op>;

    static op *make(Handler &&h, const ::asio::any_io_executor &io_ex) {
        self_allocator a(::asio::get_associated_allocator(h, ::asio::recycling_allocator<void>()));
        op *p = std::allocator_traits<self_allocator>::allocate(a, 1);
        try {
            return ::new (static_cast<void *>(p)) op(std::move(h), io_ex);
        } catch (...) {
            std::allocator_traits<self_allocator>::deallocate(a, p, 1);
            throw;
        }
    }

    Handler &handler() noexcept { return handler_; }

private:
    op(Handler &&h, const ::asio::any_io_executor &io_ex)
        : op_base(&do_finish), handler_(std::move(h)), work_(::asio::get_associated_executor(handler_, io_ex)) {}

    static void do_finish(op_base *base, bool post) {
        op *self = static_cast<op *>(base);
        auto slot = ::asio::get_associated_cancellation_slot(self->handler_);
        if (slot.is_connected()) slot.clear();
        Handler h(std::move(self->handler_));
        ::asio::executor_work_guard<executor_type> work(std::move(self->work_));
        const std::error_code ec = self->ec;
        const std::size_t moved = self->moved;
        self_allocator a(::asio::get_associated_allocator(h, ::asio::recycling_allocator<void>()));
        self->~op();
        std::allocator_traits<self_allocator>::deallocate(a, self, 1);
        auto ex = work.get_executor();
        if constexpr (Sized) {
            if (post) ::asio::post(ex, ::asio::detail::bind_handler(std::move(h), ec, moved));
            else ::asio::dispatch(ex, ::asio::detail::bind_handler(std::move(h), ec, moved));
        } else {
            if (post) ::asio::post(ex, ::asio::detail::bind_handler(std::move(h), ec));
            else ::asio::dispatch(ex, ::asio::detail::bind_handler(std::move(h), ec));
        }
        work.reset();
    }

    Handler handler_;
    ::asio::executor_work_guard<executor_type> work_;
};

struct cancel_handler {
    core *c;
    op_base *o;
    void operator()(::asio::cancellation_type_t type) const {
        if ((type & (::asio::cancellation_type::terminal | ::asio::cancellation_type::partial |
                     ::asio::cancellation_type::total)) != ::asio::cancellation_type::none)
            c->cancel(o);
    }
};

template <bool Sized, class Handler, class Setup>
void launch(core &c, file_state &f, op_kind kind, Handler &&handler, Setup &&setup) {
    using op_t = op<std::decay_t<Handler>, Sized>;
    op_t *o = op_t::make(std::move(handler), c.executor());
    o->kind = kind;
    o->owner = &f;
    o->fd = f.fd;
    setup(*o);
    if ((kind == op_kind::read || kind == op_kind::write) && o->asked == 0)
        return core::complete_now(o, {});  // nothing to move: done, as Asio does for empty buffers
    auto slot = ::asio::get_associated_cancellation_slot(o->handler());
    if (slot.is_connected()) slot.template emplace<cancel_handler>(cancel_handler{&c, o});
    c.start(o);
}

template <class Buffers>
void fill_iov(op_base &o, const Buffers &buffers) {
    auto it = ::asio::buffer_sequence_begin(buffers);
    const auto end = ::asio::buffer_sequence_end(buffers);
    for (; it != end && o.iovcnt < max_iov; ++it) {
        auto b = *it;  // mutable_buffer or const_buffer
        if (b.size() == 0) continue;
        o.iov[o.iovcnt].iov_base = const_cast<void *>(static_cast<const void *>(b.data()));
        o.iov[o.iovcnt].iov_len = b.size();
        o.asked += b.size();
        ++o.iovcnt;
    }
}

}  // namespace detail

// Drives one fileaio context from an Asio executor (see the top of this file). Not copyable or
// movable. Its destructor cancels and waits out every operation still in flight.
class context {
public:
    using executor_type = ::asio::any_io_executor;

    // Throws std::system_error if the context's descriptor cannot be had.
    context(const executor_type &ex, fileaio_ctx *ctx) : core_(std::make_shared<detail::core>(ex, ctx)) {
        if (std::error_code ec = core_->open(); ec) throw std::system_error(ec, "fileaio::asio::context");
    }
    context(::asio::io_context &io, fileaio_ctx *ctx) : context(io.get_executor(), ctx) {}
    ~context() { core_->shutdown(); }
    context(const context &) = delete;
    context &operator=(const context &) = delete;

    executor_type get_executor() const noexcept { return core_->executor(); }
    fileaio_ctx *native_handle() const noexcept { return core_->native(); }

private:
    friend class file;
    std::shared_ptr<detail::core> core_;
};

// A file descriptor's I/O through a fileaio::asio::context, in the shape of
// asio::random_access_file. The descriptor stays the caller's (never closed here). Must not
// outlive its context.
class file {
public:
    using executor_type = ::asio::any_io_executor;

    file(context &c, int fd) : core_(c.core_), state_(std::make_unique<detail::file_state>()) { state_->fd = fd; }
    ~file() { close(); }
    file(file &&) noexcept = default;
    file &operator=(file &&other) noexcept {
        if (this != &other) {
            close();
            core_ = std::move(other.core_);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    file(const file &) = delete;
    file &operator=(const file &) = delete;

    executor_type get_executor() const noexcept { return core_->executor(); }
    int native_handle() const noexcept { return state_ ? state_->fd : -1; }
    bool is_open() const noexcept { return state_ && state_->fd >= 0; }

    // Cancels this file's operations and waits out the ones that cannot be stopped: once it
    // returns, no I/O of this file touches a buffer. Their handlers are posted. The descriptor
    // itself is left open (the caller's).
    void close() {
        if (!state_ || state_->fd < 0) return;
        core_->cancel_and_wait_out(state_.get());
        state_->fd = -1;
    }

    // Reads into buffers at offset: handler(std::error_code, std::size_t).
    template <class MutableBufferSequence, class CompletionToken>
    auto async_read_some_at(uint64_t offset, const MutableBufferSequence &buffers, CompletionToken &&token) {
        return ::asio::async_initiate<CompletionToken, void(std::error_code, std::size_t)>(
            [this](auto &&handler, uint64_t off, const MutableBufferSequence &b) {
                detail::launch<true>(*core_, *state_, detail::op_kind::read, std::move(handler), [&](detail::op_base &o) {
                    o.offset = static_cast<int64_t>(off);
                    detail::fill_iov(o, b);
                });
            },
            token, offset, buffers);
    }

    // Writes buffers at offset: handler(std::error_code, std::size_t).
    template <class ConstBufferSequence, class CompletionToken>
    auto async_write_some_at(uint64_t offset, const ConstBufferSequence &buffers, CompletionToken &&token) {
        return ::asio::async_initiate<CompletionToken, void(std::error_code, std::size_t)>(
            [this](auto &&handler, uint64_t off, const ConstBufferSequence &b) {
                detail::launch<true>(*core_, *state_, detail::op_kind::write, std::move(handler), [&](detail::op_base &o) {
                    o.offset = static_cast<int64_t>(off);
                    detail::fill_iov(o, b);
                });
            },
            token, offset, buffers);
    }

    // fsync after every write of this context to the file submitted before it (API.md "Flush is
    // a barrier"): handler(std::error_code).
    template <class CompletionToken>
    auto async_flush(CompletionToken &&token) {
        return initiate_sync(detail::op_kind::flush, std::forward<CompletionToken>(token));
    }

    // fdatasync, the same way: handler(std::error_code).
    template <class CompletionToken>
    auto async_datasync(CompletionToken &&token) {
        return initiate_sync(detail::op_kind::datasync, std::forward<CompletionToken>(token));
    }

private:
    template <class CompletionToken>
    auto initiate_sync(detail::op_kind kind, CompletionToken &&token) {
        return ::asio::async_initiate<CompletionToken, void(std::error_code)>(
            [this, kind](auto &&handler) {
                detail::launch<false>(*core_, *state_, kind, std::move(handler), [](detail::op_base &) {});
            },
            token);
    }

    std::shared_ptr<detail::core> core_;
    std::unique_ptr<detail::file_state> state_;
};

}  // namespace fileaio::asio
