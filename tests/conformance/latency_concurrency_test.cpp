// API.md "Latency": readable from any thread while I/O runs. A reader thread reads the histogram
// (and the raw buckets) all the time while the test's thread submits and waits; what it sees never
// goes backwards and never passes what will be reaped, and the end is exact. A second context has a
// thread that resets now and then: counts after the last reset are exact again.
#include <atomic>
#include <thread>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;
constexpr size_t depth = 8;
constexpr size_t rounds = 400;

class latency_concurrency : public backend_test {
protected:
    // Reads depth requests per round, reaping each round whole; `between` runs after each round.
    template <class F>
    void read_rounds(fileaio_ctx *c, int fd, std::vector<fileaio_req *> &reqs, std::vector<char> &bufs, F &&between) {
        for (size_t round = 0; round < rounds; ++round) {
            for (size_t i = 0; i < depth; ++i)
                ASSERT_EQ(fileaio_req_prepare_read(reqs[i], fd, static_cast<int64_t>(i * block),
                                                   bufs.data() + i * block, block, nullptr),
                          0);
            ASSERT_EQ(fileaio_ctx_submit(c, reqs.data(), depth, nullptr), 0);
            ASSERT_EQ(reap(c, depth).size(), depth);
            between(round);
        }
    }
};

TEST_P(latency_concurrency, a_reader_thread_sees_counts_grow_while_io_runs) {
    fileaio_ctx *c = make_ctx(depth, FILEAIO_CTX_LATENCY);
    ASSERT_NE(c, nullptr);
    const int fd = pattern_file("f", depth * block);
    auto reqs = make_reqs(depth);
    std::vector<char> bufs(depth * block);
    std::atomic<bool> done{false};
    std::atomic<size_t> reads_seen{0};
    std::atomic<bool> went_back{false}, too_many{false}, bad_code{false}, unordered{false};
    std::thread reader([&] {
        uint64_t last = 0;
        std::vector<uint64_t> counts;
        size_t n = 0;
        if (fileaio_ctx_get_latency_buckets(c, FILEAIO_LATENCY_READ, nullptr, 0, &n) != 0) bad_code = true;
        counts.resize(n);
        while (!done.load()) {
            fileaio_latency l{};
            l.size = sizeof l;
            if (fileaio_ctx_get_latency(c, FILEAIO_LATENCY_READ, &l) != 0) bad_code = true;
            if (l.count < last) went_back = true;
            if (l.count > rounds * depth) too_many = true;  // never more than will ever be reaped
            if (l.count != 0 && (l.min_ns > l.p50_ns || l.p50_ns > l.max_ns)) unordered = true;
            last = l.count;
            if (fileaio_ctx_get_latency_buckets(c, FILEAIO_LATENCY_READ, counts.data(), n, &n) != 0) bad_code = true;
            reads_seen.fetch_add(1);
        }
    });
    // The reader has read once before the I/O begins (a handshake, not a guess at timing), so
    // it is reading while the rounds run unless the scheduler keeps it off the CPU meanwhile.
    while (reads_seen.load() == 0) std::this_thread::yield();
    read_rounds(c, fd, reqs, bufs, [](size_t) {});
    done = true;
    reader.join();
    EXPECT_FALSE(went_back.load());
    EXPECT_FALSE(too_many.load());
    EXPECT_FALSE(bad_code.load());
    EXPECT_FALSE(unordered.load());
    fileaio_latency l{};
    l.size = sizeof l;
    ASSERT_EQ(fileaio_ctx_get_latency(c, FILEAIO_LATENCY_READ, &l), 0);
    EXPECT_EQ(l.count, rounds * depth);
    EXPECT_GT(reads_seen.load(), 0u);
}

TEST_P(latency_concurrency, resets_from_another_thread_while_io_runs_leave_exact_counts_after) {
    fileaio_ctx *c = make_ctx(depth, FILEAIO_CTX_LATENCY);
    ASSERT_NE(c, nullptr);
    const int fd = pattern_file("f", depth * block);
    auto reqs = make_reqs(depth);
    std::vector<char> bufs(depth * block);
    std::atomic<bool> done{false};
    std::thread resetter([&] {
        while (!done.load()) {
            EXPECT_EQ(fileaio_ctx_reset_latency(c), 0);
            std::this_thread::yield();
        }
    });
    read_rounds(c, fd, reqs, bufs, [](size_t) {});
    done = true;
    resetter.join();
    // Nothing runs now: a reset, then one round, is exactly one round.
    ASSERT_EQ(fileaio_ctx_reset_latency(c), 0);
    for (size_t i = 0; i < depth; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(reqs[i], fd, 0, bufs.data() + i * block, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, reqs.data(), depth, nullptr), 0);
    ASSERT_EQ(reap(c, depth).size(), depth);
    fileaio_latency l{};
    l.size = sizeof l;
    ASSERT_EQ(fileaio_ctx_get_latency(c, FILEAIO_LATENCY_READ, &l), 0);
    EXPECT_EQ(l.count, depth);
    EXPECT_LE(l.min_ns, l.max_ns);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(latency_concurrency);

}  // namespace
}  // namespace fileaio::test
