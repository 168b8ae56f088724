// The coroutine API (fileaio/async.hpp) on every backend: data through awaitable reads, writes,
// vectored I/O and syncs on every descriptor kind; many coroutines through a small pool; errors
// as error_code; cancellation that resumes exactly once; and the frames' lifetimes (a coroutine
// destroyed mid-read, a scheduler destroyed with I/O in flight). The FUSE gate holds a read in
// flight deterministically.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

#include "fileaio/async.hpp"
#include "fuse_fixture.hpp"
#include "support/at_exit.hpp"
#include "kinds_fixture.hpp"

namespace fileaio::test {
namespace {

using namespace std::chrono_literals;


std::span<std::byte> bytes(aligned_buffer &b, size_t off = 0, size_t n = SIZE_MAX) {
    return std::span(reinterpret_cast<std::byte *>(b.data()), b.size()).subspan(off, std::min(n, b.size() - off));
}

context_options options(fileaio_backend b, uint32_t max_reqs) {
    context_options o;
    o.max_reqs = max_reqs;
    o.backend = static_cast<fileaio::backend>(b);
    return o;
}

// ---- every backend × every descriptor kind ----

class cpp_coro_kind_test : public kind_test {};

constexpr size_t block = 4096;
constexpr size_t blocks = 16;

// Reads blocks one after the other (a stream gives them in order), counting the bytes.
task<size_t> read_blocks(io_scheduler &io, int fd, aligned_buffer &buf) {
    size_t total = 0;
    for (size_t i = 0; i < blocks; ++i) {
        auto [ec, n] = co_await io.read(fd, static_cast<int64_t>(i * block), bytes(buf, i * block, block));
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_EQ(n, block);
        total += n;
    }
    co_return total;
}

TEST_P(cpp_coro_kind_test, awaited_reads_deliver_the_data) {
    io_target t;
    OPEN_TARGET(t, block * blocks);
    aligned_buffer &buf = make_buffer(block * blocks);
    context ctx(options(backend(), 8));
    io_scheduler io(ctx);
    EXPECT_EQ(sync_wait(io, read_blocks(io, t.rfd, buf)), block * blocks);
    EXPECT_TRUE(holds_pattern(buf.data(), block * blocks, 0));
    EXPECT_EQ(io.outstanding(), 0u);
}

// Writes two blocks (one plain, one vectored), syncs, reads them back with a vectored read.
task<void> write_sync_read(io_scheduler &io, int fd, aligned_buffer &out, aligned_buffer &in) {
    auto w = co_await io.write(fd, 0, bytes(out, 0, block));
    EXPECT_FALSE(w.error) << w.error.message();
    EXPECT_EQ(w.transferred, block);
    std::array<struct iovec, 1> wv{{{out.at(block), block}}};
    auto wv_res = co_await io.writev(fd, static_cast<int64_t>(block), wv);
    EXPECT_FALSE(wv_res.error) << wv_res.error.message();
    EXPECT_EQ(wv_res.transferred, block);
    auto d = co_await io.datasync(fd);
    EXPECT_FALSE(d.error) << d.error.message();
    auto f = co_await io.flush(fd);
    EXPECT_FALSE(f.error) << f.error.message();
    std::array<struct iovec, 2> rv{{{in.at(0), block}, {in.at(block), block}}};
    auto r = co_await io.readv(fd, 0, rv);
    EXPECT_FALSE(r.error) << r.error.message();
    EXPECT_EQ(r.transferred, 2 * block);
}

TEST_P(cpp_coro_kind_test, awaited_writes_syncs_and_vectored_reads) {
    io_target t;
    OPEN_TARGET(t, 2 * block);
    if (!t.seekable()) GTEST_SKIP() << "reading back what was written at an offset means nothing on a pipe";
    aligned_buffer &out = make_buffer(2 * block);
    aligned_buffer &in = make_buffer(2 * block);
    for (size_t i = 0; i < out.size(); ++i) out.data()[i] = pattern_byte(i, 7);
    context ctx(options(backend(), 8));
    io_scheduler io(ctx);
    sync_wait(io, write_sync_read(io, t.wfd, out, in));
    EXPECT_TRUE(holds_pattern(in.data(), 2 * block, 0, 7));
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND_AND_KIND(cpp_coro_kind_test);

// ---- every backend ----

class cpp_coro_test : public fuse_backend_test {
protected:
    context_options opts(uint32_t max_reqs) const { return options(GetParam(), max_reqs); }
};

task<void> read_one(io_scheduler &io, int fd, int64_t off, std::span<std::byte> buf, std::atomic<int> &resumed,
                    result &out, std::stop_token st = {}) {
    out = co_await io.read(fd, off, buf, std::move(st));
    resumed.fetch_add(1);
}

// 64 coroutines through a pool of 4 requests: all resume once with their data, never more than
// 4 requests in flight.
TEST_P(cpp_coro_test, many_coroutines_share_a_bounded_pool) {
    constexpr size_t n = 64;
    int fd = pattern_file("f", n * block, O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(n * block);
    context ctx(opts(64));
    io_scheduler io(ctx, 4);
    std::atomic<int> resumed{0};
    std::vector<result> res(n);
    for (size_t i = 0; i < n; ++i)
        spawn(read_one(io, fd, static_cast<int64_t>(i * block), bytes(buf, i * block, block), resumed, res[i]));
    EXPECT_EQ(io.outstanding(), n);
    io.run();
    EXPECT_EQ(resumed.load(), static_cast<int>(n));
    for (auto &r : res) {
        EXPECT_FALSE(r.error) << r.error.message();
        EXPECT_EQ(r.transferred, block);
    }
    EXPECT_TRUE(holds_pattern(buf.data(), n * block, 0));
    EXPECT_LE(ctx.get_stats().pending_max, 4u);
    EXPECT_EQ(ctx.get_stats().submitted, n);
}

TEST_P(cpp_coro_test, errors_come_back_as_error_codes) {
    context ctx(opts(8));
    io_scheduler io(ctx);
    aligned_buffer &buf = make_buffer(block);
    std::atomic<int> resumed{0};
    result bad_fd{}, bad_arg{};
    int closed = ::dup(0);
    ASSERT_GE(closed, 0);
    ::close(closed);  // a number that names nothing now
    spawn(read_one(io, closed, 0, bytes(buf), resumed, bad_fd));
    spawn(read_one(io, -1, 0, bytes(buf), resumed, bad_arg));  // refused at prepare: resumes at once
    EXPECT_EQ(resumed.load(), 1);
    EXPECT_EQ(bad_arg.error, errc::invalid_parameter);
    io.run();
    EXPECT_EQ(resumed.load(), 2);
    EXPECT_EQ(bad_fd.error, std::errc::bad_file_descriptor);
}

TEST_P(cpp_coro_test, a_stop_requested_before_the_await_resumes_at_once_without_io) {
    context ctx(opts(8));
    io_scheduler io(ctx);
    aligned_buffer &buf = make_buffer(block);
    std::stop_source src;
    src.request_stop();
    std::atomic<int> resumed{0};
    result r{};
    spawn(read_one(io, 0, 0, bytes(buf), resumed, r, src.get_token()));
    EXPECT_EQ(resumed.load(), 1);
    EXPECT_EQ(r.error, errc::canceled);
    io.run();
    EXPECT_EQ(ctx.get_stats().submitted, 0u);
}

// A read held at the gate, a stop request from another thread while the driver blocks: the
// coroutine resumes exactly once, cancelled (the backend stopped it) or with the data (it could
// not, and the gate opened).
TEST_P(cpp_coro_test, cancelling_a_read_in_flight_resumes_exactly_once) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    aligned_buffer &buf = make_buffer(block);
    context ctx(opts(8));
    io_scheduler io(ctx);
    at_exit open_gate{[&] { fs_->release_all(); }};
    std::stop_source src;
    std::atomic<int> resumed{0};
    result r{};
    spawn(read_one(io, gate, 0, bytes(buf), resumed, r, src.get_token()));
    io.poll();  // sends it
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    std::thread canceller([&] {
        EXPECT_TRUE(wait_until_inside_wait(ctx.native_handle()));
        src.request_stop();
        // The driver acts on the stop; where the backend cannot stop a running read, the gate
        // lets it finish.
        fs_->release_all();
    });
    io.run();
    canceller.join();
    EXPECT_EQ(resumed.load(), 1);
    if (r.error) {
        EXPECT_EQ(r.error, errc::canceled) << r.error.message();
        EXPECT_EQ(r.transferred, 0u);
    } else {
        EXPECT_EQ(r.transferred, block);
        EXPECT_TRUE(holds_pattern(buf.data(), block, 0));
    }
    io.poll();
    EXPECT_EQ(resumed.load(), 1);
    EXPECT_EQ(ctx.get_stats().pending, 0u);
}

// With the pool full (one read held at the gate), a second read waits for a request; a stop
// request resumes it at once, cancelled, while the first is still held.
TEST_P(cpp_coro_test, cancelling_a_queued_read_resumes_it_without_io) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    aligned_buffer &buf = make_buffer(2 * block);
    context ctx(opts(8));
    io_scheduler io(ctx, 1);
    at_exit open_gate{[&] { fs_->release_all(); }};
    std::stop_source src;
    std::atomic<int> first{0}, second{0};
    result r1{}, r2{};
    spawn(read_one(io, gate, 0, bytes(buf, 0, block), first, r1));
    spawn(read_one(io, gate, 0, bytes(buf, block, block), second, r2, src.get_token()));
    io.poll();
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    src.request_stop();
    EXPECT_EQ(io.run_one(10s), 1u);
    EXPECT_EQ(second.load(), 1);
    EXPECT_EQ(r2.error, errc::canceled);
    EXPECT_EQ(first.load(), 0);
    fs_->release_all();
    io.run();
    EXPECT_EQ(first.load(), 1);
    EXPECT_FALSE(r1.error) << r1.error.message();
    EXPECT_EQ(ctx.get_stats().submitted, 1u);
}

// An event loop: poll(2) on the context's descriptor, io.poll() when it is readable, until
// nothing is outstanding. False if the descriptor stayed quiet for 10 s with work outstanding.
bool event_loop(io_scheduler &io) {
    int fd = -1;
    if (std::error_code ec = io.get_fd(fd); ec) {
        ADD_FAILURE() << "get_fd: " << ec.message();
        return false;
    }
    while (io.outstanding() != 0) {
        struct pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(long_timeout_ms));
        if (n == 0) return false;
        if (n < 0 && errno != EINTR) return false;
        io.poll();
    }
    return true;
}

// Coroutines driven only from a poll(2) loop on the context's descriptor, as an event loop
// would: every read resumes with its data.
TEST_P(cpp_coro_test, an_event_loop_drives_coroutines_through_the_descriptor) {
    constexpr size_t n = 32;
    int fd = pattern_file("f", n * block, O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(n * block);
    context ctx(opts(64));
    io_scheduler io(ctx, 8);
    std::atomic<int> resumed{0};
    std::vector<result> res(n);
    for (size_t i = 0; i < n; ++i)
        spawn(read_one(io, fd, static_cast<int64_t>(i * block), bytes(buf, i * block, block), resumed, res[i]));
    ASSERT_TRUE(event_loop(io)) << "the descriptor never became readable with reads outstanding";
    EXPECT_EQ(resumed.load(), static_cast<int>(n));
    for (auto &r : res) EXPECT_EQ(r.transferred, block) << r.error.message();
    EXPECT_TRUE(holds_pattern(buf.data(), n * block, 0));
    // Nothing left: the descriptor is quiet (a loop would not spin).
    int cfd = -1;
    ASSERT_FALSE(ctx.get_fd(cfd));
    struct pollfd p{cfd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0);
}

// A stop request from another thread reaches a loop that only polls the descriptor: the read
// held at the gate resumes exactly once (cancelled, or with its data once the gate opens).
TEST_P(cpp_coro_test, a_stop_request_wakes_an_event_loop) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    aligned_buffer &buf = make_buffer(block);
    context ctx(opts(8));
    io_scheduler io(ctx);
    at_exit open_gate{[&] { fs_->release_all(); }};
    std::stop_source src;
    std::atomic<int> resumed{0};
    result r{};
    spawn(read_one(io, gate, 0, bytes(buf), resumed, r, src.get_token()));
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    std::thread canceller([&] {
        src.request_stop();
        // The loop cancels it on the wakeup; where the backend cannot, the gate lets it finish.
        fs_->release_all();
    });
    EXPECT_TRUE(event_loop(io));
    canceller.join();
    EXPECT_EQ(resumed.load(), 1);
    EXPECT_TRUE(r.error == errc::canceled || r.transferred == block) << r.error.message();
}

// A thread that opens the gate once someone waits inside ctx (a destructor waiting out a read the
// cancel could not stop), or once `done` is set (the cancel stopped it: nobody waits).
std::thread open_gate_when_waited_on(fileaio_ctx *ctx, test_fs &fs, const std::atomic<bool> &done) {
    return std::thread([ctx, &fs, &done] {
        while (!done.load()) {
            fileaio_req *out[1];
            size_t count = 0;
            if (fileaio_ctx_wait(ctx, 1, 0, out, 1, &count) == FILEAIO_E_BUSY) break;
            EXPECT_EQ(count, 0u) << "the probe took a completion";
            std::this_thread::yield();
        }
        fs.release_all();
    });
}

// A coroutine that reads into a buffer in its own frame.
task<void> read_into_frame(io_scheduler &io, int fd, std::atomic<int> &resumed) {
    alignas(4096) std::array<std::byte, block> local;
    auto r = co_await io.read(fd, 0, local);
    (void)r;
    resumed.fetch_add(1);
}

// Destroying a suspended coroutine mid-read cancels the read or waits it out: when the frame
// (and the buffer in it) goes, the I/O is over, and nothing resumes the dead frame later.
TEST_P(cpp_coro_test, destroying_a_coroutine_mid_read_waits_out_its_io) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    context ctx(opts(8));
    io_scheduler io(ctx);
    at_exit open_gate{[&] { fs_->release_all(); }};
    std::atomic<int> resumed{0};
    auto t = read_into_frame(io, gate, resumed);
    t.handle().resume();  // runs to the co_await
    io.poll();
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    std::atomic<bool> destroyed{false};
    std::thread opener = open_gate_when_waited_on(ctx.native_handle(), *fs_, destroyed);
    t = {};  // destroys the frame
    destroyed.store(true);
    opener.join();
    // Else the driver would resume the dead frame: stop here.
    ASSERT_EQ(io.outstanding(), 0u);
    ASSERT_EQ(ctx.get_stats().pending, 0u) << "the frame went while its read was in flight";
    io.run();
    EXPECT_EQ(resumed.load(), 0);
}

// The scheduler destroyed with a read in flight cancels it or waits it out; the coroutine is
// never resumed, and destroying it afterwards is safe.
TEST_P(cpp_coro_test, scheduler_destroyed_with_io_in_flight_waits_it_out) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    context ctx(opts(8));
    at_exit open_gate{[&] { fs_->release_all(); }};
    std::atomic<int> resumed{0};
    task<void> t;
    std::atomic<bool> destroyed{false};
    std::thread opener;
    {
        io_scheduler io(ctx);
        t = read_into_frame(io, gate, resumed);
        t.handle().resume();
        io.poll();
        ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
        opener = open_gate_when_waited_on(ctx.native_handle(), *fs_, destroyed);
    }
    destroyed.store(true);
    opener.join();
    EXPECT_EQ(ctx.get_stats().pending, 0u);
    t = {};
    EXPECT_EQ(resumed.load(), 0);
}

// With the pool's one request held by a read of an empty pipe, a second read (of another empty
// pipe) waits for it. Destroying the first coroutine outside a step gives the request to the
// second, which must go out at once: an event loop that only watches the descriptor then sees
// it complete when its pipe gets bytes.
TEST_P(cpp_coro_test, a_destroyed_coroutine_passes_its_request_to_a_queued_one_at_once) {
    int p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    aligned_buffer &buf = make_buffer(block);
    context ctx(opts(8));
    io_scheduler io(ctx, 1);
    std::atomic<int> first{0}, second{0};
    auto a = read_into_frame(io, p[0], first);
    a.handle().resume();  // sent at once: nothing in the pipe, so it stays in flight
    result rb{};
    spawn(read_one(io, q[0], 0, bytes(buf), second, rb));  // queued: the pool's request is taken
    EXPECT_EQ(io.outstanding(), 2u);
    // Where the backend cannot stop the first read, the destructor waits for it: its pipe gets
    // bytes once someone waits inside the context. (Nothing else can complete meanwhile: the
    // second read's pipe is empty, so the probe never takes a completion.)
    std::atomic<bool> destroyed{false};
    std::thread feeder([&] {
        while (!destroyed.load()) {
            fileaio_req *out[1];
            size_t count = 0;
            if (fileaio_ctx_wait(ctx.native_handle(), 1, 0, out, 1, &count) == FILEAIO_E_BUSY) break;
            EXPECT_EQ(count, 0u) << "the probe took a completion";
            std::this_thread::yield();
        }
        write_pattern(p[1], block);
    });
    a = {};
    destroyed.store(true);
    feeder.join();
    EXPECT_EQ(first.load(), 0);
    write_pattern(q[1], block);
    ASSERT_TRUE(event_loop(io)) << "the queued read was never sent";
    EXPECT_EQ(second.load(), 1);
    EXPECT_EQ(rb.transferred, block) << rb.error.message();
    EXPECT_TRUE(holds_pattern(buf.data(), block, 0));
}

// Reads with a stop token; once resumed, destroys `other` (a coroutine that may be cancelled
// too and not yet resumed).
task<void> read_then_destroy(io_scheduler &io, int fd, std::span<std::byte> buf, std::stop_token st,
                             task<void> &other, std::atomic<int> &resumed) {
    auto r = co_await io.read(fd, 0, buf, std::move(st));
    EXPECT_EQ(r.error, errc::canceled);
    resumed.fetch_add(1);
    other = {};
}

// Two queued reads stopped by one stop request are both "done" before either is resumed; the
// first to resume destroys the other. The destroyed one must leave the list of operations to
// resume: else the driver resumes (and reads) its freed frame.
TEST_P(cpp_coro_test, destroying_a_cancelled_coroutine_before_its_resumption_never_resumes_it) {
    int p[2];
    make_pipe(p);
    aligned_buffer &buf = make_buffer(3 * block);
    context ctx(opts(8));
    io_scheduler io(ctx, 1);
    std::atomic<int> held{0}, resumed{0};
    result rh{};
    spawn(read_one(io, p[0], 0, bytes(buf, 0, block), held, rh));  // takes the pool's only request
    std::stop_source src;
    task<void> a, b;
    a = read_then_destroy(io, p[0], bytes(buf, block, block), src.get_token(), b, resumed);
    b = read_then_destroy(io, p[0], bytes(buf, 2 * block, block), src.get_token(), a, resumed);
    a.handle().resume();  // both queued for a request
    b.handle().resume();
    ASSERT_EQ(io.outstanding(), 3u);
    src.request_stop();
    io.run_one(10s);
    EXPECT_EQ(resumed.load(), 1);
    EXPECT_EQ(io.outstanding(), 1u);
    write_pattern(p[1], block);
    io.run();
    EXPECT_EQ(held.load(), 1);
    EXPECT_EQ(resumed.load(), 1);
    EXPECT_EQ(io.outstanding(), 0u);
}

// A read queued for a request when its scheduler is destroyed: a stop request afterwards must
// not reach the dead scheduler (destroying the coroutine later is safe, the docs say; so is
// stopping it).
TEST_P(cpp_coro_test, a_stop_request_after_the_scheduler_is_gone_does_nothing) {
    int fd = pattern_file("f", 2 * block, O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(2 * block);
    context ctx(opts(8));
    std::stop_source src;
    std::atomic<int> resumed{0};
    result r1{}, r2{};
    task<void> t1, t2;
    {
        io_scheduler io(ctx, 1);
        t1 = read_one(io, fd, 0, bytes(buf, 0, block), resumed, r1);
        t2 = read_one(io, fd, 0, bytes(buf, block, block), resumed, r2, src.get_token());
        t1.handle().resume();  // in flight
        t2.handle().resume();  // queued
        ASSERT_EQ(io.outstanding(), 2u);
    }
    src.request_stop();
    t1 = {};
    t2 = {};
    EXPECT_EQ(resumed.load(), 0);
    EXPECT_EQ(ctx.get_stats().pending, 0u);
}

// An event loop's callback destroys a coroutine whose read has completed but is not yet taken
// while a stop request for another read is pending: the destructor's wait must not swallow the
// wakeup the stop request made, or the loop never looks at the stop request.
TEST_P(cpp_coro_test, destroying_a_coroutine_keeps_a_pending_stop_request_visible_to_the_loop) {
    int fd = pattern_file("f", block, O_RDONLY);
    ASSERT_GE(fd, 0);
    int p[2];
    make_pipe(p);
    aligned_buffer &buf = make_buffer(2 * block);
    context ctx(opts(8));
    io_scheduler io(ctx, 2);
    int cfd = -1;
    ASSERT_FALSE(io.get_fd(cfd));
    std::atomic<int> first{0}, second{0};
    result r1{}, r2{};
    auto q = read_one(io, fd, 0, bytes(buf, 0, block), first, r1);
    q.handle().resume();  // sent at once
    struct pollfd pq{cfd, POLLIN, 0};
    ASSERT_EQ(::poll(&pq, 1, static_cast<int>(long_timeout_ms)), 1) << "the read never completed";
    std::stop_source src;
    auto pr = read_one(io, p[0], 0, bytes(buf, block, block), second, r2, src.get_token());
    pr.handle().resume();  // sent at once: waits for bytes in the pipe
    src.request_stop();    // lists it for the driver and wakes the descriptor
    q = {};                // its completion is taken by the destructor
    struct pollfd pp{cfd, POLLIN, 0};
    EXPECT_EQ(::poll(&pp, 1, static_cast<int>(long_timeout_ms)), 1)
        << "the wakeup of the stop request was swallowed: the loop would never cancel the read";
    io.poll();
    write_pattern(p[1], block);  // where the backend could not stop the read
    EXPECT_TRUE(event_loop(io));
    EXPECT_EQ(second.load(), 1);
    EXPECT_EQ(first.load(), 0);
}

// A pool larger than the context's limit: the scheduler still never sees E_LIMIT_EXCEEDED from
// its own requests (docs/API.md), it keeps them queued.
TEST_P(cpp_coro_test, a_pool_larger_than_the_context_limit_never_exceeds_it) {
    constexpr size_t n = 4;
    int fd = pattern_file("f", n * block, O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(n * block);
    context ctx(opts(1));
    io_scheduler io(ctx, n);
    std::atomic<int> resumed{0};
    std::vector<result> res(n);
    for (size_t i = 0; i < n; ++i)
        spawn(read_one(io, fd, static_cast<int64_t>(i * block), bytes(buf, i * block, block), resumed, res[i]));
    io.run();
    EXPECT_EQ(resumed.load(), static_cast<int>(n));
    for (auto &r : res) EXPECT_EQ(r.transferred, block) << r.error.message();
}

// A task that throws after an I/O: sync_wait rethrows (its comment: "returns its value (or
// rethrows)"); it must not take the finished, failed task for one that waits on something else.
task<size_t> read_then_throw(io_scheduler &io, int fd, std::span<std::byte> buf) {
    auto r = co_await io.read(fd, 0, buf);
    if (r.transferred != 0) throw std::runtime_error("thrown after the read");
    co_return r.transferred;
}
task<void> read_then_throw_void(io_scheduler &io, int fd, std::span<std::byte> buf) {
    (void)co_await read_then_throw(io, fd, buf);
}

TEST_P(cpp_coro_test, sync_wait_rethrows_what_the_task_threw) {
    int fd = pattern_file("f", block, O_RDONLY);
    ASSERT_GE(fd, 0);
    aligned_buffer &buf = make_buffer(block);
    context ctx(opts(8));
    io_scheduler io(ctx);
    EXPECT_THROW((void)sync_wait(io, read_then_throw(io, fd, bytes(buf))), std::runtime_error);
    EXPECT_THROW(sync_wait(io, read_then_throw_void(io, fd, bytes(buf))), std::runtime_error);
    EXPECT_EQ(io.outstanding(), 0u);
}

// A submit the context refuses (here E_LIMIT_EXCEEDED: a request someone else submitted fills the
// context; the operating system running out of resources does the same) finishes the operation
// with that error. An event loop that only watches the descriptor must be told: nothing in the
// context would make it readable.
TEST_P(cpp_coro_test, an_operation_whose_submit_fails_wakes_an_event_loop) {
    int fd = pattern_file("f", block, O_RDONLY);
    ASSERT_GE(fd, 0);
    int p[2];
    make_pipe(p);
    aligned_buffer &buf = make_buffer(2 * block);
    context ctx(opts(1));
    io_scheduler io(ctx);
    int cfd = -1;
    ASSERT_FALSE(io.get_fd(cfd));
    request foreign;
    ASSERT_FALSE(foreign.prepare_read(p[0], 0, bytes(buf, block, block)));
    ASSERT_FALSE(ctx.submit(foreign));  // waits for bytes: the context is full
    std::atomic<int> resumed{0};
    result r{};
    spawn(read_one(io, fd, 0, bytes(buf, 0, block), resumed, r));  // its submit is refused
    struct pollfd pq{cfd, POLLIN, 0};
    EXPECT_EQ(::poll(&pq, 1, static_cast<int>(long_timeout_ms)), 1) << "the loop is never told";
    io.poll();
    EXPECT_EQ(resumed.load(), 1);
    EXPECT_TRUE(r.error) << "resumed without the submit's error";
    write_pattern(p[1], block);
    EXPECT_TRUE(eventually([&] {
        io.poll();  // hands the foreign read back (dropped with a report)
        return ctx.get_stats().pending == 0;
    }));
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(cpp_coro_test);

}  // namespace
}  // namespace fileaio::test
