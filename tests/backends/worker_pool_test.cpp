// The worker pool (src/core/worker_pool) on the backends that use it, thread_pool and linux_aio:
// issue 11's "short calls on a loop thread". A submit does its own call's work and nothing else:
// it never starts a thread (the pool's staffer does) and never serves another thread's cached
// reads. Both are seen from inside the process through support/call_probe (which thread called
// pthread_create; preadv2(RWF_NOWAIT) reads held in the call, deterministically).
// Issue 12's lanes: buffered writes to one regular file run on one worker at a time, back to back
// (seen through pwritev2, held and attributed to threads the same way).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/backend_resources.hpp"
#include "support/call_probe.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;
// A liveness bound: what must not hang gets this long, and never needs more than a fraction of it.
constexpr auto liveness = std::chrono::seconds(10);

class worker_pool_test : public ::testing::TestWithParam<fileaio_backend>, protected backend_resources {
protected:
    void SetUp() override {
        std::string why;
        if (!backend_available(GetParam(), &why)) GTEST_SKIP() << why;
        if (!call_probe::available()) GTEST_SKIP() << "call_probe is not built under a sanitizer";
    }
    void TearDown() override {
        call_probe::release_nowait_reads();  // never leave a thread held, whatever failed
        call_probe::release_writes();
        release_all();
    }
};

// Buffered writes go to the pool on both backends (linux_aio never gives them to the kernel).
// With one worker at the start and eight writes, the pool must grow: the staffer starts the
// workers, never the submitting thread (before the shared pool, linux_aio's submit did).
TEST_P(worker_pool_test, a_submit_that_needs_more_workers_starts_no_thread_itself) {
    constexpr size_t n = 8;
    fileaio_ctx *c = make_ctx_on(GetParam(), 64, 0, n);
    ASSERT_NE(c, nullptr);
    const int fd = pattern_file("w", n * block);
    ASSERT_GE(fd, 0);
    std::vector<char> buf(n * block, 'w');
    auto r = make_reqs(n);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), &buf[i * block], block, nullptr), 0);
    const uint64_t before = call_probe::threads_started_here();
    std::thread([] {}).join();  // the probe sees this thread's pthread_create calls
    ASSERT_EQ(call_probe::threads_started_here(), before + 1) << "call_probe does not see pthread_create";
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    EXPECT_EQ(call_probe::threads_started_here(), before + 1) << "submit started threads itself";
    ASSERT_EQ(reap(c, n).size(), n);
    for (size_t i = 0; i < n; ++i) expect_done(r[i], 0, block, "buffered write");
}

// Thread B submits 64 cached reads and is held (with whichever worker helps it) inside the first
// preadv2(RWF_NOWAIT) of them, so that most of its reads sit on the shared list. Thread A then
// submits 8 cached reads of its own: its submit must return (before the shared pool, linux_aio's
// served the whole shared list, B's reads too, and was held with them), and no B read may have
// been served on A's thread.
TEST_P(worker_pool_test, a_submit_serves_its_own_cached_reads_and_never_another_threads) {
    constexpr size_t nb = 64;
    constexpr size_t na = 8;
    fileaio_ctx *c = make_ctx_on(GetParam(), 4 * nb, 0, 8);
    ASSERT_NE(c, nullptr);
    const int fd = pattern_file("r", (nb + na) * block);
    ASSERT_GE(fd, 0);
    // Idle workers to help: a few writes grow the pool, and they wait for work once these are done.
    {
        constexpr size_t nw = 8;
        std::vector<char> wbuf(block, 'x');
        const int wfd = pattern_file("grow", block);
        auto w = make_reqs(nw);
        for (size_t i = 0; i < nw; ++i)
            ASSERT_EQ(fileaio_req_prepare_write(w[i], wfd, 0, wbuf.data(), block, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, w.data(), nw, nullptr), 0);
        ASSERT_EQ(reap(c, nw).size(), nw);
    }
    std::vector<char> bbuf(nb * block);
    std::vector<char> abuf(na * block);
    auto rb = make_reqs(nb);
    auto ra = make_reqs(na);
    for (size_t i = 0; i < nb; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(rb[i], fd, static_cast<int64_t>(i * block), &bbuf[i * block], block, nullptr), 0);
    for (size_t i = 0; i < na; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(ra[i], fd, static_cast<int64_t>((nb + i) * block), &abuf[i * block], block,
                                           nullptr),
                  0);

    call_probe::hold_nowait_reads(bbuf.data(), bbuf.size());
    std::thread b([&] { EXPECT_EQ(fileaio_ctx_submit(c, rb.data(), nb, nullptr), 0); });
    const bool b_held = call_probe::wait_held(1, liveness);

    std::mutex m;
    std::condition_variable cv;
    bool returned = false;
    pid_t a_tid = 0;
    std::thread a([&] {
        const int rc = fileaio_ctx_submit(c, ra.data(), na, nullptr);
        std::lock_guard lock(m);
        EXPECT_EQ(rc, 0);
        a_tid = static_cast<pid_t>(gettid());
        returned = true;
        cv.notify_all();
    });
    bool in_time;
    {
        std::unique_lock lock(m);
        in_time = b_held && cv.wait_for(lock, liveness, [&] { return returned; });
    }
    call_probe::release_nowait_reads();
    a.join();
    b.join();
    ASSERT_TRUE(b_held) << "no cached read of B's reached preadv2";
    EXPECT_TRUE(in_time) << "A's submit was held with B's reads: it served another thread's batch";
    const std::vector<pid_t> readers = call_probe::nowait_readers();
    EXPECT_EQ(std::count(readers.begin(), readers.end(), a_tid), 0) << "A's submit served one of B's reads";

    ASSERT_EQ(reap(c, nb + na).size(), nb + na);
    for (size_t i = 0; i < nb; ++i) expect_done(rb[i], 0, block, "B's read");
    for (size_t i = 0; i < na; ++i) expect_done(ra[i], 0, block, "A's read");
    EXPECT_TRUE(read_back(fd, bbuf.size(), 0) == std::vector<unsigned char>(bbuf.begin(), bbuf.end()));
    EXPECT_TRUE(read_back(fd, abuf.size(), static_cast<off_t>(nb * block)) ==
                std::vector<unsigned char>(abuf.begin(), abuf.end()));
}

// Eight buffered writes to one file: the first is held inside pwritev2 on the worker that took it.
// A pool that hands each write to a worker of its own runs the others beside it, on other threads
// (each then held too; the test gives them the time to get there, but asserts only which threads
// wrote). On a lane the others wait in its backlog and the same worker writes them all, one after
// the other, once the first is let go.
TEST_P(worker_pool_test, buffered_writes_to_one_file_run_on_one_worker_back_to_back) {
    constexpr size_t n = 8;
    fileaio_ctx *c = make_ctx_on(GetParam(), 64, 0, n);
    ASSERT_NE(c, nullptr);
    const int fd = pattern_file("lane", n * block);
    ASSERT_GE(fd, 0);
    std::vector<char> buf(n * block);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>('a' + (i / block));
    auto r = make_reqs(n);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), &buf[i * block], block, nullptr), 0);
    call_probe::hold_writes(buf.data(), buf.size());
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    const bool first_held = call_probe::wait_writes_held(1, liveness);
    // Enough for a pool to start a second worker on the next write; a lane never does.
    (void)call_probe::wait_writes_held(2, std::chrono::milliseconds(1000));
    call_probe::release_writes();
    ASSERT_TRUE(first_held) << "no write reached pwritev2";
    ASSERT_EQ(reap(c, n).size(), n);
    for (size_t i = 0; i < n; ++i) expect_done(r[i], 0, block, "buffered write");
    const std::vector<pid_t> w = call_probe::writers();
    ASSERT_EQ(w.size(), n) << "one pwritev2 per write";
    EXPECT_EQ(static_cast<size_t>(std::count(w.begin(), w.end(), w[0])), n)
        << "the writes to one file ran on more than one thread at once";
    EXPECT_TRUE(read_back(fd, buf.size(), 0) == std::vector<unsigned char>(buf.begin(), buf.end()));
}

// A lane serializes one file only: while its worker is held in a write, a write to another file
// gets a worker of its own.
TEST_P(worker_pool_test, a_held_lane_does_not_hold_back_writes_to_another_file) {
    constexpr size_t n = 4;
    fileaio_ctx *c = make_ctx_on(GetParam(), 64, 0, 4);
    ASSERT_NE(c, nullptr);
    const int f = pattern_file("f", n * block);
    const int g = pattern_file("g", block);
    ASSERT_GE(f, 0);
    ASSERT_GE(g, 0);
    std::vector<char> buf((n + 1) * block, 'z');
    auto r = make_reqs(n + 1);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], f, static_cast<int64_t>(i * block), &buf[i * block], block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_write(r[n], g, 0, &buf[n * block], block, nullptr), 0);
    call_probe::hold_writes(buf.data(), buf.size());
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    const bool f_held = call_probe::wait_writes_held(1, liveness);
    ASSERT_EQ(fileaio_ctx_submit(c, &r[n], 1, nullptr), 0);
    const bool g_held = call_probe::wait_writes_held(2, liveness);
    call_probe::release_writes();
    ASSERT_TRUE(f_held) << "no write reached pwritev2";
    EXPECT_TRUE(g_held) << "the write to another file waited behind the held lane";
    ASSERT_EQ(reap(c, n + 1).size(), n + 1);
    for (size_t i = 0; i <= n; ++i) expect_done(r[i], 0, block, "buffered write");
}

// With one worker, held in a write to file G: writes F1..F4 to file F and a flush of F queue up
// (F1 as the head of F's lane in the FIFO, F2..F4 on its backlog, the flush in the FIFO).
// Cancelling the head F1 and the backlog's F3 stops both (0, nothing written); F2 takes F1's place,
// so F2 and F4 still run, and the flush is reported after them.
TEST_P(worker_pool_test, cancel_takes_writes_off_a_lane_and_the_rest_still_run_before_the_flush) {
    fileaio_ctx *c = make_ctx_on(GetParam(), 64, 0, 1);
    ASSERT_NE(c, nullptr);
    const int f = pattern_file("f", 4 * block);
    const int g = pattern_file("g", block);
    ASSERT_GE(f, 0);
    ASSERT_GE(g, 0);
    const std::vector<unsigned char> before = read_back(f, 4 * block, 0);
    std::vector<char> gbuf(block, 'g');
    std::vector<char> fbuf(4 * block, 'f');
    auto gw = make_reqs(1);
    auto fw = make_reqs(5);
    ASSERT_EQ(fileaio_req_prepare_write(gw[0], g, 0, gbuf.data(), block, nullptr), 0);
    for (size_t i = 0; i < 4; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(fw[i], f, static_cast<int64_t>(i * block), &fbuf[i * block], block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(fw[4], f, nullptr), 0);
    call_probe::hold_writes(gbuf.data(), gbuf.size());
    ASSERT_EQ(fileaio_ctx_submit(c, gw.data(), 1, nullptr), 0);
    const bool held = call_probe::wait_writes_held(1, liveness);
    ASSERT_EQ(fileaio_ctx_submit(c, fw.data(), 5, nullptr), 0);
    const int cancel_head = fileaio_req_cancel(fw[0]);
    const int cancel_backlog = fileaio_req_cancel(fw[2]);
    call_probe::release_writes();
    ASSERT_TRUE(held) << "the write to G never reached pwritev2";
    EXPECT_EQ(cancel_head, 0) << fileaio_errname(cancel_head);
    EXPECT_EQ(cancel_backlog, 0) << fileaio_errname(cancel_backlog);
    const std::vector<fileaio_req *> done = reap(c, 4);
    ASSERT_EQ(done.size(), 4u);
    const auto at = [&](fileaio_req *q) { return std::find(done.begin(), done.end(), q) - done.begin(); };
    EXPECT_LT(at(fw[1]), at(fw[4])) << "the flush was reported before a write submitted ahead of it";
    EXPECT_LT(at(fw[3]), at(fw[4])) << "the flush was reported before a write submitted ahead of it";
    expect_done(gw[0], 0, block, "G's write");
    expect_done(fw[1], 0, block, "F2");
    expect_done(fw[3], 0, block, "F4");
    expect_done(fw[4], 0, 0, "the flush");
    const std::vector<unsigned char> after = read_back(f, 4 * block, 0);
    ASSERT_EQ(after.size(), 4 * block);
    for (size_t i = 0; i < 4; ++i) {
        const bool cancelled = i == 0 || i == 2;
        const auto *expect = cancelled ? &before[i * block] : reinterpret_cast<const unsigned char *>(&fbuf[i * block]);
        EXPECT_TRUE(std::equal(expect, expect + block, &after[i * block])) << "block " << i;
    }
}

// Two workers: the lane's worker is held in F1 while F2..F4, submitted next, wait on its backlog,
// and the other worker takes the flush submitted after them. The flush must wait for the backlog too, not only
// for the write that runs, and be reported after all four.
TEST_P(worker_pool_test, a_flush_waits_for_the_writes_on_a_lanes_backlog) {
    fileaio_ctx *c = make_ctx_on(GetParam(), 64, 0, 2);
    ASSERT_NE(c, nullptr);
    const int f = pattern_file("f", 4 * block);
    ASSERT_GE(f, 0);
    std::vector<char> fbuf(4 * block, 'f');
    auto r = make_reqs(5);
    for (size_t i = 0; i < 4; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], f, static_cast<int64_t>(i * block), &fbuf[i * block], block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[4], f, nullptr), 0);
    call_probe::hold_writes(fbuf.data(), block);  // F1 only
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 1, nullptr), 0);
    const bool held = call_probe::wait_writes_held(1, liveness);
    // F1 runs alone (its chunk was taken before these came): F2..F4 join the backlog.
    ASSERT_EQ(fileaio_ctx_submit(c, &r[1], 4, nullptr), 0);
    call_probe::release_writes();
    ASSERT_TRUE(held) << "F1 never reached pwritev2";
    const std::vector<fileaio_req *> done = reap(c, 5);
    ASSERT_EQ(done.size(), 5u);
    EXPECT_EQ(done.back(), r[4]) << "the flush was reported before a write submitted ahead of it";
    for (size_t i = 0; i < 4; ++i) expect_done(r[i], 0, block, "a write");
    expect_done(r[4], 0, 0, "the flush");
}

INSTANTIATE_TEST_SUITE_P(pool, worker_pool_test,
                         ::testing::Values(FILEAIO_BACKEND_THREAD_POOL, FILEAIO_BACKEND_LINUX_AIO),
                         [](const auto &param_info) { return backend_param_name(param_info.param); });

}  // namespace
}  // namespace fileaio::test
