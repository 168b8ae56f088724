// What only the io_uring backend has (src/backends/io_uring.cpp): registered buffers really used,
// association that never pins a file, SQPOLL, io-wq bounds, the causes a probe names when
// io_uring is refused, and the behaviours that io_uring makes delicate — cancel confirmed by the target's own completion (and
// no stale completion after it), short transfers continued, flush held while a write is stuck,
// requests outliving the thread that submitted them, a wakeup ending a wait for many.
//
// Pipes stand in for slow files where a test must hold a request in the kernel: a read of an
// empty pipe waits there until the test writes, and cancel can stop it.
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/backend_resources.hpp"
#include "fileaio/fileaio.h"
#include "support/backend_fixture.hpp"
#include "support/settings_guard.hpp"
#include "support/temp_dir.hpp"
#include "support/test_fs.hpp"
#include "support/threads.hpp"

namespace fileaio::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t block = 4096;

std::string io_uring_unavailable() {
    char reason[256] = "";
    if (fileaio_backend_probe(FILEAIO_BACKEND_IO_URING, reason, sizeof reason) == 0) return {};
    return reason;
}

// The shared backend fixture (support/backend_fixture.hpp), plus io_uring's own options.
class io_uring_backend : public backend_fixture<FILEAIO_BACKEND_IO_URING> {
protected:
    void TearDown() override {
        // Every test here ends with nothing in flight: checked before the shared teardown drains.
        for (fileaio_ctx *c : ctxs_) EXPECT_EQ(pending(c), 0u) << "context still busy at the end of the test";
        backend_fixture::TearDown();
    }

    fileaio_ctx *make_ctx(uint32_t max_reqs, uint32_t flags = 0, uint32_t uring_flags = 0, uint32_t max_workers = 0,
                          int *rc_out = nullptr) {
        fileaio_ctx_options o = ctx_options(FILEAIO_BACKEND_IO_URING, max_reqs, flags);
        o.uring_flags = uring_flags;
        o.uring_max_workers = max_workers;
        return make_ctx_with(o, rc_out);
    }
};

// Anonymous memory we can replace under a registered buffer.
class mapping {
public:
    explicit mapping(size_t size) : size_(size) {
        void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base_ = p == MAP_FAILED ? nullptr : static_cast<unsigned char *>(p);
    }
    ~mapping() {
        if (base_ != nullptr) ::munmap(base_, size_);
    }
    mapping(const mapping &) = delete;
    mapping &operator=(const mapping &) = delete;

    unsigned char *data() const { return base_; }
    // New zero pages at the same addresses. The ring keeps the registered (old) pages pinned, so
    // from now on a fixed-buffer opcode and a plain one see different memory.
    bool replace_pages() {
        void *p = ::mmap(base_, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        return p == base_;
    }

private:
    unsigned char *base_ = nullptr;
    size_t size_;
};

bool all_bytes(const std::vector<unsigned char> &v, unsigned char value) {
    for (unsigned char b : v)
        if (b != value) return false;
    return !v.empty();
}

TEST_F(io_uring_backend, requests_inside_registered_buffers_use_the_fixed_opcodes_and_move_the_right_bytes) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int src = pattern_file("src", 4 * block);
    int dst = pattern_file("dst", 0);
    mapping region(4 * block);
    ASSERT_NE(region.data(), nullptr);
    std::memset(region.data(), 'A', 4 * block);
    struct iovec iov = {region.data(), 4 * block};
    ASSERT_EQ(fileaio_ctx_register_buffers(c, &iov, 1), 0);
    ASSERT_TRUE(region.replace_pages());
    std::memset(region.data(), 'B', 4 * block);  // what a plain opcode would see from now on

    // A write from the region: WRITE_FIXED sends the registered pages ('A').
    ASSERT_EQ(fileaio_req_prepare_write(r, dst, 0, region.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, block, "fixed write");
    EXPECT_TRUE(all_bytes(read_back(dst, block, 0), 'A')) << "the write did not use WRITE_FIXED";

    // A read into the region: READ_FIXED fills the registered pages, so the new pages stay 'B'...
    ASSERT_EQ(fileaio_req_prepare_read(r, src, 0, region.data() + block, 2 * block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, 2 * block, "fixed read");
    EXPECT_EQ(region.data()[block], 'B') << "the read did not use READ_FIXED";
    // ...and a fixed write of those pages carries exactly the bytes that were read.
    ASSERT_EQ(fileaio_req_prepare_write(r, dst, static_cast<int64_t>(block), region.data() + block, 2 * block, nullptr),
              0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, 2 * block, "fixed write back");
    auto copied = read_back(dst, 2 * block, block);
    ASSERT_EQ(copied.size(), 2 * block);
    for (size_t i = 0; i < copied.size(); ++i) ASSERT_EQ(copied[i], pattern_byte(i)) << "byte " << i;

    // A buffer that sticks out of the region goes the plain way (and is correct).
    std::vector<unsigned char> outside(block, 'C');
    ASSERT_EQ(fileaio_req_prepare_write(r, dst, 0, outside.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    EXPECT_TRUE(all_bytes(read_back(dst, block, 0), 'C'));

    // Unregistered, the region is plain memory again: the write sends the new pages ('B').
    ASSERT_EQ(fileaio_ctx_unregister_buffers(c), 0);
    ASSERT_EQ(fileaio_req_prepare_write(r, dst, 0, region.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    EXPECT_TRUE(all_bytes(read_back(dst, block, 0), 'B')) << "a fixed opcode was used after unregister_buffers";
}

// A buffer above a registered region is outside it: the lookup once took the unsigned wrap of
// (region end - address) for room, sent it as WRITE_FIXED/READ_FIXED, and the kernel said EFAULT
// (found by the fuzzer, seed registered_gap).
TEST_F(io_uring_backend, a_buffer_above_a_registered_region_goes_the_plain_way) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int src = pattern_file("src", 4 * block);
    int dst = pattern_file("dst", 0);
    mapping region(4 * block);
    ASSERT_NE(region.data(), nullptr);
    struct iovec iov = {region.data(), 2 * block};  // the lower half only
    ASSERT_EQ(fileaio_ctx_register_buffers(c, &iov, 1), 0);
    unsigned char *above = region.data() + 3 * block;
    std::memset(above, 'D', block);
    ASSERT_EQ(fileaio_req_prepare_write(r, dst, 0, above, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, block, "write from above the region");
    EXPECT_TRUE(all_bytes(read_back(dst, block, 0), 'D'));
    ASSERT_EQ(fileaio_req_prepare_read(r, src, 0, above, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, block, "read into above the region");
    for (size_t i = 0; i < block; ++i) ASSERT_EQ(above[i], pattern_byte(i)) << "byte " << i;
}

// Association is a hint (API.md "Tuning and acceleration"): after the fd is closed and its number
// reused, a request on that number goes to the file it names now, and the closed file is really
// released. inotify's IN_CLOSE_WRITE comes when the last reference to the open file goes away, so
// it proves that the context kept none (a fixed-file slot would, until the context died).
TEST_F(io_uring_backend, association_never_keeps_a_closed_file_nor_sends_requests_to_it) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    const std::string old_path = dir_.make_file("old", 0);
    const std::string new_path = dir_.make_file("new", 0);
    int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ASSERT_GE(watch, 0);
    keep_fd(watch);
    ASSERT_GE(::inotify_add_watch(watch, old_path.c_str(), IN_CLOSE_WRITE), 0);

    int fd = open_file(old_path, O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(fileaio_ctx_associate_with_file(c, fd), 0);
    std::vector<unsigned char> buf(block, 'o');
    ASSERT_EQ(fileaio_req_prepare_write(r, fd, 0, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, block, "write to the associated fd");
    ASSERT_EQ(::close(fd), 0);

    // The caller closed its only descriptor: the file is closed now, not when the context goes.
    char events[4096];
    ssize_t got = ::read(watch, events, sizeof events);
    EXPECT_GT(got, 0) << "closing the associated fd did not release the file: the context holds it";

    // The same number, another file.
    int reused = open_file(new_path, O_RDWR);
    ASSERT_GE(reused, 0);
    if (reused != fd) {
        ASSERT_EQ(::dup2(reused, fd), fd);
        ::close(reused);
    }
    keep_fd(fd);
    std::fill(buf.begin(), buf.end(), 'n');
    ASSERT_EQ(fileaio_req_prepare_write(r, fd, 0, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, block, "write to the reused number");
    EXPECT_TRUE(all_bytes(read_back(fd, block, 0), 'n')) << "the write did not reach the file the fd names now";
    int old_again = open_file(old_path, O_RDONLY);
    ASSERT_GE(old_again, 0);
    keep_fd(old_again);
    EXPECT_TRUE(all_bytes(read_back(old_again, block, 0), 'o')) << "the write went to the closed file";

    // A flush on the reused number works too, and a closed fd is refused as the kernel refuses it.
    ASSERT_EQ(fileaio_req_prepare_flush(r, fd, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    expect_done(r, 0, 0, "flush on the reused number");
    int closed = ::dup(fd);
    ::close(closed);
    EXPECT_EQ(fileaio_ctx_associate_with_file(c, closed), -EBADF);
}

TEST_F(io_uring_backend, sqpoll_context_moves_data_or_says_why_not) {
    int rc = 0;
    fileaio_ctx *c = make_ctx(8, 0, FILEAIO_URING_SQPOLL, 0, &rc);
    if (rc == FILEAIO_E_NOT_SUPPORTED) GTEST_SKIP() << "the kernel refuses IORING_SETUP_SQPOLL here";
    ASSERT_EQ(rc, 0) << fileaio_errname(rc);
    int fd = pattern_file("f", 0);
    std::vector<fileaio_req *> r = {make_req(), make_req(), make_req()};
    std::vector<unsigned char> out(2 * block);
    for (size_t i = 0; i < out.size(); ++i) out[i] = pattern_byte(i, 3);
    ASSERT_EQ(fileaio_req_prepare_write(r[0], fd, 0, out.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_write(r[1], fd, block, out.data() + block, block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[2], fd, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 3, nullptr), 0);
    auto done = reap(c, 3);
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(done.back(), r[2]) << "the flush came back before a write it waits for";
    std::vector<unsigned char> in(2 * block);
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, in.data(), in.size(), nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 1, nullptr), 0);
    reap(c, 1);
    expect_done(r[0], 0, in.size(), "read under SQPOLL");
    EXPECT_EQ(in, out);
}

TEST_F(io_uring_backend, a_bound_on_io_wq_workers_is_honoured) {
    fileaio_ctx *c = make_ctx(64, 0, 0, 2);
    int fd = pattern_file("f", 0);
    std::vector<fileaio_req *> r;
    std::vector<unsigned char> buf(64 * block, 'w');
    for (size_t i = 0; i < 64; ++i) {
        r.push_back(make_req());
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block, block,
                                            nullptr),
                  0);
    }
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), r.size(), nullptr), 0);
    reap(c, r.size());
    for (fileaio_req *q : r) expect_done(q, 0, block, "write with two io-wq workers");
}

TEST_F(io_uring_backend, max_reqs_beyond_the_kernel_cq_limit_is_accepted) {
    fileaio_ctx *c = make_ctx(200000);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(fileaio_ctx_get_max_req_count(c), 200000u);
}

TEST_F(io_uring_backend, cancel_stops_a_request_waiting_in_the_kernel_and_its_completion_never_comes_back) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    fileaio_req *r = make_req();
    int p[2];
    make_pipe(p);
    char buf[64];
    // More rounds than the 4-bit generation in user_data has values: an old completion of the same
    // request would be taken for the new one if cancel let it survive.
    for (int round = 0; round < 40; ++round) {
        ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, buf, sizeof buf, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        ASSERT_EQ(fileaio_req_cancel(r), 0) << "round " << round;
        EXPECT_EQ(fileaio_req_cancel(r), FILEAIO_E_NOT_SUBMITTED);
        expect_done(r, FILEAIO_E_CANCELED, 0, "cancelled read");
        fileaio_req *out[2];
        size_t count = 7;
        EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 2, &count), FILEAIO_E_TIMEOUT);
        EXPECT_EQ(count, 0u) << "a cancelled request came back from wait";
    }
    // Now one that really reads: the data, once, and nothing else.
    ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, buf, 5, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    ASSERT_EQ(::write(p[1], "hello", 5), 5);
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    expect_done(r, 0, 5, "read after the cancels");
    EXPECT_EQ(std::string(buf, 5), "hello");
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.canceled, 40u);
    EXPECT_EQ(st.completed, 1u);
    EXPECT_EQ(st.pending, 0u);
}

TEST_F(io_uring_backend, cancel_from_another_thread_while_one_waits_for_that_request) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int p[2];
    make_pipe(p);
    char buf[64];
    for (int round = 0; round < 20; ++round) {
        ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, buf, sizeof buf, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        int cancel_rc = 1;
        // The cancel comes once this thread is inside the wait for the request; the wakeup after
        // it ends the wait, which must not have taken the cancelled request.
        std::thread canceller([&] {
            EXPECT_TRUE(wait_until_inside_wait(c)) << "the wait never started";
            cancel_rc = fileaio_req_cancel(r);
            fileaio_ctx_wakeup(c);
        });
        fileaio_req *out[1];
        size_t count = 0;
        int rc = FILEAIO_E_BUSY;
        while (rc == FILEAIO_E_BUSY) rc = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count);  // busy: the probe
        EXPECT_EQ(rc, FILEAIO_E_INTERRUPTED);
        canceller.join();
        EXPECT_EQ(cancel_rc, 0);
        EXPECT_EQ(count, 0u);
        expect_done(r, FILEAIO_E_CANCELED, 0, "cancelled while waited for");
    }
}

TEST_F(io_uring_backend, a_wakeup_ends_a_wait_for_many_while_requests_are_pending) {
    constexpr size_t n = 4;
    fileaio_ctx *c = make_ctx(n);
    int p[2];
    make_pipe(p);
    std::vector<fileaio_req *> r;
    char buf[n][16];
    for (size_t i = 0; i < n; ++i) {
        r.push_back(make_req());
        ASSERT_EQ(fileaio_req_prepare_read(r[i], p[0], 0, buf[i], sizeof buf[i], nullptr), 0);
    }
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    // The wakeup comes once this thread is inside the wait (a wakeup before it would be kept
    // pending and end the wait at its start, which is not what this tests).
    std::thread waker([&] {
        EXPECT_TRUE(wait_until_inside_wait(c)) << "the wait never started";
        fileaio_ctx_wakeup(c);
    });
    fileaio_req *out[n];
    size_t count = 0;
    auto t0 = steady_clock::now();
    int rc = FILEAIO_E_BUSY;
    while (rc == FILEAIO_E_BUSY) rc = fileaio_ctx_wait(c, n, long_timeout_ms, out, n, &count);  // busy: the probe
    EXPECT_EQ(rc, FILEAIO_E_INTERRUPTED);
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0).count();
    waker.join();
    EXPECT_LT(took, 1000) << "the wakeup did not end a wait for " << n << " completions";
    for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_cancel(q), 0);
}

// Writes `src` into the pipe p one block at a time, each once the one before has left the pipe
// (FIONREAD 0): a read of more than a block, waiting on p[0], takes each block by a transfer that
// returns short, and r stays in flight until the last block.
void feed_block_by_block(const int p[2], const std::vector<unsigned char> &src, fileaio_req *r) {
    for (size_t off = 0; off < src.size(); off += block) {
        ASSERT_EQ(::write(p[1], src.data() + off, block), static_cast<ssize_t>(block));
        ASSERT_TRUE(eventually([&] {
            int n = -1;
            return ::ioctl(p[0], FIONREAD, &n) == 0 && n == 0;
        })) << "the read did not take the block at " << off;
        if (off + block < src.size()) {
            EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED) << "done after " << off + block << " bytes";
        }
    }
}

TEST_F(io_uring_backend, short_reads_and_writes_are_continued_until_whole) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int p[2];
    make_pipe(p);
    // A read of 3 blocks from a pipe that receives one block at a time: three short transfers.
    std::vector<unsigned char> src(3 * block);
    for (size_t i = 0; i < src.size(); ++i) src[i] = pattern_byte(i, 9);
    std::vector<unsigned char> dst(src.size());
    ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, dst.data(), dst.size(), nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    // Each block goes in once the one before has left the pipe: taken by a read that then
    // returned short, so the backend must issue the rest itself.
    feed_block_by_block(p, src, r);
    reap(c, 1);
    expect_done(r, 0, src.size(), "read continued");
    EXPECT_EQ(dst, src);

    // The same with a vector whose elements the pieces cut in the middle.
    std::vector<unsigned char> v1(1000), v2(5000), v3(3 * block - 6000);
    struct iovec iov[3] = {{v1.data(), v1.size()}, {v2.data(), v2.size()}, {v3.data(), v3.size()}};
    ASSERT_EQ(fileaio_req_prepare_readv(r, p[0], 0, iov, 3, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    feed_block_by_block(p, src, r);
    reap(c, 1);
    expect_done(r, 0, src.size(), "readv continued");
    std::vector<unsigned char> all(v1);
    all.insert(all.end(), v2.begin(), v2.end());
    all.insert(all.end(), v3.begin(), v3.end());
    EXPECT_EQ(all, src);

    // A write of 64 blocks into a pipe that holds one: continued as the reader drains it.
    int q[2];
    make_pipe(q, static_cast<int>(block));
    std::vector<unsigned char> big(64 * block);
    for (size_t i = 0; i < big.size(); ++i) big[i] = pattern_byte(i, 4);
    ASSERT_EQ(fileaio_req_prepare_write(r, q[1], 0, big.data(), big.size(), nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    std::vector<unsigned char> drained;
    std::thread reader([&] {
        unsigned char piece[block];
        while (drained.size() < big.size()) {
            ssize_t n = ::read(q[0], piece, sizeof piece);
            if (n <= 0) break;
            drained.insert(drained.end(), piece, piece + n);
        }
    });
    reap(c, 1);
    reader.join();
    expect_done(r, 0, big.size(), "write continued");
    EXPECT_EQ(drained, big);
}

TEST_F(io_uring_backend, a_flush_waits_for_a_stuck_write_to_its_fd_and_can_be_cancelled_while_held) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    int p[2];
    make_pipe(p, static_cast<int>(block));
    std::vector<unsigned char> fill(block, 'f');
    ASSERT_EQ(::write(p[1], fill.data(), block), static_cast<ssize_t>(block));  // the pipe is full
    fileaio_req *w = make_req();
    fileaio_req *f = make_req();
    std::vector<unsigned char> data(block, 'd');
    ASSERT_EQ(fileaio_req_prepare_write(w, p[1], 0, data.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(f, p[1], nullptr), 0);
    fileaio_req *batch[] = {w, f};
    ASSERT_EQ(fileaio_ctx_submit(c, batch, 2, nullptr), 0);
    fileaio_req *out[2];
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 50, out, 2, &count), FILEAIO_E_TIMEOUT) << "the flush did not wait for the write";
    // Held by the backend, the flush has not reached the kernel: cancel stops it.
    EXPECT_EQ(fileaio_req_cancel(f), 0);
    expect_done(f, FILEAIO_E_CANCELED, 0, "held flush");
    // Again, then let the write through: the write comes back first, then the flush (an fsync of
    // a pipe: the kernel says EINVAL, which is the point — it ran only now).
    ASSERT_EQ(fileaio_req_prepare_flush(f, p[1], nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &f, 1, nullptr), 0);
    std::vector<unsigned char> sink(2 * block);
    size_t drained = 0;
    while (drained < 2 * block) {
        ssize_t n = ::read(p[0], sink.data() + drained, sink.size() - drained);
        ASSERT_GT(n, 0);
        drained += static_cast<size_t>(n);
    }
    auto done = reap(c, 2);
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], w);
    EXPECT_EQ(done[1], f);
    expect_done(w, 0, block, "stuck write");
    expect_done(f, -EINVAL, 0, "flush of a pipe");
}

TEST_F(io_uring_backend, requests_outlive_the_thread_that_submitted_them) {
    // Kernels before io-wq drained on exit cancelled the work a thread queued when it exited (the
    // backend resubmits a completion of -ECANCELED it did not ask for); none may be lost either way.
    constexpr size_t n = 64;
    constexpr size_t chunk = 64 * 1024;
    fileaio_ctx *c = make_ctx(n);
    int fd = pattern_file("f", 0);
    std::vector<fileaio_req *> r;
    for (size_t i = 0; i < n; ++i) r.push_back(make_req());
    std::vector<unsigned char> buf(n * chunk);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = pattern_byte(i, 5);
    for (int round = 0; round < 5; ++round) {
        std::thread submitter([&] {
            for (size_t i = 0; i < n; ++i)
                ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * chunk), buf.data() + i * chunk,
                                                    chunk, nullptr),
                          0);
            ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        });
        submitter.join();
        reap(c, n);
        for (fileaio_req *q : r) expect_done(q, 0, chunk, "write of an exited thread");
    }
    auto back = read_back(fd, buf.size(), 0);
    EXPECT_TRUE(back == buf);
}

// ---- progress, deadlines and resource trouble (issue 10, items 4-6) ----

// The number of the system call `tid` (a thread of this process) is blocked in, or -1.
long syscall_of(pid_t tid) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
    long nr = -1;
    if (!(in >> nr)) return -1;
    return nr;
}

// Collects `n` completions with polls only (timeout 0), within a liveness bound.
std::vector<fileaio_req *> poll_for(fileaio_ctx *c, size_t n) {
    std::vector<fileaio_req *> got;
    fileaio_req *out[16];
    eventually([&] {
        size_t count = 0;
        int rc = fileaio_ctx_wait(c, 1, 0, out, 16, &count);
        got.insert(got.end(), out, out + count);
        if (rc != 0 && rc != FILEAIO_E_TIMEOUT) ADD_FAILURE() << "wait: " << fileaio_errname(rc);
        return got.size() >= n || (rc != 0 && rc != FILEAIO_E_TIMEOUT);
    });
    return got;
}

// API.md "Asynchrony": a flush held behind a write goes on with nobody waiting. The barrier holds
// the flush until whoever consumes the write's completion issues it; no thread calls wait here,
// and the FUSE daemon's own count of fsync calls shows whether it was issued.
TEST_F(io_uring_backend, a_held_flush_is_issued_with_nobody_waiting) {
    std::string why;
    auto fs = test_fs::mount(&why);
    if (!fs) GTEST_SKIP() << "FUSE unavailable: " << why;
    fileaio_ctx *c = make_ctx(4);
    int fd = ::open(fs->eio_path().c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    fileaio_req *w = make_req();
    fileaio_req *f = make_req();
    std::vector<unsigned char> data(block, 'h');
    ASSERT_EQ(fileaio_req_prepare_write(w, fd, 0, data.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(f, fd, nullptr), 0);
    fileaio_req *batch[] = {w, f};
    ASSERT_EQ(fileaio_ctx_submit(c, batch, 2, nullptr), 0);
    EXPECT_TRUE(eventually([&] { return fs->fsyncs() != 0; }))
        << "the flush held behind the write was never issued: nobody waited";
    auto done = poll_for(c, 2);  // polls only: both are finished already
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], w);
    EXPECT_EQ(done[1], f);
    expect_done(w, 0, block, "write");
    expect_done(f, 0, 0, "flush");
    ::close(fd);
}

// The same for the rest of a short transfer: a read of two blocks from a pipe gets one block, and
// the second block written later is taken only by the read's continuation. FIONREAD shows whether
// it was taken, without anybody calling wait.
TEST_F(io_uring_backend, the_rest_of_a_short_read_is_issued_with_nobody_waiting) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int p[2];
    make_pipe(p);
    std::vector<unsigned char> src(2 * block);
    for (size_t i = 0; i < src.size(); ++i) src[i] = pattern_byte(i, 6);
    std::vector<unsigned char> dst(src.size());
    auto unread = [&] {
        int n = -1;
        return ::ioctl(p[0], FIONREAD, &n) == 0 ? n : -1;
    };
    ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, dst.data(), dst.size(), nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    ASSERT_EQ(::write(p[1], src.data(), block), static_cast<ssize_t>(block));
    ASSERT_TRUE(eventually([&] { return unread() == 0; })) << "the read did not take the first block";
    ASSERT_EQ(::write(p[1], src.data() + block, block), static_cast<ssize_t>(block));
    EXPECT_TRUE(eventually([&] { return unread() == 0; }))
        << "the rest of the short read was never issued: nobody waited";
    auto done = poll_for(c, 1);
    ASSERT_EQ(done.size(), 1u);
    expect_done(r, 0, src.size(), "read continued without a waiter");
    EXPECT_EQ(dst, src);
}

// API.md "Wait": deadlines and wakeups hold while any other call runs. Here a cancel owns the
// completion queue while it waits for its target's CQE: flush b waits in io-wq's queue behind
// flush a, which holds io-wq's only worker at the FUSE gate. Cancelling b succeeds at once, but
// its -ECANCELED completion is posted by task work of the thread that submitted it, and that
// thread sits in a plain read of the gate; the canceller sleeps in io_uring_enter for it (up to
// cancel_wait_max, 2 s).
TEST_F(io_uring_backend, a_wait_keeps_its_deadline_and_wakeups_while_a_cancel_owns_the_completions) {
    std::string why;
    test_fs::options opts;
    opts.fsync_at_gate = true;
    auto fs = test_fs::mount(&why, opts);
    if (!fs) GTEST_SKIP() << "FUSE unavailable: " << why;
    fileaio_ctx *c = make_ctx(4, 0, 0, 1);  // one io-wq worker
    int fd = ::open(fs->gate_path().c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    fileaio_req *a = make_req();
    fileaio_req *b = make_req();
    ASSERT_EQ(fileaio_req_prepare_flush(a, fd, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(b, fd, nullptr), 0);
    std::thread submitter([&] {
        fileaio_req *batch[] = {a, b};
        EXPECT_EQ(fileaio_ctx_submit(c, batch, 2, nullptr), 0);
        char one = 0;
        EXPECT_EQ(::pread(fd, &one, 1, 0), 1);  // held at the gate beside a
    });
    ASSERT_TRUE(fs->wait_for_in_flight(2, milliseconds(long_timeout_ms)));
    std::atomic<pid_t> canceller_tid{0};
    std::atomic<int> cancel_rc{1};
    std::thread canceller([&] {
        canceller_tid = static_cast<pid_t>(::syscall(SYS_gettid));
        cancel_rc = fileaio_req_cancel(b);
    });
    const bool owns = eventually([&] {
        pid_t t = canceller_tid.load();
        return cancel_rc.load() != 1 || (t != 0 && syscall_of(t) == SYS_io_uring_enter);
    });
    const bool reached = owns && cancel_rc.load() == 1;
    const size_t in_flight = fs->reads_in_flight();

    int poll_rc = 0;
    int woken_rc = 0;
    long poll_ms = 0;
    long woken_ms = 0;
    if (reached) {
        fileaio_req *out[2];
        size_t count = 0;
        auto t0 = steady_clock::now();
        poll_rc = fileaio_ctx_wait(c, 1, 0, out, 2, &count);
        poll_ms = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0).count();
        ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
        t0 = steady_clock::now();
        woken_rc = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 2, &count);
        woken_ms = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0).count();
    }
    fs->release_all();
    submitter.join();
    canceller.join();
    // b was cancelled (0), or its cancel gave up and b reads again: it comes back then.
    reap(c, cancel_rc.load() == 0 ? 1 : 2);
    ::close(fd);
    if (!reached)
        GTEST_SKIP() << "this kernel answered the cancel at once (" << fileaio_errname(cancel_rc.load()) << ", "
                     << in_flight << " at the gate): the canceller never had to own the completion queue";
    EXPECT_EQ(poll_rc, FILEAIO_E_TIMEOUT) << fileaio_errname(poll_rc);
    EXPECT_LT(poll_ms, 1000) << "a wait with timeout 0 blocked while a cancel owned the completion queue";
    EXPECT_EQ(woken_rc, FILEAIO_E_INTERRUPTED) << fileaio_errname(woken_rc);
    EXPECT_LT(woken_ms, 1000) << "a wakeup was held up while a cancel owned the completion queue";
}

// The kernel refusing SQEs (out of memory; an overflowing CQ on older kernels) is resource
// trouble, not the I/O's outcome. A seccomp filter on the waiting thread makes every
// io_uring_enter that submits fail with EAGAIN there, so the continuations of short reads (which
// that thread issues) are refused; they must wait and complete later with their real result.
TEST_F(io_uring_backend, continuations_the_kernel_refuses_wait_and_finish_with_their_real_result) {
#if defined(__x86_64__)
    constexpr size_t n = 8;
    fileaio_ctx *c = make_ctx(n, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    int fd = pattern_file("f", block);  // reads of two blocks: a short read, then a continuation at EOF
    std::vector<fileaio_req *> r;
    std::vector<unsigned char> buf(n * 2 * block);
    for (size_t i = 0; i < n; ++i) {
        r.push_back(make_req());
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data() + i * 2 * block, 2 * block, nullptr), 0);
    }
    std::atomic<pid_t> tid{0};
    std::atomic<bool> filtered{false};
    int wait_rc = 0;
    size_t came_back = 0;
    std::thread waiter([&] {
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_enter, 0, 2),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),  // to_submit
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
        };
        struct sock_fprog prog = {static_cast<unsigned short>(std::size(code)), code};
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
            tid = -1;
            return;
        }
        filtered = true;
        tid = static_cast<pid_t>(::syscall(SYS_gettid));
        std::vector<fileaio_req *> out(n);
        wait_rc = fileaio_ctx_wait(c, n, 300, out.data(), n, &came_back);
    });
    ASSERT_TRUE(eventually([&] { return tid.load() != 0; }));
    if (!filtered) {
        waiter.join();
        GTEST_SKIP() << "seccomp filters are refused here";
    }
    // The waiter owns the completion queue (asleep in io_uring_enter) before anything is submitted.
    ASSERT_TRUE(eventually([&] { return syscall_of(tid.load()) == SYS_io_uring_enter; }));
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    waiter.join();
    EXPECT_EQ(wait_rc, FILEAIO_E_TIMEOUT) << fileaio_errname(wait_rc);
    EXPECT_EQ(came_back, 0u) << "requests came back with the ring's refusal for a result";
    // Without the filter, the waiting continuations go on and every read ends at EOF, whole.
    reap(c, n);
    for (fileaio_req *q : r) expect_done(q, 0, block, "a read whose continuation the kernel refused once");
#else
    GTEST_SKIP() << "the seccomp filter of this test is written for x86_64";
#endif
}

// The CQ has at most 65536 entries, yet a context accepts any max_reqs and io_uring_limits says
// unlimited: more requests than CQ entries all complete, each with its own result (the kernel's
// no-drop overflow keeps the extra CQEs; continuations are issued while it overflows).
TEST_F(io_uring_backend, more_requests_in_flight_than_the_completion_queue_holds_all_complete) {
    constexpr size_t n = 70000;
    fileaio_ctx *c = make_ctx(n);
    int fd = pattern_file("f", block / 2);  // each read: a short transfer, then a continuation at EOF
    std::vector<fileaio_req *> r(n);
    std::vector<unsigned char> buf(block);
    for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(fileaio_req_create(&r[i]), 0);
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data(), block, nullptr), 0);
    }
    size_t submitted = 0;
    while (submitted < n) {
        size_t took = 0;
        int rc = fileaio_ctx_submit(c, r.data() + submitted, n - submitted, &took);
        submitted += took;
        if (rc == FILEAIO_E_INSUFFICIENT_RESOURCES) break;  // allowed; the rest follow below
        ASSERT_EQ(rc, 0) << fileaio_errname(rc);
    }
    std::vector<fileaio_req *> out(n);
    size_t got = 0;
    auto until = steady_clock::now() + milliseconds(6 * long_timeout_ms);
    while (got < n && steady_clock::now() < until) {
        size_t cnt = 0;
        int rc = fileaio_ctx_wait(c, 1, long_timeout_ms, out.data() + got, n - got, &cnt);
        got += cnt;
        ASSERT_TRUE(rc == 0 || rc == FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
        while (submitted < n) {  // what submit left with us: in again, now that there is room
            size_t took = 0;
            int src = fileaio_ctx_submit(c, r.data() + submitted, n - submitted, &took);
            submitted += took;
            if (src != 0) break;
        }
    }
    ASSERT_EQ(got, n);
    size_t wrong = 0;
    for (fileaio_req *q : r) {
        size_t moved = 0;
        if (fileaio_req_get_result(q, &moved) != 0 || moved != block / 2) ++wrong;
        EXPECT_EQ(fileaio_req_destroy(q), 0);
    }
    EXPECT_EQ(wrong, 0u) << "requests finished with another result than their read's";
}

constexpr const char *io_uring_disabled_path = "/proc/sys/kernel/io_uring_disabled";

TEST(io_uring_disabled, the_probe_names_the_sysctl_auto_moves_on_and_io_uring_by_name_is_refused) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to set kernel.io_uring_disabled";
    std::string why = io_uring_unavailable();
    if (!why.empty()) GTEST_SKIP() << "io_uring unavailable already: " << why;
    backend_env_unset env;
    // A context made before keeps working: the sysctl only refuses new rings.
    fileaio_ctx *before = nullptr;
    ASSERT_EQ(fileaio_ctx_create_ex(&before, 4, 0, FILEAIO_BACKEND_IO_URING), 0);

    int probe_rc = 0;
    int named_rc = 0;
    int auto_rc = 0;
    char reason[256] = "";
    char auto_reason[256] = "";
    fileaio_backend picked = FILEAIO_BACKEND_AUTO;
    {
        // The window is kept short: other tests running now cannot create io_uring contexts.
        sysctl_guard sysctl(io_uring_disabled_path);
        if (!sysctl.set("2")) {
            fileaio_ctx_destroy(before);
            if (!sysctl.readable()) GTEST_SKIP() << io_uring_disabled_path << " is missing (kernel older than 6.6)";
            GTEST_SKIP() << "cannot write " << io_uring_disabled_path;
        }
        probe_rc = fileaio_backend_probe(FILEAIO_BACKEND_IO_URING, reason, sizeof reason);
        fileaio_ctx *named = nullptr;
        named_rc = fileaio_ctx_create_ex(&named, 4, 0, FILEAIO_BACKEND_IO_URING);
        if (named != nullptr) fileaio_ctx_destroy(named);
        fileaio_backend_probe(FILEAIO_BACKEND_AUTO, auto_reason, sizeof auto_reason);
        fileaio_ctx *automatic = nullptr;
        auto_rc = fileaio_ctx_create(&automatic, 4, 0);
        if (automatic != nullptr) {
            picked = fileaio_ctx_get_backend(automatic);
            fileaio_ctx_destroy(automatic);
        }
    }
    EXPECT_EQ(probe_rc, FILEAIO_E_NOT_SUPPORTED);
    EXPECT_NE(std::string(reason).find("io_uring_disabled=2"), std::string::npos) << "reason: " << reason;
    EXPECT_NE(std::string(reason).find("EPERM"), std::string::npos) << "reason: " << reason;
    EXPECT_EQ(named_rc, FILEAIO_E_NOT_SUPPORTED) << fileaio_errname(named_rc);
    EXPECT_EQ(auto_rc, 0) << fileaio_errname(auto_rc);
    EXPECT_NE(picked, FILEAIO_BACKEND_IO_URING);
    EXPECT_NE(picked, FILEAIO_BACKEND_AUTO);
    EXPECT_EQ(std::string(auto_reason).find("io_uring ("), std::string::npos) << "AUTO's reason: " << auto_reason;

    // The context made before still moves data.
    temp_dir dir;
    int fd = open_file(dir.make_file("f", block), O_RDONLY);
    ASSERT_GE(fd, 0);
    fileaio_req *r = nullptr;
    ASSERT_EQ(fileaio_req_create(&r), 0);
    std::vector<unsigned char> buf(block);
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(before, &r, 1, nullptr), 0);
    fileaio_req *out[1];
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(before, 1, long_timeout_ms, out, 1, &count), 0);
    EXPECT_EQ(buf[7], pattern_byte(7));
    fileaio_req_destroy(r);
    ::close(fd);
    EXPECT_EQ(fileaio_ctx_destroy(before), 0);
    EXPECT_EQ(io_uring_unavailable(), "") << "kernel.io_uring_disabled was not restored";
}

// ---- one owner thread (FILEAIO_CTX_SINGLE_THREAD) ----

// Whether this kernel has IORING_REGISTER_SEND_MSG_RING (Linux 6.13), which the single-issuer ring
// needs for wakeups: to a descriptor that is no ring it answers EBADF, without the opcode EINVAL.
bool kernel_has_send_msg_ring() {
    io_uring_sqe sqe{};
    sqe.opcode = IORING_OP_MSG_RING;
    sqe.fd = -1;
    return ::syscall(SYS_io_uring_register, -1, 31, &sqe, 1) < 0 && errno == EBADF;
}

// The single-issuer ring has no progress helper (only the owner may consume its CQ): a context
// with the flag starts no thread, one without starts its helper. That is how the test sees that
// the flag reached the ring setup.
TEST_F(io_uring_backend, a_single_thread_context_runs_a_single_issuer_ring_without_a_helper_thread) {
    if (!kernel_has_send_msg_ring()) GTEST_SKIP() << "no IORING_REGISTER_SEND_MSG_RING (Linux 6.13): the ring is the ordinary one";
    const size_t before = quiet_threads();
    fileaio_ctx *solo = make_ctx(8, FILEAIO_CTX_SINGLE_THREAD);
    ASSERT_NE(solo, nullptr);
    EXPECT_EQ(quiet_threads(), before) << "the single-thread context started a helper thread";
    fileaio_ctx *shared = make_ctx(8);
    ASSERT_NE(shared, nullptr);
    EXPECT_EQ(quiet_threads(), before + 1) << "the ordinary context should start its progress helper";
    // And it moves data, through a cancel too, on the owner thread.
    const int fd = pattern_file("data", 4096);
    std::vector<unsigned char> buf(4096);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf.data(), buf.size(), nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(solo, &r, 1, nullptr), 0);
    ASSERT_EQ(reap(solo, 1).size(), 1u);
    expect_done(r, 0, 4096, "read");
    int p[2];
    make_pipe(p);
    ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, buf.data(), buf.size(), nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(solo, &r, 1, nullptr), 0);
    EXPECT_EQ(fileaio_req_cancel(r), 0) << "a pipe read waiting in the kernel is cancelled by its owner";
    EXPECT_EQ(pending(solo), 0u);
}

// ---- event loops (API.md "Event loops") ----

// Whether any thread of this process sleeps in io_uring_enter (here: only the progress helper).
bool some_thread_in_io_uring_enter() {
    DIR *d = ::opendir("/proc/self/task");
    if (d == nullptr) return false;
    bool found = false;
    while (const dirent *e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        if (syscall_of(static_cast<pid_t>(std::atoi(e->d_name))) == SYS_io_uring_enter) found = true;
    }
    ::closedir(d);
    return found;
}

// An event loop that never parks a thread in wait leaves the CQ to the progress helper (no reap
// for a grace period). The kernel makes the registered eventfd readable as it posts a CQE, at the
// very moment it wakes the helper; the loop's wait with timeout 0 must then find that completion
// (API.md: readable "whenever a wait with timeout_ms = 0 would return 0", and "a wait that comes
// later (even one with timeout_ms = 0) finds them done"), not answer E_TIMEOUT because the helper
// has not moved the CQE to the ready list yet. (The pipe read completes through task work of this
// thread, which runs as the write returns: the CQE is posted before the loop looks.)
TEST_F(io_uring_backend, a_poll_after_the_descriptor_turned_readable_finds_the_completion_while_the_helper_owns_the_cq) {
    fileaio_ctx *c = make_ctx(4);
    ASSERT_NE(c, nullptr);
    int efd = -1;
    ASSERT_EQ(fileaio_ctx_get_fd(c, &efd), 0);
    int p[2];
    make_pipe(p);
    std::vector<unsigned char> buf(block);
    fileaio_req *r = make_req();
    constexpr int rounds = 10;
    int empty_polls = 0;
    for (int round = 0; round < rounds; ++round) {
        ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, buf.data(), block, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        ASSERT_TRUE(eventually([] { return some_thread_in_io_uring_enter(); })) << "the helper never took the CQ";
        write_pattern(p[1], block);
        pollfd pf{efd, POLLIN, 0};
        ASSERT_EQ(::poll(&pf, 1, static_cast<int>(long_timeout_ms)), 1) << "the read finished, the descriptor never said so";
        fileaio_req *out[1] = {};
        size_t count = 0;
        const int rc = fileaio_ctx_wait(c, 1, 0, out, 1, &count);
        if (rc != 0) {
            ++empty_polls;
            EXPECT_EQ(rc, FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
            ASSERT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count), 0);  // drain it for the next round
        }
        ASSERT_EQ(out[0], r);
    }
    EXPECT_EQ(empty_polls, 0) << "of " << rounds << " polls made as the descriptor turned readable, " << empty_polls
                              << " found nothing: the helper still held the completion";
}

// API.md "Event loops": a wakeup with nothing pending is no reason to be readable (a wait answers
// E_NO_REQUEST). Under SQPOLL the kernel's SQ thread runs the wakeup's NOP after wakeup() has
// returned, and posting its CQE signals the registered eventfd: readable for nothing.
TEST_F(io_uring_backend, under_sqpoll_a_wakeup_with_nothing_pending_does_not_make_the_descriptor_readable) {
    int rc = 0;
    fileaio_ctx *c = make_ctx(8, 0, FILEAIO_URING_SQPOLL, 0, &rc);
    if (rc == FILEAIO_E_NOT_SUPPORTED) GTEST_SKIP() << "the kernel refuses IORING_SETUP_SQPOLL here";
    ASSERT_EQ(rc, 0) << fileaio_errname(rc);
    int efd = -1;
    ASSERT_EQ(fileaio_ctx_get_fd(c, &efd), 0);
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    pollfd pf{efd, POLLIN, 0};
    EXPECT_EQ(::poll(&pf, 1, 200), 0) << "readable while a wait answers E_NO_REQUEST";
    fileaio_req *out[1] = {};
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_NO_REQUEST);
}

}  // namespace
}  // namespace fileaio::test
