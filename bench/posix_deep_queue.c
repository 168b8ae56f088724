/*
 * posix_deep_queue: N cached 512-byte aio_read requests put in flight at once on one
 * descriptor, then waited for. Prints the time to submit them all and the time until all are
 * done. Linked only against libc: run it plainly for glibc's aio, with
 * LD_PRELOAD=libfileaio-posix.so for ours (bench/posix_preload.sh does both).
 *
 *   posix_deep_queue FILE [N]      (N: default 100000)
 *   posix_deep_queue --pipe [N]    N 1-byte reads of an empty pipe: every request really is in
 *                                  flight while the others are submitted; then N bytes are
 *                                  written and all complete
 */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|--pipe [N]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 100000;
    int use_pipe = strcmp(argv[1], "--pipe") == 0;
    int fd = -1, pw = -1;
    struct stat st;
    if (use_pipe) {
        int p[2];
        if (pipe(p) != 0) return 2;
        fd = p[0];
        pw = p[1];
        st.st_size = 512;
    } else {
        fd = open(argv[1], O_RDONLY);
        if (fd >= 0 && fstat(fd, &st) != 0) fd = -1;
    }
    if (fd < 0 || st.st_size < 512 || n <= 0) {
        fprintf(stderr, "%s: cannot use %s\n", argv[0], argv[1]);
        return 2;
    }
    long blocks = (long)(st.st_size / 512);
    struct aiocb *cbs = calloc((size_t)n, sizeof *cbs);
    char *bufs = malloc((size_t)n * 512);
    if (cbs == NULL || bufs == NULL) return 2;
    unsigned seed = 12345;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        cbs[i].aio_fildes = fd;
        cbs[i].aio_buf = bufs + i * 512;
        cbs[i].aio_nbytes = use_pipe ? 1 : 512;
        cbs[i].aio_offset = use_pipe ? 0 : (off_t)((seed >> 4) % (unsigned)blocks) * 512;
        cbs[i].aio_sigevent.sigev_notify = SIGEV_NONE;
        if (aio_read(&cbs[i]) != 0) {
            fprintf(stderr, "aio_read %ld: %s\n", i, strerror(errno));
            return 1;
        }
    }
    double t1 = now();
    if (use_pipe) {
        static char bytes[4096];
        memset(bytes, 'p', sizeof bytes);
        for (long left = n; left > 0;) {
            ssize_t w = write(pw, bytes, left < 4096 ? (size_t)left : sizeof bytes);
            if (w <= 0) return 1;
            left -= w;
        }
    }
    long failed = 0;
    for (long i = 0; i < n; i++) {
        const struct aiocb *list[1] = {&cbs[i]};
        while (aio_error(&cbs[i]) == EINPROGRESS) aio_suspend(list, 1, NULL);
        if (aio_error(&cbs[i]) != 0 || aio_return(&cbs[i]) != (use_pipe ? 1 : 512)) failed++;
    }
    double t2 = now();
    printf("requests %ld submit_s %.4f all_done_s %.4f failed %ld\n", n, t1 - t0, t2 - t0, failed);
    return failed == 0 ? 0 : 1;
}
