// coro_bench: cached 4 KiB random reads at queue depth 32, driven two ways on the same backend
// in the same run, interleaved round by round:
//
//   wait   the C API: 32 requests; fileaio_ctx_wait(min 1, capacity 32); every completion is
//          prepared again at a new offset and the lot is submitted as one batch.
//   coro   fileaio/async.hpp: 32 coroutines, each `co_await io.read(...)` in a loop, driven by
//          io_scheduler::run() (same wait, min 1, capacity 64; awaits made during a step go
//          out as one batch).
//
// Both read the same 64 MiB file in the page cache with the same offset sequence generator; the
// clock is read every 1024 reads on both sides. Rounds alternate which side runs first. Prints
// IOPS per round, the medians, coro/wait of the medians and the median of the rounds' ratios
// (the target is >= 0.90), and the process's CPU time per read on each side (wait/coro
// of those is the same kind of ratio, steadier on a shared machine).
//
//   coro_bench [--backend=io_uring|linux_aio|posix_aio|thread_pool] [--rounds=5] [--seconds=2]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <ctime>
#include <vector>

#include <fileaio/async.hpp>

namespace {

constexpr std::size_t block = 4096;
constexpr std::size_t file_size = std::size_t{64} << 20;
constexpr std::size_t depth = 32;
constexpr std::uint64_t clock_every = 1024;

using clock_type = std::chrono::steady_clock;

struct rng {
    std::uint64_t x;
    int64_t next_offset() noexcept {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<int64_t>((x % (file_size / block)) * block);
    }
};

// One side's run: IOPS by the wall clock, and the process's CPU time per read (all threads,
// so thread_pool's workers count too): the second is steadier on a machine others share.
struct side {
    double iops;
    double cpu_ns_per_op;
};

double cpu_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const char *what, int rc) {
    std::fprintf(stderr, "coro_bench: %s: %s\n", what, fileaio_strerror(rc));
    std::exit(1);
}

struct run_state {
    clock_type::time_point deadline;
    std::uint64_t done = 0;
    bool over = false;
    void count() noexcept {
        if (++done % clock_every == 0 && clock_type::now() >= deadline) over = true;
    }
};

side run_wait(fileaio::backend b, int fd, std::vector<std::byte> &bufs, double seconds) {
    fileaio::context ctx(fileaio::context_options{.max_reqs = depth, .backend = b});
    std::vector<fileaio::request> reqs(depth);
    std::vector<fileaio_req *> batch, out(depth);
    rng r{0x9E3779B97F4A7C15ULL};
    for (std::size_t i = 0; i < depth; ++i) {
        reqs[i].prepare_read(fd, r.next_offset(), std::span(bufs).subspan(i * block, block),
                             reinterpret_cast<void *>(i));
        batch.push_back(reqs[i].native_handle());
    }
    run_state s;
    const double cpu0 = cpu_seconds();
    const auto start = clock_type::now();
    s.deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    if (int rc = fileaio_ctx_submit(ctx.native_handle(), batch.data(), batch.size(), nullptr); rc != 0) die("submit", rc);
    std::size_t in_flight = depth;
    while (in_flight != 0) {
        std::size_t n = 0;
        int rc = fileaio_ctx_wait(ctx.native_handle(), 1, FILEAIO_WAIT_FOREVER, out.data(), out.size(), &n);
        if (rc != 0) die("wait", rc);
        in_flight -= n;
        batch.clear();
        for (std::size_t k = 0; k < n; ++k) {
            if (fileaio_req_get_result(out[k], nullptr) != 0) die("read", fileaio_req_get_result(out[k], nullptr));
            s.count();
            if (s.over) continue;
            auto i = reinterpret_cast<std::size_t>(fileaio_req_get_user(out[k]));
            fileaio_req_prepare_read(out[k], fd, r.next_offset(), bufs.data() + i * block, block, reinterpret_cast<void *>(i));
            batch.push_back(out[k]);
        }
        if (!batch.empty()) {
            if (rc = fileaio_ctx_submit(ctx.native_handle(), batch.data(), batch.size(), nullptr); rc != 0) die("submit", rc);
            in_flight += batch.size();
        }
    }
    const double wall = std::chrono::duration<double>(clock_type::now() - start).count();
    const double ops = static_cast<double>(s.done);
    return {ops / wall, (cpu_seconds() - cpu0) * 1e9 / ops};
}

fileaio::task<void> reader(fileaio::io_scheduler &io, int fd, std::span<std::byte> buf, rng &r, run_state &s) {
    while (!s.over) {
        auto res = co_await io.read(fd, r.next_offset(), buf);
        if (res.error) die("read", res.error.value());
        s.count();
    }
}

side run_coro(fileaio::backend b, int fd, std::vector<std::byte> &bufs, double seconds) {
    fileaio::context ctx(fileaio::context_options{.max_reqs = depth, .backend = b});
    fileaio::io_scheduler io(ctx, depth);
    rng r{0x9E3779B97F4A7C15ULL};
    run_state s;
    const double cpu0 = cpu_seconds();
    const auto start = clock_type::now();
    s.deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    for (std::size_t i = 0; i < depth; ++i) fileaio::spawn(reader(io, fd, std::span(bufs).subspan(i * block, block), r, s));
    io.run();
    const double wall = std::chrono::duration<double>(clock_type::now() - start).count();
    const double ops = static_cast<double>(s.done);
    return {ops / wall, (cpu_seconds() - cpu0) * 1e9 / ops};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char **argv) {
    std::string backend_name = "io_uring";
    int rounds = 5;
    double seconds = 2;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--backend=", 0) == 0) backend_name = a.substr(10);
        else if (a.rfind("--rounds=", 0) == 0) rounds = std::atoi(a.c_str() + 9);
        else if (a.rfind("--seconds=", 0) == 0) seconds = std::atof(a.c_str() + 10);
        else {
            std::fprintf(stderr, "usage: %s [--backend=NAME] [--rounds=N] [--seconds=S]\n", argv[0]);
            return 2;
        }
    }
    fileaio::backend b = fileaio::backend::automatic;
    for (auto c : {fileaio::backend::io_uring, fileaio::backend::linux_aio, fileaio::backend::posix_aio,
                   fileaio::backend::thread_pool})
        if (backend_name == fileaio::name(c)) b = c;
    if (b == fileaio::backend::automatic || rounds < 1 || seconds <= 0) {
        std::fprintf(stderr, "coro_bench: bad arguments\n");
        return 2;
    }
    if (auto p = fileaio::probe(b); !p) {
        std::fprintf(stderr, "coro_bench: %s unavailable: %s\n", backend_name.c_str(), p.reason.c_str());
        return 77;
    }

    char path[] = "/tmp/coro_bench.XXXXXX";
    int fd = ::mkstemp(path);
    if (fd < 0) {
        std::perror("mkstemp");
        return 1;
    }
    ::unlink(path);
    std::vector<std::byte> fill(1 << 20, std::byte{0x5a});
    for (std::size_t off = 0; off < file_size; off += fill.size())
        if (::pwrite(fd, fill.data(), fill.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(fill.size())) {
            std::perror("pwrite");
            return 1;
        }
    std::vector<std::byte> bufs(depth * block);

    // Rounds alternate which side goes first, so a drift in the machine's load hits both alike;
    // the ratio of each round's pair is kept as well as each side's IOPS.
    std::vector<double> wait_iops, coro_iops, ratios, wait_cpu, coro_cpu;
    for (int i = 0; i < rounds; ++i) {
        side w, c;
        if (i % 2 == 0) {
            w = run_wait(b, fd, bufs, seconds);
            c = run_coro(b, fd, bufs, seconds);
        } else {
            c = run_coro(b, fd, bufs, seconds);
            w = run_wait(b, fd, bufs, seconds);
        }
        wait_iops.push_back(w.iops);
        coro_iops.push_back(c.iops);
        ratios.push_back(c.iops / w.iops);
        wait_cpu.push_back(w.cpu_ns_per_op);
        coro_cpu.push_back(c.cpu_ns_per_op);
        std::printf("round %2d %-11s wait %9.0f IOPS %6.0f ns/op   coro %9.0f IOPS %6.0f ns/op   coro/wait %.3f\n", i + 1,
                    backend_name.c_str(), w.iops, w.cpu_ns_per_op, c.iops, c.cpu_ns_per_op, c.iops / w.iops);
    }
    const double mw = median(wait_iops), mc = median(coro_iops);
    std::printf("median   %-11s wait %9.0f IOPS %6.0f ns/op   coro %9.0f IOPS %6.0f ns/op   coro/wait %.3f "
                "(median of the rounds' ratios %.3f; CPU per op wait/coro %.3f)\n",
                backend_name.c_str(), mw, median(wait_cpu), mc, median(coro_cpu), mc / mw, median(ratios),
                median(wait_cpu) / median(coro_cpu));
    ::close(fd);
    return 0;
}
