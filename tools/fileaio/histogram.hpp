// The bench's latency histogram is the library's own (src/core/latency_histogram.hpp, header
// only: no internal symbol is linked): log-linear, 32 sub-buckets per power of two, so a reported
// percentile is within 1.6 % of the true value; min, max and the mean are exact. One
// implementation, so that --lib_latency (the library's buckets, fileaio_ctx_get_latency_buckets)
// and the bench's own timing report the same way.
#ifndef FILEAIO_CLI_HISTOGRAM_HPP
#define FILEAIO_CLI_HISTOGRAM_HPP

#include "core/latency_histogram.hpp"

namespace fileaio::cli {

using histogram = fileaio::detail::latency_histogram;

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_HISTOGRAM_HPP
