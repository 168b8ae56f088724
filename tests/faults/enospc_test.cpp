// API.md "Results" on a full disk, on every backend: a write that runs out of room completes
// through wait with -ENOSPC and `transferred` says how many bytes it stored before that (short
// transfers are the library's job, so the remainder was resubmitted, and that is what failed).
// Every byte reported written reads back, the file is exactly as long as those bytes make it, a
// flush still answers, and the same context works again once there is room.
//
// The disk is a tmpfs of 1 MiB mounted by the test (root only: otherwise it skips, saying so) on
// its own temporary directory and unmounted when the test ends, however it ends.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "conformance/fixture.hpp"
#include "faults/faults.hpp"

namespace fileaio::test {
namespace {

constexpr const char *tmpfs_options = "size=1m,mode=0700";
constexpr size_t block = 4096;
constexpr uint32_t write_seed = 5;

// A tmpfs of its own for one test; unmounted (lazily: a file still open cannot keep it) by the
// destructor, so also when the test fails or throws.
class small_tmpfs {
public:
    explicit small_tmpfs(std::string where) : path_(std::move(where)) {}
    ~small_tmpfs() {
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    }
    small_tmpfs(const small_tmpfs &) = delete;
    small_tmpfs &operator=(const small_tmpfs &) = delete;

    // Mounts it. False, with a one-line reason, when that cannot be done here.
    bool mount(std::string *why_not) {
        if (::geteuid() != 0) {
            *why_not = "needs root to mount a tmpfs";
            return false;
        }
        if (::mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) {
            *why_not = "mkdir " + path_ + ": " + std::strerror(errno);
            return false;
        }
        if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, tmpfs_options) != 0) {
            *why_not = std::string("mount -t tmpfs -o ") + tmpfs_options + " " + path_ + ": " + std::strerror(errno);
            return false;
        }
        mounted_ = true;
        return true;
    }

    const std::string &path() const { return path_; }

    uint64_t free_bytes() const {
        struct statvfs sv {};
        if (::statvfs(path_.c_str(), &sv) != 0) return 0;
        return static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    }

private:
    std::string path_;
    bool mounted_ = false;
};

// One write (plain or vectored) of pattern bytes at `offset`; its buffers live as long as it.
struct write_job {
    fileaio_req *req = nullptr;
    int fd = -1;
    uint64_t offset = 0;
    size_t size = 0;
    std::vector<std::vector<unsigned char>> pieces;  // one per iovec element (separate allocations)
    std::vector<struct iovec> iov;

    // Splits [offset, offset + sum(sizes)) into pieces of these sizes.
    void fill(int file, uint64_t at, const std::vector<size_t> &sizes) {
        fd = file;
        offset = at;
        size = 0;
        for (size_t s : sizes) {
            pieces.push_back(pattern_buffer(at + size, s, write_seed));
            size += s;
        }
        for (auto &p : pieces) iov.push_back({p.data(), p.size()});
    }

    int prepare() {
        if (pieces.size() == 1)
            return fileaio_req_prepare_write(req, fd, static_cast<int64_t>(offset), pieces[0].data(), size, nullptr);
        return fileaio_req_prepare_writev(req, fd, static_cast<int64_t>(offset), iov.data(),
                                          static_cast<int>(iov.size()), nullptr);
    }
};

class enospc : public backend_test {
protected:
    void SetUp() override {
        backend_test::SetUp();
        if (IsSkipped()) return;
        std::string why;
        if (!disk_.mount(&why)) GTEST_SKIP() << "no small tmpfs for a full disk: " << why;
    }
    // backend_test::TearDown drains and destroys the contexts and closes the files; disk_'s
    // destructor unmounts after that.

    // A new empty file on the small disk; closed at the end of the test.
    int disk_file(const std::string &name) {
        int fd = open_file(disk_.path() + "/" + name, O_CREAT | O_TRUNC | O_RDWR);
        if (fd >= 0) fds_.push_back(fd);
        return fd;
    }

    // The one write `job`, submitted alone and reaped. Its result and bytes moved.
    void run_alone(fileaio_ctx *c, write_job &job, int *rc, size_t *moved) {
        *rc = 1;
        *moved = SIZE_MAX;
        ASSERT_EQ(job.prepare(), 0);
        ASSERT_EQ(fileaio_ctx_submit(c, &job.req, 1, nullptr), 0);
        ASSERT_EQ(reap(c, 1).size(), 1u);
        *rc = fileaio_req_get_result(job.req, moved);
    }

    // Checks a write cut short by the full disk: -ENOSPC, some bytes but not all, no more than
    // there was room for, the file exactly as long as the bytes say, and those bytes stored.
    void expect_cut_short(const write_job &job, int rc, size_t moved, uint64_t room) {
        EXPECT_EQ(rc, -ENOSPC) << fileaio_errname(rc);
        EXPECT_GT(moved, 0u) << "the bytes stored before the disk filled up were not reported";
        EXPECT_LT(moved, job.size);
        EXPECT_LE(moved, room) << "more bytes reported than the disk had room for";
        EXPECT_EQ(file_size(job.fd), job.offset + moved) << "the file grew by more or less than the bytes reported";
        EXPECT_TRUE(reads_back(job.fd, job.offset, std::min(moved, job.size), write_seed));
        note(std::string(fileaio_backend_name(GetParam())) + ": " + std::to_string(job.pieces.size()) +
             "-piece write of " + std::to_string(job.size) + " bytes with " + std::to_string(room) +
             " free: " + fileaio_errname(rc) + ", " + std::to_string(moved) + " bytes moved");
    }

    // A write whose buffers live until the fixture is destroyed, after TearDown has drained the
    // contexts: a test that fails with writes in flight never leaves them on freed memory.
    write_job &make_job() {
        write_job &j = jobs_.emplace_back();
        j.req = make_req();
        return j;
    }

    std::vector<unsigned char> &make_bytes(size_t size) { return bytes_.emplace_back(size, 0); }

    small_tmpfs disk_{dir_.path() + "/disk"};
    std::deque<write_job> jobs_;
    std::deque<std::vector<unsigned char>> bytes_;
};

TEST_P(enospc, a_write_larger_than_the_free_space_stores_what_fits_and_reports_enospc_with_the_bytes_moved) {
    fileaio_ctx *c = make_ctx(4);
    write_job &job = make_job();
    int fd = disk_file("one");
    ASSERT_GE(fd, 0);
    const uint64_t room = disk_.free_bytes();
    ASSERT_GT(room, 0u);
    // From an offset inside a page, and a size that is no multiple of anything the disk counts in.
    job.fill(fd, 1000, {static_cast<size_t>(room) + 5 * block + 777});
    int rc = 0;
    size_t moved = 0;
    ASSERT_NO_FATAL_FAILURE(run_alone(c, job, &rc, &moved));
    expect_cut_short(job, rc, moved, room);
    EXPECT_EQ(stats_of(c).failed, 1u);
}

TEST_P(enospc, a_vectored_write_cut_short_inside_an_element_reports_enospc_with_the_bytes_moved) {
    fileaio_ctx *c = make_ctx(4);
    write_job &job = make_job();
    int fd = disk_file("vec");
    ASSERT_GE(fd, 0);
    const uint64_t room = disk_.free_bytes();
    ASSERT_GT(room, 0u);
    // The room runs out inside the third element; the fourth is never reached.
    const auto half = static_cast<size_t>(room / 2);
    job.fill(fd, 2 * block + 5, {3 * block + 11, half + 123, half + 5 * block, block + 1});
    int rc = 0;
    size_t moved = 0;
    ASSERT_NO_FATAL_FAILURE(run_alone(c, job, &rc, &moved));
    expect_cut_short(job, rc, moved, room);
    EXPECT_GT(moved, job.pieces[0].size() + job.pieces[1].size()) << "the room ran out before the third element";
    EXPECT_EQ(stats_of(c).failed, 1u);
}

// Several writes in flight at once on two files of a disk that cannot hold them all, with a flush
// per file in the same batch. Each write reports all its bytes or -ENOSPC with the bytes it
// stored; each flush comes back after the writes to its file; then the disk is emptied and the
// same context and requests work again.
TEST_P(enospc, writes_in_flight_on_a_filling_disk_report_what_they_stored_and_the_context_goes_on) {
    constexpr size_t n = 24;
    constexpr uint64_t stride = 80 * 1024;  // each write's own range; sizes below stay under it
    fileaio_ctx *c = make_ctx(64);
    const int fds[2] = {disk_file("a"), disk_file("b")};
    ASSERT_GE(fds[0], 0);
    ASSERT_GE(fds[1], 0);
    const uint64_t room = disk_.free_bytes();

    std::vector<write_job *> jobs;
    uint64_t asked = 0;
    for (size_t i = 0; i < n; ++i) {
        jobs.push_back(&make_job());
        const size_t size = 64 * 1024 + 1000 + i * 37;
        const uint64_t at = (i / 2) * stride + (i % 3) * 100;
        if (i % 3 == 0) {
            jobs[i]->fill(fds[i % 2], at, {size / 3, size / 3, size - 2 * (size / 3)});
        } else {
            jobs[i]->fill(fds[i % 2], at, {size});
        }
        asked += size;
        ASSERT_EQ(jobs[i]->prepare(), 0);
    }
    ASSERT_GT(asked, room) << "the writes must not all fit";
    fileaio_req *flushes[2] = {make_req(), make_req()};
    std::vector<fileaio_req *> batch;
    for (write_job *j : jobs) batch.push_back(j->req);
    for (size_t k = 0; k < 2; ++k) {
        ASSERT_EQ(fileaio_req_prepare_flush(flushes[k], fds[k], nullptr), 0);
        batch.push_back(flushes[k]);
    }
    size_t submitted = 0;
    ASSERT_EQ(fileaio_ctx_submit(c, batch.data(), batch.size(), &submitted), 0);
    ASSERT_EQ(submitted, batch.size());
    auto done = reap(c, batch.size());
    ASSERT_EQ(done.size(), batch.size());

    std::map<fileaio_req *, size_t> position;  // in the order wait returned them
    for (size_t k = 0; k < done.size(); ++k)
        EXPECT_TRUE(position.emplace(done[k], k).second) << "a request was returned twice";
    ASSERT_EQ(position.size(), batch.size()) << "a request was lost";

    size_t full = 0;
    size_t cut = 0;
    size_t refused = 0;
    uint64_t stored = 0;
    uint64_t end_of[2] = {0, 0};
    for (size_t i = 0; i < n; ++i) {
        const write_job &j = *jobs[i];
        size_t moved = SIZE_MAX;
        int rc = fileaio_req_get_result(j.req, &moved);
        if (rc == 0) {
            EXPECT_EQ(moved, j.size) << "write " << i << " succeeded without moving every byte";
            ++full;
        } else {
            EXPECT_EQ(rc, -ENOSPC) << "write " << i << ": " << fileaio_errname(rc);
            EXPECT_LT(moved, j.size) << "write " << i;
            ++(moved == 0 ? refused : cut);
        }
        if (moved > j.size) continue;
        stored += moved;
        if (moved != 0) end_of[i % 2] = std::max(end_of[i % 2], j.offset + moved);
        EXPECT_TRUE(reads_back(j.fd, j.offset, moved, write_seed)) << "write " << i << " reported " << moved
                                                                   << " bytes written";
        EXPECT_GT(position[flushes[i % 2]], position[j.req]) << "the flush came back before write " << i;
    }
    EXPECT_GE(cut + refused, 1u) << "the disk never filled up";
    EXPECT_LE(stored, room) << "more bytes reported than the disk had room for";
    for (size_t k = 0; k < 2; ++k) {
        EXPECT_EQ(file_size(fds[k]), end_of[k]) << "file " << k << " is longer or shorter than the writes reported";
        // tmpfs keeps no writeback error for a write refused for room: the flush itself succeeds.
        EXPECT_EQ(fileaio_req_get_result(flushes[k], nullptr), 0) << "flush " << k;
    }
    fileaio_stats st = stats_of(c);
    EXPECT_EQ(st.failed, cut + refused);
    EXPECT_EQ(st.completed, batch.size());
    EXPECT_EQ(st.pending, 0u);
    note(std::string(fileaio_backend_name(GetParam())) + ": " + std::to_string(n) + " writes of " +
         std::to_string(asked) + " bytes in all, " + std::to_string(room) + " free: " + std::to_string(full) +
         " whole, " + std::to_string(cut) + " cut short, " + std::to_string(refused) + " refused; " +
         std::to_string(stored) + " bytes stored");

    // A flush of its own on the full disk.
    ASSERT_EQ(fileaio_req_prepare_flush(flushes[0], fds[0], nullptr), 0);
    ASSERT_EQ(fileaio_ctx_submit(c, &flushes[0], 1, nullptr), 0);
    ASSERT_EQ(reap(c, 1).size(), 1u);
    EXPECT_EQ(fileaio_req_get_result(flushes[0], nullptr), 0);

    // Room again: the same context and requests write (as many as fit), flush and read back.
    ASSERT_EQ(::ftruncate(fds[0], 0), 0);
    ASSERT_EQ(::ftruncate(fds[1], 0), 0);
    constexpr size_t again = n / 3;
    std::vector<fileaio_req *> rerun;
    uint64_t rewritten = 0;
    for (size_t i = 0; i < again; ++i) {
        ASSERT_EQ(jobs[i]->prepare(), 0);
        rerun.push_back(jobs[i]->req);
        rewritten += jobs[i]->size;
    }
    ASSERT_LT(rewritten, disk_.free_bytes());
    for (size_t k = 0; k < 2; ++k) {
        ASSERT_EQ(fileaio_req_prepare_flush(flushes[k], fds[k], nullptr), 0);
        rerun.push_back(flushes[k]);
    }
    ASSERT_EQ(fileaio_ctx_submit(c, rerun.data(), rerun.size(), &submitted), 0);
    ASSERT_EQ(reap(c, rerun.size()).size(), rerun.size());
    for (size_t i = 0; i < again; ++i) {
        size_t moved = 0;
        int rc = fileaio_req_get_result(jobs[i]->req, &moved);
        EXPECT_EQ(rc, 0) << "write " << i << " with room again: " << fileaio_errname(rc);
        EXPECT_EQ(moved, jobs[i]->size);
        EXPECT_TRUE(reads_back(jobs[i]->fd, jobs[i]->offset, jobs[i]->size, write_seed)) << "write " << i;
    }
    for (fileaio_req *f : flushes) EXPECT_EQ(fileaio_req_get_result(f, nullptr), 0);

    // And the library reads what it wrote.
    std::vector<unsigned char> &in = make_bytes(jobs[1]->size);
    fileaio_req *r = make_req();
    ASSERT_EQ(fileaio_req_prepare_read(r, jobs[1]->fd, static_cast<int64_t>(jobs[1]->offset), in.data(), in.size(),
                                       nullptr),
              0);
    ASSERT_EQ(fileaio_ctx_submit(c, &r, 1, nullptr), 0);
    ASSERT_EQ(reap(c, 1).size(), 1u);
    size_t got = 0;
    EXPECT_EQ(fileaio_req_get_result(r, &got), 0);
    EXPECT_EQ(got, in.size());
    EXPECT_TRUE(in == pattern_buffer(jobs[1]->offset, in.size(), write_seed));
    EXPECT_EQ(stats_of(c).failed, cut + refused) << "a request failed once there was room";
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(enospc);

}  // namespace
}  // namespace fileaio::test
