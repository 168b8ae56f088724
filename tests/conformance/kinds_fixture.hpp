// The conformance fixture for data and requests: every test runs once per backend and per
// descriptor kind (support/file_kinds.hpp), with the same body and the same inputs everywhere.
// It skips where the backend is unavailable or this machine cannot make the kind (the reason
// names what is missing), and where a test says the operation means nothing on the kind.
#pragma once

#include <memory>
#include <string>
#include <tuple>

#include "fuse_fixture.hpp"
#include "support/file_kinds.hpp"

namespace fileaio::test {

class kind_test : public ::testing::TestWithParam<std::tuple<fileaio_backend, file_kind>>,
                  protected backend_resources {
protected:
    void SetUp() override {
        std::string why;
        if (!backend_available(backend(), &why)) GTEST_SKIP() << why;
        files_ = std::make_unique<kind_files>(dir_);
    }

    // The gates open first (requests held in a daemon finish), then the contexts drain and go,
    // then the descriptors close, and the file systems they live on go last.
    void TearDown() override {
        for (test_fs *fs : fss_) fs->release_all();
        release_all();
        files_.reset();
    }

    fileaio_backend backend() const { return std::get<0>(GetParam()); }
    file_kind kind() const { return std::get<1>(GetParam()); }

    fileaio_ctx *make_ctx(uint32_t max_reqs, uint32_t flags = 0) { return make_ctx_on(backend(), max_reqs, flags); }

    // A descriptor of this test's kind holding `size` pattern bytes (kind_files::make); skips the
    // test with the reason when this machine cannot make it. Use through OPEN_TARGET.
    void open_target(uint64_t size, io_target *t, const test_fs::options &fs_opts = test_fs::options{}) {
        std::string why;
        if (!files_->make(kind(), size, t, &why, fs_opts)) GTEST_SKIP() << why;
        if (t->fs != nullptr) fss_.push_back(t->fs);
    }

    void end_of_stream(io_target &t) { files_->end_of_stream(t); }

    // A zeroed, O_DIRECT-aligned buffer that outlives the contexts (see fuse_backend_test).
    aligned_buffer &make_buffer(size_t size) {
        buffers_.push_back(std::make_unique<aligned_buffer>(size));
        return *buffers_.back();
    }

    // The offset at which a read at `offset` of a target made with pattern bytes finds them:
    // the offset itself, or for a stream the position the earlier reads left.
    static uint64_t expected_offset(const io_target &t, uint64_t offset, uint64_t stream_pos) {
        return t.seekable() ? offset : stream_pos;
    }

    std::unique_ptr<kind_files> files_;
    std::vector<test_fs *> fss_;
    std::vector<std::unique_ptr<aligned_buffer>> buffers_;
};

// Opens a target of the test's kind, or returns from the test (skipped, with the reason).
#define OPEN_TARGET(t, size, ...)                         \
    open_target((size), &(t) __VA_OPT__(, ) __VA_ARGS__); \
    if (IsSkipped() || HasFatalFailure()) return

#define FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND_AND_KIND(suite)                                                  \
    INSTANTIATE_TEST_SUITE_P(                                                                                  \
        every_backend_and_kind, suite,                                                                         \
        ::testing::Combine(::testing::ValuesIn(all_backends()), ::testing::ValuesIn(all_file_kinds())),       \
        [](const auto &param_info) {                                                                           \
            return backend_param_name(std::get<0>(param_info.param)) + "_" +                                  \
                   file_kind_name(std::get<1>(param_info.param));                                              \
        })

}  // namespace fileaio::test
