// Backend selection: AUTO's order, FILEAIO_BACKEND, honest probes, no silent substitution.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "fileaio/fileaio.h"
#include "support/temp_dir.hpp"

namespace fileaio::test {
namespace {

// Sets FILEAIO_BACKEND for one test and restores it after.
class env_backend {
public:
    explicit env_backend(const char *value) {
        const char *old = std::getenv("FILEAIO_BACKEND");
        had_ = old != nullptr;
        if (had_) old_ = old;
        if (value != nullptr) {
            setenv("FILEAIO_BACKEND", value, 1);
        } else {
            unsetenv("FILEAIO_BACKEND");
        }
    }
    ~env_backend() {
        if (had_) {
            setenv("FILEAIO_BACKEND", old_.c_str(), 1);
        } else {
            unsetenv("FILEAIO_BACKEND");
        }
    }

private:
    bool had_ = false;
    std::string old_;
};

TEST(registry, backend_names_are_fixed) {
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_AUTO), "auto");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_IO_URING), "io_uring");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_LINUX_AIO), "linux_aio");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_POSIX_AIO), "posix_aio");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_THREAD_POOL), "thread_pool");
    EXPECT_STREQ(fileaio_backend_name(static_cast<fileaio_backend>(7)), "unknown");
}

TEST(registry, every_probe_gives_a_reason_and_auto_names_the_backend_it_picks) {
    env_backend unset(nullptr);
    for (fileaio_backend b : all_backends()) {
        char reason[256] = "";
        int rc = fileaio_backend_probe(b, reason, sizeof reason);
        EXPECT_TRUE(rc == 0 || rc == FILEAIO_E_NOT_SUPPORTED) << fileaio_errname(rc);
        EXPECT_NE(reason[0], '\0') << fileaio_backend_name(b);
    }
    char reason[256] = "";
    ASSERT_EQ(fileaio_backend_probe(FILEAIO_BACKEND_AUTO, reason, sizeof reason), 0);
    fileaio_ctx *c = nullptr;
    ASSERT_EQ(fileaio_ctx_create(&c, 8, 0), 0);
    fileaio_backend got = fileaio_ctx_get_backend(c);
    EXPECT_NE(got, FILEAIO_BACKEND_AUTO);
    EXPECT_NE(got, FILEAIO_BACKEND_POSIX_AIO) << "AUTO never picks posix_aio";
    EXPECT_NE(std::string(reason).find(fileaio_backend_name(got)), std::string::npos)
        << "AUTO's reason '" << reason << "' does not name " << fileaio_backend_name(got);
    // AUTO picks the first available in the order io_uring, linux_aio, thread_pool.
    for (fileaio_backend b : {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_THREAD_POOL}) {
        if (fileaio_backend_probe(b, nullptr, 0) == 0) {
            EXPECT_EQ(got, b);
            break;
        }
    }
    EXPECT_EQ(fileaio_ctx_destroy(c), 0);
}

TEST(registry, fileaio_backend_variable_pins_auto_and_never_substitutes) {
    {
        env_backend pin("thread_pool");
        fileaio_ctx *c = nullptr;
        ASSERT_EQ(fileaio_ctx_create(&c, 8, 0), 0);
        EXPECT_EQ(fileaio_ctx_get_backend(c), FILEAIO_BACKEND_THREAD_POOL);
        EXPECT_EQ(fileaio_ctx_destroy(c), 0);
        char reason[256] = "";
        EXPECT_EQ(fileaio_backend_probe(FILEAIO_BACKEND_AUTO, reason, sizeof reason), 0);
        EXPECT_NE(std::string(reason).find("FILEAIO_BACKEND"), std::string::npos) << reason;
    }
    {
        env_backend bogus("no_such_backend");
        fileaio_ctx *c = nullptr;
        EXPECT_EQ(fileaio_ctx_create(&c, 8, 0), FILEAIO_E_NOT_SUPPORTED);
        char reason[256] = "";
        EXPECT_EQ(fileaio_backend_probe(FILEAIO_BACKEND_AUTO, reason, sizeof reason), FILEAIO_E_NOT_SUPPORTED);
        EXPECT_NE(std::string(reason).find("no_such_backend"), std::string::npos) << reason;
    }
    for (fileaio_backend b : all_backends()) {
        if (fileaio_backend_probe(b, nullptr, 0) == 0) continue;
        env_backend pin(fileaio_backend_name(b));
        fileaio_ctx *c = nullptr;
        EXPECT_EQ(fileaio_ctx_create(&c, 8, 0), FILEAIO_E_NOT_SUPPORTED)
            << "FILEAIO_BACKEND=" << fileaio_backend_name(b) << " is unavailable and must not be substituted";
        EXPECT_EQ(fileaio_ctx_create_ex(&c, 8, 0, b), FILEAIO_E_NOT_SUPPORTED);
        fileaio_limits lim{};
        EXPECT_EQ(fileaio_get_limits(b, &lim), FILEAIO_E_NOT_SUPPORTED);
    }
}

TEST(registry, dio_alignment_of_a_real_file_is_a_power_of_two) {
    temp_dir dir;
    int fd = open_file(dir.make_file("f", 4096), O_RDONLY);
    ASSERT_GE(fd, 0);
    fileaio_dio_alignment a{};
    ASSERT_EQ(fileaio_get_dio_alignment(fd, &a), 0);
    EXPECT_GT(a.mem_align, 0u);
    EXPECT_GT(a.offset_align, 0u);
    EXPECT_EQ(a.mem_align & (a.mem_align - 1), 0u);
    EXPECT_EQ(a.offset_align & (a.offset_align - 1), 0u);
    ::close(fd);
    EXPECT_EQ(fileaio_get_dio_alignment(fd, &a), -EBADF);
    EXPECT_EQ(fileaio_get_dio_alignment(-1, &a), FILEAIO_E_INVALID_PARAMETER);
}

}  // namespace
}  // namespace fileaio::test
