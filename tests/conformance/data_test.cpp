// Data integrity: every byte written through the library reads back through it.
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

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(data);

}  // namespace
}  // namespace fileaio::test
