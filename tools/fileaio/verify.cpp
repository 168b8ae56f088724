#include "verify.hpp"

#include <bit>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace fileaio::cli {
namespace {

constexpr std::size_t magic_at = 0;
constexpr std::size_t offset_at = 8;
constexpr std::size_t generation_at = 16;
constexpr std::size_t checksum_at = 24;

// Multipliers of a word-at-a-time hash (xxhash64's primes): fast enough to check every block of
// a multi-GB/s run, and any change to a bit changes the result.
constexpr std::uint64_t prime1 = 0x9E3779B185EBCA87u;
constexpr std::uint64_t prime2 = 0xC2B2AE3D27D4EB4Fu;
constexpr std::uint64_t prime3 = 0x165667B19E3779F9u;
constexpr int round_rotate = 31;
constexpr int final_shift1 = 33;
constexpr int final_shift2 = 29;
constexpr int final_shift3 = 32;

std::uint64_t load64(const std::byte *p) noexcept
{
    std::uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big) {
        v = __builtin_bswap64(v);
    }
    return v;
}

void store64(std::byte *p, std::uint64_t v) noexcept
{
    if constexpr (std::endian::native == std::endian::big) {
        v = __builtin_bswap64(v);
    }
    std::memcpy(p, &v, sizeof v);
}

std::uint64_t mix_in(std::uint64_t h, std::uint64_t word) noexcept
{
    return std::rotl(h ^ (word * prime2), round_rotate) * prime1;
}

std::uint64_t hash_range(std::uint64_t h, const std::byte *p, std::size_t size) noexcept
{
    std::size_t at = 0;
    for (; at + sizeof(std::uint64_t) <= size; at += sizeof(std::uint64_t)) {
        h = mix_in(h, load64(p + at));
    }
    if (at < size) {
        std::uint64_t tail = 0;
        std::memcpy(&tail, p + at, size - at);
        h = mix_in(h, tail);
    }
    return h;
}

const char *status_text(verify_status status)
{
    switch (status) {
    case verify_status::ok: return "ok";
    case verify_status::bad_magic: return "no verify header (was it written with --verify and this --bs?)";
    case verify_status::bad_offset: return "the header names another offset (a misplaced write)";
    case verify_status::bad_checksum: return "checksum mismatch (corrupted data)";
    case verify_status::stale_generation: return "stale data: not the last write this run made (a lost write)";
    }
    return "?";
}

}  // namespace

std::uint64_t verify_checksum(const std::byte *block, std::size_t size) noexcept
{
    std::uint64_t h = prime3 ^ (static_cast<std::uint64_t>(size) * prime1);
    h = hash_range(h, block, checksum_at);
    h = hash_range(h, block + verify_header_bytes, size - verify_header_bytes);
    h ^= h >> final_shift1;
    h *= prime2;
    h ^= h >> final_shift2;
    h *= prime3;
    h ^= h >> final_shift3;
    return h;
}

void verify_stamp(std::byte *block, std::size_t size, std::uint64_t offset, std::uint64_t generation) noexcept
{
    store64(block + magic_at, verify_magic);
    store64(block + offset_at, offset);
    store64(block + generation_at, generation);
    store64(block + checksum_at, verify_checksum(block, size));
}

verify_finding verify_check(const std::byte *block, std::size_t size, std::uint64_t offset,
                            std::uint64_t expected_generation) noexcept
{
    if (const std::uint64_t magic = load64(block + magic_at); magic != verify_magic) {
        return {verify_status::bad_magic, magic, verify_magic};
    }
    const std::uint64_t stored_checksum = load64(block + checksum_at);
    if (const std::uint64_t computed = verify_checksum(block, size); computed != stored_checksum) {
        return {verify_status::bad_checksum, stored_checksum, computed};
    }
    if (const std::uint64_t stored_offset = load64(block + offset_at); stored_offset != offset) {
        return {verify_status::bad_offset, stored_offset, offset};
    }
    const std::uint64_t generation = load64(block + generation_at);
    if (expected_generation != 0 && generation != expected_generation) {
        return {verify_status::stale_generation, generation, expected_generation};
    }
    return {};
}

std::string describe_verify_failure(const verify_finding &finding, std::uint64_t offset)
{
    constexpr std::size_t text_size = 320;
    char text[text_size];
    const char *stored_name = "stored";
    const char *expected_name = "expected";
    if (finding.status == verify_status::bad_checksum) {
        expected_name = "computed";
    } else if (finding.status == verify_status::stale_generation) {
        stored_name = "stored generation";
        expected_name = "last written";
    } else if (finding.status == verify_status::bad_offset) {
        stored_name = "stored offset";
    }
    std::snprintf(text, sizeof text,
                  "verify: block at offset %" PRIu64 " (0x%" PRIx64 "): %s: %s 0x%" PRIx64 ", %s 0x%" PRIx64, offset,
                  offset, status_text(finding.status), stored_name, finding.stored, expected_name, finding.expected);
    return text;
}

}  // namespace fileaio::cli
