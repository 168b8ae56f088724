// libfileaio-posix beyond the conformance program: contexts added on demand (with aio_fsync
// covering each), and many threads submitting, suspending and cancelling at once (run under
// TSan by `make test-tsan`: label concurrency).
#include <aio.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

extern "C" unsigned fileaio_posix_context_count(void);
extern "C" unsigned long long fileaio_posix_submitted(void);

namespace {

using fileaio::test::pattern_byte;

// Waits (at most 10 s) for cb to leave EINPROGRESS; returns aio_error.
int wait_done(const aiocb &cb) {
    const aiocb *list[1] = {&cb};
    for (int i = 0; i < 10 && aio_error(&cb) == EINPROGRESS; ++i) {
        timespec ts{1, 0};
        aio_suspend(list, 1, &ts);
    }
    return aio_error(&cb);
}

aiocb make_cb(int fd, void *buf, size_t n, off_t off) {
    aiocb cb;
    std::memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = n;
    cb.aio_offset = off;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    return cb;
}

TEST(posix_library, contexts_are_added_when_full_and_aio_fsync_covers_every_one) {
    // Each test runs in its own process (gtest_discover_tests), so aio_init comes first here.
    aioinit init;
    std::memset(&init, 0, sizeof init);
    init.aio_num = 1024;
    aio_init(&init);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 1 << 16);
    constexpr int n = 2500;  // reads of an empty pipe: all stay in flight
    std::vector<aiocb> reads(n);
    std::vector<char> bytes(n, 0);
    for (int i = 0; i < n; ++i) {
        reads[i] = make_cb(p[0], &bytes[i], 1, 0);
        ASSERT_EQ(aio_read(&reads[i]), 0) << i << ": " << std::strerror(errno);
    }
    EXPECT_GE(fileaio_posix_context_count(), 3u) << "1024 requests per context";
    fileaio::test::temp_dir dir;
    int fd = fileaio::test::open_file(dir.path() + "/f", O_RDWR | O_CREAT | O_TRUNC);
    ASSERT_GE(fd, 0);
    std::vector<char> data(4096, 'w');
    aiocb w = make_cb(fd, data.data(), data.size(), 0);
    ASSERT_EQ(aio_write(&w), 0);
    aiocb s = make_cb(fd, nullptr, 0, 0);
    ASSERT_EQ(aio_fsync(O_SYNC, &s), 0);
    EXPECT_EQ(wait_done(s), 0);
    EXPECT_EQ(aio_return(&s), 0);
    EXPECT_EQ(wait_done(w), 0);
    EXPECT_EQ(aio_return(&w), 4096);
    std::vector<char> fill(n, 'r');
    ASSERT_EQ(write(p[1], fill.data(), fill.size()), n);
    int done = 0;
    for (int i = 0; i < n; ++i) {
        if (wait_done(reads[i]) == 0 && aio_return(&reads[i]) == 1 && bytes[i] == 'r') ++done;
    }
    EXPECT_EQ(done, n);
    close(fd);
    close(p[0]);
    close(p[1]);
}

TEST(posix_library, threads_submitting_suspending_and_cancelling_at_once_lose_nothing) {
    fileaio::test::temp_dir dir;
    constexpr int blocks = 256, blk = 4096;
    std::string path = dir.make_file("data", uint64_t{blocks} * blk);
    int fd = fileaio::test::open_file(path, O_RDONLY);
    ASSERT_GE(fd, 0);
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0}, canceled{0}, completed{0};
    std::thread canceller([&] {
        while (!stop.load()) {
            int r = aio_cancel(fd, nullptr);
            if (r != AIO_CANCELED && r != AIO_NOTCANCELED && r != AIO_ALLDONE) bad++;
        }
    });
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t) {
        workers.emplace_back([&, t] {
            constexpr int depth = 16;
            std::vector<std::vector<unsigned char>> bufs(depth, std::vector<unsigned char>(blk));
            std::vector<aiocb> cbs(depth);
            for (int round = 0; round < 40; ++round) {
                for (int i = 0; i < depth; ++i) {
                    int b = (t * 97 + round * depth + i) % blocks;
                    cbs[i] = make_cb(fd, bufs[i].data(), blk, off_t{b} * blk);
                    if (aio_read(&cbs[i]) != 0) bad++;
                }
                for (int i = 0; i < depth; ++i) {
                    int e = wait_done(cbs[i]);
                    ssize_t r = aio_return(&cbs[i]);
                    if (e == ECANCELED && r == -1) {
                        canceled++;
                        continue;
                    }
                    if (e != 0 || r != blk) {
                        bad++;
                        continue;
                    }
                    off_t off = cbs[i].aio_offset;
                    for (int k = 0; k < blk; k += 512)
                        if (bufs[i][k] != pattern_byte(uint64_t(off) + k)) {
                            bad++;
                            break;
                        }
                    completed++;
                }
            }
        });
    }
    for (auto &w : workers) w.join();
    stop = true;
    canceller.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(completed.load() + canceled.load(), 3 * 40 * 16);
    EXPECT_GT(fileaio_posix_submitted(), 0u);
    close(fd);
}

// A request on one context must be published while the program keeps submitting reads that
// finish inside their submits on another context (and never calls aio_suspend). The completion
// thread of the first context must not take those submits for "the program reaps for itself":
// they reap only the context they were submitted to.
TEST(posix_library, a_completion_on_one_context_is_published_while_cached_reads_finish_inline_on_another) {
    aioinit init;
    std::memset(&init, 0, sizeof init);
    init.aio_num = 1024;  // contexts of 1024 requests: the pipe reads below fill the first
    aio_init(&init);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    constexpr int n = 1024 - 64;  // the first context's room (64 kept for aio_fsync)
    std::vector<aiocb> reads(n);
    std::vector<char> bytes(n, 0);
    for (int i = 0; i < n; ++i) {
        reads[i] = make_cb(p[0], &bytes[i], 1, 0);
        ASSERT_EQ(aio_read(&reads[i]), 0) << i << ": " << std::strerror(errno);
    }
    fileaio::test::temp_dir dir;
    constexpr int blk = 4096;
    std::string path = dir.make_file("data", uint64_t{64} * blk);
    int fd = fileaio::test::open_file(path, O_RDONLY);
    ASSERT_GE(fd, 0);
    std::vector<unsigned char> buf(blk);
    // Into the page cache, and the second context is made.
    aiocb c = make_cb(fd, buf.data(), blk, 0);
    ASSERT_EQ(aio_read(&c), 0);
    ASSERT_EQ(wait_done(c), 0);
    ASSERT_EQ(aio_return(&c), blk);
    for (int b = 1; b < 64; ++b) ASSERT_EQ(pread(fd, buf.data(), blk, off_t{b} * blk), blk);
    ASSERT_GE(fileaio_posix_context_count(), 2u);
    std::vector<char> fill(n, 'r');
    ASSERT_EQ(write(p[1], fill.data(), fill.size()), n);
    // The program polls aio_error only and keeps 16 cached reads going (fio's pattern without
    // aio_suspend); the pipe reads must finish meanwhile (10 s is a hang, not a timing).
    constexpr int depth = 16;
    std::vector<std::vector<unsigned char>> bufs(depth, std::vector<unsigned char>(blk));
    std::vector<aiocb> cached(depth);
    std::vector<bool> busy(depth, false);
    int seen = 0;
    timespec t0{};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long round = 0; seen < n; ++round) {
        const int k = static_cast<int>(round % depth);
        if (busy[k]) {
            if (aio_error(&cached[k]) == EINPROGRESS) continue;
            ASSERT_EQ(aio_return(&cached[k]), blk);
        }
        cached[k] = make_cb(fd, bufs[k].data(), blk, off_t{round % 64} * blk);
        ASSERT_EQ(aio_read(&cached[k]), 0);
        busy[k] = true;
        while (seen < n && aio_error(&reads[seen]) != EINPROGRESS) ++seen;
        timespec t{};
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10) break;
    }
    EXPECT_EQ(seen, n) << "pipe reads on the first context left unpublished while cached reads finished inline on the second";
    for (int k = 0; k < depth; ++k) {
        if (busy[k]) {
            EXPECT_EQ(wait_done(cached[k]), 0);
        }
    }
    int done = 0;
    for (int i = 0; i < n; ++i)
        if (wait_done(reads[i]) == 0 && aio_return(&reads[i]) == 1 && bytes[i] == 'r') ++done;
    EXPECT_EQ(done, n);
    close(fd);
    close(p[0]);
    close(p[1]);
}

// Once aio_return took its result the aiocb is the program's again, also when that happens
// before aio_read returned: here a SIGEV_SIGNAL handler on the submitting thread (a cached read
// published inside the submit is notified there) takes the result and releases the page the
// aiocb lives on. aio_read must not look at the aiocb after that (it did not before it reaped
// inside its submit; glibc does not either).
aiocb *volatile g_released_cb = nullptr;
void *volatile g_released_page = nullptr;
volatile sig_atomic_t g_released = 0;
void release_on_signal(int) {
    aiocb *cb = g_released_cb;
    if (cb == nullptr || aio_error(cb) == EINPROGRESS) return;
    g_released_cb = nullptr;
    if (aio_return(cb) == 4096) g_released = 1;
    munmap(g_released_page, 4096);
}

TEST(posix_library, aio_read_does_not_touch_an_aiocb_released_by_a_notification_that_ran_inside_it) {
    fileaio::test::temp_dir dir;
    std::string path = dir.make_file("data", 4096);
    int fd = fileaio::test::open_file(path, O_RDONLY);
    ASSERT_GE(fd, 0);
    static char buf[4096];
    ASSERT_EQ(pread(fd, buf, sizeof buf, 0), 4096);  // in the page cache: io_uring reads it inside the submit
    struct sigaction sa, old;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = release_on_signal;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    int inside = 0;
    for (int round = 0; round < 64; ++round) {
        void *page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(page, MAP_FAILED);
        auto *cb = new (page) aiocb(make_cb(fd, buf, sizeof buf, 0));
        cb->aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb->aio_sigevent.sigev_signo = SIGUSR1;
        g_released = 0;
        g_released_page = page;
        g_released_cb = cb;
        ASSERT_EQ(aio_read(cb), 0);  // the page may be gone now: no access to cb below
        if (g_released) ++inside;
        timespec t0{}, t{};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (!g_released) {  // notified later (by the completion thread): wait for it (10 s: a hang)
            clock_gettime(CLOCK_MONOTONIC, &t);
            ASSERT_LT(t.tv_sec - t0.tv_sec, 10) << "no notification";
        }
    }
    sigaction(SIGUSR1, &old, nullptr);
    std::printf("%d of 64 released inside aio_read\n", inside);
    close(fd);
}

}  // namespace
