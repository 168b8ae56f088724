/*
 * A caller built against the fileaio_ctx_options of release 0.1 keeps working with every later
 * library (docs/releasing.md: the struct grows only at its end, and abi/fileaio.abignore lets
 * abidiff accept exactly that growth). The 0.1 layout is frozen here, not taken from the header:
 * this file is what an old program was compiled from.
 *
 * The old struct is put at the very end of a readable page, with a PROT_NONE page after it: a
 * library that read one byte past the caller's .size would crash this test instead of reading
 * an old program's stack. Then the context it made does a real write and read.
 *
 * It also checks the other direction: a newer caller's longer struct is accepted when the bytes
 * this library does not know are zero, and refused (E_NOT_SUPPORTED) when they would ask for
 * something it cannot do.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <fileaio/fileaio.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* fileaio_ctx_options as release 0.1 shipped it. Never edit: it is the old callers' view. */
struct options_0_1 {
    size_t size;
    uint32_t max_reqs;
    uint32_t flags;
    fileaio_backend backend;
    uint32_t threads;
    uint32_t uring_flags;
    uint32_t uring_max_workers;
};

/* The current struct must start with the 0.1 layout, member for member. */
#define SAME_OFFSET(m) (offsetof(struct options_0_1, m) == offsetof(fileaio_ctx_options, m))
typedef char layout_is_a_prefix[(SAME_OFFSET(size) && SAME_OFFSET(max_reqs) && SAME_OFFSET(flags) &&
                                 SAME_OFFSET(backend) && SAME_OFFSET(threads) && SAME_OFFSET(uring_flags) &&
                                 SAME_OFFSET(uring_max_workers) &&
                                 sizeof(fileaio_ctx_options) >= sizeof(struct options_0_1))
                                    ? 1
                                    : -1];

static int failures = 0;
#define CHECK(cond, ...)                                       \
    do {                                                       \
        if (!(cond)) {                                         \
            fprintf(stderr, "old_options_caller: FAILED: ");   \
            fprintf(stderr, __VA_ARGS__);                      \
            fprintf(stderr, "\n");                             \
            ++failures;                                        \
        }                                                      \
    } while (0)

/* Writes then reads 4 KiB through ctx; 0 when the bytes come back. */
static int round_trip(fileaio_ctx *ctx) {
    char path[] = "/tmp/fileaio-old-caller-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path);
    static char out[4096], in[4096];
    for (size_t i = 0; i < sizeof out; ++i) out[i] = (char)(i * 7 + 1);
    fileaio_req *req = NULL;
    int rc = fileaio_req_create(&req);
    for (int pass = 0; rc == 0 && pass < 2; ++pass) {
        rc = pass == 0 ? fileaio_req_prepare_write(req, fd, 0, out, sizeof out, NULL)
                       : fileaio_req_prepare_read(req, fd, 0, in, sizeof in, NULL);
        size_t n = 0, moved = 0;
        fileaio_req *done = NULL;
        if (rc == 0) rc = fileaio_ctx_submit(ctx, &req, 1, &n);
        if (rc == 0) rc = fileaio_ctx_wait(ctx, 1, 10000, &done, 1, &n);
        if (rc == 0) rc = fileaio_req_get_result(req, &moved);
        if (rc == 0 && moved != sizeof out) rc = -1;
    }
    fileaio_req_destroy(req);
    close(fd);
    return rc == 0 && memcmp(out, in, sizeof out) == 0 ? 0 : -1;
}

int main(void) {
    const long page = sysconf(_SC_PAGESIZE);
    unsigned char *pages = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages + page, (size_t)page, PROT_NONE) != 0) {
        perror("old_options_caller: mmap/mprotect");
        return 1;
    }

    /* An old caller: its struct ends where the readable memory ends. */
    struct options_0_1 *old = (struct options_0_1 *)(void *)(pages + page - sizeof(struct options_0_1));
    memset(old, 0, sizeof *old);
    old->size = sizeof *old;
    old->max_reqs = 8;
    old->backend = FILEAIO_BACKEND_THREAD_POOL;
    old->threads = 2;
    fileaio_ctx *ctx = NULL;
    int rc = fileaio_ctx_create_opts(&ctx, (const fileaio_ctx_options *)(const void *)old);
    CHECK(rc == 0, "a 0.1 caller's options (size %zu): %s", sizeof *old, fileaio_errname(rc));
    if (rc == 0) {
        CHECK(fileaio_ctx_get_backend(ctx) == FILEAIO_BACKEND_THREAD_POOL, "the 0.1 caller's backend was not used");
        CHECK(fileaio_ctx_get_max_req_count(ctx) == 8, "the 0.1 caller's max_reqs was not used");
        CHECK(round_trip(ctx) == 0, "a write and read on the 0.1 caller's context failed");
        fileaio_ctx_destroy(ctx);
    }

    /* A newer caller: more bytes than this library knows, at the end of the readable memory too. */
    const size_t newer_size = sizeof(fileaio_ctx_options) + 16;
    unsigned char *newer = pages + page - newer_size;
    memset(newer, 0, newer_size);
    fileaio_ctx_options *opts = (fileaio_ctx_options *)(void *)newer;
    opts->size = newer_size;
    opts->max_reqs = 8;
    opts->backend = FILEAIO_BACKEND_THREAD_POOL;
    ctx = NULL;
    rc = fileaio_ctx_create_opts(&ctx, opts);
    CHECK(rc == 0, "a newer caller's options with a zero tail: %s", fileaio_errname(rc));
    if (rc == 0) fileaio_ctx_destroy(ctx);
    newer[newer_size - 1] = 1;
    ctx = NULL;
    rc = fileaio_ctx_create_opts(&ctx, opts);
    CHECK(rc == FILEAIO_E_NOT_SUPPORTED, "a newer caller's unknown option: %s, expected FILEAIO_E_NOT_SUPPORTED",
          fileaio_errname(rc));
    CHECK(ctx == NULL, "a refused create wrote the context");

    munmap(pages, (size_t)page * 2);
    if (failures == 0) printf("old_options_caller: passed (0.1 struct of %zu bytes, current %zu)\n",
                              sizeof(struct options_0_1), sizeof(fileaio_ctx_options));
    return failures == 0 ? 0 : 1;
}
