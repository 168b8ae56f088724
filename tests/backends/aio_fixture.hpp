// A fixture for the tests of one backend (tests/backends): contexts, requests and files that are
// cleaned up at the end, and reap/drain helpers. Skips with the probe's reason when the backend is
// unavailable here.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/temp_dir.hpp"

namespace fileaio::test {

constexpr uint32_t long_timeout_ms = 10000;  // a safety net against hangs, never expected to expire

template <fileaio_backend kind>
class backend_fixture : public ::testing::Test {
protected:
    void SetUp() override {
        char reason[256] = "";
        if (fileaio_backend_probe(kind, reason, sizeof reason) != 0)
            GTEST_SKIP() << fileaio_backend_name(kind) << " unavailable: " << reason;
    }

    void TearDown() override {
        for (fileaio_ctx *c : ctxs_) {
            drain(c);
            EXPECT_EQ(fileaio_ctx_destroy(c), 0);
        }
        for (fileaio_req *r : reqs_) EXPECT_EQ(fileaio_req_destroy(r), 0);
        for (int fd : fds_) ::close(fd);
    }

    static int create(fileaio_ctx **c, uint32_t max_reqs, fileaio_backend b = kind,
                      uint32_t flags = 0) {
        return fileaio_ctx_create_ex(c, max_reqs, flags, b);
    }

    fileaio_ctx *make_ctx(uint32_t max_reqs, uint32_t flags = 0) {
        fileaio_ctx *c = nullptr;
        int rc = create(&c, max_reqs, kind, flags);
        EXPECT_EQ(rc, 0) << fileaio_errname(rc);
        if (c != nullptr) ctxs_.push_back(c);
        return c;
    }

    std::vector<fileaio_req *> make_reqs(size_t n) {
        std::vector<fileaio_req *> v;
        for (size_t i = 0; i < n; ++i) {
            fileaio_req *r = nullptr;
            EXPECT_EQ(fileaio_req_create(&r), 0);
            reqs_.push_back(r);
            v.push_back(r);
        }
        return v;
    }

    int keep_fd(int fd) {
        if (fd >= 0) fds_.push_back(fd);
        return fd;
    }

    int pattern_file(const std::string &name, uint64_t size, int flags = O_RDWR) {
        return keep_fd(open_file(dir_.make_file(name, size), flags));
    }

    static uint64_t pending(fileaio_ctx *c) {
        fileaio_stats st{};
        fileaio_ctx_get_stats(c, &st);
        return st.pending;
    }

    static std::vector<fileaio_req *> reap(fileaio_ctx *c, size_t n) {
        std::vector<fileaio_req *> out(n > 0 ? n : 1);
        size_t got = 0;
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(long_timeout_ms);
        while (got < n && std::chrono::steady_clock::now() < until) {
            size_t cnt = 0;
            int rc = fileaio_ctx_wait(c, n - got, long_timeout_ms, out.data() + got, n - got, &cnt);
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
