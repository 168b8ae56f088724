// fileaio — the C++20 API: RAII types over the C API in fileaio.h (one implementation behind
// both). Results are std::error_code in the fileaio category; OS errors compare equal to std::errc
// (ec == std::errc::io_error). Nothing on the submit/wait path allocates or throws; constructors
// that acquire resources throw std::system_error, and each has a non-throwing create() twin.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

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
inline constexpr uint32_t uring_sqpoll = FILEAIO_URING_SQPOLL;

// A timeout of `forever` never expires; zero polls.
inline constexpr std::chrono::milliseconds forever = std::chrono::milliseconds::max();

using stats = fileaio_stats;
using limits = fileaio_limits;
using dio_alignment = fileaio_dio_alignment;

inline const char *name(backend b) noexcept { return fileaio_backend_name(static_cast<fileaio_backend>(b)); }

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

protected:
    fileaio_req *handle_ = nullptr;
};

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
    ~request() { reset(); }
    request(request &&other) noexcept : request_ref(std::exchange(other.handle_, nullptr)) {}
    request &operator=(request &&other) noexcept {
        if (this != &other) {
            reset();
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
    ~context() {
        if (handle_ != nullptr) fileaio_ctx_destroy(handle_);
    }
    context(context &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    context &operator=(context &&other) noexcept {
        if (this != &other) {
            if (handle_ != nullptr) fileaio_ctx_destroy(handle_);
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

    // Waits for at least min_reqs completions (see API.md "Wait"); out receives them.
    wait_result wait(std::span<fileaio_req *> out, std::size_t min_reqs,
                     std::chrono::milliseconds timeout = forever) noexcept {
        std::size_t count = 0;
        int rc = fileaio_ctx_wait(handle_, min_reqs, to_timeout_ms(timeout), out.data(), out.size(), &count);
        return {to_error_code(rc), count};
    }

    std::error_code wakeup() noexcept { return to_error_code(fileaio_ctx_wakeup(handle_)); }

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
