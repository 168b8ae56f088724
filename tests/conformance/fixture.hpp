// The conformance fixture: every test in tests/conformance runs once per backend kind and skips,
// with the probe's reason, where that backend is unavailable.
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/backend_resources.hpp"

namespace fileaio::test {

class backend_test : public ::testing::TestWithParam<fileaio_backend>, protected backend_resources {
protected:
    void SetUp() override {
        std::string why;
        if (!backend_available(GetParam(), &why)) GTEST_SKIP() << why;
    }

    void TearDown() override { release_all(); }

    fileaio_ctx *make_ctx(uint32_t max_reqs, uint32_t flags = 0, uint32_t threads = 0) {
        return make_ctx_on(GetParam(), max_reqs, flags, threads);
    }
};

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

#define FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(suite)                                        \
    INSTANTIATE_TEST_SUITE_P(every_backend, suite, ::testing::ValuesIn(all_backends()), \
                             [](const auto &param_info) { return backend_param_name(param_info.param); })

}  // namespace fileaio::test
