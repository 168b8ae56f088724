// `fileaio bench --report=FILE.html`: one self-contained page (inline CSS and SVG, no script, no
// font or anything else from the network) that shows the comparison at a glance: IOPS over time
// per backend, the latency percentile curves, IOPS and IOPS per CPU-second as bars, and the table.
#ifndef FILEAIO_CLI_HTML_REPORT_HPP
#define FILEAIO_CLI_HTML_REPORT_HPP

#include "bench.hpp"
#include "options.hpp"

#include <string>
#include <string_view>

namespace fileaio::cli {

// The whole page. Every chart is an <svg class="chart" data-chart="NAME"> (iops, latency or
// latency-read/latency-write for mixed workloads, bars), each backend's line in it a
// <polyline class="series" data-backend="NAME">.
[[nodiscard]] std::string format_html(const bench_options &opts, const bench_outcome &outcome);

// The text with &, <, >, " and ' escaped for HTML and SVG.
[[nodiscard]] std::string html_escape(std::string_view text);

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_HTML_REPORT_HPP
