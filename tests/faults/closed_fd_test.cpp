// A file descriptor closed while its requests are in flight, on every backend. API.md leaves
// whether `fd` is open to the operating system ("such a request is accepted and completes with
// what the kernel says"), and promises that every request that leaves submit SUBMITTED is
// reported exactly once. So each request here comes back once, with all its bytes or with
// -EBADF, nothing hangs or crashes, and the context goes on working with other descriptors.
//
// A closed number can be handed out again by the next open(), and then a request still naming it
// would reach the new file: the library cannot tell. These tests therefore put the descriptor at
// a high number (faults.hpp: move_to_high_fd) and open nothing while requests name it closed;
// they assert nothing about a number that was reused.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "conformance/fuse_fixture.hpp"
#include "faults/faults.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;
constexpr uint32_t write_seed = 7;
constexpr uint32_t quiet_wait_ms = 50;  // how long a check that nothing more comes back waits

// Requests of every kind on one file, each on its own block: reads and vectored reads of the
// pattern file, writes and vectored writes of pattern bytes with write_seed.
struct mixed_batch {
    static constexpr size_t kinds = 4;  // read, write, readv, writev
    std::vector<fileaio_req *> reqs;
    std::vector<std::vector<unsigned char>> bufs;
    std::vector<std::vector<struct iovec>> iovs;

    void prepare(int fd, size_t n) {
        bufs.assign(n, {});
        iovs.assign(n, {});
        for (size_t i = 0; i < n; ++i) {
            const uint64_t off = i * block;
            const bool write = (i % kinds) % 2 == 1;
            const bool vectored = (i % kinds) >= 2;
            bufs[i] = write ? pattern_buffer(off, block, write_seed) : std::vector<unsigned char>(block, 0);
            const auto at = static_cast<int64_t>(off);
            int rc;
            if (vectored) {
                iovs[i] = {{bufs[i].data(), block / 2}, {bufs[i].data() + block / 2, block / 2}};
                rc = write ? fileaio_req_prepare_writev(reqs[i], fd, at, iovs[i].data(), 2, nullptr)
                           : fileaio_req_prepare_readv(reqs[i], fd, at, iovs[i].data(), 2, nullptr);
            } else {
                rc = write ? fileaio_req_prepare_write(reqs[i], fd, at, bufs[i].data(), block, nullptr)
                           : fileaio_req_prepare_read(reqs[i], fd, at, bufs[i].data(), block, nullptr);
            }
            EXPECT_EQ(rc, 0);
        }
    }
    static bool is_write(size_t i) { return (i % kinds) % 2 == 1; }
};

// Buffers and iovecs belong to the fixture: they outlive TearDown's drain, so a test that fails
// with requests still in flight never leaves them pointing at freed memory.
class closed_fd : public backend_test {
protected:
    mixed_batch batch_;
    std::vector<unsigned char> buf_ = std::vector<unsigned char>(4 * block, 0);
    struct iovec iov_[2] = {{buf_.data(), block}, {buf_.data() + block, block}};
};

// Every request of `sent` appears exactly once in `done`.
void expect_each_once(const std::vector<fileaio_req *> &sent, const std::vector<fileaio_req *> &done) {
    std::map<fileaio_req *, size_t> seen;
    for (fileaio_req *r : done) ++seen[r];
    for (size_t i = 0; i < sent.size(); ++i)
        EXPECT_EQ(seen[sent[i]], 1u) << "request " << i << " was returned " << seen[sent[i]] << " times";
    EXPECT_EQ(done.size(), sent.size());
}

// Nothing more comes back: a short wait on a context made with WAIT_WITHOUT_PENDING times out empty.
void expect_nothing_more(fileaio_ctx *c) {
    fileaio_req *out[4] = {};
    size_t count = 99;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, quiet_wait_ms, out, 4, &count), FILEAIO_E_TIMEOUT);
    EXPECT_EQ(count, 0u) << "a request was returned again";
}

TEST_P(closed_fd, requests_whose_descriptor_is_closed_right_after_submit_each_come_back_once_whole_or_ebadf) {
    constexpr size_t n = 48;
    constexpr size_t rounds = 3;
    fileaio_ctx *c = make_ctx(64, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    const std::string path = dir_.make_file("data", n * block);
    mixed_batch &batch = batch_;
    batch.reqs = make_reqs(n);
    fileaio_req *flush = make_req();
    size_t ebadf = 0;
    size_t total = 0;
    size_t flush_ebadf = 0;
    for (size_t round = 0; round < rounds; ++round) {
        // A fresh copy of the pattern each round, and a verifying descriptor of our own.
        dir_.make_file("data", n * block);
        int verify = open_file(path, O_RDONLY);
        ASSERT_GE(verify, 0);
        fds_.push_back(verify);
        int fd = move_to_high_fd(open_file(path, O_RDWR));
        ASSERT_GE(fd, 0);
        batch.prepare(fd, n);
        ASSERT_EQ(fileaio_req_prepare_flush(flush, fd, nullptr), 0);
        std::vector<fileaio_req *> all = batch.reqs;
        all.push_back(flush);
        size_t submitted = 0;
        ASSERT_EQ(fileaio_ctx_submit(c, all.data(), all.size(), &submitted), 0);
        ASSERT_EQ(submitted, all.size());
        ASSERT_EQ(::close(fd), 0);

        auto done = reap(c, all.size());
        expect_each_once(all, done);
        expect_nothing_more(c);
        for (size_t i = 0; i < n; ++i) {
            size_t moved = SIZE_MAX;
            int rc = fileaio_req_get_result(batch.reqs[i], &moved);
            ++total;
            if (rc == -EBADF) {
                ++ebadf;
                EXPECT_LT(moved, block) << "request " << i;
                continue;
            }
            ASSERT_EQ(rc, 0) << "request " << i << ": " << fileaio_errname(rc);
            EXPECT_EQ(moved, block) << "request " << i;
            if (mixed_batch::is_write(i)) {
                EXPECT_TRUE(reads_back(verify, i * block, block, write_seed)) << "write " << i << " reported done";
            } else {
                EXPECT_TRUE(batch.bufs[i] == pattern_buffer(i * block, block, 0)) << "read " << i << " reported done";
            }
        }
        int frc = fileaio_req_get_result(flush, nullptr);
        EXPECT_TRUE(frc == 0 || frc == -EBADF) << "flush: " << fileaio_errname(frc);
        if (frc == -EBADF) ++flush_ebadf;
        fileaio_stats st = stats_of(c);
        EXPECT_EQ(st.pending, 0u);
        EXPECT_EQ(st.submitted, st.completed + st.canceled);
    }
    note(std::string(fileaio_backend_name(GetParam())) + ": of " + std::to_string(total) +
         " requests whose descriptor was closed right after submit, " + std::to_string(ebadf) +
         " completed with EBADF, the rest whole; " + std::to_string(flush_ebadf) + " of " + std::to_string(rounds) +
         " flushes with EBADF");

    // The context goes on with another descriptor.
    int fd = open_file(path, O_RDWR);
    ASSERT_GE(fd, 0);
    fds_.push_back(fd);
    batch.prepare(fd, n);
    ASSERT_EQ(fileaio_req_prepare_flush(flush, fd, nullptr), 0);
    std::vector<fileaio_req *> all = batch.reqs;
    all.push_back(flush);
    ASSERT_EQ(fileaio_ctx_submit(c, all.data(), all.size(), nullptr), 0);
    expect_each_once(all, reap(c, all.size()));
    for (fileaio_req *r : all) {
        int rc = fileaio_req_get_result(r, nullptr);
        EXPECT_EQ(rc, 0) << fileaio_errname(rc);
    }
    for (size_t i = 0; i < n; ++i) {
        if (!mixed_batch::is_write(i)) {
            EXPECT_TRUE(batch.bufs[i] == pattern_buffer(i * block, block, 0)) << "read " << i;
        }
    }
    EXPECT_EQ(stats_of(c).failed, ebadf + flush_ebadf) << "stats.failed counts the EBADF results, and only those";
}

// API.md "Submit": a request the operating system rejects at once (bad fd, say) is still SUBMITTED
// and completes through wait with that error; submit does not fail for it.
TEST_P(closed_fd, requests_prepared_on_a_descriptor_closed_before_submit_complete_through_wait_with_ebadf) {
    fileaio_ctx *c = make_ctx(16);
    int fd = move_to_high_fd(pattern_file("data", 4 * block));
    fds_.pop_back();  // pattern_file registered the number move_to_high_fd closed
    ASSERT_GE(fd, 0);
    std::vector<unsigned char> &buf = buf_;
    const struct iovec *iov = iov_;
    auto r = make_reqs(6);
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_write(r[1], fd, block, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_readv(r[2], fd, 0, iov, 2, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_writev(r[3], fd, 2 * block, iov, 2, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[4], fd, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_datasync(r[5], fd, nullptr), 0);
    ASSERT_EQ(::close(fd), 0);

    size_t submitted = 0;
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), r.size(), &submitted), 0) << "submit failed for a bad descriptor";
    ASSERT_EQ(submitted, r.size());
    for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_get_state(q), FILEAIO_REQ_SUBMITTED);
    expect_each_once(r, reap(c, r.size()));
    for (size_t i = 0; i < r.size(); ++i) {
        size_t moved = SIZE_MAX;
        int rc = fileaio_req_get_result(r[i], &moved);
        EXPECT_EQ(rc, -EBADF) << "request " << i << ": " << fileaio_errname(rc);
        EXPECT_EQ(moved, 0u) << "request " << i;
    }
    fileaio_stats st = stats_of(c);
    EXPECT_EQ(st.failed, r.size());
    EXPECT_EQ(st.pending, 0u);

    // The context goes on with an open descriptor.
    int good = pattern_file("good", 4 * block);
    ASSERT_GE(good, 0);
    ASSERT_EQ(fileaio_req_prepare_read(r[0], good, block, buf.data(), 2 * block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[1], good, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    ASSERT_EQ(reap(c, 2).size(), 2u);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[0], &moved), 0);
    EXPECT_EQ(moved, 2 * block);
    const std::vector<unsigned char> got(buf.begin(), buf.begin() + 2 * block);
    EXPECT_TRUE(got == pattern_buffer(block, 2 * block, 0));
    EXPECT_EQ(fileaio_req_get_result(r[1], nullptr), 0);
}

// Deterministic: the FUSE test filesystem holds the first read inside its daemon while the
// descriptor is closed; the others on the same descriptor may be in the daemon too, queued in
// the backend, or not started. After the gate opens each comes back once: the ones that were in
// the daemon (they hold the file) with the right bytes, any other whole or with -EBADF. Then the
// context is destroyed and the filesystem unmounted without trouble.
class closed_fd_in_daemon : public fuse_backend_test {};

TEST_P(closed_fd_in_daemon, reads_blocked_in_the_daemon_when_their_descriptor_is_closed_come_back_once) {
    constexpr size_t n = 4;
    constexpr uint64_t first_offset = 8 * block;
    fileaio_ctx *c = make_ctx(8);
    auto r = make_reqs(n);
    aligned_buffer &buf = make_buffer(n * block);
    int fd = move_to_high_fd(open_file(fs_->gate_path(), O_RDONLY));
    ASSERT_GE(fd, 0);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(first_offset + i * block), buf.at(i * block),
                                           block, nullptr),
                  0);
    ASSERT_TRUE(submit_promptly(c, r.data(), n));
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout)) << "no read reached the FUSE daemon";
    const size_t held = fs_->reads_in_flight();
    ASSERT_EQ(::close(fd), 0);
    for (fileaio_req *q : r) EXPECT_NE(fileaio_req_get_state(q), FILEAIO_REQ_PREPARED);

    fs_->release_all();
    auto done = reap(c, n);
    expect_each_once(r, done);
    size_t whole = 0;
    for (size_t i = 0; i < n; ++i) {
        size_t moved = SIZE_MAX;
        int rc = fileaio_req_get_result(r[i], &moved);
        if (rc == 0) {
            ++whole;
            EXPECT_EQ(moved, block) << "read " << i;
            EXPECT_TRUE(holds_pattern(buf.at(i * block), block, first_offset + i * block)) << "read " << i;
        } else {
            EXPECT_EQ(rc, -EBADF) << "read " << i << ": " << fileaio_errname(rc);
            EXPECT_EQ(moved, 0u) << "read " << i;
        }
    }
    EXPECT_GE(whole, held) << "a read that was already in the daemon did not complete whole";
    note(std::string(fileaio_backend_name(GetParam())) + ": " + std::to_string(held) + " of " + std::to_string(n) +
         " reads were in the daemon when the descriptor was closed; " + std::to_string(whole) + " completed whole, " +
         std::to_string(n - whole) + " with EBADF");
    EXPECT_EQ(pending(c), 0u);
    EXPECT_EQ(destroy_ctx(c), 0);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(closed_fd);
FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(closed_fd_in_daemon);

}  // namespace
}  // namespace fileaio::test
