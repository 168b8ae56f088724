// The linux_aio backend: the kernel's native AIO through libaio, for what it runs asynchronously,
// and helper threads for everything else.
//
// Routing (decided per fd per batch, never cached by fd number, which the caller may close and
// reuse): io_submit only runs I/O asynchronously for O_DIRECT on block devices and on regular
// files of file systems on a block device (statx: the device's major is not 0; no round trip to a
// FUSE daemon or NFS server). Those go to the kernel. Everything else — buffered files, pipes,
// sockets, character devices, FUSE, NFS, tmpfs, btrfs (anonymous device numbers) — would run
// inside io_submit and block the submitting thread (an empty pipe forever), so it goes to a pool of
// helper threads that grows on demand up to `threads` (default 16). Like the thread_pool backend,
// a buffered read (up to 256 KiB) is first tried in submit with preadv2(RWF_NOWAIT): submit puts
// its candidates on the pool's shared list and serves its own (never another thread's), an idle
// helper (woken for a batch of 8 or more) serving the list too, so that two cores copy at once; a
// hit completes there (through done_), a miss goes to the helpers' FIFO. Buffered writes to a
// regular file run on the fd's lane of the pool, one helper at a time, back to back (ext4 refuses
// them with RWF_NOWAIT; the kernel serializes them on the inode lock anyway). A descriptor that
// cannot seek (preadv2 says ESPIPE) is read and written at its stream position (offset -1).
//
// The helpers are core/worker_pool, thread_pool's pool too: submit never starts or joins a thread
// (the pool's staffer does), a helper that runs a request on a pipe, FIFO, socket or character
// device (statx type, per fd per batch; for a cached read that misses, its ESPIPE) does not count
// toward `threads` while it does (such a request may wait for another request of the same context,
// which must still get a helper), and the helpers beyond `threads` exit after a second without
// work. What a helper finishes goes to done_, and a write that finishes there may release flushes
// (below).
//
// One aio context per fileaio context, sized max_reqs + 1: the extra slot is a poll iocb
// (IOCB_CMD_POLL) on an eventfd. kick() and whatever finishes a request outside the ring while a
// reaper is present write that eventfd; the poll iocb then completes, so io_getevents wakes
// without signals. The ring's owner drains the eventfd and re-arms the poll iocb.
// IOCB_FLAG_RESFD is not used for that: it would cost an eventfd signal per I/O.
//
// Event loops (API.md): once the context's descriptor has been asked for (notify_through), every
// iocb handed to the kernel carries IOCB_FLAG_RESFD with it, so the kernel signals it as each one
// completes, and whatever puts the first request on an empty done_ writes it. iocbs that went to
// the kernel before (counted in unflagged_) signal nothing: while any is in flight, the watcher
// takes the ring at once whenever no reaper has it, so that they reach done_ (and the descriptor)
// without a grace period.
//
// The ring has one owner at a time: the reaper (a thread in wait), or, when kernel I/O has been in
// flight for a grace period (10 ms) with no reaper at all, the watcher thread. The watcher consumes
// events onto done_, continues short transfers and releases held flushes, so requests make
// progress with nobody waiting; a reaper that arrives takes the ring back (eventfd, then a
// condition variable). A thread sitting in wait costs the watcher nothing but a tick per grace
// period while kernel I/O is in flight; with nothing in the kernel it sleeps.
//
// Flush and data sync are barriers. Every write is on barrier_.writes from submit until the reaper
// hands it back; a flush that finds an earlier write to its fd there that has not finished is held
// (barrier_.held). Once every such write has finished it is released: to its route if they have
// all been handed back (only the reaper does that), else to the helper pool, so that it completes
// through done_ after them. So the flush is always reported after those writes.
// IOCB_CMD_FSYNC/FDSYNC refused at submit (EINVAL: filesystems without it) run on a helper.
//
// Kernel reads and writes carry RWF_NOWAIT: even O_DIRECT on ext4 runs inside io_submit when it
// extends the file (an append of 256 MiB held submit for its whole 196 ms), and waits there for
// block-layer tags or the inode lock. With RWF_NOWAIT the kernel answers -EAGAIN instead (as a
// completion); the ring's owner (reaper or watcher) then hands the request to the helpers at once,
// which run the rest blocking. A file that refuses RWF_NOWAIT (-EOPNOTSUPP, at io_submit or as a
// completion) goes to the helpers the same way. Such a request cannot be cancelled any more.
//
// Short transfers (and -EINTR) on the kernel path are re-prepared for the remainder and resubmitted
// by the ring's owner; helpers loop until the transfer is whole. A request the kernel refuses at
// io_submit completes through done_ with that error; EAGAIN there (out of kernel memory) punts it
// to the pool, so submit never has to give up part way.
//
// cancel: held flushes and requests queued for the helpers are stopped (0), unless they have moved
// bytes already (then E_IN_PROGRESS: they go on). Requests in the kernel
// go to io_cancel, which on Linux only cancels poll/USB-gadget iocbs: it answers EINVAL for file
// I/O (and since 3.11 delivers any cancellation through the ring, never as a 0 return). Those map
// to E_COMPLETED when the completion is already in the ring, else E_IN_PROGRESS.
#include "backends/linux_aio.hpp"

#include <fcntl.h>
#include <libaio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

#include "core/quiet_thread.hpp"
#include "core/eventfd.hpp"
#include "core/flush_barrier.hpp"
#include "core/request.hpp"
#include "core/sync_io.hpp"
#include "core/request_list.hpp"
#include "core/worker_pool.hpp"

namespace fileaio::detail {
namespace {

constexpr size_t submit_chunk = 64;         // iocbs per io_submit call
constexpr size_t event_batch = 256;         // io_events per io_getevents call
constexpr unsigned internal_iocbs = 1;      // the poll iocb on the wakeup eventfd
constexpr unsigned iocb_flag_resfd = 1u << 0;  // IOCB_FLAG_RESFD (linux/aio_abi.h; what io_set_eventfd sets)
constexpr long poll_fallback_slice_ns = 1'000'000;  // reap's sleep slice if the poll iocb cannot be armed
constexpr unsigned default_aio_max_nr = 65536;
constexpr uint32_t aio_ring_magic = 0xa10a10a1;
constexpr const char *aio_nr_path = "/proc/sys/fs/aio-nr";
constexpr const char *aio_max_nr_path = "/proc/sys/fs/aio-max-nr";
constexpr int poll_min_kernel_major = 4;    // IOCB_CMD_POLL: Linux 4.18
constexpr int poll_min_kernel_minor = 18;
constexpr uint32_t default_helpers = 16;
// Larger cached reads are left to the helpers, which can copy in parallel.
constexpr size_t inline_max_bytes = 256 * 1024;
// How long kernel I/O may sit with no reaper before the watcher takes the ring.
constexpr auto watcher_grace = std::chrono::milliseconds(10);
constexpr long watcher_grace_ns = 10'000'000;

// How I/O on one fd runs.
struct fd_route {
    bool kernel = false;  // kernel AIO (else the helpers)
    bool direct = false;  // O_DIRECT (never tried in submit with RWF_NOWAIT)
    bool unbounded = false;  // is_stream_type (O_DIRECT only: else asked when needed)
};

// Decided per fd per batch: an fd number says nothing about the file once it is closed and reused.
// A bad fd goes to the kernel, which refuses it at once with EBADF.
//
// Only O_DIRECT on a block device, or on a regular file whose file system sits on a real block
// device (the device number's major is not 0), goes to the kernel. statx with AT_STATX_DONT_SYNC
// answers from the inode the kernel has: no round trip to a FUSE daemon or an NFS server (fstat
// may make one, fstatfs always does on FUSE), so submit never waits for one. A file system on an
// anonymous device (FUSE, NFS, tmpfs, overlayfs, and also btrfs, whose subvolumes have anonymous
// device numbers) goes to the helpers.
fd_route route_of(int fd) {
    fd_route rt;
    const int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        rt.kernel = true;
        return rt;
    }
    rt.direct = (fl & O_DIRECT) != 0;
    if (!rt.direct) return rt;
    struct statx stx {};
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) != 0) return rt;
    rt.unbounded = is_stream_type(stx.stx_mode);
    if (S_ISBLK(stx.stx_mode)) {
        rt.kernel = true;
    } else if (S_ISREG(stx.stx_mode)) {
        rt.kernel = stx.stx_dev_major != 0;
    }
    return rt;
}

// request::stage for this backend.
enum stage : uint32_t {
    stage_new = 0,
    stage_kernel,          // an iocb for it is in (or on its way to) the kernel
    stage_held,            // a flush held by barrier_ for earlier writes
    stage_helper,          // queued for the helpers
    stage_helper_running,  // a helper runs it
    stage_shared,          // a cached-read candidate on the pool's shared list
    stage_serving,         // being served from the shared list (RWF_NOWAIT)
    stage_done,            // finished: on done_ or being handed back by reap
    stage_canceled,
};

// What this backend keeps in request::scratch.
struct aio_scratch {
    pool_entry pool;         // first: the helper pool's (worker_pool::entry)
    struct iocb cb;
    struct iovec rest;       // the remainder of a partly transferred iovec element
    request *link_next;      // done_ (a write is on barrier_.writes as well)
    request *link_prev;
    bool kernel;             // routed to kernel AIO
    bool direct;             // the fd is O_DIRECT
    bool nowait;             // its kernel iocbs carry RWF_NOWAIT (reads and writes)
    bool left_kernel;        // the kernel said "would block" and a helper runs the rest
};
static_assert(sizeof(aio_scratch) <= backend_scratch_size, "the iocb must fit the request's scratch");
static_assert(offsetof(aio_scratch, pool) == 0, "worker_pool::entry is at the start of the scratch");
static_assert(alignof(aio_scratch) <= 16, "scratch is 16-aligned");

aio_scratch *scratch_of(request *r) { return std::launder(reinterpret_cast<aio_scratch *>(r->scratch)); }

// The head of the completion ring the kernel maps at the io_context_t address (fs/aio.c).
struct aio_ring_header {
    unsigned id;
    unsigned nr;
    unsigned head;
    unsigned tail;
    unsigned magic;
    unsigned compat_features;
    unsigned incompat_features;
    unsigned header_length;
};

// The links of done_, in aio_scratch: a write may be on barrier_.writes (request::next/prev)
// and on done_ at once.
struct scratch_links {
    static request *&next(request *r) { return scratch_of(r)->link_next; }
    static request *&prev(request *r) { return scratch_of(r)->link_prev; }
};
using req_fifo = basic_request_list<scratch_links>;

// The one place a request becomes an iocb: what is left of r, from r->transferred on.
struct iocb *prepare_iocb(request *r) {
    aio_scratch *s = scratch_of(r);
    struct iocb *cb = &s->cb;
    const long long off = static_cast<long long>(r->offset) + static_cast<long long>(r->transferred);
    switch (r->kind) {
        case op::read: io_prep_pread(cb, r->fd, static_cast<char *>(r->buf) + r->transferred, r->size - r->transferred, off); break;
        case op::write: io_prep_pwrite(cb, r->fd, static_cast<char *>(r->buf) + r->transferred, r->size - r->transferred, off); break;
        case op::readv: {
            const rest_vector rest = rest_of(r, &s->rest);
            io_prep_preadv(cb, r->fd, rest.vec, rest.cnt, off);
            break;
        }
        case op::writev: {
            const rest_vector rest = rest_of(r, &s->rest);
            io_prep_pwritev(cb, r->fd, rest.vec, rest.cnt, off);
            break;
        }
        case op::flush: io_prep_fsync(cb, r->fd); break;
        case op::datasync: io_prep_fdsync(cb, r->fd); break;
    }
    if (s->nowait && !r->is_sync()) cb->aio_rw_flags = RWF_NOWAIT;
    cb->data = r;
    return cb;
}

// What one completion of r's iocb (a byte count or -errno) means for r.
enum class outcome {
    finished,  // request::absorb finished it
    again,     // it goes on in the kernel: the iocb describes the remainder (short, or -EINTR)
    helpers,   // RWF_NOWAIT: the kernel would have blocked; a helper runs the rest
};

// -EAGAIN for a RWF_NOWAIT iocb: the I/O would block (an extending write, a busy block-layer
// queue, a contended inode lock); -EOPNOTSUPP: this file does not take RWF_NOWAIT. Either way the
// rest runs on a helper, where blocking is allowed, from what the kernel has moved so far.
outcome completion_outcome(request *r, long res) {
    aio_scratch *s = scratch_of(r);
    if (s->nowait && (res == -EAGAIN || res == -EOPNOTSUPP)) {
        s->left_kernel = true;
        return outcome::helpers;
    }
    if (res != -EINTR && r->absorb(res)) return outcome::finished;
    prepare_iocb(r);
    return outcome::again;
}

timespec to_timespec(clock::duration d) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    if (ns < 0) ns = 0;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    return ts;
}

// A decimal value from a /proc/sys file, or false.
bool read_sysctl(const char *path, unsigned long *value) {
    FILE *f = std::fopen(path, "re");
    if (f == nullptr) return false;
    bool ok = std::fscanf(f, "%lu", value) == 1;
    std::fclose(f);
    return ok;
}

int map_setup_error(int rc) {
    switch (rc) {
        case -EAGAIN:  // fs.aio-max-nr: too little room left, or max_reqs above it
        case -ENOMEM:
        case -EMFILE:
        case -ENFILE:
        case -EINVAL:  // more events than the kernel's ring can hold (~4M): it refuses the ring memory
            return FILEAIO_E_INSUFFICIENT_RESOURCES;
        default: return FILEAIO_E_NOT_SUPPORTED;  // ENOSYS, EPERM (seccomp), ...
    }
}

class linux_aio_backend final : public backend, private pool_client {
public:
    linux_aio_backend(uint32_t max_helpers, uint32_t max_total)
        : pool_(mutex_, *this, pool_stages{stage_helper, stage_shared, stage_serving, stage_helper_running},
                max_helpers, max_total) {}

    ~linux_aio_backend() override {
        {
            std::lock_guard lock(mutex_);
            stopping_.store(true);
        }
        watcher_cv_.notify_all();
        if (wake_fd_ >= 0) notify();  // ends the watcher's io_getevents
        if (watcher_.joinable()) watcher_.join();
        pool_.stop();  // the helpers finish what is queued, and may still write wake_fd_
        if (ctx_ != nullptr) io_destroy(ctx_);  // also ends the poll iocb
        if (wake_fd_ >= 0) close(wake_fd_);
    }

    int start(uint32_t max_reqs) {
        wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd_ < 0) return errno == ENOMEM ? FILEAIO_E_NO_MEMORY : FILEAIO_E_INSUFFICIENT_RESOURCES;
        if (max_reqs > static_cast<uint32_t>(INT_MAX) - internal_iocbs) return FILEAIO_E_INSUFFICIENT_RESOURCES;
        int rc = io_setup(static_cast<int>(max_reqs + internal_iocbs), &ctx_);
        if (rc != 0) {
            ctx_ = nullptr;
            return map_setup_error(rc);
        }
        rc = arm_poll();
        if (rc == -EINVAL) return FILEAIO_E_NOT_SUPPORTED;  // no IOCB_CMD_POLL in this kernel
        if (rc != 0) return FILEAIO_E_INSUFFICIENT_RESOURCES;
        // The first helper and the watcher exist from the start: queued work always has a thread,
        // and a submit never has to run I/O itself because none could be started.
        if (int t = pool_.start(); t != 0) return t;
        if (int t = start_quiet_thread([this] { watcher_ = std::thread([this] { watcher_main(); }); }); t != 0) return t;
        return 0;
    }

    int submit(request *const *reqs, size_t n, size_t *accepted) override {
        const uint64_t own = pool_.new_batch();  // this call's candidates (serve_own)
        for (size_t base = 0; base < n; base += submit_chunk) {
            const size_t m = std::min(submit_chunk, n - base);
            request *const *chunk = reqs + base;
            struct iocb *batch[submit_chunk];
            request *to_helpers[submit_chunk];
            bool settled[submit_chunk] = {};  // held, or sent to the helpers by the barrier
            size_t nb = 0;
            size_t nh = 0;
            bool ordered = false;  // writes and syncs take part in the barrier bookkeeping
            int last_fd = -1;
            fd_route rt;
            for (size_t i = 0; i < m; ++i) {
                request *r = chunk[i];
                new (r->scratch) aio_scratch{};
                r->result = 0;
                r->transferred = 0;
                if (r->fd != last_fd || i == 0) {
                    rt = route_of(r->fd);
                    last_fd = r->fd;
                }
                aio_scratch *s = scratch_of(r);
                s->kernel = rt.kernel;
                s->direct = rt.direct;
                s->nowait = rt.kernel && !r->is_sync();
                worker_pool::entry(r).unbounded = rt.unbounded;
                ordered = ordered || r->is_write() || r->is_sync();
            }
            if (ordered) {
                size_t wake = 0;
                {
                    std::lock_guard lock(mutex_);
                    for (size_t i = 0; i < m; ++i) {
                        request *r = chunk[i];
                        if (r->is_write()) {
                            r->seq = ++seq_;
                            barrier_.writes.push_back(r);
                        } else if (r->is_sync()) {
                            r->seq = ++seq_;
                            switch (hold_for_locked(r)) {
                                case hold::none: break;
                                case hold::helper:
                                    settled[i] = true;
                                    pool_.queue_locked(r);
                                    ++wake;
                                    break;
                                case hold::held:
                                    settled[i] = true;
                                    r->stage.store(stage_held, std::memory_order_release);
                                    barrier_.held.push_back(r);
                                    break;
                            }
                        }
                    }
                    wake = pool_.staff_locked(wake);
                }
                pool_.wake(wake);
            }
            request *candidates[submit_chunk];
            size_t nc = 0;
            int type_fd = -1;  // of the last statx for a buffered fd
            bool type_known = false;
            unsigned mode = 0;
            for (size_t i = 0; i < m; ++i) {
                request *r = chunk[i];
                if (settled[i]) continue;
                aio_scratch *s = scratch_of(r);
                if (s->kernel) {
                    batch[nb++] = prepare_iocb(r);
                    // Published before the kernel sees it: the reaper acquires it with the event.
                    r->stage.store(stage_kernel, std::memory_order_release);
                    continue;
                }
                // A buffered read served from the page cache right here costs no thread switch;
                // one that would wait goes to the helpers with what it has read so far.
                // (A candidate that misses knows whether it may wait indefinitely by then: ESPIPE.)
                if (!r->is_write() && !r->is_sync() && !s->direct && r->size <= inline_max_bytes) {
                    candidates[nc++] = r;
                } else {
                    if (!s->direct && !r->is_sync()) {
                        if (!type_known || r->fd != type_fd) {
                            type_fd = r->fd;
                            type_known = true;
                            mode = fd_mode(r->fd);
                        }
                        worker_pool::entry(r).unbounded = is_stream_type(mode);
                        // A buffered write to a file runs on the fd's lane (core/worker_pool.hpp).
                        worker_pool::entry(r).serial = r->is_write() && S_ISREG(mode);
                    }
                    to_helpers[nh++] = r;
                }
            }
            if (nh != 0) pool_.enqueue(to_helpers, nh);
            // Served here (this call's own, never another thread's), and by an idle helper too
            // when the batch is big enough.
            if (nc != 0) pool_.serve_candidates(candidates, nc, own);
            if (nb != 0 && hand_to_kernel(batch, nb)) wake_reaper();
            if (nb != 0 && watcher_idle_.load()) {
                std::lock_guard lock(mutex_);
                watcher_cv_.notify_one();
            }
        }
        *accepted = n;
        return 0;
    }

    size_t reap(request **out, size_t cap, size_t want, const deadline &dl) override {
        reaper_present_.store(true);
        reaper_seen_.store(true);
        if (watcher_owns_.load()) {
            notify();  // ends the watcher's io_getevents
            std::unique_lock lock(mutex_);
            ring_cv_.wait(lock, [&] { return !watcher_owns_.load(); });
        }
        size_t n = 0;
        for (;;) {
            if (!poll_armed_) rearm_poll();
            const size_t start = n;
            if (side_pending_.load()) n += drain_side(out + n, cap - n);
            if (n >= cap) {
                untrack_and_release(out + start, n - start);
                break;
            }

            bool block = n < want && !kick_pending_.load(std::memory_order_acquire);
            timespec ts{};
            timespec *tsp = &ts;
            if (block && !dl.forever) {
                const auto now = clock::now();
                if (dl.at <= now) {  // (a poll deadline is time_point::min(): never subtract from it)
                    block = false;
                } else {
                    ts = to_timespec(dl.at - now);
                }
            } else if (block) {
                tsp = nullptr;
            }
            if (block && !poll_armed_) {
                // Degraded: without the poll iocb no wakeup reaches io_getevents; sleep in slices.
                if (tsp == nullptr || ts.tv_sec > 0 || ts.tv_nsec > poll_fallback_slice_ns) {
                    ts = timespec{0, poll_fallback_slice_ns};
                    tsp = &ts;
                }
            }
            // min_nr 1, not want - n: the poll iocb's single event must end the sleep.
            const long nr = static_cast<long>(std::min(cap - n, event_batch));
            // Not blocking and nothing in the ring (cache hits served in submit): no system call.
            int got = !block && ring_empty() ? 0 : io_getevents(ctx_, block ? 1 : 0, nr, events_, tsp);
            if (got == -EINTR) got = 0;  // a signal: go on against the same deadline
            if (got < 0) {
                untrack_and_release(out + start, n - start);
                break;  // cannot happen with a valid context; the core calls again
            }

            struct iocb *again[event_batch + 1];
            size_t na = 0;
            request *punt[event_batch];
            size_t np = 0;
            int consumed = 0;
            int unflagged = 0;  // of those, without IOCB_FLAG_RESFD (read before a continuation re-prepares the iocb)
            for (int i = 0; i < got; ++i) {
                const io_event &ev = events_[i];
                auto *r = static_cast<request *>(ev.data);
                if (r == nullptr) {  // the poll iocb: a kick or a completion outside the ring
                    again[na++] = poll_event();
                    continue;
                }
                ++consumed;
                // The ring carries no ordering the compiler (or TSan) can see: pair with the
                // release store made when the request was handed to the kernel.
                (void)r->stage.load(std::memory_order_acquire);
                if ((scratch_of(r)->cb.u.c.flags & iocb_flag_resfd) == 0) ++unflagged;
                switch (completion_outcome(r, static_cast<long>(ev.res))) {
                    case outcome::finished:
                        r->stage.store(stage_done, std::memory_order_release);
                        out[n++] = r;
                        break;
                    case outcome::again: again[na++] = &scratch_of(r)->cb; break;
                    case outcome::helpers: punt[np++] = r; break;
                }
            }
            left_kernel(consumed, unflagged);
            if (np != 0) pool_.enqueue(punt, np);
            untrack_and_release(out + start, n - start);
            if (na != 0) hand_to_kernel(again, na);

            if (kick_pending_.load(std::memory_order_acquire)) break;
            if (!block || n >= want || n >= cap) break;
            if (!dl.forever && clock::now() >= dl.at) break;
        }
        // Any return consumes the kick: the core checks its wakeup flag after every reap.
        if (kick_pending_.load(std::memory_order_relaxed)) kick_pending_.exchange(false, std::memory_order_acq_rel);
        reaper_present_.store(false);
        if (in_kernel_.load() > 0 && watcher_idle_.load()) {
            std::lock_guard lock(mutex_);
            watcher_cv_.notify_one();
        }
        return n;
    }

    void kick() override {
        kick_pending_.store(true, std::memory_order_release);
        notify();
    }

    int notify_through(int efd) override {
        std::lock_guard lock(mutex_);
        notify_fd_.store(efd, std::memory_order_release);
        if (urgent()) watcher_cv_.notify_one();  // iocbs already in flight signal nothing
        return 0;
    }

    bool has_completions() override { return side_pending_.load() || ring_holds_a_request(); }

    int cancel(request *r) override {
        switch (r->stage.load(std::memory_order_acquire)) {
            case stage_held:
            case stage_shared:
            case stage_helper: return cancel_held(r);
            case stage_kernel: break;
            case stage_done: return FILEAIO_E_COMPLETED;
            case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
            default: return FILEAIO_E_IN_PROGRESS;  // being submitted, or running on a helper
        }
        io_event ev{};
        int rc = io_cancel(ctx_, &scratch_of(r)->cb, &ev);
        if (rc == 0) {
            // Kernels before 3.11 handed the event back here instead of through the ring.
            in_kernel_.fetch_sub(1);
            if ((scratch_of(r)->cb.u.c.flags & iocb_flag_resfd) == 0) unflagged_.fetch_sub(1);
            complete_aside(r, static_cast<int>(static_cast<long>(ev.res)));
            notify();
            return FILEAIO_E_COMPLETED;
        }
        // EINVAL: not cancellable (file I/O) or already done; EINPROGRESS: the outcome comes
        // through the ring. Either way a wait returns it.
        return ring_holds(r) ? FILEAIO_E_COMPLETED : FILEAIO_E_IN_PROGRESS;
    }

private:
    // What a flush must do, given the writes to its fd submitted before it.
    enum class hold {
        none,    // none is left: it goes its own way
        helper,  // all have finished, some are not handed back yet: a helper runs it (via done_)
        held,    // some are still running
    };

    hold hold_for_locked(const request *flush) const {
        bool unreported = false;
        for (request *w = barrier_.writes.head; w != nullptr; w = w->next) {
            if (w->fd != flush->fd || w->seq >= flush->seq) continue;
            if (w->stage.load(std::memory_order_acquire) != stage_done) return hold::held;
            unreported = true;
        }
        return unreported ? hold::helper : hold::none;
    }

    // Releases held flushes whose earlier writes have all finished: to *to_kernel when they have
    // all been handed back and the flush's fd goes to the kernel (only the reaper passes a list),
    // else to the helpers. Returns how many went to the helpers.
    size_t release_flushes_locked(request_list *to_kernel) {
        size_t queued = 0;
        for (request *h = barrier_.held.head; h != nullptr;) {
            request *after = h->next;
            const hold how = hold_for_locked(h);
            if (how != hold::held) {
                barrier_.held.remove(h);
                if (how == hold::none && to_kernel != nullptr && scratch_of(h)->kernel) {
                    h->stage.store(stage_kernel, std::memory_order_release);
                    to_kernel->push_back(h);
                } else {
                    pool_.queue_locked(h);
                    ++queued;
                }
            }
            h = after;
        }
        return queued;
    }

    // Arms the poll iocb on wake_fd_ (start only). Returns 0 or -errno.
    int arm_poll() {
        io_prep_poll(&poll_cb_, wake_fd_, POLLIN);
        poll_cb_.data = nullptr;
        struct iocb *p = &poll_cb_;
        int rc;
        do {
            rc = io_submit(ctx_, 1, &p);
        } while (rc == -EINTR);
        poll_armed_ = rc == 1;
        return rc == 1 ? 0 : (rc < 0 ? rc : -EAGAIN);
    }

    void rearm_poll() {
        drain_wake_fd();
        struct iocb *p = &poll_cb_;
        io_prep_poll(&poll_cb_, wake_fd_, POLLIN);
        poll_cb_.data = nullptr;
        hand_to_kernel(&p, 1);
    }

    // The poll iocb fired: drain the eventfd and return the iocb to re-arm it with.
    struct iocb *poll_event() {
        drain_wake_fd();
        io_prep_poll(&poll_cb_, wake_fd_, POLLIN);
        poll_cb_.data = nullptr;
        poll_armed_ = false;
        return &poll_cb_;
    }

    void notify() { eventfd_signal(wake_fd_); }

    // After something was put on done_ (side_pending_ set, seq_cst): a reaper asleep in
    // io_getevents must wake; with none present the next one drains done_ first anyway.
    void wake_reaper() {
        if (reaper_present_.load()) notify();
    }

    void drain_wake_fd() { eventfd_drain(wake_fd_); }

    // Submits v[0..nb). A request the kernel refuses completes aside with the error, or goes to
    // the helpers (EAGAIN: kernel memory; EINVAL on a sync: no IOCB_CMD_FSYNC here). The poll iocb
    // (data == nullptr) records whether it is armed. Returns true when something completed aside.
    bool hand_to_kernel(struct iocb **v, size_t nb) {
        size_t done = 0;
        bool aside = false;
        const int efd = notify_fd_.load(std::memory_order_acquire);
        if (efd >= 0) {
            for (size_t i = 0; i < nb; ++i)
                if (v[i] != &poll_cb_) io_set_eventfd(v[i], efd);
        }
        while (done < nb) {
            int rc = io_submit(ctx_, static_cast<long>(nb - done), v + done);
            if (rc > 0) {
                int polls = 0;
                for (size_t i = done; i < done + static_cast<size_t>(rc); ++i) {
                    if (v[i] == &poll_cb_) {
                        poll_armed_ = true;
                        ++polls;
                    }
                }
                if (rc > polls) {
                    in_kernel_.fetch_add(rc - polls);
                    if (efd < 0) unflagged_.fetch_add(rc - polls);
                }
                done += static_cast<size_t>(rc);
                continue;
            }
            if (rc == -EINTR) continue;
            struct iocb *refused = v[done++];
            auto *r = static_cast<request *>(refused->data);
            if (r == nullptr) {
                poll_armed_ = false;  // reap retries, and sleeps in slices meanwhile
                continue;
            }
            if ((rc == -EOPNOTSUPP || rc == -EAGAIN) && scratch_of(r)->nowait) scratch_of(r)->left_kernel = true;
            if (rc == -EAGAIN || rc == 0 || (r->is_sync() && rc == -EINVAL) || scratch_of(r)->left_kernel) {
                pool_.enqueue(&r, 1);
            } else {
                complete_aside(r, rc);
                aside = true;
            }
        }
        return aside;
    }

    // Finished outside a reaper's hand-back: onto done_. A write may release flushes (to the
    // helpers, so that they are reported after it). Returns how many went to the helpers.
    size_t finish_locked(request *r) {
        r->stage.store(stage_done, std::memory_order_release);
        done_.push_back(r);
        side_added_locked();
        return r->is_write() && !barrier_.held.empty() ? release_flushes_locked(nullptr) : 0;
    }

    void complete_aside(request *r, int result) {
        r->result = result;
        size_t wake;
        {
            std::lock_guard lock(mutex_);
            wake = pool_.staff_locked(finish_locked(r));
        }
        pool_.wake(wake);
    }

    // --- the helpers (pool_client) ---

    void run(request *r) override { run_blocking(r); }

    void starting_locked(request *, std::unique_lock<std::mutex> &) override {}

    size_t finished_locked(request *const *rs, size_t n) override {
        size_t queued = 0;
        for (size_t i = 0; i < n; ++i) queued += finish_locked(rs[i]);
        return queued;
    }

    // A reaper asleep in io_getevents must learn of them (after_finish); with none present the
    // next one drains done_ first anyway.
    bool served_locked(request_chain &hits) override {
        for (request *r = hits.head; r != nullptr;) {
            request *next = r->next;
            r->stage.store(stage_done, std::memory_order_release);
            done_.push_back(r);
            r = next;
        }
        side_added_locked();
        return reaper_present_.load();
    }

    void after_finish() override { wake_reaper(); }

    // --- the watcher: progress with nobody waiting ---

    void watcher_main() {
        std::unique_lock lock(mutex_);
        while (!stopping_.load()) {
            watcher_idle_.store(true);
            watcher_cv_.wait(lock, [&] { return stopping_.load() || in_kernel_.load() > 0; });
            watcher_idle_.store(false);
            if (stopping_.load()) break;
            if (urgent()) {
                // Until the reaper present leaves (it wakes us as it does).
                if (reaper_present_.load()) {
                    watcher_idle_.store(true);
                    watcher_cv_.wait_for(lock, watcher_grace, [&] { return stopping_.load() || !reaper_present_.load(); });
                    watcher_idle_.store(false);
                    continue;
                }
            } else {
                // A reaper that comes and goes within the grace period keeps the ring.
                reaper_seen_.store(false);
                watcher_cv_.wait_for(lock, watcher_grace, [&] { return stopping_.load(); });
                if (stopping_.load()) break;
                if (reaper_seen_.load() || reaper_present_.load() || in_kernel_.load() == 0) continue;
            }
            watcher_owns_.store(true);
            if (!reaper_present_.load()) {  // (seq_cst with reap's store and load: one of us backs off)
                lock.unlock();
                watch_ring();
                lock.lock();
            }
            watcher_owns_.store(false);
            ring_cv_.notify_all();
        }
    }

    // Consumes the ring while nobody reaps: finished requests go to done_, short transfers go on,
    // held flushes are released. Returns when a reaper arrives, nothing is in the kernel, or stop.
    void watch_ring() {
        while (!stopping_.load() && !reaper_present_.load() && in_kernel_.load() > 0) {
            if (!poll_armed_) rearm_poll();
            if (reaper_present_.load() || stopping_.load()) break;  // (after the drain in rearm)
            timespec ts{0, poll_armed_ ? watcher_grace_ns : poll_fallback_slice_ns};
            int got = io_getevents(ctx_, 1, static_cast<long>(event_batch), events_, &ts);
            if (got <= 0) continue;  // EINTR or the slice ran out
            struct iocb *again[event_batch + 1];
            size_t na = 0;
            int consumed = 0;
            int unflagged = 0;  // of those, without IOCB_FLAG_RESFD (read before a continuation re-prepares the iocb)
            req_fifo finished;
            request *punt[event_batch];
            size_t np = 0;
            for (int i = 0; i < got; ++i) {
                const io_event &ev = events_[i];
                auto *r = static_cast<request *>(ev.data);
                if (r == nullptr) {
                    again[na++] = poll_event();
                    continue;
                }
                ++consumed;
                (void)r->stage.load(std::memory_order_acquire);
                if ((scratch_of(r)->cb.u.c.flags & iocb_flag_resfd) == 0) ++unflagged;
                switch (completion_outcome(r, static_cast<long>(ev.res))) {
                    case outcome::finished: finished.push_back(r); break;
                    case outcome::again: again[na++] = &scratch_of(r)->cb; break;
                    case outcome::helpers: punt[np++] = r; break;
                }
            }
            size_t wake = 0;
            if (!finished.empty() || np != 0) {
                std::lock_guard lock(mutex_);
                size_t queued = np;
                for (size_t i = 0; i < np; ++i) pool_.queue_locked(punt[i]);
                while (request *r = finished.pop_front()) queued += finish_locked(r);
                wake = pool_.staff_locked(queued);
            }
            pool_.wake(wake);
            left_kernel(consumed, unflagged);
            if (na != 0) hand_to_kernel(again, na);
        }
    }

    int cancel_held(request *r) {
        request_list to_kernel;
        size_t wake = 0;
        {
            std::lock_guard lock(mutex_);
            const uint32_t st = r->stage.load(std::memory_order_relaxed);
            // Cancel 0 means "stopped before it touched the file": a request that moved bytes
            // (a cached read served in part in submit, a kernel continuation punted to the
            // helpers) goes on, and so does one the kernel began with RWF_NOWAIT and gave up on
            // (a direct write may have reached part of the file before the -EAGAIN).
            if ((st == stage_held || st == stage_shared || st == stage_helper) &&
                (r->transferred != 0 || scratch_of(r)->left_kernel))
                return FILEAIO_E_IN_PROGRESS;
            switch (st) {
                case stage_held: barrier_.held.remove(r); break;
                case stage_shared: pool_.remove_shared_locked(r); break;
                case stage_helper:
                    pool_.remove_queued_locked(r);
                    if (r->is_write()) barrier_.writes.remove(r);  // it holds no flush back any more
                    break;
                case stage_done: return FILEAIO_E_COMPLETED;
                case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
                default: return FILEAIO_E_IN_PROGRESS;
            }
            r->stage.store(stage_canceled, std::memory_order_release);
            if (r->is_write() && !barrier_.held.empty()) wake = pool_.staff_locked(release_flushes_locked(&to_kernel));
        }
        pool_.wake(wake);
        if (submit_released(&to_kernel)) wake_reaper();
        return 0;
    }

    bool submit_released(request_list *released) {
        bool aside = false;
        while (!released->empty()) {
            struct iocb *batch[submit_chunk];
            size_t nb = 0;
            while (nb < submit_chunk && !released->empty()) {
                request *h = released->pop_front();
                batch[nb++] = prepare_iocb(h);
            }
            aside = hand_to_kernel(batch, nb) || aside;
        }
        return aside;
    }

    // The writes among done[0..n) leave barrier_.writes; flushes they held back are released.
    // Called by the reaper once they are in its output, so a flush is always reported after them.
    void untrack_and_release(request *const *done, size_t n) {
        bool any = false;
        for (size_t i = 0; i < n && !any; ++i) any = done[i]->is_write();
        if (!any) return;
        request_list to_kernel;
        size_t wake = 0;
        {
            std::lock_guard lock(mutex_);
            for (size_t i = 0; i < n; ++i)
                if (done[i]->is_write()) barrier_.writes.remove(done[i]);
            if (!barrier_.held.empty()) wake = pool_.staff_locked(release_flushes_locked(&to_kernel));
        }
        pool_.wake(wake);
        submit_released(&to_kernel);  // what completes aside is picked up by this reaper's loop
    }

    // done_ got requests (mutex_ held): an event loop learns of it when done_ was empty (the core
    // re-arms the descriptor after every wait by looking at side_pending_ and the ring).
    void side_added_locked() {
        if (!side_pending_.exchange(true)) {
            if (const int efd = notify_fd_.load(std::memory_order_acquire); efd >= 0) eventfd_signal(efd);
        }
    }

    // `consumed` request events were taken from the ring, `unflagged` of them without RESFD.
    void left_kernel(int consumed, int unflagged) {
        if (consumed != 0) in_kernel_.fetch_sub(consumed);
        if (unflagged != 0) unflagged_.fetch_sub(unflagged);
    }

    // iocbs that will not signal the event loop's descriptor are in flight: the watcher must not
    // wait for a grace period before it takes the ring.
    bool urgent() const { return notify_fd_.load(std::memory_order_relaxed) >= 0 && unflagged_.load() > 0; }

    size_t drain_side(request **out, size_t cap) {
        std::lock_guard lock(mutex_);
        size_t k = 0;
        while (k < cap && !done_.empty()) out[k++] = done_.pop_front();
        side_pending_.store(!done_.empty());
        return k;
    }

    // Whether the ring holds an event of a request (not of the poll iocb: a kick is no completion,
    // and with nothing pending a wait leaves it there). Read only, while the owner may consume
    // events: at worst a spurious yes. True when the header is not the one this code knows.
    bool ring_holds_a_request() const {
        const auto *ring = reinterpret_cast<const aio_ring_header *>(ctx_);
        if (__atomic_load_n(&ring->magic, __ATOMIC_RELAXED) != aio_ring_magic) return true;
        if (ring->header_length != sizeof(aio_ring_header)) return true;
        const auto *events = reinterpret_cast<const io_event *>(ring + 1);
        const unsigned nr = ring->nr;
        unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
        const unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
        if (nr == 0 || head >= nr || tail >= nr) return head != tail;
        for (; head != tail; head = (head + 1) % nr)
            if (events[head].data != nullptr) return true;
        return false;
    }

    // Whether the ring holds no event (read-only look at the ring's header, as libaio's own
    // user-space check did). False when the header is not the one this code knows.
    bool ring_empty() const {
        const auto *ring = reinterpret_cast<const aio_ring_header *>(ctx_);
        if (__atomic_load_n(&ring->magic, __ATOMIC_RELAXED) != aio_ring_magic) return false;
        if (ring->header_length != sizeof(aio_ring_header)) return false;
        return __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) == __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
    }

    // Whether r's completion already sits in the ring, not yet reaped (read-only look; a stale
    // slot can at worst turn E_IN_PROGRESS into E_COMPLETED, and both mean "wait returns it").
    bool ring_holds(const request *r) const {
        const auto *ring = reinterpret_cast<const aio_ring_header *>(ctx_);
        if (__atomic_load_n(&ring->magic, __ATOMIC_RELAXED) != aio_ring_magic) return false;
        if (ring->header_length != sizeof(aio_ring_header)) return false;
        const unsigned nr = ring->nr;
        if (nr == 0) return false;
        const auto *events = reinterpret_cast<const io_event *>(ring + 1);
        unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) % nr;
        const unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) % nr;
        for (unsigned k = 0; head != tail && k < nr; ++k, head = (head + 1) % nr)
            if (__atomic_load_n(&events[head].data, __ATOMIC_RELAXED) == r) return true;
        return false;
    }

    io_context_t ctx_ = nullptr;
    int wake_fd_ = -1;
    std::atomic<bool> kick_pending_{false};
    std::atomic<bool> side_pending_{false};  // done_ is not empty
    std::atomic<bool> stopping_{false};

    // Who consumes the ring. The flags pair with seq_cst stores and loads (Dekker): a reaper
    // stores reaper_present_ then loads watcher_owns_; the watcher the other way round.
    std::atomic<int> in_kernel_{0};            // request iocbs in the kernel (not the poll iocb)
    std::atomic<int> unflagged_{0};            // of those, the ones without IOCB_FLAG_RESFD
    std::atomic<int> notify_fd_{-1};           // the event loop's descriptor (notify_through)
    std::atomic<bool> reaper_present_{false};  // a thread is inside reap
    std::atomic<bool> reaper_seen_{false};     // a reap began since the watcher last looked
    std::atomic<bool> watcher_owns_{false};    // the watcher consumes the ring
    std::atomic<bool> watcher_idle_{false};    // the watcher sleeps until in_kernel_ > 0

    // The ring owner's own.
    struct iocb poll_cb_ {};
    bool poll_armed_ = false;
    io_event events_[event_batch];

    std::mutex mutex_;  // guards everything below
    flush_barrier<> barrier_;  // writes from submit until handed back; flushes held for them
    req_fifo done_;     // finished outside a reaper's hand-back
    uint64_t seq_ = 0;
    std::condition_variable watcher_cv_;
    std::condition_variable ring_cv_;
    std::thread watcher_;
    worker_pool pool_;  // last: its threads use the members above; stopped by the destructor
};

bool kernel_has_poll_iocb() {
    struct utsname u {};
    if (uname(&u) != 0) return true;
    int major = 0;
    int minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return true;
    return major > poll_min_kernel_major || (major == poll_min_kernel_major && minor >= poll_min_kernel_minor);
}

}  // namespace

int linux_aio_probe(char *reason, size_t reason_size) {
    char own[256];
    if (reason == nullptr || reason_size == 0) {
        reason = own;
        reason_size = sizeof own;
    }
    // io_setup(0) is refused with EINVAL by a kernel that has AIO, without creating a context
    // (creating and destroying one would cost an RCU grace period, ~30 ms).
    io_context_t ctx = nullptr;
    int rc = io_setup(0, &ctx);
    if (rc == 0) io_destroy(ctx);
    if (rc != 0 && rc != -EINVAL) {
        if (rc == -ENOSYS || rc == -EPERM) {
            std::snprintf(reason, reason_size, "io_setup: %s (kernel without CONFIG_AIO, or blocked by seccomp)",
                          rc == -ENOSYS ? "ENOSYS" : "EPERM");
        } else {
            std::snprintf(reason, reason_size, "io_setup: errno %d", -rc);
        }
        return FILEAIO_E_NOT_SUPPORTED;
    }
    if (!kernel_has_poll_iocb()) {
        std::snprintf(reason, reason_size, "kernel before 4.18: no IOCB_CMD_POLL, needed for wakeups without signals");
        return FILEAIO_E_NOT_SUPPORTED;
    }
    unsigned long nr = 0;
    unsigned long max = 0;
    if (read_sysctl(aio_nr_path, &nr) && read_sysctl(aio_max_nr_path, &max)) {
        if (nr + 1 + internal_iocbs > max) {
            std::snprintf(reason, reason_size,
                          "out of room: fs.aio-nr=%lu has reached fs.aio-max-nr=%lu, io_setup fails with EAGAIN "
                          "(raise fs.aio-max-nr)",
                          nr, max);
            return FILEAIO_E_INSUFFICIENT_RESOURCES;
        }
        std::snprintf(reason, reason_size, "available (fs.aio-nr=%lu of fs.aio-max-nr=%lu in use)", nr, max);
    } else {
        std::snprintf(reason, reason_size, "available");
    }
    return 0;
}

int linux_aio_create(const backend_config &config, std::unique_ptr<backend> *out) {
    uint32_t helpers = config.threads != 0 ? config.threads : default_helpers;
    helpers = std::max<uint32_t>(1, std::min(helpers, config.max_reqs));
    auto be = std::unique_ptr<linux_aio_backend>(
        new (std::nothrow) linux_aio_backend(helpers, std::max<uint32_t>(helpers, config.max_reqs)));
    if (!be) return FILEAIO_E_NO_MEMORY;
    if (int rc = be->start(config.max_reqs); rc != 0) return rc;
    *out = std::move(be);
    return 0;
}

int linux_aio_limits(fileaio_limits *limits) {
    unsigned long max = default_aio_max_nr;
    read_sysctl(aio_max_nr_path, &max);
    max = max > internal_iocbs ? max - internal_iocbs : 0;
    limits->max_outstanding = max >= FILEAIO_UNLIMITED_REQS ? FILEAIO_UNLIMITED_REQS - 1 : static_cast<uint32_t>(max);
    limits->buffer_alignment = 0;
    return 0;
}

}  // namespace fileaio::detail
