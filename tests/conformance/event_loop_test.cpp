// API.md "Event loops": fileaio_ctx_get_fd on every backend. The descriptor polls readable while a
// wait with timeout 0 would return a completion or report a wakeup, readiness reaches a loop that
// is already asleep in poll or epoll_wait, and once waits have taken everything it is no longer
// readable (a loop never spins on it). Reads held on an empty pipe stand for I/O in flight: the
// same input on every backend; the data path also runs on every descriptor kind.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "support/watch.hpp"
#include "kinds_fixture.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;

int get_fd(fileaio_ctx *c) {
    int fd = -1;
    EXPECT_EQ(fileaio_ctx_get_fd(c, &fd), 0);
    return fd;
}

// Waits until thread `tid` sleeps in one of the given system calls (bounded by the safety net).
bool wait_until_blocked_in(pid_t tid, std::initializer_list<long> calls) {
    return eventually([&] {
        const long nr = blocked_in(tid);
        for (long c : calls)
            if (nr == c) return true;
        return false;
    });
}

// A thread that sleeps in poll(fd) with no timeout (the test's safety net ends it).
class poller {
public:
    explicit poller(int fd) : fd_(fd) {
        th_ = std::thread([this] {
            tid_.store(static_cast<pid_t>(::syscall(SYS_gettid)));
            woke_.store(readable(fd_, static_cast<int>(long_timeout_ms)));
            done_.store(true);
        });
        EXPECT_TRUE(eventually([&] { return tid_.load() != 0; }));
    }
    ~poller() { th_.join(); }
    bool asleep() { return wait_until_blocked_in(tid_.load(), {SYS_poll, SYS_ppoll}); }
    // Asleep in poll, or already back from it (a spurious readiness is allowed).
    bool asleep_or_done() {
        return eventually([&] {
            const long nr = done_.load() ? SYS_poll : blocked_in(tid_.load());
            return nr == SYS_poll || nr == SYS_ppoll;
        });
    }
    bool woke_readable() {
        th_.join();
        th_ = std::thread([] {});
        return woke_.load();
    }
    bool done() const { return done_.load(); }

private:
    int fd_;
    std::atomic<pid_t> tid_{0};
    std::atomic<bool> woke_{false};
    std::atomic<bool> done_{false};
    std::thread th_;
};

class event_loop : public backend_test {
protected:
    // A read of one block on the read end of a fresh empty pipe, submitted: in flight until
    // feed() writes the block.
    fileaio_req *held_read(fileaio_ctx *c) {
        make_pipe(pipe_);
        fileaio_req *r = make_req();
        EXPECT_EQ(fileaio_req_prepare_read(r, pipe_[0], 0, buf_.data(), block, nullptr), 0);
        EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        return r;
    }
    void feed() { write_pattern(pipe_[1], block); }

    int pipe_[2] = {-1, -1};
    std::vector<unsigned char> buf_ = std::vector<unsigned char>(block);
};

TEST_P(event_loop, the_descriptor_is_the_contexts_own_the_same_every_time_close_on_exec_and_closed_by_destroy) {
    fileaio_ctx *c = nullptr;
    ASSERT_EQ(fileaio_ctx_create_ex(&c, 4, 0, GetParam()), 0);
    int fd = -1;
    ASSERT_EQ(fileaio_ctx_get_fd(c, &fd), 0);
    ASSERT_GE(fd, 0);
    int again = -1;
    ASSERT_EQ(fileaio_ctx_get_fd(c, &again), 0);
    EXPECT_EQ(again, fd);
    EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    EXPECT_FALSE(readable(fd)) << "readable with nothing submitted";
    ASSERT_EQ(fileaio_ctx_destroy(c), 0);
    errno = 0;
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "destroy left the descriptor open";
    EXPECT_EQ(errno, EBADF);
}

TEST_P(event_loop, a_completion_makes_it_readable_and_the_wait_that_takes_it_clears_it) {
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    fileaio_req *r = held_read(c);
    fileaio_req *out[2] = {};
    size_t count = 99;
    // Nothing has finished: a poll takes nothing, and after it the descriptor is quiet.
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 2, &count), FILEAIO_E_TIMEOUT);
    EXPECT_EQ(count, 0u);
    EXPECT_FALSE(readable(fd)) << "readable after a wait that found nothing, with the read still held";
    feed();
    ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "the read finished, the descriptor never said so";
    EXPECT_TRUE(readable(fd)) << "level-triggered: still readable until a wait takes the completion";
    ASSERT_EQ(fileaio_ctx_wait(c, 1, 0, out, 2, &count), 0);
    ASSERT_EQ(count, 1u);
    EXPECT_EQ(out[0], r);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, block);
    EXPECT_FALSE(readable(fd)) << "still readable after the wait took everything: a loop would spin";
}

TEST_P(event_loop, readiness_reaches_a_loop_asleep_in_poll_while_another_thread_submits) {
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    make_pipe(pipe_);
    feed();  // the data is there: the read finishes as soon as it runs
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, pipe_[0], 0, buf_.data(), block, nullptr), 0);
    poller loop(fd);
    ASSERT_TRUE(loop.asleep()) << "the loop thread never went to sleep in poll";
    std::thread submitter([&] { EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0); });
    submitter.join();
    EXPECT_TRUE(loop.woke_readable()) << "a loop asleep in poll never heard of the completion";
    fileaio_req *out[1] = {};
    size_t count = 0;
    ASSERT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), 0);
    EXPECT_EQ(count, 1u);
    EXPECT_FALSE(readable(fd));
}

TEST_P(event_loop, a_completion_reaches_a_loop_asleep_in_epoll_wait_level_triggered) {
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    const int ep = keep_fd(::epoll_create1(EPOLL_CLOEXEC));
    ASSERT_GE(ep, 0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 7;
    ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
    fileaio_req *r = held_read(c);
    std::atomic<pid_t> tid{0};
    int n = -1;
    epoll_event got{};
    std::thread loop([&] {
        tid.store(static_cast<pid_t>(::syscall(SYS_gettid)));
        do {
            n = ::epoll_wait(ep, &got, 1, static_cast<int>(long_timeout_ms));
        } while (n < 0 && errno == EINTR);
    });
    ASSERT_TRUE(eventually([&] { return tid.load() != 0; }));
    ASSERT_TRUE(wait_until_blocked_in(tid.load(), {SYS_epoll_wait, SYS_epoll_pwait}));
    feed();
    loop.join();
    ASSERT_EQ(n, 1) << "epoll_wait never reported the completion";
    EXPECT_EQ(got.data.u64, 7u);
    // Level-triggered: reported again until taken.
    EXPECT_EQ(::epoll_wait(ep, &got, 1, 0), 1);
    fileaio_req *out[1] = {};
    size_t count = 0;
    ASSERT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), 0);
    ASSERT_EQ(count, 1u);
    EXPECT_EQ(out[0], r);
    EXPECT_EQ(::epoll_wait(ep, &got, 1, 0), 0) << "epoll still reports the descriptor after the wait took everything";
}

TEST_P(event_loop, a_wakeup_makes_it_readable_for_a_sleeping_loop_and_the_wait_that_reports_it_clears_it) {
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    held_read(c);
    poller loop(fd);
    ASSERT_TRUE(loop.asleep());
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    EXPECT_TRUE(loop.woke_readable()) << "a wakeup never reached the loop";
    fileaio_req *out[1] = {};
    size_t count = 99;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_INTERRUPTED);
    EXPECT_EQ(count, 0u);
    EXPECT_FALSE(readable(fd)) << "still readable after the wait reported the wakeup (the read is still held)";
    feed();  // the read then ends normally
    ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms)));
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), 0);
    EXPECT_EQ(count, 1u);
}

TEST_P(event_loop, a_wakeup_with_nothing_pending_is_no_reason_to_be_readable_until_a_submit_makes_a_wait_report_it) {
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    EXPECT_FALSE(readable(fd)) << "readable while a wait answers E_NO_REQUEST: a loop would spin";
    fileaio_req *out[1] = {};
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_NO_REQUEST);
    held_read(c);
    EXPECT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "the pending wakeup became reportable unnoticed";
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_INTERRUPTED);
    EXPECT_FALSE(readable(fd));
    feed();
    ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms)));
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), 0);
}

TEST_P(event_loop, a_wakeup_on_a_context_that_waits_without_pending_is_readable_at_once) {
    fileaio_ctx *c = make_ctx(4, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    const int fd = get_fd(c);
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    EXPECT_TRUE(readable(fd, static_cast<int>(long_timeout_ms)));
    fileaio_req *out[1] = {};
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_INTERRUPTED);
    EXPECT_FALSE(readable(fd));
}

TEST_P(event_loop, asked_for_while_a_read_is_in_flight_it_still_hears_of_that_read) {
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = held_read(c);
    const int fd = get_fd(c);
    feed();
    ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "a read submitted before get_fd was never announced";
    fileaio_req *out[1] = {};
    size_t count = 0;
    ASSERT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), 0);
    EXPECT_EQ(out[0], r);
    EXPECT_FALSE(readable(fd));
}

TEST_P(event_loop, stays_readable_while_completions_are_left_and_stops_when_the_last_is_taken) {
    constexpr size_t n = 3;
    fileaio_ctx *c = make_ctx(n);
    const int fd = get_fd(c);
    make_pipe(pipe_);
    std::vector<std::vector<unsigned char>> bufs(n, std::vector<unsigned char>(block));
    std::vector<fileaio_req *> reqs = make_reqs(n);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(reqs[i], pipe_[0], 0, bufs[i].data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, reqs.data(), n, nullptr), 0);
    write_pattern(pipe_[1], n * block);
    // Take them one by one as the descriptor says; every one must come, each wait taking at most one.
    size_t taken = 0;
    while (taken < n) {
        ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "silent with " << n - taken << " reads unreturned";
        fileaio_req *out[1] = {};
        size_t count = 0;
        const int rc = fileaio_ctx_wait(c, 1, 0, out, 1, &count);
        ASSERT_TRUE(rc == 0 || rc == FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
        taken += count;
    }
    EXPECT_FALSE(readable(fd)) << "readable after the last completion was taken";
}

// fileaio_ctx_pause_fd: while paused the descriptor may stay quiet for completions (io_uring's
// kernel signal is off), but resuming makes it readable for what finished meanwhile — also for a
// loop already asleep in poll — and from then on it follows the rule again.
TEST_P(event_loop, a_read_that_finishes_while_paused_is_announced_by_the_resume_to_a_sleeping_loop) {
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 1), 0);
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 1), 0);  // twice: still one pause
    fileaio_req *r = held_read(c);
    feed();
    poller loop(fd);
    // The loop may wake at once (a backend that signals anyway); else it sleeps until the resume.
    ASSERT_TRUE(loop.asleep_or_done()) << "the loop thread never went to sleep in poll";
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 0), 0);
    EXPECT_TRUE(loop.woke_readable()) << "the read finished while paused and the resume never said so";
    fileaio_req *out[1] = {};
    size_t count = 0;
    ASSERT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count), 0);
    ASSERT_EQ(count, 1u);
    EXPECT_EQ(out[0], r);
    EXPECT_FALSE(readable(fd)) << "resumed: still readable after the wait took everything";
    // Resumed: a later completion reaches a sleeping loop by itself.
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 0), 0);  // resuming again changes nothing
    ASSERT_EQ(fileaio_req_prepare_read(r, pipe_[0], 0, buf_.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    poller again(fd);
    ASSERT_TRUE(again.asleep()) << "the loop thread never went to sleep in poll";
    feed();
    EXPECT_TRUE(again.woke_readable()) << "after the resume a completion no longer reaches the loop";
    ASSERT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), 0);
    EXPECT_EQ(count, 1u);
}

// Paused before the descriptor exists: get_fd creates it paused, and resuming announces the read.
TEST_P(event_loop, paused_before_the_descriptor_is_asked_for_it_starts_paused_and_the_resume_announces_the_read) {
    fileaio_ctx *c = make_ctx(4);
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 1), 0);
    const int fd = get_fd(c);
    fileaio_req *r = held_read(c);
    feed();
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 0), 0);
    ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "the resume never announced the read";
    fileaio_req *out[1] = {};
    size_t count = 0;
    ASSERT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count), 0);
    EXPECT_EQ(out[0], r);
    EXPECT_FALSE(readable(fd));
}

// API.md: resuming "before returning makes the descriptor readable if a wait with timeout_ms = 0
// would return something". Checked at once after the resume (poll with timeout 0): io_uring's
// progress helper signals the descriptor by itself after its grace period whatever the pause
// says, so a later look could not tell a resume that re-arms from one that does not.
TEST_P(event_loop, the_resume_itself_makes_the_descriptor_readable_for_a_read_that_finished_while_paused) {
    // Elsewhere the pause changes nothing and the read may finish after the resume (a worker).
    if (GetParam() != FILEAIO_BACKEND_IO_URING) GTEST_SKIP() << "io_uring posts the pipe read inside feed()";
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 1), 0);
    fileaio_req *r = held_read(c);
    feed();  // the kernel posts the read's completion as this thread leaves write()
    fileaio_req *out[1] = {};
    size_t count = 0;
    ASSERT_EQ(fileaio_ctx_pause_fd(c, 0), 0);
    EXPECT_TRUE(readable(fd, 0)) << "resumed with a completion waiting, and the descriptor is not readable";
    ASSERT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count), 0);
    EXPECT_EQ(out[0], r);
    // Resumed: the kernel signals again as it posts (IORING_CQ_EVENTFD_DISABLED cleared).
    ASSERT_EQ(fileaio_req_prepare_read(r, pipe_[0], 0, buf_.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    feed();
    EXPECT_TRUE(readable(fd, 0)) << "resumed, and a completion posted since left the descriptor quiet";
    ASSERT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count), 0);
}

TEST_P(event_loop, a_cancelled_read_is_no_completion_and_leaves_the_descriptor_quiet) {
    fileaio_ctx *c = make_ctx(4);
    const int fd = get_fd(c);
    fileaio_req *r = held_read(c);
    const int rc = fileaio_req_cancel(r);
    fileaio_req *out[1] = {};
    size_t count = 0;
    if (rc == 0) {
        EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_COMPLETED);
        EXPECT_FALSE(readable(fd)) << "a request cancel stopped is not handed back by a wait";
        EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_NO_REQUEST);
    } else {
        // It could not be stopped: it still completes like any other.
        EXPECT_EQ(rc, FILEAIO_E_IN_PROGRESS) << fileaio_errname(rc);
        feed();
        ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms)));
        EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), 0);
        EXPECT_EQ(count, 1u);
        EXPECT_FALSE(readable(fd));
    }
}

// API.md: the descriptor is the context's own, only to be polled. A caller who closes it anyway
// and gets its number back for a file must not find the library writing into that file (8 bytes
// per completion) or draining it, and destroy must not close their file.
TEST_P(event_loop, a_caller_who_closes_the_descriptor_and_reuses_its_number_finds_that_file_untouched) {
    fileaio_ctx *c = nullptr;
    ASSERT_EQ(fileaio_ctx_create_ex(&c, 4, 0, GetParam()), 0);
    const int fd = get_fd(c);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::close(fd), 0);
    const int file = pattern_file("victim", 0);
    ASSERT_EQ(::dup2(file, fd), fd);  // the number now names the caller's file
    const int data = pattern_file("data", block);
    fileaio_req *r = make_req();
    fileaio_req *out[1] = {};
    size_t count = 0;
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(fileaio_req_prepare_read(r, data, 0, buf_.data(), block, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count), 0);
        ASSERT_EQ(count, 1u);
    }
    ASSERT_EQ(fileaio_req_prepare_read(r, data, 0, buf_.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    // A pending wakeup wins over completions, and the wait still hands back what is there.
    size_t taken = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count), FILEAIO_E_INTERRUPTED);
    taken += count;
    if (taken == 0) {
        ASSERT_EQ(fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count), 0);
    }
    ASSERT_EQ(fileaio_ctx_destroy(c), 0);
    EXPECT_EQ(::lseek(file, 0, SEEK_END), 0) << "the library wrote into a file that took the descriptor's number";
    EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "destroy closed the caller's file";
    ::close(fd);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(event_loop);

// ---- the data path, on every descriptor kind ----

using event_loop_kinds = kind_test;

TEST_P(event_loop_kinds, a_loop_driven_only_by_the_descriptor_gets_every_read_and_write_with_the_right_bytes) {
    io_target t;
    OPEN_TARGET(t, 8 * block);
    fileaio_ctx *c = make_ctx(8);
    const int fd = get_fd(c);
    aligned_buffer &in = make_buffer(4 * block);
    aligned_buffer &out = make_buffer(4 * block);
    for (size_t i = 0; i < 4 * block; ++i) out.data()[i] = pattern_byte(8 * block + i);
    std::vector<fileaio_req *> reqs = make_reqs(8);
    // Four reads of the pattern, then four writes that extend it (a stream: at its position).
    for (size_t i = 0; i < 4; ++i) {
        ASSERT_EQ(fileaio_req_prepare_read(reqs[i], t.rfd, static_cast<int64_t>(i * block), in.data() + i * block, block, nullptr), 0);
        ASSERT_EQ(fileaio_req_prepare_write(reqs[4 + i], t.wfd, static_cast<int64_t>((8 + i) * block), out.data() + i * block, block,
                                            nullptr),
                  0);
    }
    // One at a time on a stream, so that the bytes land in order; all at once on files.
    const size_t step = t.seekable() ? 8 : 1;
    size_t moved_total = 0;
    for (size_t first = 0; first < 8; first += step) {
        ASSERT_EQ(fileaio_ctx_submit(c, reqs.data() + first, step, nullptr), 0);
        size_t taken = 0;
        while (taken < step) {
            ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "silent with " << step - taken << " requests unreturned";
            fileaio_req *got[8] = {};
            size_t count = 0;
            const int rc = fileaio_ctx_wait(c, 1, 0, got, 8, &count);
            ASSERT_TRUE(rc == 0 || rc == FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
            for (size_t k = 0; k < count; ++k) {
                size_t moved = 0;
                EXPECT_EQ(fileaio_req_get_result(got[k], &moved), 0);
                moved_total += moved;
            }
            taken += count;
        }
        EXPECT_FALSE(readable(fd)) << "readable with everything taken";
    }
    EXPECT_EQ(moved_total, 8 * block);
    EXPECT_TRUE(holds_pattern(in.data(), 4 * block, 0));
    if (t.seekable()) {
        aligned_buffer &back = make_buffer(4 * block);  // aligned: the descriptor may be O_DIRECT
        ASSERT_EQ(::pread(t.rfd, back.data(), 4 * block, static_cast<off_t>(8 * block)), static_cast<ssize_t>(4 * block));
        EXPECT_TRUE(holds_pattern(back.data(), 4 * block, 8 * block)) << "the writes did not land";
    }
}

TEST_P(event_loop_kinds, asked_for_with_reads_already_in_flight_it_announces_every_one) {
    constexpr size_t n = 16;
    io_target t;
    OPEN_TARGET(t, n * block);
    fileaio_ctx *c = make_ctx(n);
    aligned_buffer &in = make_buffer(n * block);
    std::vector<fileaio_req *> reqs = make_reqs(n);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(reqs[i], t.rfd, static_cast<int64_t>(i * block), in.data() + i * block, block, nullptr), 0);
    // On a stream the reads take the blocks in whatever order they run: check the bytes only on files.
    ASSERT_EQ(fileaio_ctx_submit(c, reqs.data(), n, nullptr), 0);
    const int fd = get_fd(c);  // (linux_aio: iocbs already in the kernel carry no eventfd)
    size_t taken = 0;
    while (taken < n) {
        ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "silent with " << n - taken << " reads unreturned";
        fileaio_req *got[n] = {};
        size_t count = 0;
        const int rc = fileaio_ctx_wait(c, 1, 0, got, n, &count);
        ASSERT_TRUE(rc == 0 || rc == FILEAIO_E_TIMEOUT) << fileaio_errname(rc);
        taken += count;
    }
    EXPECT_FALSE(readable(fd));
    if (t.seekable()) {
        EXPECT_TRUE(holds_pattern(in.data(), n * block, 0));
    }
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND_AND_KIND(event_loop_kinds);

}  // namespace
}  // namespace fileaio::test
