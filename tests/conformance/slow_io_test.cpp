// API.md "Wait", "Wakeup", "Cancel" and "Destroy" with a request that is really in flight: a read
// of the FUSE test filesystem's `gate` file stays blocked inside the daemon until the test
// releases it, so "in flight" is a fact, not a race the test hopes to win.
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "fuse_fixture.hpp"

namespace fileaio::test {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t block = 4096;
constexpr uint64_t gate_offset = 8 * block;  // anywhere but 0: the bytes then prove the offset was used
constexpr uint32_t timed_wait_ms = 100;

class slow_io : public fuse_backend_test {
protected:
    // Submits a read of `block` bytes of the gate at `offset` and waits until the daemon holds it
    // (`in_flight_after` reads blocked there in all). Fails the test and returns false otherwise.
    // Each read gets its own descriptor: posix_aio (glibc) runs one request per descriptor at a time.
    bool submit_blocked_read(fileaio_ctx *c, fileaio_req *r, unsigned char *buf, uint64_t offset,
                             size_t in_flight_after = 1) {
        int fd = open_on_fs(fs_->gate_path(), O_RDONLY);
        if (fd < 0) return false;
        EXPECT_EQ(fileaio_req_prepare_read(r, fd, static_cast<int64_t>(offset), buf, block, nullptr), 0);
        if (!submit_promptly(c, &r, 1)) return false;
        bool reached = fs_->wait_for_in_flight(in_flight_after, reach_daemon_timeout);
        EXPECT_TRUE(reached) << "the read never reached the FUSE daemon";
        return reached;
    }

    // r completed whole with the gate's bytes at `offset`.
    static void expect_gate_read(fileaio_req *r, const unsigned char *buf, uint64_t offset) {
        size_t moved = 0;
        int rc = fileaio_req_get_result(r, &moved);
        EXPECT_EQ(rc, 0) << fileaio_errname(rc);
        EXPECT_EQ(moved, block);
        EXPECT_TRUE(holds_pattern(buf, block, offset));
    }
};

TEST_P(slow_io, a_request_blocked_in_the_daemon_stays_submitted_and_a_timed_wait_ends_at_its_deadline) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(block);
    ASSERT_TRUE(submit_blocked_read(c, r, buf.data(), gate_offset));
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED);
    EXPECT_EQ(fileaio_req_get_result(r, nullptr), FILEAIO_E_IN_PROGRESS);

    fileaio_req *out[4] = {};
    size_t count = 99;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 4, &count), FILEAIO_E_TIMEOUT) << "a poll found a blocked request done";
    EXPECT_EQ(count, 0u);

    auto start = steady_clock::now();
    int rc = fileaio_ctx_wait(c, 1, timed_wait_ms, out, 4, &count);
    auto waited = duration_cast<milliseconds>(steady_clock::now() - start);
    EXPECT_EQ(rc, FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
    EXPECT_EQ(count, 0u);
    EXPECT_GE(waited.count(), timed_wait_ms) << "the wait ended before its timeout";
    EXPECT_LT(waited, prompt_bound) << "the wait overran its timeout";
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED);
    EXPECT_EQ(pending(c), 1u);
    EXPECT_EQ(fs_->reads_in_flight(), 1u);

    fs_->release(1);
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r);
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_COMPLETED);
    expect_gate_read(r, buf.data(), gate_offset);
}

TEST_P(slow_io, wakeup_ends_a_forever_wait_promptly_while_a_request_is_blocked_in_flight) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(block);
    ASSERT_TRUE(submit_blocked_read(c, r, buf.data(), gate_offset));

    std::atomic<int> rc{1};
    std::atomic<size_t> count{99};
    steady_clock::time_point returned;
    std::thread waiter([&] {
        fileaio_req *out[4];
        size_t n = 99;
        int got;
        while ((got = fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 4, &n)) == FILEAIO_E_BUSY)
            std::this_thread::yield();  // our probe held the wait for an instant
        rc = got;
        returned = steady_clock::now();
        count = n;
    });
    EXPECT_TRUE(wait_until_inside_wait(c)) << "the waiter never entered wait";
    auto woke = steady_clock::now();
    EXPECT_EQ(fileaio_ctx_wakeup(c), 0);
    waiter.join();
    EXPECT_EQ(rc.load(), FILEAIO_E_INTERRUPTED) << fileaio_errname(rc.load());
    EXPECT_EQ(count.load(), 0u);
    EXPECT_LT(returned - woke, prompt_bound) << "the wakeup was not prompt";
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED);
    EXPECT_EQ(fs_->reads_in_flight(), 1u);

    fs_->release(1);
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r);
    expect_gate_read(r, buf.data(), gate_offset);
}

TEST_P(slow_io, destroy_is_busy_while_a_request_is_blocked_in_flight_and_succeeds_once_it_is_reaped) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(block);
    ASSERT_TRUE(submit_blocked_read(c, r, buf.data(), gate_offset));
    EXPECT_EQ(destroy_ctx(c), FILEAIO_E_BUSY);
    EXPECT_EQ(destroy_ctx(c), FILEAIO_E_BUSY) << "a refused destroy changed something";
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_SUBMITTED);
    EXPECT_EQ(fileaio_req_destroy(r), FILEAIO_E_IN_PROGRESS);

    fs_->release(1);
    auto done = reap(c, 1);  // the refused destroys left the context working
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r);
    expect_gate_read(r, buf.data(), gate_offset);
    EXPECT_EQ(destroy_ctx(c), 0);
}

TEST_P(slow_io, a_request_blocked_in_the_daemon_does_not_hold_back_other_completions) {
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    aligned_buffer &buf = make_buffer(2 * block);
    ASSERT_TRUE(submit_blocked_read(c, r[0], buf.at(0), gate_offset));
    int fd = open_on_fs(fs_->eio_path(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(fileaio_req_prepare_read(r[1], fd, 0, buf.at(block), block, nullptr), 0);
    ASSERT_TRUE(submit_promptly(c, &r[1], 1));
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r[1]);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[1], &moved), 0);
    EXPECT_EQ(moved, block);
    EXPECT_TRUE(holds_pattern(buf.at(block), block, 0));
    EXPECT_EQ(fileaio_req_get_state(r[0]), FILEAIO_REQ_SUBMITTED);

    fs_->release(1);
    done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r[0]);
    expect_gate_read(r[0], buf.at(0), gate_offset);
}

// Whatever cancel answers for a request that is running, the request is reported exactly once.
// 0 would mean it was stopped: COMPLETED with E_CANCELED and 0 bytes, never returned by a wait,
// even after the daemon answers. Otherwise a wait returns it, whole, once the daemon answers.
TEST_P(slow_io, cancel_of_a_request_blocked_in_the_daemon_keeps_exactly_once) {
    // WAIT_WITHOUT_PENDING: the checking wait below really asks the backend, also with 0 pending.
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    fileaio_req *r = make_req();
    aligned_buffer &buf = make_buffer(block);
    ASSERT_TRUE(submit_blocked_read(c, r, buf.data(), gate_offset));

    auto start = steady_clock::now();
    int rc = fileaio_req_cancel(r);
    EXPECT_LT(steady_clock::now() - start, prompt_bound) << "cancel blocked";
    ASSERT_TRUE(rc == 0 || rc == FILEAIO_E_IN_PROGRESS || rc == FILEAIO_E_COMPLETED) << fileaio_errname(rc);

    fs_->release_all();
    if (rc == 0) {
        EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_COMPLETED);
        size_t moved = 1;
        EXPECT_EQ(fileaio_req_get_result(r, &moved), FILEAIO_E_CANCELED);
        EXPECT_EQ(moved, 0u);
        EXPECT_EQ(pending(c), 0u);
        fileaio_req *out[4] = {};
        size_t count = 99;
        EXPECT_EQ(fileaio_ctx_wait(c, 1, timed_wait_ms, out, 4, &count), FILEAIO_E_TIMEOUT);
        EXPECT_EQ(count, 0u) << "a cancelled request was also returned by wait";
    } else {
        auto done = reap(c, 1);
        ASSERT_EQ(done.size(), 1u);
        EXPECT_EQ(done[0], r);
        expect_gate_read(r, buf.data(), gate_offset);
        fileaio_req *out[4] = {};
        size_t count = 99;
        EXPECT_EQ(fileaio_ctx_wait(c, 1, timed_wait_ms, out, 4, &count), FILEAIO_E_TIMEOUT);
        EXPECT_EQ(count, 0u) << "a request was returned twice";
    }
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.canceled, rc == 0 ? 1u : 0u);
    EXPECT_EQ(st.completed, rc == 0 ? 0u : 1u);
    EXPECT_EQ(st.pending, 0u);
    EXPECT_EQ(st.submitted, st.completed + st.canceled + st.pending);
}

// The same with a waiter already blocked in a wait on another thread while the request is
// cancelled: cancel must not block on the waiter, and the waiter must not see a stopped request.
TEST_P(slow_io, cancel_while_another_thread_waits_on_a_blocked_request_keeps_exactly_once) {
    constexpr size_t n = 3;
    fileaio_ctx *c = make_ctx(8);
    auto r = make_reqs(n);
    aligned_buffer &buf = make_buffer(n * block);
    for (size_t i = 0; i < n; ++i)
        ASSERT_TRUE(submit_blocked_read(c, r[i], buf.at(i * block), gate_offset + i * block, i + 1));

    std::vector<fileaio_req *> reaped;
    std::atomic<bool> stop{false};
    std::thread waiter([&] {
        std::vector<fileaio_req *> out(n);
        while (!stop) {
            size_t count = 0;
            int w = fileaio_ctx_wait(c, 1, long_timeout_ms, out.data(), n, &count);
            reaped.insert(reaped.end(), out.begin(), out.begin() + static_cast<long>(count));
            if (w == FILEAIO_E_BUSY) {  // our probe held the wait for an instant
                std::this_thread::yield();
                continue;
            }
            if (w != 0 && w != FILEAIO_E_INTERRUPTED && w != FILEAIO_E_NO_REQUEST) {
                ADD_FAILURE() << "wait: " << fileaio_errname(w);
                return;
            }
        }
    });
    EXPECT_TRUE(wait_until_inside_wait(c)) << "the waiter never entered wait";

    std::vector<int> crc(n);
    size_t stopped = 0;
    for (size_t i = 0; i < n; ++i) {
        auto start = steady_clock::now();
        crc[i] = fileaio_req_cancel(r[i]);
        EXPECT_LT(steady_clock::now() - start, prompt_bound) << "cancel blocked";
        EXPECT_TRUE(crc[i] == 0 || crc[i] == FILEAIO_E_IN_PROGRESS || crc[i] == FILEAIO_E_COMPLETED)
            << fileaio_errname(crc[i]);
        if (crc[i] == 0) ++stopped;
    }
    fs_->release_all();
    // Wait until every request not stopped has come back, then end the waiter.
    auto until = steady_clock::now() + milliseconds(long_timeout_ms);
    while (pending(c) != 0 && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(1));
    EXPECT_EQ(pending(c), 0u);
    stop = true;
    fileaio_ctx_wakeup(c);
    waiter.join();

    std::multiset<fileaio_req *> seen(reaped.begin(), reaped.end());
    for (size_t i = 0; i < n; ++i) {
        if (crc[i] == 0) {
            EXPECT_EQ(seen.count(r[i]), 0u) << "request " << i << " was cancelled and also returned by wait";
            size_t moved = 1;
            EXPECT_EQ(fileaio_req_get_result(r[i], &moved), FILEAIO_E_CANCELED);
            EXPECT_EQ(moved, 0u);
        } else {
            EXPECT_EQ(seen.count(r[i]), 1u) << "request " << i << " (cancel said " << fileaio_errname(crc[i])
                                            << ") was returned " << seen.count(r[i]) << " times";
            expect_gate_read(r[i], buf.at(i * block), gate_offset + i * block);
        }
    }
    EXPECT_EQ(reaped.size(), n - stopped);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(slow_io);

}  // namespace
}  // namespace fileaio::test
