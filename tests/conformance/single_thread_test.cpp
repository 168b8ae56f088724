// FILEAIO_CTX_SINGLE_THREAD (docs/API.md "Contexts"): the caller promises that submit, wait,
// cancel and buffer registration come from one thread, the owner (the first that submits or
// waits); another thread gets E_BUSY and changes nothing. Wakeup and get_fd still work from any
// thread. On every backend alike (io_uring runs a single-issuer ring under it; the others only
// check the thread). The rest of the conformance suite's single-threaded binary runs with the
// flag too (CMakeLists.txt: conformance_single_thread).
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "support/watch.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;
constexpr uint32_t solo = FILEAIO_CTX_SINGLE_THREAD;

class single_thread : public backend_test {
protected:
    // A read of one block on a fresh empty pipe, prepared: in flight once submitted, until feed().
    fileaio_req *pipe_read() {
        make_pipe(pipe_);
        fileaio_req *r = make_req();
        EXPECT_EQ(fileaio_req_prepare_read(r, pipe_[0], 0, buf_.data(), block, nullptr), 0);
        return r;
    }
    void feed() { write_pattern(pipe_[1], block); }

    int pipe_[2] = {-1, -1};
    std::vector<unsigned char> buf_ = std::vector<unsigned char>(block);
};

TEST_P(single_thread, the_flag_is_accepted_and_the_owner_reads_and_writes) {
    fileaio_ctx *c = make_ctx(8, solo);
    ASSERT_NE(c, nullptr);
    const int fd = pattern_file("data", 4 * block);
    std::vector<unsigned char> out(block, 0xab);
    fileaio_req *w = make_req();
    ASSERT_EQ(fileaio_req_prepare_write(w, fd, block, out.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &w, 1, nullptr), 0);
    ASSERT_EQ(reap(c, 1).size(), 1u);
    expect_done(w, 0, block, "write");
    fileaio_req *f = make_req();
    ASSERT_EQ(fileaio_req_prepare_flush(f, fd, nullptr), 0);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, block, buf_.data(), block, nullptr), 0);
    fileaio_req *both[2] = {f, r};
    ASSERT_EQ(fileaio_ctx_submit(c, both, 2, nullptr), 0);
    ASSERT_EQ(reap(c, 2).size(), 2u);
    expect_done(f, 0, 0, "flush");
    expect_done(r, 0, block, "read");
    EXPECT_EQ(buf_, out);
}

TEST_P(single_thread, another_thread_gets_busy_for_submit_wait_cancel_and_buffers_and_changes_nothing) {
    fileaio_ctx *c = make_ctx(8, solo);
    fileaio_req *held = pipe_read();
    ASSERT_EQ(fileaio_ctx_submit(c, &held, 1, nullptr), 0);  // this thread is the owner now
    fileaio_req *other = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(other, pipe_[0], 0, buf_.data(), block, nullptr), 0);
    std::thread stranger([&] {
        size_t submitted = 99;
        EXPECT_EQ(fileaio_ctx_submit(c, &other, 1, &submitted), FILEAIO_E_BUSY);
        EXPECT_EQ(submitted, 0u);
        fileaio_req *out[1] = {};
        size_t count = 99;
        EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_BUSY);
        EXPECT_EQ(count, 0u);
        EXPECT_EQ(fileaio_req_cancel(held), FILEAIO_E_BUSY);
        const iovec region{buf_.data(), block};
        EXPECT_EQ(fileaio_ctx_register_buffers(c, &region, 1), FILEAIO_E_BUSY);  // pending: BUSY anyway
        EXPECT_EQ(fileaio_ctx_wakeup(c), 0);  // any thread
    });
    stranger.join();
    EXPECT_EQ(fileaio_req_get_state(other), FILEAIO_REQ_PREPARED);
    EXPECT_EQ(fileaio_req_get_state(held), FILEAIO_REQ_SUBMITTED);
    EXPECT_EQ(pending(c), 1u);
    // The stranger's wakeup is the owner's next wait's.
    fileaio_req *out[1] = {};
    size_t count = 99;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, out, 1, &count), FILEAIO_E_INTERRUPTED);
    EXPECT_EQ(count, 0u);
    // The owner's cancel decides (any of the three answers is legal for a pipe read).
    const int rc = fileaio_req_cancel(held);
    EXPECT_TRUE(rc == 0 || rc == FILEAIO_E_IN_PROGRESS || rc == FILEAIO_E_COMPLETED) << fileaio_errname(rc);
    if (rc != 0) {
        feed();
        ASSERT_EQ(reap(c, 1).size(), 1u);
    }
    EXPECT_EQ(pending(c), 0u);
}

TEST_P(single_thread, buffers_registered_by_another_thread_before_anyone_submits_are_fine) {
    fileaio_ctx *c = make_ctx(8, solo);
    const iovec region{buf_.data(), block};
    std::thread helper([&] {
        EXPECT_EQ(fileaio_ctx_register_buffers(c, &region, 1), 0);  // nobody owns it yet
    });
    helper.join();
    const int fd = pattern_file("data", block);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf_.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    ASSERT_EQ(reap(c, 1).size(), 1u);
    expect_done(r, 0, block, "read into a registered buffer");
    std::thread stranger([&] { EXPECT_EQ(fileaio_ctx_unregister_buffers(c), FILEAIO_E_BUSY); });
    stranger.join();
    EXPECT_EQ(fileaio_ctx_unregister_buffers(c), 0);
}

TEST_P(single_thread, the_owner_is_the_first_thread_that_submits_not_the_creator) {
    fileaio_ctx *c = make_ctx(8, solo);  // created here, used by `worker`
    const int fd = pattern_file("data", block);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf_.data(), block, nullptr), 0);
    std::thread worker([&] {
        EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        EXPECT_EQ(reap(c, 1).size(), 1u);
    });
    worker.join();
    expect_done(r, 0, block, "read by the owner thread");
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf_.data(), block, nullptr), 0);
    EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), FILEAIO_E_BUSY);
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_PREPARED);
}

TEST_P(single_thread, a_wakeup_from_another_thread_ends_the_owners_blocked_wait) {
    fileaio_ctx *c = make_ctx(8, solo | FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    fileaio_req *held = pipe_read();
    ASSERT_EQ(fileaio_ctx_submit(c, &held, 1, nullptr), 0);
    const auto owner = static_cast<pid_t>(::syscall(SYS_gettid));
    std::thread waker([&] {
        // Mostly while the owner sleeps in its wait (any system call it blocks in); a wakeup that
        // comes earlier must end the wait all the same.
        (void)eventually([&] { return blocked_in(owner) != -1; });
        EXPECT_EQ(fileaio_ctx_wakeup(c), 0);
    });
    fileaio_req *out[1] = {};
    size_t count = 99;
    // Whether the wakeup came before or during this wait, it ends it.
    EXPECT_EQ(fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count), FILEAIO_E_INTERRUPTED);
    waker.join();
    EXPECT_EQ(count, 0u);
    // The wakeup was taken: the next poll finds nothing.
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_TIMEOUT);
    feed();
    ASSERT_EQ(reap(c, 1).size(), 1u);
    expect_done(held, 0, block, "the held read");
}

TEST_P(single_thread, a_wakeup_before_the_owners_first_call_is_not_lost) {
    fileaio_ctx *c = make_ctx(8, solo | FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    std::thread waker([&] { EXPECT_EQ(fileaio_ctx_wakeup(c), 0); });
    waker.join();
    fileaio_req *out[1] = {};
    size_t count = 99;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, FILEAIO_WAIT_FOREVER, out, 1, &count), FILEAIO_E_INTERRUPTED);
}

// The owner runs an event loop: the descriptor says when a completion waits, as on any context.
TEST_P(single_thread, an_event_loop_on_the_owner_thread_hears_of_a_completion) {
    fileaio_ctx *c = make_ctx(8, solo);
    int fd = -1;
    ASSERT_EQ(fileaio_ctx_get_fd(c, &fd), 0);
    fileaio_req *held = pipe_read();
    ASSERT_EQ(fileaio_ctx_submit(c, &held, 1, nullptr), 0);
    fileaio_req *out[1] = {};
    size_t count = 99;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_TIMEOUT);
    EXPECT_FALSE(readable(fd, 0)) << "readable with the read still held";
    std::thread writer([&] { feed(); });
    writer.join();
    ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms))) << "the read finished, the descriptor never said so";
    // Readiness may be spurious: a loop polls until the completion is handed back.
    ASSERT_TRUE(eventually([&] {
        if (fileaio_ctx_wait(c, 1, 0, out, 1, &count) == 0 && count == 1) return true;
        (void)readable(fd, static_cast<int>(long_timeout_ms));  // sleep until it says so again
        return false;
    }));
    EXPECT_EQ(out[0], held);
    expect_done(held, 0, block, "the held read");
    EXPECT_FALSE(readable(fd, 0)) << "still readable after the wait took everything: a loop would spin";
}

// get_fd asked by another thread after the owner started: the descriptor still works.
TEST_P(single_thread, get_fd_from_another_thread_after_the_owner_started_still_hears_of_completions) {
    fileaio_ctx *c = make_ctx(8, solo);
    fileaio_req *held = pipe_read();
    ASSERT_EQ(fileaio_ctx_submit(c, &held, 1, nullptr), 0);
    int fd = -1;
    std::thread other([&] { EXPECT_EQ(fileaio_ctx_get_fd(c, &fd), 0); });
    other.join();
    ASSERT_GE(fd, 0);
    fileaio_req *out[1] = {};
    size_t count = 0;
    bool fed = false;
    // The loop: sleep on the descriptor, poll the context when it says so; feed the pipe once the
    // descriptor has gone quiet (everything before was spurious).
    ASSERT_TRUE(eventually([&] {
        if (!readable(fd, fed ? static_cast<int>(long_timeout_ms) : 0)) {
            if (!fed) {
                feed();
                fed = true;
            }
            return false;
        }
        return fileaio_ctx_wait(c, 1, 0, out, 1, &count) == 0 && count == 1;
    }));
    EXPECT_TRUE(fed);
    EXPECT_EQ(out[0], held);
    expect_done(held, 0, block, "the held read");
    EXPECT_FALSE(readable(fd, 0)) << "still readable after the wait took everything: a loop would spin";
}

// The owner is a thread, not a pthread_t: glibc hands a new thread the pthread_t (and stack) of
// one that has exited, so a thread started after the owner's end is usually "the same" by
// pthread_self(). It is another thread all the same (the kernel's single issuer is the exited
// task): it gets E_BUSY and changes nothing, whatever its pthread_t.
TEST_P(single_thread, a_thread_started_after_the_owner_exited_is_not_the_owner) {
    fileaio_ctx *c = make_ctx(8, solo);
    const int fd = pattern_file("data", block);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf_.data(), block, nullptr), 0);
    pthread_t first_id{};
    std::thread first([&] {
        first_id = pthread_self();
        EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        EXPECT_EQ(reap(c, 1).size(), 1u);
    });
    first.join();
    expect_done(r, 0, block, "read by the owner thread");
    ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, buf_.data(), block, nullptr), 0);
    bool same_id = false;
    std::thread second([&] {
        same_id = pthread_equal(first_id, pthread_self()) != 0;
        size_t submitted = 99;
        EXPECT_EQ(fileaio_ctx_submit(c, &r, 1, &submitted), FILEAIO_E_BUSY) << "same pthread_t: " << same_id;
        EXPECT_EQ(submitted, 0u);
        fileaio_req *out[1] = {};
        size_t count = 99;
        EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_BUSY) << "same pthread_t: " << same_id;
    });
    second.join();
    EXPECT_EQ(fileaio_req_get_state(r), FILEAIO_REQ_PREPARED);
    EXPECT_EQ(pending(c), 0u);
}

// get_fd asked by another thread once the owner has started, with nothing pending: a wait that
// would answer E_NO_REQUEST is no reason to be readable (API.md "Event loops"). Readiness may be
// spurious for a round or two (the flag's text: until the owner's next wait), but the owner's
// waits must end it, or an event loop on the owner thread spins (readable, wait: E_NO_REQUEST,
// readable, ...) until something is submitted.
TEST_P(single_thread, get_fd_from_another_thread_with_nothing_pending_is_quiet_after_the_owners_waits) {
    fileaio_ctx *c = make_ctx(8, solo);
    const int data = pattern_file("data", block);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, data, 0, buf_.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);  // this thread owns the context now
    ASSERT_EQ(reap(c, 1).size(), 1u);
    int fd = -1;
    std::thread other([&] { EXPECT_EQ(fileaio_ctx_get_fd(c, &fd), 0); });
    other.join();
    ASSERT_GE(fd, 0);
    fileaio_req *out[1] = {};
    size_t count = 99;
    for (int round = 0; round < 3 && readable(fd, 0); ++round)
        EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 1, &count), FILEAIO_E_NO_REQUEST);
    EXPECT_FALSE(readable(fd, 0)) << "readable with nothing pending after the owner's waits: a loop would spin";
    // And it still hears of a completion.
    fileaio_req *held = pipe_read();
    ASSERT_EQ(fileaio_ctx_submit(c, &held, 1, nullptr), 0);
    feed();
    ASSERT_TRUE(readable(fd, static_cast<int>(long_timeout_ms)));
    ASSERT_TRUE(eventually([&] {
        if (fileaio_ctx_wait(c, 1, 0, out, 1, &count) == 0 && count == 1) return true;
        (void)readable(fd, static_cast<int>(long_timeout_ms));
        return false;
    }));
    expect_done(held, 0, block, "the held read");
    EXPECT_FALSE(readable(fd, 0));
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(single_thread);

}  // namespace
}  // namespace fileaio::test
