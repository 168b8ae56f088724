// latency_cost: what the library's latency histogram (FILEAIO_CTX_LATENCY) costs. Cached 4 KiB
// random reads at queue depth 32 (the C API: fileaio_ctx_wait(min 1, capacity 32), every
// completion prepared again and the lot submitted as one batch), the same loop with the
// histogram off and on, in one process, rounds interleaved (alternating which goes first).
// The loop itself reads no clock but once per 1024 reads, so the difference is the library's:
// its clock reads (one per submit call, one per reaped batch) and its recording.
//
//   latency_cost [--backend=io_uring|linux_aio|posix_aio|thread_pool] [--rounds=7] [--seconds=2]
//                [--only=off|on]
//
// --only runs one side (for `perf stat -e instructions`, steadier than the clock on a shared
// machine: instructions per read, off against on).
// Prints IOPS and CPU per read per round, the medians, and on/off of the medians.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fileaio/fileaio.h"

namespace {

constexpr std::size_t block = 4096;
constexpr std::size_t file_size = std::size_t{256} << 20;
constexpr std::size_t depth = 32;
constexpr std::uint64_t clock_every = 1024;

using clock_type = std::chrono::steady_clock;

struct side {
    double iops;
    double cpu_ns_per_op;
    std::uint64_t p50_ns;
    std::uint64_t p99_ns;
    std::uint64_t reads;
};

double cpu_seconds() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const char *what, int rc) {
    std::fprintf(stderr, "latency_cost: %s: %s\n", what, fileaio_strerror(rc));
    std::exit(1);
}

struct rng {
    std::uint64_t x;
    std::int64_t next_offset() noexcept {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<std::int64_t>((x % (file_size / block)) * block);
    }
};

side run(fileaio_backend b, int fd, std::vector<char> &bufs, double seconds, bool latency) {
    fileaio_ctx *ctx = nullptr;
    if (int rc = fileaio_ctx_create_ex(&ctx, depth, latency ? FILEAIO_CTX_LATENCY : 0u, b); rc != 0) die("create", rc);
    std::vector<fileaio_req *> reqs(depth), batch, out(depth);
    rng r{0x9E3779B97F4A7C15ULL};
    for (std::size_t i = 0; i < depth; ++i) {
        if (int rc = fileaio_req_create(&reqs[i]); rc != 0) die("req_create", rc);
        fileaio_req_prepare_read(reqs[i], fd, r.next_offset(), bufs.data() + i * block, block, reinterpret_cast<void *>(i));
        batch.push_back(reqs[i]);
    }
    std::uint64_t done = 0;
    bool over = false;
    const double cpu0 = cpu_seconds();
    const auto start = clock_type::now();
    const auto deadline = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    if (int rc = fileaio_ctx_submit(ctx, batch.data(), batch.size(), nullptr); rc != 0) die("submit", rc);
    std::size_t in_flight = depth;
    while (in_flight != 0) {
        std::size_t n = 0;
        int rc = fileaio_ctx_wait(ctx, 1, FILEAIO_WAIT_FOREVER, out.data(), out.size(), &n);
        if (rc != 0) die("wait", rc);
        in_flight -= n;
        batch.clear();
        for (std::size_t k = 0; k < n; ++k) {
            if (int res = fileaio_req_get_result(out[k], nullptr); res != 0) die("read", res);
            if (++done % clock_every == 0 && clock_type::now() >= deadline) over = true;
            if (over) continue;
            auto i = reinterpret_cast<std::size_t>(fileaio_req_get_user(out[k]));
            fileaio_req_prepare_read(out[k], fd, r.next_offset(), bufs.data() + i * block, block, reinterpret_cast<void *>(i));
            batch.push_back(out[k]);
        }
        if (!batch.empty()) {
            if (rc = fileaio_ctx_submit(ctx, batch.data(), batch.size(), nullptr); rc != 0) die("submit", rc);
            in_flight += batch.size();
        }
    }
    const double wall = std::chrono::duration<double>(clock_type::now() - start).count();
    const double ops = static_cast<double>(done);
    side s{ops / wall, (cpu_seconds() - cpu0) * 1e9 / ops, 0, 0, done};
    fileaio_latency lat{};
    lat.size = sizeof lat;
    if (latency && fileaio_ctx_get_latency(ctx, FILEAIO_LATENCY_READ, &lat) == 0) {
        if (lat.count != done) std::fprintf(stderr, "latency_cost: %llu recorded, %llu done\n",
                                            static_cast<unsigned long long>(lat.count), static_cast<unsigned long long>(done));
        s.p50_ns = lat.p50_ns;
        s.p99_ns = lat.p99_ns;
    }
    for (fileaio_req *q : reqs) fileaio_req_destroy(q);
    fileaio_ctx_destroy(ctx);
    return s;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char **argv) {
    std::string backend_name = "io_uring";
    int rounds = 7;
    double seconds = 2;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--backend=", 0) == 0) backend_name = a.substr(10);
        else if (a.rfind("--rounds=", 0) == 0) rounds = std::atoi(a.c_str() + 9);
        else if (a.rfind("--seconds=", 0) == 0) seconds = std::atof(a.c_str() + 10);
        else if (a == "--only=on" || a == "--only=off") only = a.substr(7);
        else {
            std::fprintf(stderr, "usage: %s [--backend=NAME] [--rounds=N] [--seconds=S] [--only=off|on]\n", argv[0]);
            return 2;
        }
    }
    fileaio_backend b = FILEAIO_BACKEND_AUTO;
    for (auto c : {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO, FILEAIO_BACKEND_THREAD_POOL})
        if (backend_name == fileaio_backend_name(c)) b = c;
    if (b == FILEAIO_BACKEND_AUTO || rounds < 1 || seconds <= 0) {
        std::fprintf(stderr, "latency_cost: bad arguments\n");
        return 2;
    }
    char reason[256];
    if (fileaio_backend_probe(b, reason, sizeof reason) != 0) {
        std::fprintf(stderr, "latency_cost: %s unavailable: %s\n", backend_name.c_str(), reason);
        return 77;
    }
    char path[] = "/tmp/latency_cost.XXXXXX";
    int fd = ::mkstemp(path);
    if (fd < 0) {
        std::perror("mkstemp");
        return 1;
    }
    ::unlink(path);
    std::vector<char> fill(1 << 20, 0x5a);
    for (std::size_t off = 0; off < file_size; off += fill.size())
        if (::pwrite(fd, fill.data(), fill.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(fill.size())) {
            std::perror("pwrite");
            return 1;
        }
    std::vector<char> bufs(depth * block);
    if (!only.empty()) {
        for (int i = 0; i < rounds; ++i) {
            const side s = run(b, fd, bufs, seconds, only == "on");
            std::printf("only %-11s %s %9.0f IOPS %6.0f ns/op reads %llu\n", backend_name.c_str(), only.c_str(), s.iops,
                        s.cpu_ns_per_op, static_cast<unsigned long long>(s.reads));
        }
        ::close(fd);
        return 0;
    }
    std::vector<double> off_iops, on_iops, off_cpu, on_cpu, ratios;
    for (int i = 0; i < rounds; ++i) {
        side a, o;
        if (i % 2 == 0) {
            a = run(b, fd, bufs, seconds, false);
            o = run(b, fd, bufs, seconds, true);
        } else {
            o = run(b, fd, bufs, seconds, true);
            a = run(b, fd, bufs, seconds, false);
        }
        off_iops.push_back(a.iops);
        on_iops.push_back(o.iops);
        off_cpu.push_back(a.cpu_ns_per_op);
        on_cpu.push_back(o.cpu_ns_per_op);
        ratios.push_back(o.iops / a.iops);
        std::printf("round %2d %-11s off %9.0f IOPS %6.0f ns/op   on %9.0f IOPS %6.0f ns/op (p50 %llu ns, p99 %llu ns)   on/off %.3f\n",
                    i + 1, backend_name.c_str(), a.iops, a.cpu_ns_per_op, o.iops, o.cpu_ns_per_op,
                    static_cast<unsigned long long>(o.p50_ns), static_cast<unsigned long long>(o.p99_ns), o.iops / a.iops);
    }
    std::printf("median   %-11s off %9.0f IOPS %6.0f ns/op   on %9.0f IOPS %6.0f ns/op   on/off %.3f "
                "(median of the rounds' ratios %.3f; CPU per op on/off %.3f)\n",
                backend_name.c_str(), median(off_iops), median(off_cpu), median(on_iops), median(on_cpu),
                median(on_iops) / median(off_iops), median(ratios), median(on_cpu) / median(off_cpu));
    ::close(fd);
    return 0;
}
