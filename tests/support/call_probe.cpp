// See call_probe.hpp.
#include "support/call_probe.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define FILEAIO_CALL_PROBE 0
#else
#define FILEAIO_CALL_PROBE 1
#endif

namespace fileaio::test::call_probe {
namespace {

thread_local uint64_t started_here = 0;

struct hold_state {
    std::mutex m;
    std::condition_variable cv;
    const char *lo = nullptr;
    const char *hi = nullptr;
    bool holding = false;
    size_t held = 0;
    std::vector<pid_t> readers;
};

hold_state &state() {
    static hold_state s;
    return s;
}

hold_state &write_state() {
    static hold_state s;
    return s;
}

#if FILEAIO_CALL_PROBE
// Whether a preadv2 with these arguments is one to watch.
bool watched(const struct iovec *iov, int iovcnt, int flags) {
    if ((flags & RWF_NOWAIT) == 0 || iovcnt < 1) return false;
    hold_state &s = state();
    std::lock_guard lock(s.m);
    const char *p = static_cast<const char *>(iov[0].iov_base);
    return s.lo != nullptr && p >= s.lo && p < s.hi;
}

// Whether a pwritev2 from these buffers is one to watch.
bool watched_write(const struct iovec *iov, int iovcnt) {
    if (iovcnt < 1) return false;
    hold_state &s = write_state();
    std::lock_guard lock(s.m);
    const char *p = static_cast<const char *>(iov[0].iov_base);
    return s.lo != nullptr && p >= s.lo && p < s.hi;
}

// Records the caller and blocks while holding.
void on_watched(hold_state &s) {
    std::unique_lock lock(s.m);
    s.readers.push_back(static_cast<pid_t>(gettid()));
    ++s.held;
    s.cv.notify_all();
    s.cv.wait(lock, [&] { return !s.holding; });
    --s.held;
}

#endif

bool wait_held_in(hold_state &s, size_t n, std::chrono::milliseconds limit) {
    std::unique_lock lock(s.m);
    return s.cv.wait_for(lock, limit, [&] { return s.held >= n; });
}

void release_in(hold_state &s) {
    std::lock_guard lock(s.m);
    s.holding = false;
    s.cv.notify_all();
}

}  // namespace

bool available() { return FILEAIO_CALL_PROBE != 0; }

uint64_t threads_started_here() { return started_here; }

void hold_nowait_reads(const void *base, size_t len) {
    hold_state &s = state();
    std::lock_guard lock(s.m);
    s.lo = static_cast<const char *>(base);
    s.hi = s.lo + len;
    s.holding = true;
    s.readers.clear();
}

bool wait_held(size_t n, std::chrono::milliseconds limit) { return wait_held_in(state(), n, limit); }

void release_nowait_reads() { release_in(state()); }

std::vector<pid_t> nowait_readers() {
    hold_state &s = state();
    std::lock_guard lock(s.m);
    return s.readers;
}

void hold_writes(const void *base, size_t len) {
    hold_state &s = write_state();
    std::lock_guard lock(s.m);
    s.lo = static_cast<const char *>(base);
    s.hi = s.lo + len;
    s.holding = true;
    s.readers.clear();
}

bool wait_writes_held(size_t n, std::chrono::milliseconds limit) { return wait_held_in(write_state(), n, limit); }

void release_writes() { release_in(write_state()); }

std::vector<pid_t> writers() {
    hold_state &s = write_state();
    std::lock_guard lock(s.m);
    return s.readers;
}

}  // namespace fileaio::test::call_probe

#if FILEAIO_CALL_PROBE
extern "C" {

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    using fn = int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    static const auto next = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "pthread_create"));
    ++fileaio::test::call_probe::started_here;
    return next(thread, attr, start, arg);
}

ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    using fn = ssize_t (*)(int, const struct iovec *, int, off_t, int);
    static const auto next = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "preadv2"));
    if (fileaio::test::call_probe::watched(iov, iovcnt, flags))
        fileaio::test::call_probe::on_watched(fileaio::test::call_probe::state());
    return next(fd, iov, iovcnt, offset, flags);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    using fn = ssize_t (*)(int, const struct iovec *, int, off_t, int);
    static const auto next = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "pwritev2"));
    if (fileaio::test::call_probe::watched_write(iov, iovcnt))
        fileaio::test::call_probe::on_watched(fileaio::test::call_probe::write_state());
    return next(fd, iov, iovcnt, offset, flags);
}

}  // extern "C"
#endif
