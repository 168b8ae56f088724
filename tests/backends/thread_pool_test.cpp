// What only the thread_pool backend promises (docs/backends.md): requests on one file run in
// parallel, the pool never runs more than `threads` at once, a request queued behind busy
// workers is cancelled for sure, and the inline RWF_NOWAIT attempt never blocks the submitter.
// The `gate` file of the FUSE test filesystem holds every read in the daemon until the test
// releases it, which makes all of that deterministic.
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "conformance/fuse_fixture.hpp"
#include "support/backend_fixture.hpp"
#include "support/threads.hpp"

namespace fileaio::test {
namespace {

// Besides its workers, a pool has one thread of its own: the staffer, which starts and joins them.
constexpr size_t staffer_threads = 1;

using thread_pool_on_fuse = fuse_backend_test;
using thread_pool = backend_fixture<FILEAIO_BACKEND_THREAD_POOL>;

constexpr size_t block = 4096;
// Reads of the gate are spread out, so no two share a block.
constexpr uint64_t stride = 16 * block;
constexpr uint32_t short_wait_ms = 100;

// Prepares reads of `block` bytes of the gate at i * stride into buf.
void prepare_gate_reads(const std::vector<fileaio_req *> &r, int fd, aligned_buffer &buf) {
    for (size_t i = 0; i < r.size(); ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * stride), buf.at(i * block), block,
                                           nullptr),
                  0);
}

// Each read completed whole, with the gate's bytes.
void expect_reads_correct(const std::vector<fileaio_req *> &r, aligned_buffer &buf) {
    for (size_t i = 0; i < r.size(); ++i) {
        size_t moved = 0;
        EXPECT_EQ(fileaio_req_get_result(r[i], &moved), 0) << "read " << i;
        EXPECT_EQ(moved, block) << "read " << i;
        EXPECT_TRUE(holds_pattern(buf.at(i * block), block, i * stride)) << "read " << i;
    }
}

// The submit path tries a small buffered read with preadv2(RWF_NOWAIT) on the caller's thread.
// On FUSE that must fail at once (EAGAIN, or EOPNOTSUPP where the file has no FMODE_NOWAIT)
// without sending the read to the daemon; if it waited for the daemon, every submit of an
// uncached read would block.
TEST_P(thread_pool_on_fuse, nowait_read_of_a_fuse_file_fails_at_once_without_reaching_the_daemon) {
    int fd = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(fd, 0);
    unsigned char buf[block];
    struct iovec iov = {buf, block};
    ssize_t n = 0;
    int err = 0;
    bool prompt = returns_promptly([&] {
        n = preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
        err = errno;
    });
    ASSERT_TRUE(prompt) << "preadv2(RWF_NOWAIT) on a FUSE file blocked until the daemon answered";
    EXPECT_EQ(n, -1);
    EXPECT_TRUE(err == EAGAIN || err == EOPNOTSUPP) << std::strerror(err);
    EXPECT_EQ(fs_->reads_started(), 0u) << "RWF_NOWAIT sent the read to the daemon";
}

TEST_P(thread_pool_on_fuse, reads_of_one_file_run_in_parallel_on_as_many_workers) {
    constexpr uint32_t threads = 4;
    fileaio_ctx *c = make_ctx(16, 0, threads);
    auto r = make_reqs(threads);
    int fd = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(threads * block);
    prepare_gate_reads(r, fd, buf);
    ASSERT_TRUE(submit_promptly(c, r.data(), r.size()));
    EXPECT_TRUE(fs_->wait_for_in_flight(threads, reach_daemon_timeout))
        << "only " << fs_->reads_in_flight() << " of " << threads
        << " reads of one file reached the daemon at once: the pool ran them one after another";
    EXPECT_EQ(fs_->max_reads_in_flight(), threads);
    fs_->release(threads);
    auto done = reap(c, threads);
    EXPECT_EQ(std::set<fileaio_req *>(done.begin(), done.end()).size(), size_t{threads});
    expect_reads_correct(r, buf);
}

TEST_P(thread_pool_on_fuse, the_pool_never_runs_more_reads_at_once_than_threads) {
    constexpr uint32_t threads = 3;
    constexpr size_t n = 2 * threads;
    const size_t quiet_before = quiet_threads();
    fileaio_ctx *c = make_ctx(16, 0, threads);
    auto r = make_reqs(n);
    int fd = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(n * block);
    prepare_gate_reads(r, fd, buf);
    ASSERT_TRUE(submit_promptly(c, r.data(), r.size()));
    ASSERT_TRUE(fs_->wait_for_in_flight(threads, reach_daemon_timeout))
        << "only " << fs_->reads_in_flight() << " reads reached the daemon at once, expected " << threads;
    // A pool that would overshoot needs one more worker than `threads`. With exactly `threads`
    // workers, all held at the gate, nobody is left to start another read.
    ASSERT_EQ(quiet_threads() - quiet_before, size_t{threads} + staffer_threads) << "the pool started more workers than threads";
    EXPECT_EQ(fs_->reads_in_flight(), size_t{threads});
    EXPECT_EQ(fs_->reads_started(), uint64_t{threads});
    // Let them through one at a time: each released read frees a worker for exactly one more.
    for (size_t i = 0; i < n; ++i) {
        fs_->release(1);
        auto done = reap(c, 1);
        ASSERT_EQ(done.size(), 1u);
        if (i + threads < n) {
            ASSERT_TRUE(fs_->wait_for_in_flight(threads, reach_daemon_timeout)) << "after " << i + 1 << " released";
        }
        EXPECT_LE(fs_->reads_in_flight(), size_t{threads});
    }
    EXPECT_EQ(fs_->max_reads_in_flight(), size_t{threads});
    EXPECT_EQ(fs_->reads_started(), uint64_t{n});
    expect_reads_correct(r, buf);
}

TEST_P(thread_pool_on_fuse, a_read_queued_behind_the_only_busy_worker_is_cancelled_for_sure) {
    fileaio_ctx *c = make_ctx(4, 0, 1);
    auto r = make_reqs(2);
    int fd = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(2 * block);
    prepare_gate_reads(r, fd, buf);
    // The first read occupies the only worker in the daemon; the second can only be queued.
    ASSERT_TRUE(submit_promptly(c, &r[0], 1));
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    ASSERT_TRUE(submit_promptly(c, &r[1], 1));
    EXPECT_EQ(fileaio_req_get_state(r[1]), FILEAIO_REQ_SUBMITTED);
    ASSERT_EQ(fileaio_req_cancel(r[1]), 0) << "a queued request could not be cancelled";
    EXPECT_EQ(fileaio_req_get_state(r[1]), FILEAIO_REQ_COMPLETED);
    size_t moved = 1;
    EXPECT_EQ(fileaio_req_get_result(r[1], &moved), FILEAIO_E_CANCELED);
    EXPECT_EQ(moved, 0u);
    EXPECT_EQ(fileaio_req_cancel(r[1]), FILEAIO_E_NOT_SUBMITTED);
    EXPECT_EQ(pending(c), 1u);

    // The first still completes after release, and it is the only one ever returned.
    fs_->release(1);
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r[0]);
    fileaio_req *out[2];
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, short_wait_ms, out, 2, &count), FILEAIO_E_NO_REQUEST);
    EXPECT_EQ(count, 0u);
    size_t first_moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[0], &first_moved), 0);
    EXPECT_EQ(first_moved, block);
    EXPECT_TRUE(holds_pattern(buf.at(0), block, 0));
    EXPECT_EQ(fs_->reads_started(), 1u) << "the cancelled read reached the daemon";
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.submitted, 2u);
    EXPECT_EQ(st.completed, 1u);
    EXPECT_EQ(st.canceled, 1u);
    EXPECT_EQ(st.pending, 0u);
}

// Issue 10 (review): a worker running a stream request does not count toward `threads`, so a burst
// of pipe reads grows the pool to one worker per read; once the burst is over, the workers beyond
// `threads` must exit (the pool used to keep all of them until destroy). A second burst then starts
// workers again, joining the exited ones.
TEST_F(thread_pool, workers_started_for_a_burst_of_pipe_reads_exit_once_the_burst_is_over) {
    constexpr uint32_t threads = 4;
    constexpr size_t n = 64;
    // A sanitizer starts its background thread (signals blocked) with the process's first thread:
    // let that happen before the count.
    std::thread([] {}).join();
    const size_t quiet_before = quiet_threads();
    fileaio_ctx *c = make_ctx_on(FILEAIO_BACKEND_THREAD_POOL, 2 * n, 0, threads);
    ASSERT_NE(c, nullptr);
    auto r = make_reqs(n);
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE(round == 0 ? "first burst" : "second burst");
        std::vector<std::array<int, 2>> p(n);
        char buf[n] = {};
        for (size_t i = 0; i < n; ++i) {
            make_pipe(p[i].data());
            ASSERT_EQ(fileaio_req_prepare_read(r[i], p[i][0], 0, &buf[i], 1, nullptr), 0);
        }
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        // Every read waits on its empty pipe on a worker of its own.
        ASSERT_TRUE(eventually([&] { return quiet_threads() >= quiet_before + n; }))
            << "the pool did not grow to one worker per pipe read: " << quiet_threads() - quiet_before;
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(::write(p[i][1], "x", 1), 1);
        auto done = reap(c, n);
        ASSERT_EQ(done.size(), n);
        for (size_t i = 0; i < n; ++i) {
            expect_done(r[i], 0, 1, "pipe read");
            EXPECT_EQ(buf[i], 'x') << "read " << i;
        }
        EXPECT_TRUE(eventually([&] { return quiet_threads() <= quiet_before + threads + staffer_threads; }))
            << "workers still running after the burst: " << quiet_threads() - quiet_before - staffer_threads
            << ", expected at most " << threads << "";
    }
}

INSTANTIATE_TEST_SUITE_P(thread_pool, thread_pool_on_fuse, ::testing::Values(FILEAIO_BACKEND_THREAD_POOL),
                         [](const auto &param_info) { return backend_param_name(param_info.param); });

}  // namespace
}  // namespace fileaio::test
