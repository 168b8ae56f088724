// The linux_aio backend: the kernel's native AIO through libaio.
//
// One aio context per fileaio context, sized max_reqs + 1: the extra slot is a poll iocb
// (IOCB_CMD_POLL) on an eventfd. kick() and everything that finishes a request outside the ring
// (a request the kernel refused at submit, the helper thread) write that eventfd; the poll iocb
// then completes, so io_getevents wakes without signals. The reaper drains the eventfd and re-arms
// the poll iocb. IOCB_FLAG_RESFD is not used: it would cost an eventfd signal per I/O, and the
// waiter already sleeps in io_getevents, which the poll iocb wakes.
//
// Flush and data sync are barriers. Every write is on barrier_.writes (core/flush_barrier.hpp)
// from submit until the reaper hands it back; a flush that finds an earlier write to its fd on
// that list is held back (barrier_.held) and submitted by the reaper once the last such write has been
// handed back. So the flush is reported after those writes. IOCB_CMD_FSYNC/FDSYNC refused at
// submit (EINVAL: kernels before 4.18, filesystems without it) are run by the helper thread with
// fsync/fdatasync.
//
// Short transfers (and -EINTR) are continued by re-preparing the iocb for the remainder and
// resubmitting it from the reaper. A request the kernel refuses at io_submit completes through
// reap with that error; EAGAIN there (out of kernel memory) punts the request to the helper
// thread, which runs it synchronously, so submit never has to give up part way.
//
// cancel: held flushes and requests queued for the helper are stopped (0). Requests in the kernel
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
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

#include "core/quiet_thread.hpp"
#include "core/flush_barrier.hpp"
#include "core/request.hpp"
#include "core/request_list.hpp"

namespace fileaio::detail {
namespace {

constexpr size_t submit_chunk = 64;         // iocbs per io_submit call
constexpr size_t event_batch = 256;         // io_events per io_getevents call
constexpr unsigned internal_iocbs = 1;      // the poll iocb on the wakeup eventfd
constexpr long poll_fallback_slice_ns = 1'000'000;  // reap's sleep slice if the poll iocb cannot be armed
constexpr unsigned default_aio_max_nr = 65536;
constexpr uint32_t aio_ring_magic = 0xa10a10a1;
constexpr const char *aio_nr_path = "/proc/sys/fs/aio-nr";
constexpr const char *aio_max_nr_path = "/proc/sys/fs/aio-max-nr";
constexpr int poll_min_kernel_major = 4;    // IOCB_CMD_POLL: Linux 4.18
constexpr int poll_min_kernel_minor = 18;

// request::stage for this backend.
enum stage : uint32_t {
    stage_new = 0,
    stage_kernel,          // an iocb for it is in (or on its way to) the kernel
    stage_held,            // a flush held by barrier_ for earlier writes
    stage_helper,          // queued for the helper thread
    stage_helper_running,  // the helper runs it
    stage_done,            // finished: on done_ or being handed back by reap
    stage_canceled,
};

// What this backend keeps in request::scratch.
struct aio_scratch {
    struct iocb cb;
    struct iovec rest;       // the remainder of a partly transferred iovec element
    request *link;           // done_ / helper FIFO
};
static_assert(sizeof(aio_scratch) <= backend_scratch_size, "the iocb must fit the request's scratch");
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

// A FIFO through aio_scratch::link (a write may be on writes_ and on a FIFO at once).
struct req_fifo {
    request *head = nullptr;
    request *tail = nullptr;

    bool empty() const { return head == nullptr; }
    void push(request *r) {
        scratch_of(r)->link = nullptr;
        if (tail != nullptr) {
            scratch_of(tail)->link = r;
        } else {
            head = r;
        }
        tail = r;
    }
    request *pop() {
        request *r = head;
        if (r != nullptr) {
            head = scratch_of(r)->link;
            if (head == nullptr) tail = nullptr;
        }
        return r;
    }
    bool remove(request *r) {
        request *prev = nullptr;
        for (request *q = head; q != nullptr; prev = q, q = scratch_of(q)->link) {
            if (q != r) continue;
            request *after = scratch_of(q)->link;
            if (prev != nullptr) {
                scratch_of(prev)->link = after;
            } else {
                head = after;
            }
            if (tail == q) tail = prev;
            return true;
        }
        return false;
    }
};

// The vector still to transfer: the iovecs from r->transferred on. A partly done element is
// continued on its own through s->rest (no copy of the caller's array is made).
void remaining_vector(request *r, aio_scratch *s, const struct iovec **vec, int *cnt) {
    size_t skip = r->transferred;
    int k = 0;
    while (k < r->iovcnt && skip >= r->iov[k].iov_len) skip -= r->iov[k++].iov_len;
    if (skip != 0) {
        s->rest.iov_base = static_cast<char *>(r->iov[k].iov_base) + skip;
        s->rest.iov_len = r->iov[k].iov_len - skip;
        *vec = &s->rest;
        *cnt = 1;
    } else {
        *vec = r->iov + k;
        *cnt = r->iovcnt - k;
    }
}

// The one place a request becomes an iocb: what is left of r, from r->transferred on.
struct iocb *prepare_iocb(request *r) {
    aio_scratch *s = scratch_of(r);
    struct iocb *cb = &s->cb;
    const long long off = static_cast<long long>(r->offset) + static_cast<long long>(r->transferred);
    const struct iovec *vec = nullptr;
    int cnt = 0;
    switch (r->kind) {
        case op::read: io_prep_pread(cb, r->fd, static_cast<char *>(r->buf) + r->transferred, r->size - r->transferred, off); break;
        case op::write: io_prep_pwrite(cb, r->fd, static_cast<char *>(r->buf) + r->transferred, r->size - r->transferred, off); break;
        case op::readv:
            remaining_vector(r, s, &vec, &cnt);
            io_prep_preadv(cb, r->fd, vec, cnt, off);
            break;
        case op::writev:
            remaining_vector(r, s, &vec, &cnt);
            io_prep_pwritev(cb, r->fd, vec, cnt, off);
            break;
        case op::flush: io_prep_fsync(cb, r->fd); break;
        case op::datasync: io_prep_fdsync(cb, r->fd); break;
    }
    cb->data = r;
    return cb;
}

// Folds one completion (a byte count or -errno) into r. True when r is finished (result set);
// false when it must go on: the iocb then describes the remainder.
bool absorb(request *r, long res) {
    if (res != -EINTR && r->absorb(res)) return true;
    prepare_iocb(r);
    return false;
}

// Runs what is left of r synchronously (the helper thread). Sets r->result.
void run_blocking(request *r) {
    if (r->is_sync()) {
        int rc;
        do {
            rc = r->kind == op::flush ? fsync(r->fd) : fdatasync(r->fd);
        } while (rc != 0 && errno == EINTR);
        r->result = rc == 0 ? 0 : -errno;
        return;
    }
    aio_scratch *s = scratch_of(r);
    while (r->transferred < r->size) {
        const off_t off = static_cast<off_t>(r->offset + static_cast<int64_t>(r->transferred));
        struct iovec one;
        const struct iovec *vec = &one;
        int cnt = 1;
        if (r->is_vectored()) {
            remaining_vector(r, s, &vec, &cnt);
        } else {
            one.iov_base = static_cast<char *>(r->buf) + r->transferred;
            one.iov_len = r->size - r->transferred;
        }
        ssize_t n = r->is_write() ? pwritev(r->fd, vec, cnt, off) : preadv(r->fd, vec, cnt, off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            r->result = n == 0 ? (r->is_write() ? -EIO : 0) : -errno;
            return;
        }
        r->transferred += static_cast<size_t>(n);
    }
    r->result = 0;
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

class linux_aio_backend final : public backend {
public:
    linux_aio_backend() = default;

    ~linux_aio_backend() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        helper_cv_.notify_all();
        if (helper_.joinable()) helper_.join();
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
        return 0;
    }

    int submit(request *const *reqs, size_t n, size_t *accepted) override {
        for (size_t base = 0; base < n; base += submit_chunk) {
            const size_t m = std::min(submit_chunk, n - base);
            request *const *chunk = reqs + base;
            struct iocb *batch[submit_chunk];
            bool held[submit_chunk] = {};  // decided here: once held, the reaper may release it
            size_t nb = 0;
            bool ordered = false;  // writes and syncs take part in the barrier bookkeeping
            for (size_t i = 0; i < m; ++i) {
                request *r = chunk[i];
                new (r->scratch) aio_scratch{};
                r->result = 0;
                r->transferred = 0;
                ordered = ordered || r->is_write() || r->is_sync();
            }
            if (ordered) {
                std::lock_guard lock(mutex_);
                for (size_t i = 0; i < m; ++i) {
                    request *r = chunk[i];
                    if (r->is_write()) {
                        r->seq = ++seq_;
                        barrier_.writes.push_back(r);
                    } else if (r->is_sync()) {
                        r->seq = ++seq_;
                        if (barrier_.holds(r)) {
                            held[i] = true;
                            r->stage.store(stage_held, std::memory_order_release);
                            barrier_.held.push_back(r);
                        }
                    }
                }
            }
            for (size_t i = 0; i < m; ++i) {
                request *r = chunk[i];
                if (held[i]) continue;
                batch[nb++] = prepare_iocb(r);
                // Published before the kernel sees it: the reaper acquires it with the event.
                r->stage.store(stage_kernel, std::memory_order_release);
            }
            if (hand_to_kernel(batch, nb)) notify();
        }
        *accepted = n;
        return 0;
    }

    size_t reap(request **out, size_t cap, size_t want, const deadline &dl) override {
        size_t n = 0;
        for (;;) {
            if (!poll_armed_) {
                drain_wake_fd();
                struct iocb *p = &poll_cb_;
                io_prep_poll(&poll_cb_, wake_fd_, POLLIN);
                poll_cb_.data = nullptr;
                hand_to_kernel(&p, 1);
            }
            const size_t start = n;
            if (side_pending_.load(std::memory_order_acquire)) n += drain_side(out + n, cap - n);
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
            int got = io_getevents(ctx_, block ? 1 : 0, nr, events_, tsp);
            if (got == -EINTR) got = 0;  // a signal: go on against the same deadline
            if (got < 0) {
                untrack_and_release(out + start, n - start);
                break;  // cannot happen with a valid context; the core calls again
            }

            struct iocb *again[event_batch + 1];
            size_t na = 0;
            for (int i = 0; i < got; ++i) {
                const io_event &ev = events_[i];
                auto *r = static_cast<request *>(ev.data);
                if (r == nullptr) {  // the poll iocb: a kick or a completion outside the ring
                    drain_wake_fd();
                    io_prep_poll(&poll_cb_, wake_fd_, POLLIN);
                    poll_cb_.data = nullptr;
                    poll_armed_ = false;
                    again[na++] = &poll_cb_;
                    continue;
                }
                // The ring carries no ordering the compiler (or TSan) can see: pair with the
                // release store made when the request was handed to the kernel.
                (void)r->stage.load(std::memory_order_acquire);
                if (absorb(r, static_cast<long>(ev.res))) {
                    r->stage.store(stage_done, std::memory_order_release);
                    out[n++] = r;
                } else {
                    again[na++] = &scratch_of(r)->cb;
                }
            }
            untrack_and_release(out + start, n - start);
            if (na != 0) hand_to_kernel(again, na);

            if (kick_pending_.load(std::memory_order_acquire)) break;
            if (!block || n >= want || n >= cap) break;
            if (!dl.forever && clock::now() >= dl.at) break;
        }
        // Any return consumes the kick: the core checks its wakeup flag after every reap.
        if (kick_pending_.load(std::memory_order_relaxed)) kick_pending_.exchange(false, std::memory_order_acq_rel);
        return n;
    }

    void kick() override {
        kick_pending_.store(true, std::memory_order_release);
        notify();
    }

    int cancel(request *r) override {
        switch (r->stage.load(std::memory_order_acquire)) {
            case stage_held:
            case stage_helper: return cancel_held(r);
            case stage_kernel: break;
            case stage_done: return FILEAIO_E_COMPLETED;
            case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
            default: return FILEAIO_E_IN_PROGRESS;  // being submitted, or running on the helper
        }
        io_event ev{};
        int rc = io_cancel(ctx_, &scratch_of(r)->cb, &ev);
        if (rc == 0) {
            // Kernels before 3.11 handed the event back here instead of through the ring.
            complete_aside(r, static_cast<int>(static_cast<long>(ev.res)));
            notify();
            return FILEAIO_E_COMPLETED;
        }
        // EINVAL: not cancellable (file I/O) or already done; EINPROGRESS: the outcome comes
        // through the ring. Either way a wait returns it.
        return ring_holds(r) ? FILEAIO_E_COMPLETED : FILEAIO_E_IN_PROGRESS;
    }

private:
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

    void notify() {
        uint64_t one = 1;
        ssize_t rc;
        do {
            rc = write(wake_fd_, &one, sizeof one);
        } while (rc < 0 && errno == EINTR);
        // EAGAIN would mean the counter is near 2^64: it is already readable, nothing is lost.
    }

    void drain_wake_fd() {
        uint64_t value;
        ssize_t rc;
        do {
            rc = read(wake_fd_, &value, sizeof value);
        } while (rc < 0 && errno == EINTR);
    }

    // Submits v[0..nb). A request the kernel refuses completes aside with the error, or goes to
    // the helper (EAGAIN: kernel memory; EINVAL on a sync: no IOCB_CMD_FSYNC here). The poll iocb
    // (data == nullptr) records whether it is armed. Returns true when something completed aside.
    bool hand_to_kernel(struct iocb **v, size_t nb) {
        size_t done = 0;
        bool aside = false;
        while (done < nb) {
            int rc = io_submit(ctx_, static_cast<long>(nb - done), v + done);
            if (rc > 0) {
                for (size_t i = done; i < done + static_cast<size_t>(rc); ++i)
                    if (v[i] == &poll_cb_) poll_armed_ = true;
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
            if (rc == -EAGAIN || rc == 0 || (r->is_sync() && rc == -EINVAL)) {
                aside = punt(r) || aside;
            } else {
                complete_aside(r, rc);
                aside = true;
            }
        }
        return aside;
    }

    // Finished outside the ring: onto done_ for the next reap.
    void complete_aside(request *r, int result) {
        r->result = result;
        std::lock_guard lock(mutex_);
        r->stage.store(stage_done, std::memory_order_release);
        done_.push(r);
        side_pending_.store(true, std::memory_order_release);
    }

    // Queues r for the helper thread (started on first use). If no thread can be started, runs it
    // here. Returns true when it completed aside here.
    bool punt(request *r) {
        {
            std::lock_guard lock(mutex_);
            if (helper_started_ || start_helper_locked()) {
                r->stage.store(stage_helper, std::memory_order_release);
                helper_q_.push(r);
                helper_cv_.notify_one();
                return false;
            }
            r->stage.store(stage_helper_running, std::memory_order_release);
        }
        run_blocking(r);
        complete_aside(r, r->result);
        return true;
    }

    // Starts the helper with every signal blocked: the caller's signals stay the caller's.
    bool start_helper_locked() {
        helper_started_ = start_quiet_thread([this] { helper_ = std::thread([this] { helper_main(); }); }) == 0;
        return helper_started_;
    }

    void helper_main() {
        std::unique_lock lock(mutex_);
        for (;;) {
            helper_cv_.wait(lock, [&] { return stopping_ || !helper_q_.empty(); });
            if (helper_q_.empty()) return;  // stopping
            request *r = helper_q_.pop();
            r->stage.store(stage_helper_running, std::memory_order_release);
            lock.unlock();
            run_blocking(r);
            lock.lock();
            r->stage.store(stage_done, std::memory_order_release);
            done_.push(r);
            side_pending_.store(true, std::memory_order_release);
            lock.unlock();
            notify();
            lock.lock();
        }
    }

    int cancel_held(request *r) {
        request_list released;
        {
            std::lock_guard lock(mutex_);
            switch (r->stage.load(std::memory_order_relaxed)) {
                case stage_held: barrier_.held.remove(r); break;
                case stage_helper:
                    helper_q_.remove(r);
                    // A write that never ran holds no flush back any more.
                    if (r->is_write()) {
                        barrier_.writes.remove(r);
                        release_flushes_locked(&released);
                    }
                    break;
                case stage_done: return FILEAIO_E_COMPLETED;
                case stage_canceled: return FILEAIO_E_NOT_SUBMITTED;
                default: return FILEAIO_E_IN_PROGRESS;
            }
            r->stage.store(stage_canceled, std::memory_order_release);
        }
        if (submit_released(&released)) notify();
        return 0;
    }

    // Moves every held flush that no earlier write holds back any more to *released.
    void release_flushes_locked(request_list *released) {
        barrier_.release_ready([&](request *h) {
            h->stage.store(stage_kernel, std::memory_order_release);
            released->push_back(h);
        });
    }

    bool submit_released(request_list *released) {
        bool aside = false;
        while (!released->empty()) {
            struct iocb *batch[submit_chunk];
            size_t nb = 0;
            while (nb < submit_chunk && !released->empty()) {
                request *h = released->head;
                released->remove(h);
                batch[nb++] = prepare_iocb(h);
                h->stage.store(stage_kernel, std::memory_order_release);
            }
            aside = hand_to_kernel(batch, nb) || aside;
        }
        return aside;
    }

    // The writes among done[0..n) leave barrier_.writes; flushes they held back go to the kernel. Called
    // by the reaper once they are in its output, so a flush is always reported after them.
    void untrack_and_release(request *const *done, size_t n) {
        bool any = false;
        for (size_t i = 0; i < n && !any; ++i) any = done[i]->is_write();
        if (!any) return;
        request_list released;
        {
            std::lock_guard lock(mutex_);
            for (size_t i = 0; i < n; ++i)
                if (done[i]->is_write()) barrier_.writes.remove(done[i]);
            if (!barrier_.held.empty()) release_flushes_locked(&released);
        }
        submit_released(&released);  // what completes aside is picked up by this reaper's loop
    }

    size_t drain_side(request **out, size_t cap) {
        std::lock_guard lock(mutex_);
        size_t k = 0;
        while (k < cap && !done_.empty()) out[k++] = done_.pop();
        side_pending_.store(!done_.empty(), std::memory_order_release);
        return k;
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

    // The reaper's own (one waiter at a time).
    struct iocb poll_cb_ {};
    bool poll_armed_ = false;
    io_event events_[event_batch];

    std::mutex mutex_;  // guards everything below
    flush_barrier<> barrier_;  // writes from submit until reaped; flushes held for them
    req_fifo done_;     // finished outside the ring
    req_fifo helper_q_;
    uint64_t seq_ = 0;
    std::condition_variable helper_cv_;
    std::thread helper_;
    bool helper_started_ = false;
    bool stopping_ = false;
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
    auto be = std::unique_ptr<linux_aio_backend>(new (std::nothrow) linux_aio_backend());
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
