// API.md "Results": an I/O error from the file system completes the request with -errno through
// wait, is counted in stats.failed, touches nothing else, and the context keeps working. The
// errors are real: the FUSE test filesystem's `eio` file fails every read or write whose range
// contains an offset the test chose.
#include <cerrno>
#include <vector>

#include "fuse_fixture.hpp"

namespace fileaio::test {
namespace {

using eio = fuse_backend_test;

constexpr size_t block = 4096;
constexpr size_t blocks = 6;
constexpr size_t bad_block = 2;
constexpr uint64_t bad_offset = bad_block * block + 100;  // inside bad_block, not at its start
constexpr uint32_t write_seed = 9;

uint64_t failed(fileaio_ctx *c) {
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    return st.failed;
}

TEST_P(eio, a_read_touching_a_failing_offset_completes_with_eio_and_its_neighbours_succeed) {
    fileaio_ctx *c = make_ctx(16);
    // blocks reads of one block each, plus one that straddles into the bad block from below.
    auto r = make_reqs(blocks + 1);
    int fd = open_on_fs(fs_->eio_path(), O_RDWR);
    ASSERT_GE(fd, 0);
    fs_->fail_at(bad_offset);
    aligned_buffer &buf = make_buffer((blocks + 1) * block);
    for (size_t i = 0; i < blocks; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * block), buf.at(i * block), block,
                                           nullptr),
                  0);
    constexpr uint64_t straddle = bad_block * block - block / 2;
    ASSERT_EQ(fileaio_req_prepare_read(r[blocks], fd, straddle, buf.at(blocks * block), block, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, r.data(), r.size()));
    auto done = reap(c, r.size());
    ASSERT_EQ(done.size(), r.size());

    for (size_t i = 0; i <= blocks; ++i) {
        size_t moved = 99;
        int rc = fileaio_req_get_result(r[i], &moved);
        if (i == bad_block || i == blocks) {
            EXPECT_EQ(rc, -EIO) << "read " << i << ": " << fileaio_errname(rc);
            EXPECT_EQ(moved, 0u) << "read " << i;
        } else {
            EXPECT_EQ(rc, 0) << "read " << i << ": " << fileaio_errname(rc);
            EXPECT_EQ(moved, block) << "read " << i;
            EXPECT_TRUE(holds_pattern(buf.at(i * block), block, i * block)) << "read " << i;
        }
    }
    EXPECT_EQ(failed(c), 2u);
    EXPECT_EQ(fs_->eio_failures(), 2u) << "the failures did not come from the file system";

    // The context keeps working.
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, buf.at(0), block, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, r.data(), 1));
    ASSERT_EQ(reap(c, 1).size(), 1u);
    EXPECT_EQ(fileaio_req_get_result(r[0], nullptr), 0);
    EXPECT_EQ(failed(c), 2u);
}

TEST_P(eio, a_write_touching_a_failing_offset_completes_with_eio_and_the_others_are_stored) {
    fileaio_ctx *c = make_ctx(16);
    auto r = make_reqs(blocks);
    int fd = open_on_fs(fs_->eio_path(), O_RDWR);
    ASSERT_GE(fd, 0);
    fs_->fail_at(bad_offset);
    aligned_buffer &out = make_buffer(blocks * block);
    for (size_t i = 0; i < blocks * block; ++i) out.data()[i] = pattern_byte(i, write_seed);
    for (size_t i = 0; i < blocks; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), out.at(i * block), block,
                                            nullptr),
                  0);
    ASSERT_TRUE(submit_promptly(c, r.data(), r.size()));
    ASSERT_EQ(reap(c, r.size()).size(), r.size());
    for (size_t i = 0; i < blocks; ++i) {
        size_t moved = 99;
        int rc = fileaio_req_get_result(r[i], &moved);
        EXPECT_EQ(rc, i == bad_block ? -EIO : 0) << "write " << i << ": " << fileaio_errname(rc);
        EXPECT_EQ(moved, i == bad_block ? 0 : block) << "write " << i;
    }
    EXPECT_EQ(failed(c), 1u);

    // Every write reported done is stored; the failed block still fails (and is still unwritten).
    aligned_buffer &in = make_buffer(blocks * block);
    for (size_t i = 0; i < blocks; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * block), in.at(i * block), block,
                                           nullptr),
                  0);
    ASSERT_TRUE(submit_promptly(c, r.data(), r.size()));
    ASSERT_EQ(reap(c, r.size()).size(), r.size());
    for (size_t i = 0; i < blocks; ++i) {
        size_t moved = 99;
        int rc = fileaio_req_get_result(r[i], &moved);
        if (i == bad_block) {
            EXPECT_EQ(rc, -EIO) << fileaio_errname(rc);
            EXPECT_EQ(moved, 0u);
        } else {
            EXPECT_EQ(rc, 0) << "read " << i << ": " << fileaio_errname(rc);
            EXPECT_EQ(moved, block) << "read " << i;
            EXPECT_TRUE(holds_pattern(in.at(i * block), block, i * block, write_seed)) << "block " << i;
        }
    }
    EXPECT_EQ(failed(c), 2u);
    EXPECT_EQ(fs_->eio_failures(), 2u);
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.completed, 2 * blocks);
    EXPECT_EQ(st.pending, 0u);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(eio);

}  // namespace
}  // namespace fileaio::test
