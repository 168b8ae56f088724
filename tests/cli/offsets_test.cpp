// The order `fileaio bench` visits blocks in (tools/fileaio/offsets.hpp): fio's random map gives
// every block exactly once per pass, in a new order each pass; --norandommap draws freely.
#include "offsets.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace fileaio::cli {
namespace {

constexpr std::uint64_t seed = 0x5EED;

// How often each index came up in `calls` calls.
std::vector<std::uint32_t> counts_of(index_generator &gen, std::uint64_t count, std::uint64_t calls)
{
    std::vector<std::uint32_t> counts(count, 0);
    for (std::uint64_t i = 0; i < calls; ++i) {
        const std::uint64_t index = gen.next();
        EXPECT_LT(index, count);
        if (index < count) {
            ++counts[index];
        }
    }
    return counts;
}

TEST(offsets, random_map_gives_every_block_exactly_once_per_pass)
{
    // Powers of two, one past them, one short of them, primes, and a 1 GiB file of 4 KiB blocks.
    for (const std::uint64_t count : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 63u, 64u, 65u, 1000u, 4096u, 4097u, 65521u,
                                      262144u}) {
        index_generator gen(offset_order::random_map, count, seed + count);
        for (int pass = 0; pass < 3; ++pass) {
            const auto counts = counts_of(gen, count, count);
            const auto wrong = std::find_if(counts.begin(), counts.end(), [](auto c) { return c != 1; });
            ASSERT_EQ(wrong, counts.end()) << "count " << count << ", pass " << pass << ": block "
                                           << (wrong - counts.begin()) << " came " << *wrong << " times";
        }
    }
}

TEST(offsets, random_map_is_a_new_shuffled_order_each_pass)
{
    constexpr std::uint64_t count = 4096;
    index_generator gen(offset_order::random_map, count, seed);
    std::vector<std::uint64_t> first(count);
    std::vector<std::uint64_t> second(count);
    for (auto &x : first) {
        x = gen.next();
    }
    for (auto &x : second) {
        x = gen.next();
    }
    EXPECT_NE(first, second) << "each pass has its own order";
    std::vector<std::uint64_t> sorted(count);
    std::iota(sorted.begin(), sorted.end(), 0u);
    EXPECT_NE(first, sorted) << "not sequential";
    // Not sequential in disguise either: few neighbours follow each other (a shuffle has ~2).
    std::uint64_t ascending_neighbours = 0;
    for (std::size_t i = 1; i < count; ++i) {
        ascending_neighbours += first[i] == first[i - 1] + 1 ? 1 : 0;
    }
    EXPECT_LT(ascending_neighbours, count / 64);
}

TEST(offsets, the_same_seed_gives_the_same_order)
{
    index_generator a(offset_order::random_map, 1000, seed);
    index_generator b(offset_order::random_map, 1000, seed);
    index_generator c(offset_order::random_map, 1000, seed + 1);
    bool differs = false;
    for (int i = 0; i < 3000; ++i) {
        const auto x = a.next();
        EXPECT_EQ(x, b.next());
        differs = differs || x != c.next();
    }
    EXPECT_TRUE(differs) << "another job (another seed) gets another order";
}

TEST(offsets, norandommap_draws_independently_as_fio_does)
{
    // One pass of uniform draws leaves about 1/e of the blocks untouched and repeats others.
    constexpr std::uint64_t count = 65536;
    index_generator gen(offset_order::random_uniform, count, seed);
    const auto counts = counts_of(gen, count, count);
    const auto untouched = static_cast<std::uint64_t>(std::count(counts.begin(), counts.end(), 0u));
    EXPECT_GT(untouched, count / 4);
    EXPECT_LT(untouched, count / 2);
}

TEST(offsets, sequential_wraps_around)
{
    index_generator gen(offset_order::sequential, 3, seed);
    std::vector<std::uint64_t> got;
    for (int i = 0; i < 7; ++i) {
        got.push_back(gen.next());
    }
    EXPECT_EQ(got, (std::vector<std::uint64_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(offsets, an_empty_random_range_gives_zero)
{
    for (const auto order : {offset_order::random_map, offset_order::random_uniform}) {
        index_generator gen(order, 0, seed);
        EXPECT_EQ(gen.next(), 0u);
        EXPECT_EQ(gen.next(), 0u);
    }
}

}  // namespace
}  // namespace fileaio::cli
