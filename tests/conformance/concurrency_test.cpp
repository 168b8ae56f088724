// Many threads on one context: submitters, a waiter, a waker. Nothing hangs, nothing is lost or
// reported twice, no wakeup interrupts twice.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using concurrency = backend_test;
using std::chrono::milliseconds;

constexpr size_t block = 4096;

// The waker sends each wakeup only after the one before has ended a wait, so the contract leaves
// one answer: exactly one E_INTERRUPTED per wakeup, none left over — while submitters and
// completions keep the waiter's wait busy with other reasons to return.
TEST_P(concurrency, thousands_of_wakeups_and_submits_never_hang_or_interrupt_twice_for_one_wakeup) {
    constexpr size_t submitters = 4;
    constexpr size_t per_submitter = 2000;
    constexpr size_t wakeups = 2000;
    fileaio_ctx *c = make_ctx(submitters * 8, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    int fd = pattern_file("f", 64 * block);
    std::vector<std::vector<fileaio_req *>> reqs(submitters);
    std::vector<std::vector<char>> bufs(submitters, std::vector<char>(8 * block));
    for (auto &v : reqs) v = make_reqs(8);

    std::atomic<size_t> completed_total{0};
    std::atomic<size_t> interrupts{0};

    // Each submitter reuses its 8 requests: a request goes back to it when the waiter reaps it.
    std::vector<std::thread> threads;
    std::vector<std::atomic<bool>> free_slot(submitters * 8);
    for (auto &f : free_slot) f = true;
    for (size_t s = 0; s < submitters; ++s) {
        threads.emplace_back([&, s] {
            size_t sent = 0;
            while (sent < per_submitter) {
                for (size_t k = 0; k < 8 && sent < per_submitter; ++k) {
                    size_t id = s * 8 + k;
                    if (!free_slot[id].load(std::memory_order_acquire)) continue;
                    free_slot[id].store(false, std::memory_order_relaxed);
                    fileaio_req *r = reqs[s][k];
                    int64_t off = static_cast<int64_t>(((sent * 7 + k) % 64) * block);
                    EXPECT_EQ(fileaio_req_prepare_read(r, fd, off, bufs[s].data() + k * block, block,
                                                       reinterpret_cast<void *>(id)),
                              0);
                    EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
                    ++sent;
                }
                std::this_thread::yield();
            }
        });
    }
    std::atomic<bool> waiter_failed{false};
    std::thread waker([&] {
        for (size_t i = 0; i < wakeups && !waiter_failed; ++i) {
            EXPECT_EQ(fileaio_ctx_wakeup(c), 0);
            auto until = std::chrono::steady_clock::now() + milliseconds(long_timeout_ms);
            while (interrupts.load() < i + 1 && !waiter_failed && std::chrono::steady_clock::now() < until)
                std::this_thread::yield();
            if (interrupts.load() < i + 1) {
                ADD_FAILURE() << "wakeup " << i << " ended no wait (" << interrupts.load() << " interrupts)";
                return;
            }
        }
    });
    std::thread waiter([&] {
        fileaio_req *out[32];
        const size_t total = submitters * per_submitter;
        auto until = std::chrono::steady_clock::now() + milliseconds(20 * long_timeout_ms);
        while ((completed_total < total || interrupts < wakeups) && std::chrono::steady_clock::now() < until) {
            size_t count = 0;
            int rc = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 32, &count);
            if (rc == FILEAIO_E_INTERRUPTED) {
                ++interrupts;
            } else if (rc != 0 && rc != FILEAIO_E_TIMEOUT) {
                ADD_FAILURE() << "wait: " << fileaio_errname(rc);
                waiter_failed = true;
                return;
            }
            for (size_t i = 0; i < count; ++i) {
                auto id = reinterpret_cast<size_t>(fileaio_req_get_user(out[i]));
                size_t moved = 0;
                EXPECT_EQ(fileaio_req_get_result(out[i], &moved), 0);
                EXPECT_EQ(moved, block);
                free_slot[id].store(true, std::memory_order_release);
            }
            completed_total += count;
        }
    });
    for (auto &t : threads) t.join();
    waker.join();
    waiter.join();
    EXPECT_EQ(completed_total.load(), submitters * per_submitter);
    EXPECT_EQ(interrupts.load(), wakeups) << "each wakeup, sent after the one before was consumed, must end exactly "
                                             "one wait";
    fileaio_req *out[1];
    size_t count = 0;
    size_t leftover = 0;
    while (fileaio_ctx_wait(c, 1, 0, out, 1, &count) == FILEAIO_E_INTERRUPTED) ++leftover;
    EXPECT_EQ(leftover, 0u) << "a wakeup interrupted a second wait";
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.submitted, submitters * per_submitter);
    EXPECT_EQ(st.completed, submitters * per_submitter);
    EXPECT_EQ(st.pending, 0u);
}

TEST_P(concurrency, submitters_on_many_threads_while_one_waits_lose_nothing) {
    constexpr size_t submitters = 4;
    constexpr size_t batch = 16;
    constexpr size_t rounds = 100;
    fileaio_ctx *c = make_ctx(submitters * batch, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    int fd = pattern_file("f", batch * block);
    std::vector<std::vector<fileaio_req *>> reqs(submitters);
    for (auto &v : reqs) v = make_reqs(batch);
    std::vector<std::vector<char>> bufs(submitters, std::vector<char>(batch * block));
    std::atomic<size_t> reaped{0};
    std::vector<std::atomic<size_t>> returned(submitters);
    std::vector<std::thread> threads;
    for (size_t s = 0; s < submitters; ++s) {
        threads.emplace_back([&, s] {
            for (size_t round = 0; round < rounds; ++round) {
                for (size_t k = 0; k < batch; ++k)
                    EXPECT_EQ(fileaio_req_prepare_read(reqs[s][k], fd, static_cast<int64_t>(k * block),
                                                       bufs[s].data() + k * block, block, reinterpret_cast<void *>(s)),
                              0);
                EXPECT_EQ(fileaio_ctx_submit(c, reqs[s].data(), batch, nullptr), 0);
                // Wait for the waiter to hand all of this batch back before reusing it.
                while (returned[s].load(std::memory_order_acquire) < (round + 1) * batch) std::this_thread::yield();
            }
        });
    }
    fileaio_req *out[64];
    const size_t total = submitters * batch * rounds;
    while (reaped < total) {
        size_t count = 0;
        int rc = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 64, &count);
        ASSERT_EQ(rc, 0) << fileaio_errname(rc);
        for (size_t i = 0; i < count; ++i) {
            EXPECT_EQ(fileaio_req_get_result(out[i], nullptr), 0);
            returned[reinterpret_cast<size_t>(fileaio_req_get_user(out[i]))].fetch_add(1, std::memory_order_release);
        }
        reaped += count;
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(reaped.load(), total);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(concurrency);

}  // namespace
}  // namespace fileaio::test
