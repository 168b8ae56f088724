// Exhausted per-process limits, on every backend.
//
//  - RLIMIT_NOFILE with no descriptor left. API.md "Create": the kernel refusing resources is
//    E_INSUFFICIENT_RESOURCES, and AUTO moves on when creating a context fails for a reason of
//    that backend. A backend that needs no descriptor (threads only) is created and works. A
//    context made before the descriptors ran out keeps working: submits need none.
//  - RLIMIT_MEMLOCK low, without CAP_IPC_LOCK (root is exempt with it). io_uring charges its
//    registered buffers to it, and whether its rings count too depends on the kernel (on 6.18
//    they do). Ring memory refused is E_INSUFFICIENT_RESOURCES and AUTO moves on; registering
//    buffers is a hint (API.md "Tuning"): refused with a clear code or taken, and the I/O on those
//    buffers is right either way.
//
// Each body runs in a child process (gtest's "threadsafe" death-test style re-executes the test
// binary for it), so the limits and capabilities of the test process never change, and a crash is
// a failed test, not a dead run. The child prints what it found wrong to stderr (shown by the
// failed EXPECT_EXIT) and exits 0 when all was well. It puts its limits back before it exits, so
// that exit-time work (LeakSanitizer) has descriptors again.
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "conformance/fixture.hpp"
#include "faults/faults.hpp"

namespace fileaio::test {
namespace {

constexpr size_t block = 4096;
constexpr uint32_t write_seed = 3;
constexpr uint32_t child_max_reqs = 16;
constexpr int child_ok = 0;
constexpr int child_failed = 1;

// What a child found wrong, on stderr; exit_code() is what the parent expects (0) or not.
class child_report {
public:
    bool expect(bool ok, const std::string &what) {
        if (!ok) {
            std::fprintf(stderr, "FAIL: %s\n", what.c_str());
            ++failures_;
        }
        return ok;
    }
    int exit_code() const { return failures_ == 0 ? child_ok : child_failed; }

private:
    int failures_ = 0;
};

std::string name_of(int code) { return fileaio_errname(code); }

// Runs `body` (an int expression: the child's exit code) in a child and expects 0. The child
// removes its own copy of the test's temporary directory (the fixture's destructor never runs
// there): open_scratch does at once, exit_with again in case the body never got that far.
#define FILEAIO_EXPECT_CHILD_PASSES(body)                                                         \
    do {                                                                                          \
        GTEST_FLAG_SET(death_test_style, "threadsafe");                                           \
        EXPECT_EXIT(::fileaio::test::exit_with(body, dir_.path()), ::testing::ExitedWithCode(0), \
                    "");                                                                          \
    } while (0)

[[noreturn]] void exit_with(int code, const std::string &dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::exit(code);
}

// For a limit that could not be set up: *why says what failed (with errno's text); false.
bool fail(std::string *why, const char *what) {
    *why = std::string(what) + ": " + std::strerror(errno);
    return false;
}

// Number of descriptors open now (reading /proc/self/fd costs one, not counted).
int open_descriptors() {
    DIR *d = ::opendir("/proc/self/fd");
    if (d == nullptr) return -1;
    int n = 0;
    while (const struct dirent *e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n - 1;
}

int highest_open_descriptor() {
    DIR *d = ::opendir("/proc/self/fd");
    if (d == nullptr) return -1;
    const int own = ::dirfd(d);
    int highest = -1;
    while (const struct dirent *e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const int fd = std::atoi(e->d_name);
        if (fd != own && fd > highest) highest = fd;
    }
    ::closedir(d);
    return highest;
}

// No descriptor left: the soft RLIMIT_NOFILE is lowered to just above the highest descriptor
// open now, and every free number below it is taken by /dev/null, so the next descriptor anything
// in the process asks for is refused with EMFILE. end() gives them back and restores the limit.
class descriptor_famine {
public:
    descriptor_famine() = default;
    ~descriptor_famine() { end(); }
    descriptor_famine(const descriptor_famine &) = delete;
    descriptor_famine &operator=(const descriptor_famine &) = delete;

    bool begin(std::string *why) {
        if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) return fail(why, "getrlimit");
        const int highest = highest_open_descriptor();
        if (highest < 0) return fail(why, "reading /proc/self/fd");
        struct rlimit low = saved_;
        low.rlim_cur = static_cast<rlim_t>(highest) + 1 + spare;
        if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return fail(why, "setrlimit RLIMIT_NOFILE");
        active_ = true;
        for (;;) {
            int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                fillers_.push_back(fd);
                continue;
            }
            if (errno == EMFILE) return true;
            return fail(why, "open /dev/null");
        }
    }

    // Whether a descriptor is still refused (EMFILE).
    static bool exhausted() {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno == EMFILE;
        ::close(fd);
        return false;
    }

    void end() {
        for (int fd : fillers_) ::close(fd);
        fillers_.clear();
        if (active_) ::setrlimit(RLIMIT_NOFILE, &saved_);
        active_ = false;
    }

private:
    static constexpr int spare = 4;  // numbers above the highest open one, so there are fillers to give back

    struct rlimit saved_ {};
    bool active_ = false;
    std::vector<int> fillers_;
};

// One round of I/O on `fd` through c: a write, a vectored write, a flush, then reads of both (one
// vectored). True when every request completed whole and the bytes are right.
bool io_round_works(fileaio_ctx *c, int fd, child_report &rep, const std::string &what) {
    constexpr size_t n = 3;
    fileaio_req *r[n] = {};
    bool ok = true;
    for (auto &q : r) ok = rep.expect(fileaio_req_create(&q) == 0, what + ": req_create") && ok;
    if (!ok) return false;
    auto out0 = pattern_buffer(0, 2 * block, write_seed);
    auto out1 = pattern_buffer(2 * block, 2 * block, write_seed);
    struct iovec wiov[2] = {{out1.data(), block}, {out1.data() + block, block}};
    fileaio_req_prepare_write(r[0], fd, 0, out0.data(), out0.size(), nullptr);
    fileaio_req_prepare_writev(r[1], fd, 2 * block, wiov, 2, nullptr);
    fileaio_req_prepare_flush(r[2], fd, nullptr);
    auto run = [&](size_t count, const char *step) {
        size_t submitted = 0;
        int rc = fileaio_ctx_submit(c, r, count, &submitted);
        if (!rep.expect(rc == 0 && submitted == count, what + ": submit of the " + step + " gave " + name_of(rc)))
            return false;
        fileaio_req *done[n];
        size_t got = 0;
        while (got < count) {
            size_t k = 0;
            rc = fileaio_ctx_wait(c, count - got, long_timeout_ms, done + got, count - got, &k);
            got += k;
            if (!rep.expect(rc == 0, what + ": wait for the " + step + " gave " + name_of(rc))) return false;
        }
        for (size_t i = 0; i < count; ++i) {
            size_t moved = 0;
            rc = fileaio_req_get_result(r[i], &moved);
            ok = rep.expect(rc == 0, what + ": " + step + " request " + std::to_string(i) + " gave " + name_of(rc)) &&
                 ok;
        }
        return ok;
    };
    if (run(n, "writes")) {
        std::vector<unsigned char> in0(2 * block, 0);
        std::vector<unsigned char> in1(2 * block, 0);
        struct iovec riov[2] = {{in1.data(), block}, {in1.data() + block, block}};
        fileaio_req_prepare_read(r[0], fd, 0, in0.data(), in0.size(), nullptr);
        fileaio_req_prepare_readv(r[1], fd, 2 * block, riov, 2, nullptr);
        if (run(2, "reads")) {
            ok = rep.expect(in0 == out0 && in1 == out1, what + ": the bytes read back differ from those written") &&
                 ok;
        }
    }
    for (fileaio_req *q : r) fileaio_req_destroy(q);
    return ok;
}

// The child's data file: created in `dir`, which is then removed at once (the descriptor keeps
// the file), so that a child that crashes leaves nothing behind.
int open_scratch(const std::string &dir) {
    const int fd = ::open((dir + "/data").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return fd;
}

// What every child body starts with: its report (it is one), the name of the backend it tries (or AUTO) and
// the data file (open_scratch). The file is closed when the body returns, after whatever limit
// the body set is put back (declared later, undone first).
struct child : child_report {
    std::string name;
    int fd;

    // For backend b.
    child(fileaio_backend b, const std::string &dir) : name(fileaio_backend_name(b)), fd(open_scratch(dir)) {}
    // For AUTO: FILEAIO_BACKEND is unset, so that AUTO really chooses.
    explicit child(const std::string &dir) : name("AUTO"), fd(open_scratch(dir)) { ::unsetenv("FILEAIO_BACKEND"); }
    ~child() {
        if (fd >= 0) ::close(fd);
    }
    child(const child &) = delete;
    child &operator=(const child &) = delete;

    // False (and reported) when the data file could not be opened: the body returns at once.
    bool ready() { return expect(fd >= 0, "open the data file"); }
};

// Creates a context of backend b, runs an I/O round on it and destroys it, before a famine.
// Needed under UBSan: its vptr check validates a type it has not seen yet by reading the vtable
// through a pipe, which it cannot create with no descriptor left, and it then reports an "invalid
// vptr" that is not there. A pair (vtable, type) once validated is remembered by the process, so
// the same code under the famine is checked without a pipe. Harmless elsewhere.
void warm_up(fileaio_backend b, int fd, child_report &rep) {
    char reason[256];
    if (fileaio_backend_probe(b, reason, sizeof reason) != 0) return;
    fileaio_ctx *c = nullptr;
    const int rc = fileaio_ctx_create_ex(&c, child_max_reqs, 0, b);
    if (!rep.expect(rc == 0, std::string("warm-up create of ") + fileaio_backend_name(b) + " gave " + name_of(rc)))
        return;
    io_round_works(c, fd, rep, std::string("warm-up of ") + fileaio_backend_name(b));
    rep.expect(fileaio_ctx_destroy(c) == 0, "warm-up destroy");
}

// ---- RLIMIT_NOFILE ----

int create_without_a_free_descriptor(fileaio_backend b, const std::string &dir) {
    child ch(b, dir);
    if (!ch.ready()) return ch.exit_code();
    warm_up(b, ch.fd, ch);
    const int before = open_descriptors();

    descriptor_famine famine;
    std::string why;
    if (!ch.expect(famine.begin(&why), "exhausting descriptors: " + why)) return ch.exit_code();
    fileaio_ctx *c = nullptr;
    const int rc = fileaio_ctx_create_ex(&c, child_max_reqs, 0, b);
    note(ch.name + " created with no descriptor left: " + name_of(rc));
    if (rc == 0) {
        ch.expect(c != nullptr, "create returned 0 without a context");
        // It needed no descriptor; then it must work without one too.
        if (c != nullptr) io_round_works(c, ch.fd, ch, ch.name + " made with no descriptor left");
        ch.expect(fileaio_ctx_destroy(c) == 0, "destroy");
    } else {
        ch.expect(rc == FILEAIO_E_INSUFFICIENT_RESOURCES,
                  ch.name + " without a free descriptor: create gave " + name_of(rc) +
                      ", expected FILEAIO_E_INSUFFICIENT_RESOURCES (the kernel refused a resource)");
        ch.expect(c == nullptr, "a failed create set the context");
    }
    famine.end();
    ch.expect(open_descriptors() == before, "creating (and destroying) the context left descriptors open: " +
                                                std::to_string(open_descriptors()) + " now, " +
                                                std::to_string(before) + " before");

    // With descriptors again, creation works at once: nothing was left broken.
    c = nullptr;
    const int again = fileaio_ctx_create_ex(&c, child_max_reqs, 0, b);
    if (ch.expect(again == 0, "create with descriptors back gave " + name_of(again))) {
        io_round_works(c, ch.fd, ch, ch.name + " made after the famine");
        ch.expect(fileaio_ctx_destroy(c) == 0, "destroy");
    }
    return ch.exit_code();
}

int context_made_before_the_famine_works_during_it(fileaio_backend b, const std::string &dir) {
    child ch(b, dir);
    if (!ch.ready()) return ch.exit_code();
    fileaio_ctx *c = nullptr;
    int rc = fileaio_ctx_create_ex(&c, child_max_reqs, 0, b);
    if (!ch.expect(rc == 0, "create gave " + name_of(rc))) return ch.exit_code();
    warm_up(b, ch.fd, ch);
    io_round_works(c, ch.fd, ch, ch.name + " before the famine");
    {
        descriptor_famine famine;
        std::string why;
        if (ch.expect(famine.begin(&why), "exhausting descriptors: " + why)) {
            for (int round = 0; round < 3; ++round)
                io_round_works(c, ch.fd, ch, ch.name + " with no descriptor left, round " + std::to_string(round));
            ch.expect(descriptor_famine::exhausted(), "descriptors were freed behind the test's back");
            rc = fileaio_ctx_destroy(c);
            ch.expect(rc == 0, "destroy with no descriptor left gave " + name_of(rc));
        } else {
            fileaio_ctx_destroy(c);
        }
    }
    return ch.exit_code();
}

int auto_without_a_free_descriptor(const std::string &dir) {
    child ch(dir);
    if (!ch.ready()) return ch.exit_code();
    for (fileaio_backend b : all_backends()) warm_up(b, ch.fd, ch);
    descriptor_famine famine;
    std::string why;
    if (!ch.expect(famine.begin(&why), "exhausting descriptors: " + why)) return ch.exit_code();
    fileaio_ctx *c = nullptr;
    const int rc = fileaio_ctx_create(&c, child_max_reqs, 0);
    if (ch.expect(rc == 0, "AUTO with no descriptor left gave " + name_of(rc) +
                               ": it must move on to a backend that needs none (thread_pool)")) {
        const fileaio_backend chosen = fileaio_ctx_get_backend(c);
        note(std::string("AUTO with no descriptor left picked ") + fileaio_backend_name(chosen));
        ch.expect(chosen != FILEAIO_BACKEND_IO_URING && chosen != FILEAIO_BACKEND_LINUX_AIO,
                  std::string("AUTO claims ") + fileaio_backend_name(chosen) + ", which needs a descriptor");
        io_round_works(c, ch.fd, ch, "AUTO's choice");
        ch.expect(fileaio_ctx_destroy(c) == 0, "destroy");
    }
    famine.end();
    return ch.exit_code();
}

// ---- RLIMIT_MEMLOCK ----

// Room for a small ring (a few pages), not for the region below. io_uring charges a user's rings
// and buffers together, so a ring that another such test holds at the same time still fits.
constexpr rlim_t small_memlock = 64 * 1024;
constexpr size_t large_region = size_t{1} << 20;  // registered buffers: more than small_memlock

// Drops CAP_IPC_LOCK from the effective set (with it, root is exempt from RLIMIT_MEMLOCK). A
// process without it has nothing to drop.
bool drop_ipc_lock() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return false;
    data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
    return ::syscall(SYS_capset, &header, data) == 0;
}

// RLIMIT_MEMLOCK lowered to `limit` (and CAP_IPC_LOCK dropped) for the life of the object.
class memlock_limit {
public:
    bool begin(rlim_t limit, std::string *why) {
        if (!drop_ipc_lock()) return fail(why, "dropping CAP_IPC_LOCK");
        if (::getrlimit(RLIMIT_MEMLOCK, &saved_) != 0) return fail(why, "getrlimit RLIMIT_MEMLOCK");
        struct rlimit low = saved_;
        low.rlim_cur = limit;
        if (::setrlimit(RLIMIT_MEMLOCK, &low) != 0) return fail(why, "setrlimit RLIMIT_MEMLOCK");
        active_ = true;
        return true;
    }
    ~memlock_limit() {
        if (active_) ::setrlimit(RLIMIT_MEMLOCK, &saved_);
    }

private:
    struct rlimit saved_ {};
    bool active_ = false;
};

// Registers [region, region + size) with c (a hint: 0, or refused with
// E_INSUFFICIENT_RESOURCES), then writes from and reads into it; the bytes must be right either way.
void registered_region_io_works(fileaio_ctx *c, int fd, size_t size, child_report &rep, const std::string &what) {
    void *mem = nullptr;
    if (!rep.expect(::posix_memalign(&mem, block, size) == 0, "posix_memalign")) return;
    auto *region = static_cast<unsigned char *>(mem);
    std::memset(region, 0, size);
    auto out = pattern_buffer(0, 2 * block, write_seed);
    std::memcpy(region, out.data(), out.size());
    struct iovec iov = {region, size};
    int rc = fileaio_ctx_register_buffers(c, &iov, 1);
    note(what + ": register_buffers of " + std::to_string(size / 1024) + " KiB gave " + name_of(rc));
    rep.expect(rc == 0 || rc == FILEAIO_E_INSUFFICIENT_RESOURCES,
               what + ": register_buffers gave " + name_of(rc) +
                   ", expected 0 (the hint taken) or FILEAIO_E_INSUFFICIENT_RESOURCES");

    fileaio_req *r = nullptr;
    fileaio_req_create(&r);
    auto run = [&](const char *step) {
        int src = fileaio_ctx_submit(c, &r, 1, nullptr);
        fileaio_req *done = nullptr;
        size_t k = 0;
        if (src == 0) src = fileaio_ctx_wait(c, 1, long_timeout_ms, &done, 1, &k);
        size_t moved = 0;
        if (src == 0) src = fileaio_req_get_result(r, &moved);
        rep.expect(src == 0 && moved == 2 * block, what + ": " + step + " through the region gave " + name_of(src) +
                                                       ", " + std::to_string(moved) + " bytes");
    };
    fileaio_req_prepare_write(r, fd, 0, region, 2 * block, nullptr);
    run("a write");
    fileaio_req_prepare_read(r, fd, 0, region + 2 * block, 2 * block, nullptr);
    run("a read");
    rep.expect(std::memcmp(region + 2 * block, out.data(), out.size()) == 0, what + ": the bytes read back differ");
    rep.expect(static_cast<bool>(reads_back(fd, 0, 2 * block, write_seed)),
               what + ": the file does not hold the bytes written");
    rc = fileaio_ctx_unregister_buffers(c);
    rep.expect(rc == 0, what + ": unregister_buffers gave " + name_of(rc));
    fileaio_req_destroy(r);
    std::free(mem);
}

// With no lockable memory: creation works, or is refused with E_INSUFFICIENT_RESOURCES (a kernel
// that charges io_uring's rings to RLIMIT_MEMLOCK refuses the ring); never another code. A context
// that was created works, registered region included.
int memlock_zero(fileaio_backend b, const std::string &dir) {
    child ch(b, dir);
    if (!ch.ready()) return ch.exit_code();
    {
        memlock_limit limit;
        std::string why;
        if (!ch.expect(limit.begin(0, &why), why)) return ch.exit_code();
        fileaio_ctx *c = nullptr;
        const int rc = fileaio_ctx_create_ex(&c, child_max_reqs, 0, b);
        note(ch.name + " created with RLIMIT_MEMLOCK 0: " + name_of(rc));
        if (rc == 0) {
            registered_region_io_works(c, ch.fd, 4 * block, ch, ch.name + " with RLIMIT_MEMLOCK 0");
            io_round_works(c, ch.fd, ch, ch.name + " with RLIMIT_MEMLOCK 0");
            ch.expect(fileaio_ctx_destroy(c) == 0, "destroy");
        } else {
            ch.expect(rc == FILEAIO_E_INSUFFICIENT_RESOURCES,
                      ch.name + " with RLIMIT_MEMLOCK 0: create gave " + name_of(rc) +
                          ", expected 0 or FILEAIO_E_INSUFFICIENT_RESOURCES (the kernel refused ring memory)");
        }
    }
    return ch.exit_code();
}

// With room for a ring but not for the registered region: creation works; registering the region
// is refused with E_INSUFFICIENT_RESOURCES or taken; the I/O on it is right either way.
int memlock_small(fileaio_backend b, const std::string &dir) {
    child ch(b, dir);
    if (!ch.ready()) return ch.exit_code();
    {
        memlock_limit limit;
        std::string why;
        if (!ch.expect(limit.begin(small_memlock, &why), why)) return ch.exit_code();
        fileaio_ctx *c = nullptr;
        const int rc = fileaio_ctx_create_ex(&c, child_max_reqs, 0, b);
        if (ch.expect(rc == 0, ch.name + " with RLIMIT_MEMLOCK " + std::to_string(small_memlock / 1024) +
                                   " KiB: create gave " + name_of(rc))) {
            const std::string what = ch.name + " with RLIMIT_MEMLOCK " + std::to_string(small_memlock / 1024) + " KiB";
            registered_region_io_works(c, ch.fd, large_region, ch, what);
            io_round_works(c, ch.fd, ch, what);
            ch.expect(fileaio_ctx_destroy(c) == 0, "destroy");
        }
    }
    return ch.exit_code();
}

int auto_with_memlock_zero(const std::string &dir) {
    child ch(dir);
    if (!ch.ready()) return ch.exit_code();
    {
        memlock_limit limit;
        std::string why;
        if (!ch.expect(limit.begin(0, &why), why)) return ch.exit_code();
        fileaio_ctx *c = nullptr;
        const int rc = fileaio_ctx_create(&c, child_max_reqs, 0);
        if (ch.expect(rc == 0, "AUTO with RLIMIT_MEMLOCK 0 gave " + name_of(rc) + ": it must move on")) {
            note(std::string("AUTO with RLIMIT_MEMLOCK 0 picked ") + fileaio_backend_name(fileaio_ctx_get_backend(c)));
            io_round_works(c, ch.fd, ch, "AUTO's choice with RLIMIT_MEMLOCK 0");
            ch.expect(fileaio_ctx_destroy(c) == 0, "destroy");
        }
    }
    return ch.exit_code();
}

using rlimit_nofile = backend_test;
using rlimit_memlock = backend_test;

TEST_P(rlimit_nofile, creating_a_context_with_no_descriptor_left_is_insufficient_resources_or_needs_none) {
    FILEAIO_EXPECT_CHILD_PASSES(create_without_a_free_descriptor(GetParam(), dir_.path()));
}

TEST_P(rlimit_nofile, a_context_made_before_the_descriptors_ran_out_keeps_working) {
    FILEAIO_EXPECT_CHILD_PASSES(context_made_before_the_famine_works_during_it(GetParam(), dir_.path()));
}

TEST_P(rlimit_memlock, with_no_lockable_memory_creation_works_or_is_insufficient_resources) {
    FILEAIO_EXPECT_CHILD_PASSES(memlock_zero(GetParam(), dir_.path()));
}

TEST_P(rlimit_memlock, buffers_beyond_the_memlock_limit_are_refused_clearly_or_taken_and_their_io_is_right) {
    FILEAIO_EXPECT_CHILD_PASSES(memlock_small(GetParam(), dir_.path()));
}

// Not per backend: AUTO.
class rlimit_auto : public ::testing::Test {
protected:
    temp_dir dir_;
};

TEST_F(rlimit_auto, moves_on_to_a_backend_that_needs_no_descriptor_when_none_is_left) {
    FILEAIO_EXPECT_CHILD_PASSES(auto_without_a_free_descriptor(dir_.path()));
}

TEST_F(rlimit_auto, moves_on_when_no_memory_may_be_locked) {
    FILEAIO_EXPECT_CHILD_PASSES(auto_with_memlock_zero(dir_.path()));
}

FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(rlimit_nofile);
FILEAIO_INSTANTIATE_FOR_EVERY_BACKEND(rlimit_memlock);

}  // namespace
}  // namespace fileaio::test
