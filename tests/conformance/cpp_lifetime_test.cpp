// The C++ API's lifetimes (docs/API.md, "C++: lifetimes"), on every backend: a fileaio::request
// destroyed while its I/O is in flight is cancelled or orphaned (freed by the wait that hands it
// back, never handed to the caller), and a fileaio::context destroyed with I/O in flight waits it
// out before it returns. A FUSE read held at the gate keeps the I/O in flight deterministically.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "fileaio/fileaio.hpp"
#include "fuse_fixture.hpp"
#include "support/at_exit.hpp"

namespace fileaio::test {
namespace {

using namespace std::chrono_literals;


class cpp_lifetime_test : public fuse_backend_test {
protected:
    fileaio::backend cpp_backend() const { return static_cast<fileaio::backend>(GetParam()); }
    context_options options(uint32_t max_reqs) const {
        context_options o;
        o.max_reqs = max_reqs;
        o.backend = cpp_backend();
        return o;
    }
    std::span<std::byte> bytes(aligned_buffer &b) { return {reinterpret_cast<std::byte *>(b.data()), b.size()}; }
};

TEST_P(cpp_lifetime_test, request_destroyed_in_flight_never_comes_back_to_the_caller) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    int file = keep_fd(open_file(dir_.make_file("f", 4096), O_RDONLY));
    ASSERT_GE(file, 0);
    aligned_buffer &held = make_buffer(4096);
    aligned_buffer &other = make_buffer(4096);
    context ctx(options(8));
    at_exit open_gate{[&] { fs_->release_all(); }};
    {
        request r;
        ASSERT_FALSE(r.prepare_read(gate, 0, bytes(held)));
        ASSERT_FALSE(ctx.submit(r));
        ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    }  // destroyed in flight: cancelled, or orphaned until a wait hands it back
    fs_->release_all();

    request mine;
    ASSERT_FALSE(mine.prepare_read(file, 0, bytes(other)));
    ASSERT_FALSE(ctx.submit(mine));
    std::array<request_ref, 4> done;
    while (mine.state() != req_state::completed) {
        auto [ec, n] = ctx.wait(done, 1, 10s);
        ASSERT_FALSE(ec) << ec.message();
        for (request_ref r : std::span(done).first(n))
            EXPECT_TRUE(r == mine) << "wait handed back a request whose fileaio::request is gone";
    }
    EXPECT_EQ(mine.get_result().transferred, 4096u);
    std::error_code ec;
    EXPECT_EQ(ctx.drain(ec), 0u) << "drain handed back a request";
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(ctx.get_stats().pending, 0u);
    EXPECT_FALSE(ctx.close()) << "the destroyed request is still pending";
}

TEST_P(cpp_lifetime_test, context_destroyed_with_io_in_flight_returns_only_when_it_is_done) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    aligned_buffer &buf = make_buffer(4096);
    request r;  // outlives the context
    auto ctx = std::make_unique<context>(options(8));
    at_exit open_gate{[&] { fs_->release_all(); }};
    ASSERT_FALSE(r.prepare_read(gate, 0, bytes(buf)));
    ASSERT_FALSE(ctx->submit(r));
    ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    // The gate opens once the destructor has begun (the opener never touches the context: it
    // would race with its destruction). After the destructor the read must be over and handed
    // back, whether the destructor found it still held or already done.
    std::atomic<bool> destroying{false};
    std::thread opener([&] {
        while (!destroying.load()) std::this_thread::yield();
        fs_->release_all();
    });
    destroying.store(true);
    ctx.reset();
    opener.join();
    EXPECT_EQ(r.state(), req_state::completed) << "the context went while its read was in flight";
    if (r.state() == req_state::completed) {
        result res = r.get_result();
        EXPECT_FALSE(res.error) << res.error.message();
        EXPECT_EQ(res.transferred, 4096u);
        EXPECT_TRUE(holds_pattern(buf.data(), 4096, 0));
    }
}

TEST_P(cpp_lifetime_test, orphan_is_freed_by_the_context_destructor) {
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    aligned_buffer &buf = make_buffer(4096);
    auto ctx = std::make_unique<context>(options(8));
    at_exit open_gate{[&] { fs_->release_all(); }};
    {
        request r;
        ASSERT_FALSE(r.prepare_read(gate, 0, bytes(buf)));
        ASSERT_FALSE(ctx->submit(r));
        ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
    }
    fs_->release_all();
    ctx.reset();  // waits for the orphan (if the cancel did not stop it) and frees it
    EXPECT_FALSE(detail::orphan_registry::instance().attention()) << "an orphan was never freed";
}

// The debug report names the request a destructor gave up in flight (tests build without NDEBUG,
// where it is on unless FILEAIO_REPORT_LIFETIMES=0).
TEST_P(cpp_lifetime_test, a_request_destroyed_in_flight_is_reported_by_address) {
    if (!detail::report_lifetimes()) GTEST_SKIP() << "lifetime reports are off (FILEAIO_REPORT_LIFETIMES=0)";
    int gate = open_on_fs(fs_->gate_path(), O_RDONLY);
    ASSERT_GE(gate, 0);
    aligned_buffer &buf = make_buffer(4096);
    context ctx(options(8));
    at_exit open_gate{[&] { fs_->release_all(); }};
    std::string handle;
    {
        request r;
        char text[32];
        std::snprintf(text, sizeof text, "%p", static_cast<void *>(r.native_handle()));
        handle = text;
        ASSERT_FALSE(r.prepare_read(gate, 0, bytes(buf)));
        ASSERT_FALSE(ctx.submit(r));
        ASSERT_TRUE(fs_->wait_for_in_flight(1, reach_daemon_timeout));
        ::testing::internal::CaptureStderr();
    }
    std::string report = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(report.find("request " + handle + " destroyed in flight"), std::string::npos) << report;
    fs_->release_all();
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(cpp_lifetime_test);

}  // namespace
}  // namespace fileaio::test
