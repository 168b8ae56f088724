/*
 * uv_cp SOURCE DEST — copies a file from a libuv loop through fileaio (fileaio/uv.h).
 *
 * SLOTS requests each cycle through: read a chunk, write it at the same offset, take the next
 * chunk, until a read comes back short (end of file); the last one out issues a datasync. All
 * callbacks run on the loop thread; uv_run returns when the I/O is done.
 *
 * Build: cc uv_cp.c $(pkg-config --cflags --libs fileaio libuv)   (needs libuv1-dev)
 */
#define _GNU_SOURCE

#include <fileaio/uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLOTS = 4, CHUNK = 256 * 1024 };

struct slot {
    fileaio_uv_req r;
    unsigned char *buf;
    int64_t offset;
};

static fileaio_uv fuv;
static struct slot slots[SLOTS];
static fileaio_uv_req sync_req;
static int src, dst, eof, failed, running = SLOTS, synced;
static int64_t next_offset;

static void on_read(fileaio_uv_req *r, int result, size_t moved);

static void fail(const char *what, int code)
{
    fprintf(stderr, "uv_cp: %s: %s\n", what, fileaio_strerror(code));
    failed = 1;
}

static void on_sync(fileaio_uv_req *r, int result, size_t moved)
{
    (void)r;
    (void)moved;
    if (result != 0) fail("datasync", result);
    synced = 1;
}

/* This slot is done: the last one out makes DEST durable. */
static void retire(void)
{
    if (--running != 0 || failed) return;
    int rc = fileaio_uv_datasync(&fuv, &sync_req, dst, on_sync);
    if (rc != 0) fail("datasync", rc);
}

static void next_chunk(struct slot *s)
{
    if (eof || failed) {
        retire();
        return;
    }
    s->offset = next_offset;
    next_offset += CHUNK;
    int rc = fileaio_uv_read(&fuv, &s->r, src, s->offset, s->buf, CHUNK, on_read);
    if (rc != 0) {
        fail("read", rc);
        retire();
    }
}

static void on_write(fileaio_uv_req *r, int result, size_t moved)
{
    (void)moved;
    if (result != 0) fail("write", result);
    next_chunk(r->data);
}

static void on_read(fileaio_uv_req *r, int result, size_t moved)
{
    struct slot *s = r->data;
    if (result != 0) {
        fail("read", result);
        retire();
        return;
    }
    if (moved < CHUNK) eof = 1; /* short: end of file (the size is not trusted) */
    if (moved == 0) {
        retire();
        return;
    }
    int rc = fileaio_uv_write(&fuv, r, dst, s->offset, s->buf, moved, on_write);
    if (rc != 0) {
        fail("write", rc);
        retire();
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOURCE DEST\n", argv[0]);
        return 2;
    }
    src = open(argv[1], O_RDONLY | O_CLOEXEC);
    dst = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (src < 0 || dst < 0) {
        perror(src < 0 ? argv[1] : argv[2]);
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    fileaio_ctx *ctx = NULL;
    int rc = fileaio_ctx_create(&ctx, SLOTS + 1, 0); /* FILEAIO_BACKEND picks the backend */
    if (rc == 0) rc = fileaio_uv_init(loop, &fuv, ctx);
    if (rc == 0) rc = fileaio_uv_req_init(&sync_req);
    for (int i = 0; i < SLOTS && rc == 0; ++i) {
        rc = fileaio_uv_req_init(&slots[i].r);
        slots[i].r.data = &slots[i];
        if ((slots[i].buf = malloc(CHUNK)) == NULL) rc = -ENOMEM;
    }
    if (rc != 0) {
        fprintf(stderr, "uv_cp: setup: %s\n", fileaio_strerror(rc));
        return 1;
    }
    for (int i = 0; i < SLOTS; ++i) next_chunk(&slots[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    if (!failed && !synced) fail("copy", FILEAIO_E_INVALID_PARAMETER); /* cannot happen */
    fileaio_uv_close(&fuv, NULL);
    uv_run(loop, UV_RUN_DEFAULT); /* the close callbacks */
    for (int i = 0; i < SLOTS; ++i) {
        fileaio_uv_req_destroy(&slots[i].r);
        free(slots[i].buf);
    }
    fileaio_uv_req_destroy(&sync_req);
    uv_loop_close(loop);
    fileaio_ctx_destroy(ctx);
    close(src);
    if (close(dst) != 0) return 1;
    return failed ? 1 : 0;
}
