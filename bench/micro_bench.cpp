// Google Benchmark micro-benchmarks of the library's own costs, per available backend:
//
//   request_cost/<backend>/1    prepare + submit + wait of one cached 4 KiB read
//   request_cost/<backend>/32   the same for a batch of 32 (time per batch; ns_per_request beside it)
//   wakeup_latency/<backend>    fileaio_ctx_wakeup on thread A -> fileaio_ctx_wait returns on thread B
//
// The reads hit a 16 MiB file in the page cache, so what is measured is the library and the
// kernel's submission path, not a device. Run: build/release/bench/micro_bench
// (--benchmark_filter=wakeup, --benchmark_repetitions=5, ... as usual).
#include <fileaio/fileaio.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr std::size_t block_size = 4096;
constexpr std::size_t file_size = std::size_t{16} << 20;
constexpr std::size_t offset_count = 4096;  // random block offsets, cycled through
constexpr std::uint32_t settle_us = 50;     // let thread B block in wait before waking it

struct free_deleter {
    void operator()(void *p) const noexcept { std::free(p); }
};

// The file every read goes to: written once, so it is in the page cache.
struct cached_file {
    std::string path;
    int fd = -1;
    std::vector<std::int64_t> offsets;

    bool create()
    {
        const char *tmp = std::getenv("TMPDIR");
        path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fileaio-micro-XXXXXX";
        fd = ::mkostemp(path.data(), O_CLOEXEC);
        if (fd < 0) {
            std::fprintf(stderr, "micro_bench: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
            return false;
        }
        std::vector<char> chunk(std::size_t{1} << 20, 'x');
        for (std::size_t at = 0; at < file_size; at += chunk.size()) {
            if (::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(at)) != static_cast<ssize_t>(chunk.size())) {
                std::fprintf(stderr, "micro_bench: writing %s: %s\n", path.c_str(), std::strerror(errno));
                return false;
            }
        }
        std::mt19937_64 rng(42);
        std::uniform_int_distribution<std::size_t> block(0, file_size / block_size - 1);
        for (std::size_t i = 0; i < offset_count; ++i) {
            offsets.push_back(static_cast<std::int64_t>(block(rng) * block_size));
        }
        return true;
    }
    ~cached_file()
    {
        if (fd >= 0) {
            ::close(fd);
            ::unlink(path.c_str());
        }
    }
};

cached_file *the_file = nullptr;

// A context with `depth` requests and buffers, the buffers registered and the file associated
// (as `fileaio bench` does by default).
struct request_bench {
    fileaio_ctx *ctx = nullptr;
    std::vector<fileaio_req *> reqs;
    std::vector<fileaio_req *> done;
    std::unique_ptr<std::byte, free_deleter> buffers;

    int set_up(fileaio_backend backend, std::size_t depth)
    {
        if (const int rc = fileaio_ctx_create_ex(&ctx, static_cast<std::uint32_t>(depth), 0, backend); rc != 0) {
            return rc;
        }
        void *p = nullptr;
        if (posix_memalign(&p, block_size, block_size * depth) != 0) {
            return FILEAIO_E_NO_MEMORY;
        }
        buffers.reset(static_cast<std::byte *>(p));
        const iovec region{p, block_size * depth};
        (void)fileaio_ctx_register_buffers(ctx, &region, 1);      // hints: NOT_SUPPORTED is fine
        (void)fileaio_ctx_associate_with_file(ctx, the_file->fd);
        reqs.assign(depth, nullptr);
        done.assign(depth, nullptr);
        for (auto &req : reqs) {
            if (const int rc = fileaio_req_create(&req); rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    ~request_bench()
    {
        for (auto *req : reqs) {
            fileaio_req_destroy(req);
        }
        fileaio_ctx_destroy(ctx);
    }
};

void request_cost(benchmark::State &state, fileaio_backend backend, std::size_t batch)
{
    request_bench rb;
    if (const int rc = rb.set_up(backend, batch); rc != 0) {
        state.SkipWithError(fileaio_strerror(rc));
        return;
    }
    std::size_t next = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch; ++i) {
            fileaio_req_prepare_read(rb.reqs[i], the_file->fd, the_file->offsets[next], rb.buffers.get() + i * block_size,
                                     block_size, nullptr);
            next = (next + 1) % offset_count;
        }
        std::size_t submitted = 0;
        if (const int rc = fileaio_ctx_submit(rb.ctx, rb.reqs.data(), batch, &submitted); rc != 0) {
            state.SkipWithError(fileaio_strerror(rc));
            break;
        }
        for (std::size_t reaped = 0; reaped < batch;) {
            std::size_t count = 0;
            const int rc = fileaio_ctx_wait(rb.ctx, batch - reaped, FILEAIO_WAIT_FOREVER, rb.done.data(), batch, &count);
            reaped += count;
            if (rc != 0) {
                state.SkipWithError(fileaio_strerror(rc));
                return;
            }
        }
    }
    const auto requests = static_cast<double>(state.iterations()) * static_cast<double>(batch);
    state.SetItemsProcessed(static_cast<std::int64_t>(requests));
    state.counters["per_request"] = benchmark::Counter(requests, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void wakeup_latency(benchmark::State &state, fileaio_backend backend)
{
    fileaio_ctx *ctx = nullptr;
    if (const int rc = fileaio_ctx_create_ex(&ctx, 1, FILEAIO_CTX_WAIT_WITHOUT_PENDING, backend); rc != 0) {
        state.SkipWithError(fileaio_strerror(rc));
        return;
    }
    std::atomic<std::uint64_t> entering{0};  // B is about to wait for the n-th time
    std::atomic<std::uint64_t> returned{0};  // B's n-th wait returned ...
    std::atomic<std::int64_t> returned_at{0};  // ... at this steady_clock time (ns)
    std::atomic<bool> stop{false};
    std::atomic<int> unexpected{0};
    std::thread waiter([&] {
        fileaio_req *done[1];
        for (std::uint64_t n = 1;; ++n) {
            entering.store(n, std::memory_order_release);
            std::size_t count = 0;
            const int rc = fileaio_ctx_wait(ctx, 1, FILEAIO_WAIT_FOREVER, done, 1, &count);
            returned_at.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
            if (rc != FILEAIO_E_INTERRUPTED) {
                unexpected.store(rc, std::memory_order_relaxed);
            }
            returned.store(n, std::memory_order_release);
            if (stop.load(std::memory_order_acquire)) {
                return;
            }
        }
    });
    std::uint64_t n = 0;
    for (auto _ : state) {
        ++n;
        while (entering.load(std::memory_order_acquire) < n) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(settle_us));  // B is now blocked in wait
        const auto t0 = std::chrono::steady_clock::now().time_since_epoch().count();
        fileaio_ctx_wakeup(ctx);
        while (returned.load(std::memory_order_acquire) < n) {
        }
        const auto ns = returned_at.load(std::memory_order_relaxed) - t0;
        state.SetIterationTime(static_cast<double>(ns) / 1e9);
    }
    stop.store(true, std::memory_order_release);
    fileaio_ctx_wakeup(ctx);
    waiter.join();
    fileaio_ctx_destroy(ctx);
    if (const int rc = unexpected.load(); rc != 0) {
        state.SkipWithError((std::string("wait returned ") + fileaio_errname(rc)).c_str());
    }
}

}  // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    cached_file file;
    if (!file.create()) {
        return 1;
    }
    the_file = &file;
    for (const auto backend : {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO,
                               FILEAIO_BACKEND_THREAD_POOL}) {
        char reason[256] = "";
        const std::string name = fileaio_backend_name(backend);
        if (fileaio_backend_probe(backend, reason, sizeof reason) != 0) {
            std::fprintf(stderr, "micro_bench: skipping %s: %s\n", name.c_str(), reason);
            continue;
        }
        for (const std::size_t batch : {std::size_t{1}, std::size_t{32}}) {
            // Wall-clock time: backends with helper threads must not look cheap by working elsewhere.
            benchmark::RegisterBenchmark(("request_cost/" + name + "/" + std::to_string(batch)).c_str(), request_cost,
                                         backend, batch)
                ->UseRealTime();
        }
        benchmark::RegisterBenchmark(("wakeup_latency/" + name).c_str(), wakeup_latency, backend)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
