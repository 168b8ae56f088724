// API.md "Contexts": create, submit's all-or-nothing validation, the limit, wait's checks and
// results, timeouts, destroy, stats, hints.
#include <sys/resource.h>

#include <chrono>
#include <thread>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using contexts = backend_test;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t block = 4096;

TEST_P(contexts, create_validates_max_reqs_flags_and_reports_its_backend) {
    fileaio_ctx *c = nullptr;
    EXPECT_EQ(fileaio_ctx_create_ex(&c, 0, 0, GetParam()), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_ctx_create_ex(&c, FILEAIO_UNLIMITED_REQS, 0, GetParam()), FILEAIO_E_OUT_OF_RANGE);
    EXPECT_EQ(fileaio_ctx_create_ex(&c, 8, 0x80, GetParam()), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(c, nullptr);
    fileaio_ctx *big = make_ctx(4096, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    ASSERT_NE(big, nullptr);
    EXPECT_EQ(fileaio_ctx_get_max_req_count(big), 4096u);
    EXPECT_EQ(fileaio_ctx_get_backend(big), GetParam());
}

TEST_P(contexts, create_opts_refuses_what_it_cannot_honour) {
    fileaio_ctx_options o{};
    o.size = sizeof o;
    o.max_reqs = 8;
    o.backend = GetParam();
    fileaio_ctx *c = nullptr;
    fileaio_ctx_options small = o;
    small.size = sizeof(size_t);
    EXPECT_EQ(fileaio_ctx_create_opts(&c, &small), FILEAIO_E_INVALID_PARAMETER);
    fileaio_ctx_options bad_uring = o;
    bad_uring.uring_flags = 0x8000;
    EXPECT_EQ(fileaio_ctx_create_opts(&c, &bad_uring), FILEAIO_E_INVALID_PARAMETER);
    // A newer caller's struct with an option we do not know, set: refused, never dropped.
    struct {
        fileaio_ctx_options base;
        uint64_t future_option;
    } newer{};
    newer.base = o;
    newer.base.size = sizeof newer;
    newer.future_option = 1;
    EXPECT_EQ(fileaio_ctx_create_opts(&c, &newer.base), FILEAIO_E_NOT_SUPPORTED);
    newer.future_option = 0;
    ASSERT_EQ(fileaio_ctx_create_opts(&c, &newer.base), 0);
    EXPECT_EQ(fileaio_ctx_destroy(c), 0);
    fileaio_ctx_options threads = o;
    threads.threads = 2;
    ASSERT_EQ(fileaio_ctx_create_opts(&c, &threads), 0);
    EXPECT_EQ(fileaio_ctx_destroy(c), 0);
}

TEST_P(contexts, submit_with_an_invalid_element_anywhere_submits_nothing) {
    fileaio_ctx *c = make_ctx(16);
    auto r = make_reqs(4);
    int fd = pattern_file("f", 4 * block);
    std::vector<char> buf(4 * block);
    for (size_t i = 0; i < 4; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block, block,
                                           nullptr),
                  0);
    fileaio_req *unprepared = make_req();
    fileaio_req *with_null[] = {r[0], r[1], nullptr, r[2]};
    fileaio_req *with_dup[] = {r[0], r[1], r[0]};
    fileaio_req *with_unprepared[] = {r[0], unprepared, r[1]};
    struct {
        const char *what;
        fileaio_req *const *reqs;
        size_t count;
        int expected;
    } cases[] = {
        {"reqs NULL", nullptr, 1, FILEAIO_E_INVALID_PARAMETER},
        {"count 0", r.data(), 0, FILEAIO_E_INVALID_PARAMETER},
        {"NULL in the middle", with_null, 4, FILEAIO_E_INVALID_HANDLE},
        {"same request twice", with_dup, 3, FILEAIO_E_INVALID_PARAMETER},
        {"new request in the middle", with_unprepared, 3, FILEAIO_E_NOT_PREPARED},
    };
    for (const auto &k : cases) {
        size_t submitted = 77;
        EXPECT_EQ(fileaio_ctx_submit(c, k.reqs, k.count, &submitted), k.expected) << k.what;
        EXPECT_EQ(submitted, 0u) << k.what;
        for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_get_state(q), FILEAIO_REQ_PREPARED) << k.what;
        EXPECT_EQ(pending(c), 0u) << k.what;
    }
    // A submitted element makes the whole batch fail with E_IN_PROGRESS.
    ASSERT_EQ(fileaio_ctx_submit(c, &r[3], 1, nullptr), 0);
    fileaio_req *with_submitted[] = {r[0], r[3]};
    EXPECT_EQ(fileaio_ctx_submit(c, with_submitted, 2, nullptr), FILEAIO_E_IN_PROGRESS);
    EXPECT_EQ(fileaio_req_get_state(r[0]), FILEAIO_REQ_PREPARED);
    // Then the good batch goes through, and `submitted` may be NULL.
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 3, nullptr), 0);
    reap(c, 4);
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.submitted, 4u);
    EXPECT_EQ(st.completed, 4u);
}

TEST_P(contexts, submit_beyond_max_reqs_is_refused_whole_until_wait_frees_room) {
    constexpr uint32_t limit = 4;
    fileaio_ctx *c = make_ctx(limit);
    auto r = make_reqs(limit + 1);
    int fd = pattern_file("f", block);
    std::vector<char> buf(block * (limit + 1));
    for (size_t i = 0; i <= limit; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data() + i * block, block, nullptr), 0);
    size_t submitted = 9;
    EXPECT_EQ(fileaio_ctx_submit(c, r.data(), limit + 1, &submitted), FILEAIO_E_LIMIT_EXCEEDED);
    EXPECT_EQ(submitted, 0u);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 3, &submitted), 0);
    EXPECT_EQ(submitted, 3u);
    EXPECT_EQ(fileaio_ctx_submit(c, r.data() + 3, 2, &submitted), FILEAIO_E_LIMIT_EXCEEDED);
    EXPECT_EQ(fileaio_req_get_state(r[3]), FILEAIO_REQ_PREPARED);
    EXPECT_EQ(fileaio_req_get_state(r[4]), FILEAIO_REQ_PREPARED);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data() + 3, 1, &submitted), 0);  // exactly at the limit
    reap(c, 2);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data() + 4, 1, &submitted), 0);
    reap(c, 3);
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.pending_max, limit);
}

TEST_P(contexts, wait_checks_its_arguments_in_order) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *out[2];
    size_t count = 5;
    EXPECT_EQ(fileaio_ctx_wait(c, 3, 0, out, 2, &count), FILEAIO_E_OUT_OF_RANGE);
    EXPECT_EQ(count, 0u);
    count = 5;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 2, &count), FILEAIO_E_NO_REQUEST);
    EXPECT_EQ(count, 0u);
    EXPECT_EQ(fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 2, &count), FILEAIO_E_NO_REQUEST)
        << "an indefinite wait on an empty context must not block";
}

TEST_P(contexts, wait_with_min_zero_counts_as_one_and_hands_back_all_available_up_to_capacity) {
    constexpr size_t n = 8;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    int fd = pattern_file("f", block);
    std::vector<char> buf(block * n);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data() + i * block, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    std::vector<fileaio_req *> out(n);
    size_t count = 0;
    ASSERT_EQ(fileaio_ctx_wait(c, 0, long_timeout_ms, out.data(), 3, &count), 0);
    EXPECT_GE(count, 1u);
    EXPECT_LE(count, 3u);
    size_t total = count;
    while (total < n) {
        ASSERT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out.data() + total, n - total, &count), 0);
        total += count;
    }
    std::sort(out.begin(), out.end());
    std::vector<fileaio_req *> expect = r;
    std::sort(expect.begin(), expect.end());
    EXPECT_EQ(out, expect) << "every request exactly once";
    EXPECT_EQ(pending(c), 0u);
}

TEST_P(contexts, wait_poll_with_zero_timeout_returns_timeout_when_too_few) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    fileaio_req *out[4];
    size_t count = 3;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 4, &count), FILEAIO_E_TIMEOUT);
    EXPECT_EQ(count, 0u);
}

TEST_P(contexts, wait_on_empty_context_with_flag_ends_at_its_deadline) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    fileaio_req *out[4];
    size_t count = 0;
    constexpr uint32_t timeout_ms = 60;
    auto t0 = steady_clock::now();
    EXPECT_EQ(fileaio_ctx_wait(c, 1, timeout_ms, out, 4, &count), FILEAIO_E_TIMEOUT);
    auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0);
    EXPECT_GE(took.count(), timeout_ms);
    EXPECT_LT(took.count(), long_timeout_ms) << "the timeout was not honoured";
}

TEST_P(contexts, wait_for_more_than_available_times_out_with_the_partial_results) {
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    int fd = pattern_file("f", block);
    std::vector<char> buf(2 * block);
    for (size_t i = 0; i < 2; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, 0, buf.data() + i * block, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    fileaio_req *out[4];
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 4, 200, out, 4, &count), FILEAIO_E_TIMEOUT);
    EXPECT_EQ(count, 2u) << "completions collected before the timeout were lost";
    EXPECT_EQ(pending(c), 0u);
    EXPECT_EQ(fileaio_req_get_state(r[0]), FILEAIO_REQ_COMPLETED);
}

TEST_P(contexts, destroy_is_refused_while_requests_are_pending_then_succeeds_after_reaping) {
    fileaio_ctx *c = nullptr;
    ASSERT_EQ(fileaio_ctx_create_ex(&c, 4, 0, GetParam()), 0);
    fileaio_req *r = make_req();
    int fd = pattern_file("f", block);
    char buf[block];
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    EXPECT_EQ(fileaio_ctx_destroy(c), FILEAIO_E_BUSY);
    reap(c, 1);  // the context stayed usable
    EXPECT_EQ(fileaio_ctx_destroy(c), 0);
}

TEST_P(contexts, destroy_is_refused_while_another_thread_waits) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    std::atomic<bool> inside{false};
    int rc = 0;
    std::thread waiter([&] {
        fileaio_req *out[1];
        size_t count = 0;
        inside = true;
        // The main thread's probes may hold the wait for an instant: retry on E_BUSY.
        while ((rc = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count)) == FILEAIO_E_BUSY) std::this_thread::yield();
    });
    while (!inside) std::this_thread::yield();
    // The waiter may not have entered wait yet; poll until destroy sees it (never frees it).
    int destroy_rc = 0;
    fileaio_req *probe_out[1];
    size_t probe_count = 0;
    auto until = steady_clock::now() + milliseconds(long_timeout_ms);
    while (steady_clock::now() < until) {
        if (fileaio_ctx_wait(c, 1, 0, probe_out, 1, &probe_count) == FILEAIO_E_BUSY) {
            destroy_rc = fileaio_ctx_destroy(c);
            break;
        }
        std::this_thread::sleep_for(milliseconds(1));
    }
    EXPECT_EQ(destroy_rc, FILEAIO_E_BUSY);
    EXPECT_EQ(fileaio_ctx_wakeup(c), 0);
    waiter.join();
    EXPECT_EQ(rc, FILEAIO_E_INTERRUPTED);
}

TEST_P(contexts, a_second_concurrent_waiter_gets_busy) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    std::atomic<int> rc{1};
    std::thread waiter([&] {
        fileaio_req *out[1];
        size_t count = 0;
        int got;
        while ((got = fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count)) == FILEAIO_E_BUSY)
            std::this_thread::yield();
        rc = got;
    });
    fileaio_req *out[1];
    size_t count = 0;
    int second = 0;
    auto until = steady_clock::now() + milliseconds(long_timeout_ms);
    // Until the first waiter is inside, our own poll simply times out.
    while ((second = fileaio_ctx_wait(c, 1, 0, out, 1, &count)) == FILEAIO_E_TIMEOUT && steady_clock::now() < until)
        std::this_thread::sleep_for(milliseconds(1));
    EXPECT_EQ(second, FILEAIO_E_BUSY);
    fileaio_ctx_wakeup(c);
    waiter.join();
    EXPECT_EQ(rc.load(), FILEAIO_E_INTERRUPTED);
}

TEST_P(contexts, stats_balance_and_count_failures) {
    fileaio_ctx *c = make_ctx(8);
    auto r = make_reqs(3);
    int fd = pattern_file("f", block);
    char buf[3][block];
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, buf[0], block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_read(r[1], fd, 0, buf[1], block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_write(r[2], fd + 1000, 0, buf[2], block, nullptr), 0);  // EBADF
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 3, nullptr), 0);
    fileaio_stats st{};
    ASSERT_EQ(fileaio_ctx_get_stats(c, &st), 0);
    EXPECT_EQ(st.submitted, st.completed + st.canceled + st.pending);
    reap(c, 3);
    ASSERT_EQ(fileaio_ctx_get_stats(c, &st), 0);
    EXPECT_EQ(st.submitted, 3u);
    EXPECT_EQ(st.completed, 3u);
    EXPECT_EQ(st.canceled, 0u);
    EXPECT_EQ(st.failed, 1u);
    EXPECT_EQ(st.pending, 0u);
    EXPECT_EQ(st.pending_max, 3u);
}

TEST_P(contexts, hints_are_accepted_and_buffers_change_only_while_nothing_is_pending) {
    fileaio_ctx *c = make_ctx(4);
    int fd = pattern_file("f", block);
    EXPECT_EQ(fileaio_ctx_associate_with_file(c, fd), 0);
    EXPECT_EQ(fileaio_ctx_associate_with_file(c, -1), FILEAIO_E_INVALID_PARAMETER);
    std::vector<char> region(4 * block);
    struct iovec iov = {region.data(), region.size()};
    EXPECT_EQ(fileaio_ctx_register_buffers(c, nullptr, 1), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_ctx_register_buffers(c, &iov, 0), FILEAIO_E_INVALID_PARAMETER);
    ASSERT_EQ(fileaio_ctx_register_buffers(c, &iov, 1), 0);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, region.data() + block, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    EXPECT_EQ(fileaio_ctx_unregister_buffers(c), FILEAIO_E_BUSY);
    EXPECT_EQ(fileaio_ctx_register_buffers(c, &iov, 1), FILEAIO_E_BUSY);
    reap(c, 1);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, block);
    EXPECT_EQ(static_cast<unsigned char>(region[block + 5]), pattern_byte(5));
    EXPECT_EQ(fileaio_ctx_unregister_buffers(c), 0);
}

TEST_P(contexts, limits_and_probe_agree_with_creation) {
    fileaio_limits lim{};
    ASSERT_EQ(fileaio_get_limits(GetParam(), &lim), 0);
    EXPECT_GE(lim.max_outstanding, 4096u);
    char reason[256] = "";
    EXPECT_EQ(fileaio_backend_probe(GetParam(), reason, sizeof reason), 0);
    EXPECT_NE(reason[0], '\0') << "a probe says something";
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(contexts);

}  // namespace
}  // namespace fileaio::test
