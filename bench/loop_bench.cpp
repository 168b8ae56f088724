// loop_bench — cached-randread (4 KiB random reads, QD 32, a file in the page cache) driven
// from event loops, against the same backend with a thread parked in fileaio_ctx_wait, all in
// one run, rounds interleaved. See --help.
//
//   wait         fileaio_ctx_wait(min 1, forever); each completion is prepared again and the
//                round's completions resubmitted in one batch (the reference)
//   epoll        epoll_wait on the context's descriptor (fileaio_ctx_get_fd, level-triggered),
//                then one fileaio_ctx_wait(timeout 0); the same resubmission
//   asio         fileaio/asio.hpp on an io_context: QD callbacks, each starting the next read
//   asio_native  Asio's own asio::random_access_file (ASIO_HAS_IO_URING, liburing): the same
//                callbacks; no fileaio at all (once per round, it has no backend)
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "fileaio/fileaio.h"

#if FILEAIO_BENCH_ASIO
#include <asio/io_context.hpp>
#if defined(ASIO_HAS_IO_URING)
#include <asio/random_access_file.hpp>
#endif
#include "fileaio/asio.hpp"
#endif

namespace {

using clock_type = std::chrono::steady_clock;
constexpr size_t block = 4096;

struct options {
    std::string path = "loop_bench.dat";
    uint64_t size = 256ull << 20;
    unsigned qd = 32;
    double seconds = 2.0;
    int rounds = 3;
    std::vector<std::string> backends{"io_uring", "linux_aio", "posix_aio", "thread_pool"};
    std::vector<std::string> modes{"wait", "epoll", "asio", "asio_native"};
};

struct result {
    double iops = 0;
    double iops_per_cpu = 0;
};

// xorshift: the same sequence of block numbers for every mode.
struct offsets {
    uint64_t x = 88172645463325252ull;
    uint64_t blocks;
    explicit offsets(uint64_t size) : blocks(size / block) {}
    int64_t next() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<int64_t>((x % blocks) * block);
    }
};

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void die(const char *what, int rc) {
    std::fprintf(stderr, "loop_bench: %s: %s\n", what, rc < 0 ? fileaio_strerror(rc) : std::strerror(rc));
    std::exit(1);
}

fileaio_backend backend_of(const std::string &name) {
    for (fileaio_backend b : {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO,
                              FILEAIO_BACKEND_THREAD_POOL})
        if (name == fileaio_backend_name(b)) return b;
    std::fprintf(stderr, "loop_bench: unknown backend %s\n", name.c_str());
    std::exit(2);
}

struct timer {
    clock_type::time_point start = clock_type::now();
    double cpu0 = cpu_seconds();
    result done(uint64_t ops) const {
        const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
        const double cpu = cpu_seconds() - cpu0;
        return {static_cast<double>(ops) / secs, cpu > 0 ? static_cast<double>(ops) / cpu : 0};
    }
};

// wait and epoll: the same loop, only how completions are learned of differs.
result run_fileaio(const options &o, int fd, fileaio_backend b, bool epoll) {
    fileaio_ctx *ctx = nullptr;
    if (int rc = fileaio_ctx_create_ex(&ctx, o.qd, 0, b); rc != 0) die("fileaio_ctx_create_ex", rc);
    int ep = -1;
    if (epoll) {
        int cfd = -1;
        if (int rc = fileaio_ctx_get_fd(ctx, &cfd); rc != 0) die("fileaio_ctx_get_fd", rc);
        ep = epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) != 0) die("epoll", errno);
    }
    std::vector<fileaio_req *> reqs(o.qd), out(o.qd);
    std::vector<unsigned char> mem(o.qd * block);
    offsets off(o.size);
    for (unsigned i = 0; i < o.qd; ++i) {
        fileaio_req_create(&reqs[i]);
        fileaio_req_prepare_read(reqs[i], fd, off.next(), mem.data() + i * block, block, mem.data() + i * block);
    }
    const timer t;
    const auto deadline = t.start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
    if (int rc = fileaio_ctx_submit(ctx, reqs.data(), o.qd, nullptr); rc != 0) die("submit", rc);
    uint64_t ops = 0;
    size_t in_flight = o.qd;
    bool stopping = false;
    while (in_flight != 0) {
        size_t n = 0;
        if (epoll) {
            epoll_event ev{};
            if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR) die("epoll_wait", errno);
            fileaio_ctx_wait(ctx, 1, 0, out.data(), o.qd, &n);
        } else {
            int rc = fileaio_ctx_wait(ctx, 1, FILEAIO_WAIT_FOREVER, out.data(), o.qd, &n);
            if (rc != 0) die("wait", rc);
        }
        in_flight -= n;
        size_t again = 0;
        if (!stopping && clock_type::now() >= deadline) stopping = true;
        for (size_t i = 0; i < n; ++i) {
            size_t moved = 0;
            if (fileaio_req_get_result(out[i], &moved) != 0 || moved != block) die("read", EIO);
            ++ops;
            if (stopping) continue;
            fileaio_req_prepare_read(out[i], fd, off.next(), fileaio_req_get_user(out[i]), block,
                                     fileaio_req_get_user(out[i]));
            out[again++] = out[i];
        }
        if (again != 0) {
            if (int rc = fileaio_ctx_submit(ctx, out.data(), again, nullptr); rc != 0) die("submit", rc);
            in_flight += again;
        }
    }
    result r = t.done(ops);
    for (fileaio_req *q : reqs) fileaio_req_destroy(q);
    if (ep >= 0) ::close(ep);
    fileaio_ctx_destroy(ctx);
    return r;
}

#if FILEAIO_BENCH_ASIO
// QD callbacks, each starting the next read until the deadline. File: anything with
// async_read_some_at (fileaio::asio::file, asio::random_access_file).
template <class File>
struct reader {
    File &file;
    offsets off;
    clock_type::time_point deadline;
    uint64_t ops = 0;
    bool failed = false;

    struct slot {
        reader *rd;
        unsigned char *buf;
        void issue() {
            rd->file.async_read_some_at(static_cast<uint64_t>(rd->off.next()), asio::buffer(buf, block), *this);
        }
        void operator()(const std::error_code &ec, std::size_t n) {
            if (ec || n != block) {
                rd->failed = true;
                return;
            }
            ++rd->ops;
            if (clock_type::now() < rd->deadline) issue();
        }
    };
};

template <class File>
result run_asio_reads(const options &o, asio::io_context &io, File &f) {
    std::vector<unsigned char> mem(o.qd * block);
    const timer t;
    reader<File> rd{f, offsets(o.size),
                    t.start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds))};
    for (unsigned i = 0; i < o.qd; ++i) typename reader<File>::slot{&rd, mem.data() + i * block}.issue();
    io.run();
    if (rd.failed) die("asio read", EIO);
    return t.done(rd.ops);
}

result run_asio(const options &o, int fd, fileaio_backend b) {
    fileaio_ctx *ctx = nullptr;
    if (int rc = fileaio_ctx_create_ex(&ctx, o.qd, 0, b); rc != 0) die("fileaio_ctx_create_ex", rc);
    result r;
    {
        asio::io_context io(1);
        fileaio::asio::context actx(io, ctx);
        fileaio::asio::file f(actx, fd);
        r = run_asio_reads(o, io, f);
    }
    fileaio_ctx_destroy(ctx);
    return r;
}

#if defined(ASIO_HAS_IO_URING)
result run_asio_native(const options &o) {
    asio::io_context io(1);
    asio::random_access_file f(io, o.path, asio::random_access_file::read_only);
    return run_asio_reads(o, io, f);
}
#endif
#endif

void usage(FILE *to) {
    std::fprintf(to,
                 "usage: loop_bench [options]\n"
                 "cached-randread (4 KiB random reads, a file in the page cache) driven from event loops,\n"
                 "against the same backend waiting in fileaio_ctx_wait; rounds interleaved, medians printed.\n"
                 "  --file PATH        the data file (made if smaller than --size; default loop_bench.dat)\n"
                 "  --size MIB         file size in MiB (default 256)\n"
                 "  --qd N             reads in flight (default 32)\n"
                 "  --seconds S        per measurement (default 2)\n"
                 "  --rounds N         rounds, each running every (backend, mode) once (default 3)\n"
                 "  --backends LIST    comma list (default io_uring,linux_aio,posix_aio,thread_pool)\n"
                 "  --modes LIST       comma list of wait,epoll,asio,asio_native (default all)\n"
                 "  --help             this text\n"
                 "Modes: wait = fileaio_ctx_wait(min 1) on a thread; epoll = epoll_wait on fileaio_ctx_get_fd then\n"
                 "wait(timeout 0); asio = fileaio/asio.hpp callbacks on an io_context; asio_native = Asio's own\n"
                 "random_access_file on io_uring (built with ASIO_HAS_IO_URING; backend-independent).\n");
}

std::vector<std::string> split(const std::string &s) {
    std::vector<std::string> v;
    size_t from = 0;
    while (from <= s.size()) {
        size_t comma = s.find(',', from);
        if (comma == std::string::npos) comma = s.size();
        if (comma > from) v.push_back(s.substr(from, comma - from));
        from = comma + 1;
    }
    return v;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage(stderr);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return 0;
        } else if (a == "--file") o.path = value();
        else if (a == "--size") o.size = std::strtoull(value().c_str(), nullptr, 10) << 20;
        else if (a == "--qd") o.qd = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
        else if (a == "--seconds") o.seconds = std::strtod(value().c_str(), nullptr);
        else if (a == "--rounds") o.rounds = std::atoi(value().c_str());
        else if (a == "--backends") o.backends = split(value());
        else if (a == "--modes") o.modes = split(value());
        else {
            usage(stderr);
            return 2;
        }
    }
    if (o.qd == 0 || o.size < block || o.rounds < 1 || o.seconds <= 0) {
        usage(stderr);
        return 2;
    }

    // The file, written once and read whole so that it sits in the page cache.
    int fd = ::open(o.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die(o.path.c_str(), errno);
    if (static_cast<uint64_t>(::lseek(fd, 0, SEEK_END)) < o.size) {
        std::vector<unsigned char> chunk(1 << 20);
        for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<unsigned char>(i * 131 + 7);
        for (uint64_t at = 0; at < o.size; at += chunk.size())
            if (::pwrite(fd, chunk.data(), chunk.size(), static_cast<off_t>(at)) < 0) die("pwrite", errno);
    }
    {
        std::vector<unsigned char> chunk(1 << 20);
        for (uint64_t at = 0; at < o.size; at += chunk.size())
            if (::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(at)) < 0) die("pread", errno);
    }

    std::map<std::string, std::vector<double>> iops, per_cpu;
    std::printf("%-22s %5s %12s %14s\n", "backend/mode", "round", "IOPS", "IOPS/CPU-s");
    for (int round = 0; round < o.rounds; ++round) {
        for (const std::string &mode : o.modes) {
            std::vector<std::string> backends = o.backends;
            if (mode == "asio_native") backends = {"asio"};
            for (const std::string &bname : backends) {
                result r;
                if (mode == "wait" || mode == "epoll") {
                    fileaio_backend b = backend_of(bname);
                    if (fileaio_backend_probe(b, nullptr, 0) != 0) continue;
                    r = run_fileaio(o, fd, b, mode == "epoll");
#if FILEAIO_BENCH_ASIO
                } else if (mode == "asio") {
                    fileaio_backend b = backend_of(bname);
                    if (fileaio_backend_probe(b, nullptr, 0) != 0) continue;
                    r = run_asio(o, fd, b);
#if defined(ASIO_HAS_IO_URING)
                } else if (mode == "asio_native") {
                    r = run_asio_native(o);
#endif
#endif
                } else {
                    if (round == 0) std::printf("%s: not built in (needs Asio, and liburing for asio_native)\n", mode.c_str());
                    break;
                }
                const std::string key = bname + "/" + mode;
                iops[key].push_back(r.iops);
                per_cpu[key].push_back(r.iops_per_cpu);
                std::printf("%-22s %5d %12.0f %14.0f\n", key.c_str(), round + 1, r.iops, r.iops_per_cpu);
                std::fflush(stdout);
            }
        }
    }

    std::printf("\nmedians of %d rounds (%u KiB reads, QD %u, %.1f s each, file %llu MiB in the page cache)\n", o.rounds,
                static_cast<unsigned>(block / 1024), o.qd, o.seconds, static_cast<unsigned long long>(o.size >> 20));
    std::printf("%-22s %12s %14s\n", "backend/mode", "IOPS", "IOPS/CPU-s");
    for (const auto &[key, v] : iops) std::printf("%-22s %12.0f %14.0f\n", key.c_str(), median(v), median(per_cpu[key]));
    std::printf("\nratios of medians\n");
    auto ratio = [&](const std::string &a, const std::string &b) {
        if (iops.count(a) == 0 || iops.count(b) == 0) return;
        std::printf("%-22s / %-22s %6.3f\n", a.c_str(), b.c_str(), median(iops[a]) / median(iops[b]));
    };
    for (const std::string &b : o.backends) ratio(b + "/epoll", b + "/wait");
    for (const std::string &b : o.backends) ratio(b + "/asio", "asio/asio_native");
    for (const std::string &b : o.backends) ratio(b + "/asio", b + "/wait");
    ::close(fd);
    return 0;
}
