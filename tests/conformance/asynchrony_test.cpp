// API.md "Asynchrony" (issue 10, items 1 and 6) and "Flush is a barrier", proved with I/O that is
// really held: an empty pipe, the FUSE test filesystem's gate. Submit returns without waiting for
// any of it; requests go on with nobody waiting; the daemon's own record shows what reached the
// file system when. The same inputs on every backend: a backend that needs other ones fails.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "fuse_fixture.hpp"

namespace fileaio::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t block = 4096;
// Liveness only: what must happen without a waiter happens well within this on any machine.
constexpr milliseconds progress_bound{long_timeout_ms};

// Polls with timeout 0 (never blocking) until `n` requests came back or `bound` passed. The
// daemon has answered by then; the completion still travels through the kernel to the backend.
std::vector<fileaio_req *> poll_for(fileaio_ctx *c, size_t n, milliseconds bound = milliseconds(long_timeout_ms)) {
    std::vector<fileaio_req *> got(n);
    size_t have = 0;
    auto until = steady_clock::now() + bound;
    while (have < n && steady_clock::now() < until) {
        size_t count = 0;
        int rc = fileaio_ctx_wait(c, n - have, 0, got.data() + have, n - have, &count);
        have += count;
        if (rc != 0 && rc != FILEAIO_E_TIMEOUT) {
            ADD_FAILURE() << "wait: " << fileaio_errname(rc);
            break;
        }
        if (have < n) std::this_thread::yield();
    }
    got.resize(have);
    return got;
}

// --- Item 1: submit never waits for I/O ---

using pipe_asynchrony = backend_test;

TEST_P(pipe_asynchrony, submit_of_a_read_on_an_empty_pipe_returns_before_any_data_arrives) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    keep_fd(p[0]);
    keep_fd(p[1]);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    std::vector<unsigned char> buf(block);
    ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, buf.data(), block, nullptr), 0);
    int rc = 1;
    bool data_written_by_watchdog = false;
    bool prompt = returns_within(
        milliseconds(2000), "fileaio_ctx_submit of a read on an empty pipe",
        [&] { rc = fileaio_ctx_submit(c, &r, 1, nullptr); },
        [&] {
            data_written_by_watchdog = true;
            write_pattern(p[1], block);
        });
    EXPECT_TRUE(prompt) << "submit waited until the pipe had data: the " << fileaio_backend_name(GetParam())
                        << " backend ran the read on the submitting thread";
    ASSERT_EQ(rc, 0) << fileaio_errname(rc);
    fileaio_req *out[1] = {};
    size_t count = 0;
    if (!data_written_by_watchdog) {
        EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED);
        // A poll must not block either (the wait must not run the read on this thread).
        int wrc = 1;
        bool polled = returns_within(
            milliseconds(2000), "fileaio_ctx_wait(timeout 0) with a read of an empty pipe in flight",
            [&] { wrc = fileaio_ctx_wait(c, 1, 0, out, 1, &count); },
            [&] {
                data_written_by_watchdog = true;
                write_pattern(p[1], block);
            });
        EXPECT_TRUE(polled) << "a wait with timeout 0 blocked until the pipe had data: the "
                            << fileaio_backend_name(GetParam()) << " backend ran the read on the waiting thread";
        if (polled) {
            EXPECT_EQ(wrc, FILEAIO_E_TIMEOUT) << "a read of an empty pipe completed: " << fileaio_errname(wrc);
            EXPECT_EQ(count, 0u);
        }
        if (!data_written_by_watchdog) write_pattern(p[1], block);
    }
    if (count != 0) {  // the watchdog's data already completed the read inside that wait
        EXPECT_EQ(out[0], r);
    } else {
        ASSERT_EQ(reap(c, 1).size(), 1u);
    }
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, block);
    EXPECT_TRUE(holds_pattern(buf.data(), block, 0));
}

// A write larger than the pipe can hold finishes only when a reader drains it: submitted in one
// batch with that read, neither may hold up submit, and both complete whole.
TEST_P(pipe_asynchrony, a_write_that_overfills_a_pipe_and_the_read_that_drains_it_in_one_batch_both_complete) {
    constexpr size_t size = 256 * 1024;  // four times the default pipe capacity
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    keep_fd(p[0]);
    keep_fd(p[1]);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    std::vector<unsigned char> out(size), in(size);
    for (size_t i = 0; i < size; ++i) out[i] = pattern_byte(i, 2);
    ASSERT_EQ(fileaio_req_prepare_write(r[0], p[1], 0, out.data(), size, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_read(r[1], p[0], 0, in.data(), size, nullptr), 0);
    // What frees a submitter or waiter stuck on this pipe (the test has failed by then): drain
    // what the write puts in for a bounded time, then close the writer, so that every read ends.
    bool freed_by_watchdog = false;
    auto unblock = [&] {
        freed_by_watchdog = true;
        ::fcntl(p[0], F_SETFL, O_NONBLOCK);
        std::vector<unsigned char> sink(size);
        auto until = steady_clock::now() + milliseconds(1000);
        while (steady_clock::now() < until) {
            struct pollfd pfd = {p[0], POLLIN, 0};
            if (::poll(&pfd, 1, 50) > 0 && ::read(p[0], sink.data(), size) < 0 && errno != EAGAIN) break;
        }
        std::erase(fds_, p[1]);
        ::close(p[1]);
    };
    int rc = 1;
    bool prompt = returns_within(milliseconds(2000), "fileaio_ctx_submit of a write that overfills a pipe",
                                 [&] { rc = fileaio_ctx_submit(c, r.data(), 2, nullptr); }, unblock);
    EXPECT_TRUE(prompt) << "submit waited for the pipe to drain: the " << fileaio_backend_name(GetParam())
                        << " backend ran the write on the submitting thread";
    ASSERT_EQ(rc, 0) << fileaio_errname(rc);
    if (freed_by_watchdog) return;  // TearDown drains what is left (every read of the pipe ends)
    size_t reaped = 0;
    bool waited = returns_within(milliseconds(5000), "fileaio_ctx_wait for a pipe's write and the read draining it",
                                 [&] { reaped = reap(c, 2).size(); }, unblock);
    EXPECT_TRUE(waited) << "wait blocked on the full pipe: the " << fileaio_backend_name(GetParam())
                        << " backend ran the write on the waiting thread, ahead of the read that drains it";
    if (freed_by_watchdog) return;
    ASSERT_EQ(reaped, 2u);
    for (fileaio_req *q : r) {
        size_t moved = 0;
        int got = fileaio_req_get_result(q, &moved);
        EXPECT_EQ(got, 0) << fileaio_errname(got);
        EXPECT_EQ(moved, size);
    }
    EXPECT_EQ(in, out) << "the read did not get the written stream";
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(pipe_asynchrony);

class asynchrony : public fuse_backend_test {};

TEST_P(asynchrony, submit_of_reads_held_by_the_fuse_gate_returns_while_the_gate_holds_them) {
    constexpr size_t n = 4;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    aligned_buffer &buf = make_buffer(n * block);
    int fd = open_on_fs(fs_->gate_path(), O_RDONLY);  // buffered: as a user opens a file
    ASSERT_GE(fd, 0);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>((8 + i) * block), buf.at(i * block), block,
                                           nullptr),
                  0);
    ASSERT_TRUE(submit_promptly(c, r.data(), n));
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout)) << "no read reached the FUSE daemon";
    fileaio_req *out[n];
    size_t count = 9;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, n, &count), FILEAIO_E_TIMEOUT) << "a read held by the gate completed";
    EXPECT_EQ(count, 0u);
    fs_->release_all();
    ASSERT_EQ(reap(c, n).size(), n);
    for (size_t i = 0; i < n; ++i) {
        size_t moved = 0;
        int rc = fileaio_req_get_result(r[i], &moved);
        EXPECT_EQ(rc, 0) << fileaio_errname(rc);
        EXPECT_EQ(moved, block);
        EXPECT_TRUE(holds_pattern(buf.at(i * block), block, (8 + i) * block)) << "read " << i;
    }
}

// The same through the kernel's page cache (a FUSE file system without direct_io, like most):
// the read waits inside the page cache's readahead for the daemon.
TEST_P(asynchrony, submit_of_a_read_of_a_page_cached_fuse_file_returns_while_the_gate_holds_it) {
    test_fs::options o;
    o.page_cache = true;
    test_fs *fs = mount_extra(o);
    if (fs == nullptr) return;
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(block);
    int fd = open_on_fs(fs->gate_path(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 8 * block, buf.data(), block, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, &r, 1));
    ASSERT_TRUE(fs->wait_for_in_flight(1, reach_daemon_timeout)) << "the read never reached the FUSE daemon";
    fileaio_req *out[1];
    size_t count = 9;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_TIMEOUT) << "a read held by the gate completed";
    EXPECT_EQ(count, 0u);
    fs->release_all();
    ASSERT_EQ(reap(c, 1).size(), 1u);
    size_t moved = 0;
    int rc = fileaio_req_get_result(r, &moved);
    EXPECT_EQ(rc, 0) << fileaio_errname(rc);
    EXPECT_EQ(moved, block);
    EXPECT_TRUE(holds_pattern(buf.data(), block, 8 * block));
}

// --- Item 6: progress without a waiter ---

TEST_P(asynchrony, a_flush_held_behind_a_write_reaches_the_file_system_with_nobody_waiting) {
    test_fs::options o;
    o.gate_writes = true;
    test_fs *fs = mount_extra(o);
    if (fs == nullptr) return;
    int fd = open_on_fs(fs->eio_path(), O_RDWR);
    ASSERT_GE(fd, 0);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    aligned_buffer &out = make_buffer(block);
    for (size_t i = 0; i < block; ++i) out.data()[i] = pattern_byte(block + i, 4);
    ASSERT_EQ(fileaio_req_prepare_write(r[0], fd, block, out.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[1], fd, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, r.data(), 2));
    ASSERT_TRUE(fs->wait_for_in_flight(1, reach_daemon_timeout)) << "the write never reached the FUSE daemon";
    fs->release_all();
    // Nobody waits on the context now: the write must finish and the flush follow on their own.
    bool synced = fs->wait_for_operations(
        [](const std::vector<test_fs::op_record> &ops) {
            return std::any_of(ops.begin(), ops.end(), [](auto &op) { return op.kind == test_fs::op_kind::fsync; });
        },
        progress_bound);
    EXPECT_TRUE(synced) << "the flush never reached the file system while nobody waited: the "
                        << fileaio_backend_name(GetParam()) << " backend only issues it inside wait";
    auto done = poll_for(c, 2);
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], r[0]) << "the flush came back before its write";
    EXPECT_EQ(done[1], r[1]);
    EXPECT_EQ(fileaio_req_get_result(r[0], nullptr), 0);
    EXPECT_EQ(fileaio_req_get_result(r[1], nullptr), 0);
}

TEST_P(asynchrony, the_rest_of_a_short_transfer_is_read_with_nobody_waiting) {
    constexpr size_t size = 16 * block;
    test_fs::options o;
    o.max_read_bytes = block;  // every read call answers one block: the library must continue
    test_fs *fs = mount_extra(o);
    if (fs == nullptr) return;
    int fd = open_on_fs(fs->eio_path(), O_RDWR);
    ASSERT_GE(fd, 0);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(size);
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf.data(), size, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, &r, 1));
    bool served = fs->wait_for_operations(
        [](const std::vector<test_fs::op_record> &ops) {
            uint64_t bytes = 0;
            for (auto &op : ops)
                if (op.kind == test_fs::op_kind::read) bytes += op.size;
            return bytes >= size;
        },
        progress_bound);
    EXPECT_TRUE(served) << "the file system served " << fs->eio_bytes_read() << " of " << size
                        << " bytes while nobody waited: the " << fileaio_backend_name(GetParam())
                        << " backend continues a short transfer only inside wait";
    auto done = poll_for(c, 1);
    ASSERT_EQ(done.size(), 1u);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, size);
    EXPECT_TRUE(holds_pattern(buf.data(), size, 0));
}

// A vectored read whose pieces a backend may run one after another (posix_aio chains them):
// every piece reaches the file system with nobody waiting.
TEST_P(asynchrony, every_piece_of_a_vectored_read_is_read_with_nobody_waiting) {
    constexpr size_t pieces = 4;
    test_fs *fs = mount_extra(test_fs::options{});
    if (fs == nullptr) return;
    int fd = open_on_fs(fs->eio_path(), O_RDWR);
    ASSERT_GE(fd, 0);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(pieces * block);
    struct iovec iov[pieces];
    for (size_t i = 0; i < pieces; ++i) iov[i] = {buf.at(i * block), block};
    ASSERT_EQ(fileaio_req_prepare_readv(r, fd, 0, iov, pieces, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, &r, 1));
    bool served = fs->wait_for_operations(
        [](const std::vector<test_fs::op_record> &ops) {
            uint64_t bytes = 0;
            for (auto &op : ops)
                if (op.kind == test_fs::op_kind::read) bytes += op.size;
            return bytes >= pieces * block;
        },
        progress_bound);
    EXPECT_TRUE(served) << "the file system served " << fs->eio_bytes_read() << " of " << pieces * block
                        << " bytes while nobody waited: the " << fileaio_backend_name(GetParam())
                        << " backend starts the next piece only inside wait";
    auto done = poll_for(c, 1);
    ASSERT_EQ(done.size(), 1u);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, pieces * block);
    EXPECT_TRUE(holds_pattern(buf.data(), pieces * block, 0));
}

// --- Flush is a barrier (item 8): the fsync reaches the file system only after the writes ---

TEST_P(asynchrony, a_flush_reaches_the_file_system_only_after_the_earlier_writes_finished) {
    constexpr size_t writes = 3;
    test_fs::options o;
    o.gate_writes = true;
    test_fs *fs = mount_extra(o);
    if (fs == nullptr) return;
    int fd = open_on_fs(fs->eio_path(), O_RDWR);
    ASSERT_GE(fd, 0);
    fileaio_ctx *c = make_ctx(writes + 1);
    auto r = make_reqs(writes + 1);
    aligned_buffer &out = make_buffer(writes * block);
    for (size_t i = 0; i < writes; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), out.at(i * block), block,
                                            nullptr),
                  0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[writes], fd, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, r.data(), writes + 1));
    ASSERT_TRUE(fs->wait_for_in_flight(1, reach_daemon_timeout)) << "no write reached the FUSE daemon";
    // A wait while the writes are held: nothing may complete (the flush waits for them), and a
    // backend that issues the fsync early has had its chance to.
    fileaio_req *got[writes + 1];
    size_t count = 9;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 100, got, writes + 1, &count), FILEAIO_E_TIMEOUT);
    EXPECT_EQ(count, 0u) << "a request completed while every write was held";
    EXPECT_EQ(fs->fsyncs(), 0u) << "the fsync reached the file system while a write was held in it";
    fs->release_all();
    auto done = reap(c, writes + 1);
    ASSERT_EQ(done.size(), writes + 1);
    EXPECT_EQ(done.back(), r[writes]) << "the flush came back before a write";
    auto ops = fs->operations();
    size_t writes_done = 0;
    bool fsync_seen = false;
    for (auto &op : ops) {
        if (op.kind == test_fs::op_kind::write_done) {
            EXPECT_FALSE(fsync_seen) << "a write at " << op.offset << " finished after the fsync reached the fs";
            ++writes_done;
        }
        if (op.kind == test_fs::op_kind::fsync) {
            EXPECT_EQ(writes_done, writes) << "the fsync reached the file system before every earlier write finished";
            fsync_seen = true;
        }
    }
    EXPECT_TRUE(fsync_seen) << "the flush never reached the file system";
    for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_get_result(q, nullptr), 0);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(asynchrony);

}  // namespace
}  // namespace fileaio::test
