// The conformance fixture plus the FUSE test filesystem (support/test_fs.hpp): each test gets its
// own mount, and skips with the reason where the backend or FUSE is unavailable.
//
// TearDown order matters: the gate is opened first, so requests still blocked in the daemon
// finish and the contexts drain; then the contexts go and the files are closed; the mount goes
// last, when nothing on it is open any more (so the unmount never has to abort the connection).
#pragma once

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <new>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "support/test_fs.hpp"
#include "support/watchdog.hpp"

namespace fileaio::test {

// "Promptly": an upper bound for things that should take microseconds, generous enough for a
// loaded machine or a sanitizer build. Never a performance claim.
constexpr std::chrono::milliseconds prompt_bound{2000};
// How long a test waits for requests to reach the daemon (a safety net, never expected to expire).
constexpr std::chrono::milliseconds reach_daemon_timeout{long_timeout_ms};

// A zeroed buffer aligned for O_DIRECT (4 KiB suits every filesystem here, FUSE included).
class aligned_buffer {
public:
    static constexpr size_t alignment = 4096;
    explicit aligned_buffer(size_t size) : size_(size) {
        void *p = nullptr;
        if (posix_memalign(&p, alignment, size) != 0) throw std::bad_alloc();
        data_ = static_cast<unsigned char *>(p);
        std::fill(data_, data_ + size, 0);
    }
    ~aligned_buffer() { std::free(data_); }
    aligned_buffer(const aligned_buffer &) = delete;
    aligned_buffer &operator=(const aligned_buffer &) = delete;
    unsigned char *data() { return data_; }
    unsigned char *at(size_t off) { return data_ + off; }
    size_t size() const { return size_; }

private:
    unsigned char *data_ = nullptr;
    size_t size_;
};

// Checks that buf[0..size) holds pattern_byte(offset + i, seed): the gate's bytes, or the eio
// file's before anything is written (seed 0).
inline ::testing::AssertionResult holds_pattern(const unsigned char *buf, size_t size, uint64_t offset,
                                                uint32_t seed = 0) {
    for (size_t i = 0; i < size; ++i)
        if (buf[i] != pattern_byte(offset + i, seed))
            return ::testing::AssertionFailure() << "byte " << offset + i << " is " << int{buf[i]} << ", expected "
                                                 << int{pattern_byte(offset + i, seed)};
    return ::testing::AssertionSuccess();
}

class fuse_backend_test : public backend_test {
protected:
    void SetUp() override {
        backend_test::SetUp();
        if (IsSkipped()) return;
        std::string why;
        fs_ = test_fs::mount(&why);
        if (!fs_) GTEST_SKIP() << "FUSE test filesystem unavailable: " << why;
    }

    void TearDown() override {
        if (fs_) fs_->release_all();  // before the drain: requests blocked in the daemon finish
        for (auto &fs : extra_fs_) fs->release_all();
        backend_test::TearDown();  // drains and destroys the contexts, closes the files
        fds_.clear();
        extra_fs_.clear();
        fs_.reset();
    }

    // Opens a file of the mount; closed by TearDown, before the unmount. The same flags on every
    // backend: a backend that cannot serve a buffered FUSE file without blocking fails the test.
    int open_on_fs(const std::string &path, int flags) {
        int fd = open_file(path, flags);
        if (fd >= 0) fds_.push_back(fd);
        return fd;
    }

    // Mounts another instance of the test filesystem with other options (test_fs::options); it
    // is released and unmounted like fs_. Skips the test where it cannot be mounted (use
    // through `if (!extra) return;`).
    test_fs *mount_extra(const test_fs::options &opts) {
        std::string why;
        auto fs = test_fs::mount(&why, opts);
        if (!fs) {
            ADD_FAILURE() << "the first mount worked, a second did not: " << why;
            return nullptr;
        }
        extra_fs_.push_back(std::move(fs));
        return extra_fs_.back().get();
    }

    // Runs fn() on this thread and tells whether it returned within prompt_bound. If it did not
    // (it waits for the daemon), a watchdog opens the gates for good, so fn() returns and the
    // test fails instead of hanging.
    template <typename F>
    bool returns_promptly(F &&fn) {
        return returns_within(prompt_bound, "a call waiting for the FUSE daemon", std::forward<F>(fn), [&] {
            fs_->release_all();
            for (auto &fs : extra_fs_) fs->release_all();
        });
    }

    // Submits reqs[0..n) and checks that submit returned without waiting for the daemon (the
    // backend must not run the I/O on the submitting thread).
    bool submit_promptly(fileaio_ctx *c, fileaio_req *const *reqs, size_t n) {
        int rc = 1;
        bool prompt = returns_promptly([&] { rc = fileaio_ctx_submit(c, reqs, n, nullptr); });
        EXPECT_TRUE(prompt) << "submit blocked until the FUSE daemon answered: the " << fileaio_backend_name(GetParam())
                            << " backend ran the I/O on the submitting thread";
        EXPECT_EQ(rc, 0) << fileaio_errname(rc);
        return prompt && rc == 0;
    }

    // A zeroed, O_DIRECT-aligned buffer that lives until the fixture is destroyed, after
    // TearDown has drained the contexts: when a test fails with requests in flight, they
    // complete (TearDown opens the gate) into memory that is still there.
    aligned_buffer &make_buffer(size_t size) {
        buffers_.push_back(std::make_unique<aligned_buffer>(size));
        return *buffers_.back();
    }

    // Destroys a context made by make_ctx; on success the fixture forgets it.
    int destroy_ctx(fileaio_ctx *c) {
        int rc = fileaio_ctx_destroy(c);
        if (rc == 0) std::erase(ctxs_, c);
        return rc;
    }

    std::unique_ptr<test_fs> fs_;
    std::vector<std::unique_ptr<test_fs>> extra_fs_;
    std::vector<std::unique_ptr<aligned_buffer>> buffers_;
};

}  // namespace fileaio::test
