// Requests that move between contexts while other threads cancel them (API.md "Asynchrony": a
// request returned by one context's wait may be submitted to another at once, while other threads
// still cancel or wait on the first, and every rule holds for both). 48 requests bounce between two
// contexts: each context's waiter submits what it gets to the other one, and a third thread cancels
// random requests and submits again what it stopped. Every report (a wait returning a request, or
// a cancel answering 0) must match exactly one submission; the counters never wrap; both contexts
// end empty and can be destroyed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using cross_context = backend_test;
using std::chrono::milliseconds;

constexpr size_t block = 4096;
constexpr size_t requests = 48;
constexpr uint32_t max_reqs = 64;
constexpr auto run_time = std::chrono::seconds(3);
constexpr auto drain_limit = std::chrono::seconds(60);  // liveness: a lost request never drains
constexpr uint32_t wait_slice_ms = 20;

struct bouncing {
    fileaio_req *req = nullptr;
    int64_t offset = 0;
    unsigned char *buf = nullptr;
    std::atomic<int> in_flight{0};     // submissions not yet reported: 0 or 1, never else
    std::atomic<uint64_t> rounds{0};   // submissions in all
    std::atomic<uint64_t> reports{0};  // waits and successful cancels in all
};

unsigned char pattern_byte(int64_t offset, size_t i) {
    return static_cast<unsigned char>((static_cast<uint64_t>(offset) / block * 131 + i * 7) & 0xff);
}

TEST_P(cross_context, requests_bouncing_between_contexts_while_cancelled_are_reported_exactly_once) {
    fileaio_ctx *ctx[2] = {make_ctx(max_reqs, FILEAIO_CTX_WAIT_WITHOUT_PENDING),
                           make_ctx(max_reqs, FILEAIO_CTX_WAIT_WITHOUT_PENDING)};
    const std::string path = dir_.path() + "/bounce";
    int fd = keep_fd(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_GE(fd, 0);
    std::vector<unsigned char> content(requests * block);
    for (size_t b = 0; b < requests; ++b)
        for (size_t i = 0; i < block; ++i) content[b * block + i] = pattern_byte(static_cast<int64_t>(b * block), i);
    ASSERT_EQ(pwrite(fd, content.data(), content.size(), 0), static_cast<ssize_t>(content.size()));

    auto *memory = static_cast<unsigned char *>(std::aligned_alloc(block, requests * block));
    ASSERT_NE(memory, nullptr);
    std::vector<bouncing> reqs(requests);
    std::vector<fileaio_req *> handles = make_reqs(requests);
    for (size_t i = 0; i < requests; ++i) {
        reqs[i].req = handles[i];
        reqs[i].offset = static_cast<int64_t>(i * block);
        reqs[i].buf = memory + i * block;
    }

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> outstanding{0};
    std::atomic<uint64_t> duplicates{0};
    std::atomic<uint64_t> bad_results{0};
    std::atomic<uint64_t> submit_errors{0};
    std::atomic<uint64_t> cancels_ok{0};

    // Prepares request i for its next round (a read that checks the pattern, a write of the same
    // pattern, or a flush) and submits it to `to`. Only the thread that holds the request calls it.
    auto send = [&](size_t i, fileaio_ctx *to, uint64_t round) {
        bouncing &b = reqs[i];
        int rc = 0;
        switch (round % 5) {
            case 3:
                std::memcpy(b.buf, content.data() + i * block, block);
                rc = fileaio_req_prepare_write(b.req, fd, b.offset, b.buf, block, &b);
                break;
            case 4: rc = fileaio_req_prepare_flush(b.req, fd, &b); break;
            default:
                std::memset(b.buf, 0, block);
                rc = fileaio_req_prepare_read(b.req, fd, b.offset, b.buf, block, &b);
                break;
        }
        if (rc != 0) {
            submit_errors.fetch_add(1);
            return;
        }
        b.in_flight.fetch_add(1, std::memory_order_acq_rel);
        b.rounds.fetch_add(1, std::memory_order_relaxed);
        outstanding.fetch_add(1, std::memory_order_acq_rel);
        size_t n = 0;
        if (fileaio_ctx_submit(to, &b.req, 1, &n) != 0 || n != 1) {
            submit_errors.fetch_add(1);
            b.in_flight.fetch_sub(1, std::memory_order_acq_rel);
            b.rounds.fetch_sub(1, std::memory_order_relaxed);
            outstanding.fetch_sub(1, std::memory_order_acq_rel);
        }
    };
    // A report of request b (by a wait or a successful cancel): exactly one per submission.
    auto reported = [&](bouncing &b) {
        if (b.in_flight.fetch_sub(1, std::memory_order_acq_rel) != 1) duplicates.fetch_add(1);
        b.reports.fetch_add(1, std::memory_order_relaxed);
    };
    auto index_of = [&](fileaio_req *r) { return static_cast<size_t>(static_cast<bouncing *>(fileaio_req_get_user(r)) - reqs.data()); };

    for (size_t i = 0; i < requests; ++i) send(i, ctx[i % 2], 0);

    auto waiter = [&](int me) {
        fileaio_req *got[requests];
        const auto give_up_at = [&] { return std::chrono::steady_clock::now() + run_time + drain_limit; }();
        while (!(stop.load(std::memory_order_acquire) && outstanding.load(std::memory_order_acquire) == 0)) {
            if (std::chrono::steady_clock::now() > give_up_at) break;
            size_t n = 0;
            int rc = fileaio_ctx_wait(ctx[me], 1, wait_slice_ms, got, requests, &n);
            if (rc != 0 && rc != FILEAIO_E_TIMEOUT) bad_results.fetch_add(1);
            for (size_t k = 0; k < n; ++k) {
                const size_t i = index_of(got[k]);
                bouncing &b = reqs[i];
                size_t moved = 0;
                int res = fileaio_req_get_result(b.req, &moved);
                const uint64_t round = b.rounds.load(std::memory_order_relaxed);
                if (res != 0) {
                    bad_results.fetch_add(1);
                } else if ((round - 1) % 5 <= 2) {  // a read: the whole block, the pattern
                    if (moved != block || std::memcmp(b.buf, content.data() + i * block, block) != 0)
                        bad_results.fetch_add(1);
                }
                reported(b);
                if (!stop.load(std::memory_order_acquire)) send(i, ctx[1 - me], round);
                outstanding.fetch_sub(1, std::memory_order_acq_rel);
            }
        }
    };
    std::thread waiters[2] = {std::thread(waiter, 0), std::thread(waiter, 1)};
    std::thread canceller([&] {
        std::mt19937 rng(12345);
        while (!stop.load(std::memory_order_acquire)) {
            const size_t i = rng() % requests;
            bouncing &b = reqs[i];
            if (fileaio_req_cancel(b.req) != 0) continue;
            cancels_ok.fetch_add(1, std::memory_order_relaxed);
            size_t moved = 1;
            if (fileaio_req_get_result(b.req, &moved) != FILEAIO_E_CANCELED || moved != 0) bad_results.fetch_add(1);
            reported(b);
            send(i, ctx[rng() % 2], b.rounds.load(std::memory_order_relaxed));
            outstanding.fetch_sub(1, std::memory_order_acq_rel);
        }
    });
    std::this_thread::sleep_for(run_time);  // how long the run lasts, not an interleaving
    stop.store(true, std::memory_order_release);
    canceller.join();
    for (auto &t : waiters) t.join();

    EXPECT_EQ(outstanding.load(), 0u) << "requests never reported (lost)";
    EXPECT_EQ(duplicates.load(), 0u) << "requests reported more often than submitted";
    EXPECT_EQ(bad_results.load(), 0u);
    EXPECT_EQ(submit_errors.load(), 0u);
    uint64_t rounds = 0;
    for (auto &b : reqs) {
        EXPECT_EQ(b.rounds.load(), b.reports.load());
        rounds += b.rounds.load();
    }
    uint64_t submitted = 0;
    uint64_t handed_back = 0;
    for (fileaio_ctx *c : ctx) {
        fileaio_stats st{};
        ASSERT_EQ(fileaio_ctx_get_stats(c, &st), 0);
        EXPECT_EQ(st.pending, 0u);
        EXPECT_EQ(st.submitted, st.completed + st.canceled);
        submitted += st.submitted;
        handed_back += st.completed + st.canceled;
    }
    EXPECT_EQ(submitted, rounds);
    EXPECT_EQ(handed_back, rounds);
    RecordProperty("rounds", std::to_string(rounds));
    RecordProperty("cancels", std::to_string(cancels_ok.load()));
    if (outstanding.load() == 0) std::free(memory);  // else the kernel may still write into it
    // TearDown destroys both contexts and fails the test if either is still busy.
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(cross_context);

}  // namespace
}  // namespace fileaio::test
