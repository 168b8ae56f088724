// The order in which `fileaio bench` visits the blocks of a file: sequential, fio's random map
// (every block exactly once per pass over the file, a new order each pass; fio's default for
// random I/O) or plain uniform random offsets (fio's --norandommap, where some blocks come up
// twice and others not at all within a pass).
//
// fio keeps its random map as a bitmap and searches it for a free block when the random pick
// is taken. A permutation does the same job without memory or searching: a keyed bijection of
// [0, 2^bits) (multiply by an odd number and add, then xorshift, three rounds), walked along
// its cycle until it lands in [0, count) ("cycle walking", which makes it a bijection of
// [0, count)). That costs a few multiplications per block, on average fewer than two walks.
#ifndef FILEAIO_CLI_OFFSETS_HPP
#define FILEAIO_CLI_OFFSETS_HPP

#include <array>
#include <bit>
#include <cstdint>

namespace fileaio::cli {

// splitmix64: tiny, fast, good enough to scatter offsets and fill buffers.
class splitmix64 {
public:
    explicit splitmix64(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t next() noexcept
    {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15u);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n): Lemire's multiply-shift, an unbiased-enough reduction without a division.
    std::uint64_t below(std::uint64_t n) noexcept
    {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }

private:
    std::uint64_t state_;
};

// Every index of [0, count) exactly once per pass of `count` calls to next(), in an order that
// changes from pass to pass (0 every time for a count of 0 or 1).
class random_permutation {
public:
    random_permutation(std::uint64_t count, std::uint64_t seed) noexcept
        : count_(count),
          mask_(count <= 1 ? 0 : (~std::uint64_t{0} >> (64 - std::bit_width(count - 1)))),
          shift_(std::bit_width(mask_) / 2 > 0 ? static_cast<unsigned>(std::bit_width(mask_) / 2) : 1u),
          keys_(seed)
    {
        new_pass();
    }

    std::uint64_t next() noexcept
    {
        if (count_ <= 1) {
            return 0;
        }
        if (position_ == count_) {
            new_pass();
        }
        std::uint64_t x = permute(position_++);
        while (x >= count_) {  // cycle walking: ends, because position_ < count_ is on the cycle
            x = permute(x);
        }
        return x;
    }

private:
    static constexpr std::size_t rounds = 3;

    void new_pass() noexcept
    {
        position_ = 0;
        for (std::size_t r = 0; r < rounds; ++r) {
            multiplier_[r] = keys_.next() | 1u;  // odd: a bijection modulo 2^bits
            addend_[r] = keys_.next();
        }
    }

    // A bijection of [0, mask_]: each step (odd multiply plus add, mod 2^bits; x ^= x >> shift)
    // is one.
    [[nodiscard]] std::uint64_t permute(std::uint64_t x) const noexcept
    {
        for (std::size_t r = 0; r < rounds; ++r) {
            x = (x * multiplier_[r] + addend_[r]) & mask_;
            x ^= x >> shift_;
        }
        return x;
    }

    std::uint64_t count_;
    std::uint64_t mask_;  // 2^bits - 1, the smallest such that covers count_ - 1
    unsigned shift_;
    splitmix64 keys_;  // the keys of each pass
    std::array<std::uint64_t, rounds> multiplier_{};
    std::array<std::uint64_t, rounds> addend_{};
    std::uint64_t position_ = 0;  // calls in this pass
};

enum class offset_order {
    sequential,      // 0, 1, ..., count - 1, 0, ...
    random_map,      // fio's default for random I/O: each index once per pass
    random_uniform,  // fio's --norandommap: independent uniform draws
};

// Indexes in [0, count) in the chosen order (0 every time for a count of 0).
class index_generator {
public:
    index_generator(offset_order order, std::uint64_t count, std::uint64_t seed) noexcept
        : order_(order), count_(count), rng_(seed), map_(count, seed)
    {
    }
    std::uint64_t next() noexcept
    {
        switch (order_) {
        case offset_order::random_map:
            return map_.next();
        case offset_order::random_uniform:
            return rng_.below(count_);
        case offset_order::sequential:
            break;
        }
        const std::uint64_t index = next_;
        next_ = next_ + 1 == count_ ? 0 : next_ + 1;
        return index;
    }

private:
    offset_order order_;
    std::uint64_t count_;
    std::uint64_t next_ = 0;
    splitmix64 rng_;
    random_permutation map_;
};

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_OFFSETS_HPP
