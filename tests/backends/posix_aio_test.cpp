// Regression tests for each way the original POSIX AIO implementation broke (issue 4), run on the
// posix_aio backend, plus what is specific to it: vectored requests served as chains of aio
// operations, and glibc refusing a request (EAGAIN) part way through a batch.
#include <aio.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/backend_resources.hpp"
#include "fileaio/fileaio.h"
#include "support/backend_fixture.hpp"

namespace fileaio::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t block = 4096;

using posix_aio = backend_fixture<FILEAIO_BACKEND_POSIX_AIO>;

double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

long elapsed_ms(steady_clock::time_point since) {
    return static_cast<long>(std::chrono::duration_cast<milliseconds>(steady_clock::now() - since).count());
}

// The original recomputed the remaining timeout in the wrong units after each partial wakeup.
TEST_F(posix_aio, a_timed_wait_ends_at_its_deadline_after_partial_completions) {
    constexpr size_t n = 3;
    constexpr uint32_t timeout_ms = 250;
    fileaio_ctx *c = make_ctx(8);
    auto r = make_reqs(n);
    int fd = pattern_file("f", n * block);
    std::vector<char> buf(n * block);
    auto t0 = steady_clock::now();
    for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block, block,
                                           nullptr),
                  0);
        ASSERT_EQ(fileaio_ctx_submit(c, &r[i], 1, nullptr), 0);
    }
    fileaio_req *out[n + 1];
    size_t count = 0;
    int rc = fileaio_ctx_wait(c, n + 1, timeout_ms, out, n + 1, &count);  // one more than can ever complete
    long took = elapsed_ms(t0);
    EXPECT_EQ(rc, FILEAIO_E_TIMEOUT);
    EXPECT_EQ(count, n) << "the partial completions were not handed back";
    EXPECT_GE(took, static_cast<long>(timeout_ms));
    EXPECT_LT(took, static_cast<long>(timeout_ms) + 1000) << "the deadline moved";
}

// The original's cancel waited for an acknowledgement from the waiter, forever when none waited.
TEST_F(posix_aio, cancel_with_nobody_waiting_returns_at_once_and_really_stops_queued_requests) {
    constexpr size_t n = 64;
    constexpr size_t chunk = 256 * 1024;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    int fd = pattern_file("f", 0);  // one fd: glibc runs one request at a time on it, the rest queue
    std::vector<char> buf(n * chunk, 'c');
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * chunk), buf.data() + i * chunk, chunk,
                                            nullptr),
                  0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    std::vector<int> crc(n);
    size_t stopped = 0;
    for (size_t i = n; i-- > 0;) {
        auto t0 = steady_clock::now();
        crc[i] = fileaio_req_cancel(r[i]);
        EXPECT_LT(elapsed_ms(t0), 500) << "cancel blocked";
        ASSERT_TRUE(crc[i] == 0 || crc[i] == FILEAIO_E_COMPLETED || crc[i] == FILEAIO_E_IN_PROGRESS)
            << fileaio_errname(crc[i]);
        if (crc[i] == 0) ++stopped;
    }
    EXPECT_GE(stopped, 1u) << "the newest of 64 writes on one fd was still queued in glibc";
    reap(c, n - stopped);
    for (size_t i = 0; i < n; ++i) {
        if (crc[i] == 0) {
            EXPECT_EQ(fileaio_req_get_result(r[i], nullptr), FILEAIO_E_CANCELED);
        }
    }
}

// The original also reaped a cancelled request as a normal completion: reported twice, and the
// pending count went below zero.
TEST_F(posix_aio, a_cancelled_request_is_never_reaped_and_pending_never_goes_below_zero) {
    constexpr size_t n = 32;
    constexpr size_t chunk = 128 * 1024;
    fileaio_ctx *c = make_ctx(n, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    auto r = make_reqs(n);
    int fd = pattern_file("f", 0);
    std::vector<char> buf(n * chunk, 'd');
    size_t stopped_total = 0;
    for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * chunk), buf.data() + i * chunk,
                                                chunk, nullptr),
                      0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        std::vector<int> crc(n);
        size_t stopped = 0;
        for (size_t i = n; i-- > 0;)
            if ((crc[i] = fileaio_req_cancel(r[i])) == 0) ++stopped;
        stopped_total += stopped;
        auto done = reap(c, n - stopped);
        std::map<fileaio_req *, int> seen;
        for (fileaio_req *q : done) ++seen[q];
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(seen[r[i]], crc[i] == 0 ? 0 : 1) << "request " << i;
        // Nothing more ever comes back, and the books balance.
        fileaio_req *out[n];
        size_t count = 0;
        EXPECT_EQ(fileaio_ctx_wait(c, 1, 20, out, n, &count), FILEAIO_E_TIMEOUT);
        EXPECT_EQ(count, 0u);
        fileaio_stats st{};
        fileaio_ctx_get_stats(c, &st);
        EXPECT_EQ(st.pending, 0u);
        EXPECT_EQ(st.submitted, st.completed + st.canceled);
    }
    EXPECT_GE(stopped_total, 1u);
}

// The original lost a wakeup that arrived while another thread submitted.
TEST_F(posix_aio, a_wakeup_coinciding_with_a_submit_is_never_lost) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    auto r = make_reqs(1);
    int fd = pattern_file("f", block);
    std::vector<char> buf(block);
    for (int i = 0; i < 200; ++i) {
        ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, buf.data(), block, nullptr), 0);
        std::atomic<int> go{0};
        std::thread submitter([&] {
            while (go.load() == 0) {
            }
            EXPECT_EQ(fileaio_ctx_submit(c, &r[0], 1, nullptr), 0);
        });
        std::thread waker([&] {
            while (go.load() == 0) {
            }
            EXPECT_EQ(fileaio_ctx_wakeup(c), 0);
        });
        go = 1;
        submitter.join();
        waker.join();
        // min 2 can never be met by the one read: only the wakeup ends this wait in time.
        fileaio_req *out[2];
        size_t count = 0;
        ASSERT_EQ(fileaio_ctx_wait(c, 2, 5000, out, 2, &count), FILEAIO_E_INTERRUPTED) << "iteration " << i;
        if (count == 0) reap(c, 1);
    }
}

// The original could lose a wakeup that came between checking its flags and going to sleep.
TEST_F(posix_aio, a_wakeup_racing_the_start_of_a_wait_is_never_lost) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    std::mt19937 rng(4);
    for (int i = 0; i < 300; ++i) {
        auto result = std::async(std::launch::async, [c] {
            fileaio_req *out[1];
            size_t count = 0;
            return fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count);
        });
        auto spin_until = steady_clock::now() + std::chrono::microseconds(rng() % 200);
        while (steady_clock::now() < spin_until) {
        }
        ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
        if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
            ADD_FAILURE() << "wakeup lost in iteration " << i;
            fileaio_ctx_wakeup(c);  // let the waiter go so the test can end
            result.wait();
            return;
        }
        EXPECT_EQ(result.get(), FILEAIO_E_INTERRUPTED);
    }
}

// The original spun at 100% CPU in FILEAIO_CTX_WAIT_WITHOUT_PENDING, or refused min >= 1.
TEST_F(posix_aio, wait_without_pending_sleeps_for_any_min_without_spinning) {
    fileaio_ctx *c = make_ctx(8, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    fileaio_req *out[8];
    for (size_t min : {size_t{1}, size_t{3}, size_t{8}}) {
        size_t count = 9;
        double cpu0 = thread_cpu_ms();
        auto t0 = steady_clock::now();
        EXPECT_EQ(fileaio_ctx_wait(c, min, 200, out, 8, &count), FILEAIO_E_TIMEOUT) << "min " << min;
        EXPECT_GE(elapsed_ms(t0), 200);
        EXPECT_EQ(count, 0u);
        EXPECT_LT(thread_cpu_ms() - cpu0, 40.0) << "the waiter spun (min " << min << ")";
    }
    // And requests another thread submits meanwhile do end such a wait.
    auto r = make_reqs(3);
    int fd = pattern_file("f", 3 * block);
    std::vector<char> buf(3 * block);
    for (size_t i = 0; i < 3; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block, block,
                                           nullptr),
                  0);
    // Submitted once this thread sleeps in its wait (a wait of the submitter's own gets E_BUSY).
    std::thread submitter([&] {
        EXPECT_TRUE(wait_until_inside_wait(c)) << "the wait never started";
        EXPECT_EQ(fileaio_ctx_submit(c, r.data(), 3, nullptr), 0);
    });
    size_t got = 0;
    while (got < 3) {
        size_t count = 0;
        const int rc = fileaio_ctx_wait(c, 3 - got, long_timeout_ms, out + got, 8 - got, &count);
        got += count;
        if (rc == FILEAIO_E_BUSY) continue;  // the submitter's probe held the wait for an instant
        ASSERT_EQ(rc, 0);
    }
    submitter.join();
}

// glibc has no aio_readv: the backend chains one aio operation per piece. Odd sizes, empty
// elements, a split that does not match the one written, and end of file in the middle.
TEST_F(posix_aio, vectored_requests_run_as_chains_and_move_every_byte_once) {
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    int fd = pattern_file("f", 0);
    std::vector<std::vector<char>> pieces = {std::vector<char>(1), std::vector<char>(), std::vector<char>(4095),
                                             std::vector<char>(10000), std::vector<char>(), std::vector<char>(3)};
    std::vector<struct iovec> out_iov;
    size_t total = 0;
    for (auto &p : pieces) {
        for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<char>(pattern_byte(total + i, 9));
        out_iov.push_back({p.empty() ? nullptr : p.data(), p.size()});
        total += p.size();
    }
    ASSERT_EQ(fileaio_req_prepare_writev(r[0], fd, 100, out_iov.data(), static_cast<int>(out_iov.size()), nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_datasync(r[1], fd, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    auto done = reap(c, 2);
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[1], r[1]) << "the data sync came back before the chained write it must wait for";
    size_t moved = 0;
    ASSERT_EQ(fileaio_req_get_result(r[0], &moved), 0);
    EXPECT_EQ(moved, total);

    // Read it back split differently, with room past the end of the file.
    std::vector<char> a(7), b(8000), d(9000);
    struct iovec in_iov[3] = {{a.data(), a.size()}, {b.data(), b.size()}, {d.data(), d.size()}};
    ASSERT_EQ(fileaio_req_prepare_readv(r[0], fd, 100, in_iov, 3, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r[0], 1, nullptr), 0);
    reap(c, 1);
    ASSERT_EQ(fileaio_req_get_result(r[0], &moved), 0) << "end of file in the middle of a vector is success";
    EXPECT_EQ(moved, total);
    std::string got = std::string(a.begin(), a.end()) + std::string(b.begin(), b.end()) + std::string(d.begin(), d.end());
    for (size_t i = 0; i < total; ++i)
        ASSERT_EQ(static_cast<unsigned char>(got[i]), pattern_byte(i, 9)) << "byte " << i;
}

// glibc's aio_cancel of the first request queued on a descriptor, while that request waits for a
// thread, marks the next one runnable without putting it on glibc's run list: it and everything
// behind it on that descriptor never run (rt/aio_misc.c, __aio_remove_request). The backend hands
// such requests in again. Cancelling the oldest request right after submitting hits that window.
TEST_F(posix_aio, cancelling_the_oldest_request_of_a_descriptor_never_strands_the_ones_behind_it) {
    constexpr size_t n = 16;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    int fd = pattern_file("f", n * block);
    std::vector<char> buf(n * block);
    for (int round = 0; round < 300; ++round) {
        for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block, block,
                                               nullptr),
                      0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        size_t stopped = 0;
        for (size_t i = 0; i < 2; ++i)  // oldest first: the head of glibc's queue for this fd
            if (fileaio_req_cancel(r[i]) == 0) ++stopped;
        std::vector<fileaio_req *> out(n);
        size_t got = 0;
        auto until = steady_clock::now() + std::chrono::seconds(5);
        while (got < n - stopped && steady_clock::now() < until) {
            size_t count = 0;
            fileaio_ctx_wait(c, n - stopped - got, 200, out.data() + got, n - got, &count);
            got += count;
        }
        ASSERT_EQ(got, n - stopped) << "requests stranded behind a cancelled one (round " << round << ")";
    }
}

// Queues an aio_fsync of fd in glibc and waits (within the liveness bound) until it is done.
bool glibc_queue_drained(int fd) {
    aiocb cb{};
    cb.aio_fildes = fd;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    if (::aio_fsync(O_SYNC, &cb) != 0) return false;
    const aiocb *list[] = {&cb};
    const timespec bound{long_timeout_ms / 1000, 0};
    while (::aio_error(&cb) == EINPROGRESS)
        if (::aio_suspend(list, 1, &bound) != 0 && errno != EINTR) return false;
    return ::aio_return(&cb) == 0;
}

// glibc fails aio_write with EAGAIN when it can start no thread. The original then reported a
// successful 0-byte transfer, and handed the rest of a rolled-back batch to the kernel anyway.
// Run in a fresh process (gtest's threadsafe death-test style re-executes this test alone), so
// that glibc has no AIO thread yet; RLIMIT_NPROC then keeps it from starting one.
int refused_batch_child(const std::string &path) {
    auto fail = [](const char *what) {
        std::fprintf(stderr, "FAIL: %s\n", what);
        return 1;
    };
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail("open");
    // This process ends in std::exit, which skips the fixture's cleanup, and as nobody it could
    // not remove root's directory anyway: remove the file and its world-writable directory now
    // (the descriptor keeps the file), so the test leaves nothing behind.
    if (::unlink(path.c_str()) != 0 || ::rmdir(path.substr(0, path.rfind('/')).c_str()) != 0)
        return fail("remove the temp dir");
    fileaio_ctx *c = nullptr;
    if (fileaio_ctx_create_ex(&c, 8, 0, FILEAIO_BACKEND_POSIX_AIO) != 0) return fail("create");
    constexpr size_t n = 3;
    fileaio_req *r[n];
    std::vector<char> buf(n * block, 'Z');
    for (size_t i = 0; i < n; ++i) {
        if (fileaio_req_create(&r[i]) != 0) return fail("req_create");
        if (fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block, block,
                                      nullptr) != 0)
            return fail("prepare");
    }
    // Root is exempt from RLIMIT_NPROC: become nobody first (the file is already open).
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) return fail("setuid");
    rlimit old{};
    getrlimit(RLIMIT_NPROC, &old);
    rlimit low = old;
    low.rlim_cur = 1;
    if (setrlimit(RLIMIT_NPROC, &low) != 0) return fail("setrlimit");

    size_t submitted = 99;
    int rc = fileaio_ctx_submit(c, r, n, &submitted);
    if (rc != FILEAIO_E_INSUFFICIENT_RESOURCES) {
        std::fprintf(stderr, "FAIL: submit gave %s\n", fileaio_errname(rc));
        return 1;
    }
    if (submitted != 0) return fail("part of the batch was taken");
    for (fileaio_req *q : r)
        if (fileaio_req_get_state(q) != FILEAIO_REQ_PREPARED) return fail("a refused request is not PREPARED");
    if (setrlimit(RLIMIT_NPROC, &old) != 0) return fail("restore rlimit");
    // glibc runs the requests of one descriptor one after another, in the order they came: once
    // an aio_fsync of fd queued now is done, any write that did reach glibc has landed.
    if (!glibc_queue_drained(fd)) return fail("aio_fsync barrier");
    std::vector<char> check(n * block);
    if (::pread(fd, check.data(), check.size(), 0) != static_cast<ssize_t>(check.size())) return fail("pread");
    for (size_t i = 0; i < check.size(); ++i)
        if (static_cast<unsigned char>(check[i]) != pattern_byte(i)) return fail("a refused write reached the file");

    if (fileaio_ctx_submit(c, r, n, &submitted) != 0 || submitted != n) return fail("submit after restoring");
    fileaio_req *out[n];
    size_t got = 0;
    while (got < n) {
        size_t count = 0;
        if (fileaio_ctx_wait(c, n - got, long_timeout_ms, out + got, n - got, &count) != 0) return fail("wait");
        got += count;
    }
    for (fileaio_req *q : r) {
        size_t moved = 0;
        if (fileaio_req_get_result(q, &moved) != 0 || moved != block) return fail("the retried writes did not complete");
    }
    if (::pread(fd, check.data(), check.size(), 0) != static_cast<ssize_t>(check.size())) return fail("pread");
    if (std::string(check.begin(), check.end()) != std::string(n * block, 'Z')) return fail("the data did not arrive");
    for (fileaio_req *q : r) fileaio_req_destroy(q);
    if (fileaio_ctx_destroy(c) != 0) return fail("destroy");
    return 0;
}

// glibc's AIO is one per process: the records aio_suspend registers on, and the queue of each
// descriptor, are shared by every context. Two contexts with vectored requests (aiocbs started
// again while the other context slept in aio_suspend) crashed glibc within seconds, and a cancel
// in one context stranded the other's requests on the same descriptor. Three contexts, one
// descriptor, chains, plain reads and a canceller each: every request reported exactly once,
// every byte read right, and nothing left behind.
TEST_F(posix_aio, contexts_sharing_glibc_and_a_descriptor_with_chains_and_cancels_lose_nothing) {
    constexpr int contexts = 3;
    constexpr size_t reqs_per_ctx = 8;
    constexpr uint64_t file_size = 1 << 20;
    const int fd = pattern_file("shared", file_size);
    struct lane {
        fileaio_ctx *ctx = nullptr;
        std::vector<fileaio_req *> reqs;
        std::vector<std::vector<unsigned char>> bufs;
        std::vector<std::vector<iovec>> iovs;
        std::vector<uint64_t> offsets;
        std::unique_ptr<std::atomic<int>[]> in_flight;  // 1 from submit until reported
        uint64_t submitted = 0, completed = 0, bad_bytes = 0, duplicates = 0, errors = 0;
        std::atomic<uint64_t> cancelled{0};
    };
    std::vector<lane> lanes(contexts);
    for (int l = 0; l < contexts; ++l) {
        lane &ln = lanes[static_cast<size_t>(l)];
        ln.ctx = make_ctx(64);
        ASSERT_NE(ln.ctx, nullptr);
        ln.reqs = make_reqs(reqs_per_ctx);
        ln.bufs.assign(reqs_per_ctx, std::vector<unsigned char>(block));
        ln.iovs.assign(reqs_per_ctx, std::vector<iovec>(4));
        ln.offsets.assign(reqs_per_ctx, 0);
        ln.in_flight = std::make_unique<std::atomic<int>[]>(reqs_per_ctx);
    }
    std::atomic<bool> stop{false};
    auto run = [&](lane &ln, unsigned seed) {
        std::mt19937 rng(seed);
        auto submit = [&](size_t i) {
            ln.offsets[i] = (rng() % (file_size / block)) * block;
            if (i % 2 == 0) {  // a chain of four pieces
                for (size_t k = 0; k < 4; ++k) ln.iovs[i][k] = {ln.bufs[i].data() + k * 1024, 1024};
                fileaio_req_prepare_readv(ln.reqs[i], fd, static_cast<int64_t>(ln.offsets[i]), ln.iovs[i].data(), 4,
                                          reinterpret_cast<void *>(i));
            } else {
                fileaio_req_prepare_read(ln.reqs[i], fd, static_cast<int64_t>(ln.offsets[i]), ln.bufs[i].data(), block,
                                         reinterpret_cast<void *>(i));
            }
            ln.in_flight[i].store(1);
            size_t n = 0;
            if (fileaio_ctx_submit(ln.ctx, &ln.reqs[i], 1, &n) == 0 && n == 1) {
                ++ln.submitted;
            } else {
                ln.in_flight[i].store(0);
                ++ln.errors;
            }
        };
        for (size_t i = 0; i < reqs_per_ctx; ++i) submit(i);
        std::vector<fileaio_req *> done(reqs_per_ctx);
        auto deadline = steady_clock::now() + std::chrono::seconds(20);
        while (steady_clock::now() < deadline) {
            const bool stopping = stop.load();
            if (stopping && pending(ln.ctx) == 0) break;
            size_t count = 0;
            fileaio_ctx_wait(ln.ctx, 1 + rng() % 3, 20, done.data(), done.size(), &count);
            for (size_t j = 0; j < count; ++j) {
                const auto i = reinterpret_cast<size_t>(fileaio_req_get_user(done[j]));
                if (ln.in_flight[i].exchange(0) != 1) ++ln.duplicates;
                ++ln.completed;
                size_t moved = 0;
                if (fileaio_req_get_result(done[j], &moved) != 0 || moved != block) {
                    ++ln.errors;
                } else {
                    for (size_t b = 0; b < block; ++b)
                        if (ln.bufs[i][b] != pattern_byte(ln.offsets[i] + b)) ++ln.bad_bytes;
                }
                if (!stopping) submit(i);
            }
            for (size_t i = 0; i < reqs_per_ctx; ++i) {  // the ones the canceller stopped
                if (ln.in_flight[i].load() == 2) {
                    ln.in_flight[i].store(0);
                    if (!stopping) submit(i);
                }
            }
        }
    };
    auto cancel = [&](lane &ln, unsigned seed) {
        std::mt19937 rng(seed);
        while (!stop.load()) {
            const size_t i = rng() % reqs_per_ctx;
            int expected = 1;
            // Only a request in flight, and it is marked stopped only when cancel says so.
            if (ln.in_flight[i].load() == 1 && fileaio_req_cancel(ln.reqs[i]) == 0) {
                if (!ln.in_flight[i].compare_exchange_strong(expected, 2)) ++ln.duplicates;
                ln.cancelled.fetch_add(1);
            }
            // The load's shape (how often cancels strike), not an ordering: any interleaving will do.
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    };
    std::vector<std::thread> threads;
    for (int l = 0; l < contexts; ++l) {
        threads.emplace_back(run, std::ref(lanes[static_cast<size_t>(l)]), 11u + static_cast<unsigned>(l));
        threads.emplace_back(cancel, std::ref(lanes[static_cast<size_t>(l)]), 101u + static_cast<unsigned>(l));
    }
    std::this_thread::sleep_for(milliseconds(1500));  // how long the load runs
    stop.store(true);
    for (auto &t : threads) t.join();
    uint64_t total = 0;
    for (lane &ln : lanes) {
        EXPECT_EQ(pending(ln.ctx), 0u) << "requests lost in glibc";
        EXPECT_EQ(ln.duplicates, 0u);
        EXPECT_EQ(ln.bad_bytes, 0u);
        EXPECT_EQ(ln.errors, 0u);
        EXPECT_EQ(ln.submitted, ln.completed + ln.cancelled.load());
        total += ln.completed;
    }
    std::printf("%llu requests completed across %d contexts\n", static_cast<unsigned long long>(total), contexts);
}

TEST_F(posix_aio, a_batch_glibc_refuses_part_way_is_insufficient_resources_and_the_rest_never_reaches_it) {
    std::string path = dir_.make_file("f", 3 * block);
    ::chmod(dir_.path().c_str(), 0777);  // nobody must be able to reach it after dropping root
    ::chmod(path.c_str(), 0666);
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(std::exit(refused_batch_child(path)), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace fileaio::test
