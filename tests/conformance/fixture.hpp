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

#define FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(suite)                                        \
    INSTANTIATE_TEST_SUITE_P(every_backend, suite, ::testing::ValuesIn(all_backends()), \
                             [](const auto &param_info) { return backend_param_name(param_info.param); })

}  // namespace fileaio::test
