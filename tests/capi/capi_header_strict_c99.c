/*
 * fileaio.h in the strictest C we promise: ISO C99, -pedantic-errors, and no feature-test
 * macro at all (so the header may not lean on _GNU_SOURCE / _POSIX_C_SOURCE to declare what
 * it uses). This translation unit includes nothing else; capi_compiles_as_c.c, which needs
 * POSIX calls for its round trip, defines _POSIX_C_SOURCE and is linked with it.
 */
#include <fileaio/fileaio.h>

#include "capi_header_strict_c99.h"

/* C99 has no _Static_assert: a negative array size is the portable compile-time check. */
#define CAPI_STATIC_ASSERT(cond, name) typedef char capi_static_assert_##name[(cond) ? 1 : -1]

CAPI_STATIC_ASSERT(FILEAIO_BACKEND_AUTO == 0, backend_auto);
CAPI_STATIC_ASSERT(FILEAIO_BACKEND_IO_URING == 1, backend_io_uring);
CAPI_STATIC_ASSERT(FILEAIO_BACKEND_LINUX_AIO == 2, backend_linux_aio);
CAPI_STATIC_ASSERT(FILEAIO_BACKEND_POSIX_AIO == 3, backend_posix_aio);
CAPI_STATIC_ASSERT(FILEAIO_BACKEND_THREAD_POOL == 4, backend_thread_pool);
CAPI_STATIC_ASSERT(FILEAIO_REQ_PREPARED == 0, state_prepared);
CAPI_STATIC_ASSERT(FILEAIO_REQ_SUBMITTED == 1, state_submitted);
CAPI_STATIC_ASSERT(FILEAIO_REQ_COMPLETED == 2, state_completed);
CAPI_STATIC_ASSERT(FILEAIO_UNLIMITED_REQS == UINT32_MAX, unlimited_reqs);
CAPI_STATIC_ASSERT(FILEAIO_WAIT_FOREVER == UINT32_MAX, wait_forever);
CAPI_STATIC_ASSERT(FILEAIO_CTX_WAIT_WITHOUT_PENDING == 0x1u, wait_without_pending);
CAPI_STATIC_ASSERT(FILEAIO_URING_SQPOLL != 0, uring_sqpoll);
CAPI_STATIC_ASSERT(FILEAIO_VERSION_MAJOR >= 0 && FILEAIO_VERSION_MINOR >= 0 && FILEAIO_VERSION_PATCH >= 0,
                   version);
CAPI_STATIC_ASSERT(sizeof(FILEAIO_VERSION_STRING) > 1, version_string);
/* Every library code lies outside [-4095, -1], so it can never be mistaken for -errno. */
#define CAPI_CODE_OUTSIDE_ERRNO_(name, value, text) \
    CAPI_STATIC_ASSERT(FILEAIO_E_##name < -4095, code_##name);
FILEAIO_ERRNO_MAP(CAPI_CODE_OUTSIDE_ERRNO_)
#undef CAPI_CODE_OUTSIDE_ERRNO_

/* Types used in the ways a C caller uses them. */
struct capi_every_type {
    fileaio_ctx *ctx;
    fileaio_req *req;
    fileaio_backend backend;
    fileaio_req_state state;
    fileaio_error error;
    fileaio_limits limits;
    fileaio_dio_alignment dio_alignment;
    fileaio_stats stats;
    fileaio_ctx_options options;
    struct iovec iov;
};

int capi_header_strict_c99_check(void)
{
    /* A designated initialiser (C99) is how a C caller fills the growable options struct. */
    struct capi_every_type every = {0};
    fileaio_ctx_options opts = {.size = sizeof(fileaio_ctx_options),
                                .max_reqs = 16,
                                .flags = FILEAIO_CTX_WAIT_WITHOUT_PENDING,
                                .backend = FILEAIO_BACKEND_THREAD_POOL};
    int failures = 0;

    every.options = opts;
    every.state = FILEAIO_REQ_COMPLETED;
    every.error = FILEAIO_E_TIMEOUT;
    every.backend = (fileaio_backend)4;

    if (every.options.size != sizeof(fileaio_ctx_options)) failures++;
    if (every.ctx != NULL || every.req != NULL) failures++;
    if (every.limits.max_outstanding != 0 || every.dio_alignment.mem_align != 0) failures++;
    if (every.stats.pending_max != 0 || every.iov.iov_base != NULL) failures++;
    if ((int)every.error != FILEAIO_E_TIMEOUT || every.state != FILEAIO_REQ_COMPLETED) failures++;
    if (every.backend != FILEAIO_BACKEND_THREAD_POOL) failures++;
    return failures;
}
