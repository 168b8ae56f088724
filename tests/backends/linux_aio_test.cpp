// What only the linux_aio backend has: fs.aio-max-nr, requests the kernel refuses inside
// io_submit, the fsync fallback thread, flushes held back in user space, io_cancel's mapping, and
// a poll iocb that must end io_getevents for a wakeup.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/backend_resources.hpp"
#include "fileaio/fileaio.h"
#include "support/backend_fixture.hpp"
#include "support/settings_guard.hpp"
#include "support/test_fs.hpp"
#include "support/threads.hpp"

namespace fileaio::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t block = 4096;
constexpr const char *aio_nr_path = "/proc/sys/fs/aio-nr";
constexpr const char *aio_max_nr_path = "/proc/sys/fs/aio-max-nr";
// A liveness bound: what must not hang gets this long, and never needs more than a fraction of it.
constexpr auto liveness = std::chrono::seconds(10);

bool read_number(const char *path, unsigned long *value) {
    FILE *f = std::fopen(path, "re");
    if (f == nullptr) return false;
    bool ok = std::fscanf(f, "%lu", value) == 1;
    std::fclose(f);
    return ok;
}

// Submits on a thread of its own. True when submit returned within the liveness bound; if it did
// not, unblock() is called (to end the blocked io_submit) before the thread is joined, so that a
// submit that waits for I/O fails the test instead of hanging the suite.
template <class Unblock>
bool submit_returns(fileaio_ctx *c, fileaio_req *const *r, size_t n, Unblock &&unblock, int *rc) {
    std::mutex m;
    std::condition_variable cv;
    bool returned = false;
    std::thread t([&] {
        const int x = fileaio_ctx_submit(c, r, n, nullptr);
        std::lock_guard lock(m);
        *rc = x;
        returned = true;
        cv.notify_all();
    });
    bool in_time;
    {
        std::unique_lock lock(m);
        in_time = cv.wait_for(lock, liveness, [&] { return returned; });
    }
    if (!in_time) unblock();
    t.join();
    return in_time;
}

size_t pipe_bytes(int fd) {
    int n = -1;
    return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? static_cast<size_t>(n) : 0;
}

using linux_aio = backend_fixture<FILEAIO_BACKEND_LINUX_AIO>;

// Besides its helpers, a context has the watcher and one thread of the helper pool's own: the
// staffer, which starts and joins the helpers (core/worker_pool).
constexpr size_t staffer_threads = 1;

TEST_F(linux_aio, max_reqs_above_aio_max_nr_is_insufficient_resources_and_auto_moves_on) {
    unsigned long max = 0;
    if (!read_number(aio_max_nr_path, &max)) GTEST_SKIP() << "cannot read " << aio_max_nr_path;
    if (max >= UINT32_MAX - 2) GTEST_SKIP() << "fs.aio-max-nr is unbounded here";
    const auto too_many = static_cast<uint32_t>(max + 1);
    fileaio_ctx *c = nullptr;
    EXPECT_EQ(create(&c, too_many), FILEAIO_E_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c, nullptr);
    // More than any kernel ring holds (io_setup EINVAL) is refused the same way.
    EXPECT_EQ(create(&c, 8u << 20), FILEAIO_E_INSUFFICIENT_RESOURCES);

    backend_env_unset unset;
    ASSERT_EQ(create(&c, too_many, FILEAIO_BACKEND_AUTO), 0);
    EXPECT_NE(fileaio_ctx_get_backend(c), FILEAIO_BACKEND_LINUX_AIO) << "AUTO did not move on";
    EXPECT_EQ(fileaio_ctx_destroy(c), 0);
}

TEST_F(linux_aio, aio_max_nr_below_aio_nr_fails_creation_names_the_sysctl_and_auto_moves_on) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to lower fs.aio-max-nr";
    fileaio_ctx *holder = make_ctx(64);  // makes fs.aio-nr at least 65
    ASSERT_NE(holder, nullptr);
    unsigned long nr = 0;
    ASSERT_TRUE(read_number(aio_nr_path, &nr));
    ASSERT_GT(nr, 1u);

    int created_rc = 0;
    int probe_rc = 0;
    int auto_rc = 0;
    char reason[256] = "";
    fileaio_ctx *c = nullptr;
    fileaio_ctx *automatic = nullptr;
    {
        // Other linux_aio contexts created in this window would fail too: keep it short.
        backend_env_unset unset;
        sysctl_guard guard(aio_max_nr_path);
        ASSERT_TRUE(guard.set(std::to_string(nr - 1))) << "cannot write " << aio_max_nr_path;
        created_rc = create(&c, 4);
        probe_rc = fileaio_backend_probe(FILEAIO_BACKEND_LINUX_AIO, reason, sizeof reason);
        auto_rc = create(&automatic, 4, FILEAIO_BACKEND_AUTO);
    }
    EXPECT_EQ(created_rc, FILEAIO_E_INSUFFICIENT_RESOURCES) << fileaio_errname(created_rc);
    EXPECT_EQ(c, nullptr);
    // No context can be created now: the probe says unavailable, and why.
    EXPECT_EQ(probe_rc, FILEAIO_E_NOT_SUPPORTED) << reason;
    EXPECT_NE(std::strstr(reason, "fs.aio-max-nr"), nullptr) << reason;
    EXPECT_NE(std::strstr(reason, "fs.aio-nr"), nullptr) << reason;
    ASSERT_EQ(auto_rc, 0) << fileaio_errname(auto_rc);
    EXPECT_NE(fileaio_ctx_get_backend(automatic), FILEAIO_BACKEND_LINUX_AIO);
    EXPECT_EQ(fileaio_ctx_destroy(automatic), 0);

    // Restored: creation works again.
    fileaio_ctx *again = nullptr;
    EXPECT_EQ(create(&again, 4), 0);
    if (again != nullptr) ctxs_.push_back(again);
}

TEST_F(linux_aio, requests_the_kernel_refuses_at_submit_complete_through_wait_and_the_batch_goes_on) {
    fileaio_ctx *c = make_ctx(8);
    auto r = make_reqs(5);
    int fd = pattern_file("f", 4 * block);
    int closed = ::dup(fd);
    ::close(closed);
    std::vector<char> buf(5 * block, 'w');
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_read(r[1], closed, 0, buf.data() + block, block, nullptr), 0);   // EBADF
    ASSERT_EQ(fileaio_req_prepare_write(r[2], fd, 2 * block, buf.data() + 2 * block, block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[3], closed, nullptr), 0);                                  // EBADF
    ASSERT_EQ(fileaio_req_prepare_read(r[4], fd, block, buf.data() + 4 * block, block, nullptr), 0);
    size_t submitted = 0;
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), r.size(), &submitted), 0);
    EXPECT_EQ(submitted, r.size());
    auto done = reap(c, r.size());
    EXPECT_EQ(done.size(), r.size());
    const int expected[] = {0, -EBADF, 0, -EBADF, 0};
    for (size_t i = 0; i < r.size(); ++i) {
        size_t moved = 99;
        EXPECT_EQ(fileaio_req_get_result(r[i], &moved), expected[i]) << "request " << i;
        EXPECT_EQ(moved, expected[i] == 0 ? block : 0u) << "request " << i;
    }
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.failed, 2u);
    EXPECT_EQ(st.pending, 0u);
}

TEST_F(linux_aio, a_flush_the_kernel_cannot_queue_runs_on_the_helper_and_is_still_reported_after_its_writes) {
    // /dev/null has no fsync: IOCB_CMD_FSYNC is refused at submit (EINVAL), the helper thread runs
    // fsync(2), which says EINVAL too. The barrier must hold on that path as well.
    int fd = keep_fd(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    ASSERT_GE(fd, 0);
    if (::fsync(fd) == 0 || errno != EINVAL) GTEST_SKIP() << "fsync(/dev/null) does not fail with EINVAL here";
    constexpr size_t writes = 16;
    fileaio_ctx *c = make_ctx(writes + 1);
    auto r = make_reqs(writes + 1);
    std::vector<char> buf(block, 'x');
    for (int round = 0; round < 10; ++round) {
        for (size_t i = 0; i < writes; ++i)
            ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * block), buf.data(), block, nullptr), 0);
        ASSERT_EQ(fileaio_req_prepare_datasync(r[writes], fd, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), r.size(), nullptr), 0);
        auto done = reap(c, r.size());
        ASSERT_EQ(done.size(), r.size());
        EXPECT_EQ(done.back(), r[writes]) << "round " << round;
        size_t moved = 1;
        EXPECT_EQ(fileaio_req_get_result(r[writes], &moved), -EINVAL);
        EXPECT_EQ(moved, 0u);
        for (size_t i = 0; i < writes; ++i) EXPECT_EQ(fileaio_req_get_result(r[i], nullptr), 0);
    }
}

TEST_F(linux_aio, a_flush_held_behind_a_running_write_is_cancelled_and_never_reported) {
    // The write goes to a full pipe, so it runs (on a helper) until the test drains the pipe: the
    // flush behind it is held for certain.
    int p[2];
    make_pipe(p, 0, O_NONBLOCK);
    std::vector<char> fill(1 << 16, 'f');
    while (::write(p[1], fill.data(), fill.size()) > 0) {
    }
    ASSERT_EQ(::fcntl(p[1], F_SETFL, 0), 0);  // the helper's write blocks while the pipe is full
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    std::vector<char> buf(block, 'y');
    ASSERT_EQ(fileaio_req_prepare_write(r[0], p[1], 0, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[1], p[1], nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    EXPECT_EQ(fileaio_req_cancel(r[1]), 0);
    EXPECT_EQ(fileaio_req_get_result(r[1], nullptr), FILEAIO_E_CANCELED);
    EXPECT_EQ(fileaio_req_cancel(r[1]), FILEAIO_E_NOT_SUBMITTED);
    ASSERT_EQ(::fcntl(p[0], F_SETFL, 0), 0);
    size_t drained = 0;
    while (drained < block) {  // room for the write: it finishes
        ssize_t k = ::read(p[0], fill.data(), fill.size());
        ASSERT_GT(k, 0);
        drained += static_cast<size_t>(k);
    }
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], r[0]);
    EXPECT_EQ(fileaio_req_get_result(r[0], nullptr), 0);
    fileaio_req *out[2];
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 50, out, 2, &count), FILEAIO_E_NO_REQUEST);
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    EXPECT_EQ(st.canceled, 1u);
    EXPECT_EQ(st.completed, 1u);
    EXPECT_EQ(st.pending, 0u);
    // The flush can be used again, and now runs (a pipe has no fsync: EINVAL).
    ASSERT_EQ(fileaio_req_prepare_flush(r[1], p[1], nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r[1], 1, nullptr), 0);
    reap(c, 1);
    EXPECT_EQ(fileaio_req_get_result(r[1], nullptr), -EINVAL);
}

TEST_F(linux_aio, cancel_of_cached_buffered_reads_that_submit_already_finished_says_completed_and_wait_returns_them_once) {
    fileaio_ctx *c = make_ctx(8);
    auto r = make_reqs(4);
    int fd = pattern_file("f", 4 * block);
    std::vector<char> buf(4 * block);
    for (size_t i = 0; i < 4; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * block), buf.data() + i * block, block,
                                           nullptr),
                  0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 4, nullptr), 0);
    // Cached buffered reads are served inside submit (preadv2 with RWF_NOWAIT): already finished.
    for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_cancel(q), FILEAIO_E_COMPLETED);
    auto done = reap(c, 4);
    EXPECT_EQ(done.size(), 4u);
    fileaio_req *out[4];
    size_t count = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, 0, out, 4, &count), FILEAIO_E_NO_REQUEST);
    EXPECT_EQ(static_cast<unsigned char>(buf[3 * block + 1]), pattern_byte(3 * block + 1));
}

TEST_F(linux_aio, wakeup_ends_a_wait_for_many_even_though_the_ring_holds_fewer_events) {
    // The poll iocb adds one event; io_getevents must not wait for min_reqs of them.
    fileaio_ctx *c = make_ctx(8, FILEAIO_CTX_WAIT_WITHOUT_PENDING);
    std::atomic<int> rc{FILEAIO_E_BUSY};
    steady_clock::time_point returned;
    std::thread waiter([&] {
        fileaio_req *out[8];
        size_t count = 0;
        while (rc == FILEAIO_E_BUSY) rc = fileaio_ctx_wait(c, 8, FILEAIO_WAIT_FOREVER, out, 8, &count);  // busy: the probe
        returned = steady_clock::now();
    });
    // Only once the waiter is inside its wait: a wakeup before it would be kept pending and end
    // the wait at its start, without the poll iocb this is about.
    EXPECT_TRUE(wait_until_inside_wait(c)) << "the wait never started";
    auto woke = steady_clock::now();
    ASSERT_EQ(fileaio_ctx_wakeup(c), 0);
    waiter.join();
    EXPECT_EQ(rc.load(), FILEAIO_E_INTERRUPTED);
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(returned - woke).count(), 1000);
}

TEST_F(linux_aio, a_flush_after_o_direct_writes_still_in_flight_is_reported_after_all_of_them) {
    constexpr size_t writes = 32;
    constexpr size_t size = 64 * 1024;
    std::string path = dir_.make_file("direct", 0);
    int fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) GTEST_SKIP() << "O_DIRECT unsupported on " << dir_.path() << ": " << std::strerror(errno);
    keep_fd(fd);
    fileaio_dio_alignment al{};
    ASSERT_EQ(fileaio_get_dio_alignment(fd, &al), 0);
    const size_t align = std::max<size_t>(al.mem_align, 4096);
    void *mem = nullptr;
    ASSERT_EQ(posix_memalign(&mem, align, writes * size), 0);
    std::unique_ptr<void, decltype(&std::free)> keep(mem, &std::free);
    auto *bytes = static_cast<unsigned char *>(mem);
    for (size_t i = 0; i < writes * size; ++i) bytes[i] = pattern_byte(i, 3);
    fileaio_ctx *c = make_ctx(writes + 1);
    auto r = make_reqs(writes + 1);
    for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < writes; ++i)
            ASSERT_EQ(fileaio_req_prepare_write(r[i], fd, static_cast<int64_t>(i * size), bytes + i * size, size, nullptr),
                      0);
        ASSERT_EQ(fileaio_req_prepare_flush(r[writes], fd, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), r.size(), nullptr), 0);
        auto done = reap(c, r.size());
        ASSERT_EQ(done.size(), r.size());
        EXPECT_EQ(done.back(), r[writes]) << "round " << round;
        for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_get_result(q, nullptr), 0);
    }
    // Read back through the same O_DIRECT fd.
    std::memset(bytes, 0, writes * size);
    for (size_t i = 0; i < writes; ++i)
        ASSERT_EQ(fileaio_req_prepare_read(r[i], fd, static_cast<int64_t>(i * size), bytes + i * size, size, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), writes, nullptr), 0);
    reap(c, writes);
    for (size_t i = 0; i < writes * size; ++i)
        if (bytes[i] != pattern_byte(i, 3)) FAIL() << "byte " << i << " differs";
}

// Issue 10, item 1: submit never waits for I/O. io_submit runs a pipe read synchronously: it
// blocked here until the pipe was written.
TEST_F(linux_aio, a_read_on_an_empty_pipe_returns_from_submit_and_completes_once_the_pipe_is_written) {
    int p[2];
    make_pipe(p);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(1);
    char buf[8] = {};
    // A stream cannot seek: the offset is ignored (API.md "Asynchrony").
    ASSERT_EQ(fileaio_req_prepare_read(r[0], p[0], 12345, buf, sizeof buf, nullptr), 0);
    int rc = 1;
    const bool returned = submit_returns(c, r.data(), 1, [&] { (void)!::write(p[1], "unblock!", 8); }, &rc);
    ASSERT_TRUE(returned) << "submit waited for the pipe";
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(::write(p[1], "abcdefgh", 8), 8);
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[0], &moved), 0);
    EXPECT_EQ(moved, 8u);
    EXPECT_EQ(std::string(buf, 8), "abcdefgh");
}

// Item 7: a write to a stream goes to its position whatever the offset says.
TEST_F(linux_aio, a_write_to_a_pipe_ignores_the_offset) {
    int p[2];
    make_pipe(p);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(1);
    char data[] = "stream";
    ASSERT_EQ(fileaio_req_prepare_write(r[0], p[1], 4096, data, 6, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 1, nullptr), 0);
    reap(c, 1);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[0], &moved), 0);
    EXPECT_EQ(moved, 6u);
    char got[6] = {};
    ASSERT_EQ(::read(p[0], got, 6), 6);
    EXPECT_EQ(std::string(got, 6), "stream");
}

// Item 1: an fd number that was O_DIRECT on a regular file, closed and reused for a pipe, is a
// pipe: no cached "this fd goes to the kernel" may send the read to io_submit.
TEST_F(linux_aio, an_o_direct_fd_number_reused_for_a_pipe_does_not_block_submit) {
    std::string path = dir_.make_file("direct", 2 * block);
    int fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) GTEST_SKIP() << "O_DIRECT unsupported on " << dir_.path() << ": " << std::strerror(errno);
    void *mem = nullptr;
    ASSERT_EQ(posix_memalign(&mem, block, block), 0);
    std::unique_ptr<void, decltype(&std::free)> keep(mem, &std::free);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(1);
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, mem, block, nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 1, nullptr), 0);
    reap(c, 1);
    EXPECT_EQ(fileaio_req_get_result(r[0], nullptr), 0);

    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    ASSERT_EQ(::dup3(p[0], fd, O_CLOEXEC), fd);  // the old number now names the pipe's read end
    ::close(p[0]);
    keep_fd(fd);
    keep_fd(p[1]);
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 0, mem, 4, nullptr), 0);
    int rc = 1;
    const bool returned = submit_returns(c, r.data(), 1, [&] { (void)!::write(p[1], "wake", 4); }, &rc);
    ASSERT_TRUE(returned) << "submit waited for the pipe behind a reused O_DIRECT fd number";
    ASSERT_EQ(::write(p[1], "pipe", 4), 4);
    reap(c, 1);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[0], &moved), 0);
    EXPECT_EQ(moved, 4u);
    EXPECT_EQ(std::string(static_cast<char *>(mem), 4), "pipe");
}

// Item 6: the rest of a short transfer goes on with nobody waiting. The pipe holds half of what
// the read asks for; the other half is written later, and must be consumed before any wait.
TEST_F(linux_aio, the_rest_of_a_short_pipe_read_goes_on_with_nobody_waiting) {
    int p[2];
    make_pipe(p);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(1);
    char buf[8] = {};
    ASSERT_EQ(fileaio_req_prepare_read(r[0], p[0], 0, buf, sizeof buf, nullptr), 0);
    ASSERT_EQ(::write(p[1], "1234", 4), 4);
    int rc = 1;
    ASSERT_TRUE(submit_returns(c, r.data(), 1, [&] { (void)!::write(p[1], "5678", 4); }, &rc));
    ASSERT_TRUE(eventually([&] { return pipe_bytes(p[0]) == 0; })) << "the first half was never read";
    ASSERT_EQ(::write(p[1], "5678", 4), 4);
    EXPECT_TRUE(eventually([&] { return pipe_bytes(p[0]) == 0; }))
        << "the rest of the short read did not go on without a waiter";
    auto done = reap(c, 1);
    ASSERT_EQ(done.size(), 1u);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[0], &moved), 0);
    EXPECT_EQ(moved, 8u);
    EXPECT_EQ(std::string(buf, 8), "12345678");
}

// Items 1 and 6 on FUSE, whose files io_submit runs synchronously.
// Issue 10 (review): a helper running a stream request does not count toward `threads`, so a burst
// of pipe reads grows the pool to one helper per read; once the burst is over, the helpers beyond
// `threads` must exit (the pool used to keep all of them until destroy). A second burst then starts
// helpers again, joining the exited ones.
TEST_F(linux_aio, helpers_started_for_a_burst_of_pipe_reads_exit_once_the_burst_is_over) {
    constexpr uint32_t threads = 4;
    constexpr size_t n = 64;
    // The context's quiet threads are its helpers, the watcher and the staffer.
    // A sanitizer starts its background thread (signals blocked) with the process's first thread:
    // let that happen before the count.
    std::thread([] {}).join();
    const size_t quiet_before = quiet_threads();
    fileaio_ctx *c = make_ctx_on(FILEAIO_BACKEND_LINUX_AIO, 2 * n, 0, threads);
    ASSERT_NE(c, nullptr);
    auto r = make_reqs(n);
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE(round == 0 ? "first burst" : "second burst");
        std::vector<std::array<int, 2>> p(n);
        char buf[n] = {};
        for (size_t i = 0; i < n; ++i) {
            make_pipe(p[i].data());
            ASSERT_EQ(fileaio_req_prepare_read(r[i], p[i][0], 0, &buf[i], 1, nullptr), 0);
        }
        ASSERT_EQ(fileaio_ctx_submit(c, r.data(), n, nullptr), 0);
        // Every read waits on its empty pipe on a helper of its own.
        ASSERT_TRUE(eventually([&] { return quiet_threads() >= quiet_before + n + staffer_threads; }))
            << "the pool did not grow to one helper per pipe read: " << quiet_threads() - quiet_before - staffer_threads;
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(::write(p[i][1], "x", 1), 1);
        auto done = reap(c, n);
        ASSERT_EQ(done.size(), n);
        for (size_t i = 0; i < n; ++i) {
            expect_done(r[i], 0, 1, "pipe read");
            EXPECT_EQ(buf[i], 'x') << "read " << i;
        }
        EXPECT_TRUE(eventually([&] { return quiet_threads() <= quiet_before + threads + 1 + staffer_threads; }))
            << "helpers (and the watcher) still running after the burst: "
            << quiet_threads() - quiet_before - staffer_threads << ", expected at most " << threads
            << " helpers and the watcher";
    }
}

class linux_aio_fuse : public linux_aio {
protected:
    void SetUp() override {
        linux_aio::SetUp();
        if (IsSkipped()) return;
        std::string why;
        fs_ = test_fs::mount(&why);
        if (!fs_) GTEST_SKIP() << "FUSE unavailable: " << why;
    }
    void TearDown() override {
        if (fs_) fs_->release_all();
        linux_aio::TearDown();  // drains the contexts, closes the files
        fs_.reset();
    }
    std::unique_ptr<test_fs> fs_;
};

TEST_F(linux_aio_fuse, a_buffered_read_held_by_the_gate_returns_from_submit) {
    int fd = keep_fd(::open(fs_->gate_path().c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_GE(fd, 0) << std::strerror(errno);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(1);
    std::vector<char> buf(block);
    ASSERT_EQ(fileaio_req_prepare_read(r[0], fd, 3 * block, buf.data(), block, nullptr), 0);
    int rc = 1;
    const bool returned = submit_returns(c, r.data(), 1, [&] { fs_->release_all(); }, &rc);
    ASSERT_TRUE(returned) << "submit waited for the FUSE read the gate held";
    ASSERT_EQ(rc, 0);
    EXPECT_TRUE(fs_->wait_for_in_flight(1, std::chrono::duration_cast<milliseconds>(liveness)));
    fs_->release_all();
    reap(c, 1);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r[0], &moved), 0);
    EXPECT_EQ(moved, block);
    EXPECT_EQ(static_cast<unsigned char>(buf[7]), pattern_byte(3 * block + 7));
}

TEST_F(linux_aio_fuse, a_flush_behind_a_write_runs_with_nobody_waiting_and_a_later_poll_finds_both) {
    int fd = keep_fd(::open(fs_->eio_path().c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_GE(fd, 0) << std::strerror(errno);
    fileaio_ctx *c = make_ctx(4);
    auto r = make_reqs(2);
    std::vector<char> buf(block, 'w');
    ASSERT_EQ(fileaio_req_prepare_write(r[0], fd, 0, buf.data(), block, nullptr), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(r[1], fd, nullptr), 0);
    const uint64_t before = fs_->fsyncs();
    ASSERT_EQ(fileaio_ctx_submit(c, r.data(), 2, nullptr), 0);
    // Nobody waits: the flush must still reach the filesystem.
    EXPECT_TRUE(eventually([&] { return fs_->fsyncs() > before; })) << "the held flush waited for a waiter";
    auto done = reap(c, 2);
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], r[0]);
    EXPECT_EQ(done[1], r[1]);
    for (fileaio_req *q : r) EXPECT_EQ(fileaio_req_get_result(q, nullptr), 0);
}

}  // namespace
}  // namespace fileaio::test
