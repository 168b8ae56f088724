/* fileaio — libuv adapter (header-only C; needs libuv >= 1.x, Debian: libuv1-dev).
 *
 * Drives a fileaio context from a libuv loop: a uv_poll_t watches the context's pollable
 * descriptor (fileaio_ctx_get_fd, API.md "Event loops") and, when it is readable, takes the
 * completions with fileaio_ctx_wait(timeout 0) and calls each request's callback, uv style:
 *
 *   fileaio_uv fuv;
 *   fileaio_uv_init(loop, &fuv, ctx);                  // ctx: a fileaio context you made
 *   fileaio_uv_req r;
 *   fileaio_uv_req_init(&r);                           // makes its fileaio_req (once)
 *   fileaio_uv_read(&fuv, &r, fd, offset, buf, size, on_read);
 *   ...  uv_run(loop, UV_RUN_DEFAULT);
 *   void on_read(fileaio_uv_req *r, int result, size_t transferred) { ... }
 *
 * result is 0, FILEAIO_E_CANCELED, an -errno (-EBADF, -EIO) or another FILEAIO_E_ code, as
 * fileaio_req_get_result gives it; transferred the bytes moved. A read that moves 0 bytes at end
 * of file is a success with transferred 0.
 *
 * Rules. The loop thread is the context's waiter: nobody else may call fileaio_ctx_wait on it.
 * libuv is single-threaded, so start and cancel requests on the loop thread too. The poll handle
 * is active only while requests are in flight, so uv_run returns when the I/O is done. A request
 * and its buffer must stay alive until its callback ran; the request may be started again from
 * its own callback. At most the context's max_reqs are in flight: beyond that the start functions
 * return FILEAIO_E_LIMIT_EXCEEDED (nothing started, no callback). fileaio_uv_cancel stops a
 * request if the backend can: its callback then comes from the loop with FILEAIO_E_CANCELED;
 * else it finishes normally. fileaio_uv_close (FILEAIO_E_BUSY while requests are in flight) closes
 * the handles; the context stays yours to destroy after close_cb.
 *
 * Every function returns 0 or a negative fileaio/-errno code; the UV_E* codes of libuv (also
 * -errno on Linux) come back as they are. */
#ifndef FILEAIO_UV_H
#define FILEAIO_UV_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "fileaio/fileaio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fileaio_uv fileaio_uv;
typedef struct fileaio_uv_req fileaio_uv_req;
typedef void (*fileaio_uv_cb)(fileaio_uv_req *req, int result, size_t transferred);
typedef void (*fileaio_uv_close_cb)(fileaio_uv *fuv);

struct fileaio_uv_req {
    void *data;             /* the caller's */
    fileaio_req *req;       /* made by fileaio_uv_req_init */
    fileaio_uv *owner;      /* while in flight */
    fileaio_uv_cb cb;
    fileaio_uv_req *next_canceled;
};

struct fileaio_uv {
    void *data;             /* the caller's */
    fileaio_ctx *ctx;
    uv_poll_t poll;         /* on the context's descriptor */
    uv_timer_t deferred;    /* calls back cancelled requests from the loop */
    size_t active;          /* started and not yet called back */
    int polling;
    int closing;
    fileaio_uv_req *canceled;  /* cancelled, callback due */
    fileaio_uv_close_cb close_cb;
};

static inline int fileaio_uv_req_init(fileaio_uv_req *r) {
    if (r == NULL) return FILEAIO_E_INVALID_PARAMETER;
    r->data = NULL;
    r->owner = NULL;
    r->cb = NULL;
    r->next_canceled = NULL;
    return fileaio_req_create(&r->req);
}

/* FILEAIO_E_IN_PROGRESS while it is in flight. */
static inline int fileaio_uv_req_destroy(fileaio_uv_req *r) {
    if (r == NULL) return 0;
    if (r->owner != NULL) return FILEAIO_E_IN_PROGRESS;
    int rc = fileaio_req_destroy(r->req);
    if (rc == 0) r->req = NULL;
    return rc;
}

static inline void fileaio_uv__finish(fileaio_uv_req *r, int result, size_t transferred) {
    fileaio_uv *h = r->owner;
    r->owner = NULL;
    h->active--;
    r->cb(r, result, transferred);
}

static inline void fileaio_uv__update_poll(fileaio_uv *h);

/* The descriptor is readable: take everything there is (libuv polls level-triggered, so what is
 * left calls again). */
static inline void fileaio_uv__on_ready(uv_poll_t *p, int status, int events) {
    fileaio_uv *h = (fileaio_uv *)p->data;
    fileaio_req *out[64];
    size_t count, i;
    (void)status;
    (void)events;
    do {
        count = 0;
        fileaio_ctx_wait(h->ctx, 1, 0, out, 64, &count);
        for (i = 0; i < count; ++i) {
            fileaio_uv_req *r = (fileaio_uv_req *)fileaio_req_get_user(out[i]);
            size_t moved = 0;
            int result = fileaio_req_get_result(out[i], &moved);
            fileaio_uv__finish(r, result, moved);
        }
    } while (count == 64);
    fileaio_uv__update_poll(h);
}

static inline void fileaio_uv__on_deferred(uv_timer_t *t) {
    fileaio_uv *h = (fileaio_uv *)t->data;
    fileaio_uv_req *list = h->canceled;
    h->canceled = NULL;
    while (list != NULL) {
        fileaio_uv_req *r = list;
        list = r->next_canceled;
        r->next_canceled = NULL;
        fileaio_uv__finish(r, FILEAIO_E_CANCELED, 0);
    }
    fileaio_uv__update_poll(h);
}

/* Polls while something is in flight, so that uv_run returns when nothing is. */
static inline void fileaio_uv__update_poll(fileaio_uv *h) {
    if (h->closing) return;
    if (h->active != 0 && !h->polling) {
        if (uv_poll_start(&h->poll, UV_READABLE, fileaio_uv__on_ready) == 0) h->polling = 1;
    } else if (h->active == 0 && h->polling) {
        uv_poll_stop(&h->poll);
        h->polling = 0;
    }
}

static inline int fileaio_uv_init(uv_loop_t *loop, fileaio_uv *h, fileaio_ctx *ctx) {
    int fd = -1, rc;
    if (h == NULL || loop == NULL) return FILEAIO_E_INVALID_PARAMETER;
    if (ctx == NULL) return FILEAIO_E_INVALID_HANDLE;
    if ((rc = fileaio_ctx_get_fd(ctx, &fd)) != 0) return rc;
    h->ctx = ctx;
    h->active = 0;
    h->polling = 0;
    h->closing = 0;
    h->canceled = NULL;
    h->close_cb = NULL;
    if ((rc = uv_poll_init(loop, &h->poll, fd)) != 0) return rc;
    h->poll.data = h;
    if ((rc = uv_timer_init(loop, &h->deferred)) != 0) {
        uv_close((uv_handle_t *)&h->poll, NULL);
        return rc;
    }
    h->deferred.data = h;
    return 0;
}

/* Submits r (prepared with user = r); on failure r is left as it was. */
static inline int fileaio_uv__start(fileaio_uv *h, fileaio_uv_req *r, fileaio_uv_cb cb, int prepared) {
    int rc;
    if (prepared != 0) return prepared;
    r->owner = h;
    r->cb = cb;
    h->active++;
    fileaio_uv__update_poll(h); /* watching before the submit: nothing is missed either way */
    rc = fileaio_ctx_submit(h->ctx, &r->req, 1, NULL);
    if (rc != 0) {
        r->owner = NULL;
        h->active--;
        fileaio_uv__update_poll(h);
    }
    return rc;
}

static inline int fileaio_uv__check(fileaio_uv *h, fileaio_uv_req *r, fileaio_uv_cb cb) {
    if (h == NULL || r == NULL || r->req == NULL) return FILEAIO_E_INVALID_HANDLE;
    if (cb == NULL) return FILEAIO_E_INVALID_PARAMETER;
    if (r->owner != NULL) return FILEAIO_E_IN_PROGRESS;
    if (h->closing) return FILEAIO_E_INVALID_HANDLE;
    return 0;
}

static inline int fileaio_uv_read(fileaio_uv *h, fileaio_uv_req *r, int fd, int64_t offset, void *buf,
                                  size_t size, fileaio_uv_cb cb) {
    int rc = fileaio_uv__check(h, r, cb);
    if (rc != 0) return rc;
    return fileaio_uv__start(h, r, cb, fileaio_req_prepare_read(r->req, fd, offset, buf, size, r));
}

static inline int fileaio_uv_write(fileaio_uv *h, fileaio_uv_req *r, int fd, int64_t offset, const void *buf,
                                   size_t size, fileaio_uv_cb cb) {
    int rc = fileaio_uv__check(h, r, cb);
    if (rc != 0) return rc;
    return fileaio_uv__start(h, r, cb, fileaio_req_prepare_write(r->req, fd, offset, buf, size, r));
}

static inline int fileaio_uv_flush(fileaio_uv *h, fileaio_uv_req *r, int fd, fileaio_uv_cb cb) {
    int rc = fileaio_uv__check(h, r, cb);
    if (rc != 0) return rc;
    return fileaio_uv__start(h, r, cb, fileaio_req_prepare_flush(r->req, fd, r));
}

static inline int fileaio_uv_datasync(fileaio_uv *h, fileaio_uv_req *r, int fd, fileaio_uv_cb cb) {
    int rc = fileaio_uv__check(h, r, cb);
    if (rc != 0) return rc;
    return fileaio_uv__start(h, r, cb, fileaio_req_prepare_datasync(r->req, fd, r));
}

/* 0: stopped, its callback comes from the loop with FILEAIO_E_CANCELED. Else what
 * fileaio_req_cancel said (FILEAIO_E_COMPLETED, FILEAIO_E_IN_PROGRESS: it finishes normally;
 * FILEAIO_E_NOT_SUBMITTED: not in flight). */
static inline int fileaio_uv_cancel(fileaio_uv_req *r) {
    fileaio_uv *h;
    int rc;
    if (r == NULL || r->req == NULL) return FILEAIO_E_INVALID_HANDLE;
    h = r->owner;
    if (h == NULL || r->next_canceled != NULL) return FILEAIO_E_NOT_SUBMITTED;
    rc = fileaio_req_cancel(r->req);
    if (rc != 0) return rc;
    r->next_canceled = h->canceled;
    h->canceled = r;
    return uv_timer_start(&h->deferred, fileaio_uv__on_deferred, 0, 0);
}

static inline void fileaio_uv__on_closed(uv_handle_t *handle) {
    fileaio_uv *h = (fileaio_uv *)handle->data;
    if (--h->closing == 1 && h->close_cb != NULL) h->close_cb(h);
}

/* Closes the handles; close_cb (may be NULL) runs when both are closed. FILEAIO_E_BUSY while
 * requests are in flight. */
static inline int fileaio_uv_close(fileaio_uv *h, fileaio_uv_close_cb close_cb) {
    if (h == NULL) return FILEAIO_E_INVALID_HANDLE;
    if (h->active != 0) return FILEAIO_E_BUSY;
    if (h->closing) return FILEAIO_E_INVALID_HANDLE;
    h->closing = 3; /* two handles to close; 1 when both are */
    h->close_cb = close_cb;
    uv_close((uv_handle_t *)&h->poll, fileaio_uv__on_closed);
    uv_close((uv_handle_t *)&h->deferred, fileaio_uv__on_closed);
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FILEAIO_UV_H */
