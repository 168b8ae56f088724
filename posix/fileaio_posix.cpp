// libfileaio-posix: glibc's <aio.h> (aio_read, aio_write, aio_fsync, aio_error, aio_return,
// aio_suspend, aio_cancel, lio_listio, their *64 twins and aio_init) on top of fileaio.
//
// Mechanism. Every request a program submits gets a slot: a fileaio_req created once and reused,
// the aiocb it serves, and a copy of the aiocb's sigevent. Slots live in chunks that never move
// and are found from the aiocb by the 1-based slot index kept in the aiocb's reserved
// `__abs_prio` field, checked against the slot's own aiocb pointer (an aiocb that was never
// submitted, or whose request is finished, finds nothing). The status lives where glibc keeps
// it: `__error_code` (EINPROGRESS while in flight, released with a store-release once the result
// is in `__return_value`), so aio_error and aio_return are plain loads that take no lock and are
// async-signal-safe.
//
// Requests go to fileaio contexts (AUTO backend: io_uring where the kernel allows it), created on
// the first request and added when the ones there are full, so no program hits a request limit
// before glibc's (which has none but memory). Each context has one completion thread asleep in
// poll on the context's pollable descriptor (fileaio_ctx_get_fd); it reaps (fileaio_ctx_wait with
// timeout 0, under the context's reap lock) and publishes the results into the aiocbs under the
// process-wide lock, bumps a futex word that aio_suspend and lio_listio(LIO_WAIT) sleep on, and
// then runs the notifications. A thread in aio_suspend first reaps itself (trylock: never waits
// for the completion thread), so a request that completed inside its submit (cached reads on
// io_uring) costs the caller no sleep and no wakeup; aio_read/aio_write likewise take what
// finished inside their own submit (submit_rw), so a program that calls aio_suspend only when
// aio_error shows nothing done (fio) finds its cached reads done without it. While the program
// reaps for itself, the completion thread naps (1 ms at a time) instead of polling, and while
// requests finish inside their submits it pauses the descriptor (fileaio_ctx_pause_fd), so
// io_uring skips its eventfd signal per completion; it resumes it before it polls again
// (completion_main). Notifications:
// (SIGEV_SIGNAL and SIGEV_THREAD_ID by rt_sigqueueinfo/rt_tgsigqueueinfo with si_code SI_ASYNCIO;
// SIGEV_THREAD on a new detached thread per notification, as glibc does). aio_cancel uses
// fileaio_req_cancel and publishes ECANCELED through the same path. aio_fsync is a flush
// (O_SYNC) or data sync (O_DSYNC) submitted to every context, since fileaio's flush is a barrier
// for the writes of its own context; it completes when all of those parts have.
//
// O_APPEND: POSIX orders a descriptor's appends as the calls were made, and a backend may run
// them in parallel (the thread pool does), so each append is held (linked, not submitted) behind
// the one before it on its descriptor and submitted when that one is over (start_held_locked).
//
// Cancellation: every call runs with cancellation disabled, except aio_suspend's sleep, the one
// cancellation point (asynchronous cancellation around the futex wait; see sleep_on_seq).
//
// fork(): pthread_atfork holds the lock across fork; the child drops every context (they belong
// to the parent's rings and threads, so they are leaked, never touched) and marks the requests
// that were in flight ECANCELED (POSIX: they are not inherited). New requests in the child get
// fresh contexts.
//
// The library is not linked with a version script: its unversioned definitions interpose the
// versioned glibc ones (aio_read64@GLIBC_2.34 ...) when preloaded. It never uses fileaio's
// posix_aio backend, which would call these very functions.

#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <vector>

#include <fileaio/fileaio.h>

#define FILEAIO_POSIX_API extern "C" __attribute__((visibility("default")))

static_assert(sizeof(struct aiocb) == sizeof(struct aiocb64), "aiocb and aiocb64 must be one layout (64-bit glibc)");
static_assert(offsetof(struct aiocb, aio_offset) == offsetof(struct aiocb64, aio_offset), "aiocb64 layout");
static_assert(offsetof(struct aiocb, __error_code) == offsetof(struct aiocb64, __error_code), "aiocb64 layout");

namespace {

constexpr uint32_t chunk_slots = 1024;
constexpr size_t completion_batch = 256;
// Room each context keeps for aio_fsync, whose parts go to every context: reads and writes see
// a context as full this much early.
constexpr uint32_t fsync_reserve = 64;

struct group;
struct ctx_entry;

struct slot {
    fileaio_req *req = nullptr;
    struct aiocb *cb = nullptr;  // the aiocb of an active primary slot; null otherwise
    int fd = -1;
    int index = 0;  // 1-based, what the aiocb's __abs_prio holds
    ctx_entry *ctx = nullptr;
    slot *next = nullptr;  // active list, free list or notification list
    slot *prev = nullptr;  // active list
    slot *parent = nullptr;     // a part of an aio_fsync: its primary slot
    uint32_t parts_left = 0;    // the primary of a request: parts not yet completed
    int part_err = 0;
    int op = -1;            // LIO_READ or LIO_WRITE for aio_read/aio_write; -1 otherwise
    bool at_stream = false; // resubmitted at offset 0 after ESPIPE (see publish_locked)
    bool append = false;    // a write on an O_APPEND descriptor
    bool held = false;      // an append not yet submitted: it waits for the one before it
    slot *append_next = nullptr;  // the append of the same descriptor held behind this one
    slot *part_next = nullptr;    // a held aio_fsync: its parts (from the primary), not yet submitted
    int fsync_op = 0;             // a held aio_fsync: O_SYNC or O_DSYNC
    void *buf = nullptr;
    size_t nbytes = 0;
    group *grp = nullptr;
    bool notify = false;
    struct sigevent ev {};
    // Requests this slot finished (finish_locked, under the lock). submit_rw compares it with the
    // count before its submit to learn whether the request finished inside, without reading the
    // aiocb, which the program may have released by then. Slots live as long as the process.
    std::atomic<uint32_t> finished{0};
};

// A lio_listio call: the requests still in flight, whether one failed, and its notification.
struct group {
    std::atomic<int> remaining{1};  // starts with the submitting call's guard
    std::atomic<int> refs{1};
    std::atomic<int> failed{0};
    bool notify = false;
    struct sigevent ev {};
    group *next = nullptr;  // notification list
};

struct ctx_entry {
    fileaio_ctx *ctx = nullptr;
    uint32_t max = 0;
    std::atomic<uint32_t> inflight{0};  // changed under the lock; the completion thread peeks
    std::atomic<uint32_t> kick{0};      // futex word of the completion thread's naps
    std::atomic<bool> napping{false};
    // The completion thread naps with the descriptor paused: the program reaps for itself, and
    // aio_read/aio_write take what finished inside their submit (submit_rw). Written only by
    // this context's completion thread (fileaio_ctx_pause_fd follows it); submits read it.
    std::atomic<bool> paused{false};
    // Submits that skip taking completions inline (submit_rw) after one found nothing while the
    // descriptor was not paused (then that look costs a system call: re-arming the descriptor).
    std::atomic<uint32_t> inline_skip{0};
    // Requests of this context that finished inside their submit (submit_rw took them): the
    // program reaps this context for itself, so its completion thread may nap.
    std::atomic<uint32_t> inline_done{0};
    std::atomic<bool> reaper_parked{false};  // no pollable fd: the completion thread owns the reap lock
    // Whoever reaps (fileaio_ctx_wait with timeout 0) holds it: the completion thread, or a
    // thread in aio_suspend that takes the completions itself instead of sleeping until the
    // completion thread has been scheduled.
    // Adaptive: it is held only while completions are copied out, never across a sleep.
    pthread_mutex_t reap_mu = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
};

struct state {
    pthread_mutex_t mu = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
    std::vector<slot *> chunks;
    int nslots = 0;
    slot *free_slots = nullptr;
    slot active{};  // sentinel of the circular active list
    slot *notify_slots = nullptr;
    slot **notify_slots_tail = &notify_slots;
    group *notify_groups = nullptr;
    std::vector<ctx_entry *> ctxs;
    size_t next_ctx = 0;
    bool atfork = false;
    uint32_t ctx_size = 0;   // max_reqs of new contexts, found at the first creation
    bool debug = false;
};

// Never destroyed: at exit, the completion threads and other threads of the program may still
// be inside a call while static destructors run. Constant-initialized, so a call from another
// library's constructor finds it ready.
union state_holder {
    state s;
    constexpr state_holder() : s() {}
    ~state_holder() {}
};
constinit state_holder g_holder;
state &g = g_holder.s;
std::atomic<uint32_t> g_seq{0};      // bumped after results are published; futex word
std::atomic<uint32_t> g_waiters{0};  // threads asleep on g_seq
std::atomic<uint32_t> g_app_reaps{0};  // calls of reap_all: the program reaps for itself
std::atomic<unsigned long long> g_submitted{0};
// aio_init's hints, read when the first context is made: atomics, not the lock, because
// fileaio's posix_aio backend (never used here, but a program may create one) calls aio_init.
std::atomic<uint32_t> g_init_threads{0};  // fileaio_ctx_options.threads
std::atomic<uint32_t> g_init_num{0};      // max_reqs of the first context

struct lock_guard {
    lock_guard() { pthread_mutex_lock(&g.mu); }
    ~lock_guard() { pthread_mutex_unlock(&g.mu); }
    lock_guard(const lock_guard &) = delete;
    lock_guard &operator=(const lock_guard &) = delete;
};

void store_status(struct aiocb *cb, int err, ssize_t ret) {
    cb->__return_value = ret;
    std::atomic_ref<int>(cb->__error_code).store(err, std::memory_order_release);
}

int load_status(const struct aiocb *cb) {
    return std::atomic_ref<int>(const_cast<struct aiocb *>(cb)->__error_code).load(std::memory_order_acquire);
}

void wake_sleepers() {
    g_seq.fetch_add(1, std::memory_order_seq_cst);
    if (g_waiters.load(std::memory_order_seq_cst) != 0)
        syscall(SYS_futex, reinterpret_cast<uint32_t *>(&g_seq), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Sleeps while g_seq == seen, until `deadline` (CLOCK_MONOTONIC, absolute; null: forever).
// 0 when woken (or the word moved), else EINTR or ETIMEDOUT.
// The library's work runs with cancellation disabled (no_cancel): fileaio's calls inside may
// reach cancellation points (read or write of an eventfd) while a reap lock is held or a
// noexcept destructor runs, where acting on a cancel would leave the lock held or abort.
// `cancellable`: this sleep is the one cancellation point (aio_suspend must be one: POSIX XSH
// 2.9.5.2). The raw futex call is not one, so it runs with the caller's cancel state and
// asynchronous cancellation, as glibc does around its own blocking calls; no lock is held here,
// and the caller undoes its count by a destructor. lio_listio (noexcept, holding a reference to
// its group) does not use it.
// Called through pointers of types that may throw: <pthread.h> and <unistd.h> declare these
// __THROW (noexcept), and a call the compiler takes for nothrow gets no cleanup, so the forced
// unwind of a cancellation would skip our destructors or end in std::terminate.
using setcanceltype_fn = int (*)(int, int *);
using syscall_fn = long (*)(long, ...);
setcanceltype_fn volatile may_unwind_setcanceltype = pthread_setcanceltype;
syscall_fn volatile may_unwind_syscall = syscall;

// The asynchronously cancellable window: no object with a destructor lives here (the frame has
// no cleanup for an unwind to miss), and nothing but the sleep runs inside it.
__attribute__((noinline)) long futex_wait_cancellable(uint32_t seen, const struct timespec *deadline) {
    int old_type = PTHREAD_CANCEL_DEFERRED;
    // Enabled first, then asynchronous: glibc's setcanceltype acts on a pending cancel with the
    // thread's result PTHREAD_CANCELED (its setcancelstate would leave the result NULL).
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, nullptr);  // deferred: nothing acts here
    may_unwind_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old_type);
    long r = may_unwind_syscall(SYS_futex, reinterpret_cast<uint32_t *>(&g_seq), FUTEX_WAIT_BITSET_PRIVATE, seen,
                                deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
    int err = errno;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
    pthread_setcanceltype(old_type, nullptr);
    errno = err;
    return r;
}

int sleep_on_seq(uint32_t seen, const struct timespec *deadline, int cancel_state) {
    long r = cancel_state == PTHREAD_CANCEL_ENABLE
                 ? futex_wait_cancellable(seen, deadline)
                 : syscall(SYS_futex, reinterpret_cast<uint32_t *>(&g_seq), FUTEX_WAIT_BITSET_PRIVATE, seen, deadline,
                           nullptr, FUTEX_BITSET_MATCH_ANY);
    if (r == 0) return 0;
    if (errno == EAGAIN) return 0;
    return errno;
}

// Disables cancellation for its lifetime; `state` is the caller's (restored at the end).
struct no_cancel {
    int state = PTHREAD_CANCEL_DISABLE;
    no_cancel() { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state); }
    ~no_cancel() { pthread_setcancelstate(state, nullptr); }
    no_cancel(const no_cancel &) = delete;
    no_cancel &operator=(const no_cancel &) = delete;
};

// Counts the calling thread in g_waiters for its lifetime, also when it is cancelled asleep.
struct waiter_count {
    waiter_count() { g_waiters.fetch_add(1, std::memory_order_seq_cst); }
    ~waiter_count() { g_waiters.fetch_sub(1, std::memory_order_seq_cst); }
    waiter_count(const waiter_count &) = delete;
    waiter_count &operator=(const waiter_count &) = delete;
};

bool valid_sigevent(const struct sigevent &ev) {
    switch (ev.sigev_notify) {
    case SIGEV_NONE:
        return true;
    case SIGEV_SIGNAL:  // 0: a zeroed aiocb (SIGEV_SIGNAL is 0); signal 0 sends nothing, as with kill
    case SIGEV_THREAD_ID:
        return ev.sigev_signo >= 0 && ev.sigev_signo < NSIG;
    case SIGEV_THREAD:
        return ev.sigev_notify_function != nullptr;
    default:
        return false;
    }
}

int send_signal(const struct sigevent &ev) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = ev.sigev_signo;
    info.si_code = SI_ASYNCIO;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value = ev.sigev_value;
    if (ev.sigev_notify == SIGEV_THREAD_ID)
        return static_cast<int>(
            syscall(SYS_rt_tgsigqueueinfo, getpid(), ev._sigev_un._tid, ev.sigev_signo, &info));
    return static_cast<int>(syscall(SYS_rt_sigqueueinfo, getpid(), ev.sigev_signo, &info));
}

struct thread_note {
    void (*fn)(union sigval);
    union sigval value;
};

void *notify_thread_main(void *arg) {
    thread_note note = *static_cast<thread_note *>(arg);
    free(arg);
    // Like glibc: the notification function runs with no signal blocked (our threads block all).
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    note.fn(note.value);
    return nullptr;
}

void run_notification(const struct sigevent &ev) {
    switch (ev.sigev_notify) {
    case SIGEV_SIGNAL:
    case SIGEV_THREAD_ID:
        if (ev.sigev_signo != 0) send_signal(ev);
        break;
    case SIGEV_THREAD: {
        auto *note = static_cast<thread_note *>(malloc(sizeof(thread_note)));
        if (note == nullptr) break;
        note->fn = ev.sigev_notify_function;
        note->value = ev.sigev_value;
        pthread_attr_t own;
        pthread_attr_t *attr = ev.sigev_notify_attributes;
        bool detach_after = false;
        if (attr == nullptr) {
            pthread_attr_init(&own);
            pthread_attr_setdetachstate(&own, PTHREAD_CREATE_DETACHED);
            attr = &own;
        } else {
            int detach_state = PTHREAD_CREATE_JOINABLE;
            pthread_attr_getdetachstate(attr, &detach_state);
            detach_after = detach_state == PTHREAD_CREATE_JOINABLE;
        }
        pthread_t tid;
        int rc = pthread_create(&tid, attr, notify_thread_main, note);
        if (attr == &own) pthread_attr_destroy(&own);
        if (rc != 0)
            free(note);
        else if (detach_after)
            pthread_detach(tid);
        break;
    }
    default:
        break;
    }
}

// ---- slots (all under the lock) ----

slot *slot_at(int index) {
    auto i = static_cast<uint32_t>(index - 1);
    return &g.chunks[i / chunk_slots][i % chunk_slots];
}

slot *alloc_slot_locked() {
    if (g.free_slots == nullptr) {
        if (g.nslots > INT_MAX - static_cast<int>(chunk_slots)) return nullptr;
        auto *chunk = new (std::nothrow) slot[chunk_slots];
        if (chunk == nullptr) return nullptr;
        try {
            g.chunks.push_back(chunk);
        } catch (...) {
            delete[] chunk;
            return nullptr;
        }
        for (uint32_t i = chunk_slots; i-- > 0;) {
            chunk[i].index = g.nslots + static_cast<int>(i) + 1;
            chunk[i].next = g.free_slots;
            g.free_slots = &chunk[i];
        }
        g.nslots += static_cast<int>(chunk_slots);
    }
    slot *s = g.free_slots;
    if (s->req == nullptr && fileaio_req_create(&s->req) != 0) {
        s->req = nullptr;
        return nullptr;
    }
    g.free_slots = s->next;
    s->next = s->prev = nullptr;
    s->parent = nullptr;
    s->parts_left = 1;
    s->part_err = 0;
    s->op = -1;
    s->at_stream = false;
    s->append = false;
    s->held = false;
    s->append_next = nullptr;
    s->part_next = nullptr;
    s->grp = nullptr;
    s->notify = false;
    s->cb = nullptr;
    s->ctx = nullptr;
    return s;
}

void free_slot_locked(slot *s) {
    s->cb = nullptr;
    s->grp = nullptr;
    s->parent = nullptr;
    s->next = g.free_slots;
    g.free_slots = s;
}

void link_active_locked(slot *s) {
    s->next = &g.active;
    s->prev = g.active.prev;
    g.active.prev->next = s;
    g.active.prev = s;
}

void unlink_active_locked(slot *s) {
    s->prev->next = s->next;
    s->next->prev = s->prev;
    s->next = s->prev = nullptr;
}

slot *lookup_locked(const struct aiocb *cb) {
    int index = cb->__abs_prio;
    if (index <= 0 || index > g.nslots) return nullptr;
    slot *s = slot_at(index);
    return s->cb == cb ? s : nullptr;
}

void group_unref(group *gr) {
    if (gr->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete gr;
}

void group_done_locked(group *gr) {
    if (gr->notify) {
        gr->next = g.notify_groups;
        g.notify_groups = gr;
    } else {
        group_unref(gr);
    }
}

// The request of primary slot `s` is over: publish, queue its notification, count its group.
void start_held_locked(slot *s);
void part_done_locked(slot *s, int err, ssize_t ret);

void finish_locked(slot *s, int err, ssize_t ret) {
    struct aiocb *cb = s->cb;
    s->finished.fetch_add(1, std::memory_order_release);
    unlink_active_locked(s);
    slot *next_append = s->append_next;
    s->append_next = nullptr;
    store_status(cb, err, ret);
    group *gr = s->grp;
    if (s->notify) {
        s->cb = nullptr;
        s->grp = nullptr;
        s->next = nullptr;
        *g.notify_slots_tail = s;
        g.notify_slots_tail = &s->next;
    } else {
        free_slot_locked(s);
    }
    if (gr != nullptr) {
        if (err != 0) gr->failed.store(1, std::memory_order_relaxed);
        if (gr->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) group_done_locked(gr);
    }
    if (next_append != nullptr) start_held_locked(next_append);
}

// POSIX: "If O_APPEND is set for the file descriptor, write operations append to the file in
// the same order as the calls were made." A backend may run a descriptor's writes in parallel
// (the thread pool does), so an append is submitted only when the one before it on its
// descriptor is over; until then it is held (in the active list, not in fileaio).
// An aio_fsync on such a descriptor is held the same way (behind the last append, so that it
// covers them: "all I/O operations currently queued"), and its parts are submitted together.
void start_held_locked(slot *s) {
    s->held = false;
    if (s->op < 0) {  // an aio_fsync: the primary and its parts
        for (slot *q = s; q != nullptr;) {
            slot *next = q->part_next;
            q->part_next = nullptr;
            int rc = s->fsync_op == O_DSYNC ? fileaio_req_prepare_datasync(q->req, q->fd, q)
                                            : fileaio_req_prepare_flush(q->req, q->fd, q);
            if (rc == 0) rc = fileaio_ctx_submit(q->ctx->ctx, &q->req, 1, nullptr);
            if (rc != 0) {
                q->ctx->inflight--;
                part_done_locked(q, EAGAIN, -1);
            }
            q = next;
        }
        return;
    }
    int rc = fileaio_req_prepare_write(s->req, s->fd, 0, s->buf, s->nbytes, s);
    if (rc == 0) rc = fileaio_ctx_submit(s->ctx->ctx, &s->req, 1, nullptr);
    if (rc == 0) return;
    s->ctx->inflight--;
    finish_locked(s, EAGAIN, -1);
}

// The latest append in flight (or held) on descriptor fd, or null.
slot *last_append_locked(int fd) {
    for (slot *s = g.active.prev; s != &g.active; s = s->prev)
        if (s->append && s->fd == fd) return s;
    return nullptr;
}

// One part of a request (the request itself, or one context's flush of an aio_fsync) is over.
void part_done_locked(slot *s, int err, ssize_t ret) {
    slot *p = s->parent != nullptr ? s->parent : s;
    if (s != p) free_slot_locked(s);
    if (p->parts_left > 1) {
        if (err != 0 && p->part_err == 0) p->part_err = err;
        p->parts_left--;
        return;
    }
    if (err == 0 && p->part_err != 0) {
        err = p->part_err;
        ret = -1;
    }
    finish_locked(p, err, ret);
}

// Runs the notifications queued by finish_locked, outside the lock, one at a time.
void drain_notifications() {
    for (;;) {
        struct sigevent ev;
        group *gr = nullptr;
        {
            lock_guard lk;
            if (g.notify_slots != nullptr) {
                slot *s = g.notify_slots;
                g.notify_slots = s->next;
                if (g.notify_slots == nullptr) g.notify_slots_tail = &g.notify_slots;
                ev = s->ev;
                free_slot_locked(s);
            } else if (g.notify_groups != nullptr) {
                gr = g.notify_groups;
                g.notify_groups = gr->next;
                ev = gr->ev;
            } else {
                return;
            }
        }
        run_notification(ev);
        if (gr != nullptr) group_unref(gr);
    }
}

// ---- contexts ----

void result_of(fileaio_req *req, int &err, ssize_t &ret) {
    size_t transferred = 0;
    int rc = fileaio_req_get_result(req, &transferred);
    if (rc == 0) {
        err = 0;
        ret = static_cast<ssize_t>(transferred);
    } else if (rc == FILEAIO_E_CANCELED) {
        err = ECANCELED;
        ret = -1;
    } else if (rc < 0 && rc >= -4095) {
        err = -rc;
        ret = -1;
    } else {
        err = EIO;
        ret = -1;
    }
}

// A read or write with a non-zero offset on a descriptor that cannot seek: POSIX and glibc
// ignore the offset, and so does fileaio's contract, but its io_uring backend passes it to the
// kernel, which answers ESPIPE for a socket before touching anything. Run it again at offset 0
// (the stream's position). True when resubmitted.
bool resubmit_at_stream_locked(ctx_entry *e, slot *s) {
    s->at_stream = true;
    int rc = s->op == LIO_READ ? fileaio_req_prepare_read(s->req, s->fd, 0, s->buf, s->nbytes, s)
                               : fileaio_req_prepare_write(s->req, s->fd, 0, s->buf, s->nbytes, s);
    if (rc == 0) rc = fileaio_ctx_submit(e->ctx, &s->req, 1, nullptr);
    return rc == 0;
}

// Publishes completions of e's requests under the lock.
void publish_locked(ctx_entry *e, fileaio_req *const *done, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        auto *s = static_cast<slot *>(fileaio_req_get_user(done[i]));
        int err;
        ssize_t ret;
        result_of(done[i], err, ret);
        if (err == ESPIPE && s->op >= 0 && !s->at_stream && resubmit_at_stream_locked(e, s)) continue;
        e->inflight--;
        part_done_locked(s, err, ret);
    }
}

// Takes every completion e has now (never blocks for I/O) and publishes it. With `wait_turn`
// false it gives up at once when another thread is reaping e. The number published.
size_t reap(ctx_entry *e, bool wait_turn) {
    if (wait_turn) {
        pthread_mutex_lock(&e->reap_mu);
    } else if (pthread_mutex_trylock(&e->reap_mu) != 0) {
        return 0;
    }
    fileaio_req *done[completion_batch];
    size_t total = 0;
    for (;;) {
        size_t n = 0;
        fileaio_ctx_wait(e->ctx, 1, 0, done, completion_batch, &n);
        if (n > 0) {
            lock_guard lk;
            publish_locked(e, done, n);
        }
        total += n;
        if (n < completion_batch) break;
    }
    pthread_mutex_unlock(&e->reap_mu);
    if (total > 0) {
        wake_sleepers();
        drain_notifications();
    }
    return total;
}

// The completion thread: sleeps in poll on the context's descriptor (readable when a
// completion is there) and reaps. Not parked inside fileaio_ctx_wait, so that aio_suspend may
// reap too (one waiter per context at a time: the reap lock). When the program reaps for itself
// (it called aio_suspend, or a request of this context finished inside its submit, since the
// last look) and nobody sleeps in aio_suspend or lio_listio, it steps back instead of racing the
// program for every completion: it naps (1 ms at most, not in poll, whose wakeups cost the
// submitting thread an eventfd signal per completion) and looks again; a thread about to sleep
// in aio_suspend or lio_listio kicks it awake (kick_nappers). While it naps because requests
// finish inside their submits (which take them: submit_rw), it pauses the descriptor
// (fileaio_ctx_pause_fd: on io_uring the kernel then skips its eventfd signal per completion, and
// the program's reaps skip re-arming it); before it polls again it reaps and resumes it (which
// re-arms it), so a completion that comes while nobody reaps is published at the end of the nap
// at the latest, and its notification sent.
// A program that only polls aio_error never calls aio_suspend, and gets its results promptly.
void *completion_main(void *arg) {
    auto *e = static_cast<ctx_entry *>(arg);
    int fd = -1;
    if (fileaio_ctx_get_fd(e->ctx, &fd) == 0) {
        uint32_t last_reaps = g_app_reaps.load(std::memory_order_relaxed);
        uint32_t last_inline = e->inline_done.load(std::memory_order_relaxed);
        // Back to poll: what is there is reaped (first: a thread asleep in aio_suspend waits
        // for it), then the descriptor is resumed, which re-arms it: whatever finished since
        // that reap makes it readable.
        auto reap_before_poll = [&] {
            reap(e, true);
            if (e->paused.load(std::memory_order_relaxed)) {  // written by this thread only
                e->paused.store(false, std::memory_order_relaxed);
                fileaio_ctx_pause_fd(e->ctx, 0);
            }
        };
        for (;;) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, -1) < 0) continue;  // EINTR (every signal is blocked here: not seen)
            for (;;) {
                // The program reaps this context for itself: aio_suspend reaped every context,
                // or this context's requests finished inside their submits, which took them.
                // (Another context's inline completions say nothing about this one.)
                uint32_t reaps = g_app_reaps.load(std::memory_order_relaxed);
                uint32_t inl = e->inline_done.load(std::memory_order_relaxed);
                bool finish_inline = inl != last_inline;
                bool program_reaps = reaps != last_reaps || finish_inline;
                last_reaps = reaps;
                last_inline = inl;
                if (!program_reaps || e->inflight.load(std::memory_order_relaxed) == 0) {
                    reap_before_poll();
                    break;
                }
                e->napping.store(true, std::memory_order_seq_cst);
                uint32_t k = e->kick.load(std::memory_order_seq_cst);
                if (g_waiters.load(std::memory_order_seq_cst) == 0) {
                    // Nobody polls the descriptor during the nap, and the program's requests
                    // finish inside their submits, which take them: pause it (io_uring: no
                    // eventfd signal per completion, and those looks skip re-arming it). Not
                    // for completions that come later (direct I/O): there the pause would only
                    // add a resume before every poll.
                    if (!e->paused.load(std::memory_order_relaxed) && finish_inline &&
                        fileaio_ctx_pause_fd(e->ctx, 1) == 0) {
                        e->paused.store(true, std::memory_order_relaxed);
                    }
                    struct timespec nap = {0, 1000000};
                    syscall(SYS_futex, reinterpret_cast<uint32_t *>(&e->kick), FUTEX_WAIT_PRIVATE, k, &nap, nullptr,
                            0);
                }
                e->napping.store(false, std::memory_order_relaxed);
                if (g_waiters.load(std::memory_order_seq_cst) != 0) {
                    reap_before_poll();
                    break;
                }
            }
        }
    }
    // No pollable descriptor (every backend has one; this is a fallback): block in wait, holding
    // the reap lock for good. aio_suspend then leaves reaping to this thread.
    e->reaper_parked.store(true);
    pthread_mutex_lock(&e->reap_mu);
    fileaio_req *done[completion_batch];
    for (;;) {
        size_t n = 0;
        int rc = fileaio_ctx_wait(e->ctx, 1, FILEAIO_WAIT_FOREVER, done, completion_batch, &n);
        if (n > 0) {
            {
                lock_guard lk;
                publish_locked(e, done, n);
            }
            wake_sleepers();
            drain_notifications();
        } else if (rc != 0 && rc != FILEAIO_E_INTERRUPTED && rc != FILEAIO_E_TIMEOUT) {
            // Cannot happen with WAIT_WITHOUT_PENDING and one waiter; never spin if it does.
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, nullptr);
        }
    }
    return nullptr;
}

// Before sleeping on g_seq (g_waiters already counts this thread): completion threads that nap
// must poll again, or the completions this thread waits for would wait for the end of a nap.
void kick_nappers() {
    lock_guard lk;
    for (ctx_entry *e : g.ctxs) {
        if (e->napping.load(std::memory_order_seq_cst)) {
            e->kick.fetch_add(1, std::memory_order_seq_cst);
            syscall(SYS_futex, reinterpret_cast<uint32_t *>(&e->kick), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
        }
    }
}

// Reaps every context (aio_suspend, before sleeping). When the completion thread is reaping,
// waiting for its short turn is cheaper than sleeping until it has published and woken us.
void reap_all() {
    g_app_reaps.fetch_add(1, std::memory_order_relaxed);
    ctx_entry *ctxs[8];
    size_t n;
    {
        lock_guard lk;
        n = g.ctxs.size() < 8 ? g.ctxs.size() : 8;
        for (size_t i = 0; i < n; ++i) ctxs[i] = g.ctxs[i];
    }
    for (size_t i = 0; i < n; ++i)
        if (!ctxs[i]->reaper_parked.load()) reap(ctxs[i], true);
}

int create_ctx(fileaio_ctx **out, uint32_t max, fileaio_backend backend) {
    fileaio_ctx_options opts;
    memset(&opts, 0, sizeof opts);
    opts.size = sizeof opts;
    opts.max_reqs = max;
    opts.flags = FILEAIO_CTX_WAIT_WITHOUT_PENDING;
    opts.backend = backend;
    opts.threads = g_init_threads.load(std::memory_order_relaxed);
    // FILEAIO_POSIX_SQPOLL=1: io_uring's SQ thread submits (and receives the task work that
    // otherwise interrupts the submitting thread's sleeps with EINTR; docs/posix.md).
    const char *sqpoll = getenv("FILEAIO_POSIX_SQPOLL");
    if (sqpoll != nullptr && strcmp(sqpoll, "1") == 0) opts.uring_flags = FILEAIO_URING_SQPOLL;
    return fileaio_ctx_create_opts(out, &opts);
}

ctx_entry *new_ctx_locked() {
    // The first context finds the size: as large as the backend allows (io_uring takes any size;
    // Linux AIO is bounded by fs.aio-max-nr), halving down to 1024.
    uint32_t size = g.ctx_size;
    if (size == 0) size = g_init_num.load(std::memory_order_relaxed);
    if (size == 0) size = 1u << 20;
    // FILEAIO_BACKEND=posix_aio would make AUTO pick the backend that calls aio_read, which is
    // us: the thread pool stands in for it.
    const char *named = getenv("FILEAIO_BACKEND");
    fileaio_backend backend = named != nullptr && strcmp(named, "posix_aio") == 0 ? FILEAIO_BACKEND_THREAD_POOL
                                                                                  : FILEAIO_BACKEND_AUTO;
    fileaio_ctx *ctx = nullptr;
    int rc;
    for (;;) {
        rc = create_ctx(&ctx, size, backend);
        if (rc == 0 && fileaio_ctx_get_backend(ctx) == FILEAIO_BACKEND_POSIX_AIO) {
            fileaio_ctx_destroy(ctx);
            rc = create_ctx(&ctx, size, FILEAIO_BACKEND_THREAD_POOL);
        }
        if (rc == 0) break;
        if (size <= 1024 || (rc != FILEAIO_E_INSUFFICIENT_RESOURCES && rc != FILEAIO_E_OUT_OF_RANGE &&
                             rc != FILEAIO_E_NO_MEMORY && rc != -ENOMEM && rc != -EAGAIN))
            return nullptr;
        size /= 2;
    }
    auto *e = new (std::nothrow) ctx_entry;
    if (e == nullptr) {
        fileaio_ctx_destroy(ctx);
        return nullptr;
    }
    e->ctx = ctx;
    e->max = fileaio_ctx_get_max_req_count(ctx);
    try {
        g.ctxs.push_back(e);
    } catch (...) {
        fileaio_ctx_destroy(ctx);
        delete e;
        return nullptr;
    }
    // The completion thread blocks every signal, so that process-directed signals (ours among
    // them) go to the program's threads.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t tid;
    rc = pthread_create(&tid, &attr, completion_main, e);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (rc != 0) {
        g.ctxs.pop_back();
        fileaio_ctx_destroy(ctx);
        delete e;
        return nullptr;
    }
    g.ctx_size = size;
    if (g.debug)
        fprintf(stderr, "fileaio-posix: context %zu: backend %s, max_reqs %u\n", g.ctxs.size(),
                fileaio_backend_name(fileaio_ctx_get_backend(ctx)), e->max);
    return e;
}

void atfork_prepare() { pthread_mutex_lock(&g.mu); }
void atfork_parent() { pthread_mutex_unlock(&g.mu); }
void atfork_child() {
    // The contexts are the parent's (its rings, its completion threads): leave them untouched.
    g.ctxs.clear();
    g.next_ctx = 0;
    // POSIX: the child has no outstanding requests. Their aiocbs (the child's copies) say ECANCELED.
    if (g.atfork) {
        while (g.active.next != &g.active) {
            slot *s = g.active.next;
            unlink_active_locked(s);
            if (s->cb != nullptr) store_status(s->cb, ECANCELED, -1);
        }
    }
    // Every slot is free again. A request object SUBMITTED (or being submitted) to a context of
    // the parent is abandoned; notifications queued in the parent are the parent's.
    g.free_slots = nullptr;
    for (int i = g.nslots; i >= 1; --i) {
        slot *s = slot_at(i);
        if (s->req != nullptr && fileaio_req_get_state(s->req) != FILEAIO_REQ_COMPLETED) s->req = nullptr;
        s->cb = nullptr;
        s->parent = nullptr;
        s->grp = nullptr;
        s->append_next = nullptr;
        s->part_next = nullptr;
        s->held = false;
        s->next = g.free_slots;
        g.free_slots = s;
    }
    g.notify_slots = nullptr;
    g.notify_slots_tail = &g.notify_slots;
    g.notify_groups = nullptr;
    g_waiters.store(0);
    pthread_mutex_unlock(&g.mu);
}

void init_locked() {
    if (g.atfork) return;
    g.active.next = g.active.prev = &g.active;
    const char *dbg = getenv("FILEAIO_POSIX_DEBUG");
    g.debug = dbg != nullptr && *dbg != '\0' && *dbg != '0';
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    g.atfork = true;
}

// A context with room for `count` more requests (created when all are full), counted in.
ctx_entry *pick_ctx_locked(uint32_t count) {
    size_t n = g.ctxs.size();
    for (size_t k = 0; k < n; ++k) {
        ctx_entry *e = g.ctxs[(g.next_ctx + k) % n];
        if (e->max - e->inflight >= count + fsync_reserve) {
            g.next_ctx = (g.next_ctx + k) % n;
            e->inflight += count;
            return e;
        }
    }
    ctx_entry *e = new_ctx_locked();
    if (e == nullptr) return nullptr;
    g.next_ctx = g.ctxs.size() - 1;
    e->inflight += count;
    return e;
}

// ---- submission ----

// A request that completes without I/O (0 bytes, a NULL buffer): published and notified here.
// In a lio_listio the caller's guard keeps the group's count above zero here.
int complete_inline(struct aiocb *cb, int err, ssize_t ret, group *gr) {
    store_status(cb, err, ret);
    if (gr != nullptr) {
        if (err != 0) gr->failed.store(1, std::memory_order_relaxed);
        gr->remaining.fetch_sub(1, std::memory_order_acq_rel);
    }
    wake_sleepers();
    if (cb->aio_sigevent.sigev_notify != SIGEV_NONE) run_notification(cb->aio_sigevent);
    return 0;
}

// aio_read/aio_write and one entry of lio_listio. 0, or the errno for a synchronous failure.
int submit_rw(struct aiocb *cb, int opcode, group *gr) {
    if (cb == nullptr) return EINVAL;
    if (cb->aio_reqprio < 0 || cb->aio_reqprio > AIO_PRIO_DELTA_MAX) return EINVAL;
    if (!valid_sigevent(cb->aio_sigevent)) return EINVAL;
    if (cb->aio_fildes < 0) return EBADF;
    if (cb->aio_offset < 0) return EINVAL;
    if (cb->aio_nbytes > static_cast<size_t>(SSIZE_MAX)) return EINVAL;
    if (static_cast<uint64_t>(cb->aio_offset) + cb->aio_nbytes > static_cast<uint64_t>(INT64_MAX)) return EINVAL;
    void *buf = const_cast<void *>(cb->aio_buf);
    bool append = false;
    if (opcode == LIO_WRITE && cb->aio_nbytes != 0 && buf != nullptr) {
        int fl = fcntl(cb->aio_fildes, F_GETFL);
        append = fl != -1 && (fl & O_APPEND) != 0;
    }
    if (cb->aio_nbytes == 0 || buf == nullptr) {
        // fileaio wants a buffer and a length; the kernel's answers for these are simple.
        if (fcntl(cb->aio_fildes, F_GETFD) == -1) return complete_inline(cb, EBADF, -1, gr);
        if (cb->aio_nbytes == 0) return complete_inline(cb, 0, 0, gr);
        return complete_inline(cb, EFAULT, -1, gr);
    }
    slot *s;
    ctx_entry *e;
    uint32_t finished_before = 0;  // s->finished before the submit (see below)
    {
        lock_guard lk;
        init_locked();
        s = alloc_slot_locked();
        if (s == nullptr) return EAGAIN;
        finished_before = s->finished.load(std::memory_order_relaxed);
        e = pick_ctx_locked(1);
        if (e == nullptr) {
            free_slot_locked(s);
            return EAGAIN;
        }
        s->cb = cb;
        s->fd = cb->aio_fildes;
        s->ctx = e;
        s->grp = gr;
        s->op = opcode;
        s->buf = buf;
        s->nbytes = cb->aio_nbytes;
        s->notify = cb->aio_sigevent.sigev_notify != SIGEV_NONE;
        if (s->notify) s->ev = cb->aio_sigevent;
        if (append) {
            slot *before = last_append_locked(s->fd);
            if (before != nullptr) {
                before->append_next = s;
                s->held = true;
            }
            s->append = true;
        }
        link_active_locked(s);
        cb->__abs_prio = s->index;
        std::atomic_ref<int>(cb->__error_code).store(EINPROGRESS, std::memory_order_relaxed);
        cb->__return_value = 0;
        if (s->held) {
            g_submitted.fetch_add(1, std::memory_order_relaxed);
            return 0;
        }
    }
    int rc = opcode == LIO_READ
                 ? fileaio_req_prepare_read(s->req, cb->aio_fildes, cb->aio_offset, buf, cb->aio_nbytes, s)
                 : fileaio_req_prepare_write(s->req, cb->aio_fildes, cb->aio_offset, buf, cb->aio_nbytes, s);
    if (rc == 0) rc = fileaio_ctx_submit(e->ctx, &s->req, 1, nullptr);
    if (rc == 0) {
        g_submitted.fetch_add(1, std::memory_order_relaxed);
        // Take what finished inside the submit (a cached read on io_uring) at once, so that the
        // program finds it without an aio_suspend and no other thread is woken for it. When the
        // request finished inside its submit (whoever published it: the completion thread may
        // have been quicker), the program counts as reaping for itself: the completion thread
        // then naps with the descriptor paused (completion_main), which makes these looks cheap.
        // A look that found the request still in flight with the descriptor armed (direct I/O:
        // completions come later) cost a system call, and the next 64 submits do not look.
        bool paused = e->paused.load(std::memory_order_relaxed);
        uint32_t skip = paused ? 0 : e->inline_skip.load(std::memory_order_relaxed);
        if (skip == 0) reap(e, false);
        // Never cb from here on: the reap may have run this request's notification, and the
        // program (a signal handler, another thread) may have called aio_return and released it.
        if (s->finished.load(std::memory_order_acquire) != finished_before) {
            if (skip != 0) e->inline_skip.store(0, std::memory_order_relaxed);
            e->inline_done.fetch_add(1, std::memory_order_relaxed);
        } else if (skip != 0) {
            e->inline_skip.store(skip - 1, std::memory_order_relaxed);
        } else if (!paused) {
            e->inline_skip.store(64, std::memory_order_relaxed);
        }
        return 0;
    }
    {
        lock_guard lk;
        unlink_active_locked(s);
        e->inflight--;
        slot *next_append = s->append_next;  // an append held behind this one meanwhile
        s->append_next = nullptr;
        free_slot_locked(s);
        store_status(cb, EAGAIN, -1);
        if (next_append != nullptr) start_held_locked(next_append);
    }
    return EAGAIN;
}

int fail(int err) {
    errno = err;
    return -1;
}

int rw_call(struct aiocb *cb, int opcode) {
    no_cancel nc;
    int err = submit_rw(cb, opcode, nullptr);
    return err == 0 ? 0 : fail(err);
}

int fsync_call(int op, struct aiocb *cb) {
    no_cancel nc;
    if (cb == nullptr) return fail(EINVAL);
    if (op != O_SYNC && op != O_DSYNC) return fail(EINVAL);
    int flags = fcntl(cb->aio_fildes, F_GETFL);
    if (flags == -1 || (flags & O_ACCMODE) == O_RDONLY) return fail(EBADF);
    if (!valid_sigevent(cb->aio_sigevent)) return fail(EINVAL);
    if (cb->aio_reqprio < 0 || cb->aio_reqprio > AIO_PRIO_DELTA_MAX) return fail(EINVAL);
    // One part per context: fileaio's flush is a barrier for the writes of its own context.
    slot *parts_small[8] = {};
    std::vector<slot *> parts_big;
    slot **parts = parts_small;
    size_t nparts;
    {
        lock_guard lk;
        init_locked();
        if (g.ctxs.empty() && new_ctx_locked() == nullptr) return fail(EAGAIN);
        nparts = g.ctxs.size();
        if (nparts > 8) {
            try {
                parts_big.resize(nparts);
            } catch (...) {
                return fail(EAGAIN);
            }
            parts = parts_big.data();
        }
        for (size_t i = 0; i < nparts; ++i) {
            ctx_entry *e = g.ctxs[i];
            parts[i] = e->inflight < e->max ? alloc_slot_locked() : nullptr;
            if (parts[i] == nullptr) {
                for (size_t k = 0; k < i; ++k) {
                    parts[k]->ctx->inflight--;
                    free_slot_locked(parts[k]);
                }
                return fail(EAGAIN);
            }
            parts[i]->ctx = e;
            parts[i]->fd = cb->aio_fildes;
            e->inflight++;
        }
        slot *p = parts[0];
        p->cb = cb;
        p->parts_left = static_cast<uint32_t>(nparts);
        p->notify = cb->aio_sigevent.sigev_notify != SIGEV_NONE;
        if (p->notify) p->ev = cb->aio_sigevent;
        for (size_t i = 1; i < nparts; ++i) parts[i]->parent = p;
        slot *before = last_append_locked(p->fd);
        if (before != nullptr) {  // held behind the appends in flight (start_held_locked)
            for (size_t i = 0; i + 1 < nparts; ++i) parts[i]->part_next = parts[i + 1];
            p->fsync_op = op;
            p->append = true;
            p->held = true;
            before->append_next = p;
        }
        link_active_locked(p);
        cb->__abs_prio = p->index;
        std::atomic_ref<int>(cb->__error_code).store(EINPROGRESS, std::memory_order_relaxed);
        cb->__return_value = 0;
        if (p->held) {
            g_submitted.fetch_add(1, std::memory_order_relaxed);
            return 0;
        }
    }
    bool published = false;
    for (size_t i = 0; i < nparts; ++i) {
        slot *s = parts[i];
        int rc = op == O_DSYNC ? fileaio_req_prepare_datasync(s->req, cb->aio_fildes, s)
                               : fileaio_req_prepare_flush(s->req, cb->aio_fildes, s);
        if (rc == 0) rc = fileaio_ctx_submit(s->ctx->ctx, &s->req, 1, nullptr);
        if (rc == 0) continue;
        lock_guard lk;
        s->ctx->inflight--;
        if (nparts == 1) {  // nothing in flight: a plain synchronous failure
            unlink_active_locked(s);
            free_slot_locked(s);
            store_status(cb, EAGAIN, -1);
            return fail(EAGAIN);
        }
        part_done_locked(s, EAGAIN, -1);
        published = true;
    }
    g_submitted.fetch_add(1, std::memory_order_relaxed);
    if (published) {
        wake_sleepers();
        drain_notifications();
    }
    return 0;
}

int cancel_call(int fd, struct aiocb *cb) {
    no_cancel nc;
    if (fcntl(fd, F_GETFL) == -1) return fail(EBADF);
    if (cb != nullptr && cb->aio_fildes != fd) return fail(EINVAL);
    int result = AIO_ALLDONE;
    bool published = false;
    {
        lock_guard lk;
        if (!g.atfork) return AIO_ALLDONE;
        auto try_cancel = [&](slot *s) {
            if (s->held) {  // never submitted: taken out of its descriptor's chain
                for (slot *b = g.active.next; b != &g.active; b = b->next)
                    if (b->append_next == s) {
                        b->append_next = s->append_next;
                        break;
                    }
                s->append_next = nullptr;
                s->held = false;
                for (slot *q = s->part_next; q != nullptr;) {  // a held aio_fsync's other parts
                    slot *next = q->part_next;
                    q->part_next = nullptr;
                    q->ctx->inflight--;
                    free_slot_locked(q);
                    q = next;
                }
                s->part_next = nullptr;
                s->parts_left = 1;
            } else if (s->parts_left > 1 || fileaio_req_cancel(s->req) != 0) {
                result = AIO_NOTCANCELED;
                return;
            }
            s->ctx->inflight--;
            part_done_locked(s, ECANCELED, -1);
            published = true;
            if (result == AIO_ALLDONE) result = AIO_CANCELED;
        };
        if (cb != nullptr) {
            slot *s = lookup_locked(cb);
            if (s != nullptr) try_cancel(s);
        } else {
            // Held appends first: then no request of fd has one held behind it, and finishing
            // a request unlinks only itself (it starts no held append) while the list is walked.
            for (int held_pass = 1; held_pass >= 0; --held_pass) {
                for (slot *s = g.active.next; s != &g.active;) {
                    slot *next = s->next;  // finish unlinks s
                    if (s->fd == fd && s->held == (held_pass == 1)) try_cancel(s);
                    s = next;
                }
            }
        }
    }
    if (published) {
        wake_sleepers();
        drain_notifications();
    }
    return result;
}

int suspend_call(const struct aiocb *const list[], int nent, const struct timespec *timeout) {
    if (nent < 0 || (nent > 0 && list == nullptr)) return fail(EINVAL);
    struct timespec deadline;
    const struct timespec *until = nullptr;  // null: no deadline
    if (timeout != nullptr) {
        if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L) return fail(EINVAL);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        // A timeout past the end of time_t (a program's "forever", e.g. LONG_MAX seconds) is no
        // deadline: the sum would overflow to a negative time, which futex rejects with EINVAL
        // at once, and the loop below would spin without ever sleeping or seeing a signal.
        if (timeout->tv_sec < std::numeric_limits<time_t>::max() - deadline.tv_sec - 1) {
            deadline.tv_sec += timeout->tv_sec;
            deadline.tv_nsec += timeout->tv_nsec;
            if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_nsec -= 1000000000L;
                deadline.tv_sec++;
            }
            until = &deadline;
        }
    }
    no_cancel nc;
    int err = 0;
    {
        waiter_count counted;  // also undone when the thread is cancelled asleep
        bool reaped = false;
        for (;;) {
            uint32_t seen = g_seq.load(std::memory_order_seq_cst);
            bool in_progress = false, done = false;
            for (int i = 0; i < nent; ++i) {
                if (list[i] == nullptr) continue;
                if (load_status(list[i]) == EINPROGRESS)
                    in_progress = true;
                else
                    done = true;
            }
            if (done || !in_progress) break;
            if (!reaped) {  // take what is complete ourselves, then look again
                reaped = true;
                reap_all();
                continue;
            }
            reaped = false;
            kick_nappers();
            int r = sleep_on_seq(seen, until, nc.state);
            if (r == EINTR) {
                err = EINTR;
                break;
            }
            if (r == ETIMEDOUT) {
                err = EAGAIN;
                break;
            }
        }
    }
    return err == 0 ? 0 : fail(err);
}

int listio_call(int mode, struct aiocb *const list[], int nent, struct sigevent *sig) {
    no_cancel nc;
    if (mode != LIO_WAIT && mode != LIO_NOWAIT) return fail(EINVAL);
    if (nent < 0 || (nent > 0 && list == nullptr)) return fail(EINVAL);
    bool group_notify = mode == LIO_NOWAIT && sig != nullptr && sig->sigev_notify != SIGEV_NONE;
    if (group_notify && !valid_sigevent(*sig)) return fail(EINVAL);
    group *gr = nullptr;
    if (mode == LIO_WAIT || group_notify) {
        gr = new (std::nothrow) group;
        if (gr == nullptr) return fail(EAGAIN);
        if (mode == LIO_WAIT) gr->refs.store(2);
        gr->notify = group_notify;
        if (group_notify) gr->ev = *sig;
    }
    bool eagain = false, failed = false;
    for (int i = 0; i < nent; ++i) {
        struct aiocb *cb = list[i];
        if (cb == nullptr || cb->aio_lio_opcode == LIO_NOP) continue;
        int op = cb->aio_lio_opcode;
        int err;
        if (op != LIO_READ && op != LIO_WRITE) {
            err = EINVAL;
        } else {
            if (gr != nullptr) gr->remaining.fetch_add(1, std::memory_order_relaxed);
            err = submit_rw(cb, op, gr);
            if (err != 0 && gr != nullptr) gr->remaining.fetch_sub(1, std::memory_order_relaxed);
        }
        if (err != 0) {
            store_status(cb, err, -1);
            if (err == EAGAIN)
                eagain = true;
            else
                failed = true;
        }
    }
    if (gr != nullptr) {
        bool last;
        {
            lock_guard lk;
            last = gr->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1;
            if (last) group_done_locked(gr);
        }
        if (last) drain_notifications();
    }
    if (mode == LIO_WAIT) {
        g_waiters.fetch_add(1, std::memory_order_seq_cst);
        bool interrupted = false, reaped = false;
        for (;;) {
            uint32_t seen = g_seq.load(std::memory_order_seq_cst);
            if (gr->remaining.load(std::memory_order_acquire) == 0) break;
            if (!reaped) {  // as aio_suspend: take what is complete, then look again
                reaped = true;
                reap_all();
                continue;
            }
            reaped = false;
            kick_nappers();
            if (sleep_on_seq(seen, nullptr, PTHREAD_CANCEL_DISABLE) == EINTR) {
                interrupted = true;
                break;
            }
        }
        g_waiters.fetch_sub(1, std::memory_order_seq_cst);
        if (gr->failed.load(std::memory_order_relaxed) != 0) failed = true;
        group_unref(gr);
        if (interrupted) return fail(EINTR);
    }
    if (eagain) return fail(EAGAIN);
    if (failed) return fail(EIO);
    return 0;
}

int error_call(const struct aiocb *cb) {
    if (cb == nullptr) return fail(EINVAL);
    return load_status(cb);
}

// POSIX: the status may be retrieved once, after completion. While the request is in flight
// there is nothing to retrieve (EINVAL, as Linux's aio_return(3) describes).
ssize_t return_call(struct aiocb *cb) {
    if (cb == nullptr) return fail(EINVAL);
    if (load_status(cb) == EINPROGRESS) return fail(EINVAL);
    return cb->__return_value;
}

void init_call(const struct aioinit *init) {
    if (init == nullptr) return;
    if (init->aio_threads > 0) g_init_threads.store(static_cast<uint32_t>(init->aio_threads), std::memory_order_relaxed);
    if (init->aio_num > 0)
        g_init_num.store(static_cast<uint32_t>(init->aio_num < 1024 ? 1024 : init->aio_num), std::memory_order_relaxed);
}

}  // namespace

// ---- the exported functions ----

FILEAIO_POSIX_API int aio_read(struct aiocb *cb) noexcept { return rw_call(cb, LIO_READ); }
FILEAIO_POSIX_API int aio_write(struct aiocb *cb) noexcept { return rw_call(cb, LIO_WRITE); }
FILEAIO_POSIX_API int aio_fsync(int op, struct aiocb *cb) noexcept { return fsync_call(op, cb); }
FILEAIO_POSIX_API int aio_error(const struct aiocb *cb) noexcept { return error_call(cb); }
FILEAIO_POSIX_API ssize_t aio_return(struct aiocb *cb) noexcept { return return_call(cb); }
FILEAIO_POSIX_API int aio_suspend(const struct aiocb *const list[], int nent, const struct timespec *timeout) {
    return suspend_call(list, nent, timeout);
}
FILEAIO_POSIX_API int aio_cancel(int fd, struct aiocb *cb) noexcept { return cancel_call(fd, cb); }
FILEAIO_POSIX_API int lio_listio(int mode, struct aiocb *const list[], int nent, struct sigevent *sig) noexcept {
    return listio_call(mode, list, nent, sig);
}

// The *64 twins: on 64-bit glibc struct aiocb64 is struct aiocb (checked above).
FILEAIO_POSIX_API int aio_read64(struct aiocb64 *cb) noexcept { return rw_call(reinterpret_cast<aiocb *>(cb), LIO_READ); }
FILEAIO_POSIX_API int aio_write64(struct aiocb64 *cb) noexcept {
    return rw_call(reinterpret_cast<aiocb *>(cb), LIO_WRITE);
}
FILEAIO_POSIX_API int aio_fsync64(int op, struct aiocb64 *cb) noexcept {
    return fsync_call(op, reinterpret_cast<aiocb *>(cb));
}
FILEAIO_POSIX_API int aio_error64(const struct aiocb64 *cb) noexcept {
    return aio_error(reinterpret_cast<const aiocb *>(cb));
}
FILEAIO_POSIX_API ssize_t aio_return64(struct aiocb64 *cb) noexcept { return aio_return(reinterpret_cast<aiocb *>(cb)); }
// aio_suspend64 is aio_suspend itself (an alias, not a wrapper): <aio.h> declares it __THROW,
// which would make a C++ wrapper noexcept, and a thread cancelled asleep in it would abort on
// the way out instead of unwinding.
asm(".globl aio_suspend64\n\t.type aio_suspend64, @function\n\t.set aio_suspend64, aio_suspend");
FILEAIO_POSIX_API int aio_cancel64(int fd, struct aiocb64 *cb) noexcept {
    return cancel_call(fd, reinterpret_cast<aiocb *>(cb));
}
FILEAIO_POSIX_API int lio_listio64(int mode, struct aiocb64 *const list[], int nent, struct sigevent *sig) noexcept {
    return listio_call(mode, reinterpret_cast<aiocb *const *>(list), nent, sig);
}

// glibc's tunables: aio_threads becomes the thread_pool backend's worker count and aio_num the
// size of the first context (at least 1024; more contexts are added when it is full), when they
// come before the first request (later calls change nothing).
FILEAIO_POSIX_API void aio_init(const struct aioinit *init) noexcept { init_call(init); }

// Diagnostics: the contexts made so far in this process (0 before the first request).
FILEAIO_POSIX_API unsigned fileaio_posix_context_count(void) noexcept {
    lock_guard lk;
    return static_cast<unsigned>(g.ctxs.size());
}

// The marker of this library (a program or test finds it with dlsym): requests handed to fileaio.
FILEAIO_POSIX_API unsigned long long fileaio_posix_submitted(void) noexcept {
    return g_submitted.load(std::memory_order_relaxed);
}
