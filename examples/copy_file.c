/*
 * copy_file SOURCE DEST — copies a file with fileaio, a few requests in flight.
 *
 * Each of SLOTS requests cycles through: read a chunk of SOURCE, then write the same bytes at
 * the same offset of DEST, then take the next chunk, until a read comes back short (end of
 * file: the size is not trusted, so /proc files and growing files copy too). When every chunk
 * is written, one flush makes DEST durable. Only the public C API is used; errors are reported with fileaio_strerror.
 *
 * Build: cc copy_file.c $(pkg-config --cflags --libs fileaio)
 *    or: find_package(fileaio) and link fileaio::fileaio (see CMakeLists.txt here).
 */
#define _POSIX_C_SOURCE 200809L

#include <fileaio/fileaio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SLOTS = 4, CHUNK = 64 * 1024, MIN_ALIGN = 64 };

struct slot {
    fileaio_req *req;
    unsigned char *buf;
    int64_t offset; /* where this chunk lies in both files */
    size_t len;     /* bytes read; the bytes to write */
    int writing;    /* 0: the request in flight is the read, 1: the write */
};

struct copy {
    const char *src_name;
    const char *dst_name;
    int src, dst;
    int64_t next_offset; /* the next chunk to read */
    int eof;             /* a read came back short: issue no more */
    fileaio_ctx *ctx;
    struct slot slots[SLOTS];
    size_t in_flight;
    int failed;
};

static int report(const struct copy *c, const char *what, const struct slot *s, int code)
{
    if (s != NULL)
        fprintf(stderr, "copy_file: %s %s at offset %lld: %s (%s)\n", what, s->writing ? c->dst_name : c->src_name,
                (long long)s->offset, fileaio_strerror(code), fileaio_errname(code));
    else
        fprintf(stderr, "copy_file: %s: %s (%s)\n", what, fileaio_strerror(code), fileaio_errname(code));
    return code;
}

/* Prepares the next read on slot s; returns 0 when there is nothing left to read. */
static int prepare_next_read(struct copy *c, struct slot *s)
{
    int rc;

    if (c->eof || c->failed) return 0;
    s->offset = c->next_offset;
    s->len = CHUNK;
    s->writing = 0;
    c->next_offset += (int64_t)s->len;
    rc = fileaio_req_prepare_read(s->req, c->src, s->offset, s->buf, s->len, s);
    if (rc < 0) {
        c->failed = 1;
        return report(c, "cannot prepare a read of", s, rc);
    }
    return 1;
}

static int submit_one(struct copy *c, struct slot *s)
{
    int rc = fileaio_ctx_submit(c->ctx, &s->req, 1, NULL);
    if (rc < 0) {
        c->failed = 1;
        return report(c, "cannot submit", NULL, rc);
    }
    c->in_flight++;
    return 0;
}

/* A read or write of slot s has completed: move it on to its next step. */
static void on_completion(struct copy *c, struct slot *s)
{
    size_t transferred = 0;
    int rc = fileaio_req_get_result(s->req, &transferred);

    c->in_flight--;
    if (rc < 0) {
        c->failed = 1;
        report(c, s->writing ? "cannot write" : "cannot read", s, rc);
        return;
    }
    if (c->failed) return;
    if (!s->writing) {
        /* The library completes short transfers itself: fewer bytes only means end of file. */
        if (transferred < s->len) {
            s->len = transferred;
            c->eof = 1;
        }
        if (s->len == 0) return;
        s->writing = 1;
        rc = fileaio_req_prepare_write(s->req, c->dst, s->offset, s->buf, s->len, s);
        if (rc < 0) {
            c->failed = 1;
            report(c, "cannot prepare a write of", s, rc);
            return;
        }
        submit_one(c, s);
        return;
    }
    if (prepare_next_read(c, s) > 0) submit_one(c, s);
}

/* Waits until nothing is in flight, dispatching every completion. */
static void run(struct copy *c)
{
    fileaio_req *completed[SLOTS];

    while (c->in_flight > 0) {
        size_t count = 0;
        size_t i;
        int rc = fileaio_ctx_wait(c->ctx, 1, FILEAIO_WAIT_FOREVER, completed, SLOTS, &count);
        /* Completions are handed back even when wait reports an error: never drop them. */
        for (i = 0; i < count; i++) on_completion(c, (struct slot *)fileaio_req_get_user(completed[i]));
        if (rc < 0 && rc != FILEAIO_E_INTERRUPTED) {
            report(c, "wait failed", NULL, rc);
            c->failed = 1;
            if (count == 0) break; /* nothing more will come back; give up rather than spin */
        }
    }
}

/* Makes DEST durable: a flush, which also waits for every write before it on this context. */
static void flush(struct copy *c)
{
    fileaio_req *completed[1];
    size_t count = 0;
    size_t transferred = 0;
    fileaio_req *req = c->slots[0].req;
    int rc = fileaio_req_prepare_flush(req, c->dst, NULL);

    if (rc == 0) rc = fileaio_ctx_submit(c->ctx, &req, 1, NULL);
    if (rc == 0) rc = fileaio_ctx_wait(c->ctx, 1, FILEAIO_WAIT_FOREVER, completed, 1, &count);
    if (rc == 0) rc = fileaio_req_get_result(req, &transferred);
    if (rc < 0) {
        report(c, "cannot flush the destination", NULL, rc);
        c->failed = 1;
    }
}

static int setup(struct copy *c)
{
    fileaio_limits limits;
    size_t align = MIN_ALIGN;
    size_t i;
    int rc;

    c->src = open(c->src_name, O_RDONLY);
    if (c->src < 0) {
        fprintf(stderr, "copy_file: %s: %s\n", c->src_name, strerror(errno));
        return -1;
    }
    c->dst = open(c->dst_name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (c->dst < 0) {
        fprintf(stderr, "copy_file: %s: %s\n", c->dst_name, strerror(errno));
        return -1;
    }
    rc = fileaio_ctx_create(&c->ctx, SLOTS, 0);
    if (rc < 0) return report(c, "cannot create a context", NULL, rc);
    /* Buffers as aligned as the backend wants them for buffered I/O. */
    if (fileaio_get_limits(fileaio_ctx_get_backend(c->ctx), &limits) == 0 && limits.buffer_alignment > align)
        align = limits.buffer_alignment;
    for (i = 0; i < SLOTS; i++) {
        void *buf = NULL;
        rc = fileaio_req_create(&c->slots[i].req);
        if (rc < 0) return report(c, "cannot create a request", NULL, rc);
        if (posix_memalign(&buf, align, CHUNK) != 0) return report(c, "out of memory", NULL, -ENOMEM);
        c->slots[i].buf = buf;
    }
    return 0;
}

static void cleanup(struct copy *c)
{
    size_t i;
    int rc;

    for (i = 0; i < SLOTS; i++) {
        fileaio_req_destroy(c->slots[i].req);
        free(c->slots[i].buf);
    }
    rc = fileaio_ctx_destroy(c->ctx);
    if (rc < 0) report(c, "cannot destroy the context", NULL, rc);
    if (c->src >= 0) close(c->src);
    if (c->dst >= 0 && close(c->dst) != 0) {
        fprintf(stderr, "copy_file: %s: %s\n", c->dst_name, strerror(errno));
        c->failed = 1;
    }
}

int main(int argc, char **argv)
{
    struct copy c;
    size_t i;

    if (argc != 3) {
        fprintf(stderr, "usage: %s SOURCE DEST\n", argv[0]);
        return 2;
    }
    memset(&c, 0, sizeof c);
    c.src_name = argv[1];
    c.dst_name = argv[2];
    c.src = -1;
    c.dst = -1;

    if (setup(&c) != 0) {
        c.failed = 1;
    } else {
        for (i = 0; i < SLOTS; i++)
            if (prepare_next_read(&c, &c.slots[i]) > 0) submit_one(&c, &c.slots[i]);
        run(&c);
        if (!c.failed) flush(&c);
    }
    cleanup(&c);
    return c.failed ? 1 : 0;
}
