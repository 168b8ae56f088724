// Data integrity: every byte written through the library reads back through it.
#include <sys/mman.h>

#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using data = backend_test;

TEST_P(data, write_then_read_100_mib_in_64_kib_requests_reads_back_every_byte) {
    constexpr size_t req_size = 64 * 1024;
    constexpr size_t total = 100u * 1024 * 1024;
    constexpr size_t depth = 32;
    fileaio_ctx *c = make_ctx(depth);
    auto r = make_reqs(depth);
    int fd = pattern_file("f", 0);
    std::vector<unsigned char> buf(depth * req_size);

    // Write pass: a whole batch, then wait for the whole batch.
    for (size_t base = 0; base < total; base += depth * req_size) {
        size_t n = std::min(depth, (total - base) / req_size);
        for (size_t i = 0; i < n; ++i) {
            size_t off = base + i * req_size;
            unsigned char *p = buf.data() + i * req_size;
            for (size_t b = 0; b < req_size; ++b) p[b] = pattern_byte(off + b, 7);
            ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(off), p, req_size, nullptr), 0);
        }
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        auto done = reap(c, n);
        ASSERT_EQ(done.size(), n);
        for (size_t i = 0; i < n; ++i) {
            size_t moved = 0;
            ASSERT_EQ(fileaio_req_get_result(r[i], &moved), 0);
            ASSERT_EQ(moved, req_size);
        }
    }
    fileaio_req *flush = r[0];
    ASSERT_EQ(fileaio_req_prepare_flush(flush, fd, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &flush, 1, nullptr), 0);
    reap(c, 1);
    ASSERT_EQ(fileaio_req_get_result(flush, nullptr), 0);

    // Read pass, into a cleared buffer.
    for (size_t base = 0; base < total; base += depth * req_size) {
        size_t n = std::min(depth, (total - base) / req_size);
        std::fill(buf.begin(), buf.end(), 0);
        for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(base + i * req_size),
                                               buf.data() + i * req_size, req_size, nullptr),
                      0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        reap(c, n);
        for (size_t i = 0; i < n; ++i) {
            size_t moved = 0;
            ASSERT_EQ(fileaio_req_get_result(r[i], &moved), 0);
            ASSERT_EQ(moved, req_size);
            const unsigned char *p = buf.data() + i * req_size;
            size_t off = base + i * req_size;
            for (size_t b = 0; b < req_size; ++b)
                if (p[b] != pattern_byte(off + b, 7)) FAIL() << "byte at offset " << off + b << " differs";
        }
    }
}

// Linux moves at most MAX_RW_COUNT (2 GiB - 4 KiB) per read or write call, so a larger request
// always comes back short from the kernel: the library must continue it until it is whole.
TEST_P(data, transfers_longer_than_one_system_call_can_move_are_continued_until_whole) {
    constexpr size_t max_rw_count = 0x7ffff000;
    constexpr size_t total = max_rw_count + 3 * 1024 * 1024 + 512;  // odd tail
    constexpr size_t split = 1024 * 1024 * 1024 + 100;              // an iovec boundary mid-way
    fileaio_ctx *c = make_ctx(2);
    auto r = make_reqs(2);  // r[1]: a vectored read, whose cut falls inside its second element
    int fd = pattern_file("sparse", 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(total)), 0);
    // Marks where a wrong continuation would show: around the kernel's cut and at the very end.
    const size_t marks[] = {0, split - 1, max_rw_count - 1, max_rw_count, max_rw_count + 4095, total - 1};
    for (size_t m : marks) {
        unsigned char b = static_cast<unsigned char>(pattern_byte(m) | 1);
        ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(m)), 1);
    }
    void *mem = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) GTEST_SKIP() << "cannot map " << total << " bytes for the buffer";
    ::madvise(mem, total, MADV_HUGEPAGE);  // fewer page faults: this test is about the I/O
    auto *buf = static_cast<unsigned char *>(mem);
    struct iovec iov[2] = {{buf, split}, {buf + split, total - split}};
    size_t moved = 0;
    ASSERT_EQ(fileaio_req_prepare_readv(r[1], fd, 0, iov, 2, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r[1], 1, nullptr), 0);
    // 2 GiB into fresh anonymous memory: seconds alone, far more on a loaded machine under ASan.
    reap(c, 1, 10 * long_timeout_ms);
    EXPECT_EQ(fileaio_req_get_result(r[1], &moved), 0);
    EXPECT_EQ(moved, total);
    for (size_t m : marks) EXPECT_EQ(buf[m], static_cast<unsigned char>(pattern_byte(m) | 1)) << "offset " << m;
    ::munmap(mem, total);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(data);

}  // namespace
}  // namespace fileaio::test
