#include "options.hpp"

#include "verify.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace fileaio::cli {
namespace {

constexpr std::string_view option_prefix = "--";
constexpr std::uint32_t complete_min_divisor = 4;  // default wait: iodepth/4 completions

enum class option_id {
    backend, rw, rwmixread, rwmixwrite, bs, iodepth, numjobs, size, runtime, time_based, filename, direct,
    invalidate, fsync, batch_submit, batch_complete_min, batch_complete_max, verify, fixedbufs, no_fixedbufs, registerfiles,
    no_registerfiles, sqthread_poll, threads, norandommap, output_format, output, report, lib_latency
};

// How an option takes its value.
enum class value_kind {
    required,  // --name=value or --name value
    optional,  // also bare --name, which means implicit_value
    none       // a flag: bare --name only
};

struct option_spec {
    std::string_view name;
    option_id id;
    value_kind kind = value_kind::required;
    std::string_view implicit_value = {};  // the value of a bare `--name`
};

constexpr std::array option_specs{
    option_spec{"backend", option_id::backend},
    option_spec{"rw", option_id::rw},
    option_spec{"readwrite", option_id::rw},  // fio's long spelling
    option_spec{"rwmixread", option_id::rwmixread},
    option_spec{"rwmixwrite", option_id::rwmixwrite},
    option_spec{"bs", option_id::bs},
    option_spec{"blocksize", option_id::bs},
    option_spec{"iodepth", option_id::iodepth},
    option_spec{"numjobs", option_id::numjobs},
    option_spec{"size", option_id::size},
    option_spec{"runtime", option_id::runtime},
    option_spec{"time_based", option_id::time_based, value_kind::optional, "1"},
    option_spec{"filename", option_id::filename},
    option_spec{"direct", option_id::direct, value_kind::optional, "1"},
    option_spec{"invalidate", option_id::invalidate, value_kind::optional, "1"},
    option_spec{"fsync", option_id::fsync},
    option_spec{"iodepth_batch_submit", option_id::batch_submit},
    option_spec{"iodepth_batch", option_id::batch_submit},  // fio's older name
    option_spec{"iodepth_batch_complete_min", option_id::batch_complete_min},
    option_spec{"iodepth_batch_complete", option_id::batch_complete_min},  // fio's older name
    option_spec{"iodepth_batch_complete_max", option_id::batch_complete_max},
    option_spec{"verify", option_id::verify, value_kind::optional, "1"},
    option_spec{"fixedbufs", option_id::fixedbufs, value_kind::optional, "1"},
    option_spec{"no-fixedbufs", option_id::no_fixedbufs, value_kind::none, "1"},
    option_spec{"registerfiles", option_id::registerfiles, value_kind::optional, "1"},
    option_spec{"no-registerfiles", option_id::no_registerfiles, value_kind::none, "1"},
    option_spec{"sqthread_poll", option_id::sqthread_poll, value_kind::optional, "1"},
    option_spec{"threads", option_id::threads},
    option_spec{"norandommap", option_id::norandommap, value_kind::optional, "1"},
    option_spec{"output-format", option_id::output_format},
    option_spec{"output", option_id::output},
    option_spec{"report", option_id::report},
    option_spec{"lib_latency", option_id::lib_latency, value_kind::optional, "1"},
};

struct backend_name {
    std::string_view name;
    fileaio_backend backend;
};

constexpr std::array backend_names{
    backend_name{"io_uring", FILEAIO_BACKEND_IO_URING},
    backend_name{"linux_aio", FILEAIO_BACKEND_LINUX_AIO},
    backend_name{"posix_aio", FILEAIO_BACKEND_POSIX_AIO},
    backend_name{"thread_pool", FILEAIO_BACKEND_THREAD_POOL},
};

struct rw_name_entry {
    std::string_view name;
    rw_mode rw;
};

constexpr std::array rw_names{
    rw_name_entry{"read", rw_mode::read},
    rw_name_entry{"write", rw_mode::write},
    rw_name_entry{"randread", rw_mode::randread},
    rw_name_entry{"randwrite", rw_mode::randwrite},
    rw_name_entry{"rw", rw_mode::rw},
    rw_name_entry{"randrw", rw_mode::randrw},
    rw_name_entry{"readwrite", rw_mode::rw},  // fio's long spelling of rw; rw_name() finds "rw" first
};

struct unit_suffix {
    std::string_view suffix;
    double seconds;
};

constexpr double seconds_per_minute = 60.0;
constexpr double seconds_per_hour = 3600.0;
constexpr double seconds_per_ms = 1e-3;

// Longest first, so "ms" is tried before "m" and "min" before "m".
constexpr std::array runtime_suffixes{
    unit_suffix{"min", seconds_per_minute}, unit_suffix{"ms", seconds_per_ms}, unit_suffix{"s", 1.0},
    unit_suffix{"m", seconds_per_minute},   unit_suffix{"h", seconds_per_hour},
};

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (to_lower(a[i]) != to_lower(b[i])) {
            return false;
        }
    }
    return true;
}

template <typename T>
std::optional<T> parse_unsigned(std::string_view text)
{
    T value{};
    if (text.empty() || text.front() == '+' || text.front() == '-') {
        return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<double> parse_duration(std::string_view text)
{
    double scale = 1.0;
    for (const auto &unit : runtime_suffixes) {
        if (text.size() > unit.suffix.size() && iequals(text.substr(text.size() - unit.suffix.size()), unit.suffix)) {
            scale = unit.seconds;
            text.remove_suffix(unit.suffix.size());
            break;
        }
    }
    if (text.empty() || text.front() == '+' || text.front() == '-') {
        return std::nullopt;
    }
    double value = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
        return std::nullopt;
    }
    return value * scale;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// A 0 or 1 switch; nullopt for anything else.
std::optional<bool> parse_switch(std::string_view value)
{
    if (value == "0") {
        return false;
    }
    if (value == "1") {
        return true;
    }
    return std::nullopt;
}

// A count in [min, max]; an error message (naming the option) otherwise.
std::optional<std::string> parse_count(std::string_view value, std::uint32_t min, std::uint32_t max,
                                       const std::string &where, std::uint32_t &out)
{
    const auto number = parse_unsigned<std::uint32_t>(value);
    if (!number) {
        return where + ": not a number";
    }
    if (*number < min) {
        return where + ": must be at least " + std::to_string(min);
    }
    if (*number > max) {
        return where + ": at most " + std::to_string(max);
    }
    out = *number;
    return std::nullopt;
}

std::optional<std::string> apply_backend(bench_options &opts, std::string_view value, const std::string &where)
{
    opts.backends.clear();
    if (value == "all") {
        opts.selection = backend_selection::all;
        return std::nullopt;
    }
    if (value == "auto") {
        opts.selection = backend_selection::auto_;
        return std::nullopt;
    }
    opts.selection = backend_selection::named;
    std::string_view rest = value;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        const auto backend = backend_from_name(name);
        if (!backend) {
            return where + ": unknown backend " + quoted(name) +
                   " (expected auto, all, io_uring, linux_aio, posix_aio or thread_pool; several may be "
                   "joined with commas)";
        }
        for (const auto seen : opts.backends) {
            if (seen == *backend) {
                return where + ": backend " + quoted(name) + " is named twice";
            }
        }
        opts.backends.push_back(*backend);
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    return std::nullopt;
}

// Applies one option's value; returns an error message, or nullopt when it was fine.
std::optional<std::string> apply(bench_options &opts, const option_spec &spec, std::string_view value)
{
    const std::string where = "--" + std::string(spec.name) + "=" + std::string(value);
    const auto set_switch = [&](bool &field, bool invert = false) -> std::optional<std::string> {
        const auto on = parse_switch(value);
        if (!on) {
            return where + ": expected 0 or 1";
        }
        field = *on != invert;
        return std::nullopt;
    };
    switch (spec.id) {
    case option_id::backend:
        return apply_backend(opts, value, where);
    case option_id::rw:
        for (const auto &entry : rw_names) {
            if (entry.name == value) {
                opts.rw = entry.rw;
                return std::nullopt;
            }
        }
        return where + ": unknown workload (expected read, write, randread, randwrite, rw or randrw)";
    case option_id::rwmixread:
    case option_id::rwmixwrite: {
        std::uint32_t percent = 0;
        if (auto error = parse_count(value, 0, limits::max_percent, where, percent)) {
            return error;
        }
        opts.rwmixread = spec.id == option_id::rwmixread ? percent : limits::max_percent - percent;
        return std::nullopt;
    }
    case option_id::bs:
    case option_id::size: {
        const auto bytes = parse_size(value);
        if (!bytes) {
            return where + ": not a size (expected a number with an optional k, m, g or t suffix, base 1024)";
        }
        if (*bytes == 0) {
            return where + ": must be greater than 0";
        }
        if (spec.id == option_id::bs) {
            opts.block_size = *bytes;
        } else {
            opts.size = *bytes;
            opts.size_given = true;
        }
        return std::nullopt;
    }
    case option_id::iodepth:
        return parse_count(value, 1, limits::max_iodepth, where, opts.iodepth);
    case option_id::numjobs:
        return parse_count(value, 1, limits::max_numjobs, where, opts.numjobs);
    case option_id::runtime: {
        const auto seconds = parse_duration(value);
        if (!seconds) {
            return where + ": not a duration (expected seconds, e.g. 5, 2.5, 500ms, 1m)";
        }
        if (*seconds > limits::max_runtime_s) {
            return where + ": too long";
        }
        opts.runtime_s = *seconds;
        opts.runtime_given = true;
        return std::nullopt;
    }
    case option_id::time_based: {
        bool ignored = false;  // runs are time-based whenever --runtime is not 0
        return set_switch(ignored);
    }
    case option_id::filename:
        if (value.empty()) {
            return "--filename: needs a path";
        }
        opts.filename = std::string(value);
        return std::nullopt;
    case option_id::direct:
        return set_switch(opts.direct);
    case option_id::invalidate:
        return set_switch(opts.invalidate);
    case option_id::fsync:
        return parse_count(value, 0, std::numeric_limits<std::uint32_t>::max(), where, opts.fsync_every);
    case option_id::batch_submit:
        return parse_count(value, 0, limits::max_iodepth, where, opts.batch_submit);
    case option_id::batch_complete_min: {
        std::uint32_t min = 0;
        if (auto error = parse_count(value, 0, limits::max_iodepth, where, min)) {
            return error;
        }
        opts.batch_complete_min = std::max<std::uint32_t>(min, 1);  // fio's 0 (poll) waits for one here
        return std::nullopt;
    }
    case option_id::batch_complete_max:
        return parse_count(value, 0, limits::max_iodepth, where, opts.batch_complete_max);
    case option_id::verify:
        return set_switch(opts.verify);
    case option_id::fixedbufs:
        return set_switch(opts.fixed_buffers);
    case option_id::no_fixedbufs:
        opts.fixed_buffers = false;
        return std::nullopt;
    case option_id::registerfiles:
        return set_switch(opts.register_files);
    case option_id::no_registerfiles:
        opts.register_files = false;
        return std::nullopt;
    case option_id::sqthread_poll:
        return set_switch(opts.sqthread_poll);
    case option_id::lib_latency:
        return set_switch(opts.lib_latency);
    case option_id::threads:
        return parse_count(value, 0, limits::max_threads, where, opts.threads);
    case option_id::norandommap:
        return set_switch(opts.random_map, true);
    case option_id::output_format:
        if (value == "normal") {
            opts.format = output_format::normal;
            return std::nullopt;
        }
        if (value == "json") {
            opts.format = output_format::json;
            return std::nullopt;
        }
        return where + ": expected normal or json";
    case option_id::output:
    case option_id::report:
        if (value.empty()) {
            return "--" + std::string(spec.name) + ": needs a file name";
        }
        (spec.id == option_id::output ? opts.output_path : opts.report_path) = std::string(value);
        return std::nullopt;
    }
    return where + ": unhandled option";
}

// Checks that hold between options; an error message, or nullopt.
std::optional<std::string> validate(const bench_options &opts)
{
    if (opts.block_size > limits::max_block_size) {
        return "--bs=" + format_size(opts.block_size) + ": at most " + format_size(limits::max_block_size);
    }
    if (opts.direct && opts.block_size % limits::direct_granule != 0) {
        return "--bs=" + format_size(opts.block_size) + " with --direct=1: must be a multiple of " +
               std::to_string(limits::direct_granule);
    }
    if (opts.size_given && opts.size < opts.block_size) {
        return "--size=" + format_size(opts.size) + " is smaller than --bs=" + format_size(opts.block_size);
    }
    if (opts.block_size * opts.iodepth * opts.numjobs > limits::max_buffer_bytes) {
        return "--bs=" + format_size(opts.block_size) + " x --iodepth=" + std::to_string(opts.iodepth) +
               " x --numjobs=" + std::to_string(opts.numjobs) + " needs more than " +
               format_bytes(limits::max_buffer_bytes) + " of buffers";
    }
    if (opts.batch_submit > opts.iodepth) {
        return "--iodepth_batch_submit=" + std::to_string(opts.batch_submit) + " is more than --iodepth=" +
               std::to_string(opts.iodepth);
    }
    if (opts.batch_complete_min > opts.iodepth) {
        return "--iodepth_batch_complete_min=" + std::to_string(opts.batch_complete_min) +
               " is more than --iodepth=" + std::to_string(opts.iodepth);
    }
    if (opts.batch_complete_max > opts.iodepth) {
        return "--iodepth_batch_complete_max=" + std::to_string(opts.batch_complete_max) +
               " is more than --iodepth=" + std::to_string(opts.iodepth);
    }
    if (opts.batch_complete_max != 0 && opts.batch_complete_max < opts.complete_min()) {
        return "--iodepth_batch_complete_max=" + std::to_string(opts.batch_complete_max) +
               " is less than --iodepth_batch_complete_min=" + std::to_string(opts.complete_min()) +
               (opts.batch_complete_min == 0 ? " (its default, iodepth/4)" : "");
    }
    if (opts.verify && opts.block_size < verify_header_bytes) {
        return "--bs=" + format_size(opts.block_size) + " with --verify: each block must hold the " +
               std::to_string(verify_header_bytes) + "-byte verify header";
    }
    if (opts.report_path.empty() && opts.output_path.empty()) {
        return std::nullopt;
    }
    if (opts.report_path == opts.output_path) {
        return "--output and --report name the same file " + quoted(opts.report_path);
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text)
{
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        ++digits;
    }
    const auto number = parse_unsigned<std::uint64_t>(text.substr(0, digits));
    if (!number) {
        return std::nullopt;
    }
    std::string_view suffix = text.substr(digits);
    unsigned shift = 0;
    if (!suffix.empty()) {
        constexpr std::string_view prefixes = "kmgt";
        const auto pos = prefixes.find(to_lower(suffix.front()));
        if (pos != std::string_view::npos) {
            shift = static_cast<unsigned>(pos + 1) * 10;
            suffix.remove_prefix(1);
            if (iequals(suffix, "ib")) {
                suffix.remove_prefix(2);
            }
        }
        if (iequals(suffix, "b")) {
            suffix.remove_prefix(1);
        }
        if (!suffix.empty()) {
            return std::nullopt;
        }
    }
    if (shift != 0 && *number > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
        return std::nullopt;
    }
    return *number << shift;
}

std::string format_size(std::uint64_t bytes)
{
    constexpr std::array units{'k', 'm', 'g', 't'};
    char unit = '\0';
    for (const char u : units) {
        if (bytes == 0 || bytes % kib != 0) {
            break;
        }
        bytes /= kib;
        unit = u;
    }
    std::string text = std::to_string(bytes);
    if (unit != '\0') {
        text.push_back(unit);
    }
    return text;
}

std::string format_bytes(std::uint64_t bytes)
{
    constexpr std::array units{"bytes", "KiB", "MiB", "GiB", "TiB"};
    std::size_t unit = 0;
    while (bytes != 0 && bytes % kib == 0 && unit + 1 < units.size()) {
        bytes /= kib;
        ++unit;
    }
    return std::to_string(bytes) + " " + units[unit];
}

std::string_view rw_name(rw_mode rw)
{
    for (const auto &entry : rw_names) {
        if (entry.rw == rw) {
            return entry.name;
        }
    }
    return "?";
}

bool rw_is_random(rw_mode rw)
{
    return rw == rw_mode::randread || rw == rw_mode::randwrite || rw == rw_mode::randrw;
}
bool rw_is_write(rw_mode rw) { return rw == rw_mode::write || rw == rw_mode::randwrite; }
bool rw_is_mixed(rw_mode rw) { return rw == rw_mode::rw || rw == rw_mode::randrw; }
bool rw_reads(rw_mode rw) { return !rw_is_write(rw); }
bool rw_writes(rw_mode rw) { return rw_is_write(rw) || rw_is_mixed(rw); }

std::uint32_t bench_options::complete_min() const
{
    return batch_complete_min != 0 ? batch_complete_min : std::max<std::uint32_t>(1, iodepth / complete_min_divisor);
}

// The fast default, measured per backend (docs/PERFORMANCE.md "Session 6" and "Session 7").
// io_uring serves page-cache I/O inside the submit, so taking every completion and refilling the
// queue in one call saves system calls (+13-30% on cached randread, +11-37% on cached randwrite).
// Every other backend hands the I/O to threads (its own workers, Linux AIO's buffered-write lane,
// glibc's), and a wait that empties the queue leaves them nothing to do until the refill: they
// sleep and are woken again: with the min, cached randrw runs 1.4-1.7x faster on thread_pool and
// linux_aio with a third of the context switches. A device that finishes a kicked batch together
// idles the same way, so O_DIRECT takes the min on every backend, as fio does (+25% on direct
// randwrite QD32).
std::uint32_t bench_options::complete_max(fileaio_backend backend) const
{
    if (batch_complete_max != 0) {
        return batch_complete_max;
    }
    return !direct && backend == FILEAIO_BACKEND_IO_URING ? iodepth : complete_min();
}

std::optional<double> parse_seconds(std::string_view text) { return parse_duration(text); }

std::optional<fileaio_backend> backend_from_name(std::string_view name)
{
    for (const auto &entry : backend_names) {
        if (entry.name == name) {
            return entry.backend;
        }
    }
    return std::nullopt;
}

parse_result parse_bench_options(std::span<const std::string_view> args)
{
    bench_options opts;
    if (args.empty()) {
        opts.no_arguments = true;
        opts.invalidate = false;  // make bench measures the library's own cost: page-cached reads
        return opts;
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "--help" || arg == "-h") {
            return help_requested{};
        }
        if (!arg.starts_with(option_prefix) || arg.size() == option_prefix.size()) {
            return parse_error{"unexpected argument " + quoted(arg) + " (options look like --bs=4k)"};
        }
        std::string_view name = arg.substr(option_prefix.size());
        std::optional<std::string_view> value;
        if (const auto eq = name.find('='); eq != std::string_view::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const option_spec *spec = nullptr;
        for (const auto &candidate : option_specs) {
            if (candidate.name == name) {
                spec = &candidate;
                break;
            }
        }
        if (spec == nullptr) {
            return parse_error{"unknown option --" + std::string(name) + " (see fileaio bench --help)"};
        }
        if (spec->kind == value_kind::none && value) {
            return parse_error{"option --" + std::string(name) + " takes no value"};
        }
        if (!value) {
            const bool next_is_value = i + 1 < args.size() && !args[i + 1].starts_with('-');
            if (spec->kind == value_kind::none || (spec->kind == value_kind::optional && !next_is_value)) {
                value = spec->implicit_value;
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                return parse_error{"option --" + std::string(name) + " needs a value"};
            }
        }
        if (auto error = apply(opts, *spec, *value)) {
            return parse_error{std::move(*error)};
        }
    }
    if (auto error = validate(opts)) {
        return parse_error{std::move(*error)};
    }
    return opts;
}

std::string_view bench_usage()
{
    return R"(usage: fileaio bench [--option=value ...]

Runs an I/O workload on each chosen backend, one after the other, and prints a table (or
JSON) and which backend won. Options have fio's names and meanings; `--name value` works as
well as `--name=value`.

Workload
  --rw=W               randread (default), read, randwrite, write, randrw, rw (readwrite)
  --rwmixread=P        percent of reads in rw/randrw, default 50 (--rwmixwrite=P: 100-P)
  --bs=N               block size, default 4k (k/m/g/t suffixes, base 1024)
  --iodepth=N          requests in flight per job, default 32
  --numjobs=N          jobs (threads) per backend, default 1; each has its own file
                       descriptor, context, requests and buffers; their results are added up
  --size=N             bytes of the file to use, default 256m (an existing --filename is
                       used whole when --size is not given)
  --runtime=T          seconds per backend, default 3 (also 500ms, 1m); the workload loops
                       over the file until then; 0 = one pass of size/bs I/Os per job
                       (--time_based is accepted and changes nothing)
  --filename=PATH      file or block device; default a temporary file in $TMPDIR or /tmp,
                       written first and deleted afterwards. A new or short file is written
                       out to --size before the run
  --direct[=0|1]       O_DIRECT (bs must suit the file's O_DIRECT alignment: fileaio info PATH)
  --invalidate[=0|1]   drop the file's page cache (fsync, then POSIX_FADV_DONTNEED) before
                       each backend, default 1 as in fio: buffered reads then come from the
                       device. For page-cached reads give --invalidate=0 (the file is then
                       read once into the cache before the first backend)
  --fsync=N            a flush request after every N writes, per job (0 = never, default)
  --norandommap[=0|1]  random offsets drawn independently, as fio's --norandommap: some
                       blocks come twice in a pass over the file, others not at all. By
                       default, as in fio, random I/O visits every block exactly once per
                       pass (size/bs I/Os), in a new order each pass
  --verify[=0|1]       writes put the offset, a generation and a checksum in every block;
                       reads check them. A bad block fails the run (exit 1) and names its
                       offset. Write with --verify first (a new file is laid out verifiable),
                       then read with --verify and the same --bs

Submission (the defaults are the fast settings)
  --iodepth_batch_submit=N        at most N requests per submit call (0 = every free one,
                                  the default)
  --iodepth_batch_complete_min=N  wait until N requests completed (default iodepth/4, at
                                  least 1; 0 is taken as 1)
  --iodepth_batch_complete_max=N  take at most N completions per wait, then submit again
                                  (default: the min, as fio; every one, iodepth, for io_uring
                                  without --direct; 0 = the default; below the min: refused)
  --no-fixedbufs       do not register the buffers (fileaio_ctx_register_buffers); io_uring
                       uses fixed buffers by default (also --fixedbufs=0|1)
  --no-registerfiles   do not associate the file (fileaio_ctx_associate_with_file); io_uring
                       registers it by default (also --registerfiles=0|1)
  --sqthread_poll[=0|1]  io_uring: a kernel thread polls the submission queue (burns a CPU);
                       other backends ignore it
  --threads=N          worker threads for backends that have them (0 = their default)

Backends and output
  --backend=B          all (default): every available backend in turn; auto: what the
                       library picks (honours FILEAIO_BACKEND); or io_uring, linux_aio,
                       posix_aio, thread_pool, several joined with commas
  --output-format=F    normal (default: the table) or json (fio-like, one job per backend)
  --output=FILE        write the table or JSON to FILE instead of stdout
  --report=FILE.html   also write a self-contained HTML page: IOPS over time and latency
                       percentile curves per backend, IOPS and IOPS per CPU-second
  --lib_latency[=0|1]  take the latency figures from the library's own histogram
                       (FILEAIO_CTX_LATENCY, fileaio_ctx_get_latency_buckets) instead of
                       timing requests in the bench; it counts failed requests too

With no options at all (what `make bench` runs): every available backend, randread, bs 4k,
iodepth 32, on a 256 MiB temporary file in the page cache (that run alone sets
--invalidate=0), 3 s each; then the table and the winner.

Environment: FILEAIO_BENCH_SECONDS=T replaces the default runtime of 3 s when --runtime is
not given (the tests use it for a short run). While it runs, a progress line is kept on
stderr when stderr is a terminal.

Exit status: 0 ok, 1 a backend, an I/O or --verify failed (what was measured is still
printed), 2 bad options, 130 interrupted.
)";
}

}  // namespace fileaio::cli
