// The fixture of the tests of one backend (tests/backends): contexts, requests and files that are
// cleaned up at the end, and reap/drain helpers. Skips with the probe's reason when the backend is
// unavailable here. (The conformance fixture, tests/conformance/fixture.hpp, is the same for a
// backend given as the test's parameter.)
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/backend_resources.hpp"

namespace fileaio::test {

template <fileaio_backend kind>
class backend_fixture : public ::testing::Test, protected backend_resources {
protected:
    void SetUp() override {
        std::string why;
        if (!backend_available(kind, &why)) GTEST_SKIP() << why;
    }

    void TearDown() override { release_all(); }

    static int create(fileaio_ctx **c, uint32_t max_reqs, fileaio_backend b = kind, uint32_t flags = 0) {
        return fileaio_ctx_create_ex(c, max_reqs, flags, b);
    }

    fileaio_ctx *make_ctx(uint32_t max_reqs, uint32_t flags = 0) { return make_ctx_on(kind, max_reqs, flags); }
};

}  // namespace fileaio::test
