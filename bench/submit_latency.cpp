// submit_latency: how long fileaio_ctx_submit takes on an event loop's thread while a second
// thread keeps the same context busy (issue 11, "short calls on a loop thread").
//
// One context, two submitters. The loop thread is the context's waiter: it polls (timeout 0),
// hands the busy thread's completions back to it, and resubmits its own reads one at a time,
// timing each submit call. The busy thread submits its reads in batches of --batch as fast as
// they come back. All reads are 4 KiB cached reads of one file at random offsets.
//
//   submit_latency [--backend NAME] [--file PATH] [--size MiB] [--seconds S] [--batch N]
//
// Prints the loop thread's submit time (p50, p99, p99.9, max, in microseconds) and the I/O rates.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fileaio/fileaio.h"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr size_t block = 4096;

struct options {
    fileaio_backend backend = FILEAIO_BACKEND_THREAD_POOL;
    std::string file;
    size_t size_mib = 256;
    double seconds = 5;
    size_t batch = 32;
    size_t loop_depth = 4;
};

[[noreturn]] void usage(int rc) {
    std::fprintf(rc == 0 ? stdout : stderr,
                 "usage: submit_latency [--backend io_uring|linux_aio|posix_aio|thread_pool] [--file PATH]\n"
                 "                      [--size MiB] [--seconds S] [--batch N] [--loop-depth N]\n");
    std::exit(rc);
}

options parse(int argc, char **argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(2);
            return argv[++i];
        };
        if (a == "--help" || a == "-h") usage(0);
        if (a == "--backend") {
            const std::string b = value();
            bool found = false;
            for (int k = FILEAIO_BACKEND_IO_URING; k <= FILEAIO_BACKEND_THREAD_POOL; ++k) {
                if (b == fileaio_backend_name(static_cast<fileaio_backend>(k))) {
                    o.backend = static_cast<fileaio_backend>(k);
                    found = true;
                }
            }
            if (!found) usage(2);
        } else if (a == "--file") {
            o.file = value();
        } else if (a == "--size") {
            o.size_mib = std::strtoul(value().c_str(), nullptr, 10);
        } else if (a == "--seconds") {
            o.seconds = std::strtod(value().c_str(), nullptr);
        } else if (a == "--batch") {
            o.batch = std::strtoul(value().c_str(), nullptr, 10);
        } else if (a == "--loop-depth") {
            o.loop_depth = std::strtoul(value().c_str(), nullptr, 10);
        } else {
            usage(2);
        }
    }
    if (o.size_mib == 0 || o.batch == 0 || o.loop_depth == 0 || o.seconds <= 0) usage(2);
    return o;
}

int open_file(const options &o, std::string *made) {
    std::string path = o.file;
    if (path.empty()) {
        char templ[] = "/tmp/fileaio-submit-latency-XXXXXX";
        int fd = ::mkstemp(templ);
        if (fd < 0) return -1;
        path = templ;
        *made = path;
        std::vector<unsigned char> chunk(1 << 20, 0x5a);
        for (size_t i = 0; i < o.size_mib; ++i)
            if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) return -1;
        ::close(fd);
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    // Into the page cache.
    std::vector<unsigned char> chunk(1 << 20);
    for (off_t off = 0; ::pread(fd, chunk.data(), chunk.size(), off) > 0; off += static_cast<off_t>(chunk.size())) {
    }
    return fd;
}

struct busy_side {
    std::mutex m;
    std::condition_variable cv;
    std::vector<fileaio_req *> returned;
};

}  // namespace

int main(int argc, char **argv) {
    const options o = parse(argc, argv);
    std::string made;
    const int fd = open_file(o, &made);
    if (fd < 0) {
        std::perror("submit_latency: file");
        return 1;
    }
    const uint64_t blocks = o.size_mib * (1 << 20) / block;
    fileaio_ctx *ctx = nullptr;
    const uint32_t max = static_cast<uint32_t>(o.batch * 2 + o.loop_depth);
    if (int rc = fileaio_ctx_create_ex(&ctx, max, 0, o.backend); rc != 0) {
        std::fprintf(stderr, "submit_latency: create %s: %s\n", fileaio_backend_name(o.backend), fileaio_strerror(rc));
        return 1;
    }
    static int loop_tag, busy_tag;
    const size_t nbusy = o.batch * 2;
    std::vector<fileaio_req *> reqs(nbusy + o.loop_depth);
    std::vector<unsigned char> bufs(reqs.size() * block);
    for (auto &r : reqs)
        if (fileaio_req_create(&r) != 0) return 1;

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> busy_done{0};
    busy_side side;
    std::thread busy([&] {
        std::mt19937_64 rng(2);
        std::vector<fileaio_req *> ready(reqs.begin(), reqs.begin() + static_cast<long>(nbusy));
        while (!stop.load(std::memory_order_relaxed)) {
            while (ready.size() >= o.batch) {
                for (size_t i = 0; i < o.batch; ++i) {
                    fileaio_req *r = ready[ready.size() - 1 - i];
                    const size_t idx = static_cast<size_t>(std::find(reqs.begin(), reqs.end(), r) - reqs.begin());
                    fileaio_req_prepare_read(r, fd, static_cast<int64_t>((rng() % blocks) * block), &bufs[idx * block], block,
                                             &busy_tag);
                }
                size_t n = 0;
                fileaio_ctx_submit(ctx, ready.data() + ready.size() - o.batch, o.batch, &n);
                ready.resize(ready.size() - n);
                if (n == 0) break;
            }
            std::unique_lock lock(side.m);
            side.cv.wait_for(lock, std::chrono::milliseconds(10), [&] { return !side.returned.empty(); });
            busy_done += side.returned.size();
            ready.insert(ready.end(), side.returned.begin(), side.returned.end());
            side.returned.clear();
        }
    });

    // The loop thread.
    std::mt19937_64 rng(1);
    std::vector<double> submit_us;
    submit_us.reserve(1 << 20);
    uint64_t loop_done = 0;
    auto submit_one = [&](fileaio_req *r, size_t idx) {
        fileaio_req_prepare_read(r, fd, static_cast<int64_t>((rng() % blocks) * block), &bufs[idx * block], block, &loop_tag);
        const auto t0 = clock_type::now();
        fileaio_ctx_submit(ctx, &r, 1, nullptr);
        submit_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    };
    for (size_t i = 0; i < o.loop_depth; ++i) submit_one(reqs[nbusy + i], nbusy + i);
    const auto end = clock_type::now() + std::chrono::duration<double>(o.seconds);
    std::vector<fileaio_req *> got(max);
    while (clock_type::now() < end) {
        size_t count = 0;
        fileaio_ctx_wait(ctx, 1, 1, got.data(), got.size(), &count);
        std::vector<fileaio_req *> theirs;
        for (size_t k = 0; k < count; ++k) {
            if (fileaio_req_get_user(got[k]) == &loop_tag) {
                ++loop_done;
                const size_t idx = static_cast<size_t>(std::find(reqs.begin(), reqs.end(), got[k]) - reqs.begin());
                submit_one(got[k], idx);
            } else {
                theirs.push_back(got[k]);
            }
        }
        if (!theirs.empty()) {
            std::lock_guard lock(side.m);
            side.returned.insert(side.returned.end(), theirs.begin(), theirs.end());
            side.cv.notify_one();
        }
    }
    stop = true;
    busy.join();
    // Drain.
    for (;;) {
        size_t count = 0;
        const int rc = fileaio_ctx_wait(ctx, 1, 1000, got.data(), got.size(), &count);
        if (rc == FILEAIO_E_NO_REQUEST || (rc != 0 && count == 0)) break;
    }
    std::sort(submit_us.begin(), submit_us.end());
    auto pct = [&](double p) {
        return submit_us[std::min(submit_us.size() - 1, static_cast<size_t>(p * static_cast<double>(submit_us.size())))];
    };
    std::printf("backend %s  loop submits %zu  p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.1f us  loop %.0f IOPS  busy %.0f IOPS\n",
                fileaio_backend_name(o.backend), submit_us.size(), pct(0.5), pct(0.99), pct(0.999), submit_us.back(),
                static_cast<double>(loop_done) / o.seconds, static_cast<double>(busy_done.load()) / o.seconds);
    for (auto &r : reqs) fileaio_req_destroy(r);
    fileaio_ctx_destroy(ctx);
    ::close(fd);
    if (!made.empty()) ::unlink(made.c_str());
    return 0;
}
