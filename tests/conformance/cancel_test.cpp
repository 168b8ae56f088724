// API.md "Cancel" and the exactly-once invariant, with and without a waiter, from any thread.
#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using cancels = backend_test;
using std::chrono::milliseconds;

constexpr size_t chunk = 64 * 1024;
// The requests are writes: every backend must queue them (none can finish a write inline
// without blocking), so some cancels really stop a request.

// Each request must end exactly one way: returned by a wait, or cancelled (0) — and the
// cancelled ones read E_CANCELED with 0 bytes.
void check_exactly_once(const std::vector<fileaio_req *> &reqs, const std::vector<fileaio_req *> &reaped,
                        const std::vector<int> &cancel_rc) {
    std::map<fileaio_req *, int> seen;
    for (fileaio_req *r : reaped) ++seen[r];
    for (size_t i = 0; i < reqs.size(); ++i) {
        int times = seen.count(reqs[i]) != 0 ? seen[reqs[i]] : 0;
        if (cancel_rc[i] == 0) {
            EXPECT_EQ(times, 0) << "request " << i << " was cancelled and also returned by wait";
            size_t moved = 1;
            EXPECT_EQ(fileaio_req_get_result(reqs[i], &moved), FILEAIO_E_CANCELED);
            EXPECT_EQ(moved, 0u);
        } else {
            EXPECT_EQ(times, 1) << "request " << i << " (cancel said " << fileaio_errname(cancel_rc[i])
                                << ") reported " << times << " times";
        }
        EXPECT_EQ(fileaio_req_get_state(reqs[i]), FILEAIO_REQ_COMPLETED);
    }
}

TEST_P(cancels, cancel_with_no_waiter_never_blocks_and_keeps_exactly_once) {
    constexpr size_t n = 256;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    int fd = pattern_file("f", 16 * chunk);
    std::vector<char> buf(n * chunk);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * chunk), buf.data() + i * chunk, chunk,
                                            nullptr),
                  0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    std::vector<int> rc(n);
    size_t stopped = 0;
    for (size_t i = n; i-- > 0;) {  // newest first: the most likely to be still queued
        rc[i] = fileaio_req_cancel(r[i]);
        ASSERT_TRUE(rc[i] == 0 || rc[i] == FILEAIO_E_COMPLETED || rc[i] == FILEAIO_E_IN_PROGRESS)
            << fileaio_errname(rc[i]);
        if (rc[i] == 0) {
            ++stopped;
            EXPECT_EQ(fileaio_req_cancel(r[i]), FILEAIO_E_NOT_SUBMITTED) << "a cancelled request cancelled again";
        }
    }
    auto reaped = reap(c, n - stopped);
    check_exactly_once(r, reaped, rc);
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.canceled, stopped);
    EXPECT_EQ(st.completed, n - stopped);
    EXPECT_EQ(st.pending, 0u);
    EXPECT_EQ(st.submitted, st.completed + st.canceled + st.pending);
}

TEST_P(cancels, cancel_from_another_thread_while_one_waits_keeps_exactly_once) {
    constexpr size_t n = 512;
    constexpr int rounds = 4;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    int fd = pattern_file("f", 16 * chunk);
    std::vector<char> buf(n * chunk);
    for (int round = 0; round < rounds; ++round) {
        for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * chunk), buf.data() + i * chunk,
                                                chunk, nullptr),
                      0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        std::vector<int> rc(n, 1);
        std::atomic<size_t> stopped{0};
        std::thread canceller([&] {
            for (size_t i = n; i-- > 0;) {
                rc[i] = fileaio_req_cancel(r[i]);
                if (rc[i] == 0) ++stopped;
            }
        });
        // Reap until everything not cancelled is back; never more than that.
        std::vector<fileaio_req *> reaped;
        std::vector<fileaio_req *> out(n);
        bool canceller_done = false;
        for (;;) {
            size_t count = 0;
            int w = fileaio_ctx_wait(c, 1, 50, out.data(), n, &count);
            reaped.insert(reaped.end(), out.begin(), out.begin() + static_cast<long>(count));
            ASSERT_TRUE(w == 0 || w == FILEAIO_E_TIMEOUT || w == FILEAIO_E_NO_REQUEST) << fileaio_errname(w);
            if (!canceller_done && stopped + reaped.size() == n) {
                canceller.join();
                canceller_done = true;
            }
            if (canceller_done && pending(c) == 0) break;
        }
        check_exactly_once(r, reaped, rc);
    }
}

TEST_P(cancels, a_wait_keeps_waiting_until_its_deadline_while_another_thread_cancels_its_requests) {
    constexpr size_t n = 256;
    fileaio_ctx *c = make_ctx(n);
    auto r = make_reqs(n);
    int fd = pattern_file("f", 0);
    std::vector<char> buf(n * chunk);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * chunk), buf.data() + i * chunk, chunk,
                                            nullptr),
                  0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
    // r[0] is never cancelled, so the wait's entry check always finds something pending (a
    // completed request stays pending until reaped). The wait asks for all n: once any is
    // cancelled only its timeout can end it — not E_NO_REQUEST, not an early return.
    std::vector<int> crc(n, 1);
    std::thread canceller([&] {
        for (size_t i = n; i-- > 1;) crc[i] = fileaio_req_cancel(r[i]);
    });
    std::vector<fileaio_req *> out(n);
    size_t count = 0;
    int rc = fileaio_ctx_wait(c, n, 300, out.data(), n, &count);
    canceller.join();
    size_t stopped = static_cast<size_t>(std::count(crc.begin(), crc.end(), 0));
    if (stopped != 0) {
        EXPECT_EQ(rc, FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
    } else {
        EXPECT_TRUE(rc == 0 || rc == FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
    }
    std::vector<fileaio_req *> reaped(out.begin(), out.begin() + static_cast<long>(count));
    auto rest = reap(c, n - stopped - count);
    reaped.insert(reaped.end(), rest.begin(), rest.end());
    check_exactly_once(r, reaped, crc);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(cancels);

}  // namespace
}  // namespace fileaio::test
