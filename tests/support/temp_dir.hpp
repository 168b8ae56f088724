// Test support: a temporary directory with real files, removed at the end, and small helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fileaio/fileaio.h"

namespace fileaio::test {

class temp_dir {
public:
    temp_dir();  // under $TMPDIR or /tmp
    ~temp_dir();
    temp_dir(const temp_dir &) = delete;
    temp_dir &operator=(const temp_dir &) = delete;

    const std::string &path() const { return path_; }
    // Creates (truncates) a file of `size` bytes, each byte = pattern_byte(offset); returns its path.
    std::string make_file(const std::string &name, uint64_t size);

private:
    std::string path_;
};

// The byte a pattern file holds at `offset`: varies with the offset and is never 0 for long.
// Another seed gives other bytes at (almost) every offset, so a test can tell written data from
// what was there: the seed is mixed in before the multiplication (added after it, it reached
// the top byte only through a rare carry, and seeded bytes equalled the file's). Seed 0 is the
// pattern files and the FUSE test file are made of.
inline unsigned char pattern_byte(uint64_t offset, uint32_t seed = 0) {
    uint64_t x = ((offset >> 3) ^ (uint64_t{seed} << 40)) * 0x9E3779B97F4A7C15ULL;
    return static_cast<unsigned char>((x >> 56) ^ (offset & 7));
}

// Opens path with flags; fails the test (ADD_FAILURE) and returns -1 on error.
int open_file(const std::string &path, int flags);

// Every backend kind, for INSTANTIATE_TEST_SUITE_P.
std::vector<fileaio_backend> all_backends();
std::string backend_param_name(fileaio_backend b);

}  // namespace fileaio::test
