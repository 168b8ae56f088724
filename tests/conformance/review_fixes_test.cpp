// Holes a hostile review of issue 10's backends found, each as the inputs that showed it, the same
// on every backend: cancel of a request that already moved bytes; submit waiting for a FUSE
// daemon's metadata answer; a pool starved by reads of streams that only another request of the
// same context can satisfy.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "fuse_fixture.hpp"

namespace fileaio::test {
namespace {

using std::chrono::milliseconds;

constexpr size_t block = 4096;

// How many bytes a pipe holds now (read without blocking; they are consumed).
size_t drain_pipe(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    size_t total = 0;
    unsigned char sink[block];
    for (;;) {
        ssize_t n = ::read(fd, sink, sizeof sink);
        if (n <= 0) break;
        total += static_cast<size_t>(n);
    }
    ::fcntl(fd, F_SETFL, fl);
    return total;
}

class review_fixes : public fuse_backend_test {};

// API.md "Cancel": 0 means the request was stopped before it touched the file. A read of a pipe
// that holds 10 bytes takes them (in submit, or on a thread); a cancel after that must not claim
// it stopped the read: the bytes are gone from the pipe.
TEST_P(review_fixes, cancel_of_a_pipe_read_that_took_bytes_is_not_0) {
    fileaio_ctx *c = make_ctx(4, 0, 1);  // one worker/helper thread
    ASSERT_NE(c, nullptr);
    // Occupy the only thread with a read the gate holds.
    int gfd = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gfd, 0);
    aligned_buffer &gbuf = make_buffer(block);
    fileaio_req *blocker = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(blocker, gfd, 0, gbuf.data(), block, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, &blocker, 1));
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout)) << "the gate read did not reach the daemon";

    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    keep_fd(p[0]);
    keep_fd(p[1]);
    write_pattern(p[1], 10);
    std::vector<unsigned char> buf(block);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, buf.data(), block, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, &r, 1));
    const int rc = fileaio_req_cancel(r);
    size_t expect = 1;  // the blocker
    if (rc == 0) {
        size_t moved = 99;
        EXPECT_EQ(fileaio_req_get_result(r, &moved), FILEAIO_E_CANCELED);
        EXPECT_EQ(moved, 0u);
        EXPECT_EQ(drain_pipe(p[0]), 10u) << "cancel returned 0, but the read had taken bytes from the pipe";
    } else {
        EXPECT_TRUE(rc == FILEAIO_E_IN_PROGRESS || rc == FILEAIO_E_COMPLETED) << fileaio_errname(rc);
        write_pattern(p[1], block - 10, 10);
        expect = 2;
    }
    fs_->release_all();
    ASSERT_EQ(reap(c, expect).size(), expect);
    if (rc != 0) {
        size_t moved = 0;
        int res = fileaio_req_get_result(r, &moved);
        EXPECT_EQ(res, 0) << fileaio_errname(res);
        EXPECT_EQ(moved, block);
        EXPECT_TRUE(holds_pattern(buf.data(), block, 0));
    }
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(blocker, &moved), 0);
    EXPECT_EQ(moved, block);
}

// API.md "Asynchrony": submit never waits for I/O, and asking a FUSE daemon (or an NFS server)
// for a file's attributes or the file system's statistics is I/O. With the daemon holding every
// getattr and statfs, submit of an O_DIRECT read of a FUSE file must return.
TEST_P(review_fixes, submit_of_an_o_direct_fuse_read_does_not_wait_for_the_daemons_metadata) {
    fileaio_ctx *c = make_ctx(4);
    ASSERT_NE(c, nullptr);
    int fd = open_on_fs(fs_->gate_path(), O_RDONLY | O_DIRECT);
    ASSERT_GE(fd, 0) << "open O_DIRECT on the FUSE file";
    aligned_buffer &buf = make_buffer(block);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf.data(), block, nullptr), 0);
    fs_->hold_metadata(true);
    EXPECT_TRUE(submit_promptly(c, &r, 1));
    fs_->release_all();
    ASSERT_EQ(reap(c, 1).size(), 1u);
    size_t moved = 0;
    int res = fileaio_req_get_result(r, &moved);
    EXPECT_EQ(res, 0) << fileaio_errname(res);
    EXPECT_EQ(moved, block);
    EXPECT_TRUE(holds_pattern(buf.data(), block, 0));
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(review_fixes);

using stream_starvation = backend_test;

// API.md "Asynchrony": a read that can only finish after another request acts must not hold up
// that request. 24 reads on 24 empty pipes (more than any pool's default thread count), then the
// 24 writes that satisfy them, all on one context: all complete.
TEST_P(stream_starvation, reads_of_empty_pipes_do_not_keep_the_writes_that_fill_them_from_running) {
    constexpr size_t n = 24;
    constexpr size_t size = 4;
    fileaio_ctx *c = make_ctx(2 * n);
    ASSERT_NE(c, nullptr);
    std::vector<int> rd(n), wr(n);
    for (size_t i = 0; i < n; ++i) {
        int p[2];
        ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
        rd[i] = keep_fd(p[0]);
        wr[i] = keep_fd(p[1]);
    }
    auto reads = make_reqs(n);
    auto writes = make_reqs(n);
    std::vector<unsigned char> in(n * size), out(n * size);
    for (size_t i = 0; i < n * size; ++i) out[i] = pattern_byte(i);
    for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(fileaio_req_prepare_read(reads[i], rd[i], 0, in.data() + i * size, size, nullptr), 0);
        ASSERT_EQ(fileaio_req_prepare_write(writes[i], wr[i], 0, out.data() + i * size, size, nullptr), 0);
    }
    ASSERT_EQ(fileaio_ctx_submit(c, reads.data(), n, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, writes.data(), n, nullptr), 0);
    size_t reaped = 0;
    bool freed = false;
    bool done = returns_within(
        milliseconds(5000), "waiting for reads of pipes and the writes that fill them",
        [&] { reaped = reap(c, 2 * n).size(); },
        [&] {
            // The test has failed: feed the pipes from here, so that the reads (and then the
            // writes) finish and the context can drain.
            freed = true;
            for (size_t i = 0; i < n; ++i) write_pattern(wr[i], size);
        });
    EXPECT_TRUE(done) << "the " << fileaio_backend_name(GetParam())
                      << " backend never ran the writes: the reads of the empty pipes hold every thread";
    if (freed) return;
    ASSERT_EQ(reaped, 2 * n);
    for (size_t i = 0; i < n; ++i) {
        size_t moved = 0;
        EXPECT_EQ(fileaio_req_get_result(reads[i], &moved), 0);
        EXPECT_EQ(moved, size);
        EXPECT_EQ(fileaio_req_get_result(writes[i], &moved), 0);
        EXPECT_EQ(moved, size);
    }
    EXPECT_EQ(in, out);
}

// The other way round: 24 writes that overfill 24 pipes (twice the default pipe capacity), then
// the 24 reads that drain them, all on one context: all complete.
TEST_P(stream_starvation, writes_that_overfill_pipes_do_not_keep_the_reads_that_drain_them_from_running) {
    constexpr size_t n = 24;
    constexpr size_t size = 128 * 1024;
    fileaio_ctx *c = make_ctx(2 * n);
    ASSERT_NE(c, nullptr);
    std::vector<int> rd(n), wr(n);
    for (size_t i = 0; i < n; ++i) {
        int p[2];
        ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
        rd[i] = keep_fd(p[0]);
        wr[i] = keep_fd(p[1]);
    }
    auto reads = make_reqs(n);
    auto writes = make_reqs(n);
    std::vector<unsigned char> in(n * size), out(n * size);
    for (size_t i = 0; i < n * size; ++i) out[i] = pattern_byte(i);
    for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(fileaio_req_prepare_write(writes[i], wr[i], 0, out.data() + i * size, size, nullptr), 0);
        ASSERT_EQ(fileaio_req_prepare_read(reads[i], rd[i], 0, in.data() + i * size, size, nullptr), 0);
    }
    ASSERT_EQ(fileaio_ctx_submit(c, writes.data(), n, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, reads.data(), n, nullptr), 0);
    size_t reaped = 0;
    bool freed = false;
    bool done = returns_within(
        milliseconds(5000), "waiting for writes that overfill pipes and the reads that drain them",
        [&] { reaped = reap(c, 2 * n).size(); },
        [&] {
            // The test has failed: drain the pipes from here and close the write ends, so that
            // every write and read ends and the context can drain.
            freed = true;
            for (size_t i = 0; i < n; ++i) {
                drain_pipe(rd[i]);
                std::erase(fds_, wr[i]);
                ::close(wr[i]);
            }
        });
    EXPECT_TRUE(done) << "the " << fileaio_backend_name(GetParam())
                      << " backend never ran the reads: the writes to the full pipes hold every thread";
    if (freed) return;
    ASSERT_EQ(reaped, 2 * n);
    for (size_t i = 0; i < n; ++i) {
        size_t moved = 0;
        EXPECT_EQ(fileaio_req_get_result(writes[i], &moved), 0);
        EXPECT_EQ(moved, size);
        EXPECT_EQ(fileaio_req_get_result(reads[i], &moved), 0);
        EXPECT_EQ(moved, size);
    }
    EXPECT_EQ(in, out);
}

// The same with one descriptor: a FIFO opened for reading and writing, a read of it, then the write
// that satisfies it, on the same descriptor and context. (glibc runs one request per descriptor at
// a time: posix_aio queued the write behind the read for ever.)
TEST_P(stream_starvation, a_read_of_a_stream_does_not_keep_a_write_on_the_same_descriptor_from_running) {
    constexpr size_t size = 4;
    const std::string path = dir_.path() + "/fifo";
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    const int fd = keep_fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_GE(fd, 0);
    fileaio_ctx *c = make_ctx(4);
    ASSERT_NE(c, nullptr);
    fileaio_req *rd = make_req();
    fileaio_req *wr = make_req();
    unsigned char in[size] = {};
    const unsigned char out[size] = {'a', 'b', 'c', 'd'};
    ASSERT_EQ(fileaio_req_prepare_read(rd, fd, 0, in, size, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_write(wr, fd, 0, out, size, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &rd, 1, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &wr, 1, nullptr), 0);
    size_t reaped = 0;
    bool freed = false;
    bool done = returns_within(
        milliseconds(5000), "waiting for a read of a FIFO and the write on the same descriptor that fills it",
        [&] { reaped = reap(c, 2).size(); },
        [&] {
            freed = true;  // failed: feed the FIFO from here so that everything drains
            const int w = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
            if (w >= 0) {
                (void)!::write(w, out, size);
                ::close(w);
            }
        });
    EXPECT_TRUE(done) << "the " << fileaio_backend_name(GetParam())
                      << " backend never ran the write: it queued behind the read of the same descriptor";
    if (freed) return;
    ASSERT_EQ(reaped, 2u);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(rd, &moved), 0);
    EXPECT_EQ(moved, size);
    EXPECT_EQ(fileaio_req_get_result(wr, &moved), 0);
    EXPECT_EQ(moved, size);
    EXPECT_EQ(0, std::memcmp(in, out, size));
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(stream_starvation);

// Issue 13's helper (review): io_uring passed the offset to the kernel for a socket, which answers
// ESPIPE for a nonzero one; API.md says a descriptor that cannot seek ignores the offset, on every
// backend. A write and a read at offset 4096 on a connected stream socket pair.
using socket_offsets = backend_test;

TEST_P(socket_offsets, a_read_and_a_write_on_a_socket_ignore_their_offset) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    keep_fd(sv[0]);
    keep_fd(sv[1]);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *w = make_req();
    fileaio_req *r = make_req();
    std::vector<unsigned char> out(512);
    std::vector<unsigned char> in(512, 0);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(i * 13 + 7);
    ASSERT_EQ(fileaio_req_prepare_write(w, sv[0], 4096, out.data(), out.size(), nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_read(r, sv[1], 4096, in.data(), in.size(), nullptr), 0);
    fileaio_req *both[2] = {w, r};
    ASSERT_EQ(fileaio_ctx_submit(c, both, 2, nullptr), 0);
    EXPECT_EQ(reap(c, 2).size(), 2u);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(w, &moved), 0) << fileaio_errname(fileaio_req_get_result(w, nullptr));
    EXPECT_EQ(moved, out.size());
    moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0) << fileaio_errname(fileaio_req_get_result(r, nullptr));
    EXPECT_EQ(moved, in.size());
    EXPECT_EQ(in, out);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(socket_offsets);

}  // namespace
}  // namespace fileaio::test
