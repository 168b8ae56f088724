// The C API: extern "C" wrappers over the core, nothing more. Each checks the handle and the
// NULL outputs (the order of API.md: handle, state, arguments) and turns any exception into a code.
#include "fileaio/fileaio.h"

#include <cstdio>
#include <cstring>
#include <new>

#include "backends/backend.hpp"
#include "core/context.hpp"
#include "core/dio_alignment.hpp"
#include "core/errors.hpp"
#include "core/request.hpp"

using fileaio::detail::context;
using fileaio::detail::op;
using fileaio::detail::request;

namespace {

request *req_of(fileaio_req *r) { return reinterpret_cast<request *>(r); }
const request *req_of(const fileaio_req *r) { return reinterpret_cast<const request *>(r); }
context *ctx_of(fileaio_ctx *c) { return reinterpret_cast<context *>(c); }
const context *ctx_of(const fileaio_ctx *c) { return reinterpret_cast<const context *>(c); }

// Runs f, turning an escaping exception into a code: the C boundary never throws.
template <class F>
int guarded(F &&f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return FILEAIO_E_NO_MEMORY;
    } catch (...) {
        return FILEAIO_E_INSUFFICIENT_RESOURCES;
    }
}

}  // namespace

extern "C" {

// The header this library was built with is its version (CMake checks it against project(VERSION)).
const char *fileaio_version(void) { return FILEAIO_VERSION_STRING; }
uint32_t fileaio_version_number(void) { return FILEAIO_VERSION_NUMBER; }

const char *fileaio_strerror(int code) { return fileaio::detail::error_sentence(code); }
const char *fileaio_errname(int code) { return fileaio::detail::error_name(code); }

int fileaio_req_create(fileaio_req **out) {
    if (out == nullptr) return FILEAIO_E_INVALID_PARAMETER;
    auto *r = new (std::nothrow) request;
    if (r == nullptr) return FILEAIO_E_NO_MEMORY;
    *out = reinterpret_cast<fileaio_req *>(r);
    return 0;
}

int fileaio_req_destroy(fileaio_req *handle) {
    if (handle == nullptr) return 0;
    request *r = req_of(handle);
    if (!fileaio::detail::is_live(r)) return FILEAIO_E_INVALID_HANDLE;
    auto raw = r->state.load(std::memory_order_acquire);
    if (raw != fileaio::detail::req_state::prepared && raw != fileaio::detail::req_state::completed)
        return FILEAIO_E_IN_PROGRESS;  // SUBMITTED, or held by a submit or a cancel
    r->magic = 0;
    delete r;
    return 0;
}

int fileaio_req_prepare_read(fileaio_req *req, int fd, int64_t offset, void *buf, size_t size, void *user) {
    return fileaio::detail::prepare_io(req_of(req), op::read, fd, offset, buf, size, user);
}

int fileaio_req_prepare_write(fileaio_req *req, int fd, int64_t offset, const void *buf, size_t size,
                              void *user) {
    // The buffer is only read from; the request keeps one pointer type for both directions.
    return fileaio::detail::prepare_io(req_of(req), op::write, fd, offset, const_cast<void *>(buf), size, user);
}

int fileaio_req_prepare_readv(fileaio_req *req, int fd, int64_t offset, const struct iovec *iov, int iovcnt,
                              void *user) {
    return fileaio::detail::prepare_vectored(req_of(req), op::readv, fd, offset, iov, iovcnt, user);
}

int fileaio_req_prepare_writev(fileaio_req *req, int fd, int64_t offset, const struct iovec *iov, int iovcnt,
                               void *user) {
    return fileaio::detail::prepare_vectored(req_of(req), op::writev, fd, offset, iov, iovcnt, user);
}

int fileaio_req_prepare_flush(fileaio_req *req, int fd, void *user) {
    return fileaio::detail::prepare_sync(req_of(req), op::flush, fd, user);
}

int fileaio_req_prepare_datasync(fileaio_req *req, int fd, void *user) {
    return fileaio::detail::prepare_sync(req_of(req), op::datasync, fd, user);
}

void *fileaio_req_get_user(const fileaio_req *req) {
    const request *r = req_of(req);
    return fileaio::detail::is_live(r) ? r->user : nullptr;
}

int fileaio_req_get_state(const fileaio_req *req) { return fileaio::detail::public_state(req_of(req)); }

int fileaio_req_get_result(const fileaio_req *req, size_t *transferred) {
    return fileaio::detail::get_result(req_of(req), transferred);
}

int fileaio_req_cancel(fileaio_req *req) { return fileaio::detail::cancel(req_of(req)); }

int fileaio_ctx_create(fileaio_ctx **ctx, uint32_t max_reqs, uint32_t flags) {
    return fileaio_ctx_create_ex(ctx, max_reqs, flags, FILEAIO_BACKEND_AUTO);
}

int fileaio_ctx_create_ex(fileaio_ctx **ctx, uint32_t max_reqs, uint32_t flags, fileaio_backend backend) {
    fileaio_ctx_options opts{};
    opts.size = sizeof opts;
    opts.max_reqs = max_reqs;
    opts.flags = flags;
    std::memcpy(&opts.backend, &backend, sizeof backend);  // validated by create_opts, never loaded here
    return fileaio_ctx_create_opts(ctx, &opts);
}

int fileaio_ctx_create_opts(fileaio_ctx **ctx, const fileaio_ctx_options *opts) {
    if (ctx == nullptr || opts == nullptr) return FILEAIO_E_INVALID_PARAMETER;
    return guarded([&] {
        context *c = nullptr;
        int rc = fileaio::detail::create_context(*opts, &c);
        if (rc == 0) *ctx = reinterpret_cast<fileaio_ctx *>(c);
        return rc;
    });
}

int fileaio_ctx_destroy(fileaio_ctx *handle) {
    if (handle == nullptr) return 0;
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    if (int rc = c->try_destroy(); rc != 0) return rc;
    delete c;
    return 0;
}

uint32_t fileaio_ctx_get_max_req_count(const fileaio_ctx *handle) {
    const context *c = ctx_of(handle);
    return fileaio::detail::is_live(c) ? c->max_reqs : FILEAIO_UNLIMITED_REQS;
}

fileaio_backend fileaio_ctx_get_backend(const fileaio_ctx *handle) {
    const context *c = ctx_of(handle);
    return fileaio::detail::is_live(c) ? c->kind : FILEAIO_BACKEND_AUTO;
}

int fileaio_ctx_associate_with_file(fileaio_ctx *handle, int fd) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    return c->associate_with_file(fd);
}

int fileaio_ctx_submit(fileaio_ctx *handle, fileaio_req *const *reqs, size_t count, size_t *submitted) {
    if (submitted != nullptr) *submitted = 0;
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    return c->submit(reinterpret_cast<request *const *>(reqs), count, submitted);
}

int fileaio_ctx_wait(fileaio_ctx *handle, size_t min_reqs, uint32_t timeout_ms, fileaio_req **completed,
                     size_t capacity, size_t *count) {
    if (count != nullptr) *count = 0;
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    if (completed == nullptr || count == nullptr || capacity == 0) return FILEAIO_E_INVALID_PARAMETER;
    return c->wait(min_reqs, timeout_ms, reinterpret_cast<request **>(completed), capacity, count);
}

int fileaio_ctx_wakeup(fileaio_ctx *handle) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    return c->wakeup();
}

int fileaio_ctx_get_fd(fileaio_ctx *handle, int *fd) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    if (fd == nullptr) return FILEAIO_E_INVALID_PARAMETER;
    return c->get_fd(fd);
}

int fileaio_ctx_pause_fd(fileaio_ctx *handle, int pause) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    return c->pause_fd(pause != 0);
}

int fileaio_ctx_get_stats(const fileaio_ctx *handle, fileaio_stats *stats) {
    const context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    if (stats == nullptr) return FILEAIO_E_INVALID_PARAMETER;
    c->get_stats(stats);
    return 0;
}

int fileaio_ctx_set_latency(fileaio_ctx *handle, int enable) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    return c->set_latency(enable != 0);
}

int fileaio_ctx_get_latency(const fileaio_ctx *handle, int op_code, fileaio_latency *out) {
    const context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    if (out == nullptr) return FILEAIO_E_INVALID_PARAMETER;
    return guarded([&] { return c->get_latency(op_code, out); });
}

int fileaio_ctx_get_latency_buckets(const fileaio_ctx *handle, int op_code, uint64_t *counts, size_t capacity,
                                    size_t *n) {
    const context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    if (n == nullptr || (counts == nullptr && capacity != 0)) return FILEAIO_E_INVALID_PARAMETER;
    return guarded([&] { return c->get_latency_buckets(op_code, counts, capacity, n); });
}

uint64_t fileaio_latency_bucket_low(size_t i) {
    using layout = fileaio::detail::log_linear_layout;
    return i < layout::bucket_count ? layout::bucket_low(i) : UINT64_MAX;
}

int fileaio_ctx_reset_latency(fileaio_ctx *handle) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    c->reset_latency();
    return 0;
}

int fileaio_ctx_register_buffers(fileaio_ctx *handle, const struct iovec *iov, unsigned count) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    return guarded([&] { return c->register_buffers(iov, count); });
}

int fileaio_ctx_unregister_buffers(fileaio_ctx *handle) {
    context *c = ctx_of(handle);
    if (!fileaio::detail::is_live(c)) return FILEAIO_E_INVALID_HANDLE;
    return guarded([&] { return c->unregister_buffers(); });
}

const char *fileaio_backend_name(fileaio_backend backend) {
    fileaio_backend kind;
    if (!fileaio::detail::backend_from_raw(fileaio::detail::raw_enum(backend), &kind)) return "unknown";
    return fileaio::detail::backend_name(kind);
}

int fileaio_backend_probe(fileaio_backend backend, char *reason, size_t reason_size) {
    fileaio_backend kind;
    int raw = fileaio::detail::raw_enum(backend);
    if (!fileaio::detail::backend_from_raw(raw, &kind)) {
        if (reason != nullptr && reason_size != 0) std::snprintf(reason, reason_size, "unknown backend %d", raw);
        return FILEAIO_E_INVALID_PARAMETER;
    }
    return guarded([&] { return fileaio::detail::probe_backend(kind, reason, reason_size); });
}

int fileaio_get_limits(fileaio_backend backend, fileaio_limits *limits) {
    if (limits == nullptr) return FILEAIO_E_INVALID_PARAMETER;
    fileaio_backend kind;
    if (!fileaio::detail::backend_from_raw(fileaio::detail::raw_enum(backend), &kind))
        return FILEAIO_E_INVALID_PARAMETER;
    return guarded([&] { return fileaio::detail::backend_limits(kind, limits); });
}

int fileaio_get_dio_alignment(int fd, fileaio_dio_alignment *alignment) {
    if (fd < 0 || alignment == nullptr) return FILEAIO_E_INVALID_PARAMETER;
    return fileaio::detail::get_dio_alignment(fd, alignment);
}

}  // extern "C"
