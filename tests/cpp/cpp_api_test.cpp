// The C++ API (fileaio.hpp): RAII, spans, chrono timeouts, error codes that compare with std::errc.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "fileaio/fileaio.hpp"
#include "support/temp_dir.hpp"

namespace fileaio::test {
namespace {

using namespace std::chrono_literals;

TEST(cpp_api, error_codes_carry_the_fileaio_category_and_os_errors_compare_with_errc) {
    std::error_code timeout = make_error_code(errc::timeout);
    EXPECT_EQ(timeout.value(), FILEAIO_E_TIMEOUT);
    EXPECT_STREQ(timeout.category().name(), "fileaio");
    EXPECT_EQ(timeout.message(), fileaio_strerror(FILEAIO_E_TIMEOUT));
    EXPECT_EQ(timeout, errc::timeout);
    std::error_code eio = to_error_code(-EIO);
    EXPECT_EQ(eio, std::errc::io_error);
    EXPECT_NE(eio, std::errc::no_space_on_device);
    EXPECT_FALSE(to_error_code(0));
}

TEST(cpp_api, write_then_read_round_trip_with_raii_types) {
    temp_dir dir;
    int fd = open_file(dir.make_file("f", 0), O_RDWR);
    ASSERT_GE(fd, 0);
    context ctx(8, 0, backend::thread_pool);
    EXPECT_EQ(ctx.backend(), backend::thread_pool);
    EXPECT_EQ(ctx.max_requests(), 8u);

    std::array<request, 2> reqs;
    std::vector<std::byte> out(8192, std::byte{0x5a}), in(8192);
    ASSERT_FALSE(reqs[0].prepare_write(fd, 0, std::span(out).first(4096)));
    ASSERT_FALSE(reqs[1].prepare_write(fd, 4096, std::span(out).subspan(4096)));
    ASSERT_FALSE(ctx.submit(std::span(reqs)));
    std::array<fileaio_req *, 2> done{};
    wait_result w = ctx.wait(done, 2, 10s);
    ASSERT_FALSE(w.error) << w.error.message();
    EXPECT_EQ(w.count, 2u);
    for (auto &r : reqs) {
        result res = r.get_result();
        EXPECT_TRUE(res);
        EXPECT_EQ(res.transferred, 4096u);
        EXPECT_EQ(r.state(), req_state::completed);
    }
    int tag = 0;
    ASSERT_FALSE(reqs[0].prepare_read(fd, 0, in, &tag));
    ASSERT_FALSE(ctx.submit(reqs[0]));
    w = ctx.wait(done, 1, forever);
    ASSERT_EQ(w.count, 1u);
    request_ref got(done[0]);
    EXPECT_EQ(got.user_as<int>(), &tag);
    EXPECT_EQ(got.get_result().transferred, 8192u);
    EXPECT_EQ(std::memcmp(in.data(), out.data(), in.size()), 0);
    ::close(fd);
}

TEST(cpp_api, errors_come_back_as_codes_not_exceptions_on_the_hot_path) {
    context ctx(2, wait_without_pending, backend::thread_pool);
    request r;
    std::array<std::byte, 16> buf{};
    EXPECT_EQ(r.prepare_read(-1, 0, buf), errc::invalid_parameter);
    EXPECT_EQ(ctx.submit(r), errc::not_prepared);
    std::array<fileaio_req *, 1> done{};
    EXPECT_EQ(ctx.wait(done, 1, 0ms).error, errc::timeout);
    ASSERT_FALSE(ctx.wakeup());
    EXPECT_EQ(ctx.wait(done, 1, forever).error, errc::interrupted);
    ASSERT_FALSE(r.prepare_read(12345, 0, buf));  // not an open fd: the kernel says EBADF
    ASSERT_FALSE(ctx.submit(r));
    EXPECT_EQ(ctx.close(), errc::busy);
    ASSERT_EQ(ctx.wait(done, 1, 10s).count, 1u);
    EXPECT_EQ(r.get_result().error, std::errc::bad_file_descriptor);
    EXPECT_FALSE(ctx.close());
    EXPECT_FALSE(ctx);
}

TEST(cpp_api, creation_failures_throw_or_report_without_throwing) {
    EXPECT_THROW(context(0), std::system_error);
    std::error_code ec;
    context c = context::create(context_options{.max_reqs = 0}, ec);
    EXPECT_EQ(ec, errc::invalid_parameter);
    EXPECT_FALSE(c);
    request r = request::create(ec);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(r);
    request moved = std::move(r);
    EXPECT_TRUE(moved);
    EXPECT_FALSE(r);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    auto p = probe(backend::thread_pool);
    EXPECT_TRUE(p) << p.reason;
    EXPECT_STREQ(name(backend::thread_pool), "thread_pool");
}

// Waits hand back C++ views in place: a span of request_ref is filled like an array of handles,
// results and typed cookies are read from it, and it compares equal to the caller's own request.
TEST(cpp_api, wait_hands_back_request_refs_with_typed_cookies) {
    temp_dir dir;
    int fd = open_file(dir.make_file("f", 8192), O_RDWR);
    ASSERT_GE(fd, 0);
    context ctx(8, 0, backend::thread_pool);
    struct op {
        int id;
        std::array<std::byte, 4096> buf;
    };
    std::array<op, 2> ops{op{0, {}}, op{1, {}}};
    std::array<request, 2> reqs;
    for (std::size_t i = 0; i < 2; ++i)
        ASSERT_FALSE(reqs[i].prepare_read(fd, static_cast<int64_t>(i * 4096), ops[i].buf, &ops[i]));
    ASSERT_FALSE(ctx.submit(std::span(reqs)));
    std::array<request_ref, 4> done;
    std::size_t got = 0;
    bool seen[2] = {false, false};
    while (got < 2) {
        auto [ec, n] = ctx.wait(done, 1, 10s);
        ASSERT_FALSE(ec) << ec.message();
        for (request_ref r : std::span(done).first(n)) {
            op *o = r.user_as<op>();
            ASSERT_NE(o, nullptr);
            EXPECT_TRUE(r == reqs[static_cast<std::size_t>(o->id)]);  // the caller's own request
            EXPECT_EQ(r.state(), req_state::completed);
            result res = r.get_result();
            EXPECT_TRUE(res) << res.error.message();
            EXPECT_EQ(res.transferred, 4096u);
            EXPECT_EQ(static_cast<unsigned char>(o->buf[0]), pattern_byte(static_cast<uint64_t>(o->id) * 4096));
            seen[o->id] = true;
        }
        got += n;
    }
    EXPECT_TRUE(seen[0] && seen[1]);
    ::close(fd);
}

TEST(cpp_api, the_pollable_descriptor_as_an_error_code) {
    context ctx(8, 0, backend::thread_pool);
    int fd = -1;
    ASSERT_FALSE(ctx.get_fd(fd));
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ctx.native_fd(), fd);
    context moved = std::move(ctx);
    int untouched = 42;
    EXPECT_EQ(ctx.get_fd(untouched), errc::invalid_handle);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(untouched, 42);
    EXPECT_EQ(ctx.native_fd(), -1);
    EXPECT_EQ(moved.native_fd(), fd);
}

TEST(cpp_api, names_of_codes_states_and_backends) {
    EXPECT_STREQ(errname(make_error_code(errc::timeout)), "FILEAIO_E_TIMEOUT");
    EXPECT_STREQ(errname(to_error_code(-EIO)), "EIO");
    EXPECT_STREQ(errname(std::make_error_code(std::errc::bad_file_descriptor)), "EBADF");
    EXPECT_STREQ(errname(std::error_code{}), "OK");
    EXPECT_STREQ(name(req_state::submitted), "submitted");
    EXPECT_STREQ(name(backend::io_uring), "io_uring");
    EXPECT_STREQ(version(), fileaio_version());
}

}  // namespace
}  // namespace fileaio::test
