/*
 * epoll_serve FILE PORTFILE [CLIENTS] — serves FILE over TCP on 127.0.0.1 from one epoll loop,
 * reading it with fileaio.
 *
 * One thread, one epoll set: the listening socket, every client socket, and the fileaio
 * context's pollable descriptor (fileaio_ctx_get_fd, API.md "Event loops"). Each client gets
 * the whole file: a chunk is read with fileaio, sent (non-blocking; EPOLLOUT when the socket is
 * full), then the next chunk is read, until a read comes back short (end of file). When the
 * context's descriptor is readable, fileaio_ctx_wait with timeout 0 hands back what finished.
 * The loop thread is the context's only waiter; it never blocks anywhere but epoll_wait.
 *
 * The port (bound to 127.0.0.1, chosen by the kernel) is written to PORTFILE once the server
 * listens. The program exits 0 after CLIENTS connections (default 1) were served completely.
 *
 * Build: cc epoll_serve.c $(pkg-config --cflags --libs fileaio)
 */
#define _GNU_SOURCE

#include <fileaio/fileaio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CHUNK = 64 * 1024, MAX_CLIENTS = 64 };

struct client {
    int sock;            /* -1: slot free */
    fileaio_req *req;
    unsigned char *buf;
    int64_t offset;      /* of the chunk in buf */
    size_t len, sent;    /* bytes in buf, bytes of them sent */
    int reading;         /* the request is in flight */
    int last;            /* the chunk in buf is the last one */
};

static int file_fd, listen_fd, ep, ctx_fd;
static fileaio_ctx *ctx;
static struct client clients[MAX_CLIENTS];
static int served, wanted = 1;

/* epoll data: which source an event is for. */
#define TAG_LISTEN (-1)
#define TAG_CTX (-2)

static void die(const char *what, int code)
{
    fprintf(stderr, "epoll_serve: %s: %s\n", what, code < 0 ? fileaio_strerror(code) : strerror(code));
    exit(1);
}

static void drop(struct client *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->sock, NULL);
    close(c->sock);
    c->sock = -1;
    ++served;
}

static void start_read(struct client *c)
{
    size_t submitted = 0;
    int rc = fileaio_req_prepare_read(c->req, file_fd, c->offset, c->buf, CHUNK, c);
    if (rc == 0) rc = fileaio_ctx_submit(ctx, &c->req, 1, &submitted);
    if (rc != 0) die("read", rc);
    c->reading = 1;
}

/* Sends what is left of the chunk; on a full socket waits for EPOLLOUT; when the chunk is out,
 * reads the next one (or ends the client). */
static void pump(struct client *c)
{
    while (c->sent < c->len) {
        ssize_t n = send(c->sock, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->sock, &ev);
            return;
        }
        if (n < 0) {
            fprintf(stderr, "epoll_serve: send: %s\n", strerror(errno));
            drop(c);
            return;
        }
        c->sent += (size_t)n;
    }
    struct epoll_event ev = {.events = 0, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->sock, &ev);
    if (c->last) {
        drop(c);
        return;
    }
    c->offset += (int64_t)c->len;
    start_read(c);
}

static void accept_clients(void)
{
    for (;;) {
        int s = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) return; /* EAGAIN: all taken */
        struct client *c = NULL;
        for (int i = 0; i < MAX_CLIENTS && c == NULL; ++i)
            if (clients[i].sock < 0) c = &clients[i];
        if (c == NULL) {
            close(s);
            continue;
        }
        c->sock = s;
        c->offset = 0;
        c->len = c->sent = 0;
        c->last = 0;
        struct epoll_event ev = {.events = 0, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) != 0) die("epoll_ctl", errno);
        start_read(c);
    }
}

/* The context's descriptor is readable: take every completion there is. */
static void take_completions(void)
{
    fileaio_req *done[MAX_CLIENTS];
    size_t count;
    do {
        count = 0;
        int rc = fileaio_ctx_wait(ctx, 1, 0, done, MAX_CLIENTS, &count);
        if (rc != 0 && rc != FILEAIO_E_TIMEOUT && rc != FILEAIO_E_NO_REQUEST) die("wait", rc);
        for (size_t i = 0; i < count; ++i) {
            struct client *c = fileaio_req_get_user(done[i]);
            size_t moved = 0;
            int result = fileaio_req_get_result(done[i], &moved);
            c->reading = 0;
            if (result != 0) {
                fprintf(stderr, "epoll_serve: read at %lld: %s\n", (long long)c->offset, fileaio_strerror(result));
                drop(c);
                continue;
            }
            c->len = moved;
            c->sent = 0;
            c->last = moved < CHUNK; /* short: end of file */
            pump(c);
        }
    } while (count == MAX_CLIENTS);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s FILE PORTFILE [CLIENTS]\n", argv[0]);
        return 2;
    }
    if (argc == 4) wanted = atoi(argv[3]);
    if (wanted < 1) wanted = 1;
    file_fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (file_fd < 0) die(argv[1], errno);

    int rc = fileaio_ctx_create(&ctx, MAX_CLIENTS, 0);
    if (rc != 0) die("fileaio_ctx_create", rc);
    if ((rc = fileaio_ctx_get_fd(ctx, &ctx_fd)) != 0) die("fileaio_ctx_get_fd", rc);
    for (int i = 0; i < MAX_CLIENTS; ++i) {
        clients[i].sock = -1;
        if ((rc = fileaio_req_create(&clients[i].req)) != 0) die("fileaio_req_create", rc);
        if ((clients[i].buf = malloc(CHUNK)) == NULL) die("malloc", ENOMEM);
    }

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listen_fd, 64) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&addr, &alen) != 0)
        die("listen on 127.0.0.1", errno);

    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = &ctx_fd}; /* level-triggered */
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ctx_fd, &cev) != 0)
        die("epoll", errno);

    /* Written once the server listens: a client may connect as soon as it sees the port. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    FILE *pf = fopen(tmp, "w");
    if (pf == NULL || fprintf(pf, "%u\n", (unsigned)ntohs(addr.sin_port)) < 0 || fclose(pf) != 0 || rename(tmp, argv[2]) != 0)
        die(argv[2], errno);

    while (served < wanted) {
        struct epoll_event evs[16];
        int n = epoll_wait(ep, evs, 16, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait", errno);
        for (int i = 0; i < n; ++i) {
            if (evs[i].data.ptr == NULL) accept_clients();
            else if (evs[i].data.ptr == &ctx_fd) take_completions();
            else {
                struct client *c = evs[i].data.ptr;
                if (c->sock >= 0 && !c->reading) pump(c); /* EPOLLOUT: room again */
            }
        }
    }

    for (int i = 0; i < MAX_CLIENTS; ++i) {
        fileaio_req_destroy(clients[i].req);
        free(clients[i].buf);
    }
    if ((rc = fileaio_ctx_destroy(ctx)) != 0) die("fileaio_ctx_destroy", rc);
    close(ep);
    close(listen_fd);
    close(file_fd);
    return 0;
}
