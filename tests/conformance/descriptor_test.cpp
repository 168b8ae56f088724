// API.md "Requests" and "Asynchrony" on every descriptor kind (support/file_kinds.hpp): the same
// test bodies and inputs for every backend on a regular file buffered and O_DIRECT, a pipe, the
// FUSE test file and a file on tmpfs. On a pipe the offset is ignored and the request works at
// the stream's position, so each expectation is written as "at the offset, or for a stream at
// the position the earlier requests left": the same bytes a careful user would expect.
#include <cerrno>
#include <string>
#include <vector>

#include "kinds_fixture.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;

class descriptors : public kind_test {
protected:
    // Submits one request and reaps it; returns its result and bytes moved.
    static int run_one(fileaio_ctx *c, fileaio_req *r, size_t *moved) {
        EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        EXPECT_EQ(reap(c, 1).size(), 1u);
        return fileaio_req_get_result(r, moved);
    }
};

TEST_P(descriptors, a_read_returns_the_bytes_at_its_offset_or_on_a_stream_the_next_bytes) {
    io_target t;
    OPEN_TARGET(t, 16 * block);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(block);
    uint64_t stream_pos = 0;
    // Nonzero offsets on purpose: on a pipe they must be ignored, on every backend alike.
    for (uint64_t off : {2 * block, 5 * block, uint64_t{0}}) {
        std::fill(buf.data(), buf.data() + block, 0);
        ASSERT_EQ(fileaio_req_prepare_read(r, t.rfd, static_cast<int64_t>(off), buf.data(), block, nullptr), 0);
        size_t moved = 0;
        int rc = run_one(c, r, &moved);
        EXPECT_EQ(rc, 0) << "read at " << off << ": " << fileaio_errname(rc);
        EXPECT_EQ(moved, block) << "read at " << off;
        EXPECT_TRUE(holds_pattern(buf.data(), block, expected_offset(t, off, stream_pos))) << "read at " << off;
        stream_pos += block;
    }
}

TEST_P(descriptors, a_write_lands_at_its_offset_or_on_a_stream_at_its_position_and_reads_back) {
    constexpr uint32_t seed = 5;
    io_target t;
    OPEN_TARGET(t, 0);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &out = make_buffer(2 * block);
    aligned_buffer &in = make_buffer(2 * block);
    const uint64_t off = 3 * block;
    for (size_t i = 0; i < 2 * block; ++i) out.data()[i] = pattern_byte(off + i, seed);
    // Two writes, one after the other: the second continues the stream on a pipe.
    for (size_t k = 0; k < 2; ++k) {
        ASSERT_EQ(fileaio_req_prepare_write(r, t.wfd, static_cast<int64_t>(off + k * block), out.at(k * block), block,
                                            nullptr),
                  0);
        size_t moved = 0;
        int rc = run_one(c, r, &moved);
        EXPECT_EQ(rc, 0) << "write " << k << ": " << fileaio_errname(rc);
        EXPECT_EQ(moved, block);
    }
    ASSERT_EQ(fileaio_req_prepare_read(r, t.rfd, static_cast<int64_t>(off), in.data(), 2 * block, nullptr), 0);
    size_t moved = 0;
    int rc = run_one(c, r, &moved);
    EXPECT_EQ(rc, 0) << fileaio_errname(rc);
    EXPECT_EQ(moved, 2 * block);
    EXPECT_TRUE(holds_pattern(in.data(), 2 * block, off, seed));
}

TEST_P(descriptors, a_vectored_write_then_a_vectored_read_round_trip) {
    constexpr uint32_t seed = 11;
    io_target t;
    OPEN_TARGET(t, 0);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    const uint64_t off = block;  // nonzero: ignored on a pipe
    // Separate aligned pieces, one of them empty; the read splits the same bytes differently.
    aligned_buffer &p1 = make_buffer(block);
    aligned_buffer &p2 = make_buffer(2 * block);
    aligned_buffer &p3 = make_buffer(block);
    size_t pos = 0;
    for (aligned_buffer *p : {&p1, &p2, &p3})
        for (size_t i = 0; i < p->size(); ++i) p->data()[i] = pattern_byte(off + pos++, seed);
    struct iovec out[4] = {{p1.data(), block}, {nullptr, 0}, {p2.data(), 2 * block}, {p3.data(), block}};
    ASSERT_EQ(fileaio_req_prepare_writev(r, t.wfd, static_cast<int64_t>(off), out, 4, nullptr), 0);
    size_t moved = 0;
    int rc = run_one(c, r, &moved);
    ASSERT_EQ(rc, 0) << fileaio_errname(rc);
    EXPECT_EQ(moved, 4 * block);

    aligned_buffer &q1 = make_buffer(3 * block);
    aligned_buffer &q2 = make_buffer(block);
    struct iovec in[2] = {{q1.data(), 3 * block}, {q2.data(), block}};
    ASSERT_EQ(fileaio_req_prepare_readv(r, t.rfd, static_cast<int64_t>(off), in, 2, nullptr), 0);
    rc = run_one(c, r, &moved);
    ASSERT_EQ(rc, 0) << fileaio_errname(rc);
    EXPECT_EQ(moved, 4 * block);
    EXPECT_TRUE(holds_pattern(q1.data(), 3 * block, off, seed));
    EXPECT_TRUE(holds_pattern(q2.data(), block, off + 3 * block, seed));
}

// End of file ends a read successfully with the bytes there are: for a file, its size; for a
// pipe, its writer having gone.
TEST_P(descriptors, a_read_past_the_end_completes_with_the_bytes_there_are) {
    constexpr size_t size = 1000;
    io_target t;
    OPEN_TARGET(t, size);
    end_of_stream(t);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(block);
    ASSERT_EQ(fileaio_req_prepare_read(r, t.rfd, 0, buf.data(), block, nullptr), 0);
    size_t moved = 0;
    int rc = run_one(c, r, &moved);
    EXPECT_EQ(rc, 0) << fileaio_errname(rc);
    EXPECT_EQ(moved, size);
    EXPECT_TRUE(holds_pattern(buf.data(), size, 0));
    ASSERT_EQ(fileaio_req_prepare_read(r, t.rfd, 2 * block, buf.data(), block, nullptr), 0);
    moved = 99;
    rc = run_one(c, r, &moved);
    EXPECT_EQ(rc, 0) << fileaio_errname(rc);
    EXPECT_EQ(moved, 0u);
}

// Many requests in flight at once, then every byte read back (data_test.cpp does 100 MiB on a
// buffered file; this is the same on every kind, smaller).
TEST_P(descriptors, a_window_of_concurrent_writes_then_reads_round_trips_every_byte) {
    constexpr size_t req_size = 64 * 1024;
    constexpr size_t depth = 32;
    constexpr size_t total = 8u * 1024 * 1024;
    constexpr uint32_t seed = 7;
    io_target t;
    OPEN_TARGET(t, 0);
    if (!t.seekable())
        GTEST_SKIP() << "requests in flight together on one pipe have no order: their bytes interleave as they run";
    fileaio_ctx *c = make_ctx(depth);
    auto r = make_reqs(depth);
    aligned_buffer &buf = make_buffer(depth * req_size);
    for (size_t base = 0; base < total; base += depth * req_size) {
        for (size_t i = 0; i < depth; ++i) {
            for (size_t b = 0; b < req_size; ++b) buf.at(i * req_size)[b] = pattern_byte(base + i * req_size + b, seed);
            ASSERT_EQ(fileaio_req_prepare_write(r[i], t.wfd, static_cast<int64_t>(base + i * req_size),
                                                buf.at(i * req_size), req_size, nullptr),
                      0);
        }
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), depth, nullptr), 0);
        ASSERT_EQ(reap(c, depth).size(), depth);
        for (size_t i = 0; i < depth; ++i) {
            size_t moved = 0;
            int rc = fileaio_req_get_result(r[i], &moved);
            ASSERT_EQ(rc, 0) << fileaio_errname(rc);
            ASSERT_EQ(moved, req_size);
        }
    }
    for (size_t base = 0; base < total; base += depth * req_size) {
        std::fill(buf.data(), buf.data() + buf.size(), 0);
        for (size_t i = 0; i < depth; ++i)
            ASSERT_EQ(fileaio_req_prepare_read(r[i], t.rfd, static_cast<int64_t>(base + i * req_size),
                                               buf.at(i * req_size), req_size, nullptr),
                      0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), depth, nullptr), 0);
        ASSERT_EQ(reap(c, depth).size(), depth);
        for (size_t i = 0; i < depth; ++i) {
            size_t moved = 0;
            int rc = fileaio_req_get_result(r[i], &moved);
            ASSERT_EQ(rc, 0) << fileaio_errname(rc);
            ASSERT_EQ(moved, req_size);
            ASSERT_TRUE(holds_pattern(buf.at(i * req_size), req_size, base + i * req_size, seed));
        }
    }
}

// Flush and data sync move 0 bytes; their result is what fsync/fdatasync say for the descriptor
// (a pipe has no storage: EINVAL), the same on every backend.
TEST_P(descriptors, flush_and_datasync_complete_with_zero_bytes_and_the_kernels_answer) {
    io_target t;
    OPEN_TARGET(t, block);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    int tag = 0;
    ASSERT_EQ(fileaio_req_prepare_flush(r[0], t.wfd, &tag), 0);
    ASSERT_EQ(fileaio_req_prepare_datasync(r[1], t.wfd, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    EXPECT_EQ(reap(c, 2).size(), 2u);
    const int expected = t.seekable() ? 0 : -EINVAL;
    for (fileaio_req *q : r) {
        size_t moved = 9;
        int rc = fileaio_req_get_result(q, &moved);
        EXPECT_EQ(rc, expected) << fileaio_errname(rc);
        EXPECT_EQ(moved, 0u);
    }
    EXPECT_EQ(fileaio_req_get_user(r[0]), &tag);
}

TEST_P(descriptors, a_flush_completes_only_after_every_earlier_write_to_its_fd) {
    io_target t;
    OPEN_TARGET(t, 0);
    if (!t.seekable()) GTEST_SKIP() << "fsync of a pipe fails (EINVAL): a pipe has no flush barrier to observe";
    constexpr size_t writes = 16;
    constexpr int rounds = 5;
    fileaio_ctx *c = make_ctx(writes + 1);
    auto r = make_reqs(writes + 1);
    aligned_buffer &buf = make_buffer(block * writes);
    for (int round = 0; round < rounds; ++round) {
        for (size_t i = 0; i < writes; ++i)
            ASSERT_EQ(fileaio_req_prepare_write(r[i], t.wfd, static_cast<int64_t>(i * block), buf.at(i * block), block,
                                                nullptr),
                      0);
        ASSERT_EQ(fileaio_req_prepare_flush(r[writes], t.wfd, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), writes + 1, nullptr), 0);
        auto done = reap(c, writes + 1);
        ASSERT_EQ(done.size(), writes + 1);
        EXPECT_EQ(done.back(), r[writes]) << "the flush completed before a write it must wait for (round " << round
                                          << ")";
    }
    for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_get_result(q, nullptr), 0);
}

// API.md promises no order between requests of one batch other than a flush's: a read and a
// write of the same range submitted together may run in either order (thread_pool serves a
// cached read on the submitting thread before a write it hands to a worker). What is promised:
// both complete whole, and a read submitted after the write completed sees the written bytes.
TEST_P(descriptors, a_write_and_a_read_of_the_same_range_in_one_batch_both_complete_and_the_write_sticks) {
    constexpr uint32_t seed = 3;
    io_target t;
    OPEN_TARGET(t, 4 * block);
    if (!t.seekable()) GTEST_SKIP() << "a pipe has no ranges: a write and a read of a pipe never overlap";
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    aligned_buffer &out = make_buffer(block);
    aligned_buffer &in = make_buffer(block);
    for (size_t i = 0; i < block; ++i) out.data()[i] = pattern_byte(block + i, seed);
    ASSERT_EQ(fileaio_req_prepare_write(r[0], t.wfd, block, out.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_read(r[1], t.rfd, block, in.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    ASSERT_EQ(reap(c, 2).size(), 2u);
    for (fileaio_req *q : r) {
        size_t moved = 0;
        int rc = fileaio_req_get_result(q, &moved);
        EXPECT_EQ(rc, 0) << fileaio_errname(rc);
        EXPECT_EQ(moved, block);
    }
    std::fill(in.data(), in.data() + block, 0);
    size_t moved = 0;
    ASSERT_EQ(fileaio_req_prepare_read(r[1], t.rfd, block, in.data(), block, nullptr), 0);
    EXPECT_EQ(run_one(c, r[1], &moved), 0);
    EXPECT_TRUE(holds_pattern(in.data(), block, block, seed)) << "a completed write did not stick";
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND_AND_KIND(descriptors);

}  // namespace
}  // namespace fileaio::test
