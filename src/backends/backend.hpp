// The private backend interface. The core (src/core/context.cpp) checks handles, states, the
// limit, the one-waiter rule and the wakeup flag once; a backend only moves requests to the
// operating system and back. A backend never calls into another backend.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fileaio/fileaio.h"

namespace fileaio::detail {

struct request;

using clock = std::chrono::steady_clock;

// When a reap may stop blocking. `forever` never expires; a deadline in the past polls.
struct deadline {
    clock::time_point at;
    bool forever = false;

    static deadline never() { return {clock::time_point::max(), true}; }
    static deadline poll() { return {clock::time_point::min(), false}; }
    static deadline after_ms(uint32_t ms);
    bool expired() const { return !forever && clock::now() >= at; }
};

// What a backend is created with (validated by the core).
struct backend_config {
    uint32_t max_reqs = 0;
    uint32_t threads = 0;            // 0: the backend's default
    uint32_t uring_flags = 0;
    uint32_t uring_max_workers = 0;
    // FILEAIO_CTX_SINGLE_THREAD: the core lets only the owner thread call submit, reap, cancel and
    // the buffer hints (the first submit or reap comes from it); kick, notify_through and
    // has_completions still come from any thread.
    bool single_thread = false;
};

class backend {
public:
    backend() = default;
    backend(const backend &) = delete;
    backend &operator=(const backend &) = delete;
    // Only called when nothing is pending and nobody waits. Joins its threads.
    virtual ~backend() = default;

    // Hands reqs[0..n) (all SUBMITTED, `stage` 0) to the operating system. A request the OS rejects
    // at once still completes through reap with that error. Returns 0, or E_INSUFFICIENT_RESOURCES /
    // E_NO_MEMORY when it ran out part way; *accepted tells how many were taken (in order).
    virtual int submit(request *const *reqs, size_t n, size_t *accepted) = 0;

    // Moves up to `cap` finished requests into out (result and transferred filled in) and returns
    // how many. Blocks, without spinning, while fewer than `want` (>= 1) are available, until the
    // deadline or a kick(); signals do not end it. It may return early (spuriously) with fewer.
    virtual size_t reap(request **out, size_t cap, size_t want, const deadline &dl) = 0;

    // Ends the reap in progress, or the next one, promptly. Any thread; never lost.
    virtual void kick() = 0;

    // 0: stopped before it touched the file (reap will never return it); E_COMPLETED: finished,
    // reap returns it; E_IN_PROGRESS: running; E_NOT_SUBMITTED: the submit that was handing it on
    // gives it back to the caller untouched (the OS refused resources part way). Never blocks for long. Called only for a request of
    // this backend's current submission, which the core holds (CANCELLING) until the answer: it
    // cannot be handed back meanwhile, and no other cancel of it runs.
    virtual int cancel(request *r) = 0;

    // Event loops (API.md): from this call on, whenever the backend makes a finished request
    // available to reap that the caller's last look could not have seen — except when the reaper
    // itself does it — it makes `efd` (an eventfd the core owns and closes after destroying the
    // backend) readable: by writing to it, or by having the kernel signal it per completion. It
    // never reads it. Called from any thread, also while requests are in flight, and never again
    // once it returned 0; an error leaves the context without a descriptor (a later call tries again).
    virtual int notify_through(int efd) = 0;

    // pause_fd (API.md "Event loops"): while paused, the backend need not make efd readable for
    // finished requests; a hint, so doing so anyway is correct. Called only after notify_through
    // returned 0, one call at a time (the core's descriptor lock). Resuming takes effect before
    // it returns: the core then re-arms efd by looking (has_completions), so every completion is
    // either seen by that look or signals efd itself.
    virtual void pause_notify(bool /*paused*/) {}

    // Whether a reap with a passed deadline might return a request now (a finished request is
    // held here or waits in the kernel's queue). Not a kick. Any thread.
    virtual bool has_completions() = 0;

    // Hints (API.md "Tuning and acceleration"); called only while nothing is pending.
    virtual int associate_with_file(int /*fd*/) { return 0; }
    virtual int register_buffers(const struct iovec * /*iov*/, unsigned /*count*/) { return 0; }
    virtual int unregister_buffers() { return 0; }
};

// A C caller may pass any integer as a fileaio_backend; loading such a value as the C++ enum type
// is undefined, so the C boundary reads the raw bits and converts checked values only.
inline int raw_enum(const fileaio_backend &b) {
    int v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}
inline bool backend_from_raw(int v, fileaio_backend *out) {
    if (v < FILEAIO_BACKEND_AUTO || v > FILEAIO_BACKEND_THREAD_POOL) return false;
    *out = static_cast<fileaio_backend>(v);
    return true;
}

// The registry (src/backends/registry.cpp): the only place that names the backends.
int probe_backend(fileaio_backend kind, char *reason, size_t reason_size);
int backend_limits(fileaio_backend kind, fileaio_limits *limits);
// Creates the backend for `kind` (AUTO resolved here). *chosen is the backend really created.
int create_backend(fileaio_backend kind, const backend_config &config, std::unique_ptr<backend> *out,
                   fileaio_backend *chosen);
const char *backend_name(fileaio_backend kind);

}  // namespace fileaio::detail
