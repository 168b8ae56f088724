// fileaio — the C++20 API: RAII types over the C API in fileaio.h (one implementation behind
// both). Results are std::error_code in the fileaio category; OS errors compare equal to std::errc
// (ec == std::errc::io_error). Nothing on the submit/wait path allocates or throws; constructors
// that acquire resources throw std::system_error, and each has a non-throwing create() twin.
// Destructors are safe with I/O in flight: ~request cancels or leaves the request to the wait that
// hands it back, ~context waits out what is pending (docs/API.md, "C++: lifetimes"). Coroutines
// over a context are in fileaio/async.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "fileaio/fileaio.h"

namespace fileaio {

// ---- errors ----

// The library's own codes, snake_case; the values come from the one table in fileaio.h.
enum class errc : int {
    invalid_handle = FILEAIO_E_INVALID_HANDLE,
    invalid_parameter = FILEAIO_E_INVALID_PARAMETER,
    out_of_range = FILEAIO_E_OUT_OF_RANGE,
    no_memory = FILEAIO_E_NO_MEMORY,
    not_supported = FILEAIO_E_NOT_SUPPORTED,
    not_prepared = FILEAIO_E_NOT_PREPARED,
    in_progress = FILEAIO_E_IN_PROGRESS,
    not_submitted = FILEAIO_E_NOT_SUBMITTED,
    completed = FILEAIO_E_COMPLETED,
    canceled = FILEAIO_E_CANCELED,
    limit_exceeded = FILEAIO_E_LIMIT_EXCEEDED,
    insufficient_resources = FILEAIO_E_INSUFFICIENT_RESOURCES,
    busy = FILEAIO_E_BUSY,
    no_request = FILEAIO_E_NO_REQUEST,
    interrupted = FILEAIO_E_INTERRUPTED,
    timeout = FILEAIO_E_TIMEOUT,
};

namespace detail {
#define FILEAIO_HPP_COUNT_(name, value, text) +1
inline constexpr int error_table_size = 0 FILEAIO_ERRNO_MAP(FILEAIO_HPP_COUNT_);
#undef FILEAIO_HPP_COUNT_
static_assert(error_table_size == 16, "a new FILEAIO_E_ code needs its fileaio::errc name");
}  // namespace detail

namespace detail {

inline constexpr int max_errno = 4095;

class error_category_impl final : public std::error_category {
public:
    const char *name() const noexcept override { return "fileaio"; }
    std::string message(int code) const override { return fileaio_strerror(code); }
    // -errno codes map to the generic category, so they compare equal to std::errc values.
    std::error_condition default_error_condition(int code) const noexcept override {
        if (code < 0 && code >= -max_errno) return {-code, std::generic_category()};
        return {code, *this};
    }
};

}  // namespace detail

// The category of every error_code this API returns.
inline const std::error_category &error_category() noexcept {
    static const detail::error_category_impl category;
    return category;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// A C result code (0 or negative) as an error_code.
inline std::error_code to_error_code(int rc) noexcept {
    return rc == 0 ? std::error_code{} : std::error_code{rc, error_category()};
}

}  // namespace fileaio

template <>
struct std::is_error_code_enum<fileaio::errc> : std::true_type {};

namespace fileaio {

// ---- enums and plain data ----

enum class backend : int {
    automatic = FILEAIO_BACKEND_AUTO,
    io_uring = FILEAIO_BACKEND_IO_URING,
    linux_aio = FILEAIO_BACKEND_LINUX_AIO,
    posix_aio = FILEAIO_BACKEND_POSIX_AIO,
    thread_pool = FILEAIO_BACKEND_THREAD_POOL,
};

enum class req_state : int {
    prepared = FILEAIO_REQ_PREPARED,
    submitted = FILEAIO_REQ_SUBMITTED,
    completed = FILEAIO_REQ_COMPLETED,
};

inline constexpr uint32_t wait_without_pending = FILEAIO_CTX_WAIT_WITHOUT_PENDING;
inline constexpr uint32_t single_thread = FILEAIO_CTX_SINGLE_THREAD;
inline constexpr uint32_t uring_sqpoll = FILEAIO_URING_SQPOLL;

// A timeout of `forever` never expires; zero polls.
inline constexpr std::chrono::milliseconds forever = std::chrono::milliseconds::max();

using stats = fileaio_stats;
using limits = fileaio_limits;
using dio_alignment = fileaio_dio_alignment;

inline const char *name(backend b) noexcept { return fileaio_backend_name(static_cast<fileaio_backend>(b)); }
inline const char *name(req_state s) noexcept {
    switch (s) {
        case req_state::prepared: return "prepared";
        case req_state::submitted: return "submitted";
        case req_state::completed: return "completed";
    }
    return "unknown";
}
// The symbol of a code of this API ("FILEAIO_E_TIMEOUT", "EIO", "OK"); "unknown" for another category.
inline const char *errname(std::error_code ec) noexcept {
    if (!ec) return fileaio_errname(0);
    if (ec.category() == error_category()) return fileaio_errname(ec.value());
    if (ec.category() == std::generic_category() || ec.category() == std::system_category())
        return fileaio_errname(-ec.value());
    return "unknown";
}

// The version of the library that runs ("MAJOR.MINOR.PATCH"), which may be newer than this header.
inline const char *version() noexcept { return fileaio_version(); }

// Whether contexts of `b` can be created here, and why (or why not).
struct probe_result {
    std::error_code error;
    std::string reason;
    explicit operator bool() const noexcept { return !error; }
};

inline probe_result probe(backend b) {
    char reason[256] = "";
    int rc = fileaio_backend_probe(static_cast<fileaio_backend>(b), reason, sizeof reason);
    return {to_error_code(rc), reason};
}

inline std::error_code get_limits(backend b, limits &out) noexcept {
    return to_error_code(fileaio_get_limits(static_cast<fileaio_backend>(b), &out));
}

inline std::error_code get_dio_alignment(int fd, dio_alignment &out) noexcept {
    return to_error_code(fileaio_get_dio_alignment(fd, &out));
}

// The outcome of a completed request.
struct result {
    std::error_code error;     // empty on success; errc::canceled for a cancelled request
    std::size_t transferred;   // bytes moved, also on error
    explicit operator bool() const noexcept { return !error; }
};

// ---- lifetimes: requests destroyed while in flight ----

namespace detail {

// Whether the lifetime reports go to stderr: FILEAIO_REPORT_LIFETIMES=1 or 0 decides; without it,
// on in builds without NDEBUG.
inline bool report_lifetimes() noexcept {
    static const bool on = [] {
        const char *v = std::getenv("FILEAIO_REPORT_LIFETIMES");
        if (v != nullptr && *v != '\0') return *v != '0';
#ifdef NDEBUG
        return false;
#else
        return true;
#endif
    }();
    return on;
}

// Requests whose fileaio::request was destroyed while the I/O was in flight and cancel could not
// stop it ("orphans"). A request is handed back only by a wait of the context it was submitted
// to, so one process-wide list serves every context: context::wait takes the orphans out of what
// it hands back and frees them. `attention` is non-zero while the list is: waits look at the list
// only then (one atomic load on the hot path).
//
// An entry is made before the cancel, so a wait that hands the request back while the destructor
// still decides marks it (handed_back) instead of returning it; then the destructor frees it.
// Otherwise the destructor marks it abandoned and the wait that hands it back frees it.
class orphan_registry {
public:
    static orphan_registry &instance() noexcept {
        static orphan_registry r;
        return r;
    }

    // Takes in the request a destructor could not free; false if there was no memory for the
    // entry (the caller then waits for nothing and leaks it, with a report).
    bool enter(fileaio_req *h) noexcept {
        std::lock_guard lock(mutex_);
        try {
            entries_.push_back({h, false, false});
        } catch (...) {
            return false;
        }
        attention_.fetch_add(1, std::memory_order_seq_cst);
        return true;
    }

    // After the cancel: true if the caller must free the request now (cancel stopped it, or a
    // wait handed it back meanwhile); false if a later wait will.
    bool settle(fileaio_req *h, bool stopped) noexcept {
        std::lock_guard lock(mutex_);
        auto it = find(h);
        if (it == entries_.end()) return true;  // not reachable: every enter is settled once
        if (stopped || it->handed_back || fileaio_req_get_state(h) == FILEAIO_REQ_COMPLETED) {
            erase(it);
            return true;
        }
        it->abandoned = true;
        return false;
    }

    bool attention() const noexcept { return attention_.load(std::memory_order_seq_cst) != 0; }
    std::size_t orphans() const noexcept { return attention_.load(std::memory_order_seq_cst); }

    // Takes the orphans out of out[0 .. count) (keeping the order of the rest) and frees those
    // whose destructor has gone; returns the new count.
    std::size_t filter(fileaio_req **out, std::size_t count) noexcept {
        std::lock_guard lock(mutex_);
        std::size_t kept = 0;
        for (std::size_t i = 0; i < count; ++i) {
            auto it = find(out[i]);
            if (it == entries_.end()) {
                out[kept++] = out[i];
                continue;
            }
            if (it->abandoned) {
                fileaio_req *h = it->handle;
                erase(it);
                fileaio_req_destroy(h);
                if (report_lifetimes())
                    std::fprintf(stderr, "fileaio: orphaned request %p came back and was freed\n",
                                 static_cast<void *>(h));
            } else {
                it->handed_back = true;
            }
        }
        return kept;
    }

private:
    struct entry {
        fileaio_req *handle;
        bool handed_back;  // a wait handed it back before the destructor decided
        bool abandoned;    // the destructor has returned: the wait that hands it back frees it
    };
    std::vector<entry>::iterator find(fileaio_req *h) noexcept {
        return std::find_if(entries_.begin(), entries_.end(), [h](const entry &e) { return e.handle == h; });
    }
    void erase(std::vector<entry>::iterator it) noexcept {
        *it = entries_.back();
        entries_.pop_back();
        attention_.fetch_sub(1, std::memory_order_seq_cst);
    }

    std::mutex mutex_;
    std::vector<entry> entries_;
    std::atomic<std::size_t> attention_{0};
};

}  // namespace detail

// ---- a non-owning view of a request, as handed back by wait ----

class request_ref {
public:
    request_ref() noexcept = default;
    explicit request_ref(fileaio_req *handle) noexcept : handle_(handle) {}

    fileaio_req *native_handle() const noexcept { return handle_; }
    void *user() const noexcept { return fileaio_req_get_user(handle_); }
    template <class T>
    T *user_as() const noexcept {
        return static_cast<T *>(user());
    }
    req_state state() const noexcept { return static_cast<req_state>(fileaio_req_get_state(handle_)); }
    result get_result() const noexcept {
        std::size_t moved = 0;
        int rc = fileaio_req_get_result(handle_, &moved);
        return {to_error_code(rc), moved};
    }
    // Empty: stopped. errc::completed / errc::in_progress: a wait will return it.
    std::error_code cancel() const noexcept { return to_error_code(fileaio_req_cancel(handle_)); }

    friend bool operator==(const request_ref &a, const request_ref &b) noexcept { return a.handle_ == b.handle_; }
    friend bool operator==(const request_ref &a, const fileaio_req *b) noexcept { return a.handle_ == b; }

protected:
    fileaio_req *handle_ = nullptr;
};

// A span of request_ref is a span of fileaio_req *: wait fills one in place, no copy.
static_assert(sizeof(request_ref) == sizeof(fileaio_req *) && alignof(request_ref) == alignof(fileaio_req *));
static_assert(std::is_standard_layout_v<request_ref> && std::is_trivially_copyable_v<request_ref>);

// ---- the owning request: created once, prepared and submitted many times ----

class request : public request_ref {
public:
    // Throws std::system_error if the request cannot be allocated.
    request() {
        if (int rc = fileaio_req_create(&handle_); rc != 0) throw std::system_error(to_error_code(rc), "fileaio_req_create");
    }
    // Non-throwing: `ec` tells; the result is empty on failure.
    static request create(std::error_code &ec) noexcept {
        request r{adopt, nullptr};
        ec = to_error_code(fileaio_req_create(&r.handle_));
        return r;
    }
    // Safe while the request is in flight: see discard().
    ~request() { discard(); }
    request(request &&other) noexcept : request_ref(std::exchange(other.handle_, nullptr)) {}
    request &operator=(request &&other) noexcept {
        if (this != &other) {
            discard();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    request(const request &) = delete;
    request &operator=(const request &) = delete;

    explicit operator bool() const noexcept { return handle_ != nullptr; }

    std::error_code prepare_read(int fd, int64_t offset, std::span<std::byte> buf, void *user = nullptr) noexcept {
        return to_error_code(fileaio_req_prepare_read(handle_, fd, offset, buf.data(), buf.size(), user));
    }
    std::error_code prepare_write(int fd, int64_t offset, std::span<const std::byte> buf,
                                  void *user = nullptr) noexcept {
        return to_error_code(fileaio_req_prepare_write(handle_, fd, offset, buf.data(), buf.size(), user));
    }
    // The iovec array must stay valid while the request is submitted.
    std::error_code prepare_readv(int fd, int64_t offset, std::span<const struct iovec> iov,
                                  void *user = nullptr) noexcept {
        return to_error_code(fileaio_req_prepare_readv(handle_, fd, offset, iov.data(), checked_count(iov), user));
    }
    std::error_code prepare_writev(int fd, int64_t offset, std::span<const struct iovec> iov,
                                   void *user = nullptr) noexcept {
        return to_error_code(fileaio_req_prepare_writev(handle_, fd, offset, iov.data(), checked_count(iov), user));
    }
    std::error_code prepare_flush(int fd, void *user = nullptr) noexcept {
        return to_error_code(fileaio_req_prepare_flush(handle_, fd, user));
    }
    std::error_code prepare_datasync(int fd, void *user = nullptr) noexcept {
        return to_error_code(fileaio_req_prepare_datasync(handle_, fd, user));
    }

    // Frees the request now (errc::in_progress while it is submitted; it is then kept).
    std::error_code reset() noexcept {
        if (handle_ == nullptr) return {};
        int rc = fileaio_req_destroy(handle_);
        if (rc == 0) handle_ = nullptr;
        return to_error_code(rc);
    }

    // Gives the request up, also while it is in flight (what the destructor does): a request that
    // is not submitted is freed; a submitted one is cancelled, and freed at once if the cancel
    // stopped it; otherwise it becomes an orphan: the wait of its context (context::wait, or the
    // context's destructor) that hands it back frees it instead of returning it. Until then the
    // I/O may still use the buffer: keep buffers alive until the context has been waited on or
    // destroyed (or use the coroutine API, fileaio/async.hpp, whose destructors wait it out).
    void discard() noexcept {
        if (handle_ == nullptr) return;
        fileaio_req *h = std::exchange(handle_, nullptr);
        if (fileaio_req_destroy(h) == 0) return;
        auto &orphans = detail::orphan_registry::instance();
        if (!orphans.enter(h)) {
            if (detail::report_lifetimes())
                std::fprintf(stderr, "fileaio: request %p destroyed in flight and leaked (no memory)\n",
                             static_cast<void *>(h));
            return;
        }
        const int rc = fileaio_req_cancel(h);
        if (orphans.settle(h, rc == 0)) {
            fileaio_req_destroy(h);
            if (detail::report_lifetimes())
                std::fprintf(stderr, "fileaio: request %p destroyed in flight: cancelled and freed\n",
                             static_cast<void *>(h));
        } else if (detail::report_lifetimes()) {
            std::fprintf(stderr,
                         "fileaio: request %p destroyed in flight (%s): orphaned until its context's wait "
                         "hands it back; its buffer must stay valid until then\n",
                         static_cast<void *>(h), fileaio_errname(rc));
        }
    }

private:
    enum adopt_tag { adopt };
    request(adopt_tag, fileaio_req *h) noexcept : request_ref(h) {}
    static int checked_count(std::span<const struct iovec> iov) noexcept {
        // A count that does not fit an int is refused by the C layer as -1.
        return iov.size() > static_cast<std::size_t>(INT32_MAX) ? -1 : static_cast<int>(iov.size());
    }
};

static_assert(sizeof(request) == sizeof(fileaio_req *), "request is exactly one handle");
static_assert(std::is_standard_layout_v<request>);

// ---- the context ----

struct context_options {
    uint32_t max_reqs = 1024;
    uint32_t flags = 0;
    fileaio::backend backend = backend::automatic;
    uint32_t threads = 0;
    uint32_t uring_flags = 0;
    uint32_t uring_max_workers = 0;
};

struct wait_result {
    std::error_code error;  // empty, errc::timeout, errc::interrupted, ...
    std::size_t count;      // completions handed back in out[0 .. count), also on error
};

class context {
public:
    // Throws std::system_error if the context cannot be created.
    explicit context(uint32_t max_reqs, uint32_t flags = 0, fileaio::backend b = backend::automatic)
        : context(context_options{max_reqs, flags, b, 0, 0, 0}) {}
    explicit context(const context_options &o) {
        if (std::error_code ec = open(o); ec) throw std::system_error(ec, "fileaio_ctx_create_opts");
    }
    static context create(const context_options &o, std::error_code &ec) noexcept {
        context c{adopt};
        ec = c.open(o);
        return c;
    }
    // Never returns while the operating system may still use a buffer of a request submitted
    // here: with requests pending, it waits until every one has completed (see drain()).
    ~context() { destroy(); }
    context(context &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    context &operator=(context &&other) noexcept {
        if (this != &other) {
            destroy();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    context(const context &) = delete;
    context &operator=(const context &) = delete;

    explicit operator bool() const noexcept { return handle_ != nullptr; }
    fileaio_ctx *native_handle() const noexcept { return handle_; }
    fileaio::backend backend() const noexcept { return static_cast<fileaio::backend>(fileaio_ctx_get_backend(handle_)); }
    uint32_t max_requests() const noexcept { return fileaio_ctx_get_max_req_count(handle_); }

    // All-or-nothing validation; `submitted` tells how many went in (see API.md "Submit").
    std::error_code submit(request &r) noexcept { return submit_raw(&r, 1, nullptr); }
    std::error_code submit(std::span<request> reqs, std::size_t *submitted = nullptr) noexcept {
        // request is standard-layout with a single fileaio_req* member, so an array of requests is
        // an array of handles (they are pointer-interconvertible).
        return submit_raw(reqs.data(), reqs.size(), submitted);
    }
    std::error_code submit(std::span<fileaio_req *const> handles, std::size_t *submitted = nullptr) noexcept {
        return to_error_code(fileaio_ctx_submit(handle_, handles.data(), handles.size(), submitted));
    }

    // Waits for at least min_reqs completions (see API.md "Wait"); out[0 .. count) receives them,
    // as views to read results from (request_ref is a fileaio_req *: filled in place, no copy):
    //   std::array<fileaio::request_ref, 16> done;
    //   auto [ec, n] = ctx.wait(done, 1, 1s);
    //   for (auto r : std::span(done).first(n)) use(r.user_as<my_op>(), r.get_result());
    // Requests whose fileaio::request was destroyed in flight are freed here, never handed back.
    wait_result wait(std::span<request_ref> out, std::size_t min_reqs,
                     std::chrono::milliseconds timeout = forever) noexcept {
        return wait_raw(reinterpret_cast<fileaio_req **>(out.data()), out.size(), min_reqs, timeout);
    }
    wait_result wait(std::span<fileaio_req *> out, std::size_t min_reqs,
                     std::chrono::milliseconds timeout = forever) noexcept {
        return wait_raw(out.data(), out.size(), min_reqs, timeout);
    }
    std::error_code wakeup() noexcept { return to_error_code(fileaio_ctx_wakeup(handle_)); }

    // The descriptor an event loop watches (API.md "Event loops"): readable while a wait with a
    // zero timeout would hand back a completion or report a wakeup. The context's own: poll it,
    // never read, write or close it. `fd` is left unchanged on error.
    std::error_code get_fd(int &fd) noexcept { return to_error_code(fileaio_ctx_get_fd(handle_, &fd)); }
    // The same, or -1 if it cannot be had (an invalid context, or no descriptor available).
    int native_fd() noexcept {
        int fd = -1;
        return fileaio_ctx_get_fd(handle_, &fd) == 0 ? fd : -1;
    }

    stats get_stats() const noexcept {
        stats s{};
        fileaio_ctx_get_stats(handle_, &s);
        return s;
    }

    std::error_code associate_with_file(int fd) noexcept {
        return to_error_code(fileaio_ctx_associate_with_file(handle_, fd));
    }
    std::error_code register_buffers(std::span<const struct iovec> regions) noexcept {
        if (regions.size() > UINT32_MAX) return make_error_code(errc::invalid_parameter);
        return to_error_code(
            fileaio_ctx_register_buffers(handle_, regions.data(), static_cast<unsigned>(regions.size())));
    }
    std::error_code unregister_buffers() noexcept { return to_error_code(fileaio_ctx_unregister_buffers(handle_)); }

    // Waits until nothing is pending: every request submitted here completes and is handed back
    // (its fileaio::request then reads its result; an orphan is freed). Cancels nothing: the
    // owner of a request cancels it (fileaio::io_scheduler cancels its own). Returns the number of
    // requests it handed back (orphans not counted); errc::busy if another thread is inside wait.
    std::size_t drain(std::error_code &ec) noexcept {
        std::size_t taken = 0;
        fileaio_req *out[64];
        for (;;) {
            fileaio_stats st{};
            fileaio_ctx_get_stats(handle_, &st);
            if (st.pending == 0) {
                ec = {};
                return taken;
            }
            std::size_t count = 0;
            int rc = fileaio_ctx_wait(handle_, 1, 1000, out, std::size(out), &count);
            if (count != 0 && detail::orphan_registry::instance().attention())
                count = detail::orphan_registry::instance().filter(out, count);
            taken += count;
            if (rc != 0 && rc != FILEAIO_E_TIMEOUT && rc != FILEAIO_E_INTERRUPTED && rc != FILEAIO_E_NO_REQUEST) {
                ec = to_error_code(rc);
                return taken;
            }
            if (rc == FILEAIO_E_NO_REQUEST) std::this_thread::yield();  // pending moments ago: a cancel took it
        }
    }

    // Destroys now: errc::busy (and the context is kept) while requests are pending or a thread waits.
    std::error_code close() noexcept {
        if (handle_ == nullptr) return {};
        int rc = fileaio_ctx_destroy(handle_);
        if (rc == 0) handle_ = nullptr;
        return to_error_code(rc);
    }

private:
    enum adopt_tag { adopt };
    explicit context(adopt_tag) noexcept {}

    std::error_code open(const context_options &o) noexcept {
        fileaio_ctx_options c{};
        c.size = sizeof c;
        c.max_reqs = o.max_reqs;
        c.flags = o.flags;
        c.backend = static_cast<fileaio_backend>(o.backend);
        c.threads = o.threads;
        c.uring_flags = o.uring_flags;
        c.uring_max_workers = o.uring_max_workers;
        return to_error_code(fileaio_ctx_create_opts(&handle_, &c));
    }

    wait_result wait_raw(fileaio_req **out, std::size_t capacity, std::size_t min_reqs,
                         std::chrono::milliseconds timeout) noexcept {
        std::size_t count = 0;
        int rc = fileaio_ctx_wait(handle_, min_reqs, to_timeout_ms(timeout), out, capacity, &count);
        if (count != 0 && detail::orphan_registry::instance().attention()) [[unlikely]]
            return wait_filtered(out, capacity, min_reqs, timeout, rc, count);
        return {to_error_code(rc), count};
    }

    // The slow path, while orphans exist: they are taken out, and if that leaves fewer than
    // min_reqs the wait goes on for the rest of the timeout.
    wait_result wait_filtered(fileaio_req **out, std::size_t capacity, std::size_t min_reqs,
                              std::chrono::milliseconds timeout, int rc, std::size_t count) noexcept {
        auto &orphans = detail::orphan_registry::instance();
        const auto deadline = timeout == forever ? std::chrono::steady_clock::time_point::max()
                                                 : std::chrono::steady_clock::now() + timeout;
        const std::size_t want = min_reqs == 0 ? 1 : min_reqs;
        std::size_t kept = orphans.filter(out, count);
        while (rc == 0 && kept < want) {
            auto left = std::chrono::milliseconds::max();
            if (deadline != std::chrono::steady_clock::time_point::max()) {
                left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
                if (left.count() < 0) left = std::chrono::milliseconds(0);
            }
            std::size_t more = 0;
            rc = fileaio_ctx_wait(handle_, want - kept, to_timeout_ms(left), out + kept, capacity - kept, &more);
            kept += orphans.filter(out + kept, more);
        }
        return {to_error_code(rc), kept};
    }

    // The destructor's work: destroy, and while requests are pending wait them out first.
    void destroy() noexcept {
        if (handle_ == nullptr) return;
        int rc = fileaio_ctx_destroy(handle_);
        if (rc == FILEAIO_E_BUSY) {
            fileaio_stats st{};
            fileaio_ctx_get_stats(handle_, &st);
            if (detail::report_lifetimes())
                std::fprintf(stderr, "fileaio: context %p destroyed with %llu requests in flight: waiting for them\n",
                             static_cast<void *>(handle_), static_cast<unsigned long long>(st.pending));
            std::error_code ec;
            do {
                drain(ec);
                rc = fileaio_ctx_destroy(handle_);
                if (rc == FILEAIO_E_BUSY) std::this_thread::yield();  // a wait on another thread (a race) ends
            } while (rc == FILEAIO_E_BUSY);
        }
        handle_ = nullptr;
    }

    std::error_code submit_raw(request *reqs, std::size_t n, std::size_t *submitted) noexcept {
        auto *handles = reinterpret_cast<fileaio_req *const *>(reqs);
        return to_error_code(fileaio_ctx_submit(handle_, handles, n, submitted));
    }

    static uint32_t to_timeout_ms(std::chrono::milliseconds t) noexcept {
        if (t == forever) return FILEAIO_WAIT_FOREVER;
        if (t.count() <= 0) return 0;
        // Finite timeouts stay finite: the largest one below FILEAIO_WAIT_FOREVER.
        if (t.count() >= static_cast<std::chrono::milliseconds::rep>(FILEAIO_WAIT_FOREVER)) return FILEAIO_WAIT_FOREVER - 1;
        return static_cast<uint32_t>(t.count());
    }

    fileaio_ctx *handle_ = nullptr;
};

}  // namespace fileaio
