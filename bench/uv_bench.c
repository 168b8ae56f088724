/* libuv's thread-pool file I/O, the peer of fileaio's thread_pool backend (issue 12): QD
 * requests of uv_fs_read / uv_fs_write in flight on the default loop, each completion's
 * callback issuing the next, at random offsets visited the way `fileaio bench` does (fio's
 * random map: every block once per pass, a new order each pass; --norandommap for independent
 * draws). libuv runs each request on its thread pool (UV_THREADPOOL_SIZE, default 4).
 *
 *   uv_bench FILE [--rw randread|randwrite|randrw] [--rwmixread P] [--bs N] [--iodepth N]
 *                 [--runtime S] [--norandommap]
 *
 * Prints one JSON object: {"rw": ..., "ios": N, "reads": N, "writes": N, "errors": N,
 * "runtime_s": X, "iops": X, "usr_s": X, "sys_s": X, "iops_per_cpu_s": X}. CPU is the whole
 * process (getrusage RUSAGE_SELF: the loop and the pool's threads), measured around the run
 * only, as `fileaio bench` and bench/raw_uring do.
 */
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum rw { RW_READ, RW_WRITE, RW_MIXED };

struct config {
    const char *path;
    enum rw rw;
    unsigned rwmixread;
    unsigned block_size;
    unsigned iodepth;
    double runtime_s;
    int random_map;
};

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *state, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)splitmix(state) * n) >> 64);
}

/* The random map of tools/fileaio/offsets.hpp (random_permutation), in C: a keyed bijection of
 * [0, 2^bits), cycle-walked into [0, count); new keys each pass. */
#define MAP_ROUNDS 3
struct random_map {
    uint64_t count, mask, position, keys;
    unsigned shift;
    uint64_t mul[MAP_ROUNDS], add[MAP_ROUNDS];
};

static void map_new_pass(struct random_map *m)
{
    m->position = 0;
    for (int r = 0; r < MAP_ROUNDS; ++r) {
        m->mul[r] = splitmix(&m->keys) | 1u;
        m->add[r] = splitmix(&m->keys);
    }
}

static void map_init(struct random_map *m, uint64_t count, uint64_t seed)
{
    unsigned bits = 0;
    while (bits < 64 && (count - 1) >> bits != 0) {
        ++bits;
    }
    m->count = count;
    m->mask = count <= 1 ? 0 : (~(uint64_t)0 >> (64 - bits));
    m->shift = bits / 2 > 0 ? bits / 2 : 1;
    m->keys = seed;
    map_new_pass(m);
}

static uint64_t map_permute(const struct random_map *m, uint64_t x)
{
    for (int r = 0; r < MAP_ROUNDS; ++r) {
        x = (x * m->mul[r] + m->add[r]) & m->mask;
        x ^= x >> m->shift;
    }
    return x;
}

static uint64_t map_next(struct random_map *m)
{
    if (m->count <= 1) {
        return 0;
    }
    if (m->position == m->count) {
        map_new_pass(m);
    }
    uint64_t x = map_permute(m, m->position++);
    while (x >= m->count) {
        x = map_permute(m, x);
    }
    return x;
}

struct slot {
    uv_fs_t req;
    uv_buf_t buf;
    uint64_t start_ns;
};

static struct config cfg = {NULL, RW_READ, 50, 4096, 32, 5.0, 1};
static uv_file file_fd;
static uint64_t blocks;
static struct random_map map;
static uint64_t offset_rng = 0x5EEDF11EA10Bu;
static uint64_t direction_rng = 0xD1EC7104u;
static uint64_t deadline_ns, end_ns;
static uint64_t reads, writes, errors;
static int running = 1;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void on_done(uv_fs_t *req);

static void issue(struct slot *s)
{
    const uint64_t block = cfg.random_map ? map_next(&map) : below(&offset_rng, blocks);
    const int64_t offset = (int64_t)(block * cfg.block_size);
    int write = cfg.rw == RW_WRITE;
    if (cfg.rw == RW_MIXED) {
        write = below(&direction_rng, 100) >= cfg.rwmixread;
    }
    s->req.data = s;
    const int rc = write ? uv_fs_write(uv_default_loop(), &s->req, file_fd, &s->buf, 1, offset, on_done)
                         : uv_fs_read(uv_default_loop(), &s->req, file_fd, &s->buf, 1, offset, on_done);
    if (rc < 0) {
        fprintf(stderr, "uv_bench: %s: %s\n", write ? "uv_fs_write" : "uv_fs_read", uv_strerror(rc));
        exit(1);
    }
}

static void on_done(uv_fs_t *req)
{
    struct slot *s = req->data;
    if (req->result == (ssize_t)cfg.block_size) {
        if (req->fs_type == UV_FS_WRITE) {
            ++writes;
        } else {
            ++reads;
        }
    } else {
        ++errors;
    }
    uv_fs_req_cleanup(req);
    end_ns = now_ns();
    if (end_ns >= deadline_ns) {
        running = 0;
    }
    if (running) {
        issue(s);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: uv_bench FILE [--rw randread|randwrite|randrw] [--rwmixread P] [--bs N] [--iodepth N]\n"
                    "                [--runtime S] [--norandommap]\n");
    return 2;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--norandommap") == 0) {
            cfg.random_map = 0;
        } else if (arg[0] == '-' && value == NULL) {
            return usage();
        } else if (strcmp(arg, "--rw") == 0) {
            if (strcmp(value, "randread") == 0) {
                cfg.rw = RW_READ;
            } else if (strcmp(value, "randwrite") == 0) {
                cfg.rw = RW_WRITE;
            } else if (strcmp(value, "randrw") == 0) {
                cfg.rw = RW_MIXED;
            } else {
                return usage();
            }
            ++i;
        } else if (strcmp(arg, "--rwmixread") == 0) {
            cfg.rwmixread = (unsigned)strtoul(value, NULL, 10);
            ++i;
        } else if (strcmp(arg, "--bs") == 0) {
            cfg.block_size = (unsigned)strtoul(value, NULL, 10);
            ++i;
        } else if (strcmp(arg, "--iodepth") == 0) {
            cfg.iodepth = (unsigned)strtoul(value, NULL, 10);
            ++i;
        } else if (strcmp(arg, "--runtime") == 0) {
            cfg.runtime_s = strtod(value, NULL);
            ++i;
        } else if (cfg.path == NULL && arg[0] != '-') {
            cfg.path = arg;
        } else {
            return usage();
        }
    }
    if (cfg.path == NULL || cfg.block_size == 0 || cfg.iodepth == 0 || cfg.rwmixread > 100) {
        return usage();
    }
    file_fd = open(cfg.path, (cfg.rw == RW_READ ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    struct stat st;
    if (file_fd < 0 || fstat(file_fd, &st) != 0) {
        fprintf(stderr, "uv_bench: %s: %s\n", cfg.path, strerror(errno));
        return 1;
    }
    blocks = (uint64_t)st.st_size / cfg.block_size;
    if (blocks == 0) {
        fprintf(stderr, "uv_bench: %s is smaller than one block\n", cfg.path);
        return 1;
    }
    map_init(&map, blocks, 0x5EEDF11EA10Bu);

    struct slot *slots = calloc(cfg.iodepth, sizeof *slots);
    char *memory = NULL;
    if (slots == NULL || posix_memalign((void **)&memory, 4096, (size_t)cfg.block_size * cfg.iodepth) != 0) {
        return 1;
    }
    for (unsigned i = 0; i < cfg.iodepth; ++i) {
        for (unsigned b = 0; b < cfg.block_size; ++b) {
            memory[(size_t)i * cfg.block_size + b] = (char)splitmix(&direction_rng);
        }
        slots[i].buf = uv_buf_init(memory + (size_t)i * cfg.block_size, cfg.block_size);
    }
    direction_rng = 0xD1EC7104u;

    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    const uint64_t start = now_ns();
    deadline_ns = start + (uint64_t)(cfg.runtime_s * 1e9);
    end_ns = start;
    for (unsigned i = 0; i < cfg.iodepth; ++i) {
        issue(&slots[i]);
    }
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    getrusage(RUSAGE_SELF, &after);

    const double runtime = (double)(end_ns - start) / 1e9;
    const double usr = cpu_seconds(after.ru_utime) - cpu_seconds(before.ru_utime);
    const double sys = cpu_seconds(after.ru_stime) - cpu_seconds(before.ru_stime);
    const uint64_t ios = reads + writes;
    printf("{\"rw\": \"%s\", \"ios\": %llu, \"reads\": %llu, \"writes\": %llu, \"errors\": %llu, \"runtime_s\": %.6f, "
           "\"iops\": %.1f, \"usr_s\": %.6f, \"sys_s\": %.6f, \"iops_per_cpu_s\": %.1f}\n",
           cfg.rw == RW_READ ? "randread" : cfg.rw == RW_WRITE ? "randwrite" : "randrw", (unsigned long long)ios,
           (unsigned long long)reads, (unsigned long long)writes, (unsigned long long)errors, runtime,
           runtime > 0 ? (double)ios / runtime : 0.0, usr, sys, usr + sys > 0 ? (double)ios / (usr + sys) : 0.0);
    uv_loop_close(uv_default_loop());
    free(memory);
    free(slots);
    close(file_fd);
    return errors == 0 ? 0 : 1;
}
