#include "html_report.hpp"

#include "report.hpp"
#include "util.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <sys/utsname.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace fileaio::cli {
namespace {

// Chart geometry, in SVG user units (the SVG scales to the page width).
constexpr double chart_width = 960.0;
constexpr double chart_height = 400.0;
constexpr double margin_left = 78.0;
constexpr double margin_right = 24.0;
constexpr double margin_top = 64.0;   // room for the legend
constexpr double margin_bottom = 56.0;
constexpr double legend_y = 30.0;
constexpr double legend_swatch = 22.0;
constexpr double tick_length = 5.0;
constexpr int linear_ticks = 5;  // about this many labelled ticks on a linear axis
constexpr double headroom = 1.08;  // the y axis goes a little above the highest point

// The latency curves: x is -log10(1 - p), so p90, p99, p99.9, p99.99 are evenly spaced.
constexpr double nines_max = 4.0;   // up to p99.99
constexpr double nines_step = 0.02;  // 201 points per curve
struct nines_tick {
    double x;
    const char *label;
};
constexpr nines_tick nines_ticks[] = {{0.0, "p0"},  {0.30103, "p50"}, {1.0, "p90"},
                                      {2.0, "p99"}, {3.0, "p99.9"},           {4.0, "p99.99"}};

constexpr double bar_chart_height_per_row = 34.0;
constexpr double bar_panel_gap = 40.0;
constexpr double bar_label_width = 100.0;
constexpr double bar_value_room = 86.0;

constexpr double ns_per_us_d = 1e3;

// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
struct backend_style {
    fileaio_backend backend;
    const char *color;
    const char *dash;  // a second cue besides the colour
};
constexpr backend_style backend_styles[] = {
    {FILEAIO_BACKEND_IO_URING, "#0072B2", ""},
    {FILEAIO_BACKEND_LINUX_AIO, "#E69F00", "8 4"},
    {FILEAIO_BACKEND_POSIX_AIO, "#009E73", "2 3"},
    {FILEAIO_BACKEND_THREAD_POOL, "#CC79A7", "10 3 2 3"},
};
constexpr const char *fallback_color = "#555555";

const backend_style &style_of(fileaio_backend backend)
{
    for (const auto &style : backend_styles) {
        if (style.backend == backend) {
            return style;
        }
    }
    static constexpr backend_style fallback{FILEAIO_BACKEND_AUTO, fallback_color, ""};
    return fallback;
}

// "950", "12.5k", "1.2M": short numbers for axes and labels.
std::string short_number(double value)
{
    std::string text;
    const double magnitude = std::fabs(value);
    constexpr double kilo = 1e3;
    constexpr double mega = 1e6;
    constexpr double giga = 1e9;
    // Three significant digits, without trailing zeros: 1.04M, 12.5k, 250k, 1M.
    const auto trimmed = [&](double v, const char *suffix) {
        append(text, v >= 100 ? "%.0f" : (v >= 10 ? "%.1f" : "%.2f"), v);
        if (text.find('.') != std::string::npos) {
            while (text.back() == '0') {
                text.pop_back();
            }
            if (text.back() == '.') {
                text.pop_back();
            }
        }
        text += suffix;
    };
    if (magnitude >= giga) {
        trimmed(value / giga, "G");
    } else if (magnitude >= mega) {
        trimmed(value / mega, "M");
    } else if (magnitude >= kilo) {
        trimmed(value / kilo, "k");
    } else {
        trimmed(value, "");
    }
    return text;
}

// "1,234,567" for tables.
std::string grouped(double value)
{
    if (!std::isfinite(value) || value < 0) {
        value = 0;
    }
    std::string digits = std::to_string(static_cast<unsigned long long>(std::llround(value)));
    for (auto at = static_cast<std::ptrdiff_t>(digits.size()) - 3; at > 0; at -= 3) {
        digits.insert(static_cast<std::size_t>(at), ",");
    }
    return digits;
}

// "250 ns", "83 µs", "1.2 ms": latency with its unit.
std::string latency_text(double ns)
{
    std::string text;
    if (ns < ns_per_us_d) {
        append(text, "%.0f ns", ns);
    } else if (ns < 1e6) {
        append(text, ns < 1e4 ? "%.1f µs" : "%.0f µs", ns / ns_per_us_d);
    } else if (ns < 1e9) {
        append(text, ns < 1e7 ? "%.1f ms" : "%.0f ms", ns / 1e6);
    } else {
        append(text, "%.2f s", ns / 1e9);
    }
    return text;
}

// A "nice" step (1, 2, 2.5 or 5 times a power of ten) for about `ticks` ticks up to max.
double nice_step(double max, int ticks)
{
    if (!(max > 0)) {
        return 1.0;
    }
    const double raw = max / ticks;
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (m * power >= raw) {
            return m * power;
        }
    }
    return 10.0 * power;
}

struct axis {
    double min = 0;
    double max = 1;
    bool log = false;  // log10 scale (min > 0)
};

struct plot_area {
    double left = margin_left;
    double top = margin_top;
    double width = chart_width - margin_left - margin_right;
    double height = chart_height - margin_top - margin_bottom;
};

double scale(const axis &a, double v)
{
    if (a.log) {
        const double lo = std::log10(a.min);
        const double hi = std::log10(a.max);
        return hi > lo ? (std::log10(std::max(v, a.min)) - lo) / (hi - lo) : 0.0;
    }
    return a.max > a.min ? (v - a.min) / (a.max - a.min) : 0.0;
}

double px(const plot_area &p, const axis &x, double v) { return p.left + scale(x, v) * p.width; }
double py(const plot_area &p, const axis &y, double v) { return p.top + p.height - scale(y, v) * p.height; }

struct series {
    fileaio_backend backend = FILEAIO_BACKEND_AUTO;
    std::string label;   // in the legend
    std::vector<std::pair<double, double>> points;
};

struct tick {
    double value;
    std::string label;
    bool major = true;  // minor ticks get a fainter grid line and no label
};

// max rounded up to the next nice step, with a little tolerance: a 3 s run whose last completion
// came at 3.004 s keeps a 0..3 s axis (the overshoot is under a pixel).
double round_up(double max)
{
    constexpr double tolerance = 0.02;  // of a step
    const double step = nice_step(max, linear_ticks);
    return std::ceil(max / step - tolerance) * step;
}

void svg_open(std::string &out, const char *chart, const char *title, double height)
{
    append(out,
           "<svg class=\"chart\" data-chart=\"%s\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
           "xmlns=\"http://www.w3.org/2000/svg\">\n<title>%s</title>\n",
           chart, chart_width, height, html_escape(title).c_str());
}

// Where each legend item goes: left to right, wrapping onto more rows when the chart is full.
struct legend_layout {
    std::vector<std::pair<double, double>> at;  // x, y of each item's swatch
    double extra_height = 0;                     // rows beyond the first push the plot down by this
};

legend_layout lay_out_legend(const std::vector<series> &lines)
{
    constexpr double char_width = 7.2;  // about, at the legend's font size
    constexpr double item_gap = 28.0;
    constexpr double row_height = 22.0;
    legend_layout layout;
    double x = margin_left;
    double y = legend_y;
    for (const auto &line : lines) {
        const double width = legend_swatch + 6 + static_cast<double>(line.label.size()) * char_width;
        if (x > margin_left && x + width > chart_width - margin_right) {
            x = margin_left;
            y += row_height;
        }
        layout.at.emplace_back(x, y);
        x += width + item_gap;
    }
    layout.extra_height = y - legend_y;
    return layout;
}

void draw_legend(std::string &out, const std::vector<series> &lines, const legend_layout &layout)
{
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto &line = lines[i];
        const auto [x, y] = layout.at[i];
        const backend_style &style = style_of(line.backend);
        append(out,
               "<g class=\"legend-item\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"3\" stroke-dasharray=\"%s\"/>",
               x, y, x + legend_swatch, y, style.color, style.dash);
        append(out, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">%s</text></g>\n", x + legend_swatch + 6, y + 4.5,
               html_escape(line.label).c_str());
    }
}

void draw_grid(std::string &out, const plot_area &p, const axis &x, const axis &y, const std::vector<tick> &xticks,
               const std::vector<tick> &yticks)
{
    for (const auto &t : yticks) {
        const double yy = py(p, y, t.value);
        append(out, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
               t.major ? "grid" : "grid minor", p.left, yy, p.left + p.width, yy);
        if (t.major) {
            append(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                   p.left - tick_length - 3, yy + 4, html_escape(t.label).c_str());
        }
    }
    for (const auto &t : xticks) {
        const double xx = px(p, x, t.value);
        append(out, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
               t.major ? "grid" : "grid minor", xx, p.top, xx, p.top + p.height);
        if (t.major) {
            append(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", xx,
                   p.top + p.height + tick_length + 14, html_escape(t.label).c_str());
        }
    }
    append(out, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", p.left, p.top,
           p.width, p.height);
}

void draw_axes(std::string &out, const plot_area &p, const axis &x, const axis &y, const std::vector<tick> &xticks,
               const std::vector<tick> &yticks, const char *xlabel, const char *ylabel)
{
    draw_grid(out, p, x, y, xticks, yticks);
    append(out, "<text class=\"axis-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
           p.left + p.width / 2, p.top + p.height + margin_bottom - 12, html_escape(xlabel).c_str());
    append(out,
           "<text class=\"axis-label\" transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
           p.top + p.height / 2, html_escape(ylabel).c_str());
}

void draw_series(std::string &out, const plot_area &p, const axis &x, const axis &y, const series &line)
{
    const backend_style &style = style_of(line.backend);
    append(out,
           "<polyline class=\"series\" data-backend=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" "
           "stroke-linejoin=\"round\" stroke-dasharray=\"%s\" points=\"",
           fileaio_backend_name(line.backend), style.color, style.dash);
    bool first = true;
    for (const auto &[vx, vy] : line.points) {
        append(out, first ? "%.1f,%.1f" : " %.1f,%.1f", px(p, x, vx), py(p, y, vy));
        first = false;
    }
    append(out, "\"><title>%s</title></polyline>\n", html_escape(line.label).c_str());
}

std::vector<tick> linear_ticks_for(const axis &a, const auto &format)
{
    std::vector<tick> ticks;
    const double step = nice_step(a.max - a.min, linear_ticks);
    for (double v = a.min; v <= a.max + step * 1e-9; v += step) {
        ticks.push_back({v, format(v)});
    }
    return ticks;
}

// IOPS per sample interval, at the end of each interval. The interval that holds the end of the
// run is cut at the last completion (the jobs were only draining then), or dropped when short.
std::vector<std::pair<double, double>> iops_points(const job_result &job)
{
    constexpr double shortest_tail = 0.25;  // of an interval
    std::vector<std::pair<double, double>> points;
    const auto end_ns = static_cast<std::uint64_t>(job.elapsed_s * static_cast<double>(ns_per_s));
    std::uint64_t prev_t = 0;
    std::uint64_t prev_ios = 0;
    for (const auto &sample : job.samples) {
        iops_sample s = sample;
        if (s.t_ns > end_ns) {
            if (prev_t >= end_ns ||
                static_cast<double>(end_ns - prev_t) < shortest_tail * static_cast<double>(sample_interval_ns)) {
                break;
            }
            s.t_ns = end_ns;
        }
        const std::uint64_t ios = s.reads + s.writes;
        if (s.t_ns > prev_t) {
            const double dt = static_cast<double>(s.t_ns - prev_t) / static_cast<double>(ns_per_s);
            points.emplace_back(static_cast<double>(s.t_ns) / static_cast<double>(ns_per_s),
                                static_cast<double>(ios - prev_ios) / dt);
        }
        prev_t = s.t_ns;
        prev_ios = ios;
    }
    return points;
}

std::string backend_label(const job_result &job) { return fileaio_backend_name(job.backend); }

void iops_chart(std::string &out, std::span<const job_result> jobs)
{
    std::vector<series> lines;
    double t_max = 0;
    double iops_max = 0;
    for (const auto &job : jobs) {
        series line{job.backend, backend_label(job) + "  " + short_number(job.iops()) + " IOPS", iops_points(job)};
        for (const auto &[t, v] : line.points) {
            t_max = std::max(t_max, t);
            iops_max = std::max(iops_max, v);
        }
        lines.push_back(std::move(line));
    }
    const legend_layout legend = lay_out_legend(lines);
    plot_area p;
    p.top += legend.extra_height;
    const axis x{0, round_up(t_max > 0 ? t_max : 1.0), false};
    const axis y{0, round_up(iops_max > 0 ? iops_max * headroom : 1.0), false};
    svg_open(out, "iops", "IOPS over time, per backend", chart_height + legend.extra_height);
    draw_legend(out, lines, legend);
    draw_axes(out, p, x, y, linear_ticks_for(x, [](double v) { return short_number(v); }),
              linear_ticks_for(y, [](double v) { return short_number(v); }), "time since the backend's start (s)",
              "IOPS (per 100 ms)");
    for (const auto &line : lines) {
        draw_series(out, p, x, y, line);
    }
    out += "</svg>\n";
}

// The latency curve of one histogram: p0 .. p99.99 on the "nines" axis.
std::vector<std::pair<double, double>> latency_points(const histogram &h)
{
    std::vector<std::pair<double, double>> points;
    if (h.count() == 0) {
        return points;
    }
    const auto steps = static_cast<int>(std::lround(nines_max / nines_step));
    for (int i = 0; i <= steps; ++i) {
        const double x = i * nines_step;
        const double pct = 100.0 * (1.0 - std::pow(10.0, -x));
        points.emplace_back(x, static_cast<double>(h.percentile(pct)));
    }
    return points;
}

void latency_chart(std::string &out, std::span<const job_result> jobs, const char *chart, const char *title,
                   const direction_result job_result::*direction)
{
    std::vector<series> lines;
    double lo = 0;
    double hi = 0;
    for (const auto &job : jobs) {
        const histogram h = direction != nullptr ? (job.*direction).latency_ns : job_latency(job);
        series line{job.backend, backend_label(job), latency_points(h)};
        if (h.count() > 0) {
            line.label += "  p50 " + latency_text(static_cast<double>(h.percentile(50))) + ", p99 " +
                          latency_text(static_cast<double>(h.percentile(99)));
        } else {
            line.label += "  (no data)";
        }
        for (const auto &[x, v] : line.points) {
            lo = lo == 0 ? v : std::min(lo, v);
            hi = std::max(hi, v);
        }
        lines.push_back(std::move(line));
    }
    axis y{1, 10, true};
    if (hi > 0) {
        y.min = std::pow(10.0, std::floor(std::log10(std::max(lo, 1.0))));
        y.max = std::pow(10.0, std::ceil(std::log10(hi * headroom)));
        if (y.max <= y.min) {
            y.max = y.min * 10;
        }
    }
    std::vector<tick> yticks;
    for (double decade = y.min; decade <= y.max * 1.0001; decade *= 10) {
        std::string label = latency_text(decade);
        if (const auto dot = label.find('.'); dot != std::string::npos) {
            label.erase(dot, label.find(' ') - dot);  // "1.0 ms" -> "1 ms", "1.00 s" -> "1 s" on decades
        }
        yticks.push_back({decade, label, true});
        for (const double m : {2.0, 5.0}) {
            if (decade * m < y.max) {
                yticks.push_back({decade * m, latency_text(decade * m), false});
            }
        }
    }
    std::vector<tick> xticks;
    for (const auto &t : nines_ticks) {
        xticks.push_back({t.x, t.label, true});
    }
    const legend_layout legend = lay_out_legend(lines);
    plot_area p;
    p.top += legend.extra_height;
    const axis x{0, nines_max, false};
    svg_open(out, chart, title, chart_height + legend.extra_height);
    draw_legend(out, lines, legend);
    draw_axes(out, p, x, y, xticks, yticks, "percentile (log scale of the tail: p90, p99, p99.9, p99.99 evenly spaced)",
              "latency, submit to completion (log)");
    for (const auto &line : lines) {
        if (!line.points.empty()) {
            draw_series(out, p, x, y, line);
        }
    }
    out += "</svg>\n";
}

// Two panels of horizontal bars: IOPS, and IOPS per CPU-second.
void bar_chart(std::string &out, std::span<const job_result> jobs)
{
    const double rows = static_cast<double>(std::max<std::size_t>(jobs.size(), 1));
    const double height = margin_top + rows * bar_chart_height_per_row + 16;
    svg_open(out, "bars", "IOPS and IOPS per CPU-second, per backend", height);
    const double panel_width = (chart_width - bar_panel_gap) / 2;
    constexpr const char *titles[] = {"IOPS", "IOPS per CPU-second (user + system, whole process)"};
    for (std::size_t k = 0; k < std::size(titles); ++k) {
        const bool per_cpu = k == 1;
        const auto value_of = [per_cpu](const job_result &job) { return per_cpu ? job.iops_per_cpu_s() : job.iops(); };
        const double left = static_cast<double>(k) * (panel_width + bar_panel_gap);
        double max = 0;
        for (const auto &job : jobs) {
            max = std::max(max, value_of(job));
        }
        append(out, "<text class=\"panel-title\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", left + 4, legend_y,
               html_escape(titles[k]).c_str());
        const double bar_left = left + bar_label_width;
        const double bar_room = panel_width - bar_label_width - bar_value_room;
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            const job_result &job = jobs[i];
            const double value = value_of(job);
            const double top = margin_top + static_cast<double>(i) * bar_chart_height_per_row;
            const double bar = max > 0 ? value / max * bar_room : 0;
            const double bar_height = bar_chart_height_per_row - 10;
            append(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", bar_left - 8,
                   top + bar_height / 2 + 4, fileaio_backend_name(job.backend));
            append(out,
                   "<rect class=\"bar\" data-backend=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"%s\"><title>%s: %s</title></rect>\n",
                   fileaio_backend_name(job.backend), bar_left, top, std::max(bar, 1.0), bar_height,
                   style_of(job.backend).color, fileaio_backend_name(job.backend), grouped(value).c_str());
            append(out, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\">%s</text>\n", bar_left + bar + 6,
                   top + bar_height / 2 + 4, short_number(value).c_str());
        }
    }
    out += "</svg>\n";
}

void summary_table(std::string &out, std::span<const job_result> jobs)
{
    out += "<table>\n<thead><tr><th>backend</th><th>rw</th><th>IOPS</th><th>MiB/s</th><th>p50</th><th>p99</th>"
           "<th>p99.9</th><th>max</th><th>usr s</th><th>sys s</th><th>IOPS / CPU-s</th><th>errors</th></tr></thead>\n"
           "<tbody>\n";
    const auto row = [&](const std::string &name, const std::string &rw, double ios, double bytes, double elapsed,
                         const histogram &lat, const job_result *cpu_of, std::uint64_t errors, bool sub) {
        const double iops = elapsed > 0 ? ios / elapsed : 0;
        const double mib_s = elapsed > 0 ? bytes / elapsed / static_cast<double>(mib) : 0;
        std::string bandwidth = "&ndash;";  // flushes move no data
        if (rw != "flush") {
            bandwidth.clear();
            append(bandwidth, "%.1f", mib_s);
        }
        append(out, "<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>",
               sub ? " class=\"sub\"" : "", html_escape(name).c_str(), html_escape(rw).c_str(), grouped(iops).c_str(),
               bandwidth.c_str(), latency_text(static_cast<double>(lat.percentile(50))).c_str(),
               latency_text(static_cast<double>(lat.percentile(99))).c_str(),
               latency_text(static_cast<double>(lat.percentile(99.9))).c_str(),
               latency_text(static_cast<double>(lat.max())).c_str());
        if (cpu_of != nullptr) {
            append(out, "<td>%.2f</td><td>%.2f</td><td>%s</td><td>%llu</td></tr>\n", cpu_of->usr_s, cpu_of->sys_s,
                   grouped(cpu_of->iops_per_cpu_s()).c_str(), static_cast<unsigned long long>(errors));
        } else {
            out += "<td></td><td></td><td></td><td></td></tr>\n";
        }
    };
    for (const auto &job : jobs) {
        const std::string rw = std::string(rw_name(job.rw)) + (job.direct ? " (direct)" : "");
        row(fileaio_backend_name(job.backend), rw, static_cast<double>(job.total_ios()),
            static_cast<double>(job.total_bytes()), job.elapsed_s, job_latency(job), &job, job.errors, false);
        if (rw_is_mixed(job.rw)) {
            row("", "read", static_cast<double>(job.read.ios), static_cast<double>(job.read.io_bytes), job.elapsed_s,
                job.read.latency_ns, nullptr, 0, true);
            row("", "write", static_cast<double>(job.write.ios), static_cast<double>(job.write.io_bytes),
                job.elapsed_s, job.write.latency_ns, nullptr, 0, true);
        }
        if (job.fsync_every != 0) {
            row("", "flush", static_cast<double>(job.sync.ios), 0, job.elapsed_s, job.sync.latency_ns, nullptr, 0,
                true);
        }
    }
    out += "</tbody>\n</table>\n";
}

std::string machine_text()
{
    std::string text;
    utsname uts{};
    if (uname(&uts) == 0) {
        append(text, "%s %s %s, ", uts.sysname, uts.release, uts.machine);
    }
    append(text, "%ld CPUs", sysconf(_SC_NPROCESSORS_ONLN));
    return text;
}

std::string now_text()
{
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    char text[64] = "";
    if (localtime_r(&now, &tm) != nullptr) {
        std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %z", &tm);
    }
    return text;
}

std::string workload_text(const bench_options &opts, const bench_outcome &outcome)
{
    std::string text = std::string(rw_name(opts.rw));
    if (rw_is_mixed(opts.rw)) {
        append(text, " (%u%% reads)", opts.rwmixread);
    }
    append(text, ", bs %s, iodepth %u", format_size(opts.block_size).c_str(), opts.iodepth);
    if (opts.numjobs > 1) {
        append(text, " &times; %u jobs", opts.numjobs);
    }
    text += opts.direct ? ", O_DIRECT" : (opts.invalidate ? ", buffered (page cache dropped first)" : ", buffered (page cache)");
    if (opts.fsync_every != 0) {
        append(text, ", a flush every %u writes", opts.fsync_every);
    }
    if (opts.verify) {
        text += ", verified";
    }
    if (opts.runtime_s > 0) {
        append(text, ", %g s per backend", opts.runtime_s);
    } else {
        text += ", one pass per backend";
    }
    append(text, ", on %s%s", format_bytes(outcome.target.size).c_str(),
           outcome.target.temporary ? " (a temporary file)" : "");
    return text;
}

constexpr const char *page_style = R"(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px auto;
       max-width: 1000px; padding: 0 16px; color: #1d2330; background: #fff; line-height: 1.4; }
h1 { font-size: 24px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 14px 0 0; color: #3a4252; }
h2 { font-size: 18px; margin: 28px 0 6px; border-bottom: 1px solid #e3e6eb; padding-bottom: 4px; }
p { margin: 4px 0; }
.meta { color: #5a6272; font-size: 14px; }
.verdict { font-size: 17px; margin: 14px 0; padding: 10px 14px; background: #f2f6fb; border-left: 4px solid #0072B2; }
.problem { color: #a02020; }
.note { color: #5a6272; font-size: 13px; }
svg.chart { width: 100%; height: auto; display: block; margin: 6px 0 4px; }
svg text { font-family: inherit; fill: #1d2330; }
svg .tick { font-size: 12px; fill: #4a5262; }
svg .axis-label { font-size: 13px; fill: #1d2330; }
svg .legend { font-size: 13px; }
svg .panel-title { font-size: 14px; font-weight: 600; }
svg .value { font-size: 12px; fill: #1d2330; }
svg .grid { stroke: #dfe3e8; stroke-width: 1; }
svg .grid.minor { stroke: #f0f2f5; }
svg .frame { fill: none; stroke: #9aa3b0; stroke-width: 1; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; width: 100%; }
th, td { padding: 4px 8px; text-align: right; border-bottom: 1px solid #e8ebef; white-space: nowrap; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
thead th { background: #f5f7fa; font-weight: 600; }
tr.sub td { color: #5a6272; }
code { font-size: 13px; }
)";

}  // namespace

std::string html_escape(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out.push_back(c);
        }
    }
    return out;
}

std::string format_html(const bench_options &opts, const bench_outcome &outcome)
{
    const std::span<const job_result> jobs = outcome.jobs;
    std::string out;
    out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    append(out, "<title>fileaio bench: %s</title>\n", html_escape(std::string(rw_name(opts.rw))).c_str());
    out += "<style>";
    out += page_style;
    out += "</style>\n</head>\n<body>\n<h1>fileaio bench</h1>\n";
    append(out, "<p class=\"meta\">%s</p>\n", workload_text(opts, outcome).c_str());
    append(out, "<p class=\"meta\">fileaio %s &middot; %s &middot; %s</p>\n", fileaio_version(),
           html_escape(machine_text()).c_str(), html_escape(now_text()).c_str());

    if (const auto win = winner_index(jobs)) {
        const job_result &best = jobs[*win];
        std::optional<std::size_t> runner_up;
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            if (i != *win && ran_cleanly(jobs[i]) && (!runner_up || jobs[i].iops() > jobs[*runner_up].iops())) {
                runner_up = i;
            }
        }
        append(out, "<p class=\"verdict\">Winner: <b>%s</b> with %s IOPS", fileaio_backend_name(best.backend),
               grouped(best.iops()).c_str());
        if (runner_up && jobs[*runner_up].iops() > 0) {
            append(out, " &mdash; %.2f&times; %s", best.iops() / jobs[*runner_up].iops(),
                   fileaio_backend_name(jobs[*runner_up].backend));
        }
        out += "</p>\n";
    } else if (jobs.size() == 1 && ran_cleanly(jobs.front())) {
        append(out, "<p class=\"verdict\"><b>%s</b>: %s IOPS</p>\n", fileaio_backend_name(jobs.front().backend),
               grouped(jobs.front().iops()).c_str());
    }
    for (const auto &job : jobs) {
        const char *name = fileaio_backend_name(job.backend);
        if (job.errors > 0) {
            append(out, "<p class=\"problem\">%s: %llu %s, first: %s</p>\n", name,
                   static_cast<unsigned long long>(job.errors), job.errors == 1 ? "error" : "errors",
                   html_escape(job.first_error_text).c_str());
        }
        if (!job.failure.empty() && job.failure != job.first_error_text) {
            append(out, "<p class=\"problem\">%s: %s</p>\n", name, html_escape(job.failure).c_str());
        }
        if (job.interrupted) {
            append(out, "<p class=\"problem\">%s: interrupted</p>\n", name);
        }
    }
    for (const auto &skipped : outcome.skipped) {
        append(out, "<p class=\"note\">not measured: %s</p>\n", html_escape(skipped).c_str());
    }

    out += "<h2>IOPS over time</h2>\n";
    iops_chart(out, jobs);
    out += "<p class=\"note\">Completions counted every 100 ms while each backend ran; the backends ran one "
           "after the other and are drawn from their own start.</p>\n";

    out += "<h2>Latency percentiles</h2>\n";
    if (rw_is_mixed(opts.rw)) {
        out += "<h3>Reads</h3>\n";
        latency_chart(out, jobs, "latency-read", "read latency percentiles, per backend", &job_result::read);
        out += "<h3>Writes</h3>\n";
        latency_chart(out, jobs, "latency-write", "write latency percentiles, per backend", &job_result::write);
    } else {
        latency_chart(out, jobs, "latency", "latency percentiles, per backend", nullptr);
    }
    out += "<p class=\"note\">Each curve is the latency below which that share of the requests completed, from "
           "submit to reaped; lower is better. Read left to right: the median, then the tail.</p>\n";

    out += "<h2>Throughput and efficiency</h2>\n";
    bar_chart(out, jobs);

    out += "<h2>Figures</h2>\n";
    summary_table(out, jobs);
    append(out, "<p class=\"note\">File: <code>%s</code>. CPU is user + system time of the whole process, all its "
                "threads, while the backend ran.</p>\n",
           html_escape(outcome.target.path).c_str());
    out += "</body>\n</html>\n";
    return out;
}

}  // namespace fileaio::cli
