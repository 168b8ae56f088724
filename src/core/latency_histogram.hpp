// A log-linear latency histogram, HdrHistogram-style: fixed size, no allocation, O(1) record.
// One implementation for the library (a context's submit-to-completion latency, through the
// single-writer recorder below) and for `fileaio bench` (tools/fileaio/histogram.hpp), which
// includes this header; header-only, so the tool needs no internal symbol of the library.
//
// Values are nanoseconds. Below 2 * sub_buckets (64 ns) every value has its own bucket; above,
// each power of two [2^m, 2^(m+1)) is split into sub_buckets (32) equal steps of 2^(m-5), so a
// bucket is at most 1/32 (3.1 %) of the values in it wide, and a percentile reported as the
// middle of its bucket is within 1/64 (1.6 %) of the true value. The top tracked power of two
// is 2^42 (values up to 2^43 ns, 2.4 hours); anything longer lands in the last bucket. min,
// max and the mean (sum / count) are exact.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace fileaio::detail {

struct log_linear_layout {
    static constexpr unsigned sub_bucket_bits = 5;
    static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;  // 32
    static constexpr unsigned top_bit = 42;  // the highest power of two split into buckets
    static constexpr std::size_t groups = top_bit - sub_bucket_bits + 2;  // 0 and 1 exact, then one per power
    static constexpr std::size_t bucket_count = groups * sub_buckets;     // 1248
    static constexpr std::uint64_t max_tracked = (std::uint64_t{1} << (top_bit + 1)) - 1;

    static constexpr std::size_t bucket_index(std::uint64_t value) noexcept {
        if (value < 2 * sub_buckets) return static_cast<std::size_t>(value);  // groups 0 and 1: exact
        if (value > max_tracked) return bucket_count - 1;
        const auto msb = static_cast<unsigned>(std::bit_width(value)) - 1;  // >= sub_bucket_bits + 1
        const unsigned shift = msb - sub_bucket_bits;
        const std::uint64_t sub = (value >> shift) & (sub_buckets - 1);
        return static_cast<std::size_t>((shift + 1) * sub_buckets + sub);
    }

    // The smallest value that lands in bucket i.
    static constexpr std::uint64_t bucket_low(std::size_t i) noexcept {
        const std::uint64_t group = i / sub_buckets;
        const std::uint64_t sub = i % sub_buckets;
        if (group == 0) return sub;
        return (sub_buckets + sub) << (group - 1);
    }

    // How many distinct values land in bucket i (the last one also takes everything above it).
    static constexpr std::uint64_t bucket_width(std::size_t i) noexcept {
        const std::uint64_t group = i / sub_buckets;
        return group == 0 ? 1 : std::uint64_t{1} << (group - 1);
    }
};

// A plain histogram, for one thread (or a snapshot of the recorder below).
class latency_histogram : public log_linear_layout {
public:
    // Records one value. Never allocates, never fails.
    void record(std::uint64_t value) noexcept {
        ++buckets_[bucket_index(value)];
        ++count_;
        sum_ += value;
        min_ = std::min(min_, value);
        max_ = std::max(max_, value);
    }

    // Adds every value recorded in other (several jobs or contexts reported together).
    void merge(const latency_histogram &other) noexcept {
        for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
        count_ += other.count_;
        sum_ += other.sum_;
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }

    // Builds a histogram from raw parts: bucket counts (counts[i] for bucket i, i < n), the sum
    // of the values and their exact min and max where known. min > max (unknown) is taken from
    // the buckets: the low end of the first non-empty one and the high end of the last.
    void assign(const std::uint64_t *counts, std::size_t n, std::uint64_t sum, std::uint64_t min_v,
                std::uint64_t max_v) noexcept {
        reset();
        std::size_t first = bucket_count;
        std::size_t last = 0;
        for (std::size_t i = 0; i < std::min(n, bucket_count); ++i) {
            buckets_[i] = counts[i];
            count_ += counts[i];
            if (counts[i] != 0) {
                first = std::min(first, i);
                last = i;
            }
        }
        if (count_ == 0) return;
        sum_ = sum;
        if (min_v > max_v) {
            min_v = bucket_low(first);
            max_v = bucket_low(last) + bucket_width(last) - 1;
        }
        // A snapshot taken while values are recorded may see a bucket before its min/max, or the
        // reverse: keep min and max inside the buckets' range.
        min_ = std::clamp(min_v, bucket_low(first), bucket_low(first) + bucket_width(first) - 1);
        max_ = std::clamp(max_v, bucket_low(last), bucket_low(last) + bucket_width(last) - 1);
        if (min_ > max_) min_ = max_;
    }

    void reset() noexcept { *this = latency_histogram{}; }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t sum() const noexcept { return sum_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }
    [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i]; }

    // The value below which `percent` % of the recorded values lie (0 when empty): the middle of
    // the bucket holding that rank, clamped to [min, max]; exactly max for the last rank.
    [[nodiscard]] std::uint64_t percentile(double percent) const noexcept {
        if (count_ == 0) return 0;
        const double wanted = percent / 100.0 * static_cast<double>(count_);
        auto rank = static_cast<std::uint64_t>(wanted);
        if (static_cast<double>(rank) < wanted) ++rank;  // ceil
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        if (rank == count_) return max_;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += buckets_[i];
            if (seen >= rank) return std::clamp(bucket_low(i) + bucket_width(i) / 2, min(), max_);
        }
        return max_;
    }

private:
    std::array<std::uint64_t, bucket_count> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
};

// The library's recorder: ONE writer at a time (a context's waiting thread; waits of a context
// exclude each other, and their acquire/release hand the counters from one waiter to the next),
// any number of readers at any time. Every field is an atomic used with relaxed order: the writer
// increments with a load and a store (no locked instruction: it is the only writer), a reader
// loads. A reader's snapshot is per counter exact but not one instant: values recorded while it
// reads may be in some buckets and not yet in the sum (the count is the buckets' total, so the
// percentiles agree with the count). Resets are the reader side's (context::reset_latency): they
// move a baseline instead of zeroing what the writer increments.
class latency_recorder : public log_linear_layout {
public:
    void record(std::uint64_t value) noexcept {
        bump(buckets_[bucket_index(value)], 1);
        bump(sum_, value);
        if (value < min_.load(std::memory_order_relaxed)) min_.store(value, std::memory_order_relaxed);
        if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
    }

    // The counts since the recorder began (reader side).
    void load_counts(std::uint64_t *counts) const noexcept {
        for (std::size_t i = 0; i < bucket_count; ++i) counts[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t min() const noexcept { return min_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_.load(std::memory_order_relaxed); }
    // Starts min and max afresh (a reset). A value the writer records meanwhile may or may not count.
    void restart_extremes() noexcept {
        min_.store(std::numeric_limits<std::uint64_t>::max(), std::memory_order_relaxed);
        max_.store(0, std::memory_order_relaxed);
    }

private:
    static void bump(std::atomic<std::uint64_t> &c, std::uint64_t by) noexcept {
        c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    }

    std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
    std::atomic<std::uint64_t> sum_{0};
    std::atomic<std::uint64_t> min_{std::numeric_limits<std::uint64_t>::max()};
    std::atomic<std::uint64_t> max_{0};
};

}  // namespace fileaio::detail
