// `fileaio bench`: prepares the target file, then runs one measurement per chosen backend. A
// measurement runs --numjobs jobs (threads), each with its own file descriptor, context, requests
// and buffers; their results are added up per backend, and the CPU is that of the whole process.
#ifndef FILEAIO_CLI_BENCH_HPP
#define FILEAIO_CLI_BENCH_HPP

#include "histogram.hpp"
#include "options.hpp"

#include <fileaio/fileaio.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fileaio::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // a backend, the file or an I/O failed (or --verify found a bad block)
inline constexpr int exit_usage = 2;    // bad command line
inline constexpr int exit_interrupted = 130;  // SIGINT/SIGTERM: 128 + SIGINT, as shells report it

// IOPS over time: the completions are counted every sample_interval_ns during a measurement.
inline constexpr std::uint64_t sample_interval_ns = 100'000'000;  // 100 ms
inline constexpr std::size_t sample_margin = 64;        // samples reserved beyond runtime / interval
inline constexpr std::size_t max_untimed_samples = 36'000;  // --runtime=0 (one pass): one hour of samples

// Thrown (outside the I/O loop) when the options cannot work with the file at hand, e.g. a
// block size that does not suit the file's O_DIRECT alignment. main turns it into exit_usage.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown when SIGINT/SIGTERM stops the run before any job ran (while the file is laid out).
class interrupted_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What one direction (reads, writes or flushes) of a measurement did.
struct direction_result {
    std::uint64_t ios = 0;       // successful requests
    std::uint64_t io_bytes = 0;  // bytes they moved (0 for flushes)
    histogram latency_ns;        // submit -> reaped, per successful request

    void merge(const direction_result &other) noexcept
    {
        ios += other.ios;
        io_bytes += other.io_bytes;
        latency_ns.merge(other.latency_ns);
    }
};

// The completions counted so far, taken every sample_interval_ns (cumulative, all jobs).
struct iops_sample {
    std::uint64_t t_ns = 0;    // since the start of the measurement
    std::uint64_t reads = 0;   // successful reads completed by then
    std::uint64_t writes = 0;  // successful writes completed by then
};

// One backend's measurement: every job of it added up.
struct job_result {
    fileaio_backend requested = FILEAIO_BACKEND_AUTO;  // what the options asked for
    fileaio_backend backend = FILEAIO_BACKEND_AUTO;    // what really ran (fileaio_ctx_get_backend)
    std::uint32_t ctx_flags = 0;  // FILEAIO_CTX_* the jobs' contexts were created with
    rw_mode rw = rw_mode::randread;
    std::uint32_t rwmixread = 0;  // for rw/randrw
    std::uint64_t block_size = 0;
    std::uint32_t iodepth = 0;  // per job
    std::uint32_t complete_min = 0;  // a wait asks for this many completions
    std::uint32_t complete_max = 0;  // and takes at most this many (the backend's default filled in)
    std::uint32_t numjobs = 1;
    bool direct = false;
    std::uint32_t fsync_every = 0;
    bool verify = false;
    double elapsed_s = 0.0;  // the start of the jobs to the last completion
    direction_result read;
    direction_result write;
    direction_result sync;  // the flushes of --fsync
    double usr_s = 0.0;  // getrusage(RUSAGE_SELF): the whole process, every thread
    double sys_s = 0.0;
    std::uint64_t errors = 0;      // requests that failed, came back short, or failed --verify
    int first_error = 0;           // the first of them: a fileaio/-errno code, 0 for short or bad data
    std::string first_error_text;  // a sentence about it; empty when errors == 0
    std::string failure;           // why the measurement could not run or stopped early; empty when it ran
    bool interrupted = false;      // stopped early by SIGINT/SIGTERM
    std::vector<iops_sample> samples;  // every sample_interval_ns; see iops_sample

    [[nodiscard]] std::uint64_t total_ios() const { return read.ios + write.ios; }
    [[nodiscard]] std::uint64_t total_bytes() const { return read.io_bytes + write.io_bytes; }
    [[nodiscard]] double iops() const;
    [[nodiscard]] double bytes_per_s() const;
    [[nodiscard]] double iops_per_cpu_s() const;
};

// What the run worked on, for the reports.
struct bench_target {
    std::string path;
    std::uint64_t size = 0;
    bool temporary = false;
    bool block_device = false;
};

struct bench_outcome {
    std::vector<job_result> jobs;
    bench_target target;
    std::vector<std::string> skipped;  // "posix_aio: <why>" for backends --backend=all could not use
    int exit_code = exit_ok;
};

// Runs the whole bench: picks backends, prepares the file, runs the measurements, cleans up.
// Progress and problems go to stderr; the caller reports the results. Setup failures throw
// (usage_error, interrupted_error, std::runtime_error) before anything was measured; later
// failures are recorded in the results and exit_code, and what was measured is returned.
[[nodiscard]] bench_outcome run_bench(const bench_options &opts);

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_BENCH_HPP
