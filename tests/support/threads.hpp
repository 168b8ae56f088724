// Test support: counts the threads of this process that block every signal, the way the
// library starts its own (src/core/quiet_thread.hpp). A test threads never block SIGINT or
// SIGTERM, so a count taken before a context exists and one taken after tells how many threads
// that context started: deterministic, because a backend's threads exist once the call that
// started them returned (no waiting to see whether one more turns up). Threads that block every
// signal for other reasons (the FUSE daemon's) are there in both counts.
#pragma once

#include <dirent.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace fileaio::test {

inline size_t quiet_threads() {
    size_t n = 0;
    DIR *d = ::opendir("/proc/self/task");
    if (d == nullptr) return 0;
    while (const dirent *e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/status");
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind("SigBlk:", 0) != 0) continue;
            const unsigned long long blocked = std::strtoull(line.c_str() + 7, nullptr, 16);
            const unsigned long long want = (1ull << (SIGINT - 1)) | (1ull << (SIGTERM - 1)) | (1ull << (SIGHUP - 1));
            if ((blocked & want) == want) ++n;
            break;
        }
    }
    ::closedir(d);
    return n;
}

}  // namespace fileaio::test
