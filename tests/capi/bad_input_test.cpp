// Every C function of fileaio.h called with every class of invalid argument (API.md,
// "Results and errors" and each function's checks). The cases are tables: one row per call,
// with the code the contract promises. After every failing call the test checks that nothing
// changed: each request keeps its state, user pointer and result; each context keeps its
// counters; an output pointer stays untouched; and a "dead" handle (a zero-filled block that
// is not a live object) is neither accepted nor written to.
//
// Contexts use the thread_pool backend, which is always available.

#include <fileaio/fileaio.h>

#include <gtest/gtest.h>

#include "invalid_enum_shim.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace {

// ---- Constants of the contract and of this test ----

constexpr int k_iov_max = 1024;  // API.md: iovcnt > IOV_MAX is invalid; IOV_MAX is 1024 on Linux
#ifdef IOV_MAX
static_assert(IOV_MAX == k_iov_max);
#endif
constexpr std::size_t k_ssize_max = static_cast<std::size_t>(SSIZE_MAX);
constexpr std::size_t k_size_max = std::numeric_limits<std::size_t>::max();
constexpr std::int64_t k_int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t k_int64_min = std::numeric_limits<std::int64_t>::min();

constexpr std::size_t k_file_size = 4096;   // bytes in the test file
constexpr std::size_t k_io_size = 16;       // bytes each real request moves
constexpr std::size_t k_dead_size = 4096;   // the zero-filled "not a live object" block
constexpr std::uint32_t k_ctx_max_reqs = 8;
constexpr std::uint32_t k_small_max_reqs = 1;  // an empty context that cannot take two
constexpr std::uint32_t k_busy_max_reqs = 2;   // a context with one request pending, room for one more
constexpr std::uint32_t k_drain_timeout_ms = 10000;
constexpr auto k_no_request_deadline = std::chrono::seconds(2);  // a wait that should not block at all
constexpr std::size_t k_wait_capacity = 4;
constexpr std::size_t k_untouched = 0xdeadbeef;  // sentinel for *submitted / *count
constexpr int k_fd_sentinel = -12345;              // sentinel for *fd of get_fd
constexpr int k_closed_fd_floor = 512;           // a closed fd above every fd the process uses

// The library's own codes, from the public table.
struct library_code {
    int code;
    const char *name;
    const char *text;
};
constexpr library_code k_library_codes[] = {
#define FILEAIO_TEST_CODE_ROW_(name, value, text) {FILEAIO_E_##name, "FILEAIO_E_" #name, text},
    FILEAIO_ERRNO_MAP(FILEAIO_TEST_CODE_ROW_)
#undef FILEAIO_TEST_CODE_ROW_
};

constexpr bool library_codes_are_outside_errno_and_distinct()
{
    for (std::size_t i = 0; i < std::size(k_library_codes); ++i) {
        if (k_library_codes[i].code >= -4095) return false;
        for (std::size_t j = i + 1; j < std::size(k_library_codes); ++j)
            if (k_library_codes[i].code == k_library_codes[j].code) return false;
    }
    return true;
}
static_assert(library_codes_are_outside_errno_and_distinct());
static_assert(std::size(k_library_codes) == 16);

constexpr fileaio_backend k_named_backends[] = {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO,
                                                FILEAIO_BACKEND_POSIX_AIO, FILEAIO_BACKEND_THREAD_POOL};

// Out-of-range backend values (99, -1, ...) are made only in C: see invalid_enum_shim.h.

// ---- What "unchanged" means ----

// A block of zeros where a handle is expected: detectably not a live object (the library
// keeps a magic number in each), so every call must answer E_INVALID_HANDLE and write nothing.
struct alignas(64) dead_object {
    std::array<unsigned char, k_dead_size> bytes{};
    bool all_zero() const
    {
        for (unsigned char b : bytes)
            if (b != 0) return false;
        return true;
    }
};

struct request_snapshot {
    int state;
    void *user;
    int result;
    std::size_t transferred;  // compared only for COMPLETED requests

    bool operator==(const request_snapshot &o) const
    {
        return state == o.state && user == o.user && result == o.result &&
               (state != FILEAIO_REQ_COMPLETED || transferred == o.transferred);
    }
};

std::ostream &operator<<(std::ostream &os, const request_snapshot &s)
{
    return os << "{state " << s.state << ", user " << s.user << ", result " << s.result << " ("
              << fileaio_errname(s.result) << "), transferred " << s.transferred << "}";
}

request_snapshot snapshot(const fileaio_req *req)
{
    request_snapshot s{};
    s.transferred = k_untouched;
    s.state = fileaio_req_get_state(req);
    s.user = fileaio_req_get_user(req);
    s.result = fileaio_req_get_result(req, &s.transferred);
    return s;
}

struct stats_snapshot {
    int rc;
    std::uint64_t submitted, completed, canceled, failed, pending;
    bool operator==(const stats_snapshot &) const = default;
};

std::ostream &operator<<(std::ostream &os, const stats_snapshot &s)
{
    return os << "{rc " << s.rc << ", submitted " << s.submitted << ", completed " << s.completed << ", canceled "
              << s.canceled << ", failed " << s.failed << ", pending " << s.pending << "}";
}

stats_snapshot snapshot(const fileaio_ctx *ctx)
{
    fileaio_stats st{};
    int rc = fileaio_ctx_get_stats(ctx, &st);
    return {rc, st.submitted, st.completed, st.canceled, st.failed, st.pending};
}

std::string errname(int code) { return fileaio_errname(code); }

// ---- The world every case can point at ----

struct world {
    std::string dir;
    std::string path;
    int fd = -1;
    int closed_fd = -1;  // was a valid fd number, is closed now

    fileaio_ctx *ctx = nullptr;        // thread_pool, k_ctx_max_reqs, nothing pending
    fileaio_ctx *small_ctx = nullptr;  // thread_pool, k_small_max_reqs, nothing pending
    fileaio_ctx *busy = nullptr;       // thread_pool, k_busy_max_reqs, `submitted` pending

    fileaio_req *fresh = nullptr;      // just created: COMPLETED, result 0, user NULL
    fileaio_req *prepared = nullptr;   // PREPARED (read), user &user_prepared
    fileaio_req *prepared2 = nullptr;  // PREPARED (read), user &user_prepared2
    fileaio_req *prepared3 = nullptr;  // PREPARED (read), user &user_prepared3
    fileaio_req *done = nullptr;       // COMPLETED after a real read of k_io_size bytes, user &user_done
    fileaio_req *submitted = nullptr;  // SUBMITTED on `busy` and never waited for until teardown

    dead_object dead_req_block;
    dead_object dead_ctx_block;
    fileaio_req *dead_req() { return reinterpret_cast<fileaio_req *>(dead_req_block.bytes.data()); }
    fileaio_ctx *dead_ctx() { return reinterpret_cast<fileaio_ctx *>(dead_ctx_block.bytes.data()); }

    std::vector<unsigned char> buf = std::vector<unsigned char>(k_file_size);    // never submitted
    std::vector<unsigned char> done_buf = std::vector<unsigned char>(k_io_size);
    std::vector<unsigned char> busy_buf = std::vector<unsigned char>(k_io_size);  // written by `submitted`
    std::array<iovec, k_iov_max + 1> many_iov{};  // each {buf, 1}
    iovec one_iov{};                              // {buf, k_io_size}

    int user_prepared = 1, user_prepared2 = 2, user_prepared3 = 3, user_done = 4, user_submitted = 5;
    int user_new = 6;  // the user pointer every failing prepare passes

    // Output slots the cases write through; checked afterwards.
    std::size_t n_submitted = k_untouched;
    std::size_t n_completed = k_untouched;
    std::array<fileaio_req *, k_wait_capacity> completed{};
    fileaio_ctx *out_ctx = nullptr;
    fileaio_stats out_stats{};
    int out_fd = k_fd_sentinel;
    fileaio_limits out_limits{};
    fileaio_dio_alignment out_alignment{};

    void build()
    {
        const char *tmp = std::getenv("TMPDIR");
        std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fileaio-capi-XXXXXX";
        std::vector<char> name(templ.begin(), templ.end());
        name.push_back('\0');
        ASSERT_NE(mkdtemp(name.data()), nullptr) << "mkdtemp(" << templ << "): " << std::strerror(errno);
        dir = name.data();
        path = dir + "/data";
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
        ASSERT_GE(fd, 0) << "open(" << path << "): " << std::strerror(errno);
        std::vector<unsigned char> content(k_file_size);
        for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<unsigned char>(i * 7 + 1);
        ASSERT_EQ(::pwrite(fd, content.data(), content.size(), 0), static_cast<ssize_t>(content.size()));

        closed_fd = ::fcntl(fd, F_DUPFD, k_closed_fd_floor);
        ASSERT_GE(closed_fd, 0) << "fcntl(F_DUPFD): " << std::strerror(errno);
        ASSERT_EQ(::close(closed_fd), 0);

        for (iovec &v : many_iov) v = {buf.data(), 1};
        one_iov = {buf.data(), k_io_size};

        ASSERT_EQ(fileaio_ctx_create_ex(&ctx, k_ctx_max_reqs, 0, FILEAIO_BACKEND_THREAD_POOL), 0);
        ASSERT_EQ(fileaio_ctx_create_ex(&small_ctx, k_small_max_reqs, 0, FILEAIO_BACKEND_THREAD_POOL), 0);
        ASSERT_EQ(fileaio_ctx_create_ex(&busy, k_busy_max_reqs, 0, FILEAIO_BACKEND_THREAD_POOL), 0);

        for (fileaio_req **r : {&fresh, &prepared, &prepared2, &prepared3, &done, &submitted}) {
            ASSERT_EQ(fileaio_req_create(r), 0);
            ASSERT_NE(*r, nullptr);
        }
        ASSERT_EQ(fileaio_req_prepare_read(prepared, fd, 0, buf.data(), k_io_size, &user_prepared), 0);
        ASSERT_EQ(fileaio_req_prepare_read(prepared2, fd, 0, buf.data(), k_io_size, &user_prepared2), 0);
        ASSERT_EQ(fileaio_req_prepare_read(prepared3, fd, 0, buf.data(), k_io_size, &user_prepared3), 0);

        // `done`: a real read, completed and returned by wait.
        ASSERT_EQ(fileaio_req_prepare_read(done, fd, 0, done_buf.data(), k_io_size, &user_done), 0);
        std::size_t n = 0;
        ASSERT_EQ(fileaio_ctx_submit(ctx, &done, 1, &n), 0);
        ASSERT_EQ(n, 1u);
        std::size_t got = 0;
        ASSERT_EQ(fileaio_ctx_wait(ctx, 1, k_drain_timeout_ms, completed.data(), completed.size(), &got), 0);
        ASSERT_EQ(got, 1u);
        ASSERT_EQ(completed[0], done);
        std::size_t transferred = 0;
        ASSERT_EQ(fileaio_req_get_result(done, &transferred), 0);
        ASSERT_EQ(transferred, k_io_size);

        // `submitted`: handed to `busy` and left there; it stays SUBMITTED until a wait returns it.
        ASSERT_EQ(fileaio_req_prepare_read(submitted, fd, 0, busy_buf.data(), k_io_size, &user_submitted), 0);
        ASSERT_EQ(fileaio_ctx_submit(busy, &submitted, 1, &n), 0);
        ASSERT_EQ(fileaio_req_get_state(submitted), FILEAIO_REQ_SUBMITTED);
        completed.fill(nullptr);
    }

    // Returns every pending request of ctx through wait, so it can be destroyed.
    static void drain(fileaio_ctx *c)
    {
        if (c == nullptr) return;
        std::array<fileaio_req *, k_wait_capacity> out{};
        for (int round = 0; snapshot(c).pending > 0; ++round) {
            std::size_t got = 0;
            int rc = fileaio_ctx_wait(c, 1, k_drain_timeout_ms, out.data(), out.size(), &got);
            if (rc != 0 || round > 100) {
                ADD_FAILURE() << "could not drain a context: " << errname(rc);
                return;
            }
        }
    }

    void tear_down()
    {
        for (fileaio_ctx *c : {ctx, small_ctx, busy}) drain(c);
        for (fileaio_req *r : {fresh, prepared, prepared2, prepared3, done, submitted})
            EXPECT_EQ(fileaio_req_destroy(r), 0);
        for (fileaio_ctx *c : {ctx, small_ctx, busy}) EXPECT_EQ(fileaio_ctx_destroy(c), 0);
        if (fd >= 0) ::close(fd);
        if (!path.empty()) ::unlink(path.c_str());
        if (!dir.empty()) ::rmdir(dir.c_str());
    }

    struct state {
        std::vector<request_snapshot> requests;
        std::vector<stats_snapshot> contexts;
    };

    state capture() const
    {
        return {{snapshot(fresh), snapshot(prepared), snapshot(prepared2), snapshot(prepared3), snapshot(done),
                 snapshot(submitted)},
                {snapshot(ctx), snapshot(small_ctx), snapshot(busy)}};
    }

    // The contract's "nothing changes" after a failed call.
    void expect_unchanged(const state &before) const
    {
        static const char *const request_names[] = {"fresh", "prepared", "prepared2", "prepared3", "done",
                                                    "submitted"};
        static const char *const context_names[] = {"ctx", "small_ctx", "busy"};
        state now = capture();
        for (std::size_t i = 0; i < now.requests.size(); ++i)
            EXPECT_EQ(now.requests[i], before.requests[i]) << "request `" << request_names[i] << "` changed";
        for (std::size_t i = 0; i < now.contexts.size(); ++i)
            EXPECT_EQ(now.contexts[i], before.contexts[i]) << "context `" << context_names[i] << "` changed";
        EXPECT_TRUE(dead_req_block.all_zero()) << "the library wrote into a dead request handle";
        EXPECT_TRUE(dead_ctx_block.all_zero()) << "the library wrote into a dead context handle";
    }
};

class with_world : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(w.build());
        before = w.capture();
        EXPECT_EQ(before.requests[0].state, FILEAIO_REQ_COMPLETED);
        EXPECT_EQ(before.requests[1].state, FILEAIO_REQ_PREPARED);
        EXPECT_EQ(before.requests[5].state, FILEAIO_REQ_SUBMITTED);
        EXPECT_EQ(before.contexts[2].pending, 1u);
    }
    void TearDown() override { w.tear_down(); }

    world w;
    world::state before;
};

// ============================================================================================
// Table 1: calls that must fail, with the handles and outputs they name.
// ============================================================================================

enum class out_check {
    none,
    submitted_zero,  // *submitted == 0 (nothing was submitted)
    count_zero,      // *count == 0 (wait sets it first)
    ctx_untouched,   // *ctx of a failed create stays NULL
    fd_untouched,    // *fd of a failed get_fd keeps the caller's value
};

struct call_case {
    const char *name;
    int expected;
    int (*call)(world &);
    out_check out = out_check::none;
};

void PrintTo(const call_case &c, std::ostream *os) { *os << c.name; }

constexpr int E_HANDLE = FILEAIO_E_INVALID_HANDLE;
constexpr int E_PARAM = FILEAIO_E_INVALID_PARAMETER;

fileaio_ctx_options valid_options()
{
    fileaio_ctx_options o{};
    o.size = sizeof o;
    o.max_reqs = k_ctx_max_reqs;
    o.flags = 0;
    o.backend = FILEAIO_BACKEND_THREAD_POOL;
    return o;
}

int create_opts_with(world &w, void (*edit)(fileaio_ctx_options &))
{
    fileaio_ctx_options o = valid_options();
    edit(o);
    return fileaio_ctx_create_opts(&w.out_ctx, &o);
}

template <std::size_t N>
int submit(world &w, fileaio_ctx *ctx, const std::array<fileaio_req *, N> &reqs)
{
    return fileaio_ctx_submit(ctx, reqs.data(), reqs.size(), &w.n_submitted);
}

int wait_on(world &w, fileaio_ctx *ctx, std::size_t min_reqs, std::size_t capacity)
{
    return fileaio_ctx_wait(ctx, min_reqs, 0, w.completed.data(), capacity, &w.n_completed);
}

const call_case k_call_cases[] = {
    // ---- fileaio_req_create / destroy ----
    {"req_create_null_out", E_PARAM, [](world &) { return fileaio_req_create(nullptr); }},
    {"req_destroy_dead_handle", E_HANDLE, [](world &w) { return fileaio_req_destroy(w.dead_req()); }},
    {"req_destroy_submitted_is_in_progress", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_destroy(w.submitted); }},

    // ---- prepare_* on a NULL or dead request, and on a SUBMITTED one ----
    {"prepare_read_null_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_read(nullptr, w.fd, 0, w.buf.data(), k_io_size, &w.user_new); }},
    {"prepare_write_null_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_write(nullptr, w.fd, 0, w.buf.data(), k_io_size, &w.user_new); }},
    {"prepare_readv_null_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_readv(nullptr, w.fd, 0, &w.one_iov, 1, &w.user_new); }},
    {"prepare_writev_null_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_writev(nullptr, w.fd, 0, &w.one_iov, 1, &w.user_new); }},
    {"prepare_flush_null_req", E_HANDLE, [](world &w) { return fileaio_req_prepare_flush(nullptr, w.fd, &w.user_new); }},
    {"prepare_datasync_null_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_datasync(nullptr, w.fd, &w.user_new); }},
    {"prepare_read_dead_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_read(w.dead_req(), w.fd, 0, w.buf.data(), k_io_size, &w.user_new); }},
    {"prepare_write_dead_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_write(w.dead_req(), w.fd, 0, w.buf.data(), k_io_size, &w.user_new); }},
    {"prepare_readv_dead_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_readv(w.dead_req(), w.fd, 0, &w.one_iov, 1, &w.user_new); }},
    {"prepare_writev_dead_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_writev(w.dead_req(), w.fd, 0, &w.one_iov, 1, &w.user_new); }},
    {"prepare_flush_dead_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_flush(w.dead_req(), w.fd, &w.user_new); }},
    {"prepare_datasync_dead_req", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_datasync(w.dead_req(), w.fd, &w.user_new); }},
    {"prepare_read_submitted_req", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_read(w.submitted, w.fd, 0, w.buf.data(), k_io_size, &w.user_new); }},
    {"prepare_write_submitted_req", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_write(w.submitted, w.fd, 0, w.buf.data(), k_io_size, &w.user_new); }},
    {"prepare_readv_submitted_req", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_readv(w.submitted, w.fd, 0, &w.one_iov, 1, &w.user_new); }},
    {"prepare_writev_submitted_req", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_writev(w.submitted, w.fd, 0, &w.one_iov, 1, &w.user_new); }},
    {"prepare_flush_submitted_req", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_flush(w.submitted, w.fd, &w.user_new); }},
    {"prepare_datasync_submitted_req", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_datasync(w.submitted, w.fd, &w.user_new); }},

    // ---- Check order for prepare: handle, then state, then arguments ----
    {"order_prepare_read_null_req_and_bad_fd_is_handle", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_read(nullptr, -1, -1, nullptr, 0, &w.user_new); }},
    {"order_prepare_readv_dead_req_and_null_iov_is_handle", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_readv(w.dead_req(), -1, 0, nullptr, 0, &w.user_new); }},
    {"order_prepare_flush_null_req_and_bad_fd_is_handle", E_HANDLE,
     [](world &w) { return fileaio_req_prepare_flush(nullptr, -1, &w.user_new); }},
    {"order_prepare_read_submitted_req_and_bad_fd_is_state", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_read(w.submitted, -1, 0, w.buf.data(), k_io_size, &w.user_new); }},
    {"order_prepare_write_submitted_req_and_null_buf_is_state", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_write(w.submitted, w.fd, -1, nullptr, 0, &w.user_new); }},
    {"order_prepare_writev_submitted_req_and_null_iov_is_state", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_writev(w.submitted, w.fd, 0, nullptr, 0, &w.user_new); }},
    {"order_prepare_datasync_submitted_req_and_bad_fd_is_state", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_prepare_datasync(w.submitted, -1, &w.user_new); }},

    // ---- get_state / get_result / cancel ----
    {"get_state_null", E_HANDLE, [](world &) { return fileaio_req_get_state(nullptr); }},
    {"get_state_dead", E_HANDLE, [](world &w) { return fileaio_req_get_state(w.dead_req()); }},
    {"get_result_null", E_HANDLE,
     [](world &) {
         std::size_t t = 0;
         return fileaio_req_get_result(nullptr, &t);
     }},
    {"get_result_null_with_null_transferred", E_HANDLE, [](world &) { return fileaio_req_get_result(nullptr, nullptr); }},
    {"get_result_dead", E_HANDLE,
     [](world &w) {
         std::size_t t = 0;
         return fileaio_req_get_result(w.dead_req(), &t);
     }},
    {"get_result_prepared_is_not_submitted", FILEAIO_E_NOT_SUBMITTED,
     [](world &w) { return fileaio_req_get_result(w.prepared, nullptr); }},
    {"get_result_submitted_is_in_progress", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return fileaio_req_get_result(w.submitted, nullptr); }},
    {"cancel_null", E_HANDLE, [](world &) { return fileaio_req_cancel(nullptr); }},
    {"cancel_dead", E_HANDLE, [](world &w) { return fileaio_req_cancel(w.dead_req()); }},
    {"cancel_new_request_is_not_submitted", FILEAIO_E_NOT_SUBMITTED, [](world &w) { return fileaio_req_cancel(w.fresh); }},
    {"cancel_prepared_is_not_submitted", FILEAIO_E_NOT_SUBMITTED, [](world &w) { return fileaio_req_cancel(w.prepared); }},
    {"cancel_completed_is_not_submitted", FILEAIO_E_NOT_SUBMITTED, [](world &w) { return fileaio_req_cancel(w.done); }},

    // ---- fileaio_ctx_create / create_ex / create_opts ----
    {"ctx_create_null_out", E_PARAM, [](world &) { return fileaio_ctx_create(nullptr, k_ctx_max_reqs, 0); }},
    {"ctx_create_ex_null_out", E_PARAM,
     [](world &) { return fileaio_ctx_create_ex(nullptr, k_ctx_max_reqs, 0, FILEAIO_BACKEND_THREAD_POOL); }},
    {"ctx_create_opts_null_out", E_PARAM,
     [](world &) {
         fileaio_ctx_options o = valid_options();
         return fileaio_ctx_create_opts(nullptr, &o);
     }},
    {"ctx_create_max_reqs_zero", E_PARAM, [](world &w) { return fileaio_ctx_create(&w.out_ctx, 0, 0); },
     out_check::ctx_untouched},
    {"ctx_create_ex_max_reqs_zero", E_PARAM,
     [](world &w) { return fileaio_ctx_create_ex(&w.out_ctx, 0, 0, FILEAIO_BACKEND_THREAD_POOL); },
     out_check::ctx_untouched},
    {"ctx_create_max_reqs_unlimited", FILEAIO_E_OUT_OF_RANGE,
     [](world &w) { return fileaio_ctx_create(&w.out_ctx, FILEAIO_UNLIMITED_REQS, 0); }, out_check::ctx_untouched},
    {"ctx_create_ex_max_reqs_unlimited", FILEAIO_E_OUT_OF_RANGE,
     [](world &w) { return fileaio_ctx_create_ex(&w.out_ctx, FILEAIO_UNLIMITED_REQS, 0, FILEAIO_BACKEND_THREAD_POOL); },
     out_check::ctx_untouched},
    {"ctx_create_unknown_flag_bit_3", E_PARAM, [](world &w) { return fileaio_ctx_create(&w.out_ctx, k_ctx_max_reqs, 0x8u); },
     out_check::ctx_untouched},
    {"ctx_create_ex_unknown_flag_bit_3", E_PARAM,
     [](world &w) { return fileaio_ctx_create_ex(&w.out_ctx, k_ctx_max_reqs, 0x8u, FILEAIO_BACKEND_THREAD_POOL); },
     out_check::ctx_untouched},
    {"ctx_create_ex_unknown_flag_bit_31", E_PARAM,
     [](world &w) { return fileaio_ctx_create_ex(&w.out_ctx, k_ctx_max_reqs, 0x80000000u, FILEAIO_BACKEND_THREAD_POOL); },
     out_check::ctx_untouched},
    {"ctx_create_ex_all_flag_bits", E_PARAM,
     [](world &w) { return fileaio_ctx_create_ex(&w.out_ctx, k_ctx_max_reqs, ~0u, FILEAIO_BACKEND_THREAD_POOL); },
     out_check::ctx_untouched},
    {"ctx_create_ex_backend_99", E_PARAM,
     [](world &w) { return capi_shim_ctx_create_ex(&w.out_ctx, k_ctx_max_reqs, 0, 99); },
     out_check::ctx_untouched},
    {"ctx_create_ex_backend_5", E_PARAM,
     [](world &w) { return capi_shim_ctx_create_ex(&w.out_ctx, k_ctx_max_reqs, 0, 5); },
     out_check::ctx_untouched},
    {"ctx_create_ex_backend_minus_1", E_PARAM,
     [](world &w) { return capi_shim_ctx_create_ex(&w.out_ctx, k_ctx_max_reqs, 0, -1); },
     out_check::ctx_untouched},
    {"ctx_create_opts_null_opts", E_PARAM, [](world &w) { return fileaio_ctx_create_opts(&w.out_ctx, nullptr); },
     out_check::ctx_untouched},
    {"ctx_create_opts_size_zero", E_PARAM,
     [](world &w) { return create_opts_with(w, [](fileaio_ctx_options &o) { o.size = 0; }); }, out_check::ctx_untouched},
    {"ctx_create_opts_size_one", E_PARAM,
     [](world &w) { return create_opts_with(w, [](fileaio_ctx_options &o) { o.size = 1; }); }, out_check::ctx_untouched},
    {"ctx_create_opts_size_one_byte_short", E_PARAM,
     [](world &w) { return create_opts_with(w, [](fileaio_ctx_options &o) { o.size = sizeof o - 1; }); },
     out_check::ctx_untouched},
    {"ctx_create_opts_size_without_backend_field", E_PARAM,
     [](world &w) {
         return create_opts_with(w, [](fileaio_ctx_options &o) { o.size = offsetof(fileaio_ctx_options, backend); });
     },
     out_check::ctx_untouched},
    {"ctx_create_opts_max_reqs_zero", E_PARAM,
     [](world &w) { return create_opts_with(w, [](fileaio_ctx_options &o) { o.max_reqs = 0; }); },
     out_check::ctx_untouched},
    {"ctx_create_opts_max_reqs_unlimited", FILEAIO_E_OUT_OF_RANGE,
     [](world &w) { return create_opts_with(w, [](fileaio_ctx_options &o) { o.max_reqs = FILEAIO_UNLIMITED_REQS; }); },
     out_check::ctx_untouched},
    {"ctx_create_opts_unknown_flag", E_PARAM,
     [](world &w) { return create_opts_with(w, [](fileaio_ctx_options &o) { o.flags = 0x8u; }); },
     out_check::ctx_untouched},
    {"ctx_create_opts_backend_99", E_PARAM,
     [](world &w) { return capi_shim_ctx_create_opts(&w.out_ctx, k_ctx_max_reqs, 99); },
     out_check::ctx_untouched},

    // ---- fileaio_ctx_destroy and the other context calls on NULL / dead / busy contexts ----
    {"ctx_destroy_dead", E_HANDLE, [](world &w) { return fileaio_ctx_destroy(w.dead_ctx()); }},
    {"ctx_destroy_with_pending_is_busy", FILEAIO_E_BUSY, [](world &w) { return fileaio_ctx_destroy(w.busy); }},
    {"associate_null_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_associate_with_file(nullptr, w.fd); }},
    {"associate_dead_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_associate_with_file(w.dead_ctx(), w.fd); }},
    {"associate_negative_fd", E_PARAM, [](world &w) { return fileaio_ctx_associate_with_file(w.ctx, -1); }},
    {"order_associate_null_ctx_and_negative_fd_is_handle", E_HANDLE,
     [](world &) { return fileaio_ctx_associate_with_file(nullptr, -1); }},
    {"wakeup_null", E_HANDLE, [](world &) { return fileaio_ctx_wakeup(nullptr); }},
    {"wakeup_dead", E_HANDLE, [](world &w) { return fileaio_ctx_wakeup(w.dead_ctx()); }},
    {"get_fd_null_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_get_fd(nullptr, &w.out_fd); }, out_check::fd_untouched},
    {"get_fd_dead_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_get_fd(w.dead_ctx(), &w.out_fd); }, out_check::fd_untouched},
    {"get_fd_null_out", E_PARAM, [](world &w) { return fileaio_ctx_get_fd(w.ctx, nullptr); }},
    {"order_get_fd_null_ctx_and_null_out_is_handle", E_HANDLE, [](world &) { return fileaio_ctx_get_fd(nullptr, nullptr); }},
    {"pause_fd_null_ctx", E_HANDLE, [](world &) { return fileaio_ctx_pause_fd(nullptr, 1); }},
    {"pause_fd_dead_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_pause_fd(w.dead_ctx(), 1); }},
    {"get_stats_null_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_get_stats(nullptr, &w.out_stats); }},
    {"get_stats_dead_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_get_stats(w.dead_ctx(), &w.out_stats); }},
    {"get_stats_null_out", E_PARAM, [](world &w) { return fileaio_ctx_get_stats(w.ctx, nullptr); }},
    {"order_get_stats_null_ctx_and_null_out_is_handle", E_HANDLE,
     [](world &) { return fileaio_ctx_get_stats(nullptr, nullptr); }},
    {"register_buffers_null_ctx", E_HANDLE, [](world &w) { return fileaio_ctx_register_buffers(nullptr, &w.one_iov, 1); }},
    {"register_buffers_dead_ctx", E_HANDLE,
     [](world &w) { return fileaio_ctx_register_buffers(w.dead_ctx(), &w.one_iov, 1); }},
    {"register_buffers_null_iov", E_PARAM, [](world &w) { return fileaio_ctx_register_buffers(w.ctx, nullptr, 1); }},
    {"register_buffers_count_zero", E_PARAM, [](world &w) { return fileaio_ctx_register_buffers(w.ctx, &w.one_iov, 0); }},
    {"register_buffers_null_base_nonzero_len", E_PARAM,
     [](world &w) {
         iovec bad{nullptr, k_io_size};
         return fileaio_ctx_register_buffers(w.ctx, &bad, 1);
     }},
    {"register_buffers_with_pending_is_busy", FILEAIO_E_BUSY,
     [](world &w) { return fileaio_ctx_register_buffers(w.busy, &w.one_iov, 1); }},
    {"order_register_buffers_with_pending_and_null_iov_is_state", FILEAIO_E_BUSY,
     [](world &w) { return fileaio_ctx_register_buffers(w.busy, nullptr, 0); }},
    {"unregister_buffers_null", E_HANDLE, [](world &) { return fileaio_ctx_unregister_buffers(nullptr); }},
    {"unregister_buffers_dead", E_HANDLE, [](world &w) { return fileaio_ctx_unregister_buffers(w.dead_ctx()); }},

    // ---- fileaio_ctx_submit: all-or-nothing, *submitted = 0 ----
    {"submit_null_ctx", E_HANDLE,
     [](world &w) { return submit(w, nullptr, std::array{w.prepared}); }, out_check::submitted_zero},
    {"submit_dead_ctx", E_HANDLE,
     [](world &w) { return submit(w, w.dead_ctx(), std::array{w.prepared}); }, out_check::submitted_zero},
    {"submit_null_reqs", E_PARAM, [](world &w) { return fileaio_ctx_submit(w.ctx, nullptr, 1, &w.n_submitted); },
     out_check::submitted_zero},
    {"submit_count_zero", E_PARAM,
     [](world &w) {
         fileaio_req *reqs[] = {w.prepared};
         return fileaio_ctx_submit(w.ctx, reqs, 0, &w.n_submitted);
     },
     out_check::submitted_zero},
    {"submit_null_reqs_count_zero_null_submitted", E_PARAM,
     [](world &w) { return fileaio_ctx_submit(w.ctx, nullptr, 0, nullptr); }},
    {"submit_same_request_twice_adjacent", E_PARAM,
     [](world &w) { return submit(w, w.ctx, std::array{w.prepared, w.prepared}); }, out_check::submitted_zero},
    {"submit_same_request_twice_apart", E_PARAM,
     [](world &w) { return submit(w, w.ctx, std::array{w.prepared, w.prepared2, w.prepared}); },
     out_check::submitted_zero},
    {"submit_null_element_in_the_middle", E_HANDLE,
     [](world &w) { return submit(w, w.ctx, std::array<fileaio_req *, 3>{w.prepared, nullptr, w.prepared2}); },
     out_check::submitted_zero},
    {"submit_null_element_last", E_HANDLE,
     [](world &w) { return submit(w, w.ctx, std::array<fileaio_req *, 3>{w.prepared, w.prepared2, nullptr}); },
     out_check::submitted_zero},
    {"submit_dead_element_in_the_middle", E_HANDLE,
     [](world &w) { return submit(w, w.ctx, std::array{w.prepared, w.dead_req(), w.prepared2}); },
     out_check::submitted_zero},
    {"submit_new_request_is_not_prepared", FILEAIO_E_NOT_PREPARED,
     [](world &w) { return submit(w, w.ctx, std::array{w.fresh}); }, out_check::submitted_zero},
    {"submit_completed_element_last_is_not_prepared", FILEAIO_E_NOT_PREPARED,
     [](world &w) { return submit(w, w.ctx, std::array{w.prepared, w.prepared2, w.done}); }, out_check::submitted_zero},
    {"submit_submitted_element_is_in_progress", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return submit(w, w.ctx, std::array{w.prepared, w.submitted}); }, out_check::submitted_zero},
    {"submit_more_than_max_reqs", FILEAIO_E_LIMIT_EXCEEDED,
     [](world &w) { return submit(w, w.small_ctx, std::array{w.prepared, w.prepared2}); }, out_check::submitted_zero},
    {"submit_pending_plus_count_over_max_reqs", FILEAIO_E_LIMIT_EXCEEDED,
     [](world &w) { return submit(w, w.busy, std::array{w.prepared, w.prepared2}); }, out_check::submitted_zero},
    // Order: handle, state, arguments; in a batch, the first faulty element.
    {"order_submit_null_ctx_null_reqs_is_handle", E_HANDLE,
     [](world &w) { return fileaio_ctx_submit(nullptr, nullptr, 0, &w.n_submitted); }, out_check::submitted_zero},
    {"order_submit_completed_then_null_is_not_prepared", FILEAIO_E_NOT_PREPARED,
     [](world &w) { return submit(w, w.ctx, std::array<fileaio_req *, 2>{w.done, nullptr}); }, out_check::submitted_zero},
    {"order_submit_null_then_completed_is_handle", E_HANDLE,
     [](world &w) { return submit(w, w.ctx, std::array<fileaio_req *, 2>{nullptr, w.done}); }, out_check::submitted_zero},
    {"order_submit_submitted_then_null_is_in_progress", FILEAIO_E_IN_PROGRESS,
     [](world &w) { return submit(w, w.ctx, std::array<fileaio_req *, 3>{w.prepared, w.submitted, nullptr}); },
     out_check::submitted_zero},
    {"order_submit_completed_twice_is_not_prepared", FILEAIO_E_NOT_PREPARED,
     [](world &w) { return submit(w, w.ctx, std::array{w.fresh, w.fresh}); }, out_check::submitted_zero},
    {"order_submit_completed_before_duplicate_is_not_prepared", FILEAIO_E_NOT_PREPARED,
     [](world &w) { return submit(w, w.ctx, std::array{w.prepared, w.done, w.prepared}); }, out_check::submitted_zero},
    {"order_submit_not_prepared_before_limit", FILEAIO_E_NOT_PREPARED,
     [](world &w) { return submit(w, w.small_ctx, std::array{w.prepared, w.fresh}); }, out_check::submitted_zero},

    // ---- fileaio_ctx_wait: *count = 0 first, then the checks in order ----
    {"wait_null_ctx", E_HANDLE, [](world &w) { return wait_on(w, nullptr, 1, k_wait_capacity); },
     out_check::count_zero},
    {"wait_dead_ctx", E_HANDLE, [](world &w) { return wait_on(w, w.dead_ctx(), 1, k_wait_capacity); },
     out_check::count_zero},
    {"wait_null_completed", E_PARAM,
     [](world &w) { return fileaio_ctx_wait(w.ctx, 1, 0, nullptr, k_wait_capacity, &w.n_completed); },
     out_check::count_zero},
    {"wait_null_count", E_PARAM,
     [](world &w) { return fileaio_ctx_wait(w.ctx, 1, 0, w.completed.data(), k_wait_capacity, nullptr); }},
    {"wait_capacity_zero", E_PARAM, [](world &w) { return wait_on(w, w.ctx, 1, 0); }, out_check::count_zero},
    {"wait_capacity_zero_min_zero", E_PARAM, [](world &w) { return wait_on(w, w.ctx, 0, 0); }, out_check::count_zero},
    {"wait_min_reqs_over_capacity", FILEAIO_E_OUT_OF_RANGE,
     [](world &w) { return wait_on(w, w.ctx, k_wait_capacity + 1, k_wait_capacity); }, out_check::count_zero},
    {"wait_min_reqs_size_max", FILEAIO_E_OUT_OF_RANGE, [](world &w) { return wait_on(w, w.ctx, k_size_max, 1); },
     out_check::count_zero},
    {"wait_min_reqs_over_capacity_with_pending_returns_nothing", FILEAIO_E_OUT_OF_RANGE,
     [](world &w) { return wait_on(w, w.busy, 2, 1); }, out_check::count_zero},
    {"wait_empty_context_is_no_request", FILEAIO_E_NO_REQUEST,
     [](world &w) { return wait_on(w, w.ctx, 1, k_wait_capacity); }, out_check::count_zero},
    {"wait_empty_context_min_zero_is_no_request", FILEAIO_E_NO_REQUEST,
     [](world &w) { return wait_on(w, w.ctx, 0, k_wait_capacity); }, out_check::count_zero},
    {"order_wait_null_ctx_and_null_args_is_handle", E_HANDLE,
     [](world &) { return fileaio_ctx_wait(nullptr, k_size_max, 0, nullptr, 0, nullptr); }},
    {"order_wait_null_ctx_and_capacity_zero_is_handle", E_HANDLE,
     [](world &w) { return wait_on(w, nullptr, 2, 0); }, out_check::count_zero},
    {"order_wait_capacity_zero_before_min_over_capacity", E_PARAM,
     [](world &w) { return wait_on(w, w.ctx, 2, 0); }, out_check::count_zero},
    {"order_wait_null_completed_before_min_over_capacity", E_PARAM,
     [](world &w) { return fileaio_ctx_wait(w.ctx, 2, 0, nullptr, 1, &w.n_completed); }, out_check::count_zero},
    {"order_wait_min_over_capacity_before_no_request", FILEAIO_E_OUT_OF_RANGE,
     [](world &w) { return wait_on(w, w.ctx, 2, 1); }, out_check::count_zero},

    // ---- Backends and limits ----
    {"get_limits_null_out", E_PARAM, [](world &) { return fileaio_get_limits(FILEAIO_BACKEND_THREAD_POOL, nullptr); }},
    {"get_limits_auto_null_out", E_PARAM, [](world &) { return fileaio_get_limits(FILEAIO_BACKEND_AUTO, nullptr); }},
    {"get_limits_backend_99", E_PARAM, [](world &w) { return capi_shim_get_limits(99, &w.out_limits); }},
    {"get_limits_backend_minus_1", E_PARAM,
     [](world &w) { return capi_shim_get_limits(-1, &w.out_limits); }},
    {"backend_probe_backend_99", E_PARAM,
     [](world &) {
         char reason[128] = {};
         return capi_shim_backend_probe(99, reason, sizeof reason);
     }},
    {"backend_probe_backend_99_null_reason", E_PARAM,
     [](world &) { return capi_shim_backend_probe(99, nullptr, 0); }},
    {"get_dio_alignment_fd_minus_1", E_PARAM, [](world &w) { return fileaio_get_dio_alignment(-1, &w.out_alignment); }},
    {"get_dio_alignment_fd_int_min", E_PARAM,
     [](world &w) { return fileaio_get_dio_alignment(INT_MIN, &w.out_alignment); }},
    {"get_dio_alignment_null_out", E_PARAM, [](world &w) { return fileaio_get_dio_alignment(w.fd, nullptr); }},
    {"get_dio_alignment_fd_minus_1_null_out", E_PARAM, [](world &) { return fileaio_get_dio_alignment(-1, nullptr); }},
    {"get_dio_alignment_closed_fd_is_ebadf", -EBADF,
     [](world &w) { return fileaio_get_dio_alignment(w.closed_fd, &w.out_alignment); }},
};

class failing_call : public with_world, public ::testing::WithParamInterface<call_case> {};

TEST_P(failing_call, returns_the_contract_code_and_changes_nothing)
{
    const call_case &c = GetParam();
    const int rc = c.call(w);
    EXPECT_EQ(rc, c.expected) << c.name << ": got " << errname(rc) << ", want " << errname(c.expected);
    switch (c.out) {
    case out_check::none:
        break;
    case out_check::submitted_zero:
        EXPECT_EQ(w.n_submitted, 0u) << "a refused submit must set *submitted = 0";
        break;
    case out_check::count_zero:
        EXPECT_EQ(w.n_completed, 0u) << "wait sets *count = 0 first";
        for (fileaio_req *r : w.completed) EXPECT_EQ(r, nullptr) << "a refused wait handed back a request";
        break;
    case out_check::ctx_untouched:
        EXPECT_EQ(w.out_ctx, nullptr) << "a refused create must not hand out a context";
        break;
    case out_check::fd_untouched:
        EXPECT_EQ(w.out_fd, k_fd_sentinel) << "a refused get_fd must leave *fd as it was";
        break;
    }
    // A wrongly successful create must not leak into the next case.
    if (w.out_ctx != nullptr) {
        EXPECT_EQ(fileaio_ctx_destroy(w.out_ctx), 0);
    }
    if (rc == c.expected) w.expect_unchanged(before);
}

INSTANTIATE_TEST_SUITE_P(table, failing_call, ::testing::ValuesIn(k_call_cases),
                         [](const ::testing::TestParamInfo<call_case> &i) { return std::string(i.param.name); });

// ============================================================================================
// Table 2: prepare_* with a valid request and an invalid argument → E_INVALID_PARAMETER,
// the request unchanged. Each row runs on a new, a PREPARED and a COMPLETED (after real I/O)
// request.
// ============================================================================================

struct prepare_case {
    const char *name;
    int (*call)(world &, fileaio_req *);
};

void PrintTo(const prepare_case &c, std::ostream *os) { *os << c.name; }

// Vectored prepare with a local iovec array (never submitted, so its lifetime is the call).
template <std::size_t N>
int readv_with(world &w, fileaio_req *r, std::int64_t offset, std::array<iovec, N> iov)
{
    return fileaio_req_prepare_readv(r, w.fd, offset, iov.data(), static_cast<int>(N), &w.user_new);
}
template <std::size_t N>
int writev_with(world &w, fileaio_req *r, std::int64_t offset, std::array<iovec, N> iov)
{
    return fileaio_req_prepare_writev(r, w.fd, offset, iov.data(), static_cast<int>(N), &w.user_new);
}

#define FILEAIO_TEST_RW_CASES(op, buf_expr)                                                                         \
    {#op "_fd_minus_1",                                                                                             \
     [](world &w, fileaio_req *r) { return fileaio_req_prepare_##op(r, -1, 0, buf_expr, k_io_size, &w.user_new); }}, \
        {#op "_fd_int_min",                                                                                         \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, INT_MIN, 0, buf_expr, k_io_size, &w.user_new);                      \
         }},                                                                                                        \
        {#op "_offset_minus_1",                                                                                     \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, -1, buf_expr, k_io_size, &w.user_new);                        \
         }},                                                                                                        \
        {#op "_offset_int64_min",                                                                                   \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, k_int64_min, buf_expr, k_io_size, &w.user_new);               \
         }},                                                                                                        \
        {#op "_buf_null",                                                                                           \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 0, nullptr, k_io_size, &w.user_new);                          \
         }},                                                                                                        \
        {#op "_size_zero",                                                                                          \
         [](world &w, fileaio_req *r) { return fileaio_req_prepare_##op(r, w.fd, 0, buf_expr, 0, &w.user_new); }},  \
        {#op "_size_ssize_max_plus_1",                                                                              \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 0, buf_expr, k_ssize_max + 1, &w.user_new);                   \
         }},                                                                                                        \
        {#op "_size_size_max",                                                                                      \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 0, buf_expr, k_size_max, &w.user_new);                        \
         }},                                                                                                        \
        {#op "_offset_int64_max_plus_size_1",                                                                       \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, k_int64_max, buf_expr, 1, &w.user_new);                       \
         }},                                                                                                        \
        {#op "_offset_plus_size_one_past_int64_max",                                                                \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, k_int64_max - std::int64_t{16}, buf_expr, 17, &w.user_new);   \
         }},                                                                                                        \
        {#op "_offset_1_size_ssize_max",                                                                            \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 1, buf_expr, k_ssize_max, &w.user_new);                       \
         }},                                                                                                        \
        {#op "_everything_wrong",                                                                                   \
         [](world &w, fileaio_req *r) { return fileaio_req_prepare_##op(r, -1, -1, nullptr, 0, &w.user_new); }}

#define FILEAIO_TEST_VEC_CASES(op)                                                                                  \
    {#op "_iov_null",                                                                                               \
     [](world &w, fileaio_req *r) { return fileaio_req_prepare_##op(r, w.fd, 0, nullptr, 1, &w.user_new); }},       \
        {#op "_iov_null_iovcnt_0",                                                                                  \
         [](world &w, fileaio_req *r) { return fileaio_req_prepare_##op(r, w.fd, 0, nullptr, 0, &w.user_new); }},   \
        {#op "_iovcnt_0",                                                                                           \
         [](world &w, fileaio_req *r) { return fileaio_req_prepare_##op(r, w.fd, 0, &w.one_iov, 0, &w.user_new); }}, \
        {#op "_iovcnt_minus_1",                                                                                     \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 0, &w.one_iov, -1, &w.user_new);                              \
         }},                                                                                                        \
        {#op "_iovcnt_int_min",                                                                                     \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 0, &w.one_iov, INT_MIN, &w.user_new);                         \
         }},                                                                                                        \
        {#op "_iovcnt_iov_max_plus_1",                                                                              \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 0, w.many_iov.data(), k_iov_max + 1, &w.user_new);            \
         }},                                                                                                        \
        /* The count must be checked before the array is read: INT_MAX entries do not exist. */                     \
        {#op "_iovcnt_int_max",                                                                                     \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, 0, w.many_iov.data(), INT_MAX, &w.user_new);                  \
         }},                                                                                                        \
        {#op "_fd_minus_1",                                                                                         \
         [](world &w, fileaio_req *r) { return fileaio_req_prepare_##op(r, -1, 0, &w.one_iov, 1, &w.user_new); }},  \
        {#op "_offset_minus_1",                                                                                     \
         [](world &w, fileaio_req *r) {                                                                             \
             return fileaio_req_prepare_##op(r, w.fd, -1, &w.one_iov, 1, &w.user_new);                              \
         }},                                                                                                        \
        {#op "_null_base_nonzero_len_first",                                                                        \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, 0, std::array<iovec, 2>{{{nullptr, 4}, {w.buf.data(), 4}}});                    \
         }},                                                                                                        \
        {#op "_null_base_nonzero_len_middle",                                                                       \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, 0, std::array<iovec, 3>{{{w.buf.data(), 4}, {nullptr, 4}, {w.buf.data(), 4}}}); \
         }},                                                                                                        \
        {#op "_total_zero",                                                                                         \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, 0, std::array<iovec, 2>{{{w.buf.data(), 0}, {w.buf.data(), 0}}});               \
         }},                                                                                                        \
        {#op "_total_zero_null_bases",                                                                              \
         [](world &w, fileaio_req *r) { return op##_with(w, r, 0, std::array<iovec, 1>{{{nullptr, 0}}}); }},       \
        {#op "_single_len_over_ssize_max",                                                                          \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, 0, std::array<iovec, 1>{{{w.buf.data(), k_ssize_max + 1}}});                    \
         }},                                                                                                        \
        {#op "_total_over_ssize_max",                                                                               \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, 0, std::array<iovec, 2>{{{w.buf.data(), k_ssize_max}, {w.buf.data(), 1}}});     \
         }},                                                                                                        \
        {#op "_total_wraps_size_t_to_zero",                                                                         \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, 0, std::array<iovec, 2>{{{w.buf.data(), k_size_max}, {w.buf.data(), 1}}});      \
         }},                                                                                                        \
        /* Each length is fine on its own; only the sum (2^64 + 1) wraps around to 1. */                            \
        {#op "_total_wraps_size_t_with_small_entries",                                                              \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, 0,                                                                              \
                              std::array<iovec, 3>{                                                                 \
                                  {{w.buf.data(), k_ssize_max}, {w.buf.data(), k_ssize_max}, {w.buf.data(), 3}}}); \
         }},                                                                                                        \
        {#op "_offset_int64_max_plus_total_1",                                                                      \
         [](world &w, fileaio_req *r) {                                                                             \
             return op##_with(w, r, k_int64_max, std::array<iovec, 1>{{{w.buf.data(), 1}}});                        \
         }}

const prepare_case k_invalid_prepare_cases[] = {
    FILEAIO_TEST_RW_CASES(read, w.buf.data()),
    FILEAIO_TEST_RW_CASES(write, w.buf.data()),
    FILEAIO_TEST_VEC_CASES(readv),
    FILEAIO_TEST_VEC_CASES(writev),
    {"flush_fd_minus_1", [](world &w, fileaio_req *r) { return fileaio_req_prepare_flush(r, -1, &w.user_new); }},
    {"flush_fd_int_min", [](world &w, fileaio_req *r) { return fileaio_req_prepare_flush(r, INT_MIN, &w.user_new); }},
    {"datasync_fd_minus_1", [](world &w, fileaio_req *r) { return fileaio_req_prepare_datasync(r, -1, &w.user_new); }},
    {"datasync_fd_int_min",
     [](world &w, fileaio_req *r) { return fileaio_req_prepare_datasync(r, INT_MIN, &w.user_new); }},
};

#undef FILEAIO_TEST_RW_CASES
#undef FILEAIO_TEST_VEC_CASES

enum class target { new_request, prepared_request, completed_request };

const char *target_name(target t)
{
    switch (t) {
    case target::new_request: return "new";
    case target::prepared_request: return "prepared";
    case target::completed_request: return "completed";
    }
    return "?";
}

fileaio_req *pick(world &w, target t)
{
    switch (t) {
    case target::new_request: return w.fresh;
    case target::prepared_request: return w.prepared;
    case target::completed_request: return w.done;
    }
    return nullptr;
}

using prepare_param = std::tuple<prepare_case, target>;

std::string prepare_param_name(const ::testing::TestParamInfo<prepare_param> &i)
{
    return std::string(std::get<0>(i.param).name) + "_on_" + target_name(std::get<1>(i.param));
}

class invalid_prepare : public with_world, public ::testing::WithParamInterface<prepare_param> {};

TEST_P(invalid_prepare, is_invalid_parameter_and_leaves_the_request_unchanged)
{
    const auto &[c, t] = GetParam();
    fileaio_req *req = pick(w, t);
    const int rc = c.call(w, req);
    EXPECT_EQ(rc, FILEAIO_E_INVALID_PARAMETER) << c.name << ": got " << errname(rc);
    EXPECT_NE(fileaio_req_get_user(req), &w.user_new) << "a refused prepare stored the user pointer";
    w.expect_unchanged(before);
}

INSTANTIATE_TEST_SUITE_P(table, invalid_prepare,
                         ::testing::Combine(::testing::ValuesIn(k_invalid_prepare_cases),
                                            ::testing::Values(target::new_request, target::prepared_request,
                                                              target::completed_request)),
                         prepare_param_name);

// ============================================================================================
// Table 3: the edges that are valid. Prepare must accept them (the OS, not prepare, judges an
// fd that is not open); nothing here is submitted.
// ============================================================================================

const prepare_case k_valid_edge_prepare_cases[] = {
    {"read_offset_plus_size_is_int64_max",
     [](world &w, fileaio_req *r) {
         return fileaio_req_prepare_read(r, w.fd, k_int64_max - std::int64_t{16}, w.buf.data(), 16, &w.user_new);
     }},
    {"write_size_ssize_max_at_offset_0",
     [](world &w, fileaio_req *r) {
         return fileaio_req_prepare_write(r, w.fd, 0, w.buf.data(), k_ssize_max, &w.user_new);
     }},
    {"read_fd_not_open",
     [](world &w, fileaio_req *r) {
         return fileaio_req_prepare_read(r, w.closed_fd, 0, w.buf.data(), k_io_size, &w.user_new);
     }},
    {"flush_fd_not_open", [](world &w, fileaio_req *r) { return fileaio_req_prepare_flush(r, w.closed_fd, &w.user_new); }},
    {"datasync_fd_0", [](world &w, fileaio_req *r) { return fileaio_req_prepare_datasync(r, 0, &w.user_new); }},
    {"readv_iovcnt_iov_max",
     [](world &w, fileaio_req *r) {
         return fileaio_req_prepare_readv(r, w.fd, 0, w.many_iov.data(), k_iov_max, &w.user_new);
     }},
    {"writev_null_base_with_zero_len_among_others",
     [](world &w, fileaio_req *r) {
         static iovec iov[2];  // must outlive the call: the request keeps the pointer
         iov[0] = {w.buf.data(), k_io_size};
         iov[1] = {nullptr, 0};
         return fileaio_req_prepare_writev(r, w.fd, 0, iov, 2, &w.user_new);
     }},
    {"writev_total_ssize_max",
     [](world &w, fileaio_req *r) {
         static iovec iov[2];
         iov[0] = {w.buf.data(), k_ssize_max - 1};
         iov[1] = {w.buf.data(), 1};
         return fileaio_req_prepare_writev(r, w.fd, 0, iov, 2, &w.user_new);
     }},
};

class valid_edge_prepare : public with_world, public ::testing::WithParamInterface<prepare_param> {};

TEST_P(valid_edge_prepare, is_accepted)
{
    const auto &[c, t] = GetParam();
    fileaio_req *req = pick(w, t);
    const int rc = c.call(w, req);
    EXPECT_EQ(rc, 0) << c.name << ": got " << errname(rc);
    EXPECT_EQ(fileaio_req_get_state(req), FILEAIO_REQ_PREPARED);
    EXPECT_EQ(fileaio_req_get_user(req), &w.user_new);
}

INSTANTIATE_TEST_SUITE_P(table, valid_edge_prepare,
                         ::testing::Combine(::testing::ValuesIn(k_valid_edge_prepare_cases),
                                            ::testing::Values(target::new_request, target::completed_request)),
                         prepare_param_name);

// ============================================================================================
// The calls that do not return an int, and the NULL no-ops.
// ============================================================================================

TEST_F(with_world, null_and_dead_handles_in_non_int_accessors)
{
    EXPECT_EQ(fileaio_req_destroy(nullptr), 0);
    EXPECT_EQ(fileaio_ctx_destroy(nullptr), 0);
    EXPECT_EQ(fileaio_req_get_user(nullptr), nullptr);
    EXPECT_EQ(fileaio_req_get_user(w.dead_req()), nullptr);
    EXPECT_EQ(fileaio_req_get_state(nullptr), FILEAIO_E_INVALID_HANDLE);
    EXPECT_EQ(fileaio_ctx_get_max_req_count(nullptr), FILEAIO_UNLIMITED_REQS);
    EXPECT_EQ(fileaio_ctx_get_max_req_count(w.dead_ctx()), FILEAIO_UNLIMITED_REQS);
    EXPECT_EQ(fileaio_ctx_get_backend(nullptr), FILEAIO_BACKEND_AUTO);
    EXPECT_EQ(fileaio_ctx_get_backend(w.dead_ctx()), FILEAIO_BACKEND_AUTO);
    // And the live ones answer for real.
    EXPECT_EQ(fileaio_ctx_get_max_req_count(w.ctx), k_ctx_max_reqs);
    EXPECT_EQ(fileaio_ctx_get_backend(w.ctx), FILEAIO_BACKEND_THREAD_POOL);
    EXPECT_EQ(fileaio_req_get_user(w.prepared), &w.user_prepared);
    w.expect_unchanged(before);
}

TEST_F(with_world, refused_submit_leaves_every_request_submittable)
{
    std::array<fileaio_req *, 3> bad{w.prepared, nullptr, w.prepared2};
    EXPECT_EQ(fileaio_ctx_submit(w.ctx, bad.data(), bad.size(), &w.n_submitted), FILEAIO_E_INVALID_HANDLE);
    EXPECT_EQ(w.n_submitted, 0u);
    EXPECT_EQ(fileaio_req_get_state(w.prepared), FILEAIO_REQ_PREPARED);
    EXPECT_EQ(fileaio_req_get_state(w.prepared2), FILEAIO_REQ_PREPARED);

    std::array<fileaio_req *, 2> good{w.prepared, w.prepared2};
    ASSERT_EQ(fileaio_ctx_submit(w.ctx, good.data(), good.size(), &w.n_submitted), 0);
    EXPECT_EQ(w.n_submitted, 2u);
    std::set<fileaio_req *> seen;
    while (seen.size() < good.size()) {
        std::size_t got = 0;
        ASSERT_EQ(fileaio_ctx_wait(w.ctx, 1, k_drain_timeout_ms, w.completed.data(), w.completed.size(), &got), 0);
        seen.insert(w.completed.begin(), w.completed.begin() + static_cast<std::ptrdiff_t>(got));
    }
    EXPECT_EQ(seen, (std::set<fileaio_req *>{w.prepared, w.prepared2}));
}

// The fd is not open: prepare and submit accept it, wait reports what the kernel says.
TEST_F(with_world, fd_that_is_not_open_completes_with_ebadf_through_wait)
{
    ASSERT_EQ(fileaio_req_prepare_read(w.fresh, w.closed_fd, 0, w.buf.data(), k_io_size, &w.user_new), 0);
    ASSERT_EQ(fileaio_req_prepare_flush(w.prepared, w.closed_fd, &w.user_new), 0);
    std::array<fileaio_req *, 2> reqs{w.fresh, w.prepared};
    ASSERT_EQ(fileaio_ctx_submit(w.ctx, reqs.data(), reqs.size(), &w.n_submitted), 0);
    EXPECT_EQ(w.n_submitted, reqs.size());
    std::size_t returned = 0;
    while (returned < reqs.size()) {
        std::size_t got = 0;
        ASSERT_EQ(fileaio_ctx_wait(w.ctx, 1, k_drain_timeout_ms, w.completed.data(), w.completed.size(), &got), 0);
        returned += got;
    }
    for (fileaio_req *r : reqs) {
        std::size_t transferred = k_untouched;
        EXPECT_EQ(fileaio_req_get_result(r, &transferred), -EBADF) << errname(fileaio_req_get_result(r, nullptr));
        EXPECT_EQ(transferred, 0u);
    }
    fileaio_stats st{};
    ASSERT_EQ(fileaio_ctx_get_stats(w.ctx, &st), 0);
    EXPECT_EQ(st.failed, 2u);
}

// "Nothing pending" is checked on entry: even FILEAIO_WAIT_FOREVER must not block. A watchdog
// wakes the context if it does, so a broken library fails this test instead of hanging it.
TEST_F(with_world, wait_forever_on_an_empty_context_is_no_request_at_once)
{
    std::promise<void> returned;
    std::future<void> returned_future = returned.get_future();
    fileaio_ctx *ctx = w.ctx;
    std::thread watchdog([&returned_future, ctx] {
        if (returned_future.wait_for(k_no_request_deadline) == std::future_status::timeout)
            fileaio_ctx_wakeup(ctx);
    });
    const auto start = std::chrono::steady_clock::now();
    const int rc = fileaio_ctx_wait(w.ctx, 1, FILEAIO_WAIT_FOREVER, w.completed.data(), w.completed.size(),
                                    &w.n_completed);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    returned.set_value();
    watchdog.join();
    EXPECT_EQ(rc, FILEAIO_E_NO_REQUEST) << errname(rc);
    EXPECT_EQ(w.n_completed, 0u);
    EXPECT_LT(elapsed, k_no_request_deadline);
}

// With FILEAIO_CTX_WAIT_WITHOUT_PENDING the same wait is legal: a poll times out instead.
TEST(capi_flags, wait_without_pending_flag_turns_no_request_into_timeout)
{
    fileaio_ctx *ctx = nullptr;
    ASSERT_EQ(fileaio_ctx_create_ex(&ctx, k_ctx_max_reqs, FILEAIO_CTX_WAIT_WITHOUT_PENDING, FILEAIO_BACKEND_THREAD_POOL),
              0);
    std::array<fileaio_req *, 1> out{};
    std::size_t count = k_untouched;
    EXPECT_EQ(fileaio_ctx_wait(ctx, 1, 0, out.data(), out.size(), &count), FILEAIO_E_TIMEOUT);
    EXPECT_EQ(count, 0u);
    EXPECT_EQ(fileaio_ctx_destroy(ctx), 0);
}

// ============================================================================================
// Backends: names, probe's reason buffer, and named backends that are not available.
// ============================================================================================

TEST(capi_backends, backend_name_is_never_null)
{
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_AUTO), "auto");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_IO_URING), "io_uring");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_LINUX_AIO), "linux_aio");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_POSIX_AIO), "posix_aio");
    EXPECT_STREQ(fileaio_backend_name(FILEAIO_BACKEND_THREAD_POOL), "thread_pool");
    for (int v : {5, 99, -1, INT_MAX, INT_MIN}) {
        const char *name = capi_shim_backend_name(v);
        ASSERT_NE(name, nullptr) << v;
        EXPECT_STREQ(name, "unknown") << v;
    }
}

// A reason buffer must be either left alone or hold a NUL-terminated string within its size.
::testing::AssertionResult untouched_or_terminated(const std::vector<char> &buf, char fill)
{
    bool untouched = true;
    for (char ch : buf) untouched = untouched && ch == fill;
    if (untouched) return ::testing::AssertionSuccess();
    if (std::memchr(buf.data(), '\0', buf.size()) != nullptr) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "reason of size " << buf.size() << " was written without a terminator";
}

TEST(capi_backends, probe_works_with_any_reason_buffer)
{
    constexpr char fill = 'x';
    for (fileaio_backend b : {FILEAIO_BACKEND_AUTO, FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO,
                              FILEAIO_BACKEND_POSIX_AIO, FILEAIO_BACKEND_THREAD_POOL}) {
        SCOPED_TRACE(fileaio_backend_name(b));
        std::vector<char> reason(256, fill);
        const int rc = fileaio_backend_probe(b, reason.data(), reason.size());
        ASSERT_TRUE(rc == 0 || rc == FILEAIO_E_NOT_SUPPORTED) << errname(rc);
        EXPECT_TRUE(untouched_or_terminated(reason, fill));
        if (rc != 0) {
            const std::string_view text(reason.data());
            EXPECT_FALSE(text.empty()) << "E_NOT_SUPPORTED needs a reason";
            EXPECT_EQ(text.find('\n'), std::string_view::npos) << "the reason is one line: " << text;
        }
        EXPECT_EQ(fileaio_backend_probe(b, nullptr, 0), rc);
        EXPECT_EQ(fileaio_backend_probe(b, nullptr, 64), rc) << "a NULL reason means: no reason wanted";
        std::vector<char> none(8, fill);
        EXPECT_EQ(fileaio_backend_probe(b, none.data(), 0), rc);
        EXPECT_EQ(std::string(none.begin(), none.end()), std::string(8, fill)) << "size 0: nothing may be written";
        for (std::size_t size : {1u, 2u, 8u}) {
            std::vector<char> small(size, fill);
            EXPECT_EQ(fileaio_backend_probe(b, small.data(), small.size()), rc);
            EXPECT_TRUE(untouched_or_terminated(small, fill)) << "size " << size;
        }
    }
    EXPECT_EQ(fileaio_backend_probe(FILEAIO_BACKEND_THREAD_POOL, nullptr, 0), 0) << "thread_pool is always available";
}

// A named backend that cannot run here is refused, never replaced by another one.
TEST(capi_backends, unavailable_named_backend_is_not_supported_everywhere)
{
    for (fileaio_backend b : k_named_backends) {
        SCOPED_TRACE(fileaio_backend_name(b));
        std::array<char, 256> reason{};
        const int probe = fileaio_backend_probe(b, reason.data(), reason.size());
        fileaio_ctx *ctx = nullptr;
        const int created = fileaio_ctx_create_ex(&ctx, k_ctx_max_reqs, 0, b);
        fileaio_limits limits{};
        const int limited = fileaio_get_limits(b, &limits);
        if (probe == 0) {
            EXPECT_EQ(created, 0) << errname(created);
            EXPECT_EQ(limited, 0) << errname(limited);
            if (ctx != nullptr) {
                EXPECT_EQ(fileaio_ctx_get_backend(ctx), b);
            }
        } else {
            EXPECT_EQ(probe, FILEAIO_E_NOT_SUPPORTED) << errname(probe);
            EXPECT_EQ(created, FILEAIO_E_NOT_SUPPORTED) << errname(created) << " (probe said: " << reason.data() << ")";
            EXPECT_EQ(ctx, nullptr);
            EXPECT_EQ(limited, FILEAIO_E_NOT_SUPPORTED) << errname(limited);
        }
        EXPECT_EQ(fileaio_ctx_destroy(ctx), 0);
    }
}

// ============================================================================================
// Error names and sentences: every code, never NULL.
// ============================================================================================

TEST(capi_errors, every_library_code_has_its_name_and_sentence)
{
    std::set<std::string> texts;
    for (const library_code &c : k_library_codes) {
        const char *name = fileaio_errname(c.code);
        const char *text = fileaio_strerror(c.code);
        ASSERT_NE(name, nullptr) << c.name;
        ASSERT_NE(text, nullptr) << c.name;
        EXPECT_STREQ(name, c.name);
        EXPECT_STREQ(text, c.text) << "fileaio_strerror and the public table disagree";
        texts.insert(text);
    }
    EXPECT_EQ(texts.size(), std::size(k_library_codes)) << "two codes share a sentence";
}

TEST(capi_errors, os_codes_are_named_like_errno)
{
    EXPECT_STREQ(fileaio_errname(-EIO), "EIO");
    EXPECT_STREQ(fileaio_errname(-ENOSPC), "ENOSPC");
    EXPECT_STREQ(fileaio_errname(-EBADF), "EBADF");
    EXPECT_STREQ(fileaio_errname(-EINVAL), "EINVAL");
    EXPECT_STREQ(fileaio_errname(-EAGAIN), "EAGAIN");
    EXPECT_STREQ(fileaio_errname(0), "OK");
    for (int e = 1; e < 134; ++e) {
        const char *name = fileaio_errname(-e);
        const char *text = fileaio_strerror(-e);
        ASSERT_NE(name, nullptr) << e;
        ASSERT_NE(text, nullptr) << e;
        EXPECT_NE(name[0], '\0') << e;
        EXPECT_NE(text[0], '\0') << e;
    }
}

TEST(capi_errors, any_int_gets_text_and_never_null)
{
    for (int code : {0, 1, 5, 4096, 10001, INT_MAX, -1, -4095, -4096, -10000, -10017, -20000, INT_MIN + 1, INT_MIN}) {
        const char *name = fileaio_errname(code);
        const char *text = fileaio_strerror(code);
        ASSERT_NE(name, nullptr) << code;
        ASSERT_NE(text, nullptr) << code;
        EXPECT_NE(name[0], '\0') << code;
        EXPECT_NE(text[0], '\0') << code;
    }
}

}  // namespace
