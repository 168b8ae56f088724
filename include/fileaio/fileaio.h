/*
 * fileaio — asynchronous file I/O for Linux, one contract on four backends.
 *
 * The C API. The contract of every function below is docs/API.md (shared/API.md):
 * every int function returns 0 on success or a negative code — either -errno from the
 * operating system or one of the FILEAIO_E_* codes, which lie outside [-4095, -1].
 */
#ifndef FILEAIO_FILEAIO_H
#define FILEAIO_FILEAIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#if defined(FILEAIO_BUILDING_LIBRARY)
#define FILEAIO_API __attribute__((visibility("default")))
#else
#define FILEAIO_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this header. CMake refuses to configure when it differs from project(VERSION)
 * in CMakeLists.txt, so the two are bumped together (docs/releasing.md). fileaio_version() gives
 * the version of the library that runs, which may be newer than the header a program was built with.
 */
#define FILEAIO_VERSION_MAJOR 0
#define FILEAIO_VERSION_MINOR 1
#define FILEAIO_VERSION_PATCH 0
#define FILEAIO_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH: 0.1.0 is 100, 1.2.3 is 10203. */
#define FILEAIO_VERSION_NUMBER \
    (FILEAIO_VERSION_MAJOR * 10000 + FILEAIO_VERSION_MINOR * 100 + FILEAIO_VERSION_PATCH)

typedef struct fileaio_ctx fileaio_ctx; /* opaque */
typedef struct fileaio_req fileaio_req; /* opaque */

typedef enum fileaio_backend {
    FILEAIO_BACKEND_AUTO = 0, /* the best available one, see fileaio_backend_probe */
    FILEAIO_BACKEND_IO_URING = 1,
    FILEAIO_BACKEND_LINUX_AIO = 2,
    FILEAIO_BACKEND_POSIX_AIO = 3,
    FILEAIO_BACKEND_THREAD_POOL = 4
} fileaio_backend;

typedef enum fileaio_req_state {
    FILEAIO_REQ_PREPARED = 0,
    FILEAIO_REQ_SUBMITTED = 1,
    FILEAIO_REQ_COMPLETED = 2
} fileaio_req_state;

#define FILEAIO_UNLIMITED_REQS UINT32_MAX
#define FILEAIO_WAIT_FOREVER UINT32_MAX
#define FILEAIO_CTX_WAIT_WITHOUT_PENDING 0x1u
/* The caller promises that submit, wait, cancel and buffer registration come from one thread
 * (the first to submit or wait); others get FILEAIO_E_BUSY. Lets io_uring run single-issuer. */
#define FILEAIO_CTX_SINGLE_THREAD 0x2u
/* Record submit-to-completion latency per operation from the start (fileaio_ctx_get_latency);
 * the same as fileaio_ctx_set_latency(ctx, 1) right after create. */
#define FILEAIO_CTX_LATENCY 0x4u

/* io_uring tuning flags for fileaio_ctx_options.uring_flags. */
#define FILEAIO_URING_SQPOLL 0x1u

typedef struct fileaio_limits {
    uint32_t max_outstanding;  /* system-wide cap on requests in flight, or FILEAIO_UNLIMITED_REQS */
    uint32_t buffer_alignment; /* buffer alignment the backend needs for buffered I/O; 0 = none */
} fileaio_limits;

typedef struct fileaio_dio_alignment {
    uint32_t mem_align;    /* O_DIRECT buffer address alignment for this file */
    uint32_t offset_align; /* O_DIRECT offset and length alignment for this file */
} fileaio_dio_alignment;

typedef struct fileaio_stats {
    uint64_t submitted;   /* requests accepted by submit */
    uint64_t completed;   /* requests returned by wait */
    uint64_t canceled;    /* requests completed by a successful cancel */
    uint64_t failed;      /* completed requests whose result is an error */
    uint64_t pending;     /* submitted - completed - canceled, right now */
    uint64_t pending_max; /* high-water mark of pending */
} fileaio_stats;

/* The operations a context's latency histogram tells apart (fileaio_ctx_get_latency). */
typedef enum fileaio_latency_op {
    FILEAIO_LATENCY_READ = 0,  /* read, readv */
    FILEAIO_LATENCY_WRITE = 1, /* write, writev */
    FILEAIO_LATENCY_SYNC = 2   /* flush, datasync */
} fileaio_latency_op;

/* Submit-to-completion latency of one operation, in nanoseconds: from the fileaio_ctx_submit
 * call that accepted a request to the fileaio_ctx_wait call that handed it back, for every
 * request a wait handed back (failed ones too; canceled ones are not). Since the context began
 * recording or since the last fileaio_ctx_reset_latency. Percentiles are within 1.6 % (the
 * middle of a bucket at most 3.1 % of its values wide); count, min, max and mean are exact. */
typedef struct fileaio_latency {
    size_t size;       /* in: sizeof(fileaio_latency): lets the struct grow */
    uint32_t enabled;  /* 1 while the context records new requests, else 0 */
    uint32_t reserved; /* 0 */
    uint64_t count;
    uint64_t min_ns;
    uint64_t max_ns;
    uint64_t mean_ns;
    uint64_t p50_ns;
    uint64_t p90_ns;
    uint64_t p99_ns;
    uint64_t p999_ns;  /* p99.9 */
    uint64_t p9999_ns; /* p99.99 */
} fileaio_latency;

typedef struct fileaio_ctx_options {
    size_t size;                /* sizeof(fileaio_ctx_options): lets the struct grow */
    uint32_t max_reqs;
    uint32_t flags;
    fileaio_backend backend;
    uint32_t threads;           /* worker/helper threads where a backend has them; 0 = default */
    uint32_t uring_flags;       /* e.g. FILEAIO_URING_SQPOLL; 0 = default */
    uint32_t uring_max_workers; /* bound on io_uring's io-wq workers; 0 = kernel default */
} fileaio_ctx_options;

/*
 * The library's own error codes: XX(name, value, sentence). One table gives the enum,
 * fileaio_strerror and fileaio_errname. Values are negative, distinct and below -4095.
 */
#define FILEAIO_ERRNO_MAP(XX)                                                                 \
    XX(INVALID_HANDLE, -10001, "invalid context or request handle")                           \
    XX(INVALID_PARAMETER, -10002, "invalid parameter")                                        \
    XX(OUT_OF_RANGE, -10003, "count out of range")                                            \
    XX(NO_MEMORY, -10004, "out of memory")                                                    \
    XX(NOT_SUPPORTED, -10005, "backend or operation not supported here")                      \
    XX(NOT_PREPARED, -10006, "request is not prepared")                                       \
    XX(IN_PROGRESS, -10007, "request is in progress")                                         \
    XX(NOT_SUBMITTED, -10008, "request is not submitted")                                     \
    XX(COMPLETED, -10009, "request already completed; wait will return it")                   \
    XX(CANCELED, -10010, "request was canceled")                                              \
    XX(LIMIT_EXCEEDED, -10011, "submit would exceed the context's request limit")             \
    XX(INSUFFICIENT_RESOURCES, -10012, "the operating system refused resources")              \
    XX(BUSY, -10013, "context is busy (requests pending or a thread is waiting)")             \
    XX(NO_REQUEST, -10014, "nothing is pending to wait for")                                  \
    XX(INTERRUPTED, -10015, "wait was interrupted by fileaio_ctx_wakeup")                     \
    XX(TIMEOUT, -10016, "wait timed out")

typedef enum fileaio_error {
#define FILEAIO_ERRNO_ENUM_(name, value, text) FILEAIO_E_##name = (value),
    FILEAIO_ERRNO_MAP(FILEAIO_ERRNO_ENUM_)
#undef FILEAIO_ERRNO_ENUM_
} fileaio_error;

/* ---- Version ---- */

/* The version of the library that runs, "MAJOR.MINOR.PATCH". Never NULL. */
FILEAIO_API const char *fileaio_version(void);
/* The same as a number, MAJOR * 10000 + MINOR * 100 + PATCH, to compare with FILEAIO_VERSION_NUMBER. */
FILEAIO_API uint32_t fileaio_version_number(void);

/* ---- Errors ---- */

/* A sentence for any code (library code, -errno or 0). Never NULL. */
FILEAIO_API const char *fileaio_strerror(int code);
/* The symbol of any code ("FILEAIO_E_TIMEOUT", "EIO", "OK"). Never NULL. */
FILEAIO_API const char *fileaio_errname(int code);

/* ---- Requests: created once, prepared and submitted many times. ---- */

/* Creates a request in state COMPLETED (result 0, 0 bytes, user NULL). */
FILEAIO_API int fileaio_req_create(fileaio_req **req);
/* Frees a request that is not SUBMITTED (E_IN_PROGRESS otherwise). NULL: no-op, 0. */
FILEAIO_API int fileaio_req_destroy(fileaio_req *req);
/* Prepare a request; on any error the request is left unchanged. */
FILEAIO_API int fileaio_req_prepare_read(fileaio_req *req, int fd, int64_t offset, void *buf, size_t size,
                                         void *user);
FILEAIO_API int fileaio_req_prepare_write(fileaio_req *req, int fd, int64_t offset, const void *buf,
                                          size_t size, void *user);
FILEAIO_API int fileaio_req_prepare_readv(fileaio_req *req, int fd, int64_t offset, const struct iovec *iov,
                                          int iovcnt, void *user);
FILEAIO_API int fileaio_req_prepare_writev(fileaio_req *req, int fd, int64_t offset, const struct iovec *iov,
                                           int iovcnt, void *user);
/* fsync / fdatasync, each a barrier after earlier writes to fd on the same context. */
FILEAIO_API int fileaio_req_prepare_flush(fileaio_req *req, int fd, void *user);
FILEAIO_API int fileaio_req_prepare_datasync(fileaio_req *req, int fd, void *user);
/* The user pointer given to prepare; NULL for a NULL handle. */
FILEAIO_API void *fileaio_req_get_user(const fileaio_req *req);
/* A fileaio_req_state, or FILEAIO_E_INVALID_HANDLE. */
FILEAIO_API int fileaio_req_get_state(const fileaio_req *req);
/* The stored result of a COMPLETED request; *transferred (may be NULL) gets the bytes moved. */
FILEAIO_API int fileaio_req_get_result(const fileaio_req *req, size_t *transferred);
/* 0 (stopped, never returned by wait), E_COMPLETED or E_IN_PROGRESS. Never blocks for long. */
FILEAIO_API int fileaio_req_cancel(fileaio_req *req);

/* ---- Contexts ---- */

FILEAIO_API int fileaio_ctx_create(fileaio_ctx **ctx, uint32_t max_reqs, uint32_t flags);
FILEAIO_API int fileaio_ctx_create_ex(fileaio_ctx **ctx, uint32_t max_reqs, uint32_t flags,
                                      fileaio_backend backend);
FILEAIO_API int fileaio_ctx_create_opts(fileaio_ctx **ctx, const fileaio_ctx_options *opts);
/* E_BUSY while requests are pending or a thread waits. NULL: no-op, 0. */
FILEAIO_API int fileaio_ctx_destroy(fileaio_ctx *ctx);
/* NULL: FILEAIO_UNLIMITED_REQS. */
FILEAIO_API uint32_t fileaio_ctx_get_max_req_count(const fileaio_ctx *ctx);
/* The backend that really runs (never AUTO); AUTO for a NULL handle. */
FILEAIO_API fileaio_backend fileaio_ctx_get_backend(const fileaio_ctx *ctx);
/* A hint: the context will see requests on fd. */
FILEAIO_API int fileaio_ctx_associate_with_file(fileaio_ctx *ctx, int fd);
/* All-or-nothing validation, then every request is handed on. */
FILEAIO_API int fileaio_ctx_submit(fileaio_ctx *ctx, fileaio_req *const *reqs, size_t count, size_t *submitted);
/* Waits for at least min_reqs completions; hands back up to capacity of them. */
FILEAIO_API int fileaio_ctx_wait(fileaio_ctx *ctx, size_t min_reqs, uint32_t timeout_ms, fileaio_req **completed,
                                 size_t capacity, size_t *count);
/* Makes the current (or next) wait return E_INTERRUPTED; coalescing, never lost. */
FILEAIO_API int fileaio_ctx_wakeup(fileaio_ctx *ctx);
/* A descriptor for event loops: polls readable (level-triggered) while a wait with timeout 0
 * would return a completion or report a wakeup. The context's own (O_CLOEXEC), the same on every
 * call, closed by destroy: only poll it. Created on the first call. */
FILEAIO_API int fileaio_ctx_get_fd(fileaio_ctx *ctx, int *fd);
/* (docs/API-issue13.md: not yet part of API.md.) pause != 0: the descriptor need not become
 * readable for completions until resumed, and waits leave it as it is (for a program that reaps
 * with timeout-0 waits meanwhile: io_uring then skips the kernel's signal per completion).
 * pause == 0: resumes; the descriptor is readable again if a wait with timeout 0 would return
 * something, so nothing finished during the pause is missed. */
FILEAIO_API int fileaio_ctx_pause_fd(fileaio_ctx *ctx, int pause);
FILEAIO_API int fileaio_ctx_get_stats(const fileaio_ctx *ctx, fileaio_stats *stats);
/* ---- Latency (docs/API.md "Latency"). Any thread, at any time, also while I/O runs. ---- */
/* Starts (enable != 0) or stops recording: requests submitted from then on are recorded (or not).
 * The first start allocates the histograms (E_NO_MEMORY); later calls never fail. */
FILEAIO_API int fileaio_ctx_set_latency(fileaio_ctx *ctx, int enable);
/* Fills out (out->size set by the caller, at least the first version's size, else
 * E_INVALID_PARAMETER; an op that is not a fileaio_latency_op: E_INVALID_PARAMETER). All counts 0
 * when the context never recorded. */
FILEAIO_API int fileaio_ctx_get_latency(const fileaio_ctx *ctx, int op, fileaio_latency *out);
/* The raw histogram: counts[i] requests took [fileaio_latency_bucket_low(i),
 * fileaio_latency_bucket_low(i + 1)) ns. *n gets the number of buckets; counts may be NULL
 * (capacity 0) to ask for it; a capacity below it: E_OUT_OF_RANGE (nothing copied). */
FILEAIO_API int fileaio_ctx_get_latency_buckets(const fileaio_ctx *ctx, int op, uint64_t *counts, size_t capacity,
                                                size_t *n);
/* The lowest latency (ns) counted in bucket i; UINT64_MAX for i past the last bucket (i >= the
 * bucket count), so that bucket_low(i + 1) bounds the last bucket too. */
FILEAIO_API uint64_t fileaio_latency_bucket_low(size_t i);
/* Starts every operation's counts afresh (recording goes on as it was). */
FILEAIO_API int fileaio_ctx_reset_latency(fileaio_ctx *ctx);
/* Hints: may only change while nothing is pending (E_BUSY otherwise). */
FILEAIO_API int fileaio_ctx_register_buffers(fileaio_ctx *ctx, const struct iovec *iov, unsigned count);
FILEAIO_API int fileaio_ctx_unregister_buffers(fileaio_ctx *ctx);

/* ---- Backends and limits ---- */

/* "auto", "io_uring", "linux_aio", "posix_aio", "thread_pool"; "unknown" otherwise. Never NULL. */
FILEAIO_API const char *fileaio_backend_name(fileaio_backend backend);
/* 0 if contexts of that backend can be created here; else E_NOT_SUPPORTED and a reason. */
FILEAIO_API int fileaio_backend_probe(fileaio_backend backend, char *reason, size_t reason_size);
FILEAIO_API int fileaio_get_limits(fileaio_backend backend, fileaio_limits *limits);
/* statx(STATX_DIOALIGN), then the device's logical block size, then 4096. */
FILEAIO_API int fileaio_get_dio_alignment(int fd, fileaio_dio_alignment *alignment);

#ifdef __cplusplus
}
#endif

#endif /* FILEAIO_FILEAIO_H */
