// The block format of `fileaio bench --verify`.
//
// Every block a verifying run writes starts with a 32-byte header, little-endian:
//
//   bytes  0..7   magic "FAIOVRFY"
//   bytes  8..15  the block's offset in the file
//   bytes 16..23  the generation: which write stored it (the job number in the top 16 bits, that
//                 job's write sequence number below; 0 for the blocks laid out before the run)
//   bytes 24..31  a 64-bit checksum of the whole block except these 8 bytes
//
// and the rest of the block is a pattern. A read checks magic, offset and checksum (and, for a
// block the same job wrote earlier in the run, that the generation is the one it wrote last):
// that catches torn, misplaced, corrupted and lost writes.
#ifndef FILEAIO_CLI_VERIFY_HPP
#define FILEAIO_CLI_VERIFY_HPP

#include <cstddef>
#include <cstdint>
#include <string>

namespace fileaio::cli {

inline constexpr std::size_t verify_header_bytes = 32;
inline constexpr std::uint64_t verify_magic = 0x5946'5256'4F49'4146u;  // "FAIOVRFY" read as little-endian
inline constexpr unsigned verify_job_shift = 48;                     // generation = job << 48 | sequence

// The generation a job's n-th write (n >= 1) carries.
[[nodiscard]] constexpr std::uint64_t verify_generation(std::uint32_t job, std::uint64_t sequence) noexcept
{
    return (std::uint64_t{job} << verify_job_shift) | sequence;
}

// The checksum of a block of `size` bytes (size >= verify_header_bytes), skipping bytes 24..31.
[[nodiscard]] std::uint64_t verify_checksum(const std::byte *block, std::size_t size) noexcept;

// Writes the header of a block that is to be stored at `offset`; the rest of the block is left as
// it is (the caller filled it with a pattern once). Never allocates.
void verify_stamp(std::byte *block, std::size_t size, std::uint64_t offset, std::uint64_t generation) noexcept;

// What a read found.
enum class verify_status { ok, bad_magic, bad_offset, bad_checksum, stale_generation };

struct verify_finding {
    verify_status status = verify_status::ok;
    std::uint64_t stored = 0;    // the offending stored value (offset, checksum or generation)
    std::uint64_t expected = 0;  // what it should have been
};

// Checks a block read from `offset`. expected_generation 0 means "any" (not known to this run).
// Never allocates.
[[nodiscard]] verify_finding verify_check(const std::byte *block, std::size_t size, std::uint64_t offset,
                                          std::uint64_t expected_generation) noexcept;

// "verify: block at offset 40960 (0xa000): checksum mismatch (stored 0x..., computed 0x...)".
[[nodiscard]] std::string describe_verify_failure(const verify_finding &finding, std::uint64_t offset);

}  // namespace fileaio::cli

#endif  // FILEAIO_CLI_VERIFY_HPP
