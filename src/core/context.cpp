#include "core/context.hpp"

#include "core/eventfd.hpp"
#include "core/thread_id.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace fileaio::detail {
namespace {

// The first version of fileaio_ctx_options ends after uring_max_workers.
constexpr size_t options_v1_size = offsetof(fileaio_ctx_options, uring_max_workers) + sizeof(uint32_t);
constexpr uint32_t known_ctx_flags =
    FILEAIO_CTX_WAIT_WITHOUT_PENDING | FILEAIO_CTX_SINGLE_THREAD | FILEAIO_CTX_LATENCY;
constexpr uint32_t known_uring_flags = FILEAIO_URING_SQPOLL;
constexpr uint32_t max_threads_option = 1024;


// Bytes a newer caller added beyond the fields we know must be zero, or we would drop an option.
bool unknown_tail_is_zero(const fileaio_ctx_options &opts) {
    const auto *bytes = reinterpret_cast<const unsigned char *>(&opts);
    for (size_t i = sizeof(fileaio_ctx_options); i < opts.size; ++i)
        if (bytes[i] != 0) return false;
    return true;
}

// The latency clock: CLOCK_MONOTONIC through the vDSO (about 23 ns here, clocksource tsc), read
// once per submit call and once per batch a wait hands back, only while latency is recorded.
uint64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

size_t latency_slot(op kind) {
    switch (kind) {
    case op::read:
    case op::readv: return FILEAIO_LATENCY_READ;
    case op::write:
    case op::writev: return FILEAIO_LATENCY_WRITE;
    case op::flush:
    case op::datasync: break;
    }
    return FILEAIO_LATENCY_SYNC;
}

// The first version of fileaio_latency ends after p9999_ns.
constexpr size_t latency_v1_size = offsetof(fileaio_latency, p9999_ns) + sizeof(uint64_t);
constexpr int latency_ops = 3;

void update_max(std::atomic<uint64_t> &max, uint64_t value) {
    uint64_t cur = max.load(std::memory_order_relaxed);
    while (value > cur && !max.compare_exchange_weak(cur, value, std::memory_order_relaxed)) {
    }
}

// Whether descriptor `theirs` still refers to the open eventfd behind `ours` (kcmp). Where the
// kernel cannot say, trust the rule that the caller never closes it.
bool same_open_file(int theirs, int ours) {
    const pid_t self = ::getpid();
    const long rc = ::syscall(SYS_kcmp, self, self, KCMP_FILE, theirs, ours);
    if (rc == 0) return true;
    if (rc > 0) return false;
    return errno != EBADF;  // closed: nothing of ours to close
}

}  // namespace

deadline deadline::after_ms(uint32_t ms) {
    if (ms == FILEAIO_WAIT_FOREVER) return never();
    return {clock::now() + std::chrono::milliseconds(ms), false};
}

context::context(uint32_t max, uint32_t fl, fileaio_backend k, std::unique_ptr<backend> be)
    : max_reqs(max), flags(fl), kind(k), backend_(std::move(be)) {}

context::~context() {
    magic = 0;
    backend_.reset();  // its threads and the kernel stop signalling the descriptor first
    const int ours = notify_fd_.load(std::memory_order_acquire);
    if (ours < 0) return;
    // The caller's copy is closed only while it is still ours: if they closed it and the number
    // now names one of their files, closing it would take that file from them.
    if (const int theirs = ready_fd_.load(std::memory_order_acquire); same_open_file(theirs, ours)) ::close(theirs);
    ::close(ours);
}

int create_context(const fileaio_ctx_options &caller, context **out) {
    if (caller.size < options_v1_size) return FILEAIO_E_INVALID_PARAMETER;
    if (caller.size > sizeof(fileaio_ctx_options) && !unknown_tail_is_zero(caller)) return FILEAIO_E_NOT_SUPPORTED;
    // The struct grows at its end (docs/releasing.md): a caller built against an older header
    // owns only caller.size bytes. Read those, and the fields it does not know stay 0 (default).
    fileaio_ctx_options opts{};
    std::memcpy(&opts, &caller, std::min(caller.size, sizeof opts));
    if (opts.max_reqs == 0) return FILEAIO_E_INVALID_PARAMETER;
    if (opts.max_reqs == FILEAIO_UNLIMITED_REQS) return FILEAIO_E_OUT_OF_RANGE;
    if ((opts.flags & ~known_ctx_flags) != 0) return FILEAIO_E_INVALID_PARAMETER;
    fileaio_backend kind = FILEAIO_BACKEND_AUTO;
    if (!backend_from_raw(raw_enum(opts.backend), &kind)) return FILEAIO_E_INVALID_PARAMETER;
    if (opts.threads > max_threads_option) return FILEAIO_E_INVALID_PARAMETER;
    if ((opts.uring_flags & ~known_uring_flags) != 0) return FILEAIO_E_INVALID_PARAMETER;

    backend_config config;
    config.max_reqs = opts.max_reqs;
    config.threads = opts.threads;
    config.uring_flags = opts.uring_flags;
    config.uring_max_workers = opts.uring_max_workers;
    config.single_thread = (opts.flags & FILEAIO_CTX_SINGLE_THREAD) != 0;

    std::unique_ptr<backend> be;
    fileaio_backend chosen = FILEAIO_BACKEND_AUTO;
    if (int rc = create_backend(kind, config, &be, &chosen); rc != 0) return rc;
    auto *ctx = new (std::nothrow) context(opts.max_reqs, opts.flags, chosen, std::move(be));
    if (ctx == nullptr) return FILEAIO_E_NO_MEMORY;
    if ((opts.flags & FILEAIO_CTX_LATENCY) != 0) {
        if (int rc = ctx->set_latency(true); rc != 0) {
            delete ctx;
            return rc;
        }
    }
    *out = ctx;
    return 0;
}

bool context::owner_thread_ok(bool claim) {
    if ((flags & FILEAIO_CTX_SINGLE_THREAD) == 0) return true;
    const uint64_t me = this_thread_id();  // never a pthread_t: an exited owner's is reused
    uint64_t owner = owner_thread_.load(std::memory_order_relaxed);
    if (owner == me) return true;
    if (owner != 0 || !claim) return owner == 0;
    // The first submit or wait makes its thread the owner; a racing second thread loses.
    return owner_thread_.compare_exchange_strong(owner, me, std::memory_order_relaxed) || owner == me;
}

void context::rollback_claims(request *const *reqs, size_t n) {
    for (size_t i = 0; i < n; ++i) reqs[i]->state.store(req_state::prepared, std::memory_order_release);
}

int context::submit(request *const *reqs, size_t count, size_t *submitted) {
    if (submitted != nullptr) *submitted = 0;
    if (reqs == nullptr || count == 0) return FILEAIO_E_INVALID_PARAMETER;
    if (!owner_thread_ok(true)) return FILEAIO_E_BUSY;  // FILEAIO_CTX_SINGLE_THREAD, another thread

    // Claim every element (PREPARED -> CLAIMED) in order; the first faulty one undoes the claims.
    for (size_t i = 0; i < count; ++i) {
        request *r = reqs[i];
        int fault = 0;
        req_state expected = req_state::prepared;
        if (!is_live(r)) {
            fault = FILEAIO_E_INVALID_HANDLE;
        } else if (!r->state.compare_exchange_strong(expected, req_state::claimed, std::memory_order_acq_rel)) {
            if (expected == req_state::completed) {
                fault = FILEAIO_E_NOT_PREPARED;
            } else if (expected == req_state::claimed && std::find(reqs, reqs + i, r) != reqs + i) {
                fault = FILEAIO_E_INVALID_PARAMETER;  // the same request twice in this batch
            } else {
                fault = FILEAIO_E_IN_PROGRESS;
            }
        }
        if (fault != 0) {
            rollback_claims(reqs, i);
            return fault;
        }
    }

    // Reserve room under the limit.
    uint64_t cur = pending_.load(std::memory_order_relaxed);
    do {
        if (cur + count > max_reqs) {
            rollback_claims(reqs, count);
            return FILEAIO_E_LIMIT_EXCEEDED;
        }
    } while (!pending_.compare_exchange_weak(cur, cur + count, std::memory_order_seq_cst, std::memory_order_relaxed));
    update_max(pending_max_, cur + count);
    // A wakeup that a wait would have answered E_NO_REQUEST to becomes one it reports. seq_cst
    // (no fence: GCC's -fsanitize=thread refuses atomic_thread_fence) against wakeup(), which
    // stores the flag, then reads pending_, and against get_fd(), which stores ready_fd_, then
    // reads both: one of us sees the other.
    if (ready_fd_.load(std::memory_order_seq_cst) >= 0 && wakeup_pending_.load(std::memory_order_seq_cst))
        signal_ready();

    // SUBMITTED before the backend sees them: a completion may be reaped before submit returns.
    // One clock reading stamps the whole batch (0: not recorded; see record_latency).
    const uint64_t stamp = latency_on_.load(std::memory_order_relaxed) ? monotonic_ns() : 0;
    for (size_t i = 0; i < count; ++i) {
        request *r = reqs[i];
        r->owner.store(this, std::memory_order_relaxed);  // published by the release below
        r->stage.store(0, std::memory_order_relaxed);
        r->at_stream = false;
        r->submit_ns = stamp;
        r->state.store(req_state::submitted, std::memory_order_release);
    }
    size_t accepted = 0;
    int rc = backend_->submit(reqs, count, &accepted);
    if (rc != 0 && accepted < count) {
        for (size_t i = accepted; i < count; ++i) settle(reqs[i], req_state::prepared);
        pending_.fetch_sub(count - accepted, std::memory_order_acq_rel);
    } else {
        accepted = count;
        rc = 0;
    }
    submitted_.fetch_add(accepted, std::memory_order_relaxed);
    if (submitted != nullptr) *submitted = accepted;
    return rc;
}

void context::account(request *const *reqs, size_t n) {
    if (n == 0) return;
    if (latency_state *lat = latency_.load(std::memory_order_acquire); lat != nullptr) {
        // Only a wait calls this, and waits exclude each other: the recorders' one writer.
        uint64_t now = 0;
        for (size_t i = 0; i < n; ++i) {
            const request *r = reqs[i];
            if (r->submit_ns == 0) continue;  // submitted while not recording
            if (now == 0) now = monotonic_ns();
            lat->rec[latency_slot(r->kind)].record(now > r->submit_ns ? now - r->submit_ns : 0);
        }
    }
    uint64_t errors = 0;
    for (size_t i = 0; i < n; ++i)
        if (reqs[i]->result < 0) ++errors;
    completed_.fetch_add(n, std::memory_order_relaxed);
    if (errors != 0) failed_.fetch_add(errors, std::memory_order_relaxed);
    pending_.fetch_sub(n, std::memory_order_acq_rel);
}

size_t context::finish(request **reqs, size_t n) {
    size_t done = 0;
    size_t i = 0;
    if (kept_aside_count_.load(std::memory_order_seq_cst) == 0) {
        for (; i < n; ++i) {
            request *r = reqs[i];
            req_state s = req_state::submitted;
            if (r->state.compare_exchange_strong(s, req_state::completed, std::memory_order_seq_cst)) {
                reqs[done++] = r;
                continue;
            }
            if (s != req_state::cancelling) state_invariant_broken(r, s, "wait");
            break;
        }
    }
    if (i < n) {
        // reqs[i] is held by a cancel deciding about it right now (it will answer E_COMPLETED: the
        // backend has handed it out). Waiting for that here could hold a poll for as long as the
        // canceller is off the CPU, so it is kept aside for a later wait — and so is everything
        // that finished after it, and everything reaped while anything is kept aside, so that
        // requests are still handed back in the order the backend finished them (a flush after
        // its writes). The backend is done with them: next is free.
        {
            std::lock_guard lock(kept_aside_mutex_);
            for (size_t k = i; k < n; ++k) kept_aside_.append(reqs[k]);
        }
        kept_aside_count_.fetch_add(n - i, std::memory_order_seq_cst);  // a cancel ending now kicks us
    }
    account(reqs, done);
    return done;
}

size_t context::take_back_kept_aside(request **out, size_t cap) {
    if (cap == 0 || kept_aside_count_.load(std::memory_order_seq_cst) == 0) return 0;
    size_t n = 0;
    {
        std::lock_guard lock(kept_aside_mutex_);
        // In order, up to the first one a cancel still holds (maybe another cancel by now).
        while (n < cap && !kept_aside_.empty()) {
            request *r = kept_aside_.head;
            req_state s = req_state::submitted;
            if (!r->state.compare_exchange_strong(s, req_state::completed, std::memory_order_seq_cst)) {
                if (s != req_state::cancelling) state_invariant_broken(r, s, "wait (kept aside)");
                break;
            }
            out[n++] = kept_aside_.pop_front();
        }
    }
    if (n != 0) kept_aside_count_.fetch_sub(n, std::memory_order_seq_cst);
    account(out, n);
    return n;
}

int context::wait(size_t min_reqs, uint32_t timeout_ms, request **completed, size_t capacity, size_t *count) {
    *count = 0;
    if (min_reqs > capacity) return FILEAIO_E_OUT_OF_RANGE;
    // FILEAIO_CTX_SINGLE_THREAD, another thread: before the one-waiter flag, which it must not touch.
    if (!owner_thread_ok(true)) return FILEAIO_E_BUSY;
    // seq_cst: a wakeup stores its flag, then looks for a wait to kick; we enter, then look at the
    // flag before every reap. One of us sees the other.
    if (waiting_.exchange(true, std::memory_order_seq_cst)) return FILEAIO_E_BUSY;
    struct leave_guard {
        std::atomic<bool> &flag;
        ~leave_guard() { flag.store(false, std::memory_order_release); }
    } guard{waiting_};

    if (pending_.load(std::memory_order_acquire) == 0 && (flags & FILEAIO_CTX_WAIT_WITHOUT_PENDING) == 0) {
        rearm_ready();  // takes nothing; only ends a readiness that has nothing behind it
        return FILEAIO_E_NO_REQUEST;
    }
    if (min_reqs == 0) min_reqs = 1;
    // Whatever this wait returns, the descriptor then says whether anything is left.
    struct rearm_guard {
        context &ctx;
        ~rearm_guard() { ctx.rearm_ready(); }
    } rearm{*this};

    // One deadline for the whole call, however often the backend returns early.
    const deadline dl = timeout_ms == 0 ? deadline::poll() : deadline::after_ms(timeout_ms);
    size_t got = 0;
    for (;;) {
        got += take_back_kept_aside(completed + got, capacity - got);
        if (got < capacity) {
            // Enough already: only collect what is there. Else block for the rest.
            // A wakeup that came before this wait began did not kick the backend: never block then.
            const bool woken = wakeup_pending_.load(std::memory_order_seq_cst);
            const size_t want = min_reqs > got ? min_reqs - got : 1;
            const size_t n =
                backend_->reap(completed + got, capacity - got, want, got >= min_reqs || woken ? deadline::poll() : dl);
            got += finish(completed + got, n);
            got += take_back_kept_aside(completed + got, capacity - got);  // what finish put aside, if ready
        }
        *count = got;
        // A pending wakeup wins over completions (they are still handed back).
        if (wakeup_pending_.load(std::memory_order_acquire) &&
            wakeup_pending_.exchange(false, std::memory_order_acq_rel))
            return FILEAIO_E_INTERRUPTED;
        if (got >= min_reqs) return 0;
        if (dl.expired()) return FILEAIO_E_TIMEOUT;
    }
}

int context::wakeup() {
    wakeup_pending_.store(true, std::memory_order_seq_cst);
    // Only a wait in progress needs the backend's kick; the next wait sees the flag before it
    // blocks. (A kick with nobody waiting would be work for nothing, and io_uring's kick NOP,
    // posted later by an SQPOLL thread, would make the event loop's descriptor readable for a
    // wakeup that a wait answers with E_NO_REQUEST.)
    if (waiting_.load(std::memory_order_seq_cst)) backend_->kick();
    // Readable only when a wait would report it: with nothing pending it answers E_NO_REQUEST,
    // and the submit that changes that makes the descriptor readable.
    if (ready_fd_.load(std::memory_order_acquire) >= 0) {
        if (pending_.load(std::memory_order_seq_cst) != 0 || (flags & FILEAIO_CTX_WAIT_WITHOUT_PENDING) != 0) {
            signal_ready();
        } else {
            rearm_ready();  // the backend's kick may have signalled it (io_uring's NOP does)
        }
    }
    return 0;
}

int context::get_fd(int *fd) {
    int efd = ready_fd_.load(std::memory_order_acquire);
    if (efd < 0) {
        std::lock_guard lock(ready_fd_mutex_);
        efd = ready_fd_.load(std::memory_order_relaxed);
        if (efd < 0) {
            const int made = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (made < 0) return -errno;  // -EMFILE, -ENFILE, -ENOMEM: the operating system's answer
            const int ours = ::fcntl(made, F_DUPFD_CLOEXEC, 0);
            if (ours < 0) {
                const int err = -errno;
                ::close(made);
                return err;
            }
            if (int rc = backend_->notify_through(ours); rc != 0) {
                ::close(ours);
                ::close(made);
                return rc;
            }
            if (fd_paused_.load(std::memory_order_relaxed)) backend_->pause_notify(true);
            notify_fd_.store(ours, std::memory_order_seq_cst);  // before ready_fd_: who sees one sees both
            ready_fd_.store(made, std::memory_order_seq_cst);
            efd = made;
            rearm_ready();  // what finished before the backend knew of it
        }
    }
    *fd = efd;
    return 0;
}

// Paused: the backend may stop signalling the descriptor and waits leave it alone. Resumed: the
// backend signals again first, then the descriptor is re-armed (cleared, then set if anything is
// there), so a completion is either seen by that look or signals by itself.
int context::pause_fd(bool paused) {
    std::lock_guard lock(ready_fd_mutex_);
    if (fd_paused_.load(std::memory_order_relaxed) == paused) return 0;
    fd_paused_.store(paused, std::memory_order_seq_cst);
    if (ready_fd_.load(std::memory_order_relaxed) < 0) return 0;  // get_fd applies it
    backend_->pause_notify(paused);
    if (!paused) rearm_ready();
    return 0;
}

void context::signal_ready() const {
    if (const int efd = notify_fd_.load(std::memory_order_acquire); efd >= 0) eventfd_signal(efd);
}

void context::rearm_ready() {
    const int efd = notify_fd_.load(std::memory_order_acquire);
    if (efd < 0) return;
    // Paused (pause_fd): left as it is; resuming re-arms it. A wait that read the flag before a
    // resume stored it is followed by the resume's own re-arm.
    if (fd_paused_.load(std::memory_order_seq_cst)) return;
    // Clear first, then look: whatever arrives after the look signals again by itself (backends
    // write after they publish; the kernel signals after it posts), so nothing is missed. The
    // eventfd's own lock orders our read against their write: a write before it is a publication
    // the look sees, a write after it leaves the descriptor readable. (No atomic_thread_fence:
    // GCC's -fsanitize=thread refuses it.)
    eventfd_drain(efd);
    if (ready_now()) signal_ready();
}

bool context::ready_now() {
    if (wakeup_pending_.load(std::memory_order_seq_cst) &&
        (pending_.load(std::memory_order_seq_cst) != 0 || (flags & FILEAIO_CTX_WAIT_WITHOUT_PENDING) != 0))
        return true;
    return backend_->has_completions() || kept_aside_ready();
}

// Kept aside behind a cancel that still decides is not ready yet: that cancel signals as it ends.
bool context::kept_aside_ready() {
    if (kept_aside_count_.load(std::memory_order_seq_cst) == 0) return false;
    std::lock_guard lock(kept_aside_mutex_);
    return !kept_aside_.empty() && kept_aside_.head->state.load(std::memory_order_seq_cst) == req_state::submitted;
}

// r is CANCELLING (held by the caller, detail::cancel) and was submitted to this context. Gives it
// up before returning (COMPLETED, or SUBMITTED again) and does not touch it after that.
int context::cancel(request *r) {
    // Once r is given back, its wait may hand it back and its owner destroy this context at once:
    // destroy is refused (E_BUSY) while cancels_running_ says that this cancel still uses it.
    cancels_running_.fetch_add(1, std::memory_order_seq_cst);
    // FILEAIO_CTX_SINGLE_THREAD: another thread than the owner gets E_BUSY and changes nothing.
    const int rc = owner_thread_ok(false) ? backend_->cancel(r) : FILEAIO_E_BUSY;
    if (rc == 0) {
        r->result = FILEAIO_E_CANCELED;
        r->transferred = 0;
        canceled_.fetch_add(1, std::memory_order_relaxed);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
        r->state.store(req_state::completed, std::memory_order_seq_cst);
        // The last pending request gone: a wakeup that made the descriptor readable is no longer
        // one a wait would report (it answers E_NO_REQUEST).
        if (pending_.load(std::memory_order_seq_cst) == 0) rearm_ready();
    } else {
        r->state.store(req_state::submitted, std::memory_order_seq_cst);
        // A wait may have kept r aside while we decided (finish); if it sleeps now, it must look
        // again, and an event loop must be told. (seq_cst on both sides: the wait counts, then
        // reads the state; we store, then read the count.)
        if (kept_aside_count_.load(std::memory_order_seq_cst) != 0) {
            backend_->kick();
            signal_ready();
        }
    }
    cancels_running_.fetch_sub(1, std::memory_order_seq_cst);  // the last touch of this context
    return rc;
}

int context::try_destroy() {
    if (waiting_.load(std::memory_order_acquire)) return FILEAIO_E_BUSY;
    if (pending_.load(std::memory_order_acquire) != 0) return FILEAIO_E_BUSY;
    // A cancel that has just given back the last pending request may still be returning (it kicks
    // a wait that kept something aside). It began before pending fell to 0, so this sees it.
    if (cancels_running_.load(std::memory_order_seq_cst) != 0) return FILEAIO_E_BUSY;
    return 0;
}

void context::get_stats(fileaio_stats *st) const {
    *st = fileaio_stats{};
    st->submitted = submitted_.load(std::memory_order_relaxed);
    st->completed = completed_.load(std::memory_order_relaxed);
    st->canceled = canceled_.load(std::memory_order_relaxed);
    st->failed = failed_.load(std::memory_order_relaxed);
    st->pending = pending_.load(std::memory_order_relaxed);
    st->pending_max = pending_max_.load(std::memory_order_relaxed);
}

int context::set_latency(bool on) {
    if (on && latency_.load(std::memory_order_acquire) == nullptr) {
        std::lock_guard lock(latency_mutex_);
        if (latency_owned_ == nullptr) {
            latency_owned_.reset(new (std::nothrow) latency_state);
            if (latency_owned_ == nullptr) return FILEAIO_E_NO_MEMORY;
            latency_.store(latency_owned_.get(), std::memory_order_release);
        }
    }
    latency_on_.store(on, std::memory_order_relaxed);
    return 0;
}

bool context::latency_snapshot(int op_code, latency_histogram *out) const {
    const latency_state *lat = latency_.load(std::memory_order_acquire);
    if (lat == nullptr) {
        out->reset();
        return false;
    }
    const auto slot = static_cast<size_t>(op_code);
    std::array<uint64_t, latency_recorder::bucket_count> counts;
    std::lock_guard lock(latency_mutex_);  // against a reset moving the baseline
    lat->rec[slot].load_counts(counts.data());
    // The recorder only grows and the baseline is an earlier reading of it: no difference is negative.
    for (size_t i = 0; i < counts.size(); ++i) counts[i] -= lat->base_counts[slot][i];
    out->assign(counts.data(), counts.size(), lat->rec[slot].sum() - lat->base_sum[slot], lat->rec[slot].min(),
                lat->rec[slot].max());
    return true;
}

int context::get_latency(int op_code, fileaio_latency *out) const {
    if (op_code < 0 || op_code >= latency_ops) return FILEAIO_E_INVALID_PARAMETER;
    if (out->size < latency_v1_size) return FILEAIO_E_INVALID_PARAMETER;
    const size_t caller_size = out->size;
    auto h = std::make_unique<latency_histogram>();  // 10 KiB; bad_alloc is E_NO_MEMORY (capi guarded)
    latency_snapshot(op_code, h.get());
    fileaio_latency v{};
    v.size = std::min(caller_size, sizeof v);
    v.enabled = latency_on_.load(std::memory_order_relaxed) ? 1 : 0;
    v.count = h->count();
    v.min_ns = h->min();
    v.max_ns = h->max();
    v.mean_ns = h->count() == 0 ? 0 : h->sum() / h->count();
    v.p50_ns = h->percentile(50.0);
    v.p90_ns = h->percentile(90.0);
    v.p99_ns = h->percentile(99.0);
    v.p999_ns = h->percentile(99.9);
    v.p9999_ns = h->percentile(99.99);
    // A newer caller's struct is longer: what we do not know of it reads 0.
    std::memcpy(out, &v, std::min(caller_size, sizeof v));
    if (caller_size > sizeof v) std::memset(reinterpret_cast<unsigned char *>(out) + sizeof v, 0, caller_size - sizeof v);
    return 0;
}

int context::get_latency_buckets(int op_code, uint64_t *counts, size_t capacity, size_t *n) const {
    if (op_code < 0 || op_code >= latency_ops) return FILEAIO_E_INVALID_PARAMETER;
    *n = latency_recorder::bucket_count;
    if (counts == nullptr && capacity == 0) return 0;
    if (capacity < latency_recorder::bucket_count) return FILEAIO_E_OUT_OF_RANGE;
    auto h = std::make_unique<latency_histogram>();
    latency_snapshot(op_code, h.get());
    for (size_t i = 0; i < latency_recorder::bucket_count; ++i) counts[i] = h->bucket(i);
    return 0;
}

void context::reset_latency() {
    latency_state *lat = latency_.load(std::memory_order_acquire);
    if (lat == nullptr) return;
    std::lock_guard lock(latency_mutex_);
    for (size_t k = 0; k < latency_ops; ++k) {
        lat->rec[k].load_counts(lat->base_counts[k].data());
        lat->base_sum[k] = lat->rec[k].sum();
        lat->rec[k].restart_extremes();
    }
}

int context::associate_with_file(int fd) {
    if (fd < 0) return FILEAIO_E_INVALID_PARAMETER;
    return backend_->associate_with_file(fd);
}

int context::register_buffers(const struct iovec *iov, unsigned count) {
    if (pending_.load(std::memory_order_acquire) != 0) return FILEAIO_E_BUSY;  // state before arguments
    if (!owner_thread_ok(false)) return FILEAIO_E_BUSY;
    if (iov == nullptr || count == 0 || count > IOV_MAX) return FILEAIO_E_INVALID_PARAMETER;
    for (unsigned i = 0; i < count; ++i)
        if (iov[i].iov_base == nullptr || iov[i].iov_len == 0) return FILEAIO_E_INVALID_PARAMETER;
    return backend_->register_buffers(iov, count);
}

int context::unregister_buffers() {
    if (pending_.load(std::memory_order_acquire) != 0) return FILEAIO_E_BUSY;
    if (!owner_thread_ok(false)) return FILEAIO_E_BUSY;
    return backend_->unregister_buffers();
}

}  // namespace fileaio::detail
