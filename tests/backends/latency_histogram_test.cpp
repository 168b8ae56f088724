// The log-linear histogram of core/latency_histogram.hpp (the library's latency recorder and
// `fileaio bench`'s histogram): bucket bounds, relative error, percentiles of known
// distributions, merge, reset, and the single-writer recorder's snapshot.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/latency_histogram.hpp"

namespace fileaio::detail {
namespace {

using layout = log_linear_layout;

TEST(latency_histogram, buckets_tile_the_range_without_gaps_and_are_at_most_one_32nd_wide) {
    for (std::size_t i = 0; i + 1 < layout::bucket_count; ++i) {
        const std::uint64_t low = layout::bucket_low(i);
        const std::uint64_t width = layout::bucket_width(i);
        ASSERT_EQ(low + width, layout::bucket_low(i + 1)) << i;
        ASSERT_EQ(layout::bucket_index(low), i);
        ASSERT_EQ(layout::bucket_index(low + width - 1), i);
        if (low >= 2 * layout::sub_buckets) {
            ASSERT_LE(static_cast<double>(width) / static_cast<double>(low), 1.0 / 32);
        }
    }
    // Exact below 64 ns; 2^43 - 1 ns (2.4 h) still tracked; anything longer in the last bucket.
    for (std::uint64_t v = 0; v < 64; ++v) EXPECT_EQ(layout::bucket_low(layout::bucket_index(v)), v);
    EXPECT_LT(layout::bucket_index(layout::max_tracked), layout::bucket_count);
    EXPECT_EQ(layout::bucket_index(layout::max_tracked + 1), layout::bucket_count - 1);
    EXPECT_EQ(layout::bucket_index(UINT64_MAX), layout::bucket_count - 1);
    EXPECT_GE(layout::max_tracked, std::uint64_t{60} * 60 * 1'000'000'000);  // an hour
}

TEST(latency_histogram, percentiles_of_a_uniform_distribution_are_within_1_6_percent) {
    latency_histogram h;
    constexpr std::uint64_t n = 200'000;
    for (std::uint64_t v = 1; v <= n; ++v) h.record(v * 5);  // 5 ns .. 1 ms, uniform
    EXPECT_EQ(h.count(), n);
    EXPECT_EQ(h.min(), 5u);
    EXPECT_EQ(h.max(), n * 5);
    EXPECT_DOUBLE_EQ(h.mean(), static_cast<double>(n + 1) / 2 * 5);
    for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
        const double exact = p / 100.0 * n * 5;
        EXPECT_NEAR(static_cast<double>(h.percentile(p)), exact, exact / 64 + 5) << "p" << p;
    }
    EXPECT_EQ(h.percentile(100.0), h.max());
}

TEST(latency_histogram, percentiles_of_a_two_mode_distribution_land_in_their_mode) {
    // 99 % at 50 us, 1 % at 2 ms (a device: most hits fast, a tail of slow ones).
    latency_histogram h;
    for (int i = 0; i < 9900; ++i) h.record(50'000);
    for (int i = 0; i < 100; ++i) h.record(2'000'000);
    EXPECT_NEAR(static_cast<double>(h.percentile(50)), 50'000, 50'000 / 64.0);
    EXPECT_NEAR(static_cast<double>(h.percentile(99)), 50'000, 50'000 / 64.0);
    EXPECT_NEAR(static_cast<double>(h.percentile(99.5)), 2'000'000, 2'000'000 / 64.0);
    EXPECT_EQ(h.percentile(99.99), 2'000'000u);  // clamped to max
}

TEST(latency_histogram, merge_adds_and_reset_empties) {
    latency_histogram a, b, both;
    for (std::uint64_t v = 100; v < 10'000; v += 7) {
        a.record(v);
        both.record(v);
    }
    for (std::uint64_t v = 50'000; v < 90'000; v += 13) {
        b.record(v);
        both.record(v);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), both.count());
    EXPECT_EQ(a.min(), both.min());
    EXPECT_EQ(a.max(), both.max());
    EXPECT_EQ(a.sum(), both.sum());
    for (std::size_t i = 0; i < layout::bucket_count; ++i) ASSERT_EQ(a.bucket(i), both.bucket(i));
    for (double p : {50.0, 90.0, 99.0}) EXPECT_EQ(a.percentile(p), both.percentile(p));
    a.reset();
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(a.min(), 0u);
    EXPECT_EQ(a.max(), 0u);
    EXPECT_EQ(a.percentile(50), 0u);
    EXPECT_EQ(a.mean(), 0.0);
}

TEST(latency_histogram, the_recorder_snapshot_is_the_plain_histogram) {
    latency_recorder rec;
    latency_histogram plain;
    for (std::uint64_t v = 1; v < 5'000'000; v = v * 3 / 2 + 1) {
        rec.record(v);
        plain.record(v);
    }
    std::vector<std::uint64_t> counts(layout::bucket_count);
    rec.load_counts(counts.data());
    latency_histogram snap;
    snap.assign(counts.data(), counts.size(), rec.sum(), rec.min(), rec.max());
    EXPECT_EQ(snap.count(), plain.count());
    EXPECT_EQ(snap.min(), plain.min());
    EXPECT_EQ(snap.max(), plain.max());
    EXPECT_EQ(snap.sum(), plain.sum());
    for (double p : {50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(snap.percentile(p), plain.percentile(p));
    // Unknown extremes (min > max: a reset just restarted them) come from the buckets.
    rec.restart_extremes();
    snap.assign(counts.data(), counts.size(), rec.sum(), rec.min(), rec.max());
    EXPECT_EQ(snap.min(), 1u);
    EXPECT_GE(snap.max(), plain.max());
    EXPECT_LE(static_cast<double>(snap.max()), static_cast<double>(plain.max()) * (1 + 1.0 / 32));
}

}  // namespace
}  // namespace fileaio::detail
