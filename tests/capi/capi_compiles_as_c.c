/*
 * The C API used from C: this file is built as ISO C99 with -pedantic-errors -Werror (see
 * CMakeLists.txt). It touches every type and constant of fileaio.h and makes a small
 * write / vectored write / flush / read / vectored read round trip on a temporary file with
 * the thread_pool backend. Exit status 0 on success; otherwise a message on stderr and 1.
 *
 * _POSIX_C_SOURCE (not -std=gnu99) is what gives us mkdtemp, pread and friends: the header
 * itself needs no feature macro, which capi_header_strict_c99.c proves.
 */
#define _POSIX_C_SOURCE 200809L

#include <fileaio/fileaio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capi_header_strict_c99.h"

enum { payload_size = 8192, half = payload_size / 2, max_in_flight = 4, reason_size = 256 };
/* Long enough never to fire on a working library, short enough to fail rather than hang. */
static const uint32_t wakeup_timeout_ms = 10000;

static int failures = 0;

/* Records a failed check; returns the condition so callers can stop early. */
static int check(int ok, const char *what, int code)
{
    if (!ok) {
        fprintf(stderr, "capi_compiles_as_c: FAILED: %s (code %d: %s, %s)\n", what, code, fileaio_errname(code),
                fileaio_strerror(code));
        failures++;
    }
    return ok;
}

/* Submits the batch and waits until every request in it has come back; checks each result. */
static int run_batch(fileaio_ctx *ctx, fileaio_req *const *reqs, size_t count, const size_t *expected_bytes)
{
    fileaio_req *completed[max_in_flight];
    size_t submitted = 0;
    size_t done = 0;
    size_t i;
    int rc = fileaio_ctx_submit(ctx, reqs, count, &submitted);

    if (!check(rc == 0 && submitted == count, "fileaio_ctx_submit accepts the batch", rc)) return -1;
    for (i = 0; i < count; i++)
        check(fileaio_req_get_state(reqs[i]) == FILEAIO_REQ_SUBMITTED, "a submitted request is SUBMITTED", 0);
    while (done < count) {
        size_t got = 0;
        rc = fileaio_ctx_wait(ctx, 1, 10000, completed, max_in_flight, &got);
        if (!check(rc == 0 && got > 0, "fileaio_ctx_wait returns completions", rc)) return -1;
        done += got;
    }
    check(done == count, "wait returns each request exactly once", 0);
    for (i = 0; i < count; i++) {
        size_t transferred = (size_t)-1;
        rc = fileaio_req_get_result(reqs[i], &transferred);
        check(fileaio_req_get_state(reqs[i]) == FILEAIO_REQ_COMPLETED, "a returned request is COMPLETED", 0);
        check(rc == 0, "the request succeeded", rc);
        check(transferred == expected_bytes[i], "the request moved every byte", rc);
    }
    return 0;
}

static void check_error_tables(void)
{
    /* The X-macro is public: a C caller can build its own table from it, as here. */
#define CAPI_NAME_ROW_(name, value, text) {FILEAIO_E_##name, "FILEAIO_E_" #name},
    static const struct {
        int code;
        const char *name;
    } rows[] = {FILEAIO_ERRNO_MAP(CAPI_NAME_ROW_)};
#undef CAPI_NAME_ROW_
    size_t i;
    const fileaio_error timeout = FILEAIO_E_TIMEOUT;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *name = fileaio_errname(rows[i].code);
        const char *text = fileaio_strerror(rows[i].code);
        check(name != NULL && strcmp(name, rows[i].name) == 0, rows[i].name, rows[i].code);
        check(text != NULL && text[0] != '\0', "fileaio_strerror gives a sentence", rows[i].code);
    }
    check(strcmp(fileaio_errname(-EIO), "EIO") == 0, "fileaio_errname(-EIO) is \"EIO\"", -EIO);
    check(strcmp(fileaio_errname((int)timeout), "FILEAIO_E_TIMEOUT") == 0, "fileaio_error converts to int", 0);
    check(fileaio_strerror(INT_MIN) != NULL && fileaio_errname(INT_MIN) != NULL, "unknown codes have text", INT_MIN);
    check(FILEAIO_E_INVALID_HANDLE != FILEAIO_E_INVALID_PARAMETER && FILEAIO_E_OUT_OF_RANGE != FILEAIO_E_NO_MEMORY &&
              FILEAIO_E_NOT_SUPPORTED != FILEAIO_E_NOT_PREPARED && FILEAIO_E_IN_PROGRESS != FILEAIO_E_NOT_SUBMITTED &&
              FILEAIO_E_COMPLETED != FILEAIO_E_CANCELED && FILEAIO_E_LIMIT_EXCEEDED != FILEAIO_E_BUSY &&
              FILEAIO_E_INSUFFICIENT_RESOURCES != FILEAIO_E_NO_REQUEST &&
              FILEAIO_E_INTERRUPTED != FILEAIO_E_TIMEOUT,
          "library codes are distinct", 0);
}

static void check_backends(void)
{
    static const fileaio_backend all[] = {FILEAIO_BACKEND_AUTO, FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO,
                                          FILEAIO_BACKEND_POSIX_AIO, FILEAIO_BACKEND_THREAD_POOL};
    static const char *const names[] = {"auto", "io_uring", "linux_aio", "posix_aio", "thread_pool"};
    char reason[reason_size];
    fileaio_limits limits;
    size_t i;
    int rc;

    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *name = fileaio_backend_name(all[i]);
        check(name != NULL && strcmp(name, names[i]) == 0, "fileaio_backend_name", 0);
        rc = fileaio_backend_probe(all[i], reason, sizeof reason);
        check(rc == 0 || rc == FILEAIO_E_NOT_SUPPORTED, "fileaio_backend_probe answers 0 or E_NOT_SUPPORTED", rc);
    }
    rc = fileaio_backend_probe(FILEAIO_BACKEND_THREAD_POOL, reason, sizeof reason);
    check(rc == 0, "the thread_pool backend is always available", rc);
    limits.max_outstanding = 0;
    limits.buffer_alignment = 1u;
    rc = fileaio_get_limits(FILEAIO_BACKEND_THREAD_POOL, &limits);
    check(rc == 0 && limits.max_outstanding > 0, "fileaio_get_limits(thread_pool)", rc);
    check(limits.max_outstanding == FILEAIO_UNLIMITED_REQS || limits.max_outstanding >= 4096u,
          "every backend accepts at least 4096 requests in flight", 0);
}

/* Writes the payload (plain write + vectored write + flush), reads it back (plain + vectored). */
static void round_trip(fileaio_ctx *ctx, int fd, unsigned char *out, unsigned char *in)
{
    fileaio_req *reqs[max_in_flight] = {NULL, NULL, NULL, NULL};
    struct iovec out_iov[2];
    struct iovec in_iov[2];
    size_t expected[max_in_flight];
    int tags[max_in_flight] = {0, 1, 2, 3};
    size_t i;
    int rc;

    for (i = 0; i < max_in_flight; i++) {
        rc = fileaio_req_create(&reqs[i]);
        if (!check(rc == 0 && reqs[i] != NULL, "fileaio_req_create", rc)) goto out;
        check(fileaio_req_get_state(reqs[i]) == FILEAIO_REQ_COMPLETED, "a new request is COMPLETED", 0);
        check(fileaio_req_get_user(reqs[i]) == NULL, "a new request has no user pointer", 0);
        check(fileaio_req_cancel(reqs[i]) == FILEAIO_E_NOT_SUBMITTED, "cancel of a new request", 0);
    }

    /* First half with a plain write, second half as two iovecs; all in one batch. */
    out_iov[0].iov_base = out + half;
    out_iov[0].iov_len = half / 2;
    out_iov[1].iov_base = out + half + half / 2;
    out_iov[1].iov_len = half / 2;
    rc = fileaio_req_prepare_write(reqs[0], fd, 0, out, half, &tags[0]);
    check(rc == 0, "fileaio_req_prepare_write", rc);
    rc = fileaio_req_prepare_writev(reqs[1], fd, half, out_iov, 2, &tags[1]);
    check(rc == 0, "fileaio_req_prepare_writev", rc);
    check(fileaio_req_get_state(reqs[0]) == FILEAIO_REQ_PREPARED, "a prepared request is PREPARED", 0);
    check(fileaio_req_get_user(reqs[1]) == &tags[1], "get_user returns the user pointer", 0);
    check(fileaio_req_get_result(reqs[0], NULL) == FILEAIO_E_NOT_SUBMITTED, "get_result of a prepared request", 0);
    expected[0] = half;
    expected[1] = half;
    if (run_batch(ctx, reqs, 2, expected) != 0) goto out;

    /* The barriers: both kinds, after the writes completed. */
    rc = fileaio_req_prepare_flush(reqs[2], fd, &tags[2]);
    check(rc == 0, "fileaio_req_prepare_flush", rc);
    rc = fileaio_req_prepare_datasync(reqs[3], fd, &tags[3]);
    check(rc == 0, "fileaio_req_prepare_datasync", rc);
    expected[0] = 0;
    expected[1] = 0;
    if (run_batch(ctx, reqs + 2, 2, expected) != 0) goto out;

    /* Read it back: a plain read of the first half, a vectored read of the second. */
    in_iov[0].iov_base = in + half;
    in_iov[0].iov_len = half - 1;
    in_iov[1].iov_base = in + payload_size - 1;
    in_iov[1].iov_len = 1;
    rc = fileaio_req_prepare_read(reqs[0], fd, 0, in, half, &tags[0]);
    check(rc == 0, "fileaio_req_prepare_read", rc);
    rc = fileaio_req_prepare_readv(reqs[1], fd, half, in_iov, 2, &tags[1]);
    check(rc == 0, "fileaio_req_prepare_readv", rc);
    expected[0] = half;
    expected[1] = half;
    if (run_batch(ctx, reqs, 2, expected) != 0) goto out;
    check(memcmp(in, out, payload_size) == 0, "the data read back is the data written", 0);

out:
    for (i = 0; i < max_in_flight; i++) check(fileaio_req_destroy(reqs[i]) == 0, "fileaio_req_destroy", 0);
}

static void check_context(fileaio_ctx *ctx, int fd)
{
    fileaio_stats stats;
    fileaio_dio_alignment alignment;
    struct iovec region;
    unsigned char scratch[64];
    int rc;

    check(fileaio_ctx_get_backend(ctx) == FILEAIO_BACKEND_THREAD_POOL, "fileaio_ctx_get_backend", 0);
    check(fileaio_ctx_get_max_req_count(ctx) == max_in_flight, "fileaio_ctx_get_max_req_count", 0);
    rc = fileaio_ctx_associate_with_file(ctx, fd);
    check(rc == 0, "fileaio_ctx_associate_with_file", rc);
    region.iov_base = scratch;
    region.iov_len = sizeof scratch;
    rc = fileaio_ctx_register_buffers(ctx, &region, 1);
    check(rc == 0, "fileaio_ctx_register_buffers (a hint every backend accepts)", rc);
    rc = fileaio_ctx_unregister_buffers(ctx);
    check(rc == 0, "fileaio_ctx_unregister_buffers", rc);
    rc = fileaio_ctx_get_stats(ctx, &stats);
    check(rc == 0, "fileaio_ctx_get_stats", rc);
    check(stats.submitted == 0 && stats.completed == 0 && stats.canceled == 0 && stats.failed == 0 &&
              stats.pending == 0 && stats.pending_max == 0,
          "a new context has zero stats", 0);
    rc = fileaio_get_dio_alignment(fd, &alignment);
    check(rc == 0 && alignment.mem_align > 0 && alignment.offset_align > 0, "fileaio_get_dio_alignment", rc);
}

/* A context made through the growable options struct; wakeup then wait → E_INTERRUPTED. */
static void check_options_and_wakeup(void)
{
    fileaio_ctx *ctx = NULL;
    fileaio_req *completed[1];
    size_t count = 1;
    fileaio_ctx_options opts;
    int rc;

    memset(&opts, 0, sizeof opts);
    opts.size = sizeof opts;
    opts.max_reqs = 8;
    opts.flags = FILEAIO_CTX_WAIT_WITHOUT_PENDING;
    opts.backend = FILEAIO_BACKEND_THREAD_POOL;
    opts.threads = 2;
    opts.uring_flags = 0;
    opts.uring_max_workers = 0;
    rc = fileaio_ctx_create_opts(&ctx, &opts);
    if (!check(rc == 0 && ctx != NULL, "fileaio_ctx_create_opts", rc)) return;
    rc = fileaio_ctx_wait(ctx, 1, 0, completed, 1, &count);
    check(rc == FILEAIO_E_TIMEOUT && count == 0, "a poll on an empty WAIT_WITHOUT_PENDING context times out", rc);
    rc = fileaio_ctx_wakeup(ctx);
    check(rc == 0, "fileaio_ctx_wakeup", rc);
    rc = fileaio_ctx_wait(ctx, 1, wakeup_timeout_ms, completed, 1, &count);
    check(rc == FILEAIO_E_INTERRUPTED && count == 0, "a pending wakeup ends the next wait", rc);
    rc = fileaio_ctx_destroy(ctx);
    check(rc == 0, "fileaio_ctx_destroy", rc);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    char path[PATH_MAX];
    unsigned char *out = malloc(payload_size);
    unsigned char *in = calloc(1, payload_size);
    fileaio_ctx *ctx = NULL;
    int fd = -1;
    int rc;
    int n;
    size_t i;

    check(capi_header_strict_c99_check() == 0, "the header's types under strict C99", 0);
    if (out == NULL || in == NULL) {
        fprintf(stderr, "capi_compiles_as_c: out of memory\n");
        return 1;
    }
    for (i = 0; i < payload_size; i++) out[i] = (unsigned char)(i * 131u + 7u);
    if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
    n = snprintf(dir, sizeof dir, "%s/fileaio-capi-c-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof dir || mkdtemp(dir) == NULL) {
        fprintf(stderr, "capi_compiles_as_c: mkdtemp(%s): %s\n", dir, strerror(errno));
        return 1;
    }
    n = snprintf(path, sizeof path, "%s/round_trip", dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "capi_compiles_as_c: temporary path too long\n");
        rmdir(dir);
        return 1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "capi_compiles_as_c: open(%s): %s\n", path, strerror(errno));
        rmdir(dir);
        return 1;
    }

    check_error_tables();
    check_backends();
    rc = fileaio_ctx_create_ex(&ctx, max_in_flight, 0, FILEAIO_BACKEND_THREAD_POOL);
    if (check(rc == 0 && ctx != NULL, "fileaio_ctx_create_ex(thread_pool)", rc)) {
        check_context(ctx, fd);
        round_trip(ctx, fd, out, in);
        rc = fileaio_ctx_destroy(ctx);
        check(rc == 0, "fileaio_ctx_destroy", rc);
    }
    check_options_and_wakeup();
    /* fileaio_ctx_create (AUTO) must give some real backend, never AUTO itself. */
    ctx = NULL;
    rc = fileaio_ctx_create(&ctx, max_in_flight, 0);
    if (rc == FILEAIO_E_NOT_SUPPORTED && getenv("FILEAIO_BACKEND") != NULL) {
        printf("capi_compiles_as_c: FILEAIO_BACKEND=%s is unavailable here; AUTO refused it as it should\n",
               getenv("FILEAIO_BACKEND"));
    } else if (check(rc == 0 && ctx != NULL, "fileaio_ctx_create(AUTO)", rc)) {
        check(fileaio_ctx_get_backend(ctx) != FILEAIO_BACKEND_AUTO, "AUTO resolves to a real backend", 0);
        check(fileaio_ctx_destroy(ctx) == 0, "fileaio_ctx_destroy", 0);
    }

    close(fd);
    unlink(path);
    rmdir(dir);
    free(out);
    free(in);
    if (failures != 0) {
        fprintf(stderr, "capi_compiles_as_c: %d check(s) failed\n", failures);
        return 1;
    }
    printf("capi_compiles_as_c: fileaio %s from C99: all checks passed\n", FILEAIO_VERSION_STRING);
    return 0;
}
