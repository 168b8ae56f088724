// Command-line options of `fileaio bench`, with fio's names. Parsing is pure: no I/O, no
// environment, no exceptions for bad input (those come back as an error string).
#ifndef FILEAIO_CLI_OPTIONS_HPP
#define FILEAIO_CLI_OPTIONS_HPP

#include <fileaio/fileaio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fileaio::cli {

inline constexpr std::uint64_t kib = 1024;
inline constexpr std::uint64_t mib = kib * kib;
inline constexpr std::uint64_t gib = kib * mib;

// fio's --rw values. rw and randrw mix reads and writes (--rwmixread of them are reads).
enum class rw_mode { read, write, randread, randwrite, rw, randrw };
enum class output_format { normal, json };

// Which backends a bench runs.
enum class backend_selection {
    all,   // every available backend in turn (unavailable ones are skipped with their reason)
    auto_, // FILEAIO_BACKEND_AUTO: what the library picks (honours FILEAIO_BACKEND)
    named  // exactly the listed ones; an unavailable one is an error
};

namespace defaults {
inline constexpr std::uint64_t block_size = 4 * kib;
inline constexpr std::uint32_t iodepth = 32;
inline constexpr std::uint64_t file_size = 256 * mib;
inline constexpr double runtime_s = 3.0;
inline constexpr std::uint32_t rwmixread = 50;   // percent of reads in rw/randrw
inline constexpr std::uint32_t numjobs = 1;
}  // namespace defaults

namespace limits {
inline constexpr std::uint32_t max_iodepth = 65536;
inline constexpr std::uint64_t max_block_size = 256 * mib;
inline constexpr std::uint64_t max_buffer_bytes = 4 * gib;  // iodepth * bs
inline constexpr std::uint32_t max_threads = 4096;
inline constexpr std::uint32_t max_numjobs = 1024;
inline constexpr std::uint32_t max_percent = 100;
inline constexpr double max_runtime_s = 1e6;
inline constexpr std::uint64_t direct_granule = 512;  // --direct=1 needs bs to be a multiple of it
}  // namespace limits

struct bench_options {
    backend_selection selection = backend_selection::all;
    std::vector<fileaio_backend> backends;  // for backend_selection::named, in the order given
    rw_mode rw = rw_mode::randread;
    std::uint32_t rwmixread = defaults::rwmixread;  // percent of reads for rw/randrw; ignored otherwise
    std::uint64_t block_size = defaults::block_size;
    std::uint32_t iodepth = defaults::iodepth;  // per job
    std::uint32_t numjobs = defaults::numjobs;  // threads, each with its own context, requests and fd
    std::uint64_t size = defaults::file_size;
    bool size_given = false;  // without --size an existing --filename is used whole
    double runtime_s = defaults::runtime_s;  // 0: one pass of size/bs I/Os per job instead of time-based
    bool runtime_given = false;              // FILEAIO_BENCH_SECONDS only replaces the default
    std::string filename;                    // empty: a temporary file, deleted afterwards
    bool direct = false;
    bool invalidate = true;         // drop the file's page cache before each backend (fio's default)
    std::uint32_t fsync_every = 0;  // a flush request after every N writes, per job; 0 = never
    std::uint32_t batch_submit = 0;        // at most this many requests per submit call; 0 = every free one
    std::uint32_t batch_complete_min = 0;  // wait for this many completions; 0 = max(1, iodepth / 4)
    std::uint32_t batch_complete_max = 0;  // take at most this many per wait; 0 = see complete_max()
    bool random_map = true;         // random I/O: every block once per pass (fio's map); --norandommap: off
    bool verify = false;            // writes stamp each block; reads check it (see verify.hpp)
    bool fixed_buffers = true;      // fileaio_ctx_register_buffers with the job's buffers
    bool register_files = true;     // fileaio_ctx_associate_with_file with the job's fd
    bool sqthread_poll = false;     // FILEAIO_URING_SQPOLL
    bool lib_latency = false;       // latency from the library's histogram (FILEAIO_CTX_LATENCY)
    std::uint32_t threads = 0;  // fileaio_ctx_options.threads; 0 = the backend's default
    output_format format = output_format::normal;
    std::string output_path;  // --output: the table or JSON goes there instead of stdout
    std::string report_path;  // --report: a self-contained HTML report
    bool no_arguments = false;  // `fileaio bench` alone (make bench): page-cached reads, see bench_usage

    // The wait's min_reqs that --iodepth_batch_complete_min asks for (its default filled in).
    [[nodiscard]] std::uint32_t complete_min() const;
    // The wait's capacity that --iodepth_batch_complete_max asks for (its default, which depends
    // on the backend that runs, filled in).
    [[nodiscard]] std::uint32_t complete_max(fileaio_backend backend) const;
};

struct help_requested {};

struct parse_error {
    std::string message;  // one line, without the program name
};

using parse_result = std::variant<bench_options, help_requested, parse_error>;

// Parses the arguments that follow `bench`. Accepts `--name=value` and `--name value`.
// No arguments at all is the `make bench` run: every backend, page-cached reads (invalidate off).
[[nodiscard]] parse_result parse_bench_options(std::span<const std::string_view> args);

// "4096", "4k", "4K", "4KiB", "1m", "2g" (base 1024). nullopt for anything else or overflow.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

// "4k" for 4096, "1m" for 1048576, "1000" for 1000: the shortest exact spelling.
[[nodiscard]] std::string format_size(std::uint64_t bytes);

// "256 MiB", "64 KiB", "1000 bytes": for people; exact binary units where they fit.
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);

[[nodiscard]] std::string_view rw_name(rw_mode rw);
[[nodiscard]] bool rw_is_random(rw_mode rw);
[[nodiscard]] bool rw_is_write(rw_mode rw);  // only writes
[[nodiscard]] bool rw_is_mixed(rw_mode rw);  // rw, randrw
[[nodiscard]] bool rw_reads(rw_mode rw);     // has reads (read, randread, rw, randrw)
[[nodiscard]] bool rw_writes(rw_mode rw);    // has writes (write, randwrite, rw, randrw)

// The backends in the order `info` and `--backend=all` list them.
inline constexpr fileaio_backend all_backends[] = {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO,
                                                   FILEAIO_BACKEND_POSIX_AIO, FILEAIO_BACKEND_THREAD_POOL};

// The backend named `io_uring`, `linux_aio`, `posix_aio` or `thread_pool`; nullopt otherwise.
[[nodiscard]] std::optional<fileaio_backend> backend_from_name(std::string_view name);

// Parses a duration: "5", "2.5", "500ms", "1m", "1h"; nullopt for anything else.
[[nodiscard]] std::optional<double> parse_seconds(std::string_view text);

// The usage text of `fileaio bench`.
[[nodiscard]] std::string_view bench_usage();

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_OPTIONS_HPP
