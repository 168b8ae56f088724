// Test support: what a test watching another thread or a descriptor asks, without waiting on
// a clock: whether a descriptor polls readable, and which system call a thread sleeps in.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace fileaio::test {

// Whether fd polls readable within timeout_ms (0: now).
inline bool readable(int fd, int timeout_ms = 0) {
    pollfd p{fd, POLLIN, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc == 1 && (p.revents & POLLIN) != 0;
}

// The system call thread `tid` is blocked in now, or -1 while it runs.
inline long blocked_in(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
    std::string first;
    if (!(f >> first) || first == "running") return -1;
    try {
        return std::stol(first);
    } catch (...) {
        return -1;
    }
}

}  // namespace fileaio::test
