// API.md "Requests": the state machine, prepare's validation, results.
#include <climits>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using requests = backend_test;

constexpr size_t block = 4096;

TEST_P(requests, new_request_is_completed_with_zero_result_and_null_user) {
    fileaio_req *r = make_req();
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_COMPLETED);
    size_t moved = 123;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, 0u);
    EXPECT_EQ(fileaio_req_get_user(r), nullptr);
}

TEST_P(requests, new_unprepared_request_is_refused_by_submit) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    size_t submitted = 99;
    EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, &submitted), FILEAIO_E_NOT_PREPARED);
    EXPECT_EQ(submitted, 0u);
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_COMPLETED);
}

TEST_P(requests, prepare_rejects_each_invalid_argument_and_leaves_request_unchanged) {
    fileaio_req *r = make_req();
    char buf[16];
    int tag = 0;
    ASSERT_EQ(fileaio_req_prepare_read(r, 0, 0, buf, sizeof buf, &tag), 0);
    const int64_t max_off = std::numeric_limits<int64_t>::max();
    struct iovec good[2] = {{buf, 8}, {buf + 8, 8}};
    struct iovec null_base[2] = {{buf, 8}, {nullptr, 8}};
    struct iovec zero_total[2] = {{buf, 0}, {nullptr, 0}};
    struct iovec overflow[2] = {{buf, static_cast<size_t>(SSIZE_MAX)}, {buf, 2}};
    std::vector<struct iovec> too_many(IOV_MAX + 1, {buf, 1});
    (void)good;

    struct bad_case {
        const char *what;
        int rc;
    } cases[] = {
        {"read fd<0", fileaio_req_prepare_read(r, -1, 0, buf, 1, nullptr)},
        {"read offset<0", fileaio_req_prepare_read(r, 0, -1, buf, 1, nullptr)},
        {"read buf NULL", fileaio_req_prepare_read(r, 0, 0, nullptr, 1, nullptr)},
        {"read size 0", fileaio_req_prepare_read(r, 0, 0, buf, 0, nullptr)},
        {"read size > SSIZE_MAX", fileaio_req_prepare_read(r, 0, 0, buf, static_cast<size_t>(SSIZE_MAX) + 1, nullptr)},
        {"read offset+size overflows", fileaio_req_prepare_read(r, 0, max_off, buf, 2, nullptr)},
        {"write fd<0", fileaio_req_prepare_write(r, -1, 0, buf, 1, nullptr)},
        {"write offset<0", fileaio_req_prepare_write(r, 0, -5, buf, 1, nullptr)},
        {"write buf NULL", fileaio_req_prepare_write(r, 0, 0, nullptr, 1, nullptr)},
        {"write size 0", fileaio_req_prepare_write(r, 0, 0, buf, 0, nullptr)},
        {"write offset+size overflows", fileaio_req_prepare_write(r, 0, max_off - 1, buf, 3, nullptr)},
        {"readv iov NULL", fileaio_req_prepare_readv(r, 0, 0, nullptr, 1, nullptr)},
        {"readv iovcnt 0", fileaio_req_prepare_readv(r, 0, 0, good, 0, nullptr)},
        {"readv iovcnt < 0", fileaio_req_prepare_readv(r, 0, 0, good, -1, nullptr)},
        {"readv iovcnt > IOV_MAX", fileaio_req_prepare_readv(r, 0, 0, too_many.data(), IOV_MAX + 1, nullptr)},
        {"readv NULL base", fileaio_req_prepare_readv(r, 0, 0, null_base, 2, nullptr)},
        {"readv total 0", fileaio_req_prepare_readv(r, 0, 0, zero_total, 2, nullptr)},
        {"readv total overflows", fileaio_req_prepare_readv(r, 0, 0, overflow, 2, nullptr)},
        {"readv fd<0", fileaio_req_prepare_readv(r, -1, 0, good, 2, nullptr)},
        {"writev offset<0", fileaio_req_prepare_writev(r, 0, -1, good, 2, nullptr)},
        {"writev offset+total overflows", fileaio_req_prepare_writev(r, 0, max_off - 8, good, 2, nullptr)},
        {"flush fd<0", fileaio_req_prepare_flush(r, -1, nullptr)},
        {"datasync fd<0", fileaio_req_prepare_datasync(r, -1, nullptr)},
    };
    for (const bad_case &c : cases) {
        EXPECT_EQ(c.rc, FILEAIO_E_INVALID_PARAMETER) << c.what << ": " << fileaio_errname(c.rc);
        EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_PREPARED) << c.what;
        EXPECT_EQ(fileaio_req_get_user(r), &tag) << c.what;
    }
}

TEST_P(requests, prepare_accepts_any_open_or_closed_fd_and_the_kernel_decides) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int fd = pattern_file("f", block);
    int closed = ::dup(fd);
    ::close(closed);
    char buf[block];
    ASSERT_EQ(fileaio_req_prepare_read(r, closed, 0, buf, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    size_t moved = 7;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), -EBADF);
    EXPECT_EQ(moved, 0u);
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.failed, 1u);
}

TEST_P(requests, state_machine_rows_for_submitted_request) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int fd = pattern_file("f", block);
    char buf[block];
    int tag = 0;
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf, block, &tag), 0);
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_PREPARED);
    EXPECT_EQ(fileaio_req_get_result(r, nullptr), FILEAIO_E_NOT_SUBMITTED);
    EXPECT_EQ(fileaio_req_cancel(r), FILEAIO_E_NOT_SUBMITTED);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);

    // SUBMITTED until a wait returns it, however fast the I/O was.
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED);
    EXPECT_EQ(fileaio_req_get_user(r), &tag);
    EXPECT_EQ(fileaio_req_get_result(r, nullptr), FILEAIO_E_IN_PROGRESS);
    EXPECT_EQ(fileaio_req_prepare_read(r, fd, 0, buf, 1, nullptr), FILEAIO_E_IN_PROGRESS);
    EXPECT_EQ(fileaio_req_get_user(r), &tag) << "a refused prepare changed the request";
    EXPECT_EQ(fileaio_req_destroy(r), FILEAIO_E_IN_PROGRESS);
    EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), FILEAIO_E_IN_PROGRESS);

    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r);
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_COMPLETED);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, block);
    EXPECT_EQ(fileaio_req_cancel(r), FILEAIO_E_NOT_SUBMITTED);
    EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), FILEAIO_E_NOT_PREPARED);
    // COMPLETED -> PREPARED, and it can run again.
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, block / 2, buf, block / 2, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, block / 2);
    EXPECT_EQ(static_cast<unsigned char>(buf[0]), pattern_byte(block / 2));
}

// Unaligned, odd-sized pieces on a buffered file; descriptor_test.cpp runs aligned ones on every
// descriptor kind.
TEST_P(requests, vectored_write_then_vectored_read_round_trips) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    int fd = pattern_file("f", 0);
    // Odd-sized pieces, one empty, spread over separate buffers.
    std::vector<char> p1(1000, 'a'), p2(3096, 'b'), p3(8192, 'c');
    struct iovec out[4] = {{p1.data(), p1.size()}, {nullptr, 0}, {p2.data(), p2.size()}, {p3.data(), p3.size()}};
    ASSERT_EQ(fileaio_req_prepare_writev(r, fd, 512, out, 4, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    size_t moved = 0;
    ASSERT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, 1000u + 3096u + 8192u);

    std::vector<char> q1(4000), q2(8288);
    struct iovec in[2] = {{q1.data(), q1.size()}, {q2.data(), q2.size()}};
    ASSERT_EQ(fileaio_req_prepare_readv(r, fd, 512, in, 2, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    reap(c, 1);
    ASSERT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, 12288u);
    std::string all = std::string(q1.begin(), q1.end()) + std::string(q2.begin(), q2.end());
    EXPECT_EQ(all, std::string(1000, 'a') + std::string(3096, 'b') + std::string(8192, 'c'));
}

// Many writes and many rounds on a buffered file (load); descriptor_test.cpp runs fewer on every
// descriptor kind, and asynchrony_test.cpp proves from the file system's side that the fsync
// comes after the writes.
TEST_P(requests, flush_completes_only_after_every_earlier_write_to_its_fd) {
    constexpr size_t writes = 48;
    constexpr int rounds = 20;
    fileaio_ctx *c = make_ctx(writes + 1);
    auto r = make_reqs(writes + 1);
    int fd = pattern_file("f", 0);
    std::vector<char> buf(block * writes, 'x');
    for (int round = 0; round < rounds; ++round) {
        for (size_t i = 0; i < writes; ++i)
            ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block,
                                                block, nullptr),
                      0);
        ASSERT_EQ(fileaio_req_prepare_flush(r[writes], fd, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), writes + 1, nullptr), 0);
        // Completions are handed back in the order they happened: the flush comes last.
        auto done = reap(c, writes + 1);
        ASSERT_EQ(done.size(), writes + 1);
        EXPECT_EQ(done.back(), r[writes]) << "the flush completed before a write it must wait for (round " << round
                                          << ")";
    }
    for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_get_result(q, nullptr), 0);
}

TEST_P(requests, destroy_of_submitted_request_is_refused_then_allowed_after_wait) {
    fileaio_ctx *c = make_ctx(1);
    fileaio_req *r = nullptr;
    ASSERT_EQ(fileaio_req_create(&r), 0);
    int fd = pattern_file("f", block);
    char buf[block];
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    EXPECT_EQ(fileaio_req_destroy(r), FILEAIO_E_IN_PROGRESS);
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED);
    reap(c, 1);
    EXPECT_EQ(fileaio_req_destroy(r), 0);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(requests);

}  // namespace
}  // namespace fileaio::test
