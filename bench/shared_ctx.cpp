// shared_ctx: issue 12's scaling question. Cached 4 KiB random reads (fio's random map per
// thread, tools/fileaio/offsets.hpp) from T threads, each keeping `iodepth` requests of its own in
// flight, in one of two modes:
//
//   own     each thread has its own context (what `fileaio bench --numjobs` does)
//   shared  all threads submit to and wait on one context of T x iodepth requests; a thread
//           prepares again and resubmits whatever its wait hands back, whoever submitted it.
//           The contract allows one waiter per context at a time (a second gets E_BUSY), so
//           the threads take turns at the wait under a mutex of their own (what a program
//           sharing a context has to do); submits are concurrent with the wait and each other
//
// Every thread opens its own descriptor. Waits ask for iodepth/4 completions (at most iodepth),
// as `fileaio bench` does. Prints one JSON line: {"mode", "backend", "threads", "ios", "runtime_s",
// "iops", "usr_s", "sys_s", "iops_per_cpu_s"}; CPU is the whole process (getrusage RUSAGE_SELF)
// around the run.
//
//   shared_ctx FILE [--backend NAME] [--mode own|shared] [--threads T] [--iodepth N] [--runtime S]
#include "offsets.hpp"
#include "util.hpp"

#include <fileaio/fileaio.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using fileaio::cli::monotonic_ns;

constexpr std::size_t block_size = 4096;
constexpr std::uint32_t wait_timeout_ms = 10;

struct config {
    const char *path = nullptr;
    fileaio_backend backend = FILEAIO_BACKEND_AUTO;
    bool shared = false;
    unsigned threads = 2;
    unsigned iodepth = 32;
    double runtime_s = 3.0;
};

double seconds(const timeval &tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

int usage()
{
    std::fprintf(stderr, "usage: shared_ctx FILE [--backend NAME] [--mode own|shared] [--threads T] [--iodepth N] "
                         "[--runtime S]\n");
    return 2;
}

struct slot {
    fileaio_req *req = nullptr;
    void *buffer = nullptr;
    int fd = -1;
};

struct shared_state {
    std::atomic<std::uint64_t> ios{0};
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<bool> running{true};
    std::atomic<int> failed{0};
    std::mutex wait_turn;  // shared mode: one waiter at a time
    bool shared = false;
};

// The offset comes from the preparing thread's own generator (in shared mode a thread prepares
// other threads' requests too).
void prepare(slot &s, fileaio::cli::index_generator &offsets)
{
    const auto offset = static_cast<std::int64_t>(offsets.next() * block_size);
    if (fileaio_req_prepare_read(s.req, s.fd, offset, s.buffer, block_size, &s) != 0) {
        std::abort();
    }
}

// One thread: submits its own slots, then reaps and resubmits until the run ends, then drains.
void run_thread(fileaio_ctx *ctx, std::vector<slot> &mine, fileaio::cli::index_generator &offsets, unsigned iodepth,
                shared_state &st)
{
    std::vector<fileaio_req *> batch(iodepth);
    std::vector<fileaio_req *> done(iodepth);
    for (std::size_t i = 0; i < mine.size(); ++i) {
        prepare(mine[i], offsets);
        batch[i] = mine[i].req;
    }
    st.in_flight.fetch_add(static_cast<std::int64_t>(mine.size()));
    if (const int sub = fileaio_ctx_submit(ctx, batch.data(), mine.size(), nullptr); sub != 0) {
        std::fprintf(stderr, "shared_ctx: fileaio_ctx_submit: %s\n", fileaio_strerror(sub));
        st.failed.store(1);
        return;
    }
    const std::size_t min_reqs = std::max<std::size_t>(1, iodepth / 4);
    std::uint64_t ios = 0;
    while (true) {
        const bool running = st.running.load(std::memory_order_relaxed);
        if (!running && st.in_flight.load() <= 0) {
            break;
        }
        std::size_t count = 0;
        std::unique_lock turn(st.wait_turn, std::defer_lock);
        if (st.shared) {
            turn.lock();
        }
        const int rc = fileaio_ctx_wait(ctx, running ? min_reqs : 1, wait_timeout_ms, done.data(), iodepth, &count);
        if (turn.owns_lock()) {
            turn.unlock();
        }
        if (rc == FILEAIO_E_NO_REQUEST) {
            if (!running) {
                break;  // this context has nothing left (own mode: the other thread's still drain)
            }
            continue;  // shared: the other thread reaped everything and is about to resubmit
        }
        if (rc != 0 && rc != FILEAIO_E_TIMEOUT && rc != FILEAIO_E_INTERRUPTED) {
            std::fprintf(stderr, "shared_ctx: fileaio_ctx_wait: %s\n", fileaio_strerror(rc));
            st.failed.store(1);
            st.running.store(false);
        }
        std::size_t again = 0;
        for (std::size_t i = 0; i < count; ++i) {
            std::size_t moved = 0;
            if (const int res = fileaio_req_get_result(done[i], &moved); res != 0 || moved != block_size) {
                std::fprintf(stderr, "shared_ctx: a read: %s, %zu bytes\n", fileaio_strerror(res), moved);
                st.failed.store(1);
            }
            ++ios;
            if (running) {
                auto *s = static_cast<slot *>(fileaio_req_get_user(done[i]));
                prepare(*s, offsets);
                batch[again++] = done[i];
            }
        }
        st.in_flight.fetch_sub(static_cast<std::int64_t>(count - again));
        if (const int sub = again > 0 ? fileaio_ctx_submit(ctx, batch.data(), again, nullptr) : 0; sub != 0) {
            std::fprintf(stderr, "shared_ctx: fileaio_ctx_submit: %s\n", fileaio_strerror(sub));
            st.failed.store(1);
            st.running.store(false);
            st.in_flight.fetch_sub(static_cast<std::int64_t>(again));
        }
    }
    st.ios.fetch_add(ios);
}

}  // namespace

int main(int argc, char **argv)
{
    config cfg;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!arg.starts_with("--")) {
            if (cfg.path != nullptr) {
                return usage();
            }
            cfg.path = argv[i];
            continue;
        }
        if (value == nullptr) {
            return usage();
        }
        ++i;
        if (arg == "--backend") {
            const std::string name = value;
            bool found = false;
            for (const auto b : {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO,
                                 FILEAIO_BACKEND_THREAD_POOL}) {
                if (name == fileaio_backend_name(b)) {
                    cfg.backend = b;
                    found = true;
                }
            }
            if (!found) {
                return usage();
            }
        } else if (arg == "--mode") {
            if (std::string(value) != "own" && std::string(value) != "shared") {
                return usage();
            }
            cfg.shared = std::string(value) == "shared";
        } else if (arg == "--threads") {
            cfg.threads = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
        } else if (arg == "--iodepth") {
            cfg.iodepth = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
        } else if (arg == "--runtime") {
            cfg.runtime_s = std::strtod(value, nullptr);
        } else {
            return usage();
        }
    }
    if (cfg.path == nullptr || cfg.threads == 0 || cfg.iodepth == 0) {
        return usage();
    }

    std::vector<int> fds(cfg.threads);
    for (auto &fd : fds) {
        fd = ::open(cfg.path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            std::fprintf(stderr, "shared_ctx: %s: %s\n", cfg.path, std::strerror(errno));
            return 1;
        }
    }
    struct stat st {};
    ::fstat(fds[0], &st);
    const std::uint64_t blocks = static_cast<std::uint64_t>(st.st_size) / block_size;
    if (blocks == 0) {
        std::fprintf(stderr, "shared_ctx: %s is smaller than one block\n", cfg.path);
        return 1;
    }

    const unsigned contexts = cfg.shared ? 1 : cfg.threads;
    std::vector<fileaio_ctx *> ctxs(contexts, nullptr);
    for (auto &ctx : ctxs) {
        const std::uint32_t reqs = cfg.shared ? cfg.threads * cfg.iodepth : cfg.iodepth;
        if (const int rc = fileaio_ctx_create_ex(&ctx, reqs, 0, cfg.backend); rc != 0) {
            std::fprintf(stderr, "shared_ctx: fileaio_ctx_create_ex: %s\n", fileaio_strerror(rc));
            return 1;
        }
    }
    std::vector<fileaio::cli::index_generator> offsets;
    offsets.reserve(cfg.threads);
    std::vector<std::vector<slot>> slots(cfg.threads);
    void *memory = nullptr;
    if (posix_memalign(&memory, 4096, block_size * cfg.threads * cfg.iodepth) != 0) {
        return 1;
    }
    for (unsigned t = 0; t < cfg.threads; ++t) {
        offsets.emplace_back(fileaio::cli::offset_order::random_map, blocks, 0x5EEDF11EA10Bu + t * 0x9E3779B97F4A7C15u);
        slots[t].resize(cfg.iodepth);
        for (unsigned i = 0; i < cfg.iodepth; ++i) {
            slot &s = slots[t][i];
            fileaio_req_create(&s.req);
            s.buffer = static_cast<char *>(memory) + (std::size_t{t} * cfg.iodepth + i) * block_size;
            s.fd = fds[t];
        }
    }
    shared_state state;
    state.shared = cfg.shared;
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const std::uint64_t start = monotonic_ns();
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < cfg.threads; ++t) {
        threads.emplace_back(run_thread, ctxs[cfg.shared ? 0 : t], std::ref(slots[t]), std::ref(offsets[t]), cfg.iodepth,
                             std::ref(state));
    }
    while (monotonic_ns() - start < static_cast<std::uint64_t>(cfg.runtime_s * 1e9) && state.running.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const std::uint64_t end = monotonic_ns();
    state.running.store(false);
    for (auto &t : threads) {
        t.join();
    }
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    const double runtime = static_cast<double>(end - start) / 1e9;
    const double usr = seconds(after.ru_utime) - seconds(before.ru_utime);
    const double sys = seconds(after.ru_stime) - seconds(before.ru_stime);
    const auto ios = state.ios.load();
    std::printf("{\"mode\": \"%s\", \"backend\": \"%s\", \"threads\": %u, \"ios\": %llu, \"runtime_s\": %.6f, "
                "\"iops\": %.1f, \"usr_s\": %.6f, \"sys_s\": %.6f, \"iops_per_cpu_s\": %.1f, \"failed\": %d}\n",
                cfg.shared ? "shared" : "own", fileaio_backend_name(fileaio_ctx_get_backend(ctxs[0])), cfg.threads,
                static_cast<unsigned long long>(ios), runtime, static_cast<double>(ios) / runtime, usr, sys,
                usr + sys > 0 ? static_cast<double>(ios) / (usr + sys) : 0.0, state.failed.load());
    for (auto &per_thread : slots) {
        for (auto &s : per_thread) {
            fileaio_req_destroy(s.req);
        }
    }
    for (auto *ctx : ctxs) {
        fileaio_ctx_destroy(ctx);
    }
    for (const int fd : fds) {
        ::close(fd);
    }
    std::free(memory);
    return state.failed.load() == 0 ? 0 : 1;
}
