// The io_uring backend: one ring per context.
//
// Threads and locks. Any number of threads submit, one thread waits (reap), and cancel and
// wakeup come from any thread.
//  - sq_mutex_ guards the submission queue and what submitters update with it: the barrier lists
//    (writes in flight, held flushes) and the registered-buffer table.
//    One submit call fills its SQEs and calls io_uring_submit once (more only when the batch is
//    larger than the SQ) under it, so, without SQPOLL, the SQ is empty whenever the lock is free.
//    Uncontended it costs one atomic pair per call, against a system call that dwarfs it.
//  - cq_mutex_ guards the consumption of the completion queue: who owns the CQ (cq_owner_), the
//    list of finished requests not yet handed back (ready_), and the stage of submitted requests.
//    Only the CQ owner sleeps in io_uring_enter(GETEVENTS), without holding the mutex; the CQ is
//    read and advanced only under it (by the owner, or by a reaper whose deadline has passed).
//    The owner is the reaper (the thread inside wait), a canceller that needs its target's CQE,
//    or the progress helper (below). Two threads never sleep on one CQ (the
//    kernel wakes only the first of several waiters). A reaper always gets the CQ promptly: when
//    another thread owns it, the reaper sets cq_wanted_ and posts a poke NOP, which wakes the
//    owner from its kernel sleep, and the owner hands the CQ over at once (a canceller then waits
//    for the reaper to park its CQE). Until then the reaper's deadline and wakeups hold; a poll
//    (deadline already passed) does not wait for the CQ at all: it consumes what the kernel has
//    posted itself, under cq_mutex_, and takes what is in ready_.
//  Lock order: cq_mutex_ before sq_mutex_. No lock is held across IORING_REGISTER_SYNC_CANCEL.
//
// Progress without a waiter. Continuations, flushes the barrier lets go and the backlog (below)
// are issued by whoever consumes CQEs. So that they go on with nobody in wait (API.md
// "Asynchrony"), a helper thread takes the CQ when requests are outstanding and no reaper has
// come for a whole helper_grace (10 ms), and hands it to the next reaper as above. A thread
// that keeps waiting costs nearly nothing: the helper is parked while a reaper owns the CQ, and
// looks again at most once per grace period; submit only reads one atomic unless the helper is
// idle (nothing outstanding), when it wakes it.
//
// Wakeup. kick() posts a NOP whose user_data is kick_tag (at most one outstanding); the CQ owner
// that consumes it sets kick_seen_ and the reap in progress, or the next one, returns at once.
// The reaper sleeps for one CQE at a time and loops until it has `want`: a wait for N CQEs would
// sleep through the NOP (the kernel counts it as one of N), so this is what makes a kick prompt.
//
// Cancel. Synchronous, through IORING_REGISTER_SYNC_CANCEL keyed on the request's user_data
// (its address, 16-byte aligned, with a 4-bit generation in the low bits) and a zero timeout.
// The kernel's answer alone is ambiguous: when the target was running, the call waits once more
// and reports 0 also when the target simply finished. So a 0 is confirmed by the target's own
// CQE: cancel marks the request `cancelling`, the CQ owner parks a CQE for such a request instead
// of handling it, and cancel returns 0 only when that CQE says -ECANCELED (which it then
// swallows), else hands the CQE back to normal processing and returns E_COMPLETED. A cancelled
// request's CQE is therefore always consumed before cancel returns 0: no stale CQE can meet a
// re-submitted request (the generation only checks this). -ENOENT (its CQE is in the ring, or a
// driver runs it outside io_uring's reach, as FUSE does), -EALREADY and -ETIME: E_IN_PROGRESS.
// Continuations of a partial transfer already touched the file and are never cancelled. (Two
// cancels of one request never run here at once: the core holds the request while one decides,
// and hands this backend only requests of its own current submission.) A flush held
// by the barrier (below) is not in the kernel and is cancelled here. Without SYNC_CANCEL (before
// Linux 6.0) a request in the kernel cannot be stopped: E_IN_PROGRESS. With SQPOLL an SQE the SQ
// thread has not taken yet is not found: E_COMPLETED (a wait returns it, as promised). Waiting
// for the confirming CQE is bounded (cancel_wait_max); past it cancel says E_IN_PROGRESS.
//
// Flush is a barrier. Flush and data sync are held here, not in the kernel, while a write to the
// same fd submitted earlier on this context is still in flight (including its continuations), and
// issued by whoever completes the last such write — after that write has been queued for hand-
// back, so the flush is returned after it. IOSQE_IO_DRAIN is not used: it would stall every
// request in the ring, would hold back the wakeup NOP, cannot see continuations we submit later,
// and leaves requests that cancel cannot find.
//
// Room in the kernel. The CQ has max_reqs + 64 entries, up to the kernel's 65536; beyond that the
// kernel's no-drop overflow (IORING_FEAT_NODROP, required) keeps the extra CQEs, so any max_reqs
// is honest. When io_uring_enter refuses SQEs (-EAGAIN, -EBUSY: out of memory, or an overflowing
// CQ on older kernels) nothing spins and no request fails for it: a first submission leaves the
// rest with the caller (E_INSUFFICIENT_RESOURCES with *accepted, as API.md allows); requests
// already SUBMITTED (continuations, released flushes) wait on the backlog and are submitted again
// after CQEs are consumed, or every backlog_retry_step while the CQ owner has none to wait for.
//
// Short transfers and retries. The backend continues a read or write from r->transferred until it
// is whole, hits end of file (a read of 0 bytes) or fails. -EAGAIN, -EINTR and an -ECANCELED that
// no successful cancel explains are resubmitted, flushes included: io-wq fails with -ECANCELED a
// request that a worker had taken just before a cancel, which the cancel saw as running
// (-EALREADY) and answered E_IN_PROGRESS; older kernels also cancelled the io-wq work of a thread
// that exits. Such a request never started, so running it again is what E_IN_PROGRESS promised.
//
// Event loops (API.md). Once the context's descriptor has been asked for, it is registered as the
// ring's eventfd (IORING_REGISTER_EVENTFD): the kernel signals it as it posts each CQE. A request
// that reaches ready_ from anyone but the reaper (the progress helper, a canceller that parked its
// CQE) signals it too when ready_ was empty; the core re-arms it after every wait, looking at
// ready_ and the CQ under cq_mutex_. Before that, nothing is registered and nothing is signalled.
// While the descriptor is paused (fileaio_ctx_pause_fd) the CQ ring's IORING_CQ_EVENTFD_DISABLED
// flag is set, so the kernel skips that signal per CQE; resuming clears it before the core re-arms.
//
// One owner thread (FILEAIO_CTX_SINGLE_THREAD). The core lets only the owner submit, reap and
// cancel, so the ring is IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN, created disabled and enabled
// by the owner's first call (which also registers the ring fd); there is no progress helper (only
// the owner may consume the CQ, and deferred completions are posted when it enters the ring); a
// kick from another thread is a MSG_RING CQE (IORING_REGISTER_SEND_MSG_RING). Everything above
// holds otherwise, the locks included (uncontended). Details at "the single-thread ring".
//
// Registered buffers; no registered files. A read or write whose buffer lies inside a registered
// buffer uses IORING_OP_READ_FIXED/WRITE_FIXED. associate_with_file() only checks that the fd is
// open: a fixed-file slot would hold its own reference to the file, so after the caller closed
// the fd and the number was reused, requests on that number would go to the old file and keep it
// alive until the context died, and the kernel tells nobody when an fd is closed. Association is a
// hint that never changes which file is used (API.md), so requests always name the fd itself;
// the cost of that is measured in docs/PERFORMANCE.md.
#include "backends/io_uring.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "core/eventfd.hpp"
#include "core/flush_barrier.hpp"
#include "core/quiet_thread.hpp"
#include "core/request.hpp"
#include "core/request_list.hpp"
#include "core/thread_id.hpp"

namespace fileaio::detail {
namespace {

// user_data values below this are not requests (requests are 16-byte aligned).
constexpr uint64_t kick_tag = 1;    // a wakeup
constexpr uint64_t poke_tag = 2;    // wakes the reaper to look at ready_; no other meaning
constexpr uint64_t ignore_tag = 3;  // an SQE the kernel refused to take, turned into a NOP
constexpr uint64_t probe_tag = 4;   // the user_data of no request: probes IORING_REGISTER_SYNC_CANCEL
constexpr uint64_t tag_mask = 15;
static_assert(alignof(request) >= tag_mask + 1, "request addresses must leave 4 bits for the tag");

constexpr unsigned sq_entries_min = 8;
constexpr unsigned sq_entries_max = 4096;   // larger batches take one io_uring_enter per 4096
constexpr uint64_t cq_slack = 64;            // kick, pokes, refused SQEs on top of max_reqs
constexpr uint64_t cq_entries_max = 65536;   // the kernel's IORING_MAX_CQ_ENTRIES (NODROP covers more)
constexpr unsigned cqe_batch = 64;
constexpr size_t max_rw_chunk = 0x7ffff000;  // the kernel's MAX_RW_COUNT on 4 KiB pages
constexpr size_t max_registered_buffer = size_t{1} << 30;  // the kernel refuses larger ones
constexpr uint16_t max_retries = 1000;       // consecutive -EAGAIN/-EINTR/-ECANCELED, no progress
constexpr auto backlog_retry_step = std::chrono::milliseconds(1);  // kernel refused SQEs, no CQE to wait for
constexpr auto helper_grace = std::chrono::milliseconds(10);  // no reaper this long: the helper carries on
constexpr auto cancel_wait_step = std::chrono::milliseconds(10);
constexpr auto cancel_wait_max = std::chrono::seconds(2);

// request::stage for this backend. Changed under cq_mutex_ (held: under sq_mutex_ as well), except
// new -> inflight/held, which the submitter does under sq_mutex_.
enum stage : uint32_t {
    stage_new = 0,     // handed to submit, not yet in the SQ
    stage_inflight,    // its first SQE belongs to the kernel: cancel may stop it
    stage_continuing,  // a continuation or retry belongs to the kernel: it touched the file
    stage_held,        // a flush/data sync held back by the barrier: not in the kernel
    stage_cancelling,  // a cancel is deciding; a CQE that arrives is parked for it
    stage_done,        // finished, queued for (or handed) back
    stage_canceled,    // cancel returned 0
};

// The backend's part of request::scratch.
struct slot {
    uint64_t user_data = 0;
    struct iovec one = {nullptr, 0};  // the rest of a partly done vector element
    int32_t buf_index = -1;           // registered buffer that holds the whole buffer, or -1
    int32_t cancel_res = 0;           // the CQE that arrived while cancelling
    request *backlog_next = nullptr;  // on the backlog (the request may be on a barrier list too)
    request *backlog_prev = nullptr;
    uint16_t retries = 0;
    bool cancel_seen = false;
};
static_assert(sizeof(slot) <= backend_scratch_size);

slot &slot_of(request *r) { return *std::launder(reinterpret_cast<slot *>(r->scratch)); }

struct backlog_links {
    static request *&next(request *r) { return slot_of(r).backlog_next; }
    static request *&prev(request *r) { return slot_of(r).backlog_prev; }
};

// Linux 6.13: io_uring_register(-1, IORING_REGISTER_SEND_MSG_RING, sqe, 1) posts a MSG_RING CQE
// into any ring without a ring of one's own (liburing 2.3 and its header predate it).
constexpr unsigned register_send_msg_ring = 31;

// Posts a CQE with `tag` as user_data into the ring `ring_fd`, from any thread: 0 or -errno.
int send_msg_ring(int ring_fd, uint64_t tag) {
    io_uring_sqe sqe{};
    io_uring_prep_msg_ring(&sqe, ring_fd, 0, tag, 0);
    const long rc = ::syscall(__NR_io_uring_register, -1, register_send_msg_ring, &sqe, 1);
    return rc < 0 ? -errno : 0;
}

// Whether this kernel has IORING_REGISTER_SEND_MSG_RING: to a descriptor that is no ring it
// answers EBADF; a kernel without the opcode answers EINVAL.
bool have_send_msg_ring() { return send_msg_ring(-1, 0) == -EBADF; }

unsigned round_up_pow2(uint64_t v) {
    uint64_t p = 1;
    while (p < v) p <<= 1;
    return static_cast<unsigned>(p);
}

__kernel_timespec to_timespec(clock::duration d) {
    if (d < clock::duration::zero()) d = clock::duration::zero();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    __kernel_timespec ts{};
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    return ts;
}

class io_uring_backend final : public backend {
public:
    io_uring_backend() = default;

    ~io_uring_backend() override {
        if (helper_.joinable()) {
            {
                std::lock_guard lock(cq_mutex_);
                helper_stop_ = true;
                helper_cv_.notify_all();
                if (cq_owner_ == owner_helper) {  // asleep in the kernel: a NOP wakes it
                    std::lock_guard sq(sq_mutex_);
                    post_nop_locked(poke_tag);
                }
            }
            helper_.join();
        }
        if (ring_ready_) io_uring_queue_exit(&ring_);
    }

    int init(const backend_config &config) {
        const bool sqpoll = (config.uring_flags & FILEAIO_URING_SQPOLL) != 0;
        unsigned sq_entries = std::clamp(round_up_pow2(config.max_reqs), sq_entries_min, sq_entries_max);
        uint64_t cq_wanted = std::min<uint64_t>(uint64_t{config.max_reqs} + cq_slack, cq_entries_max);
        unsigned cq_entries = std::max(round_up_pow2(cq_wanted), sq_entries);
        try {
            chunk_.resize(sq_entries);
        } catch (const std::bad_alloc &) {
            return FILEAIO_E_NO_MEMORY;
        }

        // Flags newer kernels know are dropped one by one when the kernel says EINVAL: first
        // COOP_TASKRUN, then the whole single-thread set (the ring is then the ordinary one and
        // the flag changes nothing here), then SUBMIT_ALL.
        constexpr unsigned solo_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                        IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED;
        const unsigned optional_flags[] = {IORING_SETUP_COOP_TASKRUN, solo_flags, IORING_SETUP_SUBMIT_ALL};
        unsigned flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
        if (sqpoll) flags |= IORING_SETUP_SQPOLL;
        // The single-thread ring needs another way for wakeups, which cannot post a NOP into it.
        if (config.single_thread && !sqpoll && have_send_msg_ring()) flags |= solo_flags | IORING_SETUP_COOP_TASKRUN;
        int rc = 0;
        size_t dropped = 0;
        for (;;) {
            io_uring_params p{};
            p.flags = flags;
            p.cq_entries = cq_entries;
            rc = io_uring_queue_init_params(sq_entries, &ring_, &p);
            if (rc == -EINVAL && dropped < std::size(optional_flags)) {
                flags &= ~optional_flags[dropped++];
                continue;
            }
            if (rc == 0) features_ = p.features;
            break;
        }
        if (rc < 0) return io_uring_setup_error(-rc);
        ring_ready_ = true;
        solo_ = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
        sqpoll_ = (ring_.flags & IORING_SETUP_SQPOLL) != 0;
        if (sqpoll != sqpoll_) return FILEAIO_E_NOT_SUPPORTED;  // never silently without SQPOLL
        // Waiting with a timeout must not take an SQE (it races with submitters): needs EXT_ARG.
        if ((features_ & IORING_FEAT_EXT_ARG) == 0 || (features_ & IORING_FEAT_NODROP) == 0)
            return FILEAIO_E_NOT_SUPPORTED;

        if (config.uring_max_workers != 0) {
            unsigned values[2] = {config.uring_max_workers, config.uring_max_workers};  // bounded, unbounded
            if (io_uring_register_iowq_max_workers(&ring_, values) < 0) return FILEAIO_E_NOT_SUPPORTED;
        }

        // Linux 6.0+: synchronous cancel. Without it cancel can only say E_IN_PROGRESS.
        io_uring_sync_cancel_reg reg{};
        reg.addr = probe_tag;
        reg.timeout.tv_sec = 0;
        reg.timeout.tv_nsec = 0;
        can_cancel_ = io_uring_register_sync_cancel(&ring_, &reg) == -ENOENT;
        // The single-thread ring has no progress helper: it could not consume the CQ (only the
        // owner may), and the kernel posts its completions only when the owner enters it anyway.
        if (solo_) return 0;
        return start_quiet_thread([&] { helper_ = std::thread([this] { helper_main(); }); });
    }

    int submit(request *const *reqs, size_t n, size_t *accepted) override {
        if (solo_) solo_enter();
        // Counted before the kernel can complete any of them (the CQ owner counts them down).
        outstanding_.fetch_add(static_cast<int64_t>(n), std::memory_order_seq_cst);
        int rc = submit_sq(reqs, n, accepted);
        if (*accepted < n) outstanding_.fetch_sub(static_cast<int64_t>(n - *accepted), std::memory_order_seq_cst);
        // The progress helper sleeps until there is work; one load when it is already watching.
        if (*accepted != 0 && !solo_ && helper_state_.load(std::memory_order_seq_cst) == helper_idle) {
            std::lock_guard lock(cq_mutex_);
            helper_cv_.notify_one();
        }
        return rc;
    }

    size_t reap(request **out, size_t cap, size_t want, const deadline &dl) override {
        if (solo_) solo_enter();
        std::unique_lock lock(cq_mutex_);
        ++reaps_;
        if (cq_owner_ != owner_none && !kick_seen_ && !dl.expired()) {
            // A canceller or the helper sleeps on the CQ: ask for it and wake the owner, which
            // gives it up at once. Meanwhile the deadline and wakeups hold (the owner that takes
            // the wakeup NOP sets kick_seen_ and notifies).
            cq_wanted_ = true;
            {
                std::lock_guard sq(sq_mutex_);
                post_nop_locked(poke_tag);
            }
            while (cq_owner_ != owner_none && !kick_seen_) {
                if (dl.forever) {
                    cq_cv_.wait(lock);
                } else if (cq_cv_.wait_until(lock, dl.at) == std::cv_status::timeout) {
                    break;
                }
            }
            cq_wanted_ = false;
            cq_cv_.notify_all();  // a canceller that stood back for us
        }
        if (cq_owner_ != owner_none) {
            // Deadline passed or a wakeup came while another thread owns the CQ. The owner (the
            // helper or a canceller) only touches the CQ under cq_mutex_, so while we hold it it is
            // asleep in io_uring_enter or waiting for the lock: we consume what the kernel posted
            // ourselves. An event loop's poll comes exactly as the kernel posts a CQE (it signals
            // the registered eventfd then, as it wakes the owner) and must find that completion,
            // not lose the race to the owner and answer E_TIMEOUT.
            drain_locked();
            const size_t got = take_ready_locked(out, cap);
            kick_seen_ = false;
            return got;
        }
        cq_owner_ = owner_reaper;
        size_t got = 0;
        for (;;) {
            if (solo_) solo_run_task_work();
            drain_locked();
            got += take_ready_locked(out + got, cap - got);
            if (kick_seen_) {
                kick_seen_ = false;
                break;
            }
            if (got >= want || got == cap || dl.expired()) break;
            sleep_for_cqe_locked(lock, dl);
        }
        release_cq_locked();
        // A helper that stood back for this reaper looks again after its grace period.
        if (helper_state_.load(std::memory_order_relaxed) == helper_parked) {
            helper_state_.store(helper_watching, std::memory_order_relaxed);
            helper_cv_.notify_one();
        }
        return got;
    }

    void kick() override {
        if (kick_outstanding_.exchange(true, std::memory_order_acq_rel)) return;  // one NOP wakes for all
        if (solo_) {
            // Any thread: a MSG_RING CQE (only the owner may submit). Before the owner enabled the
            // ring it is posted by solo_enter().
            std::lock_guard lock(solo_mutex_);
            if (!solo_enabled_.load(std::memory_order_relaxed)) {
                solo_kick_deferred_ = true;
            } else if (send_msg_ring(ring_.ring_fd, kick_tag) != 0) {
                kick_outstanding_.store(false, std::memory_order_release);
            }
            return;
        }
        std::lock_guard lock(sq_mutex_);
        // Only when the kernel refuses even a NOP (out of memory) is there nothing to wait for.
        if (!post_nop_locked(kick_tag)) kick_outstanding_.store(false, std::memory_order_release);
    }

    int notify_through(int efd) override {
        if (solo_) return solo_notify_through(efd);
        // CQEs posted before this are in the CQ already: the core looks at it next (has_completions).
        if (int rc = io_uring_register_eventfd(&ring_, efd); rc < 0) return rc == -ENOMEM ? FILEAIO_E_INSUFFICIENT_RESOURCES : rc;
        std::lock_guard lock(cq_mutex_);
        notify_fd_ = efd;
        return 0;
    }

    // IORING_CQ_EVENTFD_DISABLED in the CQ ring's flags word, which only we write and the kernel
    // reads before each eventfd signal. A seq_cst read-modify-write, so that after a resume the
    // core's look at the CQ (has_completions) comes after the kernel can see the flag clear; the
    // kernel orders its side with a full barrier between publishing a CQE's tail and reading the
    // flag (io_cqring_wake's wq_has_sleeper). On a DEFER_TASKRUN ring (FILEAIO_CTX_SINGLE_THREAD)
    // the signal comes from io_req_local_work_add instead: a cmpxchg, then an atomic_or of
    // SQ_TASKRUN, then the flag read, which is a full barrier on x86 (a locked instruction) but
    // not guaranteed on arm64 (atomic_or is relaxed there). A kernel without the flags word:
    // nothing paused. io_uring's progress helper (if any) signals after its grace period regardless.
    void pause_notify(bool paused) override {
        unsigned *flags = ring_.cq.kflags;
        if (flags == nullptr) return;
        if (paused) {
            __atomic_fetch_or(flags, IORING_CQ_EVENTFD_DISABLED, __ATOMIC_SEQ_CST);
        } else {
            __atomic_fetch_and(flags, ~static_cast<unsigned>(IORING_CQ_EVENTFD_DISABLED), __ATOMIC_SEQ_CST);
        }
    }

    // A wakeup's NOP (or a poke) in the CQ is no completion: with nothing pending a wait answers
    // E_NO_REQUEST and leaves it there, and an event loop must not spin on it. So the CQ is looked
    // at entry by entry (read only; the owner may be consuming it meanwhile, which at worst makes
    // this answer a spurious yes).
    bool has_completions() override {
        if (solo_ && solo_has_deferred_work()) return true;
        std::lock_guard lock(cq_mutex_);
        if (!ready_.empty() || io_uring_cq_has_overflow(&ring_)) return true;
        unsigned head;
        io_uring_cqe *cqe;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            if (cqe->user_data != kick_tag && cqe->user_data != poke_tag) return true;
        }
        return false;
    }

    int cancel(request *r) override {
        std::unique_lock lock(cq_mutex_);
        slot &s = slot_of(r);
        switch (r->stage.load(std::memory_order_acquire)) {
            case stage_done: return FILEAIO_E_COMPLETED;
            case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
            case stage_held: {
                std::lock_guard sq(sq_mutex_);  // held -> inflight happens under both locks
                // A submit that the kernel refused part way gives its requests back to the caller
                // (rollback_locked, under sq_mutex_ alone): then it was not submitted after all.
                if (r->stage.load(std::memory_order_relaxed) != stage_held) return FILEAIO_E_NOT_SUBMITTED;
                barrier_.held.remove(r);
                r->stage.store(stage_canceled, std::memory_order_relaxed);
                outstanding_.fetch_sub(1, std::memory_order_seq_cst);
                return 0;
            }
            case stage_inflight: break;
            default: return FILEAIO_E_IN_PROGRESS;  // being submitted, continuing, or another cancel decides
        }
        if (!can_cancel_) return FILEAIO_E_IN_PROGRESS;
        r->stage.store(stage_cancelling, std::memory_order_relaxed);
        s.cancel_seen = false;
        lock.unlock();

        // The submit that queued r holds sq_mutex_ until io_uring_enter has taken its SQE, or has
        // given r back to the caller because the kernel refused it (rollback_locked: stage_new).
        {
            std::lock_guard sq(sq_mutex_);
            if (r->stage.load(std::memory_order_relaxed) == stage_new) return FILEAIO_E_NOT_SUBMITTED;  // the core makes it PREPARED
        }
        io_uring_sync_cancel_reg reg{};
        reg.addr = s.user_data;
        reg.timeout.tv_sec = 0;  // never wait for a running request
        reg.timeout.tv_nsec = 0;
        int rc = io_uring_register_sync_cancel(&ring_, &reg);

        lock.lock();
        if (rc == 0) await_cancelled_cqe_locked(lock, r);
        if (rc == 0 && s.cancel_seen && s.cancel_res == -ECANCELED) {
            r->stage.store(stage_canceled, std::memory_order_relaxed);
            outstanding_.fetch_sub(1, std::memory_order_seq_cst);
            if (r->is_write()) {
                request *none = nullptr;
                if (settle_locked(&none, 0, &none, 0, r)) poke_if_reaper_sleeps_locked();
            }
            return 0;
        }
        r->stage.store(stage_inflight, std::memory_order_relaxed);
        // Not found (-ENOENT) is not proof that it finished: a request the driver runs itself (a
        // FUSE read, say) is also unknown to io_uring's cancel. Its CQE has not been seen, so all
        // we know is that it cannot be stopped and a wait will return it.
        if (!s.cancel_seen) return FILEAIO_E_IN_PROGRESS;
        // It finished (or stopped for another reason) while we asked: its CQE goes the normal way.
        request *fin = r;
        bool finished = completion_finishes(r, s.cancel_res);
        bool pushed = finished ? settle_locked(&fin, 1, &fin, 0, nullptr) : settle_locked(&fin, 0, &fin, 1, nullptr);
        if (pushed) poke_if_reaper_sleeps_locked();
        return r->stage.load(std::memory_order_relaxed) == stage_done ? FILEAIO_E_COMPLETED : FILEAIO_E_IN_PROGRESS;
    }

    // A hint that takes no reference to the file (see the top of the file): it only says whether
    // the fd is open now.
    int associate_with_file(int fd) override {
        if (::fcntl(fd, F_GETFD) < 0) return -errno;  // -EBADF for a closed fd: the operating system's answer
        return 0;
    }

    int register_buffers(const struct iovec *iov, unsigned count) override {
        std::vector<struct iovec> pieces;
        std::vector<region> regions;
        try {
            for (unsigned i = 0; i < count; ++i) {
                auto *base = static_cast<char *>(iov[i].iov_base);
                for (size_t off = 0; off < iov[i].iov_len; off += max_registered_buffer) {
                    size_t len = std::min(max_registered_buffer, iov[i].iov_len - off);
                    auto start = reinterpret_cast<uintptr_t>(base + off);
                    regions.push_back({start, start + len, static_cast<int32_t>(pieces.size())});
                    pieces.push_back({base + off, len});
                }
            }
        } catch (const std::bad_alloc &) {
            return FILEAIO_E_NO_MEMORY;
        }
        std::sort(regions.begin(), regions.end(), [](const region &a, const region &b) { return a.start < b.start; });
        std::lock_guard lock(sq_mutex_);
        if (!regions_.empty()) {
            io_uring_unregister_buffers(&ring_);
            regions_.clear();
        }
        int rc = io_uring_register_buffers(&ring_, pieces.data(), static_cast<unsigned>(pieces.size()));
        if (rc < 0) return rc == -ENOMEM ? FILEAIO_E_INSUFFICIENT_RESOURCES : rc;  // ENOMEM: RLIMIT_MEMLOCK
        regions_ = std::move(regions);
        return 0;
    }

    int unregister_buffers() override {
        std::lock_guard lock(sq_mutex_);
        if (regions_.empty()) return 0;
        regions_.clear();
        int rc = io_uring_unregister_buffers(&ring_);
        return rc < 0 ? rc : 0;
    }

private:
    enum owner { owner_none, owner_reaper, owner_canceller, owner_helper };
    // The progress helper: idle (nothing outstanding; submit wakes it), parked (a reaper owns the
    // CQ; the reaper wakes it on leaving), watching (looks again every helper_grace).
    enum helper_mode : int { helper_idle, helper_watching, helper_parked };

    struct queued {
        request *r;
        io_uring_sqe *sqe;
        size_t index;  // in the submit batch
    };

    struct region {
        uintptr_t start;
        uintptr_t end;
        int32_t index;
    };

    // ---- the single-thread ring (FILEAIO_CTX_SINGLE_THREAD) ----
    //
    // IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG (| COOP_TASKRUN), created
    // disabled (R_DISABLED): the kernel makes the thread that enables it the only one allowed to
    // submit, wait and register, so it is enabled by the owner's first submit or reap (the core
    // lets no other thread reach those). That thread also registers the ring's descriptor
    // (io_uring_register_ring_fd). Completions that need the kernel's task work are posted only
    // when the owner enters the ring: the reaper, a poll included, enters it when the kernel flags
    // such work (IORING_SQ_TASKRUN). Kicks from any thread are MSG_RING CQEs with kick_tag posted
    // through IORING_REGISTER_SEND_MSG_RING (Linux 6.13; without it the ring is the ordinary one).
    // An event loop's eventfd is registered at once when that is allowed (ring not enabled yet,
    // or the owner asks); asked by another thread, it is registered by the owner's next submit,
    // reap or has_completions() (a wait with nothing pending), which a poke MSG_RING brings about
    // at once when the owner sleeps in the ring, and until then has_completions() says yes (a
    // spurious readiness that makes the loop call wait).

    void solo_enter() {
        if (!solo_enabled_.load(std::memory_order_acquire)) solo_enable();
        if (solo_efd_pending_.load(std::memory_order_acquire) >= 0) solo_register_pending_efd();
    }

    void solo_enable() {
        std::lock_guard lock(solo_mutex_);
        if (solo_enabled_.load(std::memory_order_relaxed)) return;
        // Cannot fail for a disabled ring of ours; if it did, submit and wait get the kernel's
        // refusal (E_INSUFFICIENT_RESOURCES, a wait that returns early), never a hang here.
        (void)::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
        (void)io_uring_register_ring_fd(&ring_);  // at most 16 per thread: without it, the plain fd
        solo_owner_ = this_thread_id();
        solo_enabled_.store(true, std::memory_order_release);
        if (solo_kick_deferred_) {
            solo_kick_deferred_ = false;
            if (send_msg_ring(ring_.ring_fd, kick_tag) != 0) kick_outstanding_.store(false, std::memory_order_release);
        }
    }

    void solo_register_pending_efd() {
        const int efd = solo_efd_pending_.load(std::memory_order_acquire);
        if (efd < 0) return;
        // Refused (ENOMEM): the descriptor stays signalled by has_completions() and we try again.
        if (io_uring_register_eventfd(&ring_, efd) == 0) solo_efd_pending_.store(-1, std::memory_order_release);
    }

    int solo_notify_through(int efd) {
        {
            std::lock_guard lock(solo_mutex_);
            if (!solo_enabled_.load(std::memory_order_relaxed) || solo_owner_ == this_thread_id()) {
                if (int rc = io_uring_register_eventfd(&ring_, efd); rc < 0)
                    return rc == -ENOMEM ? FILEAIO_E_INSUFFICIENT_RESOURCES : rc;
            } else {
                solo_efd_pending_.store(efd, std::memory_order_seq_cst);
                (void)send_msg_ring(ring_.ring_fd, poke_tag);  // an owner asleep in the ring registers it
            }
        }
        std::lock_guard lock(cq_mutex_);
        notify_fd_ = efd;
        return 0;
    }

    // Completions the kernel holds back until the owner enters the ring, or an eventfd not yet
    // registered. Any thread; the owner runs the work instead, and then looks at the CQ itself.
    bool solo_has_deferred_work() {
        const bool by_owner = solo_enabled_.load(std::memory_order_acquire) && solo_owner_ == this_thread_id();
        if (solo_efd_pending_.load(std::memory_order_seq_cst) >= 0) {
            if (!by_owner) return true;
            // The owner registers it here too: its wait with nothing pending (E_NO_REQUEST) never
            // reaches reap, and a descriptor left pending would poll readable until a submit.
            solo_register_pending_efd();
            if (solo_efd_pending_.load(std::memory_order_seq_cst) >= 0) return true;  // refused: later
        }
        if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) == 0) return false;
        if (!by_owner) return true;
        std::lock_guard lock(cq_mutex_);
        (void)io_uring_get_events(&ring_);
        return false;
    }

    // The owner: posts the completions the kernel holds as task work.
    void solo_run_task_work() {
        if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0) (void)io_uring_get_events(&ring_);
        if (solo_efd_pending_.load(std::memory_order_relaxed) >= 0) solo_register_pending_efd();
    }

    // ---- submission side (sq_mutex_) ----

    // The first SQE of each request. A kernel that refuses to take them (out of memory) leaves the
    // rest with the caller: E_INSUFFICIENT_RESOURCES with *accepted, as API.md allows.
    int submit_sq(request *const *reqs, size_t n, size_t *accepted) {
        std::lock_guard lock(sq_mutex_);
        if (!backlog_.empty()) retry_backlog_locked();
        size_t i = 0;
        while (i < n) {
            chunk_n_ = 0;
            while (i < n) {
                request *r = reqs[i];
                init_locked(r);
                if (r->is_sync() && barrier_.holds(r)) {
                    r->stage.store(stage_held, std::memory_order_release);
                    barrier_.held.push_back(r);
                    ++i;
                    continue;
                }
                io_uring_sqe *sqe = get_sqe_locked();
                if (sqe == nullptr) break;  // the SQ is full: flush what we have, then go on
                prep_sqe(sqe, r);
                r->stage.store(stage_inflight, std::memory_order_release);  // cancel reads the slot
                if (r->is_write()) barrier_.writes.push_back(r);
                chunk_[chunk_n_++] = {r, sqe, i};
                ++i;
            }
            if (chunk_n_ == 0) {
                if (i == n) break;  // the rest were held flushes
                *accepted = i;      // not even one free SQE
                return FILEAIO_E_INSUFFICIENT_RESOURCES;
            }
            size_t consumed = 0;
            const int err = flush_locked(&consumed);
            if (consumed < chunk_n_) {
                // The kernel took no more: reqs[first..] stay with the caller, untouched.
                const size_t first = chunk_[consumed].index;
                for (size_t k = first; k < i; ++k) rollback_locked(reqs[k]);
                chunk_n_ = 0;
                *accepted = first;
                return err == -ENOMEM ? FILEAIO_E_NO_MEMORY : FILEAIO_E_INSUFFICIENT_RESOURCES;
            }
            chunk_n_ = 0;
        }
        *accepted = n;
        return 0;
    }

    void init_locked(request *r) {
        slot *s = new (r->scratch) slot{};
        s->user_data = reinterpret_cast<uintptr_t>(r) | (++generation_ & tag_mask);
        if (!regions_.empty() && (r->kind == op::read || r->kind == op::write))
            s->buf_index = buffer_index_locked(r->buf, r->size);
        r->transferred = 0;
        r->result = 0;
        r->seq = ++seq_;
    }

    int32_t buffer_index_locked(const void *p, size_t len) const {
        const auto a = reinterpret_cast<uintptr_t>(p);
        auto it = std::upper_bound(regions_.begin(), regions_.end(), a,
                                   [](uintptr_t v, const region &g) { return v < g.start; });
        if (it == regions_.begin()) return -1;
        --it;
        return a <= it->end && len <= it->end - a ? it->index : -1;  // a past the end: not inside
    }

    // Gives r back to the caller: the kernel did not take its SQE (now a NOP). A cancel may be
    // deciding about it (stage_cancelling); it sees stage_new under sq_mutex_ and lets go.
    void rollback_locked(request *r) {
        switch (r->stage.load(std::memory_order_relaxed)) {
            case stage_inflight:
            case stage_cancelling:
                if (r->is_write()) barrier_.writes.remove(r);
                break;
            case stage_held: barrier_.held.remove(r); break;
            default: break;
        }
        r->stage.store(stage_new, std::memory_order_relaxed);
    }

    // The one place a request becomes an SQE: the rest of it, from r->transferred on.
    void prep_sqe(io_uring_sqe *sqe, request *r) {
        slot &s = slot_of(r);
        const int fd = r->fd;
        const size_t done = r->transferred;
        // At a stream's position (offset -1) once the descriptor said it cannot seek.
        const uint64_t off = r->at_stream ? ~uint64_t{0} : static_cast<uint64_t>(r->offset) + done;
        switch (r->kind) {
            case op::read:
            case op::write: {
                char *p = static_cast<char *>(r->buf) + done;
                const auto len = static_cast<unsigned>(std::min(r->size - done, max_rw_chunk));
                if (r->kind == op::read) {
                    if (s.buf_index >= 0) {
                        io_uring_prep_read_fixed(sqe, fd, p, len, off, s.buf_index);
                    } else {
                        io_uring_prep_read(sqe, fd, p, len, off);
                    }
                } else if (s.buf_index >= 0) {
                    io_uring_prep_write_fixed(sqe, fd, p, len, off, s.buf_index);
                } else {
                    io_uring_prep_write(sqe, fd, p, len, off);
                }
                break;
            }
            case op::readv:
            case op::writev: {
                const rest_vector rest = rest_of(r, &s.one);  // s.one lives as long as the SQE
                const auto cnt = static_cast<unsigned>(rest.cnt);
                if (r->kind == op::readv) {
                    io_uring_prep_readv(sqe, fd, rest.vec, cnt, off);
                } else {
                    io_uring_prep_writev(sqe, fd, rest.vec, cnt, off);
                }
                break;
            }
            case op::flush: io_uring_prep_fsync(sqe, fd, 0); break;
            case op::datasync: io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC); break;
        }
        io_uring_sqe_set_data64(sqe, s.user_data);
    }

    // An SQE, or nullptr when the SQ is full of entries queued by this call (flush them first).
    io_uring_sqe *get_sqe_locked() {
        io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
        if (sqe != nullptr || chunk_n_ != 0) return sqe;
        if (sqpoll_) {
            io_uring_sqring_wait(&ring_);  // the SQ thread has not taken them yet
        } else {
            io_uring_submit(&ring_);  // NOPs a refused submit left behind
        }
        return io_uring_get_sqe(&ring_);
    }

    // Hands chunk_[0..chunk_n_) to the kernel. *consumed is how many it took (in order); the rest
    // are turned into NOPs that complete silently, and the caller decides what becomes of their
    // requests. Returns 0, or the error that stopped the kernel taking more. Never waits for room:
    // a refusal (-EAGAIN, -EBUSY: out of memory, or an overflowing CQ on older kernels) is answered
    // by the caller, and room comes when CQEs are consumed, which needs no lock held here.
    int flush_locked(size_t *consumed) {
        // Publishes the request fields to the thread that will read this CQE (the kernel in
        // between is invisible to the memory model and to ThreadSanitizer).
        submit_epoch_.fetch_add(1, std::memory_order_release);
        if (sqpoll_) {
            io_uring_submit(&ring_);  // the SQ thread takes them; it never refuses part way
            *consumed = chunk_n_;
            return 0;
        }
        int err = 0;
        while (io_uring_sq_ready(&ring_) != 0) {
            int ret = io_uring_submit(&ring_);
            if (ret > 0 || ret == -EINTR) continue;
            err = ret == 0 ? -EAGAIN : ret;
            break;
        }
        const size_t left = std::min<size_t>(io_uring_sq_ready(&ring_), chunk_n_);
        *consumed = chunk_n_ - left;
        for (size_t k = *consumed; k < chunk_n_; ++k) {
            io_uring_sqe *sqe = chunk_[k].sqe;
            io_uring_prep_nop(sqe);
            sqe->flags = IOSQE_CQE_SKIP_SUCCESS;
            io_uring_sqe_set_data64(sqe, ignore_tag);
        }
        return err;
    }

    bool post_nop_locked(uint64_t tag) {
        chunk_n_ = 0;
        io_uring_sqe *sqe = get_sqe_locked();
        if (sqe == nullptr) return false;
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, tag);
        chunk_[chunk_n_++] = {nullptr, sqe, 0};
        size_t consumed = 0;
        flush_locked(&consumed);
        chunk_n_ = 0;
        return consumed == 1;
    }

    // ---- completion side (cq_mutex_) ----

    // One CQE of r (a byte count or -errno): true when it finishes r (request::absorb), false
    // when the rest must be submitted again. This backend's retry rule, bounded by max_retries:
    // -EAGAIN, -EINTR, and -ECANCELED that no cancel of ours confirmed.
    static bool completion_finishes(request *r, int res) {
        slot &s = slot_of(r);
        // -ECANCELED that no cancel of ours confirmed: an io-wq worker that had already taken the
        // request when a cancel said "running" (-EALREADY) fails it when it starts, untouched.
        if ((res == -EAGAIN || res == -EINTR || res == -ECANCELED) && ++s.retries < max_retries) return false;
        // A socket (unlike a pipe, which io_uring reads at its position) answers ESPIPE to an
        // offset: API.md says a descriptor that cannot seek ignores it. Again at the position.
        if (res == -ESPIPE && !r->at_stream && !r->is_sync()) {
            r->at_stream = true;
            return false;
        }
        if (res > 0) s.retries = 0;
        return r->absorb(res);
    }

    // Consumes every CQE available: the CQ owner, or a reaper whose deadline passed while another
    // thread owns the CQ (that owner is out of the CQ while we hold cq_mutex_).
    void drain_locked() {
        for (;;) {
            io_uring_cqe *cqes[cqe_batch];
            const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, cqe_batch);
            if (n == 0) {
                if (backlog_waiting_.load(std::memory_order_relaxed)) {
                    request *none = nullptr;
                    settle_locked(&none, 0, &none, 0, nullptr);  // the kernel may have room again
                }
                return;
            }
            (void)submit_epoch_.load(std::memory_order_acquire);
            request *finished[cqe_batch];
            request *again[cqe_batch];
            size_t nf = 0;
            size_t na = 0;
            bool parked = false;
            for (unsigned k = 0; k < n; ++k) {
                const uint64_t ud = cqes[k]->user_data;
                const int res = cqes[k]->res;
                if (ud <= tag_mask) {
                    if (ud == kick_tag) {
                        kick_outstanding_.store(false, std::memory_order_release);
                        kick_seen_ = true;
                        if (cq_owner_ != owner_reaper) parked = true;  // a reaper waiting for the CQ sees it
                    }
                    continue;  // pokes and refused SQEs
                }
                auto *r = reinterpret_cast<request *>(static_cast<uintptr_t>(ud & ~tag_mask));
                slot &s = slot_of(r);
                if (s.user_data != ud) continue;  // not the current incarnation (cannot happen; see top)
                if (r->stage.load(std::memory_order_relaxed) == stage_cancelling) {
                    s.cancel_res = res;
                    s.cancel_seen = true;
                    parked = true;
                    continue;
                }
                if (completion_finishes(r, res)) {
                    finished[nf++] = r;
                } else {
                    again[na++] = r;
                }
            }
            io_uring_cq_advance(&ring_, n);
            settle_locked(finished, nf, again, na, nullptr);
            if (parked) cq_cv_.notify_all();
        }
    }

    // Moves requests on: `finished` to ready_ (in order), `again` back to the kernel, a cancelled
    // write `gone` out of the barrier; issues the flushes the barrier lets go and what the backlog
    // holds. Requests the kernel will not take now wait on the backlog: they are already SUBMITTED,
    // and their result is their I/O's, never "the ring was busy". Returns whether ready_ grew.
    bool settle_locked(request *const *finished, size_t nf, request *const *again, size_t na, request *gone) {
        bool need_sq = na != 0 || gone != nullptr || backlog_waiting_.load(std::memory_order_relaxed);
        for (size_t k = 0; k < nf && !need_sq; ++k) need_sq = finished[k]->is_write();
        if (need_sq) {
            std::lock_guard sq(sq_mutex_);
            bool writes_left = gone != nullptr;
            for (size_t k = 0; k < nf; ++k) {
                if (finished[k]->is_write()) {
                    barrier_.writes.remove(finished[k]);
                    writes_left = true;
                }
            }
            if (gone != nullptr) barrier_.writes.remove(gone);
            chunk_n_ = 0;
            if (!backlog_.empty()) retry_backlog_locked();
            for (size_t k = 0; k < na; ++k) {
                again[k]->stage.store(stage_continuing, std::memory_order_relaxed);
                queue_locked(again[k]);
            }
            if (writes_left && !barrier_.held.empty()) {
                barrier_.release_ready([&](request *h) {
                    h->stage.store(stage_inflight, std::memory_order_relaxed);
                    queue_locked(h);
                });
            }
            if (chunk_n_ != 0) flush_chunk_locked();
        }
        for (size_t k = 0; k < nf; ++k) push_ready_locked(finished[k]);
        if (nf != 0) outstanding_.fetch_sub(static_cast<int64_t>(nf), std::memory_order_seq_cst);
        return nf != 0;
    }

    // Queues the rest of r (flushing first when the SQ is full), or puts it on the backlog.
    void queue_locked(request *r) {
        io_uring_sqe *sqe = get_sqe_locked();
        if (sqe == nullptr && chunk_n_ != 0) {
            flush_chunk_locked();
            sqe = get_sqe_locked();
        }
        if (sqe == nullptr) {
            backlog_push_locked(r);
            return;
        }
        prep_sqe(sqe, r);
        chunk_[chunk_n_++] = {r, sqe, 0};
    }

    // Hands the chunk to the kernel; what it does not take goes on the backlog, in order.
    void flush_chunk_locked() {
        size_t consumed = 0;
        (void)flush_locked(&consumed);
        for (size_t k = consumed; k < chunk_n_; ++k) backlog_push_locked(chunk_[k].r);
        chunk_n_ = 0;
    }

    // Queues what the backlog holds (the caller flushes the chunk).
    void retry_backlog_locked() {
        basic_request_list<backlog_links> waiting = backlog_;
        backlog_ = {};
        backlog_waiting_.store(false, std::memory_order_relaxed);
        while (request *r = waiting.pop_front()) queue_locked(r);
        if (chunk_n_ != 0) flush_chunk_locked();
    }

    void backlog_push_locked(request *r) {
        backlog_.push_back(r);
        backlog_waiting_.store(true, std::memory_order_relaxed);
    }

    void push_ready_locked(request *r) {
        r->stage.store(stage_done, std::memory_order_relaxed);
        // An event loop must hear of it unless the reaper, which hands it back, put it there.
        const bool tell = ready_.empty() && notify_fd_ >= 0 && cq_owner_ != owner_reaper;
        ready_.append(r);  // off barrier_.writes by now: next is free
        if (tell) eventfd_signal(notify_fd_);
    }

    size_t take_ready_locked(request **out, size_t cap) {
        size_t n = 0;
        while (n < cap && !ready_.empty()) out[n++] = ready_.pop_front();
        return n;
    }

    // Sleeps until a CQE is available, the deadline passes or a signal arrives. The CQ owner only.
    void wait_for_cqe(const deadline &dl) {
        io_uring_cqe *cqe = nullptr;
        if (dl.forever) {
            io_uring_wait_cqes(&ring_, &cqe, 1, nullptr, nullptr);
            return;
        }
        __kernel_timespec ts = to_timespec(dl.at - clock::now());
        if (ts.tv_sec == 0 && ts.tv_nsec == 0) return;
        io_uring_wait_cqes(&ring_, &cqe, 1, &ts, nullptr);  // -EINTR, -ETIME: the caller looks again
    }

    // The CQ owner sleeps (without the lock) until a CQE, the deadline or a signal; while the
    // backlog waits for room it looks again every backlog_retry_step.
    void sleep_for_cqe_locked(std::unique_lock<std::mutex> &lock, const deadline &dl) {
        deadline until = dl;
        if (backlog_waiting_.load(std::memory_order_relaxed)) {
            const auto retry = clock::now() + backlog_retry_step;
            if (until.forever || retry < until.at) until = deadline{retry, false};
        }
        lock.unlock();
        wait_for_cqe(until);
        lock.lock();
    }

    void release_cq_locked() {
        cq_owner_ = owner_none;
        cq_cv_.notify_all();
    }

    // Waits until r's CQE has been parked (by the CQ owner, or by us as the CQ owner). A reaper
    // that asks for the CQ (cq_wanted_) gets it at once: it parks the CQE for us.
    void await_cancelled_cqe_locked(std::unique_lock<std::mutex> &lock, request *r) {
        slot &s = slot_of(r);
        const auto give_up = clock::now() + cancel_wait_max;
        while (!s.cancel_seen && clock::now() < give_up) {
            if (cq_owner_ != owner_none || cq_wanted_) {
                cq_cv_.wait_until(lock, give_up);  // the owner parks it and notifies
                continue;
            }
            cq_owner_ = owner_canceller;
            while (!s.cancel_seen && !cq_wanted_ && clock::now() < give_up) {
                drain_locked();
                if (s.cancel_seen || cq_wanted_) break;
                sleep_for_cqe_locked(lock, deadline{std::min(give_up, clock::now() + cancel_wait_step), false});
            }
            release_cq_locked();
        }
    }

    // Progress without a waiter (API.md "Asynchrony"): continuations, the flushes the barrier
    // lets go and the backlog need someone to consume CQEs. While requests are outstanding and no
    // reaper has come for a whole helper_grace, this thread owns the CQ and does it; it gives the
    // CQ up as soon as a reaper asks. A thread that keeps waiting costs it nothing: the helper is
    // parked while a reaper owns the CQ, and wakes at most once per grace period.
    void helper_main() {
        std::unique_lock lock(cq_mutex_);
        while (!helper_stop_) {
            // Every look follows a whole grace period, also after being woken: submit and the
            // reaper wake the helper at most once per grace period, however often they run.
            helper_state_.store(helper_watching, std::memory_order_relaxed);
            const uint64_t seen = reaps_;
            helper_cv_.wait_for(lock, helper_grace);
            if (helper_stop_) break;
            if (outstanding_.load(std::memory_order_seq_cst) <= 0) {
                helper_state_.store(helper_idle, std::memory_order_seq_cst);
                if (outstanding_.load(std::memory_order_seq_cst) <= 0 && !helper_stop_)
                    helper_cv_.wait(lock);  // the next submit wakes us
                continue;
            }
            if (cq_owner_ == owner_reaper) {
                helper_state_.store(helper_parked, std::memory_order_relaxed);
                helper_cv_.wait(lock);  // the reaper wakes us when it leaves
                continue;
            }
            if (reaps_ != seen || cq_owner_ != owner_none || cq_wanted_) continue;
            cq_owner_ = owner_helper;
            while (!helper_stop_ && !cq_wanted_ && outstanding_.load(std::memory_order_seq_cst) > 0) {
                drain_locked();
                if (helper_stop_ || cq_wanted_ || outstanding_.load(std::memory_order_seq_cst) <= 0) break;
                sleep_for_cqe_locked(lock, deadline::never());
            }
            release_cq_locked();
        }
    }

    // ready_ grew outside the CQ owner: a reaper asleep in the kernel must look at it.
    void poke_if_reaper_sleeps_locked() {
        if (cq_owner_ != owner_reaper) return;  // no reaper, or it waits for ownership and will look
        std::lock_guard sq(sq_mutex_);
        post_nop_locked(poke_tag);
    }

    io_uring ring_{};
    bool ring_ready_ = false;
    bool solo_ = false;  // the single-thread ring (see "the single-thread ring")
    std::atomic<bool> solo_enabled_{false};
    std::atomic<int> solo_efd_pending_{-1};  // an eventfd the owner has yet to register
    std::mutex solo_mutex_;                  // enabling, and kicks before it
    bool solo_kick_deferred_ = false;
    uint64_t solo_owner_ = 0;               // this_thread_id() of the thread that enabled the ring
    bool sqpoll_ = false;
    bool can_cancel_ = false;
    unsigned features_ = 0;
    std::atomic<uint64_t> submit_epoch_{0};
    std::atomic<bool> kick_outstanding_{false};

    std::mutex sq_mutex_;  // guards the SQ and everything down to cq_mutex_
    std::vector<queued> chunk_;
    size_t chunk_n_ = 0;
    uint64_t seq_ = 0;
    uint64_t generation_ = 0;
    flush_barrier<> barrier_;  // writes in flight; flushes and data syncs waiting for them
    basic_request_list<backlog_links> backlog_;  // SUBMITTED, the kernel would not take them yet
    std::atomic<bool> backlog_waiting_{false};   // !backlog_.empty(), for the CQ owner
    std::vector<region> regions_;  // registered buffers, by start address

    std::mutex cq_mutex_;  // guards everything below, and request::stage after submit
    std::condition_variable cq_cv_;
    owner cq_owner_ = owner_none;
    request_chain ready_;  // finished, not yet handed back
    int notify_fd_ = -1;   // the event loop's descriptor, once asked for (notify_through)
    bool kick_seen_ = false;
    bool cq_wanted_ = false;  // a reaper waits for the CQ: its owner gives it up at once
    uint64_t reaps_ = 0;      // reap calls so far (the helper's sign that a reaper is around)

    // Requests submitted and not yet in ready_ or cancelled (in the kernel, held or backlogged).
    std::atomic<int64_t> outstanding_{0};
    std::atomic<int> helper_state_{helper_idle};  // changed under cq_mutex_; submit peeks at it
    std::condition_variable helper_cv_;
    bool helper_stop_ = false;
    std::thread helper_;  // last: started by init, joined by the destructor before the rest goes
};

}  // namespace

int io_uring_create(const backend_config &config, std::unique_ptr<backend> *out) {
    auto be = std::unique_ptr<io_uring_backend>(new (std::nothrow) io_uring_backend());
    if (!be) return FILEAIO_E_NO_MEMORY;
    if (int rc = be->init(config); rc != 0) return rc;
    *out = std::move(be);
    return 0;
}

}  // namespace fileaio::detail
