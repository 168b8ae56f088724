// The raw liburing baseline of BENCHMARKS.md: random reads (or writes, or both) written straight
// on liburing with fixed buffers and a registered file, submitting every free slot and reaping at
// least `batch` at a time (the shape of fio's t/io_uring), and at most --batch-max (default: all;
// fio's iodepth_batch_complete_max, which bench/compare_fio.sh sets equal on every side). It is the ceiling for the io_uring
// backend: everything our API adds costs time against it. Offsets follow `fileaio bench`: fio's
// random map (every block once per pass; tools/fileaio/offsets.hpp), or --norandommap.
//
//   raw_uring FILE [--runtime S] [--iodepth N] [--batch N] [--batch-max N] [--bs N] [--direct]
//                  [--rw randread|randwrite|randrw] [--rwmixread P] [--norandommap]
//
// Prints one JSON object: {"ios": N, "runtime_s": X, "iops": X, "usr_s": X, "sys_s": X,
// "iops_per_cpu_s": X}. CPU is the whole process (getrusage), measured around the loop only,
// as `fileaio bench` does.
#include "offsets.hpp"

#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

struct config {
    const char *path = nullptr;
    double runtime_s = 5.0;
    unsigned iodepth = 32;
    unsigned batch = 8;
    unsigned batch_max = 0;  // completions taken per loop at most (fio's iodepth_batch_complete_max); 0 = all
    unsigned block_size = 4096;
    bool direct = false;
    bool reads = true;   // --rw randread (default) or randrw
    bool writes = false; // --rw randwrite or randrw
    unsigned rwmixread = 50;
    bool random_map = true;
};

std::uint64_t now_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

double cpu_seconds(const timeval &tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

int usage()
{
    std::fprintf(stderr, "usage: raw_uring FILE [--runtime S] [--iodepth N] [--batch N] [--batch-max N] [--bs N] [--direct]\n"
                         "                 [--rw randread|randwrite|randrw] [--rwmixread P] [--norandommap]\n");
    return 2;
}

}  // namespace

int main(int argc, char **argv)
{
    config cfg;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const auto next = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
        if (arg == "--direct") {
            cfg.direct = true;
        } else if (arg == "--norandommap") {
            cfg.random_map = false;
        } else if (arg == "--rw") {
            const char *value = next();
            const std::string rw = value != nullptr ? value : "";
            if (rw != "randread" && rw != "randwrite" && rw != "randrw") {
                return usage();
            }
            cfg.reads = rw != "randwrite";
            cfg.writes = rw != "randread";
        } else if (arg == "--rwmixread") {
            const char *value = next();
            if (value == nullptr) {
                return usage();
            }
            cfg.rwmixread = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
        } else if (arg == "--runtime" || arg == "--iodepth" || arg == "--batch" || arg == "--batch-max" ||
                   arg == "--bs") {
            const char *value = next();
            if (value == nullptr) {
                return usage();
            }
            if (arg == "--runtime") {
                cfg.runtime_s = std::strtod(value, nullptr);
            } else {
                const auto n = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
                (arg == "--iodepth"     ? cfg.iodepth
                 : arg == "--batch"     ? cfg.batch
                 : arg == "--batch-max" ? cfg.batch_max
                                        : cfg.block_size) = n;
            }
        } else if (cfg.path == nullptr && !arg.starts_with("--")) {
            cfg.path = argv[i];
        } else {
            return usage();
        }
    }
    if (cfg.path == nullptr || cfg.iodepth == 0 || cfg.block_size == 0 || cfg.batch == 0 || cfg.batch > cfg.iodepth ||
        (cfg.batch_max != 0 && (cfg.batch_max < cfg.batch || cfg.batch_max > cfg.iodepth))) {
        return usage();
    }

    const int fd = ::open(cfg.path, (cfg.writes ? O_RDWR : O_RDONLY) | O_CLOEXEC | (cfg.direct ? O_DIRECT : 0));
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
        std::fprintf(stderr, "raw_uring: %s: %s\n", cfg.path, std::strerror(errno));
        return 1;
    }
    const std::uint64_t blocks = static_cast<std::uint64_t>(st.st_size) / cfg.block_size;
    if (blocks == 0) {
        std::fprintf(stderr, "raw_uring: %s is smaller than one block\n", cfg.path);
        return 1;
    }

    io_uring ring{};
    if (const int rc = io_uring_queue_init(cfg.iodepth, &ring, 0); rc < 0) {
        std::fprintf(stderr, "raw_uring: io_uring_queue_init: %s\n", std::strerror(-rc));
        return 1;
    }
    void *memory = nullptr;
    if (posix_memalign(&memory, 4096, std::size_t{cfg.block_size} * cfg.iodepth) != 0) {
        return 1;
    }
    auto *buffers = static_cast<char *>(memory);
    std::vector<iovec> iov(cfg.iodepth);
    for (unsigned i = 0; i < cfg.iodepth; ++i) {
        iov[i] = {buffers + std::size_t{i} * cfg.block_size, cfg.block_size};
    }
    if (const int rc = io_uring_register_buffers(&ring, iov.data(), cfg.iodepth); rc < 0) {
        std::fprintf(stderr, "raw_uring: io_uring_register_buffers: %s\n", std::strerror(-rc));
        return 1;
    }
    if (const int rc = io_uring_register_files(&ring, &fd, 1); rc < 0) {
        std::fprintf(stderr, "raw_uring: io_uring_register_files: %s\n", std::strerror(-rc));
        return 1;
    }

    for (std::size_t i = 0; i < std::size_t{cfg.block_size} * cfg.iodepth; ++i) {
        buffers[i] = static_cast<char>(i * 131u);  // what writes write: not zeros
    }
    fileaio::cli::index_generator offsets(cfg.random_map ? fileaio::cli::offset_order::random_map
                                                         : fileaio::cli::offset_order::random_uniform,
                                          blocks, 0x5EEDF11EA10Bu);
    fileaio::cli::splitmix64 directions(0xD1EC7104u);
    std::vector<unsigned> free_slots;
    for (unsigned i = 0; i < cfg.iodepth; ++i) {
        free_slots.push_back(i);
    }
    std::uint64_t ios = 0;
    std::uint64_t errors = 0;
    unsigned in_flight = 0;
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const std::uint64_t start = now_ns();
    const std::uint64_t deadline = start + static_cast<std::uint64_t>(cfg.runtime_s * 1e9);
    std::uint64_t end = start;
    bool running = true;
    while (running || in_flight > 0) {
        while (running && !free_slots.empty()) {
            const unsigned slot = free_slots.back();
            free_slots.pop_back();
            io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            if (sqe == nullptr) {  // cannot happen: the ring has iodepth entries, all submitted each round
                std::fprintf(stderr, "raw_uring: submission queue full\n");
                return 1;
            }
            const std::uint64_t block = offsets.next();
            const bool write = cfg.writes && (!cfg.reads || directions.below(100) >= cfg.rwmixread);
            if (write) {
                io_uring_prep_write_fixed(sqe, 0, iov[slot].iov_base, cfg.block_size,
                                          static_cast<__u64>(block * cfg.block_size), static_cast<int>(slot));
            } else {
                io_uring_prep_read_fixed(sqe, 0, iov[slot].iov_base, cfg.block_size,
                                         static_cast<__u64>(block * cfg.block_size), static_cast<int>(slot));
            }
            sqe->flags |= IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(sqe, slot);
            ++in_flight;
        }
        const unsigned want = running ? std::min(cfg.batch, in_flight) : 1;
        if (const int rc = io_uring_submit_and_wait(&ring, want); rc < 0 && rc != -EINTR) {
            std::fprintf(stderr, "raw_uring: io_uring_submit_and_wait: %s\n", std::strerror(-rc));
            return 1;
        }
        io_uring_cqe *cqe = nullptr;
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            if (cqe->res == static_cast<int>(cfg.block_size)) {
                ++ios;
            } else {
                ++errors;
            }
            free_slots.push_back(static_cast<unsigned>(io_uring_cqe_get_data64(cqe)));
            if (++seen == cfg.batch_max) {
                break;  // the rest are taken after the next submit, as fio does
            }
        }
        io_uring_cq_advance(&ring, seen);
        in_flight -= seen;
        end = now_ns();
        if (end >= deadline) {
            running = false;
        }
    }
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    const double runtime = static_cast<double>(end - start) / 1e9;
    const double usr = cpu_seconds(after.ru_utime) - cpu_seconds(before.ru_utime);
    const double sys = cpu_seconds(after.ru_stime) - cpu_seconds(before.ru_stime);
    std::printf("{\"ios\": %llu, \"errors\": %llu, \"runtime_s\": %.6f, \"iops\": %.1f, \"usr_s\": %.6f, \"sys_s\": %.6f, "
                "\"iops_per_cpu_s\": %.1f}\n",
                static_cast<unsigned long long>(ios), static_cast<unsigned long long>(errors), runtime,
                static_cast<double>(ios) / runtime, usr, sys, usr + sys > 0 ? static_cast<double>(ios) / (usr + sys) : 0.0);
    io_uring_queue_exit(&ring);
    std::free(memory);
    ::close(fd);
    return errors == 0 ? 0 : 1;
}
