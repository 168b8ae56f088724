// `fileaio bench`: prepares the target file, then runs one job per chosen backend.
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
inline constexpr int exit_failure = 1;  // a backend, the file or an I/O failed
inline constexpr int exit_usage = 2;    // bad command line
inline constexpr int exit_interrupted = 130;  // SIGINT/SIGTERM: 128 + SIGINT, as shells report it

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

// What one direction (reads or writes) of a job did.
struct direction_result {
    std::uint64_t ios = 0;       // successful requests
    std::uint64_t io_bytes = 0;  // bytes they moved
    histogram latency_ns;        // submit -> reaped, per successful request
};

struct job_result {
    fileaio_backend requested = FILEAIO_BACKEND_AUTO;  // what the options asked for
    fileaio_backend backend = FILEAIO_BACKEND_AUTO;    // what really ran (fileaio_ctx_get_backend)
    rw_mode rw = rw_mode::randread;
    std::uint64_t block_size = 0;
    std::uint32_t iodepth = 0;
    bool direct = false;
    double elapsed_s = 0.0;  // first submit to last completion
    direction_result read;
    direction_result write;
    double usr_s = 0.0;  // getrusage(RUSAGE_SELF): the whole process, every thread
    double sys_s = 0.0;
    std::uint64_t errors = 0;      // requests that completed with an error or a short transfer
    int first_error = 0;           // the first of them: a fileaio/-errno code, 0 for a short transfer
    std::string first_error_text;  // a sentence about it; empty when errors == 0
    std::string failure;           // why the job could not run or stopped early; empty when it ran
    bool interrupted = false;      // stopped early by SIGINT/SIGTERM

    [[nodiscard]] std::uint64_t total_ios() const { return read.ios + write.ios; }
    [[nodiscard]] std::uint64_t total_bytes() const { return read.io_bytes + write.io_bytes; }
    [[nodiscard]] double iops() const;
    [[nodiscard]] double bytes_per_s() const;
    [[nodiscard]] double iops_per_cpu_s() const;
};

struct bench_outcome {
    std::vector<job_result> jobs;
    int exit_code = exit_ok;
};

// Runs the whole bench: picks backends, prepares the file, runs the jobs, cleans up.
// Progress and problems go to stderr; the caller reports the results. Setup failures throw
// (usage_error, std::runtime_error); a job's own failure is recorded in its result instead.
[[nodiscard]] bench_outcome run_bench(const bench_options &opts);

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_BENCH_HPP
