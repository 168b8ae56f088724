// fileaio/uv.h on every backend: a libuv loop reads a file through the adapter with many
// requests in flight (each restarted from its own callback), writes + flush + datasync, errors
// (EBADF, the max_reqs limit), cancellation with exactly-once callbacks, and uv_run returning
// once the I/O is done. Reads held on an empty pipe stand for I/O in flight.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "fileaio/uv.h"
#include "support/backend_resources.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;

class uv_files : public ::testing::TestWithParam<fileaio_backend>, protected backend_resources {
protected:
    void SetUp() override {
        std::string why;
        if (!backend_available(GetParam(), &why)) GTEST_SKIP() << why;
        ASSERT_EQ(uv_loop_init(&loop_), 0);
        loop_ready_ = true;
    }
    void TearDown() override {
        if (loop_ready_) {
            uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks
            EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle is still open";
        }
        for (auto &r : uv_reqs_) EXPECT_EQ(fileaio_uv_req_destroy(&r), 0);
        release_all();
    }

    fileaio_uv *adapter(uint32_t max_reqs) {
        ctx_ = make_ctx_on(GetParam(), max_reqs);
        EXPECT_EQ(fileaio_uv_init(&loop_, &fuv_, ctx_), 0);
        return &fuv_;
    }
    void close_adapter() {
        EXPECT_EQ(fileaio_uv_close(&fuv_, nullptr), 0);
    }
    std::vector<fileaio_uv_req> &reqs(size_t n) {
        uv_reqs_.resize(n);
        for (auto &r : uv_reqs_) EXPECT_EQ(fileaio_uv_req_init(&r), 0);
        return uv_reqs_;
    }

    uv_loop_t loop_{};
    bool loop_ready_ = false;
    fileaio_ctx *ctx_ = nullptr;
    fileaio_uv fuv_{};
    std::vector<fileaio_uv_req> uv_reqs_;
    temp_dir scratch_;
};

bool is_pattern(const unsigned char *p, size_t n, uint64_t offset) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != pattern_byte(offset + i)) return false;
    return true;
}

// Requests read a file block by block, each starting the next read from its own callback.
struct reader {
    fileaio_uv *fuv;
    int fd;
    uint64_t size;
    uint64_t next = 0;
    size_t ok = 0, bad = 0, calls = 0;
};
struct slot {
    reader *rd;
    uint64_t offset = 0;
    std::vector<unsigned char> buf = std::vector<unsigned char>(block);
};

void on_block(fileaio_uv_req *r, int result, size_t moved);

void read_next(fileaio_uv_req *r) {
    auto *s = static_cast<slot *>(r->data);
    if (s->rd->next >= s->rd->size) return;
    s->offset = s->rd->next;
    s->rd->next += block;
    EXPECT_EQ(fileaio_uv_read(s->rd->fuv, r, s->rd->fd, static_cast<int64_t>(s->offset), s->buf.data(), block, on_block), 0);
}

void on_block(fileaio_uv_req *r, int result, size_t moved) {
    auto *s = static_cast<slot *>(r->data);
    ++s->rd->calls;
    if (result == 0 && moved == block && is_pattern(s->buf.data(), block, s->offset)) ++s->rd->ok;
    else ++s->rd->bad;
    read_next(r);  // restarted from its own callback
}

TEST_P(uv_files, reads_a_file_with_many_requests_in_flight) {
    constexpr uint64_t size = 4 * 1024 * 1024;
    const int fd = pattern_file("in", size);
    reader rd{adapter(16), fd, size};
    auto &rs = reqs(16);
    std::vector<slot> slots(rs.size());
    for (size_t i = 0; i < rs.size(); ++i) {
        slots[i].rd = &rd;
        rs[i].data = &slots[i];
        read_next(&rs[i]);
    }
    EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);  // returns: the poll handle stops when idle
    EXPECT_EQ(rd.calls, size / block);
    EXPECT_EQ(rd.ok, size / block);
    EXPECT_EQ(rd.bad, 0u);
    close_adapter();
}

struct outcome {
    int calls = 0;
    int result = 1;
    size_t moved = 0;
};
void record(fileaio_uv_req *r, int result, size_t moved) {
    auto *o = static_cast<outcome *>(r->data);
    ++o->calls;
    o->result = result;
    o->moved = moved;
}

TEST_P(uv_files, write_flush_datasync_and_errors) {
    fileaio_uv *fuv = adapter(3);
    const int fd = keep_fd(::open((scratch_.path() + "/out").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_GE(fd, 0);
    auto &rs = reqs(4);
    outcome w, f, d, e;
    rs[0].data = &w;
    rs[1].data = &f;
    rs[2].data = &d;
    rs[3].data = &e;
    std::vector<unsigned char> data(8 * block);
    for (size_t i = 0; i < data.size(); ++i) data[i] = pattern_byte(i);
    ASSERT_EQ(fileaio_uv_write(fuv, &rs[0], fd, 0, data.data(), data.size(), record), 0);
    ASSERT_EQ(fileaio_uv_flush(fuv, &rs[1], fd, record), 0);
    ASSERT_EQ(fileaio_uv_datasync(fuv, &rs[2], fd, record), 0);
    // max_reqs 3 are out: a fourth is refused, nothing started, no callback.
    EXPECT_EQ(fileaio_uv_flush(fuv, &rs[3], fd, record), FILEAIO_E_LIMIT_EXCEEDED);
    // Started twice: refused.
    EXPECT_EQ(fileaio_uv_flush(fuv, &rs[0], fd, record), FILEAIO_E_IN_PROGRESS);
    EXPECT_EQ(fileaio_uv_close(fuv, nullptr), FILEAIO_E_BUSY);
    EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
    EXPECT_EQ(w.calls, 1);
    EXPECT_EQ(w.result, 0);
    EXPECT_EQ(w.moved, data.size());
    EXPECT_EQ(f.calls, 1);
    EXPECT_EQ(f.result, 0);
    EXPECT_EQ(d.calls, 1);
    EXPECT_EQ(d.result, 0);
    EXPECT_EQ(e.calls, 0);
    EXPECT_EQ(read_back(fd, data.size() + 1, 0), data);

    // EBADF: a descriptor number that is not open.
    int closed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(closed, 0);
    ::close(closed);
    unsigned char buf[64];
    ASSERT_EQ(fileaio_uv_read(fuv, &rs[3], closed, 0, buf, sizeof buf, record), 0);
    EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
    EXPECT_EQ(e.calls, 1);
    EXPECT_EQ(e.result, -EBADF);
    // Bad arguments: refused at once.
    EXPECT_EQ(fileaio_uv_read(fuv, &rs[3], fd, -1, buf, sizeof buf, record), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(fileaio_uv_read(fuv, &rs[3], fd, 0, buf, sizeof buf, nullptr), FILEAIO_E_INVALID_PARAMETER);
    EXPECT_EQ(e.calls, 1);
    close_adapter();
}

// A read held on an empty pipe: cancelled (callback with FILEAIO_E_CANCELED from the loop, not
// inside cancel) or, where the backend cannot stop it, finished by the data written then.
TEST_P(uv_files, cancel_keeps_exactly_once) {
    int p[2];
    make_pipe(p);
    fileaio_uv *fuv = adapter(4);
    auto &rs = reqs(1);
    outcome o;
    rs[0].data = &o;
    unsigned char buf[16];
    ASSERT_EQ(fileaio_uv_read(fuv, &rs[0], p[0], 0, buf, sizeof buf, record), 0);
    uv_run(&loop_, UV_RUN_NOWAIT);
    const int rc = fileaio_uv_cancel(&rs[0]);
    EXPECT_EQ(o.calls, 0) << "the callback ran inside cancel";
    if (rc == 0) {
        EXPECT_EQ(fileaio_uv_cancel(&rs[0]), FILEAIO_E_NOT_SUBMITTED) << "a second cancel";
    } else {
        write_pattern(p[1], sizeof buf);
    }
    EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
    EXPECT_EQ(o.calls, 1);
    if (rc == 0) {
        EXPECT_EQ(o.result, FILEAIO_E_CANCELED);
    } else {
        EXPECT_EQ(o.result, 0);
        EXPECT_EQ(o.moved, sizeof buf);
    }
    EXPECT_EQ(fileaio_uv_cancel(&rs[0]), FILEAIO_E_NOT_SUBMITTED);
    close_adapter();
}

INSTANTIATE_TEST_SUITE_P(every_backend, uv_files, ::testing::ValuesIn(all_backends()),
                         [](const auto &param_info) { return backend_param_name(param_info.param); });

}  // namespace
}  // namespace fileaio::test
