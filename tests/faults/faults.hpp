// Helpers shared by the real-fault tests (tests/faults): pattern buffers, reading a file back,
// and descriptor numbers kept out of the way of the lowest-free-number rule.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/temp_dir.hpp"

namespace fileaio::test {

// size bytes of pattern_byte(offset + i, seed): what a write at `offset` puts into the file.
inline std::vector<unsigned char> pattern_buffer(uint64_t offset, size_t size, uint32_t seed) {
    std::vector<unsigned char> v(size);
    for (size_t i = 0; i < size; ++i) v[i] = pattern_byte(offset + i, seed);
    return v;
}

// The file holds pattern_byte(offset + i, seed) for every i < size (read with pread, not the library).
inline ::testing::AssertionResult reads_back(int fd, uint64_t offset, size_t size, uint32_t seed) {
    std::vector<unsigned char> got(size);
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::pread(fd, got.data() + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ::testing::AssertionFailure() << "pread at " << offset + done << ": " << std::strerror(errno);
        if (n == 0)
            return ::testing::AssertionFailure() << "the file ends at " << offset + done << ", before "
                                                 << offset + size;
        done += static_cast<size_t>(n);
    }
    for (size_t i = 0; i < size; ++i)
        if (got[i] != pattern_byte(offset + i, seed))
            return ::testing::AssertionFailure() << "byte " << offset + i << " is " << int{got[i]} << ", expected "
                                                 << int{pattern_byte(offset + i, seed)};
    return ::testing::AssertionSuccess();
}

inline uint64_t file_size(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return UINT64_MAX;
    return static_cast<uint64_t>(st.st_size);
}

inline fileaio_stats stats_of(const fileaio_ctx *c) {
    fileaio_stats st{};
    fileaio_ctx_get_stats(c, &st);
    return st;
}

// What a test observed that is worth reading in the log (per-backend behaviour), not a check.
inline void note(const std::string &what) {
    std::printf("[   NOTE   ] %s\n", what.c_str());
    std::fflush(stdout);
}

// Moves fd to a number far above the ones in use (and closes fd): the kernel hands out the lowest
// free number, so nothing else the process opens meanwhile (a backend's thread, the FUSE daemon)
// gets this number back after the test closes it while requests still name it. Returns -1 (and
// fails the test) on error.
inline int move_to_high_fd(int fd) {
    struct rlimit rl {};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    constexpr rlim_t high_floor = 1000;  // far above what a test uses; a small descriptor table
    const rlim_t room = rl.rlim_cur == RLIM_INFINITY ? 2 * high_floor : rl.rlim_cur;
    const int floor = static_cast<int>(std::min(room / 2, high_floor));
    int high = ::fcntl(fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0) ADD_FAILURE() << "F_DUPFD " << floor << ": " << std::strerror(errno);
    ::close(fd);
    return high;
}

}  // namespace fileaio::test
