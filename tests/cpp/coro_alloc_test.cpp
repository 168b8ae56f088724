// "No allocation per I/O beyond the coroutine frame" (docs/API.md, "C++: coroutines"), measured:
// this binary replaces the global operator new with one that counts the calls made on the
// driver's thread while counting is on. Frames are made before the window, and a first pass
// warms the backend up (threads it starts on demand, one-time statics); inside the window,
// thousands of awaited reads, writes and syncs (through a pool smaller than the coroutines,
// so the queue for a request is used too) must not allocate at all.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <new>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/async.hpp"
#include "support/temp_dir.hpp"

namespace {
thread_local bool counting = false;
thread_local std::size_t allocations = 0;
// The nothrow form (fileaio_req_create's): while `nothrow_budget` >= 0, it succeeds that many
// more times on this thread, then fails; what it hands out meanwhile is remembered, so that a
// test can see whether each was given back.
thread_local int nothrow_budget = -1;
thread_local std::array<void *, 64> nothrow_made{};
thread_local std::size_t nothrow_count = 0;
thread_local std::size_t nothrow_freed = 0;
void note_free(void *p) {
    for (std::size_t i = 0; i < nothrow_count; ++i)
        if (nothrow_made[i] == p) {
            nothrow_made[i] = nullptr;
            ++nothrow_freed;
        }
}
}  // namespace

void *operator new(std::size_t n) {
    if (counting) ++allocations;
    if (void *p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void *operator new[](std::size_t n) { return operator new(n); }
void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
    if (nothrow_budget == 0) return nullptr;
    void *p = std::malloc(n == 0 ? 1 : n);
    if (nothrow_budget > 0 && p != nullptr && nothrow_count < nothrow_made.size()) {
        --nothrow_budget;
        nothrow_made[nothrow_count++] = p;
    }
    return p;
}
void operator delete(void *p) noexcept {
    note_free(p);
    std::free(p);
}
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept {
    note_free(p);
    std::free(p);
}
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }

namespace fileaio::test {
namespace {

constexpr std::size_t block = 4096;
constexpr int rounds = 500;

task<void> worker(io_scheduler &io, int fd, int64_t off, std::span<std::byte> buf, std::size_t &moved) {
    for (int i = 0; i < rounds; ++i) {
        auto w = co_await io.write(fd, off, buf);
        auto r = co_await io.read(fd, off, buf);
        moved += w.transferred + r.transferred;
        if (i % 100 == 0) (void)co_await io.datasync(fd);
    }
}

class coro_alloc_test : public ::testing::TestWithParam<fileaio_backend> {};

TEST_P(coro_alloc_test, awaited_io_allocates_nothing_after_the_frames_are_made) {
    if (auto p = probe(static_cast<backend>(GetParam())); !p) GTEST_SKIP() << p.reason;
    temp_dir dir;
    int fd = open_file(dir.make_file("f", 8 * block), O_RDWR);
    ASSERT_GE(fd, 0);
    context ctx(context_options{.max_reqs = 8, .backend = static_cast<backend>(GetParam())});
    io_scheduler io(ctx, 4);  // 8 coroutines, 4 requests: half of them wait in the queue
    std::vector<std::byte> bufs(8 * block);
    std::size_t moved = 0;
    auto start_workers = [&] {
        std::vector<task<void>> tasks;
        for (std::size_t i = 0; i < 8; ++i)
            tasks.push_back(
                worker(io, fd, static_cast<int64_t>(i * block), std::span(bufs).subspan(i * block, block), moved));
        for (auto &t : tasks) t.handle().resume();  // every frame exists and has awaited once
        return tasks;
    };
    // A first pass warms the backend up: the threads it starts on demand from submit (each
    // std::thread allocates its state) and its one-time statics are there before the count.
    {
        auto warm = start_workers();
        io.run();
    }
    moved = 0;
    auto tasks = start_workers();

    counting = true;
    io.run();
    counting = false;

    EXPECT_EQ(allocations, 0u) << "allocations on the driver's thread during " << 8 * rounds * 2 << " awaited I/Os";
    EXPECT_EQ(moved, std::size_t{8} * rounds * 2 * block);
    for (auto &t : tasks) EXPECT_TRUE(t.done());
    ::close(fd);
}

// A pool whose requests cannot all be made: the constructor throws no_memory, and the requests
// it did make are given back (no destructor runs for a constructor that threw).
TEST_P(coro_alloc_test, a_scheduler_that_cannot_make_its_pool_throws_and_frees_what_it_made) {
    if (auto p = probe(static_cast<backend>(GetParam())); !p) GTEST_SKIP() << p.reason;
    context ctx(context_options{.max_reqs = 8, .backend = static_cast<backend>(GetParam())});
    nothrow_count = 0;
    nothrow_freed = 0;
    nothrow_budget = 3;  // three requests are made, the fourth fails
    std::error_code got;
    try {
        io_scheduler io(ctx, 8);
    } catch (const std::system_error &e) {
        got = e.code();
    }
    nothrow_budget = -1;
    EXPECT_EQ(got, make_error_code(errc::no_memory)) << got.message();
    EXPECT_EQ(nothrow_count, 3u);
    EXPECT_EQ(nothrow_freed, nothrow_count) << "requests made before the failure were leaked";
}

INSTANTIATE_TEST_SUITE_P(every_backend, coro_alloc_test, ::testing::ValuesIn(all_backends()),
                         [](const auto &param_info) { return backend_param_name(param_info.param); });

}  // namespace
}  // namespace fileaio::test
