// fileaio/asio.hpp on every backend: data through callbacks and use_awaitable, many operations
// beyond max_reqs, errors in Asio's terms (EBADF, EOF), per-operation cancellation with
// exactly-once handlers (also for a cancel between an operation's request and its submit),
// close() waiting out what it cannot stop, threads that start operations while the loop thread
// drives, and a request that cannot be made (E_NO_MEMORY). Reads held on an empty pipe stand for
// I/O in flight.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include "fileaio/asio.hpp"
#include "support/backend_resources.hpp"

// Allocation failure for fileaio_req_create (its `new (std::nothrow)`): this binary replaces the
// nothrow operator new with one that fails while the calling thread sets the flag (the technique
// of tests/cpp/coro_alloc_test.cpp). Not under the sanitizers, whose runtimes own operator new.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FILEAIO_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FILEAIO_TEST_SANITIZED 1
#endif
#endif

#ifndef FILEAIO_TEST_SANITIZED
namespace {
thread_local bool fail_nothrow_new = false;
}  // namespace

void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
    if (fail_nothrow_new) return nullptr;
    try {
        return ::operator new(n);
    } catch (...) {
        return nullptr;
    }
}
#endif

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;

class asio_files : public ::testing::TestWithParam<fileaio_backend>, protected backend_resources {
protected:
    void SetUp() override {
        std::string why;
        if (!backend_available(GetParam(), &why)) GTEST_SKIP() << why;
    }
    void TearDown() override { release_all(); }

    // Runs io until it has no work (bounded by the safety net: a hang fails, never blocks).
    static void run(::asio::io_context &io) {
        io.restart();
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(long_timeout_ms);
        while (!io.stopped() && std::chrono::steady_clock::now() < until) io.run_for(std::chrono::milliseconds(100));
        EXPECT_TRUE(io.stopped()) << "the io_context still had work after the safety net";
    }
    // Runs io until cond() holds.
    template <class Cond>
    static bool run_until(::asio::io_context &io, Cond &&cond) {
        io.restart();
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(long_timeout_ms);
        while (!cond() && std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(100));
        return cond();
    }

    fileaio_ctx *ctx(uint32_t max_reqs) { return make_ctx_on(GetParam(), max_reqs); }
    int temp_file(const std::string &name, uint64_t size) { return pattern_file(name, size); }
    temp_dir scratch_;
};

bool is_pattern(const unsigned char *p, size_t n, uint64_t offset) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != pattern_byte(offset + i)) return false;
    return true;
}

TEST_P(asio_files, callbacks_write_flush_datasync_and_read_back) {
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(16));
    const int fd = keep_fd(::open((scratch_.path() + "/out").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_GE(fd, 0);
    fileaio::asio::file f(actx, fd);

    constexpr size_t n = 64;
    std::vector<unsigned char> src(n * block);
    for (size_t i = 0; i < src.size(); ++i) src[i] = pattern_byte(i, 7);
    int writes = 0;
    for (size_t i = 0; i < n; ++i) {
        f.async_write_some_at(i * block, ::asio::buffer(src.data() + i * block, block),
                              [&](std::error_code ec, size_t moved) {
                                  EXPECT_FALSE(ec) << ec.message();
                                  EXPECT_EQ(moved, block);
                                  ++writes;
                              });
    }
    int syncs = 0;
    f.async_flush([&](std::error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_EQ(writes, static_cast<int>(n)) << "the flush finished before the writes it follows";
        ++syncs;
    });
    f.async_datasync([&](std::error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        ++syncs;
    });
    run(io);
    EXPECT_EQ(writes, static_cast<int>(n));
    EXPECT_EQ(syncs, 2);

    // Read back through two buffers at once (a vectored read) and through one.
    std::vector<unsigned char> a(n * block / 2), b(n * block / 2), c(n * block);
    std::array<::asio::mutable_buffer, 2> two{::asio::buffer(a), ::asio::buffer(b)};
    size_t got2 = 0, got1 = 0;
    f.async_read_some_at(0, two, [&](std::error_code ec, size_t moved) {
        EXPECT_FALSE(ec) << ec.message();
        got2 = moved;
    });
    f.async_read_some_at(0, ::asio::buffer(c), [&](std::error_code ec, size_t moved) {
        EXPECT_FALSE(ec) << ec.message();
        got1 = moved;
    });
    run(io);
    EXPECT_EQ(got2, n * block);
    EXPECT_EQ(got1, n * block);
    EXPECT_EQ(0, std::memcmp(a.data(), src.data(), a.size()));
    EXPECT_EQ(0, std::memcmp(b.data(), src.data() + a.size(), b.size()));
    EXPECT_EQ(0, std::memcmp(c.data(), src.data(), c.size()));
}

TEST_P(asio_files, use_awaitable_copies_a_file) {
    constexpr size_t size = 3 * 1024 * 1024 + 123;  // not a multiple of the chunk: a short last read
    const int in = temp_file("in", size);
    const int out = keep_fd(::open((scratch_.path() + "/copy").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_GE(out, 0);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(8));
    fileaio::asio::file src(actx, in), dst(actx, out);
    bool finished = false;
    ::asio::co_spawn(
        io,
        [&]() -> ::asio::awaitable<void> {
            std::vector<unsigned char> buf(256 * 1024);
            uint64_t off = 0;
            for (;;) {
                size_t n = 0;
                try {
                    n = co_await src.async_read_some_at(off, ::asio::buffer(buf), ::asio::use_awaitable);
                } catch (const std::system_error &e) {
                    EXPECT_EQ(e.code(), ::asio::error::eof);
                    break;
                }
                size_t w = co_await dst.async_write_some_at(off, ::asio::buffer(buf.data(), n), ::asio::use_awaitable);
                EXPECT_EQ(w, n);
                off += n;
            }
            co_await dst.async_datasync(::asio::use_awaitable);
            EXPECT_EQ(off, size);
            finished = true;
        },
        ::asio::detached);
    run(io);
    ASSERT_TRUE(finished);
    auto back = read_back(out, size + 1, 0);
    ASSERT_EQ(back.size(), size);
    EXPECT_TRUE(is_pattern(back.data(), back.size(), 0));
}

// Far more operations than max_reqs at once: the rest wait in the queue, none fails.
TEST_P(asio_files, many_in_flight_beyond_max_reqs) {
    constexpr size_t blocks = 256, ops = 2000;
    const int fd = temp_file("in", blocks * block);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(8));
    fileaio::asio::file f(actx, fd);
    std::vector<std::vector<unsigned char>> bufs(ops, std::vector<unsigned char>(block));
    size_t ok = 0, calls = 0;
    for (size_t i = 0; i < ops; ++i) {
        const uint64_t off = ((i * 7919) % blocks) * block;
        f.async_read_some_at(off, ::asio::buffer(bufs[i]), [&, i, off](std::error_code ec, size_t moved) {
            ++calls;
            if (!ec && moved == block && is_pattern(bufs[i].data(), block, off)) ++ok;
        });
    }
    run(io);
    EXPECT_EQ(calls, ops);
    EXPECT_EQ(ok, ops);
}

TEST_P(asio_files, errors_in_asio_terms) {
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(4));
    const int fd = temp_file("in", block);
    int closed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(closed, 0);
    ::close(closed);  // a descriptor number that is not open
    fileaio::asio::file bad(actx, closed), good(actx, fd);
    unsigned char buf[block];
    std::error_code read_ec, eof_ec, empty_ec;
    size_t empty_moved = 1;
    int calls = 0;
    bad.async_read_some_at(0, ::asio::buffer(buf), [&](std::error_code ec, size_t) {
        read_ec = ec;
        ++calls;
    });
    good.async_read_some_at(block, ::asio::buffer(buf), [&](std::error_code ec, size_t) {
        eof_ec = ec;
        ++calls;
    });
    good.async_read_some_at(0, ::asio::mutable_buffer(buf, 0), [&](std::error_code ec, size_t moved) {
        empty_ec = ec;
        empty_moved = moved;
        ++calls;
    });
    run(io);
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(read_ec, ::asio::error::bad_descriptor) << read_ec.message();
    EXPECT_EQ(read_ec.value(), EBADF);
    EXPECT_EQ(eof_ec, ::asio::error::eof) << eof_ec.message();
    EXPECT_FALSE(empty_ec);
    EXPECT_EQ(empty_moved, 0u);
}

// A queued operation (max_reqs 1, the one request held by a read on an empty pipe) is cancelled
// for sure; the held one ends exactly once, cancelled or with the data written afterwards.
TEST_P(asio_files, cancellation_slots_keep_exactly_once) {
    int p[2];
    make_pipe(p);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(1));
    fileaio::asio::file pipe_in(actx, p[0]);
    ::asio::cancellation_signal held_sig, queued_sig;
    unsigned char held_buf[16], queued_buf[16];
    std::atomic<int> held_calls{0}, queued_calls{0};
    std::error_code held_ec, queued_ec;
    size_t held_moved = 0;
    pipe_in.async_read_some_at(0, ::asio::buffer(held_buf),
                               ::asio::bind_cancellation_slot(held_sig.slot(), [&](std::error_code ec, size_t n) {
                                   held_ec = ec;
                                   held_moved = n;
                                   ++held_calls;
                               }));
    pipe_in.async_read_some_at(0, ::asio::buffer(queued_buf),
                               ::asio::bind_cancellation_slot(queued_sig.slot(), [&](std::error_code ec, size_t) {
                                   queued_ec = ec;
                                   ++queued_calls;
                               }));
    io.poll();
    queued_sig.emit(::asio::cancellation_type::terminal);
    ASSERT_TRUE(run_until(io, [&] { return queued_calls.load() == 1; }));
    EXPECT_EQ(queued_ec, ::asio::error::operation_aborted);

    held_sig.emit(::asio::cancellation_type::total);
    write_pattern(p[1], sizeof held_buf);  // ends the read if the backend could not stop it
    run(io);
    EXPECT_EQ(held_calls.load(), 1);
    EXPECT_EQ(queued_calls.load(), 1);
    if (held_ec) {
        EXPECT_EQ(held_ec, ::asio::error::operation_aborted) << held_ec.message();
    } else {
        EXPECT_EQ(held_moved, sizeof held_buf);
        EXPECT_TRUE(is_pattern(held_buf, sizeof held_buf, 0));
    }
    // A signal emitted after completion does nothing.
    held_sig.emit(::asio::cancellation_type::terminal);
    queued_sig.emit(::asio::cancellation_type::terminal);
    run(io);
    EXPECT_EQ(held_calls.load(), 1);
    EXPECT_EQ(queued_calls.load(), 1);
}

// co_await (read || timer): the timer wins and the read is cancelled through the slot the
// awaitable operator connects, or — on a backend that cannot stop a pipe read — ends with the
// data written once the cancel was tried. Either way the coroutine resumes once.
TEST_P(asio_files, awaitable_operator_cancels_a_held_read) {
    using namespace ::asio::experimental::awaitable_operators;
    int p[2];
    make_pipe(p);
    ::asio::io_context io;
    fileaio_ctx *c = ctx(4);
    fileaio::asio::context actx(io, c);
    fileaio::asio::file pipe_in(actx, p[0]);
    int outcome = -1, resumed = 0;
    bool timer_fired = false;
    ::asio::co_spawn(
        io,
        [&]() -> ::asio::awaitable<void> {
            unsigned char buf[8];
            ::asio::steady_timer t(io, std::chrono::milliseconds(1));
            auto timer = [&]() -> ::asio::awaitable<void> {
                co_await t.async_wait(::asio::use_awaitable);
                timer_fired = true;
            };
            auto r = co_await (pipe_in.async_read_some_at(0, ::asio::buffer(buf), ::asio::use_awaitable) || timer());
            outcome = static_cast<int>(r.index());
            ++resumed;
        },
        ::asio::detached);
    // The group emits the cancel in the handler that ends the timer's branch.
    ASSERT_TRUE(run_until(io, [&] { return timer_fired; }));
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    if (st.canceled == 0) write_pattern(p[1], 8);
    run(io);
    EXPECT_EQ(resumed, 1);
    EXPECT_EQ(outcome, 1);  // the timer won; the read ended after it, cancelled or not
}

// close() returns only when no I/O of the file can touch its buffers any more: cancelled, or
// waited out (close then waits inside fileaio_ctx_wait, where the feeder sees it and writes).
TEST_P(asio_files, close_waits_out_what_it_cannot_cancel) {
    int p[2];
    make_pipe(p);
    ::asio::io_context io;
    fileaio_ctx *c = ctx(4);
    fileaio::asio::context actx(io, c);
    auto f = std::make_optional<fileaio::asio::file>(actx, p[0]);
    auto buf = std::make_unique<unsigned char[]>(64);
    int calls = 0;
    std::error_code got;
    f->async_read_some_at(0, ::asio::buffer(buf.get(), 64), [&](std::error_code ec, size_t) {
        got = ec;
        ++calls;
    });
    io.poll();
    std::atomic<bool> closed{false};
    std::thread feeder([&] {
        // A probe with timeout 0 takes nothing here (the held read cannot finish); E_BUSY says
        // close is inside its wait-out.
        bool busy = false;
        EXPECT_TRUE(eventually([&] {
            if (closed.load()) return true;
            fileaio_req *out[1];
            size_t cnt = 0;
            busy = fileaio_ctx_wait(c, 1, 0, out, 1, &cnt) == FILEAIO_E_BUSY;
            EXPECT_EQ(cnt, 0u);
            return busy;
        }));
        if (busy) write_pattern(p[1], 64);
    });
    f->close();
    closed = true;
    buf.reset();  // the point: nothing writes here any more
    feeder.join();
    run(io);
    EXPECT_EQ(calls, 1);
    if (got) {
        EXPECT_EQ(got, ::asio::error::operation_aborted);
    }
    f.reset();
}

// With max_reqs 1, a second read of the file waits in the adapter's queue behind the first (held:
// its pipe is empty). close() aborts the queued one and cancels the held one; the request the
// cancel frees must not go to the queued read it has just aborted: that read would reach the
// context after its handler ran and its operation was freed (its buffer written after close).
TEST_P(asio_files, close_never_submits_the_queued_read_it_aborts) {
    int p[2];
    make_pipe(p);
    ::asio::io_context io;
    fileaio_ctx *c = ctx(1);
    fileaio::asio::context actx(io, c);
    fileaio::asio::file f(actx, p[0]);
    std::vector<unsigned char> a(64), q(64);
    int calls_a = 0, calls_q = 0;
    std::error_code got_q;
    f.async_read_some_at(0, ::asio::buffer(a), [&](std::error_code, size_t) { ++calls_a; });
    f.async_read_some_at(0, ::asio::buffer(q), [&](std::error_code ec, size_t) {
        got_q = ec;
        ++calls_q;
    });
    std::atomic<bool> closed{false};
    std::thread feeder([&] {  // where the backend cannot stop the held read: see close_waits_out_...
        bool busy = false;
        EXPECT_TRUE(eventually([&] {
            if (closed.load()) return true;
            fileaio_req *out[1];
            size_t cnt = 0;
            busy = fileaio_ctx_wait(c, 1, 0, out, 1, &cnt) == FILEAIO_E_BUSY;
            EXPECT_EQ(cnt, 0u);
            return busy;
        }));
        if (busy) write_pattern(p[1], 64);
    });
    f.close();
    closed = true;
    feeder.join();
    fileaio_stats st{};
    ASSERT_EQ(fileaio_ctx_get_stats(c, &st), 0);
    EXPECT_EQ(st.submitted, 1u) << "close submitted the read it aborted";
    ASSERT_EQ(st.pending, 0u) << "a read of the closed file is still in flight";
    run(io);
    EXPECT_EQ(calls_a, 1);
    EXPECT_EQ(calls_q, 1);
    EXPECT_EQ(got_q, ::asio::error::operation_aborted);
}

// Completions arriving while the driver runs (each handler starts the next read, QD 32 =
// max_reqs) must never leave a stray wait queued: once the reads stop, run() returns. (A
// liveness guard: a draft driver that armed a wait per empty look hung loop_bench about once in
// 30 runs on posix_aio; this test did not catch that draft reliably.)
TEST_P(asio_files, run_returns_after_a_long_burst_of_reissued_reads) {
    constexpr size_t blocks = 4096, total = 40000, qd = 32;
    const int fd = temp_file("in", blocks * block);
    ::asio::io_context io(1);
    fileaio::asio::context actx(io, ctx(qd));
    fileaio::asio::file f(actx, fd);
    std::vector<unsigned char> mem(qd * block);
    size_t started = 0, done = 0, bad = 0, limit = 0;
    std::function<void(size_t)> issue = [&](size_t slot) {
        const uint64_t off = ((started++ * 2654435761u) % blocks) * block;
        f.async_read_some_at(off, ::asio::buffer(mem.data() + slot * block, block), [&, slot, off](std::error_code ec, size_t n) {
            ++done;
            if (ec || n != block || !is_pattern(mem.data() + slot * block, block, off)) ++bad;
            if (started < limit) issue(slot);
        });
    };
    // Many short runs: every end of a run is a chance for a stray wait to hang it.
    size_t expected = 0;
    for (size_t round = 0; round < total / 200 && !HasFailure(); ++round) {
        started = expected;
        expected += 200;
        const size_t stop = expected;
        limit = stop;
        for (size_t i = 0; i < qd; ++i) issue(i);
        run(io);
        EXPECT_EQ(done, stop);
    }
    EXPECT_EQ(bad, 0u);
}

// Other threads start operations while the loop thread drives (API: submit is thread-safe).
TEST_P(asio_files, threads_start_operations_while_the_loop_runs) {
    constexpr size_t blocks = 64, per_thread = 300, threads = 3;
    const int fd = temp_file("in", blocks * block);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(16));
    fileaio::asio::file f(actx, fd);
    auto guard = ::asio::make_work_guard(io);
    std::atomic<size_t> ok{0}, calls{0};
    std::thread loop([&] { io.run(); });
    std::vector<std::thread> ts;
    for (size_t t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            std::vector<std::vector<unsigned char>> bufs(per_thread, std::vector<unsigned char>(block));
            std::atomic<size_t> mine{0};
            for (size_t i = 0; i < per_thread; ++i) {
                const uint64_t off = ((i + t * 13) % blocks) * block;
                f.async_read_some_at(off, ::asio::buffer(bufs[i]), [&, i, off](std::error_code ec, size_t moved) {
                    if (!ec && moved == block && is_pattern(bufs[i].data(), block, off)) ++ok;
                    ++calls;
                    ++mine;
                });
            }
            EXPECT_TRUE(eventually([&] { return mine.load() == per_thread; }));
        });
    }
    for (auto &t : ts) t.join();
    guard.reset();
    loop.join();
    EXPECT_EQ(calls.load(), threads * per_thread);
    EXPECT_EQ(ok.load(), threads * per_thread);
}

// Another thread starts each read the moment the handler of the one before has run, one read in
// flight at a time: the read often completes, and the loop thread finishes and frees its
// operation, before the starting thread's submit has returned. The starting thread must not
// touch the operation after the submit (a use after free: ThreadSanitizer or ASan see it), and
// no read may be left in the context with nobody waiting (a hang: each round must complete
// within the safety net).
TEST_P(asio_files, a_read_completed_before_its_start_returns_is_not_touched_again) {
    constexpr size_t rounds = 20000;
    const int fd = temp_file("in", block);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(4));
    fileaio::asio::file f(actx, fd);
    auto guard = ::asio::make_work_guard(io);
    std::thread loop([&] { io.run(); });
    std::vector<unsigned char> buf(block);
    std::atomic<size_t> done{0};
    size_t i = 0;
    bool lost = false;
    for (; i < rounds && !lost; ++i) {
        f.async_read_some_at(0, ::asio::buffer(buf), [&](std::error_code, size_t) { done.fetch_add(1); });
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(long_timeout_ms);
        while (done.load() != i + 1)
            if (std::chrono::steady_clock::now() > until) {
                lost = true;
                break;
            }
    }
    EXPECT_FALSE(lost) << "read " << i << " of " << rounds << " never completed";
    guard.reset();
    f.close();  // takes a lost completion itself
    loop.join();
}

// max_reqs 1: the second read waits in the adapter's queue; when the first completes, the driver
// gives it the request and submits it in the batch after that round of handlers. A cancel that
// comes from another thread in that gap (the first read's handler, run by the driver, has a
// thread emit it) must abort it: never submitted, its handler gets operation_aborted once, its
// buffer is never written. (The cancel was dropped: fileaio_req_cancel refuses a request that is
// PREPARED, not yet SUBMITTED, and the read ran.)
TEST_P(asio_files, a_cancel_between_getting_a_request_and_its_submit_aborts_the_operation) {
    const int fd = temp_file("in", block);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(1));
    fileaio::asio::file f(actx, fd);
    ::asio::cancellation_signal sig;
    std::vector<unsigned char> first(block), second(block, 0xEE);
    int first_calls = 0, second_calls = 0;
    std::error_code second_ec;
    size_t second_moved = 0;
    f.async_read_some_at(0, ::asio::buffer(first), [&](std::error_code, size_t) {
        ++first_calls;
        std::thread([&] { sig.emit(::asio::cancellation_type::terminal); }).join();
    });
    f.async_read_some_at(0, ::asio::buffer(second),
                         ::asio::bind_cancellation_slot(sig.slot(), [&](std::error_code ec, size_t n) {
                             second_ec = ec;
                             second_moved = n;
                             ++second_calls;
                         }));
    run(io);
    EXPECT_EQ(first_calls, 1);
    EXPECT_EQ(second_calls, 1);
    EXPECT_EQ(second_ec, ::asio::error::operation_aborted) << second_ec.message();
    EXPECT_EQ(second_moved, 0u);
    EXPECT_EQ(std::count(second.begin(), second.end(), 0xEE), static_cast<long>(block)) << "the aborted read wrote";
}

// fileaio_req_create fails (E_NO_MEMORY) for a context's first operation: none of its requests is
// out, so none will come back to take the operation from the queue. It completes (posted) with
// fileaio::errc::no_memory instead of waiting forever, and the next operation, with memory
// again, makes its request and runs.
TEST_P(asio_files, an_operation_whose_request_cannot_be_made_with_none_out_fails_with_no_memory) {
#ifdef FILEAIO_TEST_SANITIZED
    GTEST_SKIP() << "replaces operator new: not under a sanitizer";
#else
    const int fd = temp_file("in", block);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(4));
    fileaio::asio::file f(actx, fd);
    std::vector<unsigned char> buf(block, 0xEE);
    int calls = 0;
    std::error_code got;
    size_t moved = 99;
    auto handler = [&](std::error_code ec, size_t n) {
        got = ec;
        moved = n;
        ++calls;
    };
    fail_nothrow_new = true;
    f.async_read_some_at(0, ::asio::buffer(buf), handler);
    fail_nothrow_new = false;
    EXPECT_EQ(calls, 0) << "ran inside the initiating function";
    run(io);
    ASSERT_EQ(calls, 1) << "never completed";
    EXPECT_EQ(got, fileaio::make_error_code(fileaio::errc::no_memory)) << got.message();
    EXPECT_EQ(moved, 0u);
    EXPECT_EQ(std::count(buf.begin(), buf.end(), 0xEE), static_cast<long>(block));

    f.async_read_some_at(0, ::asio::buffer(buf), handler);
    run(io);
    ASSERT_EQ(calls, 2);
    EXPECT_FALSE(got) << got.message();
    EXPECT_EQ(moved, block);
    EXPECT_TRUE(is_pattern(buf.data(), block, 0));
#endif
}

// fileaio_req_create fails while a request is out (held by a read on an empty pipe): the operation
// waits in the queue like one past max_reqs, and runs on that request once it comes back.
TEST_P(asio_files, an_operation_whose_request_cannot_be_made_waits_for_one_that_is_out) {
#ifdef FILEAIO_TEST_SANITIZED
    GTEST_SKIP() << "replaces operator new: not under a sanitizer";
#else
    int p[2];
    make_pipe(p);
    const int fd = temp_file("in", block);
    ::asio::io_context io;
    fileaio::asio::context actx(io, ctx(4));
    fileaio::asio::file pipe_in(actx, p[0]);
    fileaio::asio::file f(actx, fd);
    unsigned char held_buf[16];
    std::vector<unsigned char> buf(block, 0xEE);
    int held_calls = 0, calls = 0;
    std::error_code held_ec, got;
    size_t moved = 0;
    pipe_in.async_read_some_at(0, ::asio::buffer(held_buf), [&](std::error_code ec, size_t) {
        held_ec = ec;
        ++held_calls;
    });
    fail_nothrow_new = true;
    f.async_read_some_at(0, ::asio::buffer(buf), [&](std::error_code ec, size_t n) {
        got = ec;
        moved = n;
        ++calls;
    });
    fail_nothrow_new = false;
    io.poll();
    EXPECT_EQ(calls, 0) << got.message();
    write_pattern(p[1], sizeof held_buf);  // the held read ends; its request goes to the queued one
    run(io);
    EXPECT_EQ(held_calls, 1);
    EXPECT_FALSE(held_ec) << held_ec.message();
    ASSERT_EQ(calls, 1);
    EXPECT_FALSE(got) << got.message();
    EXPECT_EQ(moved, block);
    EXPECT_TRUE(is_pattern(buf.data(), block, 0));
#endif
}

// A submit the context refuses (here E_BUSY: an owner-thread context, and the read started from
// another thread) fails its operation, and the loop then has nothing left to wait for: run()
// returns. Before, the wait the adapter had armed for the read stayed queued and run() never did.
TEST_P(asio_files, run_returns_after_a_submit_the_context_refuses) {
    fileaio_ctx *c = make_ctx_on(GetParam(), 8, FILEAIO_CTX_SINGLE_THREAD);
    ASSERT_NE(c, nullptr);
    const int fd = temp_file("in", block);
    unsigned char first[block];
    {  // this thread becomes the owner
        fileaio_req *r = nullptr;
        ASSERT_EQ(fileaio_req_create(&r), 0);
        ASSERT_EQ(fileaio_req_prepare_read(r, fd, 0, first, sizeof first, nullptr), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
        fileaio_req *out = nullptr;
        size_t n = 0;
        ASSERT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, &out, 1, &n), 0);
        ASSERT_EQ(n, 1u);
        fileaio_req_destroy(r);
    }
    ::asio::io_context io;
    fileaio::asio::context actx(io, c);
    fileaio::asio::file f(actx, fd);
    unsigned char buf[block];
    std::error_code got;
    int calls = 0;
    std::thread([&] {
        f.async_read_some_at(0, ::asio::buffer(buf), [&](std::error_code ec, size_t) {
            got = ec;
            ++calls;
        });
    }).join();
    run(io);  // fails if the loop still has work after the safety net
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(got, fileaio::to_error_code(FILEAIO_E_BUSY)) << got.message();
}

INSTANTIATE_TEST_SUITE_P(every_backend, asio_files, ::testing::ValuesIn(all_backends()),
                         [](const auto &param_info) { return backend_param_name(param_info.param); });

}  // namespace
}  // namespace fileaio::test
