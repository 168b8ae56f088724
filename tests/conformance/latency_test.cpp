// API.md "Latency": the per-context submit-to-completion histogram, on every backend. Counts per
// operation are exact; off records nothing; bad input gets its code; reset starts afresh. (No
// timing is asserted: only that the figures are ordered and bounded by what was measured around.)
#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using latency = backend_test;

constexpr size_t block = 4096;

uint64_t now_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

fileaio_latency read_latency(fileaio_ctx *c, int op) {
    fileaio_latency l{};
    l.size = sizeof l;
    EXPECT_EQ(fileaio_ctx_get_latency(c, op, &l), 0);
    return l;
}

class latency_run : public latency {
protected:
    // Submits `reads` reads, `writes` writes and `flushes` flushes (in batches of up to 8, mixed),
    // reaping each batch before the next; returns the wall time the whole thing took.
    uint64_t run(fileaio_ctx *c, size_t reads, size_t writes, size_t flushes) {
        const int fd = pattern_file("f", 16 * block);
        auto reqs = make_reqs(8);
        std::vector<char> bufs(8 * block);
        const uint64_t t0 = now_ns();
        size_t r = 0, w = 0, f = 0;
        while (r < reads || w < writes || f < flushes) {
            size_t n = 0;
            while (n < 8 && (r < reads || w < writes || f < flushes)) {
                char *buf = bufs.data() + n * block;
                const auto off = static_cast<int64_t>((r + w) % 16 * block);
                if (r < reads && (n % 3 == 0 || (w >= writes && f >= flushes))) {
                    EXPECT_EQ(fileaio_req_prepare_read(reqs[n], fd, off, buf, block, nullptr), 0);
                    ++r;
                } else if (w < writes && (n % 3 == 1 || f >= flushes)) {
                    EXPECT_EQ(fileaio_req_prepare_write(reqs[n], fd, off, buf, block, nullptr), 0);
                    ++w;
                } else if (f < flushes) {
                    EXPECT_EQ((f % 2 == 0 ? fileaio_req_prepare_flush : fileaio_req_prepare_datasync)(reqs[n], fd, nullptr),
                              0);
                    ++f;
                } else {
                    continue;
                }
                ++n;
            }
            EXPECT_EQ(fileaio_ctx_submit(c, reqs.data(), n, nullptr), 0);
            EXPECT_EQ(reap(c, n).size(), n);
        }
        return now_ns() - t0;
    }
};

TEST_P(latency_run, counts_every_operation_exactly) {
    fileaio_ctx *c = make_ctx(8, FILEAIO_CTX_LATENCY);
    ASSERT_NE(c, nullptr);
    const uint64_t wall = run(c, 37, 21, 6);
    const fileaio_latency rd = read_latency(c, FILEAIO_LATENCY_READ);
    const fileaio_latency wr = read_latency(c, FILEAIO_LATENCY_WRITE);
    const fileaio_latency sy = read_latency(c, FILEAIO_LATENCY_SYNC);
    EXPECT_EQ(rd.count, 37u);
    EXPECT_EQ(wr.count, 21u);
    EXPECT_EQ(sy.count, 6u);
    for (const fileaio_latency &l : {rd, wr, sy}) {
        EXPECT_EQ(l.size, sizeof l);
        EXPECT_EQ(l.enabled, 1u);
        EXPECT_GT(l.min_ns, 0u);
        EXPECT_LE(l.min_ns, l.p50_ns);
        EXPECT_LE(l.p50_ns, l.p90_ns);
        EXPECT_LE(l.p90_ns, l.p99_ns);
        EXPECT_LE(l.p99_ns, l.p999_ns);
        EXPECT_LE(l.p999_ns, l.p9999_ns);
        EXPECT_LE(l.p9999_ns, l.max_ns);
        EXPECT_LE(l.min_ns, l.mean_ns);
        EXPECT_LE(l.mean_ns, l.max_ns);
        EXPECT_LE(l.max_ns, wall);  // no request took longer than the whole run
    }
    // The raw buckets add up to the same counts.
    size_t n = 0;
    ASSERT_EQ(fileaio_ctx_get_latency_buckets(c, FILEAIO_LATENCY_WRITE, nullptr, 0, &n), 0);
    ASSERT_GT(n, 0u);
    std::vector<uint64_t> counts(n);
    ASSERT_EQ(fileaio_ctx_get_latency_buckets(c, FILEAIO_LATENCY_WRITE, counts.data(), n, &n), 0);
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
        total += counts[i];
        if (counts[i] != 0) {
            EXPECT_LE(fileaio_latency_bucket_low(i), wr.max_ns);
            EXPECT_GT(fileaio_latency_bucket_low(i + 1), wr.min_ns);
        }
    }
    EXPECT_EQ(total, 21u);
    EXPECT_EQ(fileaio_latency_bucket_low(n), UINT64_MAX);
}

TEST_P(latency_run, off_records_nothing_and_switches_on_and_off) {
    fileaio_ctx *c = make_ctx(8);
    ASSERT_NE(c, nullptr);
    run(c, 5, 5, 2);
    for (int op : {FILEAIO_LATENCY_READ, FILEAIO_LATENCY_WRITE, FILEAIO_LATENCY_SYNC}) {
        const fileaio_latency l = read_latency(c, op);
        EXPECT_EQ(l.enabled, 0u);
        EXPECT_EQ(l.count, 0u);
        EXPECT_EQ(l.max_ns, 0u);
        EXPECT_EQ(l.p99_ns, 0u);
    }
    ASSERT_EQ(fileaio_ctx_set_latency(c, 1), 0);
    run(c, 4, 3, 2);
    EXPECT_EQ(read_latency(c, FILEAIO_LATENCY_READ).count, 4u);
    EXPECT_EQ(read_latency(c, FILEAIO_LATENCY_WRITE).count, 3u);
    EXPECT_EQ(read_latency(c, FILEAIO_LATENCY_SYNC).count, 2u);
    ASSERT_EQ(fileaio_ctx_set_latency(c, 0), 0);
    run(c, 4, 3, 2);
    const fileaio_latency off = read_latency(c, FILEAIO_LATENCY_READ);
    EXPECT_EQ(off.enabled, 0u);
    EXPECT_EQ(off.count, 4u);  // kept, not added to
}

TEST_P(latency_run, reset_starts_afresh_and_recording_goes_on) {
    fileaio_ctx *c = make_ctx(8, FILEAIO_CTX_LATENCY);
    ASSERT_NE(c, nullptr);
    run(c, 10, 10, 2);
    ASSERT_EQ(fileaio_ctx_reset_latency(c), 0);
    for (int op : {FILEAIO_LATENCY_READ, FILEAIO_LATENCY_WRITE, FILEAIO_LATENCY_SYNC}) {
        const fileaio_latency l = read_latency(c, op);
        EXPECT_EQ(l.count, 0u);
        EXPECT_EQ(l.min_ns, 0u);
        EXPECT_EQ(l.max_ns, 0u);
        EXPECT_EQ(l.mean_ns, 0u);
        EXPECT_EQ(l.enabled, 1u);
    }
    run(c, 3, 0, 1);
    EXPECT_EQ(read_latency(c, FILEAIO_LATENCY_READ).count, 3u);
    EXPECT_EQ(read_latency(c, FILEAIO_LATENCY_WRITE).count, 0u);
    EXPECT_EQ(read_latency(c, FILEAIO_LATENCY_SYNC).count, 1u);
    const fileaio_latency l = read_latency(c, FILEAIO_LATENCY_READ);
    EXPECT_LE(l.min_ns, l.max_ns);
    EXPECT_GT(l.min_ns, 0u);
}

TEST_P(latency, bad_input_gets_clear_codes) {
    fileaio_ctx *c = make_ctx(8, FILEAIO_CTX_LATENCY);
    ASSERT_NE(c, nullptr);
    fileaio_latency l{};
    l.size = sizeof l;
    EXPECT_EQ(fileaio_ctx_get_latency(nullptr, FILEAIO_LATENCY_READ, &l), FILEAIO_E_INVALID_HANDLE);
    EXPECT_EQ(fileaio_ctx_get_latency(c, FILEAIO_LATENCY_READ, nullptr), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_ctx_get_latency(c, 3, &l), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_ctx_get_latency(c, -1, &l), FILEAIO_E_INVALID_PARAMETER);
    fileaio_latency small{};
    small.size = sizeof(size_t);
    EXPECT_EQ(fileaio_ctx_get_latency(c, FILEAIO_LATENCY_READ, &small), FILEAIO_E_INVALID_PARAMETER);
    small.size = 0;
    EXPECT_EQ(fileaio_ctx_get_latency(c, FILEAIO_LATENCY_READ, &small), FILEAIO_E_INVALID_PARAMETER);
    // A newer caller's longer struct: what this library does not know of it reads 0.
    struct {
        fileaio_latency base;
        uint64_t future[4];
    } newer;
    std::memset(&newer, 0xab, sizeof newer);
    newer.base.size = sizeof newer;
    ASSERT_EQ(fileaio_ctx_get_latency(c, FILEAIO_LATENCY_READ, &newer.base), 0);
    EXPECT_EQ(newer.base.size, sizeof(fileaio_latency));
    for (uint64_t v : newer.future) EXPECT_EQ(v, 0u);
    EXPECT_EQ(newer.base.count, 0u);

    size_t n = 0;
    uint64_t few[4];
    EXPECT_EQ(fileaio_ctx_get_latency_buckets(nullptr, 0, few, 4, &n), FILEAIO_E_INVALID_HANDLE);
    EXPECT_EQ(fileaio_ctx_get_latency_buckets(c, 0, few, 4, nullptr), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_ctx_get_latency_buckets(c, 0, nullptr, 4, &n), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_ctx_get_latency_buckets(c, 7, few, 4, &n), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_ctx_get_latency_buckets(c, 0, few, 4, &n), FILEAIO_E_OUT_OF_RANGE);
    EXPECT_GT(n, 4u);
    EXPECT_EQ(fileaio_ctx_set_latency(nullptr, 1), FILEAIO_E_INVALID_HANDLE);
    EXPECT_EQ(fileaio_ctx_reset_latency(nullptr), FILEAIO_E_INVALID_HANDLE);
    // A context that never recorded answers, with zeros.
    fileaio_ctx *quiet = make_ctx(8);
    ASSERT_EQ(fileaio_ctx_get_latency_buckets(quiet, 0, nullptr, 0, &n), 0);
    std::vector<uint64_t> counts(n, 7);
    ASSERT_EQ(fileaio_ctx_get_latency_buckets(quiet, 0, counts.data(), n, &n), 0);
    EXPECT_TRUE(std::all_of(counts.begin(), counts.end(), [](uint64_t v) { return v == 0; }));
    EXPECT_EQ(fileaio_ctx_reset_latency(quiet), 0);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(latency);
FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(latency_run);

}  // namespace
}  // namespace fileaio::test
