// Writing and draining an eventfd, the one way every part of the library does it: the context's
// pollable descriptor (API.md "Event loops") and linux_aio's wakeup eventfd.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace fileaio::detail {

// Adds 1 (readable from now on). EAGAIN means the counter is near its maximum: readable already.
inline void eventfd_signal(int fd) {
    const uint64_t one = 1;
    ssize_t rc;
    do {
        rc = ::write(fd, &one, sizeof one);
    } while (rc < 0 && errno == EINTR);
}

// Resets the counter to 0 (a nonblocking eventfd: EAGAIN when it was 0 already).
inline void eventfd_drain(int fd) {
    uint64_t value;
    ssize_t rc;
    do {
        rc = ::read(fd, &value, sizeof value);
    } while (rc < 0 && errno == EINTR);
}

}  // namespace fileaio::detail
