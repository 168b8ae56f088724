#include "report.hpp"

#include "util.hpp"

#include <cmath>
#include <cstdio>
#include <string_view>
#include <utility>

namespace fileaio::cli {
namespace {

constexpr double bytes_per_mib = static_cast<double>(mib);
constexpr double us_below_two_decimals = 10.0;   // latencies under 10 µs get two decimals
constexpr double us_below_one_decimal = 1000.0;  // under 1 ms one, above none
constexpr int json_indent = 2;

// The percentiles every report gives, in the order and with the names JSON uses.
struct percentile_point {
    const char *name;
    double percent;
};
constexpr percentile_point json_percentiles[] = {{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99.9", 99.9}};

double finite_or_zero(double x) { return std::isfinite(x) ? x : 0.0; }

// A minimal pretty-printing JSON writer: objects, arrays, numbers and strings.
class json_writer {
public:
    void begin_object(std::string_view key = {}) { open(key, '{'); }
    void end_object() { close('}'); }
    void begin_array(std::string_view key) { open(key, '['); }
    void end_array() { close(']'); }

    void field(std::string_view key, std::string_view value)
    {
        key_prefix(key);
        quote(value);
    }
    void field(std::string_view key, const char *value) { field(key, std::string_view(value)); }
    void field(std::string_view key, std::uint64_t value)
    {
        key_prefix(key);
        append(out_, "%llu", static_cast<unsigned long long>(value));
    }
    void field(std::string_view key, std::uint32_t value) { field(key, std::uint64_t{value}); }
    void field(std::string_view key, bool value)
    {
        key_prefix(key);
        out_ += value ? "true" : "false";
    }
    void field(std::string_view key, double value)
    {
        key_prefix(key);
        append(out_, "%.6f", finite_or_zero(value));
    }

    [[nodiscard]] std::string take()
    {
        out_.push_back('\n');
        return std::move(out_);
    }

private:
    void open(std::string_view key, char bracket)
    {
        key_prefix(key);
        out_.push_back(bracket);
        ++depth_;
        first_ = true;
    }
    void close(char bracket)
    {
        --depth_;
        if (!first_) {
            newline();
        }
        out_.push_back(bracket);
        first_ = false;
    }
    void key_prefix(std::string_view key)
    {
        if (depth_ > 0) {
            if (!first_) {
                out_.push_back(',');
            }
            newline();
        }
        first_ = false;
        if (!key.empty()) {
            quote(key);
            out_ += ": ";
        }
    }
    void newline()
    {
        out_.push_back('\n');
        out_.append(static_cast<std::size_t>(depth_ * json_indent), ' ');
    }
    void quote(std::string_view text)
    {
        out_.push_back('"');
        for (const char c : text) {
            switch (c) {
            case '"': out_ += "\\\""; break;
            case '\\': out_ += "\\\\"; break;
            case '\n': out_ += "\\n"; break;
            case '\t': out_ += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    append(out_, "\\u%04x", static_cast<unsigned>(c));
                } else {
                    out_.push_back(c);
                }
            }
        }
        out_.push_back('"');
    }

    std::string out_;
    int depth_ = 0;
    bool first_ = true;
};

void write_direction(json_writer &json, std::string_view key, const direction_result &dir, double elapsed_s)
{
    json.begin_object(key);
    json.field("ios", dir.ios);
    json.field("io_bytes", dir.io_bytes);
    json.field("iops", elapsed_s > 0 ? static_cast<double>(dir.ios) / elapsed_s : 0.0);
    json.field("bw_bytes", elapsed_s > 0 ? static_cast<double>(dir.io_bytes) / elapsed_s : 0.0);
    json.begin_object("lat_ns");
    json.field("min", dir.latency_ns.min());
    json.field("mean", dir.latency_ns.mean());
    for (const auto &point : json_percentiles) {
        json.field(point.name, dir.latency_ns.percentile(point.percent));
    }
    json.field("max", dir.latency_ns.max());
    json.end_object();
    json.end_object();
}

}  // namespace

std::string latency_us(std::uint64_t ns)
{
    const double us = static_cast<double>(ns) / static_cast<double>(ns_per_us);
    std::string text;
    if (us < us_below_two_decimals) {
        append(text, "%.2f", us);
    } else if (us < us_below_one_decimal) {
        append(text, "%.1f", us);
    } else {
        append(text, "%.0f", us);
    }
    return text;
}

bool ran_cleanly(const job_result &job)
{
    return job.failure.empty() && job.errors == 0 && !job.interrupted && job.total_ios() > 0;
}

histogram job_latency(const job_result &job)
{
    histogram all = job.read.latency_ns;
    all.merge(job.write.latency_ns);
    return all;
}

std::optional<std::size_t> winner_index(std::span<const job_result> jobs)
{
    std::optional<std::size_t> best;
    std::size_t clean = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (!ran_cleanly(jobs[i])) {
            continue;
        }
        ++clean;
        if (!best || jobs[i].iops() > jobs[*best].iops()) {
            best = i;
        }
    }
    return clean >= 2 ? best : std::nullopt;
}

namespace {

constexpr const char *table_header_format = "%-12s %-9s %5s %7s %4s %10s %9s %9s %9s %9s %9s %7s %7s %11s\n";
constexpr const char *table_lead_format = "%-12s %-9s %5s %7s %4s ";
constexpr const char *table_figures_format = "%10.0f %9.1f %9s %9s %9s %9s";

// IOPS, MiB/s and the latency columns of one direction (or of the whole job).
void append_figures(std::string &out, double ios, double bytes, double elapsed_s, const histogram &lat)
{
    const double iops = elapsed_s > 0 ? ios / elapsed_s : 0.0;
    const double mib_s = elapsed_s > 0 ? bytes / elapsed_s / bytes_per_mib : 0.0;
    append(out, table_figures_format, iops, mib_s, latency_us(lat.percentile(50.0)).c_str(),
           latency_us(lat.percentile(99.0)).c_str(), latency_us(lat.percentile(99.9)).c_str(),
           latency_us(lat.max()).c_str());
}

// A sub-row of a job: "  read", "  write" or "  flush", under the job's own row.
void append_direction_row(std::string &out, const char *name, const direction_result &dir, double elapsed_s)
{
    append(out, table_lead_format, "", name, "", "", "");
    std::string row;
    append_figures(row, static_cast<double>(dir.ios), static_cast<double>(dir.io_bytes), elapsed_s, dir.latency_ns);
    constexpr std::size_t iops_width = 10;
    constexpr std::size_t bandwidth_width = 9;
    if (dir.io_bytes == 0 && dir.ios > 0) {  // flushes: no bandwidth
        row.replace(iops_width + 1, bandwidth_width, std::string(bandwidth_width - 1, ' ') + "-");
    }
    out += row;
    out += "\n";
}

}  // namespace

std::string format_table(std::span<const job_result> jobs)
{
    std::string out;
    append(out, table_header_format, "backend", "rw", "bs", "iodepth", "jobs", "IOPS", "MiB/s", "p50 us", "p99 us",
           "p99.9 us", "max us", "usr s", "sys s", "IOPS/CPU-s");
    for (const auto &job : jobs) {
        const std::string bs = format_size(job.block_size);
        const std::string rw = std::string(rw_name(job.rw)) + (job.direct ? "+d" : "");
        const std::string iodepth = std::to_string(job.iodepth);
        const std::string numjobs = std::to_string(job.numjobs);
        append(out, table_lead_format, fileaio_backend_name(job.backend), rw.c_str(), bs.c_str(), iodepth.c_str(),
               numjobs.c_str());
        if (job.total_ios() == 0) {
            append(out, "failed: %s\n", job.failure.empty() ? "no I/O completed" : job.failure.c_str());
            continue;
        }
        append_figures(out, static_cast<double>(job.total_ios()), static_cast<double>(job.total_bytes()),
                       job.elapsed_s, job_latency(job));
        append(out, " %7.2f %7.2f %11.0f\n", job.usr_s, job.sys_s, job.iops_per_cpu_s());
        if (rw_is_mixed(job.rw)) {
            append_direction_row(out, "  read", job.read, job.elapsed_s);
            append_direction_row(out, "  write", job.write, job.elapsed_s);
        }
        if (job.fsync_every != 0 && job.sync.ios > 0) {
            append_direction_row(out, "  flush", job.sync, job.elapsed_s);
        }
    }

    bool any_direct = false;
    bool any_mixed = false;
    for (const auto &job : jobs) {
        any_direct = any_direct || job.direct;
        any_mixed = any_mixed || rw_is_mixed(job.rw);
        const char *name = fileaio_backend_name(job.backend);
        if (job.errors > 0) {
            append(out, "%s: %llu %s, first: %s\n", name, static_cast<unsigned long long>(job.errors),
                   job.errors == 1 ? "error" : "errors", job.first_error_text.c_str());
        }
        if (!job.failure.empty() && job.total_ios() > 0 && job.failure != job.first_error_text) {
            append(out, "%s: stopped early: %s\n", name, job.failure.c_str());
        }
        if (job.interrupted) {
            append(out, "%s: interrupted after %.2f s\n", name, job.elapsed_s);
        }
    }
    if (any_direct) {
        out += "(+d: O_DIRECT)\n";
    }
    if (any_mixed && !jobs.empty()) {
        append(out, "(%s: %u%% reads; the first row of a job is reads and writes together, its CPU is for both)\n",
               std::string(rw_name(jobs.front().rw)).c_str(), jobs.front().rwmixread);
    }

    if (const auto win = winner_index(jobs)) {
        const job_result &best = jobs[*win];
        std::optional<std::size_t> runner_up;
        std::optional<std::size_t> most_efficient;
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            if (!ran_cleanly(jobs[i])) {
                continue;
            }
            if (i != *win && (!runner_up || jobs[i].iops() > jobs[*runner_up].iops())) {
                runner_up = i;
            }
            if (!most_efficient || jobs[i].iops_per_cpu_s() > jobs[*most_efficient].iops_per_cpu_s()) {
                most_efficient = i;
            }
        }
        append(out, "winner: %s", fileaio_backend_name(best.backend));
        if (runner_up && jobs[*runner_up].iops() > 0) {
            append(out, " (%.2fx the IOPS of %s)", best.iops() / jobs[*runner_up].iops(),
                   fileaio_backend_name(jobs[*runner_up].backend));
        }
        out += "\n";
        if (most_efficient && *most_efficient != *win) {
            append(out, "most IOPS per CPU-second: %s\n", fileaio_backend_name(jobs[*most_efficient].backend));
        }
    }
    return out;
}

namespace {

// The FILEAIO_CTX_* flags as names joined by ',' ("" for none): JSON readers (and the tests) see
// which of the library's paths a run measured, e.g. io_uring's single-thread ring.
std::string context_flag_names(std::uint32_t flags)
{
    static constexpr std::pair<std::uint32_t, const char *> names[] = {
        {FILEAIO_CTX_WAIT_WITHOUT_PENDING, "wait_without_pending"},
        {FILEAIO_CTX_SINGLE_THREAD, "single_thread"},
        {FILEAIO_CTX_LATENCY, "latency"}};
    std::string out;
    for (const auto &[bit, name] : names) {
        if ((flags & bit) == 0) {
            continue;
        }
        if (!out.empty()) {
            out += ',';
        }
        out += name;
    }
    return out;
}

}  // namespace

std::string format_json(std::span<const job_result> jobs)
{
    json_writer json;
    json.begin_object();
    json.field("fileaio_version", fileaio_version());  // the library that measured, not the header
    json.begin_array("jobs");
    for (const auto &job : jobs) {
        json.begin_object();
        json.field("backend", fileaio_backend_name(job.backend));
        json.field("context_flags", context_flag_names(job.ctx_flags));
        json.field("rw", rw_name(job.rw));
        json.field("bs", job.block_size);
        json.field("iodepth", job.iodepth);
        json.field("iodepth_batch_complete_min", job.complete_min);
        json.field("iodepth_batch_complete_max", job.complete_max);
        json.field("numjobs", job.numjobs);
        json.field("direct", std::uint64_t{job.direct ? 1u : 0u});
        json.field("runtime_s", job.elapsed_s);
        write_direction(json, "read", job.read, job.elapsed_s);
        write_direction(json, "write", job.write, job.elapsed_s);
        if (job.fsync_every != 0) {
            write_direction(json, "sync", job.sync, job.elapsed_s);
        }
        json.begin_object("cpu");
        json.field("usr_s", job.usr_s);
        json.field("sys_s", job.sys_s);
        json.end_object();
        json.field("iops_per_cpu_s", job.iops_per_cpu_s());
        json.field("errors", job.errors);
        if (job.errors > 0) {
            json.field("first_error", job.first_error_text);
        }
        if (!job.failure.empty()) {
            json.field("failure", job.failure);
        }
        if (job.interrupted) {
            json.field("interrupted", true);
        }
        json.end_object();
    }
    json.end_array();
    json.end_object();
    return json.take();
}

}  // namespace fileaio::cli
