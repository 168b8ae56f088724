// A log-linear latency histogram: fixed size, no allocation, O(1) record.
//
// Values (nanoseconds) below 2 * sub_buckets are exact; above that each power of two is split
// into sub_buckets linear steps, so a reported percentile is within 1/sub_buckets (6.25 %)
// of the true value. min, max and the mean are exact.
#ifndef FILEAIO_CLI_HISTOGRAM_HPP
#define FILEAIO_CLI_HISTOGRAM_HPP

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace fileaio::cli {

class histogram {
public:
    static constexpr unsigned sub_bucket_bits = 4;
    static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;  // 16
    static constexpr unsigned groups = 64;                                              // one per power of two
    static constexpr std::size_t bucket_count = groups * sub_buckets;

    // Records one value. Never allocates, never fails.
    void record(std::uint64_t value) noexcept
    {
        ++buckets_[bucket_index(value)];
        ++count_;
        sum_ += value;
        min_ = std::min(min_, value);
        max_ = std::max(max_, value);
    }

    // Adds every value recorded in other (for several jobs or threads reported together).
    void merge(const histogram &other) noexcept
    {
        for (std::size_t i = 0; i < bucket_count; ++i) {
            buckets_[i] += other.buckets_[i];
        }
        count_ += other.count_;
        sum_ += other.sum_;
        min_ = std::min(min_, other.min_);
        max_ = std::max(max_, other.max_);
    }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept
    {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }

    // The value below which `percent` % of the recorded values lie (0 when empty); exact at the
    // ends, otherwise the middle of the bucket holding that rank, clamped to [min, max].
    [[nodiscard]] std::uint64_t percentile(double percent) const noexcept
    {
        if (count_ == 0) {
            return 0;
        }
        const double wanted = percent / 100.0 * static_cast<double>(count_);
        auto rank = static_cast<std::uint64_t>(wanted);
        if (static_cast<double>(rank) < wanted) {
            ++rank;  // ceil
        }
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        if (rank == count_) {
            return max_;
        }
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += buckets_[i];
            if (seen >= rank) {
                const std::uint64_t mid = bucket_low(i) + bucket_width(i) / 2;
                return std::clamp(mid, min(), max_);
            }
        }
        return max_;
    }

    static constexpr std::size_t bucket_index(std::uint64_t value) noexcept
    {
        if (value < 2 * sub_buckets) {
            return static_cast<std::size_t>(value);  // groups 0 and 1: exact
        }
        const auto msb = static_cast<unsigned>(std::bit_width(value)) - 1;  // >= sub_bucket_bits + 1
        const unsigned shift = msb - sub_bucket_bits;
        const std::uint64_t sub = (value >> shift) & (sub_buckets - 1);
        const std::uint64_t group = shift + 1;
        return static_cast<std::size_t>(group * sub_buckets + sub);
    }

    // The smallest value that lands in bucket i.
    static constexpr std::uint64_t bucket_low(std::size_t i) noexcept
    {
        const std::uint64_t group = i / sub_buckets;
        const std::uint64_t sub = i % sub_buckets;
        if (group == 0) {
            return sub;
        }
        return (sub_buckets + sub) << (group - 1);
    }

    // How many distinct values land in bucket i.
    static constexpr std::uint64_t bucket_width(std::size_t i) noexcept
    {
        const std::uint64_t group = i / sub_buckets;
        return group == 0 ? 1 : std::uint64_t{1} << (group - 1);
    }

private:
    std::array<std::uint64_t, bucket_count> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
};

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_HISTOGRAM_HPP
