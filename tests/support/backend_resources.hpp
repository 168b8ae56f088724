// What every backend test fixture keeps (tests/conformance/fixture.hpp, support/backend_fixture.hpp):
// contexts, requests and files made by the test and cleaned up at its end, and the reap/drain
// helpers with their safety net against hangs.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/temp_dir.hpp"

namespace fileaio::test {

constexpr uint32_t long_timeout_ms = 10000;  // a safety net against hangs, never expected to expire

// Context flags every context a fixture makes gets on top of the test's own: the environment
// variable FILEAIO_TEST_CTX_FLAGS (a number), so that a suite whose tests use each context from one
// thread runs again with FILEAIO_CTX_SINGLE_THREAD (tests/conformance/CMakeLists.txt).
inline uint32_t extra_ctx_flags() {
    static const uint32_t flags = [] {
        const char *v = std::getenv("FILEAIO_TEST_CTX_FLAGS");
        return v != nullptr ? static_cast<uint32_t>(std::strtoul(v, nullptr, 0)) : 0u;
    }();
    return flags;
}

// Returns once another thread is inside fileaio_ctx_wait on c (a wait of ours then gets E_BUSY),
// or false after the safety net. The probes are polls (timeout 0): they never take a wakeup or a
// completion while nothing completes; the other thread must retry a wait that gets E_BUSY (the
// probe may hold the wait for an instant).
inline bool wait_until_inside_wait(fileaio_ctx *c) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(long_timeout_ms);
    fileaio_req *out[1];
    while (std::chrono::steady_clock::now() < until) {
        size_t count = 0;
        if (fileaio_ctx_wait(c, 1, 0, out, 1, &count) == FILEAIO_E_BUSY) return true;
        EXPECT_EQ(count, 0u) << "the probe took a completion";
        std::this_thread::yield();
    }
    return false;
}

// Writes pattern bytes [from, from + size) of a stream into a pipe (or any descriptor that takes
// them at its position), all of them.
inline void write_pattern(int fd, size_t size, uint64_t from = 0) {
    std::vector<unsigned char> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = pattern_byte(from + i);
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::write(fd, bytes.data() + done, size - done);
        if (n <= 0) {
            ADD_FAILURE() << "write to the pipe failed";
            return;
        }
        done += static_cast<size_t>(n);
    }
}

// Polls cond() until it holds or `limit` passes: for a fact outside the test's control (a pipe
// drained, a counter of the daemon's), with a liveness bound, never a timing assertion.
template <class Cond>
bool eventually(Cond &&cond, std::chrono::milliseconds limit = std::chrono::milliseconds(long_timeout_ms)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!cond()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// True when `b` probes available; else `why` says why (for GTEST_SKIP in a fixture's SetUp).
inline bool backend_available(fileaio_backend b, std::string *why) {
    char reason[256] = "";
    if (fileaio_backend_probe(b, reason, sizeof reason) == 0) return true;
    *why = std::string(fileaio_backend_name(b)) + " unavailable: " + reason;
    return false;
}

class backend_resources {
protected:
    // Drains and destroys every context, then the requests, then closes the files.
    void release_all() {
        for (fileaio_ctx *c : ctxs_) {
            drain(c);
            EXPECT_EQ(fileaio_ctx_destroy(c), 0) << "context still busy at the end of the test";
        }
        for (fileaio_req *r : reqs_) EXPECT_EQ(fileaio_req_destroy(r), 0);
        for (int fd : fds_) ::close(fd);
        ctxs_.clear();
        reqs_.clear();
        fds_.clear();
    }

    fileaio_ctx *make_ctx_on(fileaio_backend b, uint32_t max_reqs, uint32_t flags = 0, uint32_t threads = 0) {
        fileaio_ctx_options o = ctx_options(b, max_reqs, flags);
        o.threads = threads;
        return make_ctx_with(o);
    }

    static fileaio_ctx_options ctx_options(fileaio_backend b, uint32_t max_reqs, uint32_t flags = 0) {
        fileaio_ctx_options o{};
        o.size = sizeof o;
        o.max_reqs = max_reqs;
        o.flags = flags | extra_ctx_flags();
        o.backend = b;
        return o;
    }

    // A context made with every option; destroyed at the end. Creation must succeed, unless
    // rc_out takes its result (for a test that expects a refusal).
    fileaio_ctx *make_ctx_with(const fileaio_ctx_options &o, int *rc_out = nullptr) {
        fileaio_ctx *c = nullptr;
        int rc = fileaio_ctx_create_opts(&c, &o);
        if (rc_out != nullptr) {
            *rc_out = rc;
        } else {
            EXPECT_EQ(rc, 0) << fileaio_errname(rc);
        }
        if (c != nullptr) ctxs_.push_back(c);
        return c;
    }

    fileaio_req *make_req() {
        fileaio_req *r = nullptr;
        EXPECT_EQ(fileaio_req_create(&r), 0);
        if (r != nullptr) reqs_.push_back(r);
        return r;
    }

    std::vector<fileaio_req *> make_reqs(size_t n) {
        std::vector<fileaio_req *> v;
        for (size_t i = 0; i < n; ++i) v.push_back(make_req());
        return v;
    }

    // Closed at the end of the test.
    int keep_fd(int fd) {
        if (fd >= 0) fds_.push_back(fd);
        return fd;
    }

    // A pattern file of `size` bytes in the temp dir, opened with `flags`; closed at the end.
    int pattern_file(const std::string &name, uint64_t size, int flags = O_RDWR) {
        return keep_fd(open_file(dir_.make_file(name, size), flags));
    }

    // A pipe whose ends are closed at the end of the test; [0] reads, [1] writes. `size`, if not
    // 0, is its capacity (F_SETPIPE_SZ); `flags` are more pipe2 flags (O_NONBLOCK).
    void make_pipe(int fds[2], int size = 0, int flags = 0) {
        ASSERT_EQ(::pipe2(fds, O_CLOEXEC | flags), 0);
        keep_fd(fds[0]);
        keep_fd(fds[1]);
        if (size != 0) ::fcntl(fds[1], F_SETPIPE_SZ, size);
    }

    // Up to `size` bytes of fd from `offset`, as read now (fewer at end of file).
    static std::vector<unsigned char> read_back(int fd, size_t size, off_t offset) {
        std::vector<unsigned char> v(size);
        ssize_t n = ::pread(fd, v.data(), size, offset);
        v.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return v;
    }

    // r completed with `result` and moved `moved` bytes; `what` names it in a failure.
    static void expect_done(fileaio_req *r, int result, size_t moved, const char *what) {
        size_t got = 0;
        EXPECT_EQ(fileaio_req_get_result(r, &got), result) << what;
        EXPECT_EQ(got, moved) << what;
    }

    static uint64_t pending(fileaio_ctx *c) {
        fileaio_stats st{};
        fileaio_ctx_get_stats(c, &st);
        return st.pending;
    }

    // Waits until `n` requests are reaped (fails the test if it takes longer than the safety net).
    static std::vector<fileaio_req *> reap(fileaio_ctx *c, size_t n, uint32_t timeout_ms = long_timeout_ms) {
        std::vector<fileaio_req *> out(n > 0 ? n : 1);
        size_t got = 0;
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (got < n && std::chrono::steady_clock::now() < until) {
            size_t cnt = 0;
            int rc = fileaio_ctx_wait(c, n - got, timeout_ms, out.data() + got, n - got, &cnt);
            got += cnt;
            if (rc != 0 && rc != FILEAIO_E_INTERRUPTED) {
                ADD_FAILURE() << "wait: " << fileaio_errname(rc);
                break;
            }
        }
        out.resize(got);
        EXPECT_EQ(got, n);
        return out;
    }

    // Reaps whatever is still pending so the context can be destroyed.
    static void drain(fileaio_ctx *c) {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(long_timeout_ms);
        fileaio_req *out[64];
        while (pending(c) != 0 && std::chrono::steady_clock::now() < until) {
            size_t cnt = 0;
            fileaio_ctx_wait(c, 1, 100, out, 64, &cnt);
        }
    }

    temp_dir dir_;
    std::vector<fileaio_ctx *> ctxs_;
    std::vector<fileaio_req *> reqs_;
    std::vector<int> fds_;
};

}  // namespace fileaio::test
