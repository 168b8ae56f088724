#include "options.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace fileaio::cli {
namespace {

constexpr std::string_view option_prefix = "--";

enum class option_id { backend, rw, bs, iodepth, size, runtime, filename, direct, threads, output_format };

struct option_spec {
    std::string_view name;
    option_id id;
    std::optional<std::string_view> implicit_value;  // the value of a bare `--name`, if it may be bare
};

constexpr std::array option_specs{
    option_spec{"backend", option_id::backend, std::nullopt},
    option_spec{"rw", option_id::rw, std::nullopt},
    option_spec{"readwrite", option_id::rw, std::nullopt},  // fio's long spelling
    option_spec{"bs", option_id::bs, std::nullopt},
    option_spec{"blocksize", option_id::bs, std::nullopt},
    option_spec{"iodepth", option_id::iodepth, std::nullopt},
    option_spec{"size", option_id::size, std::nullopt},
    option_spec{"runtime", option_id::runtime, std::nullopt},
    option_spec{"filename", option_id::filename, std::nullopt},
    option_spec{"direct", option_id::direct, std::string_view{"1"}},
    option_spec{"threads", option_id::threads, std::nullopt},
    option_spec{"output-format", option_id::output_format, std::nullopt},
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

std::optional<double> parse_seconds(std::string_view text)
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

// Applies one option's value; returns an error message, or nullopt when it was fine.
std::optional<std::string> apply(bench_options &opts, const option_spec &spec, std::string_view value)
{
    const std::string where = "--" + std::string(spec.name) + "=" + std::string(value);
    switch (spec.id) {
    case option_id::backend: {
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
    case option_id::rw:
        for (const auto &entry : rw_names) {
            if (entry.name == value) {
                opts.rw = entry.rw;
                return std::nullopt;
            }
        }
        return where + ": unknown workload (expected read, write, randread or randwrite)";
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
    case option_id::iodepth: {
        const auto depth = parse_unsigned<std::uint32_t>(value);
        if (!depth) {
            return where + ": not a number";
        }
        if (*depth == 0) {
            return where + ": must be at least 1";
        }
        if (*depth > limits::max_iodepth) {
            return where + ": at most " + std::to_string(limits::max_iodepth);
        }
        opts.iodepth = *depth;
        return std::nullopt;
    }
    case option_id::runtime: {
        const auto seconds = parse_seconds(value);
        if (!seconds) {
            return where + ": not a duration (expected seconds, e.g. 5, 2.5, 500ms, 1m)";
        }
        if (*seconds > limits::max_runtime_s) {
            return where + ": too long";
        }
        opts.runtime_s = *seconds;
        return std::nullopt;
    }
    case option_id::filename:
        if (value.empty()) {
            return "--filename: needs a path";
        }
        opts.filename = std::string(value);
        return std::nullopt;
    case option_id::direct:
        if (value == "0") {
            opts.direct = false;
            return std::nullopt;
        }
        if (value == "1") {
            opts.direct = true;
            return std::nullopt;
        }
        return where + ": expected 0 or 1";
    case option_id::threads: {
        const auto threads = parse_unsigned<std::uint32_t>(value);
        if (!threads) {
            return where + ": not a number";
        }
        if (*threads > limits::max_threads) {
            return where + ": at most " + std::to_string(limits::max_threads);
        }
        opts.threads = *threads;
        return std::nullopt;
    }
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
    if (opts.block_size * opts.iodepth > limits::max_buffer_bytes) {
        return "--bs=" + format_size(opts.block_size) + " x --iodepth=" + std::to_string(opts.iodepth) +
               " needs more than " + format_bytes(limits::max_buffer_bytes) + " of buffers";
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

bool rw_is_random(rw_mode rw) { return rw == rw_mode::randread || rw == rw_mode::randwrite; }
bool rw_is_write(rw_mode rw) { return rw == rw_mode::write || rw == rw_mode::randwrite; }

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
        if (!value) {
            const bool next_is_value = i + 1 < args.size() && !args[i + 1].starts_with('-');
            if (spec->implicit_value && !next_is_value) {
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

Runs an I/O workload on each chosen backend and prints a table (or JSON). Options have
fio's names; `--name value` works as well as `--name=value`.

  --backend=B        all (default): every available backend in turn; auto: what the
                     library picks (honours FILEAIO_BACKEND); or io_uring, linux_aio,
                     posix_aio, thread_pool, several joined with commas
  --rw=W             randread (default), read, randwrite, write
  --bs=N             block size, default 4k (k/m/g/t suffixes, base 1024)
  --iodepth=N        requests in flight, default 32
  --size=N           bytes of the file to use, default 256m (an existing --filename
                     is used whole when --size is not given)
  --runtime=T        seconds per backend, default 3 (also 500ms, 1m); the workload
                     loops over the file until then; 0 = one pass of size/bs I/Os
  --filename=PATH    file or block device to use; default a temporary file in $TMPDIR
                     or /tmp, written first and deleted afterwards
  --direct=0|1       O_DIRECT (bs must suit the file's O_DIRECT alignment)
  --threads=N        worker threads for backends that have them (0 = default)
  --output-format=F  normal (default) or json

With no options: every available backend, randread, bs 4k, iodepth 32, a 256 MiB
temporary file in the page cache, 3 s each; then the winner.

Exit status: 0 ok, 1 a backend or I/O failed, 2 bad options.
)";
}

}  // namespace fileaio::cli
