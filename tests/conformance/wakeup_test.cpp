// API.md "Wakeup", and the ways the original POSIX implementation lost or doubled wakeups.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using wakeups = backend_test;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t block = 4096;

double thread_cpu_ms(pthread_t t) {
    clockid_t id;
    if (pthread_getcpuclockid(t, &id) != 0) return 0;
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

TEST_P(wakeups, wakeup_before_wait_gives_exactly_one_interrupt_then_normal_waits) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(fileaio_ctx_wakeup(c), 0);  // coalesce into one
    fileaio_req *out[4];
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 4, &count), FILEAIO_E_INTERRUPTED);
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 20, out, 4, &count), FILEAIO_E_TIMEOUT) << "one wakeup interrupted twice";
    // And a normal wait after that works.
    fileaio_req *r = make_req();
    int fd = pattern_file("f", block);
    char buf[block];
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    EXPECT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 4, &count), 0);
    EXPECT_EQ(count, 1u);
}

TEST_P(wakeups, wakeup_during_indefinite_wait_on_empty_context_returns_promptly_and_burns_no_cpu) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    std::atomic<int> rc{1};
    steady_clock::time_point returned;
    std::thread waiter([&] {
        fileaio_req *out[1];
        size_t count = 0;
        int got;
        while ((got = fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count)) == FILEAIO_E_BUSY)
            std::this_thread::yield();  // our probe held the wait for an instant
        rc = got;
        returned = steady_clock::now();
    });
    EXPECT_TRUE(wait_until_inside_wait(c)) << "the waiter never entered wait";
    // A window in which an idle waiter must use no CPU (a measurement, not a wait for a thread).
    double cpu_before = thread_cpu_ms(waiter.native_handle());
    std::this_thread::sleep_for(milliseconds(200));
    double cpu_ms = thread_cpu_ms(waiter.native_handle()) - cpu_before;
    auto woke = steady_clock::now();
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    waiter.join();
    EXPECT_EQ(rc.load(), FILEAIO_E_INTERRUPTED);
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(returned - woke).count(), 1000) << "wakeup was not prompt";
    EXPECT_LT(cpu_ms, 50.0) << "the idle waiter burned CPU (spinning?)";
}

// The wait that consumes a wakeup returns E_INTERRUPTED even when min_reqs completions are
// there, and hands back exactly those: each request once, over that wait and the ones after.
TEST_P(wakeups, pending_wakeup_wins_over_available_completions_and_hands_them_back) {
    constexpr int max_rounds = 50;
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    int fd = pattern_file("f", block);
    std::vector<unsigned char> buf(2 * block);
    int rounds_handing_back = 0;
    for (int round = 0; round < max_rounds && rounds_handing_back == 0; ++round) {
        std::fill(buf.begin(), buf.end(), 0);
        for (size_t i = 0; i < 2; ++i)
            ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data() + i * block, block, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
        // The reads ran once their bytes are there (the completions follow at once; a round where
        // one is not yet available still checks everything else, and the next round retries).
        auto until = steady_clock::now() + milliseconds(long_timeout_ms);
        while ((buf[block - 1] != pattern_byte(block - 1) || buf[2 * block - 1] != pattern_byte(block - 1)) &&
               steady_clock::now() < until)
            std::this_thread::yield();
        ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
        fileaio_req *out[4] = {};
        size_t count = 9;
        EXPECT_EQ(fileaio_ctx_wait(c, 2, long_timeout_ms, out, 4, &count), FILEAIO_E_INTERRUPTED);
        ASSERT_LE(count, 2u);
        std::vector<fileaio_req *> all(out, out + count);
        for (fileaio_req *q : all) {
            EXPECT_EQ(fileaio_req_get_state(q), FILEAIO_REQ_COMPLETED);
            size_t moved = 0;
            EXPECT_EQ(fileaio_req_get_result(q, &moved), 0);
            EXPECT_EQ(moved, block);
        }
        if (count != 0) ++rounds_handing_back;
        auto rest = reap(c, 2 - count);
        all.insert(all.end(), rest.begin(), rest.end());
        std::sort(all.begin(), all.end());
        std::vector<fileaio_req *> want(r.begin(), r.end());
        std::sort(want.begin(), want.end());
        EXPECT_EQ(all, want) << "round " << round << ": not exactly the two submitted requests, once each";
        for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(buf[i * block] == pattern_byte(0));
    }
    EXPECT_GT(rounds_handing_back, 0) << "in " << max_rounds
                                      << " rounds the wait that consumed the wakeup never handed back a completion "
                                         "whose read had already finished";
}

TEST_P(wakeups, request_submitted_by_another_thread_completes_a_wait_begun_on_an_empty_context) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    fileaio_req *r = make_req();
    int fd = pattern_file("f", block);
    char buf[block];
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf, block, nullptr), 0);
    std::atomic<int> rc{1};
    size_t count = 0;
    fileaio_req *out[1] = {nullptr};
    std::thread waiter([&] {
        int got;
        while ((got = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count)) == FILEAIO_E_BUSY)
            std::this_thread::yield();  // our probe held the wait for an instant
        rc = got;
    });
    EXPECT_TRUE(wait_until_inside_wait(c)) << "the waiter never entered wait";
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    waiter.join();
    EXPECT_EQ(rc.load(), 0);
    EXPECT_EQ(count, 1u);
    EXPECT_EQ(out[0], r);
}

volatile sig_atomic_t signals_seen = 0;
void count_signal(int) { signals_seen = signals_seen + 1; }

TEST_P(wakeups, timed_wait_interrupted_by_signals_and_partial_completions_still_ends_at_its_deadline) {
    constexpr size_t n = 8;
    constexpr uint32_t timeout_ms = 300;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    int fd = pattern_file("f", block);
    std::vector<char> buf(n * block);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data() + i * block, block, nullptr), 0);
    struct sigaction sa {};
    struct sigaction old {};
    sa.sa_handler = count_signal;  // no SA_RESTART: system calls see EINTR
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    signals_seen = 0;

    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 1, nullptr), 0);
    pthread_t self = pthread_self();
    std::atomic<bool> done{false};
    std::thread disturber([&] {
        size_t next = 1;
        while (!done) {
            pthread_kill(self, SIGUSR1);
            if (next < n - 1) fileaio_ctx_submit(c, &r[next++], 1, nullptr);  // a partial completion
            std::this_thread::sleep_for(milliseconds(15));
        }
    });
    fileaio_req *out[n];
    size_t count = 0;
    auto t0 = steady_clock::now();
    int rc = fileaio_ctx_wait(c, n, timeout_ms, out, n, &count);  // n can never all complete: one is held back
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0).count();
    done = true;
    disturber.join();
    sigaction(SIGUSR1, &old, nullptr);
    EXPECT_EQ(rc, FILEAIO_E_TIMEOUT);
    EXPECT_GT(signals_seen, 0);
    EXPECT_GE(count, 1u) << "partial completions were lost";
    EXPECT_GE(took, timeout_ms);
    EXPECT_LT(took, static_cast<long>(timeout_ms) + 2000) << "the deadline was restarted by interruptions";
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(wakeups);

}  // namespace
}  // namespace fileaio::test
