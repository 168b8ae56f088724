// API.md "Wakeup", and the ways the original POSIX implementation lost or doubled wakeups.
#include <pthread.h>
#include <signal.h>
#include <time.h>

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
    std::atomic<bool> started{false};
    steady_clock::time_point returned;
    std::thread waiter([&] {
        fileaio_req *out[1];
        size_t count = 0;
        started = true;
        rc = fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count);
        returned = steady_clock::now();
    });
    while (!started) std::this_thread::yield();
    std::this_thread::sleep_for(milliseconds(200));
    double cpu_ms = thread_cpu_ms(waiter.native_handle());
    auto woke = steady_clock::now();
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    waiter.join();
    EXPECT_EQ(rc.load(), FILEAIO_E_INTERRUPTED);
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(returned - woke).count(), 1000) << "wakeup was not prompt";
    EXPECT_LT(cpu_ms, 50.0) << "the idle waiter burned CPU (spinning?)";
}

TEST_P(wakeups, pending_wakeup_wins_over_available_completions_and_hands_them_back) {
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    int fd = pattern_file("f", block);
    std::vector<char> buf(2 * block);
    for (size_t i = 0; i < 2; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data() + i * block, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    // Let them finish, then wake: the wait must say INTERRUPTED and still return what it has.
    fileaio_req *out[4];
    size_t count = 0;
    std::this_thread::sleep_for(milliseconds(50));
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    size_t total = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 4, &count), FILEAIO_E_INTERRUPTED);
    total += count;
    for (size_t i = 0; i < count; ++i) EXPECT_EQ(fileaio_req_get_state(out[i]), FILEAIO_REQ_COMPLETED);
    if (total < 2) total += reap(c, 2 - total).size();
    EXPECT_EQ(total, 2u);
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
    std::thread waiter([&] { rc = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count); });
    std::this_thread::sleep_for(milliseconds(30));
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
