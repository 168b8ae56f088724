// Progress with nobody waiting (API.md "Asynchrony"): the rest of a short transfer goes on while
// no thread is inside wait, so a wait that comes later (timeout 0) finds the request done. A read
// of a pipe comes back short when the writer has written only part of what it asks for; the
// pipe is then emptied by the continuation alone, which the test sees from the outside
// (FIONREAD), never calling wait until then. (The wait that follows may still block a moment: an
// empty pipe shows that the last read() took the bytes, not that it has returned.)
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "fixture.hpp"

namespace fileaio::test {
namespace {

using unattended = backend_test;

constexpr size_t total = 8192;
constexpr size_t first_part = 100;
constexpr auto liveness = std::chrono::seconds(10);  // a continuation that never starts

// Bytes waiting in the pipe, or -1.
int unread(int fd) {
    int n = -1;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

// Polls (never through the context) until the pipe is empty or the liveness bound passes.
bool pipe_drains(int fd) {
    const auto until = std::chrono::steady_clock::now() + liveness;
    while (unread(fd) != 0) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling an outside fact
    }
    return true;
}

TEST_P(unattended, the_rest_of_a_short_pipe_read_is_read_with_nobody_waiting) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    keep_fd(p[0]);
    keep_fd(p[1]);
    fileaio_ctx *c = make_ctx(4);
    fileaio_req *r = make_req();
    std::vector<unsigned char> in(total), out(total, 0);
    for (size_t i = 0; i < total; ++i) in[i] = static_cast<unsigned char>(i * 13 + 1);

    ASSERT_EQ(fileaio_req_prepare_read(r, p[0], 0, out.data(), total, nullptr), 0);
    ASSERT_EQ(write(p[1], in.data(), first_part), static_cast<ssize_t>(first_part));
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    // The first part is taken by the read (which then has to go on for the rest).
    ASSERT_TRUE(pipe_drains(p[0])) << "the read never took the first bytes";
    ASSERT_EQ(write(p[1], in.data() + first_part, total - first_part), static_cast<ssize_t>(total - first_part));
    EXPECT_TRUE(pipe_drains(p[0])) << "the rest of the short read did not start while nobody waited";

    // The pipe is empty once the last read() took the bytes; the request completes just after.
    fileaio_req *got[1] = {};
    size_t n = 0;
    EXPECT_EQ(fileaio_ctx_wait(c, 1, long_timeout_ms, got, 1, &n), 0);
    ASSERT_EQ(n, 1u);
    EXPECT_EQ(got[0], r);
    size_t moved = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &moved), 0);
    EXPECT_EQ(moved, total);
    EXPECT_EQ(std::memcmp(out.data(), in.data(), total), 0);
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(unattended);

}  // namespace
}  // namespace fileaio::test
