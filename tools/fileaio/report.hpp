// The results of `fileaio bench`: a table for people, JSON (fio-like names) for programs.
#ifndef FILEAIO_CLI_REPORT_HPP
#define FILEAIO_CLI_REPORT_HPP

#include "bench.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace fileaio::cli {

// The table, one row per job, then notes on errors and, with several jobs, the winner.
[[nodiscard]] std::string format_table(std::span<const job_result> jobs);

// {"fileaio_version": ..., "jobs": [...]}, newline-terminated.
[[nodiscard]] std::string format_json(std::span<const job_result> jobs);

// Whether the job ran to its end without errors and moved data.
[[nodiscard]] bool ran_cleanly(const job_result &job);

// The latency of the job as a whole: reads and writes merged.
[[nodiscard]] histogram job_latency(const job_result &job);

// Nanoseconds as microseconds for a table: "8.25", "83.4", "1250".
[[nodiscard]] std::string latency_us(std::uint64_t ns);

// The job with the most IOPS among those that ran cleanly; nullopt when fewer than two did.
[[nodiscard]] std::optional<std::size_t> winner_index(std::span<const job_result> jobs);

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_REPORT_HPP
