// api_fuzzer: a libFuzzer harness that reads its input as a program of fileaio C API calls
// (program.hpp) and runs it against a shadow model of every context and request. After every
// call it checks, against API.md:
//
//   - the exact code of the call (handle, state, arguments, in that order; one fault per call);
//   - a failing call changes nothing (every request's state, user pointer and result, every
//     context's counters, *submitted / *count / *ctx, and the "dead" handles stay untouched);
//   - states: get_state / get_result / get_user of every request match the model;
//   - exactly once: every SUBMITTED request is reported once, by wait or by a cancel that
//     returns 0, never twice, never by a wait of another context, never lost (the drain at the
//     end of each input must collect every one of them within 10 s, else it is a hang);
//   - the counters: get_stats equals the model (submitted, completed, canceled, failed,
//     pending, pending_max) and submitted == completed + canceled + pending;
//   - wait: a pending wakeup gives E_INTERRUPTED, E_TIMEOUT only with fewer than min_reqs, the
//     call ends near its timeout; the flush barrier (a flush is handed back after every earlier
//     write to its fd on the context); cancel's answers are consistent (E_COMPLETED is never
//     followed by a 0);
//   - results: each completion's code and byte count are what the kernel must answer for that
//     file (EBADF, EISDIR, end of file, full transfers), and every byte read from the data file
//     that no concurrent write could have changed equals what the model says is there; with no
//     write to it in flight, the whole file equals the model;
//   - no file descriptor leaks from one input to the next; ASan/UBSan/LSan do the rest.
//
// A violation prints what went wrong and aborts: libFuzzer saves the input. To see the calls
// of an input: FILEAIO_FUZZ_TRACE=1 ./api_fuzzer crash-file. The calls are made from one
// thread, except for wakeup_later (another thread calls fileaio_ctx_wakeup a little later),
// concurrent (another thread waits while this one submits, cancels and wakes up) and the
// destruction of contexts with nothing pending, done by background threads (see reaper).
#include <fileaio/fileaio.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "invalid_enum_shim.h"
#include "program.hpp"

namespace {

using namespace fileaio::fuzz;
using steady = std::chrono::steady_clock;

// ---- Limits of the harness ----

constexpr int iov_max = 1024;  // IOV_MAX on Linux (API.md: iovcnt > IOV_MAX is invalid)
#ifdef IOV_MAX
static_assert(IOV_MAX == iov_max);
#endif
constexpr uint32_t drain_budget_ms = 10000;     // the drain of one input: longer is a hang
constexpr uint32_t wait_budget_ms = 2000;       // bounded waits of one input, in total
constexpr int64_t wait_overrun_slack_ms = 5000;  // "never much longer than timeout_ms", on a busy machine
constexpr uint32_t timeouts_ms[] = {0, 1, 2, 5, 20, 20};  // [wait_forever] is used when safe
constexpr uint32_t big_max_reqs = 4096;
constexpr int closed_fd_floor = 900;  // a closed fd number, far above every fd this process opens
constexpr size_t dead_size = 4096;
constexpr uint64_t tib = uint64_t{1} << 40;
constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
constexpr size_t ssize_max = static_cast<size_t>(SSIZE_MAX);

// ---- Reporting ----

bool g_trace = false;
std::atomic<size_t> g_op_index{0};  // the op being run in this input

__attribute__((format(printf, 1, 2))) void trace(const char *fmt, ...)
{
    if (!g_trace) return;
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "[op %zu] ", g_op_index.load());
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
}

void unlink_world();

[[noreturn]] __attribute__((format(printf, 1, 2))) void violation(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "\napi_fuzzer: CONTRACT VIOLATION at op %zu of the input: ", g_op_index.load());
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    std::fprintf(stderr, "api_fuzzer: rerun with FILEAIO_FUZZ_TRACE=1 to see every call of the input\n");
    va_end(ap);
    unlink_world();
    std::abort();
}

const char *name(int code) { return fileaio_errname(code); }

void expect_code(const char *what, int got, int want)
{
    if (got != want) violation("%s returned %d (%s), the contract says %d (%s)", what, got, name(got), want, name(want));
}

bool is_os_error(int rc) { return rc < 0 && rc >= -4095; }
bool is_resource_error(int rc) { return rc == FILEAIO_E_INSUFFICIENT_RESOURCES || rc == FILEAIO_E_NO_MEMORY; }

// ---- Counters, printed at exit with FILEAIO_FUZZ_STATS=1 (2: also the time spent per opcode) ----

struct counters {
    uint64_t inputs = 0, ops = 0, contexts = 0, submits_ok = 0, submitted = 0, completed = 0, failed = 0;
    uint64_t cancel_tries = 0, canceled = 0, cancel_completed = 0, cancel_in_progress = 0, cancel_too_late = 0;
    uint64_t waits = 0, interrupted = 0, timeouts = 0, rejected_calls = 0, bytes_checked = 0, resource_refusals = 0;
    uint64_t per_backend[5] = {};
    double op_ms[static_cast<size_t>(opcode::count) + 2] = {};  // + start, drain and teardown
};
counters g_count;

// ---- Destroying contexts in the background ----

// A context with nothing pending is destroyed by one of these threads while the next calls (or the
// next input) run: legal (destroy only must not race with calls on the same context), and it keeps
// libFuzzer fast, since linux_aio's io_destroy waits for an RCU grace period (~30 ms here). The
// code must still be 0. At most max_backlog contexts wait, so resources stay bounded.
class reaper {
public:
    static constexpr size_t threads = 6;  // they mostly sleep in the kernel
    static constexpr size_t max_backlog = 24;

    void start()
    {
        for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
    }
    void stop()
    {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        work_.notify_all();
        for (std::thread &t : threads_) t.join();
        threads_.clear();
    }
    void destroy(fileaio_ctx *h, fileaio_backend kind)
    {
        std::unique_lock lock(mutex_);
        room_.wait(lock, [&] { return queue_.size() < max_backlog; });
        queue_.push_back({h, kind});
        work_.notify_one();
    }
    bool idle()
    {
        std::lock_guard lock(mutex_);
        return queue_.empty() && busy_ == 0;
    }

private:
    struct item {
        fileaio_ctx *h;
        fileaio_backend kind;
    };
    void run()
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            item it = queue_.back();
            queue_.pop_back();
            ++busy_;
            lock.unlock();
            int rc = fileaio_ctx_destroy(it.h);
            if (rc != 0)
                violation("destroy of a %s context with nothing pending and no waiter returned %d (%s) (on a "
                          "background thread: the op index is approximate)",
                          fileaio_backend_name(it.kind), rc, fileaio_errname(rc));
            lock.lock();
            --busy_;
            room_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable work_, room_;
    std::vector<item> queue_;
    size_t busy_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};
reaper g_reaper;

// ---- The world: files and buffers, made once per process ----

struct world {
    std::string dir, data_path, scratch_path;
    int fds[fd_classes] = {-1, -1, -1, -1, -1, -1};
    std::vector<fileaio_backend> available, unavailable;
    int auto_probe = FILEAIO_E_NOT_SUPPORTED;
    size_t baseline_fds = 0;
};
world g_world;

alignas(4096) unsigned char g_buf[req_slots][buffer_size];
iovec g_iov[req_slots][2][iov_max + 1];  // two per slot: a prepare builds in the one not in use
iovec g_iov_scratch[iov_max + 1];        // for prepares on NULL or dead handles
alignas(64) unsigned char g_dead_req[dead_size];
alignas(64) unsigned char g_dead_ctx[dead_size];
unsigned char g_one_byte[iov_max + 1];  // the target of the IOV_MAX + 1 register_buffers case

fileaio_req *dead_req() { return reinterpret_cast<fileaio_req *>(g_dead_req); }
fileaio_ctx *dead_ctx() { return reinterpret_cast<fileaio_ctx *>(g_dead_ctx); }

// The file descriptors of the kinds the library makes (anonymous inodes: io_uring rings, eventfds)
// or could leak (the files of this harness), counted, and as "fd -> target" lines in `list` if
// given. Others are not counted: libFuzzer opens its own between inputs (llvm-symbolizer's pipes
// for NEW_FUNC lines, the control file of -merge, ...).
size_t count_open_fds(std::string *list = nullptr)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == nullptr) return 0;
    size_t n = 0;
    while (dirent *e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char target[256] = "";
        const std::string path = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t len = ::readlink(path.c_str(), target, sizeof target - 1);
        if (len > 0) target[len] = '\0';
        if (std::strncmp(target, "anon_inode:", 11) != 0 &&
            std::strncmp(target, g_world.dir.c_str(), g_world.dir.size()) != 0)
            continue;
        ++n;
        if (list != nullptr) *list += std::string("  ") + e->d_name + " -> " + target + "\n";
    }
    closedir(d);
    return n;
}

// Removes the temporary files and directory (also on the way to abort: descriptors stay open).
void unlink_world()
{
    if (!g_world.data_path.empty()) ::unlink(g_world.data_path.c_str());
    if (!g_world.scratch_path.empty()) ::unlink(g_world.scratch_path.c_str());
    if (!g_world.dir.empty()) ::rmdir(g_world.dir.c_str());
}

void remove_world()
{
    for (int &fd : g_world.fds) {
        if (fd >= 0 && fd != g_world.fds[fd_closed] && fd != g_world.fds[fd_negative]) ::close(fd);
    }
    unlink_world();
}

void print_counters()
{
    const counters &c = g_count;
    std::fprintf(stderr,
                 "api_fuzzer: %llu inputs, %llu ops, %llu contexts (io_uring %llu, linux_aio %llu, posix_aio %llu, "
                 "thread_pool %llu), %llu submits accepted, %llu requests submitted, %llu completed (%llu failed), "
                 "%llu waits (%llu interrupted, %llu timed out), cancels of requests in flight: %llu tried, %llu "
                 "stopped, %llu E_COMPLETED, %llu E_IN_PROGRESS, %llu E_NOT_SUBMITTED (a wait on another thread "
                 "had it); %llu calls rejected as the contract says; %llu bytes read checked; %llu resource "
                 "refusals; 0 violations\n",
                 static_cast<unsigned long long>(c.inputs), static_cast<unsigned long long>(c.ops),
                 static_cast<unsigned long long>(c.contexts), static_cast<unsigned long long>(c.per_backend[1]),
                 static_cast<unsigned long long>(c.per_backend[2]), static_cast<unsigned long long>(c.per_backend[3]),
                 static_cast<unsigned long long>(c.per_backend[4]), static_cast<unsigned long long>(c.submits_ok),
                 static_cast<unsigned long long>(c.submitted), static_cast<unsigned long long>(c.completed),
                 static_cast<unsigned long long>(c.failed), static_cast<unsigned long long>(c.waits),
                 static_cast<unsigned long long>(c.interrupted), static_cast<unsigned long long>(c.timeouts),
                 static_cast<unsigned long long>(c.cancel_tries), static_cast<unsigned long long>(c.canceled),
                 static_cast<unsigned long long>(c.cancel_completed),
                 static_cast<unsigned long long>(c.cancel_in_progress),
                 static_cast<unsigned long long>(c.cancel_too_late),
                 static_cast<unsigned long long>(c.rejected_calls), static_cast<unsigned long long>(c.bytes_checked),
                 static_cast<unsigned long long>(c.resource_refusals));
    if (const char *s = std::getenv("FILEAIO_FUZZ_STATS"); s == nullptr || std::strcmp(s, "2") != 0) return;
    std::fprintf(stderr, "api_fuzzer: milliseconds per opcode (then start, end of input):");
    for (size_t i = 0; i < std::size(c.op_ms); ++i) std::fprintf(stderr, " %zu:%.0f", i, c.op_ms[i]);
    std::fputc('\n', stderr);
}

void at_exit()
{
    g_reaper.stop();
    if (g_world.baseline_fds != 0 && count_open_fds() != g_world.baseline_fds) {
        std::string list;
        const size_t fds = count_open_fds(&list);
        std::fprintf(stderr, "\napi_fuzzer: CONTRACT VIOLATION at exit: %zu file descriptors open, %zu at the start:\n%s",
                     fds, g_world.baseline_fds, list.c_str());
        unlink_world();
        std::abort();
    }
    if (const char *s = std::getenv("FILEAIO_FUZZ_STATS"); s != nullptr && *s != '\0' && *s != '0') print_counters();
    remove_world();
}

[[noreturn]] void setup_failed(const char *what)
{
    std::fprintf(stderr, "api_fuzzer: setup failed: %s: %s\n", what, std::strerror(errno));
    remove_world();
    std::exit(2);
}

// The byte write number `id` puts at file offset `off`; id 0 is the initial content.
unsigned char pattern(uint32_t id, uint64_t off)
{
    uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t{id} * 0xC2B2AE3D27D4EB4FULL);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    return static_cast<unsigned char>(x >> 56);
}

void make_world()
{
    g_trace = std::getenv("FILEAIO_FUZZ_TRACE") != nullptr;
    const char *base = std::getenv("FILEAIO_FUZZ_DIR");
    if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
    if (base == nullptr || *base == '\0') base = "/tmp";
    std::string templ = std::string(base) + "/fileaio-fuzz-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) setup_failed("mkdtemp");
    g_world.dir = buf.data();
    g_world.data_path = g_world.dir + "/data";
    g_world.scratch_path = g_world.dir + "/scratch";
    std::atexit(at_exit);

    int *fds = g_world.fds;
    fds[fd_data] = ::open(g_world.data_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fds[fd_data] < 0) setup_failed("open data");
    fds[fd_data_ro] = ::open(g_world.data_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fds[fd_data_ro] < 0) setup_failed("open data read-only");
    fds[fd_scratch] = ::open(g_world.scratch_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fds[fd_scratch] < 0) setup_failed("open scratch");
    fds[fd_dir] = ::open(g_world.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fds[fd_dir] < 0) setup_failed("open dir");
    fds[fd_negative] = -1;
    // A number that is surely not open: dup there (proves it is a legal fd number), close it.
    int closed = ::fcntl(fds[fd_data], F_DUPFD_CLOEXEC, closed_fd_floor);
    if (closed < 0) setup_failed("fcntl(F_DUPFD)");
    ::close(closed);
    fds[fd_closed] = closed;
    if (::ftruncate(fds[fd_data], static_cast<off_t>(data_file_size)) != 0) setup_failed("ftruncate data");

    for (fileaio_backend b : {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO,
                              FILEAIO_BACKEND_THREAD_POOL}) {
        char reason[256] = "";
        int rc = fileaio_backend_probe(b, reason, sizeof reason);
        if (rc == 0) {
            g_world.available.push_back(b);
        } else {
            g_world.unavailable.push_back(b);
            std::fprintf(stderr, "api_fuzzer: %s is not fuzzed here: %s\n", fileaio_backend_name(b), reason);
        }
    }
    if (g_world.available.empty()) {
        std::fprintf(stderr, "api_fuzzer: no backend is available (thread_pool always should be)\n");
        std::exit(2);
    }
    g_world.auto_probe = fileaio_backend_probe(FILEAIO_BACKEND_AUTO, nullptr, 0);
    g_world.baseline_fds = count_open_fds();
    g_reaper.start();
}

// ---- The input ----

struct reader {
    const uint8_t *p;
    size_t n;
    uint8_t u8()
    {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
};

uint32_t xorshift(uint32_t &s)
{
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
}

// ---- The model ----

enum class io_kind : uint8_t { none, read, write, readv, writev, flush, datasync };
enum class tri : uint8_t { no, yes, maybe };

bool kind_writes(io_kind k) { return k == io_kind::write || k == io_kind::writev; }
bool kind_reads(io_kind k) { return k == io_kind::read || k == io_kind::readv; }
bool kind_syncs(io_kind k) { return k == io_kind::flush || k == io_kind::datasync; }

struct req_model {
    fileaio_req *h = nullptr;  // NULL: the slot is empty
    int state = FILEAIO_REQ_COMPLETED;
    void *user = nullptr;
    int result = 0;
    size_t transferred = 0;

    // What it was prepared with.
    io_kind kind = io_kind::none;
    fd_class fdc = fd_data;
    int fd = -1;
    int64_t offset = 0;
    size_t size = 0;
    unsigned char *buf = nullptr;
    const iovec *iov = nullptr;
    int iovcnt = 0;
    int iov_in_use = 0;  // which of the slot's two iovec arrays the request points at
    uint32_t write_id = 0;

    // While SUBMITTED.
    size_t ctx = 0;
    uint64_t seq = 0;
    bool tainted = false;           // a concurrent overlapping write to the data file: data unknown
    bool cancel_said_done = false;  // a cancel answered E_COMPLETED

    bool data_write() const { return fdc == fd_data && kind_writes(kind); }
    bool data_read() const { return (fdc == fd_data || fdc == fd_data_ro) && kind_reads(kind); }
    bool overlaps(const req_model &o) const
    {
        return offset < o.offset + static_cast<int64_t>(o.size) && o.offset < offset + static_cast<int64_t>(size);
    }
};

struct ctx_model {
    fileaio_ctx *h = nullptr;
    uint32_t max_reqs = 0;
    uint32_t flags = 0;
    fileaio_backend kind = FILEAIO_BACKEND_AUTO;
    uint64_t submitted = 0, completed = 0, canceled = 0, failed = 0, pending = 0;
    // pending_max lies in [lo, hi]: exact (lo == hi) unless a submit ran during a wait on another
    // thread or was partly refused (it reserves the whole batch for a moment).
    uint64_t pending_max_lo = 0, pending_max_hi = 0;

    void raise_pending_max(uint64_t lo, uint64_t hi)
    {
        pending_max_lo = std::max(pending_max_lo, lo);
        pending_max_hi = std::max(pending_max_hi, hi);
    }
    tri wakeup = tri::no;
    std::thread waker;
    std::atomic<int> waker_rc{0};
    bool waker_running = false;
};

struct model {
    std::array<req_model, req_slots> reqs{};
    std::array<ctx_model, ctx_slots> ctxs{};
    std::array<unsigned char, data_file_size> shadow{};
    std::array<bool, data_file_size> known{};
    size_t unknown = 0;  // bytes of the data file whose content the model does not know
    uint64_t next_seq = 1;
    uint32_t next_write_id = 1;
    uintptr_t next_user = 1;
    uint32_t wait_spent_ms = 0;
};

model *g_m = nullptr;

req_model *find_req(const fileaio_req *h)
{
    for (req_model &r : g_m->reqs)
        if (r.h != nullptr && r.h == h) return &r;
    return nullptr;
}

size_t slot_of(const req_model &r) { return static_cast<size_t>(&r - g_m->reqs.data()); }

size_t in_flight(size_t ctx)
{
    size_t n = 0;
    for (const req_model &r : g_m->reqs)
        if (r.h != nullptr && r.state == FILEAIO_REQ_SUBMITTED && r.ctx == ctx) ++n;
    return n;
}

bool data_write_in_flight()
{
    for (const req_model &r : g_m->reqs)
        if (r.h != nullptr && r.state == FILEAIO_REQ_SUBMITTED && r.data_write()) return true;
    return false;
}

// Calls f(logical index, byte) for the first n bytes of a read or write's buffer(s).
template <class F>
void for_each_byte(const req_model &r, size_t n, F &&f)
{
    if (r.kind == io_kind::read || r.kind == io_kind::write) {
        for (size_t i = 0; i < n; ++i) f(i, r.buf + i);
        return;
    }
    size_t i = 0;
    for (int k = 0; k < r.iovcnt && i < n; ++k) {
        auto *base = static_cast<unsigned char *>(r.iov[k].iov_base);
        for (size_t j = 0; j < r.iov[k].iov_len && i < n; ++j, ++i) f(i, base + j);
    }
}

// ---- Handles from selectors ----

fileaio_ctx *ctx_handle(uint8_t sel, ctx_model **m)
{
    sel = static_cast<uint8_t>(sel % ctx_selectors);
    *m = nullptr;
    if (sel == ctx_null) return nullptr;
    if (sel == ctx_dead) return dead_ctx();
    *m = &g_m->ctxs[sel];
    return (*m)->h;
}

fileaio_req *req_handle(uint8_t sel, req_model **m)
{
    sel = static_cast<uint8_t>(sel % req_selectors);
    *m = nullptr;
    if (sel == req_null) return nullptr;
    if (sel == req_dead) return dead_req();
    *m = &g_m->reqs[sel];
    return (*m)->h;
}

bool live(const fileaio_req *h) { return h != nullptr && h != dead_req(); }
bool live(const fileaio_ctx *h) { return h != nullptr && h != dead_ctx(); }

// ---- Checks after every call ----

void check_request(const req_model &r)
{
    size_t slot = slot_of(r);
    int st = fileaio_req_get_state(r.h);
    if (st != r.state) violation("request %zu: get_state %d (%s), the model says %d", slot, st, name(st), r.state);
    void *user = fileaio_req_get_user(r.h);
    if (user != r.user) violation("request %zu: get_user %p, prepared with %p", slot, user, r.user);
    size_t t = 0xdeadbeef;
    int rc = fileaio_req_get_result(r.h, &t);
    switch (r.state) {
        case FILEAIO_REQ_PREPARED: expect_code("get_result of a PREPARED request", rc, FILEAIO_E_NOT_SUBMITTED); break;
        case FILEAIO_REQ_SUBMITTED: expect_code("get_result of a SUBMITTED request", rc, FILEAIO_E_IN_PROGRESS); break;
        default:
            if (rc != r.result || t != r.transferred)
                violation("request %zu: get_result %s / %zu bytes, it completed with %s / %zu", slot, name(rc), t,
                          name(r.result), r.transferred);
    }
}

void check_context(size_t slot)
{
    const ctx_model &c = g_m->ctxs[slot];
    fileaio_stats st{};
    expect_code("get_stats", fileaio_ctx_get_stats(c.h, &st), 0);
    if (st.submitted != c.submitted || st.completed != c.completed || st.canceled != c.canceled ||
        st.failed != c.failed || st.pending != c.pending ||
        st.pending_max < c.pending_max_lo || st.pending_max > c.pending_max_hi)
        violation("context %zu: stats submitted %llu completed %llu canceled %llu failed %llu pending %llu "
                  "pending_max %llu; the model says %llu %llu %llu %llu %llu %llu..%llu",
                  slot, static_cast<unsigned long long>(st.submitted), static_cast<unsigned long long>(st.completed),
                  static_cast<unsigned long long>(st.canceled), static_cast<unsigned long long>(st.failed),
                  static_cast<unsigned long long>(st.pending), static_cast<unsigned long long>(st.pending_max),
                  static_cast<unsigned long long>(c.submitted), static_cast<unsigned long long>(c.completed),
                  static_cast<unsigned long long>(c.canceled), static_cast<unsigned long long>(c.failed),
                  static_cast<unsigned long long>(c.pending), static_cast<unsigned long long>(c.pending_max_lo),
                  static_cast<unsigned long long>(c.pending_max_hi));
    if (st.submitted != st.completed + st.canceled + st.pending)
        violation("context %zu: stats do not balance (submitted != completed + canceled + pending)", slot);
    if (st.pending != in_flight(slot)) violation("context %zu: pending %llu, %zu requests in flight", slot,
                                                 static_cast<unsigned long long>(st.pending), in_flight(slot));
    if (fileaio_ctx_get_max_req_count(c.h) != c.max_reqs) violation("context %zu: get_max_req_count changed", slot);
    if (fileaio_ctx_get_backend(c.h) != c.kind) violation("context %zu: get_backend changed", slot);
}

void check_all()
{
    for (const req_model &r : g_m->reqs)
        if (r.h != nullptr) check_request(r);
    for (size_t i = 0; i < ctx_slots; ++i)
        if (g_m->ctxs[i].h != nullptr) check_context(i);
    for (unsigned char b : g_dead_req)
        if (b != 0) violation("the library wrote into a dead request handle");
    for (unsigned char b : g_dead_ctx)
        if (b != 0) violation("the library wrote into a dead context handle");
}

// ---- Completions ----

// The kernel's answer for r: when `exact`, the code and the byte count it must complete with.
struct expected_result {
    bool exact;
    int rc;
    size_t bytes;
};

expected_result expect_for(const req_model &r)
{
    const bool reads = kind_reads(r.kind), writes = kind_writes(r.kind);
    switch (r.fdc) {
        case fd_closed: return {true, -EBADF, 0};
        case fd_dir:
            if (writes) return {true, -EBADF, 0};
            if (reads) return {false, 0, 0};  // EISDIR from read(2); AIO may say EINVAL
            return {true, 0, 0};
        case fd_data_ro:
            if (writes) return {true, -EBADF, 0};
            [[fallthrough]];
        case fd_data:
            if (reads) {
                const auto off = static_cast<uint64_t>(r.offset);
                size_t avail = off >= data_file_size ? 0 : data_file_size - static_cast<size_t>(off);
                return {true, 0, std::min(r.size, avail)};
            }
            if (writes) return {true, 0, r.size};
            return {true, 0, 0};
        default:
            if (kind_syncs(r.kind)) return {true, 0, 0};
            return {false, 0, 0};  // the scratch file: anything up to INT64_MAX, ext4's limit on the way
    }
}

void check_result(const req_model &r, int rc, size_t t)
{
    size_t slot = slot_of(r);
    if (rc == FILEAIO_E_CANCELED) violation("request %zu: wait returned a request with result E_CANCELED", slot);
    if (rc != 0 && !is_os_error(rc))
        violation("request %zu: completed with %d (%s), neither 0 nor -errno", slot, rc, name(rc));
    if (t > r.size) violation("request %zu: %zu bytes transferred of %zu", slot, t, r.size);
    if (kind_syncs(r.kind) && t != 0) violation("request %zu: a flush transferred %zu bytes", slot, t);
    expected_result e = expect_for(r);
    if (e.exact) {
        if (rc != e.rc || t != e.bytes)
            violation("request %zu (op %d on fd class %d, offset %lld, size %zu): completed with %s / %zu bytes, "
                      "the kernel must answer %s / %zu",
                      slot, static_cast<int>(r.kind), static_cast<int>(r.fdc), static_cast<long long>(r.offset), r.size,
                      name(rc), t, name(e.rc), e.bytes);
    } else if (rc == 0 && kind_writes(r.kind) && t != r.size) {
        violation("request %zu: a write succeeded with %zu of %zu bytes (short transfers are the library's job)",
                  slot, t, r.size);
    } else if (r.fdc == fd_dir && kind_reads(r.kind) && (rc == 0 || t != 0)) {
        violation("request %zu: a read of a directory completed with %s / %zu bytes", slot, name(rc), t);
    }
}

// A read of the data file: every byte that no concurrent write could change matches the model.
void check_read_data(const req_model &r, size_t t)
{
    if (!r.data_read() || r.tainted) return;
    for_each_byte(r, t, [&](size_t i, const unsigned char *p) {
        const size_t off = static_cast<size_t>(r.offset) + i;
        if (g_m->known[off] && *p != g_m->shadow[off])
            violation("request %zu: read byte %zu of the data file as 0x%02x, it holds 0x%02x", slot_of(r), off, *p,
                      g_m->shadow[off]);
    });
    g_count.bytes_checked += t;
}

// A write to the data file that wait returned: the model learns its bytes, or forgets the range.
void apply_write(const req_model &r, int rc, size_t t)
{
    if (!r.data_write()) return;
    const auto first = static_cast<size_t>(r.offset);
    const bool certain = !r.tainted && rc == 0 && t == r.size;
    for (size_t i = 0; i < r.size; ++i) {
        if (g_m->known[first + i] != certain) {
            g_m->known[first + i] = certain;
            if (certain) --g_m->unknown;
            else ++g_m->unknown;
        }
        if (certain) g_m->shadow[first + i] = pattern(r.write_id, first + i);
    }
}

// One request handed back by wait on context `ctx`.
void complete_one(size_t ctx, fileaio_req *h, size_t index)
{
    req_model *r = find_req(h);
    if (r == nullptr) violation("wait on context %zu returned [%zu] = %p, not a request of this program", ctx, index,
                                static_cast<void *>(h));
    const size_t slot = slot_of(*r);
    if (r->state != FILEAIO_REQ_SUBMITTED)
        violation("wait on context %zu returned request %zu, which is not in flight (reported twice, or never "
                  "submitted; model state %d)",
                  ctx, slot, r->state);
    if (r->ctx != ctx)
        violation("wait on context %zu returned request %zu, which was submitted to context %zu", ctx, slot, r->ctx);
    int st = fileaio_req_get_state(h);
    if (st != FILEAIO_REQ_COMPLETED) violation("request %zu returned by wait is in state %d", slot, st);
    size_t t = 0;
    int rc = fileaio_req_get_result(h, &t);
    trace("  completed: request %zu -> %s, %zu bytes", slot, name(rc), t);
    check_result(*r, rc, t);
    // The flush barrier, and the order it implies: no earlier write to its fd on this context is
    // still unreported.
    if (kind_syncs(r->kind)) {
        for (const req_model &w : g_m->reqs)
            if (w.h != nullptr && w.state == FILEAIO_REQ_SUBMITTED && w.ctx == ctx && kind_writes(w.kind) &&
                w.fd == r->fd && w.seq < r->seq)
                violation("flush/datasync request %zu (fd %d) handed back before the earlier write request %zu",
                          slot, r->fd, slot_of(w));
    }
    check_read_data(*r, t);
    apply_write(*r, rc, t);
    r->state = FILEAIO_REQ_COMPLETED;
    r->result = rc;
    r->transferred = t;
    ctx_model &c = g_m->ctxs[ctx];
    ++c.completed;
    --c.pending;
    ++g_count.completed;
    if (rc < 0) {
        ++c.failed;
        ++g_count.failed;
    }
}

// ---- Operations ----

void join_waker(ctx_model &c)
{
    if (!c.waker_running) return;
    c.waker.join();
    c.waker_running = false;
    expect_code("wakeup from another thread", c.waker_rc.load(), 0);
    if (c.wakeup == tri::no) c.wakeup = tri::maybe;  // it may not have been consumed
}

// Reassigning a ctx_model (it holds a std::thread and an atomic) field by field.
void reset_ctx(ctx_model &c)
{
    c.h = nullptr;
    c.max_reqs = 0;
    c.flags = 0;
    c.kind = FILEAIO_BACKEND_AUTO;
    c.submitted = c.completed = c.canceled = c.failed = c.pending = 0;
    c.pending_max_lo = c.pending_max_hi = 0;
    c.wakeup = tri::no;
    c.waker_rc = 0;
    c.waker_running = false;
}

void op_ctx_create(reader &in)
{
    const uint8_t slot_b = in.u8(), max_b = in.u8(), flags_b = in.u8(), backend_b = in.u8(), fault_b = in.u8();
    ctx_model &c = g_m->ctxs[slot_b % ctx_slots];
    const auto fault = static_cast<uint8_t>(fault_b & 15);
    auto api = static_cast<uint8_t>((fault_b >> 4) % 3);

    fileaio_ctx_options o{};
    o.size = sizeof o;
    o.max_reqs = 1 + max_b % 16u;
    o.flags = flags_b & FILEAIO_CTX_WAIT_WITHOUT_PENDING;
    const size_t choices = g_world.available.size() + 1;  // the last one: AUTO
    const size_t pick = backend_b % choices;
    o.backend = pick < g_world.available.size() ? g_world.available[pick] : FILEAIO_BACKEND_AUTO;
    if (api == api_create_opts) {
        o.threads = (backend_b >> 4) % 3u;
        o.uring_max_workers = (backend_b >> 6) % 3u;
    }
    if (api == api_create && o.backend != FILEAIO_BACKEND_AUTO) api = api_create_ex;

    // With the options, one of their faults; the tail is zero unless it is that fault.
    struct {
        fileaio_ctx_options o;
        unsigned char tail[16];
    } bigger{};
    fileaio_ctx_options *opts = &o;
    int raw_backend = 0;
    int expected = 0;
    fileaio_ctx *out = nullptr;
    fileaio_ctx **outp = &out;
    switch (fault) {
        case create_max_zero: o.max_reqs = 0; expected = FILEAIO_E_INVALID_PARAMETER; break;
        case create_max_unlimited: o.max_reqs = FILEAIO_UNLIMITED_REQS; expected = FILEAIO_E_OUT_OF_RANGE; break;
        case create_bad_flags:
            o.flags |= (max_b & 1) != 0 ? 0x8u : 0x80000000u;
            expected = FILEAIO_E_INVALID_PARAMETER;
            break;
        case create_bad_backend: {  // made in C by the shim (tests/capi/invalid_enum_shim.c)
            static constexpr int bad[] = {5, 99, -1, INT_MAX};
            raw_backend = bad[max_b % 4];
            expected = FILEAIO_E_INVALID_PARAMETER;
            break;
        }
        case create_unavailable:
            if (!g_world.unavailable.empty()) {
                o.backend = g_world.unavailable[max_b % g_world.unavailable.size()];
                if (api == api_create) api = api_create_ex;
                expected = FILEAIO_E_NOT_SUPPORTED;
            }
            break;
        case create_null_out: outp = nullptr; expected = FILEAIO_E_INVALID_PARAMETER; break;
        case create_bad_options:
            api = api_create_opts;
            switch (max_b % 4) {
                case 0: o.size = offsetof(fileaio_ctx_options, uring_max_workers); expected = FILEAIO_E_INVALID_PARAMETER; break;
                case 1:
                    bigger.o = o;
                    bigger.o.size = sizeof bigger;
                    bigger.tail[flags_b % sizeof bigger.tail] = static_cast<unsigned char>(1 | backend_b);
                    opts = &bigger.o;
                    expected = FILEAIO_E_NOT_SUPPORTED;
                    break;
                case 2: o.threads = 1025; expected = FILEAIO_E_INVALID_PARAMETER; break;
                default: o.uring_flags = 0x2u; expected = FILEAIO_E_INVALID_PARAMETER; break;
            }
            break;
        case create_big_max: o.max_reqs = big_max_reqs; break;
        default:
            if ((fault & 1) != 0 && api == api_create_opts) {  // a larger struct with a zero tail is fine
                bigger.o = o;
                bigger.o.size = sizeof bigger;
                opts = &bigger.o;
            }
            break;
    }
    if (expected == 0 && o.backend == FILEAIO_BACKEND_AUTO && raw_backend == 0) expected = g_world.auto_probe;
    if (expected == 0 && c.h != nullptr) return;  // the slot is taken: a success would have nowhere to go

    int rc;
    if (raw_backend != 0) {
        rc = api == api_create_opts ? capi_shim_ctx_create_opts(outp, o.max_reqs, raw_backend)
                                    : capi_shim_ctx_create_ex(outp, o.max_reqs, o.flags, raw_backend);
    } else if (api == api_create) {
        rc = fileaio_ctx_create(outp, o.max_reqs, o.flags);
    } else if (api == api_create_ex) {
        rc = fileaio_ctx_create_ex(outp, o.max_reqs, o.flags, o.backend);
    } else {
        rc = fileaio_ctx_create_opts(outp, opts);
    }
    trace("ctx_create slot %zu api %d max %u flags %#x backend %d fault %d -> %s", slot_b % ctx_slots, api, o.max_reqs,
          o.flags, raw_backend != 0 ? raw_backend : static_cast<int>(o.backend), fault, name(rc));
    if (expected != 0) {
        ++g_count.rejected_calls;
        expect_code("fileaio_ctx_create*", rc, expected);
        if (out != nullptr) violation("a refused create wrote *ctx");
        return;
    }
    if (is_resource_error(rc)) {  // the operating system may refuse (fs.aio-max-nr, memory): allowed
        ++g_count.resource_refusals;
        if (out != nullptr) violation("a refused create wrote *ctx");
        return;
    }
    expect_code("fileaio_ctx_create*", rc, 0);
    if (out == nullptr) violation("create returned 0 and no context");
    reset_ctx(c);
    c.h = out;
    c.max_reqs = o.max_reqs;
    c.flags = o.flags;
    c.kind = fileaio_ctx_get_backend(out);
    if (o.backend != FILEAIO_BACKEND_AUTO && c.kind != o.backend)
        violation("asked for backend %s, got %s", fileaio_backend_name(o.backend), fileaio_backend_name(c.kind));
    if (std::find(g_world.available.begin(), g_world.available.end(), c.kind) == g_world.available.end())
        violation("a context runs backend %d, which the probe called unavailable", static_cast<int>(c.kind));
    ++g_count.contexts;
    ++g_count.per_backend[static_cast<size_t>(c.kind)];
}

void op_ctx_destroy(reader &in)
{
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(in.u8(), &c);
    if (c != nullptr) join_waker(*c);  // destroy must not race with other calls (API.md)
    int expected = 0;
    if (h == dead_ctx()) expected = FILEAIO_E_INVALID_HANDLE;
    else if (h != nullptr && c->pending != 0) expected = FILEAIO_E_BUSY;
    if (expected == 0 && h != nullptr) {  // it must succeed: in the background, checked there
        trace("ctx_destroy %p -> (in the background)", static_cast<void *>(h));
        g_reaper.destroy(h, c->kind);
        reset_ctx(*c);
        return;
    }
    int rc = fileaio_ctx_destroy(h);
    trace("ctx_destroy %p -> %s", static_cast<void *>(h), name(rc));
    expect_code("fileaio_ctx_destroy", rc, expected);
    if (rc != 0) ++g_count.rejected_calls;
}

void op_req_create(reader &in)
{
    const uint8_t slot_b = in.u8(), variant = in.u8();
    req_model &r = g_m->reqs[slot_b % req_slots];
    if ((variant & 7) == 7) {
        int rc = fileaio_req_create(nullptr);
        trace("req_create NULL -> %s", name(rc));
        expect_code("fileaio_req_create(NULL)", rc, FILEAIO_E_INVALID_PARAMETER);
        ++g_count.rejected_calls;
        return;
    }
    if (r.h != nullptr) return;
    fileaio_req *h = nullptr;
    int rc = fileaio_req_create(&h);
    trace("req_create slot %zu -> %s", slot_b % req_slots, name(rc));
    expect_code("fileaio_req_create", rc, 0);
    if (h == nullptr) violation("req_create returned 0 and no request");
    const int keep = r.iov_in_use;
    r = req_model{};
    r.h = h;
    r.iov_in_use = keep;
}

void op_req_destroy(reader &in)
{
    req_model *r = nullptr;
    fileaio_req *h = req_handle(in.u8(), &r);
    int expected = 0;
    if (h == dead_req()) expected = FILEAIO_E_INVALID_HANDLE;
    else if (h != nullptr && r->state == FILEAIO_REQ_SUBMITTED) expected = FILEAIO_E_IN_PROGRESS;
    int rc = fileaio_req_destroy(h);
    trace("req_destroy %p -> %s", static_cast<void *>(h), name(rc));
    expect_code("fileaio_req_destroy", rc, expected);
    if (rc != 0) ++g_count.rejected_calls;
    if (rc == 0 && h != nullptr) r->h = nullptr;
}

// The offset of a valid request of `size` bytes on fd class fdc, from two operand bytes.
int64_t pick_offset(fd_class fdc, bool writes, uint8_t lo, uint8_t hi, size_t size)
{
    const uint16_t v = static_cast<uint16_t>(lo | (hi << 8));
    if (fdc == fd_scratch) {
        const uint64_t small = v & 0x3fff;
        switch (hi >> 6) {
            case 0: return static_cast<int64_t>(small * 16);
            case 1: return static_cast<int64_t>(tib + small);  // sparse, far away
            case 2: return static_cast<int64_t>(16 * tib - 8192 + small);  // around ext4's largest file
            default: return int64_max - static_cast<int64_t>(size) - static_cast<int64_t>(small);  // the very end
        }
    }
    if (writes && fdc == fd_data) {  // writes to the data file stay inside it: its size never changes
        const size_t room = data_file_size - size + 1;
        return static_cast<int64_t>(v % room);
    }
    return static_cast<int64_t>(v % (data_file_size + 4096));
}

void *next_user(uint8_t user_b)
{
    if ((user_b & 1) != 0) return nullptr;
    return reinterpret_cast<void *>((g_m->next_user++ << 4) | 0x8);
}

int expected_prepare(fileaio_req *h, const req_model *r, bool fault)
{
    if (!live(h)) return FILEAIO_E_INVALID_HANDLE;
    if (r->state == FILEAIO_REQ_SUBMITTED) return FILEAIO_E_IN_PROGRESS;
    return fault ? FILEAIO_E_INVALID_PARAMETER : 0;
}

// After a successful prepare: the model takes the new operation, the buffer its content.
void prepared(req_model &r, io_kind kind, fd_class fdc, int fd, int64_t offset, size_t size, void *user)
{
    r.state = FILEAIO_REQ_PREPARED;
    r.kind = kind;
    r.fdc = fdc;
    r.fd = fd;
    r.offset = offset;
    r.size = size;
    r.user = user;
    r.result = 0;
    r.transferred = 0;
    if (kind_writes(kind)) {
        r.write_id = g_m->next_write_id++;
        for_each_byte(r, size, [&](size_t i, unsigned char *p) {
            *p = pattern(r.write_id, static_cast<uint64_t>(offset) + i);
        });
    } else if (kind_reads(kind)) {
        const auto poison = static_cast<unsigned char>(0xa5 ^ r.write_id ^ size);
        for_each_byte(r, size, [&](size_t, unsigned char *p) { *p = poison; });
    }
}

void op_prepare_io(reader &in, bool write)
{
    const uint8_t req_b = in.u8(), fd_b = in.u8(), off_lo = in.u8(), off_hi = in.u8(), size_lo = in.u8(),
                  size_hi = in.u8(), fault_b = in.u8(), user_b = in.u8();
    req_model *r = nullptr;
    fileaio_req *h = req_handle(req_b, &r);
    auto fdc = static_cast<fd_class>(fd_b % (fd_classes - 1));  // fd < 0 is a fault of its own
    int fd = g_world.fds[fdc];
    const auto fault = static_cast<uint8_t>(fault_b % io_faults);
    const size_t boff = (user_b >> 1) & 63;
    unsigned char *base = g_buf[r != nullptr ? slot_of(*r) : 0] + boff;
    size_t size = 1 + static_cast<size_t>((size_lo | (size_hi << 8)) % (buffer_size - boff));
    int64_t offset = pick_offset(fdc, write, off_lo, off_hi, size);
    void *buf = base;
    switch (fault) {
        case io_negative_offset: {
            const int64_t bad[] = {-1, std::numeric_limits<int64_t>::min(), -static_cast<int64_t>(size)};
            offset = bad[off_lo % 3];
            break;
        }
        case io_null_buffer: buf = nullptr; break;
        case io_zero_size: size = 0; break;
        case io_huge_size: size = (off_lo & 1) != 0 ? std::numeric_limits<size_t>::max() : ssize_max + 1; break;
        case io_range_overflow: offset = int64_max - static_cast<int64_t>(off_lo % size); break;
        case io_negative_fd: fd = (off_lo & 1) != 0 ? -1 : INT_MIN; break;
        default: break;
    }
    const int expected = expected_prepare(h, r, fault > io_ok_last);
    void *user = next_user(user_b);
    int rc = write ? fileaio_req_prepare_write(h, fd, offset, buf, size, user)
                   : fileaio_req_prepare_read(h, fd, offset, buf, size, user);
    trace("prepare_%s %p fd %d offset %lld size %zu buf %p -> %s", write ? "write" : "read", static_cast<void *>(h),
          fd, static_cast<long long>(offset), size, buf, name(rc));
    expect_code(write ? "fileaio_req_prepare_write" : "fileaio_req_prepare_read", rc, expected);
    if (rc != 0) {
        ++g_count.rejected_calls;
        return;
    }
    r->buf = base;
    r->iov = nullptr;
    r->iovcnt = 0;
    prepared(*r, write ? io_kind::write : io_kind::read, fdc, fd, offset, size, user);
}

void op_prepare_vectored(reader &in, bool write)
{
    const uint8_t req_b = in.u8(), fd_b = in.u8(), off_lo = in.u8(), off_hi = in.u8(), count_b = in.u8(),
                  seed_b = in.u8(), fault_b = in.u8(), user_b = in.u8();
    req_model *r = nullptr;
    fileaio_req *h = req_handle(req_b, &r);
    auto fdc = static_cast<fd_class>(fd_b % (fd_classes - 1));
    int fd = g_world.fds[fdc];
    const auto fault = static_cast<uint8_t>(fault_b % vec_faults);
    // Built in the slot's iovec array that no request points at (a failed prepare changes nothing).
    const int next = r != nullptr ? 1 - r->iov_in_use : 0;
    iovec *iov = r != nullptr ? g_iov[slot_of(*r)][next] : g_iov_scratch;
    const size_t boff = (user_b >> 1) & 63;
    unsigned char *base = g_buf[r != nullptr ? slot_of(*r) : 0] + boff;
    const size_t room = buffer_size - boff;

    int count = 1 + count_b % static_cast<int>(max_iov);
    if (fault == vec_iov_max || fault == vec_too_many) count = fault == vec_iov_max ? iov_max : iov_max + 1;
    if (fault == vec_total_overflow && count < 2) count = 2;
    uint32_t s = (uint32_t{seed_b} + 1) * 2654435761u + static_cast<uint32_t>(count);
    size_t total = 0, at = 0;
    for (int k = 0; k < count; ++k) {
        size_t len;
        if (count > static_cast<int>(max_iov)) {
            len = 1;
        } else {
            const uint32_t x = xorshift(s);
            len = (x & 7) == 0 ? 0 : x % (room / static_cast<size_t>(count) + 1);
        }
        if (fault == vec_zero_total) len = 0;
        const bool null_base = len == 0 && ((xorshift(s) >> 3) & 1) != 0;
        iov[k].iov_base = null_base ? nullptr : base + at;
        iov[k].iov_len = len;
        at += len;
        total += len;
    }
    const iovec *iov_arg = iov;
    int count_arg = count;
    bool invalid = fault > vec_iov_max || total == 0;
    switch (fault) {
        case vec_null_iov: iov_arg = nullptr; break;
        case vec_zero_count: count_arg = 0; break;
        case vec_negative_count: count_arg = (off_lo & 1) != 0 ? -1 : INT_MIN; break;
        case vec_null_base: {
            iovec &e = iov[seed_b % count];
            e.iov_base = nullptr;
            if (e.iov_len == 0) e.iov_len = 1;
            break;
        }
        case vec_total_overflow:  // two lengths whose sum does not fit in size_t (nothing is touched)
            iov[0].iov_base = base;
            iov[1].iov_base = base;
            iov[0].iov_len = iov[1].iov_len = std::numeric_limits<size_t>::max() / 2 + 1;
            break;
        default: break;
    }
    const size_t size = total;
    int64_t offset = pick_offset(fdc, write, off_lo, off_hi, std::max<size_t>(size, 1));
    switch (fault) {
        case vec_negative_offset: offset = (off_lo & 1) != 0 ? -1 : std::numeric_limits<int64_t>::min(); break;
        case vec_negative_fd: fd = -1; break;
        case vec_range_overflow: offset = int64_max - static_cast<int64_t>(off_lo % std::max<size_t>(size, 1)); break;
        default: break;
    }
    if (fault == vec_range_overflow && size == 0) offset = int64_max;  // (already invalid: zero total)
    const int expected = expected_prepare(h, r, invalid);
    void *user = next_user(user_b);
    int rc = write ? fileaio_req_prepare_writev(h, fd, offset, iov_arg, count_arg, user)
                   : fileaio_req_prepare_readv(h, fd, offset, iov_arg, count_arg, user);
    trace("prepare_%s %p fd %d offset %lld iovcnt %d total %zu fault %d -> %s", write ? "writev" : "readv",
          static_cast<void *>(h), fd, static_cast<long long>(offset), count_arg, size, fault, name(rc));
    expect_code(write ? "fileaio_req_prepare_writev" : "fileaio_req_prepare_readv", rc, expected);
    if (rc != 0) {
        ++g_count.rejected_calls;
        return;
    }
    r->iov_in_use = next;
    r->iov = iov;
    r->iovcnt = count;
    r->buf = nullptr;
    prepared(*r, write ? io_kind::writev : io_kind::readv, fdc, fd, offset, size, user);
}

void op_prepare_sync(reader &in, bool datasync)
{
    const uint8_t req_b = in.u8(), fd_b = in.u8(), fault_b = in.u8(), user_b = in.u8();
    req_model *r = nullptr;
    fileaio_req *h = req_handle(req_b, &r);
    auto fdc = static_cast<fd_class>(fd_b % (fd_classes - 1));
    int fd = g_world.fds[fdc];
    const bool fault = (fault_b & 3) == 3;
    if (fault) fd = (fault_b & 4) != 0 ? -1 : INT_MIN;
    const int expected = expected_prepare(h, r, fault);
    void *user = next_user(user_b);
    int rc = datasync ? fileaio_req_prepare_datasync(h, fd, user) : fileaio_req_prepare_flush(h, fd, user);
    trace("prepare_%s %p fd %d -> %s", datasync ? "datasync" : "flush", static_cast<void *>(h), fd, name(rc));
    expect_code(datasync ? "fileaio_req_prepare_datasync" : "fileaio_req_prepare_flush", rc, expected);
    if (rc != 0) {
        ++g_count.rejected_calls;
        return;
    }
    r->buf = nullptr;
    r->iov = nullptr;
    r->iovcnt = 0;
    prepared(*r, datasync ? io_kind::datasync : io_kind::flush, fdc, fd, 0, 0, user);
}

// Marks r SUBMITTED on context `ctx`, and taints the data checks of overlapping requests.
void mark_submitted(req_model &r, size_t ctx)
{
    r.state = FILEAIO_REQ_SUBMITTED;
    r.ctx = ctx;
    r.seq = g_m->next_seq++;
    r.tainted = false;
    r.cancel_said_done = false;
    if (!r.data_write() && !r.data_read()) return;
    for (req_model &o : g_m->reqs) {
        if (&o == &r || o.h == nullptr || o.state != FILEAIO_REQ_SUBMITTED) continue;
        if (!(o.data_write() || o.data_read()) || !r.overlaps(o)) continue;
        if (r.data_write() || o.data_write()) {
            if (r.data_write()) o.tainted = true;
            if (o.data_write()) r.tainted = true;
        }
    }
}

void op_submit(reader &in)
{
    const uint8_t ctx_b = in.u8(), count_b = in.u8(), variant_b = in.u8();
    uint8_t elem_b[max_batch];
    for (uint8_t &e : elem_b) e = in.u8();
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(ctx_b, &c);
    const auto variant = static_cast<uint8_t>(variant_b % 8);
    size_t count = count_b % (max_batch + 1);
    std::array<fileaio_req *, max_batch> batch{};
    std::array<req_model *, max_batch> models{};
    if (variant == submit_prepared || variant == submit_prepared + 1) {
        size_t n = 0;
        for (size_t k = 0; k < req_slots && n < count; ++k) {
            req_model &r = g_m->reqs[(elem_b[0] + k) % req_slots];
            if (r.h != nullptr && r.state == FILEAIO_REQ_PREPARED) {
                models[n] = &r;
                batch[n++] = r.h;
            }
        }
        if (n != 0) count = n;
        else
            for (size_t i = 0; i < count; ++i) batch[i] = req_handle(elem_b[i], &models[i]);
    } else {
        for (size_t i = 0; i < count; ++i) batch[i] = req_handle(elem_b[i], &models[i]);
    }
    fileaio_req *const *reqs = variant == submit_null_reqs ? nullptr : batch.data();

    int expected = 0;
    if (!live(h)) {
        expected = FILEAIO_E_INVALID_HANDLE;
    } else if (reqs == nullptr || count == 0) {
        expected = FILEAIO_E_INVALID_PARAMETER;
    } else {
        for (size_t i = 0; i < count && expected == 0; ++i) {
            if (!live(batch[i])) {
                expected = FILEAIO_E_INVALID_HANDLE;
            } else if (models[i]->state == FILEAIO_REQ_PREPARED) {
                if (std::find(batch.begin(), batch.begin() + static_cast<ptrdiff_t>(i), batch[i]) !=
                    batch.begin() + static_cast<ptrdiff_t>(i))
                    expected = FILEAIO_E_INVALID_PARAMETER;
            } else {
                expected = models[i]->state == FILEAIO_REQ_COMPLETED ? FILEAIO_E_NOT_PREPARED : FILEAIO_E_IN_PROGRESS;
            }
        }
        if (expected == 0 && c->pending + count > c->max_reqs) expected = FILEAIO_E_LIMIT_EXCEEDED;
    }
    size_t submitted = 0xdeadbeef;
    size_t *submitted_p = variant == submit_null_out ? nullptr : &submitted;
    int rc = fileaio_ctx_submit(h, reqs, count, submitted_p);
    trace("submit ctx %p count %zu variant %d -> %s, %zu", static_cast<void *>(h), count, variant, name(rc),
          submitted_p != nullptr ? submitted : 0);
    size_t n = 0;
    if (expected == 0 && is_resource_error(rc)) {
        ++g_count.resource_refusals;
        n = submitted_p != nullptr ? submitted : 0;
        if (submitted_p == nullptr) {  // unknown how many: learn it from the states
            for (size_t i = 0; i < count; ++i)
                if (fileaio_req_get_state(batch[i]) == FILEAIO_REQ_SUBMITTED) n = i + 1;
        }
        if (n >= count) violation("submit returned %s with all %zu submitted", name(rc), count);
        c->raise_pending_max(c->pending + n, c->pending + count);
    } else {
        expect_code("fileaio_ctx_submit", rc, expected);
        if (rc != 0) {
            ++g_count.rejected_calls;
            if (submitted_p != nullptr && submitted != 0) violation("a refused submit set *submitted = %zu", submitted);
            return;
        }
        n = count;
        if (submitted_p != nullptr && submitted != count)
            violation("submit returned 0 with *submitted = %zu of %zu", submitted, count);
    }
    const size_t ctx = static_cast<size_t>(c - g_m->ctxs.data());
    for (size_t i = 0; i < n; ++i) mark_submitted(*models[i], ctx);
    c->submitted += n;
    c->pending += n;
    c->raise_pending_max(c->pending, c->pending);
    ++g_count.submits_ok;
    g_count.submitted += n;
}

// The effective state of a context's wakeup flag after a wait that consumed (or could not have
// left) a pending wakeup.
tri after_wait(const ctx_model &c) { return c.waker_running ? tri::maybe : tri::no; }

void op_wait(reader &in)
{
    const uint8_t ctx_b = in.u8(), min_b = in.u8(), cap_b = in.u8(), timeout_b = in.u8(), variant_b = in.u8();
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(ctx_b, &c);
    const auto variant = static_cast<uint8_t>(variant_b % 8);
    size_t min_reqs = min_b % (max_batch + 1);
    size_t capacity = 1 + cap_b % 16u;
    if ((cap_b & 0x80) != 0) capacity = wait_array;
    const size_t eff_min = std::max<size_t>(min_reqs, 1);
    const size_t flying = c != nullptr && live(h) ? in_flight(static_cast<size_t>(c - g_m->ctxs.data())) : 0;

    // FILEAIO_WAIT_FOREVER only when something surely ends the wait; bounded waits share a budget.
    const auto tsel = static_cast<uint8_t>(timeout_b % 6);
    uint32_t timeout = timeouts_ms[tsel];
    const bool surely_ends = eff_min <= flying || (c != nullptr && c->wakeup == tri::yes);
    if (tsel == wait_forever && surely_ends) timeout = FILEAIO_WAIT_FOREVER;
    if (timeout != FILEAIO_WAIT_FOREVER) {
        if (g_m->wait_spent_ms >= wait_budget_ms) timeout = 0;
        g_m->wait_spent_ms += timeout;
    }

    std::array<fileaio_req *, wait_array> out{};
    fileaio_req **completed = variant == wait_null_completed ? nullptr : out.data();
    size_t count = 0xdeadbeef;
    size_t *count_p = variant == wait_null_count ? nullptr : &count;
    if (variant == wait_zero_capacity) capacity = 0;

    int expected = 0;  // 0: one of the outcomes of a wait that ran
    if (!live(h)) expected = FILEAIO_E_INVALID_HANDLE;
    else if (completed == nullptr || count_p == nullptr || capacity == 0) expected = FILEAIO_E_INVALID_PARAMETER;
    else if (min_reqs > capacity) expected = FILEAIO_E_OUT_OF_RANGE;
    else if (flying == 0 && (c->flags & FILEAIO_CTX_WAIT_WITHOUT_PENDING) == 0) expected = FILEAIO_E_NO_REQUEST;

    const auto start = steady::now();
    int rc = fileaio_ctx_wait(h, min_reqs, timeout, completed, capacity, count_p);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count();
    trace("wait ctx %p min %zu capacity %zu timeout %u -> %s, %zu (in flight %zu, wakeup %d) in %lld ms",
          static_cast<void *>(h), min_reqs, capacity, timeout, name(rc), count_p != nullptr ? count : 0, flying,
          c != nullptr ? static_cast<int>(c->wakeup) : -1, static_cast<long long>(ms));
    ++g_count.waits;
    if (expected != 0) {
        ++g_count.rejected_calls;
        expect_code("fileaio_ctx_wait", rc, expected);
        if (count_p != nullptr && count != 0) violation("a refused wait left *count = %zu (it is set to 0 first)", count);
        return;
    }
    if (timeout != FILEAIO_WAIT_FOREVER && ms > static_cast<int64_t>(timeout) + wait_overrun_slack_ms)
        violation("wait with timeout %u ms took %lld ms", timeout, static_cast<long long>(ms));
    if (count > capacity) violation("wait returned %zu completions with capacity %zu", count, capacity);
    if (count > flying) violation("wait returned %zu completions with %zu in flight", count, flying);
    const size_t ctx = static_cast<size_t>(c - g_m->ctxs.data());
    for (size_t i = 0; i < count; ++i) complete_one(ctx, out[i], i);

    switch (rc) {
        case 0:
            if (c->wakeup == tri::yes) violation("wait returned 0 with a wakeup pending (the wakeup wins)");
            if (count < eff_min) violation("wait returned 0 with %zu completions, min_reqs %zu", count, min_reqs);
            break;
        case FILEAIO_E_INTERRUPTED:
            ++g_count.interrupted;
            if (c->wakeup == tri::no && !c->waker_running) violation("wait interrupted with no wakeup");
            break;
        case FILEAIO_E_TIMEOUT:
            ++g_count.timeouts;
            if (c->wakeup == tri::yes) violation("wait timed out with a wakeup pending");
            if (count >= eff_min) violation("wait timed out with %zu completions, min_reqs %zu", count, min_reqs);
            break;
        default: violation("fileaio_ctx_wait returned %d (%s)", rc, name(rc));
    }
    if (rc != FILEAIO_E_TIMEOUT && timeout != FILEAIO_WAIT_FOREVER && eff_min > flying && c->wakeup == tri::no &&
        !c->waker_running)
        violation("wait for %zu with %zu in flight and no wakeup returned %s", eff_min, flying, name(rc));
    c->wakeup = after_wait(*c);
}

void op_wakeup(reader &in)
{
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(in.u8(), &c);
    int rc = fileaio_ctx_wakeup(h);
    trace("wakeup %p -> %s", static_cast<void *>(h), name(rc));
    expect_code("fileaio_ctx_wakeup", rc, live(h) ? 0 : FILEAIO_E_INVALID_HANDLE);
    if (live(h)) c->wakeup = tri::yes;
    else ++g_count.rejected_calls;
}

void op_wakeup_later(reader &in)
{
    const uint8_t slot_b = in.u8(), delay_b = in.u8();
    ctx_model &c = g_m->ctxs[slot_b % ctx_slots];
    if (c.h == nullptr || c.waker_running) return;
    const int delay_ms = delay_b % 4;
    fileaio_ctx *h = c.h;
    c.waker_rc = 0;
    c.waker = std::thread([h, delay_ms, &c] {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        c.waker_rc = fileaio_ctx_wakeup(h);
    });
    c.waker_running = true;
    if (c.wakeup == tri::no) c.wakeup = tri::maybe;
    trace("wakeup_later %p in %d ms", static_cast<void *>(h), delay_ms);
}

void op_cancel(reader &in)
{
    req_model *r = nullptr;
    fileaio_req *h = req_handle(in.u8(), &r);
    int rc = fileaio_req_cancel(h);
    trace("cancel %p -> %s", static_cast<void *>(h), name(rc));
    if (!live(h)) {
        expect_code("fileaio_req_cancel", rc, FILEAIO_E_INVALID_HANDLE);
        ++g_count.rejected_calls;
        return;
    }
    if (r->state != FILEAIO_REQ_SUBMITTED) {
        expect_code("fileaio_req_cancel of a request not SUBMITTED", rc, FILEAIO_E_NOT_SUBMITTED);
        ++g_count.rejected_calls;
        return;
    }
    ++g_count.cancel_tries;
    if (rc == FILEAIO_E_COMPLETED) {
        r->cancel_said_done = true;
        ++g_count.cancel_completed;
        return;
    }
    if (rc == FILEAIO_E_IN_PROGRESS) {
        ++g_count.cancel_in_progress;
        return;
    }
    if (rc != 0) violation("cancel of a SUBMITTED request returned %d (%s)", rc, name(rc));
    if (r->cancel_said_done) violation("cancel stopped request %zu after answering E_COMPLETED", slot_of(*r));
    // Stopped before it touched the file: no bytes move, the model's file stays as it is.
    r->state = FILEAIO_REQ_COMPLETED;
    r->result = FILEAIO_E_CANCELED;
    r->transferred = 0;
    ctx_model &c = g_m->ctxs[r->ctx];
    ++c.canceled;
    --c.pending;
    ++g_count.canceled;
}

void op_get_stats(reader &in)
{
    const uint8_t ctx_b = in.u8(), variant = in.u8();
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(ctx_b, &c);
    fileaio_stats st{};
    std::memset(&st, 0x5a, sizeof st);
    const fileaio_stats before = st;
    fileaio_stats *out = (variant & 1) != 0 ? nullptr : &st;
    int rc = fileaio_ctx_get_stats(h, out);
    trace("get_stats %p -> %s", static_cast<void *>(h), name(rc));
    int expected = !live(h) ? FILEAIO_E_INVALID_HANDLE : out == nullptr ? FILEAIO_E_INVALID_PARAMETER : 0;
    expect_code("fileaio_ctx_get_stats", rc, expected);
    if (rc != 0) {
        ++g_count.rejected_calls;
        if (std::memcmp(&st, &before, sizeof st) != 0) violation("a refused get_stats wrote its output");
    }
}

void op_get_result(reader &in)
{
    const uint8_t req_b = in.u8(), variant = in.u8();
    req_model *r = nullptr;
    fileaio_req *h = req_handle(req_b, &r);
    if (!live(h)) {
        size_t t = 0xdeadbeef;
        expect_code("fileaio_req_get_result", fileaio_req_get_result(h, &t), FILEAIO_E_INVALID_HANDLE);
        expect_code("fileaio_req_get_state", fileaio_req_get_state(h), FILEAIO_E_INVALID_HANDLE);
        if (fileaio_req_get_user(h) != nullptr) violation("get_user of a NULL or dead handle is not NULL");
        if (t != 0xdeadbeef) violation("get_result of a bad handle wrote *transferred");
        ++g_count.rejected_calls;
        return;
    }
    // check_all reads every result with a byte count; here without (transferred may be NULL).
    int rc = fileaio_req_get_result(h, nullptr);
    if ((variant & 1) != 0 && fileaio_req_get_user(h) != r->user) violation("get_user changed");
    const int expected = r->state == FILEAIO_REQ_PREPARED    ? FILEAIO_E_NOT_SUBMITTED
                         : r->state == FILEAIO_REQ_SUBMITTED ? FILEAIO_E_IN_PROGRESS
                                                             : r->result;
    expect_code("fileaio_req_get_result(transferred NULL)", rc, expected);
}

void op_register_buffers(reader &in)
{
    const uint8_t ctx_b = in.u8(), variant_b = in.u8(), a = in.u8(), b = in.u8();
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(ctx_b, &c);
    const auto variant = static_cast<uint8_t>(variant_b % 8);
    static iovec regions[iov_max + 1];
    unsigned count = 1;
    const iovec *iov = regions;
    bool fault = false;
    switch (variant) {
        case buffers_whole_pool: regions[0] = {g_buf, sizeof g_buf}; break;
        case buffers_each_slot:
            count = req_slots;
            for (size_t i = 0; i < req_slots; ++i) regions[i] = {g_buf[i], buffer_size};
            break;
        case buffers_part_of_slot: {
            const size_t off = a * 32u;
            regions[0] = {g_buf[b % req_slots] + off, 1 + (b * 61u) % (buffer_size - off)};
            break;
        }
        case buffers_two_regions:
            count = 2;
            regions[0] = {g_buf[a % req_slots], buffer_size};
            regions[1] = {g_buf[b % req_slots] + 4096, buffer_size - 4096};
            break;
        case buffers_null_iov: iov = nullptr; fault = true; break;
        case buffers_zero_count:
            fault = true;
            if ((b & 1) != 0) {
                count = iov_max + 1;
                for (size_t i = 0; i < count; ++i) regions[i] = {g_one_byte + i, 1};
            } else {
                count = 0;
            }
            break;
        case buffers_null_base: regions[0] = {nullptr, buffer_size}; fault = true; break;
        default: regions[0] = {g_buf[a % req_slots], 0}; fault = true; break;
    }
    int expected = !live(h)               ? FILEAIO_E_INVALID_HANDLE
                   : c->pending != 0      ? FILEAIO_E_BUSY
                   : fault                ? FILEAIO_E_INVALID_PARAMETER
                                          : 0;
    int rc = fileaio_ctx_register_buffers(h, iov, count);
    trace("register_buffers %p variant %d count %u [0] = %p + %zu -> %s", static_cast<void *>(h), variant, count,
          iov != nullptr ? iov[0].iov_base : nullptr, iov != nullptr ? iov[0].iov_len : 0, name(rc));
    if (expected == 0 && is_resource_error(rc)) {  // RLIMIT_MEMLOCK: the operating system's answer
        ++g_count.resource_refusals;
        return;
    }
    expect_code("fileaio_ctx_register_buffers", rc, expected);
    if (rc != 0) ++g_count.rejected_calls;
}

void op_unregister_buffers(reader &in)
{
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(in.u8(), &c);
    int rc = fileaio_ctx_unregister_buffers(h);
    trace("unregister_buffers %p -> %s", static_cast<void *>(h), name(rc));
    expect_code("fileaio_ctx_unregister_buffers", rc,
                !live(h) ? FILEAIO_E_INVALID_HANDLE : c->pending != 0 ? FILEAIO_E_BUSY : 0);
    if (rc != 0) ++g_count.rejected_calls;
}

void op_associate(reader &in)
{
    const uint8_t ctx_b = in.u8(), fd_b = in.u8();
    ctx_model *c = nullptr;
    fileaio_ctx *h = ctx_handle(ctx_b, &c);
    auto fdc = static_cast<fd_class>(fd_b % fd_classes);
    int rc = fileaio_ctx_associate_with_file(h, g_world.fds[fdc]);
    trace("associate %p fd %d -> %s", static_cast<void *>(h), g_world.fds[fdc], name(rc));
    if (!live(h)) {
        expect_code("fileaio_ctx_associate_with_file", rc, FILEAIO_E_INVALID_HANDLE);
    } else if (fdc == fd_negative) {
        expect_code("fileaio_ctx_associate_with_file(fd < 0)", rc, FILEAIO_E_INVALID_PARAMETER);
    } else if (fdc == fd_closed) {
        if (rc != 0 && rc != -EBADF) violation("associate of a closed fd returned %s", name(rc));
    } else if (rc != 0 && !is_resource_error(rc)) {
        violation("associate of an open fd returned %s", name(rc));
    }
}

// With no write to the data file in flight, the file must hold what the model knows; then the
// model learns the bytes it had forgotten (the content is settled now).
void op_check_data()
{
    if (data_write_in_flight()) return;
    static unsigned char now[data_file_size];
    ssize_t n = ::pread(g_world.fds[fd_data], now, sizeof now, 0);
    if (n != static_cast<ssize_t>(sizeof now)) violation("pread of the data file: %zd bytes (its size changed?)", n);
    if (g_m->unknown == 0 && std::memcmp(now, g_m->shadow.data(), sizeof now) == 0) {
        g_count.bytes_checked += data_file_size;
        trace("check_data: ok");
        return;
    }
    for (size_t i = 0; i < data_file_size; ++i) {
        if (g_m->known[i] && now[i] != g_m->shadow[i])
            violation("the data file holds 0x%02x at byte %zu, the model says 0x%02x (a lost, misplaced or cancelled "
                      "write, or one that was not cancelled)",
                      now[i], i, g_m->shadow[i]);
    }
    std::memcpy(g_m->shadow.data(), now, sizeof now);
    g_m->known.fill(true);
    g_m->unknown = 0;
    g_count.bytes_checked += data_file_size;
    trace("check_data: ok");
}

void op_misc(reader &in)
{
    const uint8_t what = in.u8(), x = in.u8();
    static constexpr fileaio_backend kinds[] = {FILEAIO_BACKEND_AUTO, FILEAIO_BACKEND_IO_URING,
                                                FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO,
                                                FILEAIO_BACKEND_THREAD_POOL};
    const fileaio_backend b = kinds[x % 5];
    const bool avail = b == FILEAIO_BACKEND_AUTO
                           ? g_world.auto_probe == 0
                           : std::find(g_world.available.begin(), g_world.available.end(), b) != g_world.available.end();
    static constexpr int bad[] = {5, 6, 7, 99, -1, INT_MIN, INT_MAX, 1 << 20};
    const int raw = bad[x % 8];
    switch (what % 7) {
        case 0: {
            char reason[64];
            std::memset(reason, 'x', sizeof reason);
            const size_t size = (x & 0x80) != 0 ? 0 : 1 + x % sizeof reason;
            const bool null_reason = (x & 0x40) != 0;
            int rc = fileaio_backend_probe(b, null_reason ? nullptr : reason, size);
            expect_code("fileaio_backend_probe", rc, avail ? 0 : FILEAIO_E_NOT_SUPPORTED);
            bool untouched = true;
            for (size_t i = size; i < sizeof reason; ++i) untouched = untouched && reason[i] == 'x';
            if (!untouched) violation("probe wrote beyond reason_size %zu", size);
            if (!null_reason && size != 0 && reason[0] != 'x' && std::memchr(reason, '\0', size) == nullptr)
                violation("probe wrote an unterminated reason");
            break;
        }
        case 1: {
            fileaio_limits l{};
            int rc = fileaio_get_limits(b, (x & 0x80) != 0 ? nullptr : &l);
            expect_code("fileaio_get_limits", rc,
                        (x & 0x80) != 0 ? FILEAIO_E_INVALID_PARAMETER : avail ? 0 : FILEAIO_E_NOT_SUPPORTED);
            break;
        }
        case 2: {
            const auto fdc = static_cast<fd_class>(x % fd_classes);
            fileaio_dio_alignment a{};
            const bool null_out = (x & 0x80) != 0;
            int rc = fileaio_get_dio_alignment(g_world.fds[fdc], null_out ? nullptr : &a);
            if (null_out || fdc == fd_negative) expect_code("fileaio_get_dio_alignment", rc, FILEAIO_E_INVALID_PARAMETER);
            else if (fdc == fd_closed) expect_code("fileaio_get_dio_alignment(closed fd)", rc, -EBADF);
            else if (fdc != fd_dir) {
                expect_code("fileaio_get_dio_alignment", rc, 0);
                if (a.mem_align == 0 || a.offset_align == 0) violation("a dio alignment of 0");
            }
            break;
        }
        case 3: {
            const int code = -static_cast<int>(x) * ((x & 1) != 0 ? 1 : 40) - ((x & 2) != 0 ? 10000 : 0);
            const char *n = fileaio_errname(code);
            const char *s = fileaio_strerror(code);
            if (n == nullptr || s == nullptr || *n == '\0' || *s == '\0') violation("errname/strerror(%d) empty", code);
            break;
        }
        case 4:
            if (fileaio_ctx_get_max_req_count(nullptr) != FILEAIO_UNLIMITED_REQS ||
                fileaio_ctx_get_max_req_count(dead_ctx()) != FILEAIO_UNLIMITED_REQS)
                violation("get_max_req_count of a NULL or dead context");
            if (fileaio_ctx_get_backend(nullptr) != FILEAIO_BACKEND_AUTO ||
                fileaio_ctx_get_backend(dead_ctx()) != FILEAIO_BACKEND_AUTO)
                violation("get_backend of a NULL or dead context");
            expect_code("fileaio_ctx_destroy(NULL)", fileaio_ctx_destroy(nullptr), 0);
            expect_code("fileaio_req_destroy(NULL)", fileaio_req_destroy(nullptr), 0);
            break;
        case 5:
            if (fileaio_backend_name(b) == nullptr) violation("backend_name is NULL");
            break;
        default: {  // out-of-range backend values
            char reason[64] = "";
            fileaio_limits l{};
            expect_code("fileaio_backend_probe(bad value)", capi_shim_backend_probe(raw, reason, sizeof reason),
                        FILEAIO_E_INVALID_PARAMETER);
            expect_code("fileaio_get_limits(bad value)", capi_shim_get_limits(raw, &l), FILEAIO_E_INVALID_PARAMETER);
            if (std::strcmp(capi_shim_backend_name(raw), "unknown") != 0) violation("backend_name(%d) is not unknown", raw);
            break;
        }
    }
    trace("misc %d %d", what % 7, x);
}

// A second thread waits while this one submits, cancels and wakes up (program.hpp, concurrent).
// The outcome of each call is one of those the interleavings allow; exactly once is exact.
void op_concurrent(reader &in)
{
    const uint8_t slot_b = in.u8(), min_b = in.u8(), timeout_b = in.u8(), submit_b = in.u8(), cancel_a = in.u8(),
                  cancel_b = in.u8(), wake_b = in.u8();
    const size_t ctx = slot_b % ctx_slots;
    ctx_model &c = g_m->ctxs[ctx];
    if (c.h == nullptr) return;
    const size_t min_reqs = 1 + min_b % 4u;
    uint32_t timeout = (timeout_b & 1) != 0 ? 5 : 20;
    if (g_m->wait_spent_ms >= wait_budget_ms) timeout = 1;
    g_m->wait_spent_ms += timeout;
    const uint64_t pending_start = c.pending;
    const tri wakeup_start = c.wakeup;
    const bool waker = c.waker_running;

    std::array<fileaio_req *, wait_array> out{};
    size_t count = 0;
    int wrc = 0;
    std::atomic<bool> entered{false};
    fileaio_ctx *h = c.h;
    std::thread waiter([&] {
        entered = true;
        wrc = fileaio_ctx_wait(h, min_reqs, timeout, out.data(), out.size(), &count);
    });
    while (!entered) std::this_thread::yield();
    if ((wake_b & 2) != 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // likely inside wait

    // Submit: only PREPARED requests, distinct, so the only doubt is the limit (the waiter may
    // have taken some of the pending ones already).
    std::array<fileaio_req *, 4> batch{};
    std::array<req_model *, 4> models{};
    size_t n = 0;
    for (size_t k = 0; k < req_slots && n < (submit_b & 7) % 5u; ++k) {
        req_model &r = g_m->reqs[((submit_b >> 3) + k) % req_slots];
        if (r.h != nullptr && r.state == FILEAIO_REQ_PREPARED) {
            models[n] = &r;
            batch[n++] = r.h;
        }
    }
    int src = 0;
    size_t accepted = 0;
    if (n != 0) {
        src = fileaio_ctx_submit(h, batch.data(), n, &accepted);
        if (is_resource_error(src) && accepted < n) {
            ++g_count.resource_refusals;
            // (the reservation of the whole batch is accounted for below)
        } else if (src == FILEAIO_E_LIMIT_EXCEEDED) {
            if (n <= c.max_reqs && pending_start + n <= c.max_reqs) violation("submit refused for the limit with room");
            if (accepted != 0) violation("a refused submit set *submitted");
            ++g_count.rejected_calls;
        } else {
            expect_code("fileaio_ctx_submit during a wait", src, 0);
            if (n > c.max_reqs) violation("submit of %zu accepted by a context of %u", n, c.max_reqs);
            if (accepted != n) violation("submit returned 0 with *submitted = %zu of %zu", accepted, n);
        }
        for (size_t i = 0; i < accepted; ++i) mark_submitted(*models[i], ctx);
        c.submitted += accepted;
        c.pending += accepted;
        // The waiter may have taken some of pending_start before the reservation (of the whole
        // batch, even if partly refused) was made.
        c.raise_pending_max(accepted, pending_start + (is_resource_error(src) ? n : accepted));
        g_count.submitted += accepted;
    }

    // Cancels, judged after the waiter is back.
    struct cancel_try {
        req_model *r = nullptr;
        fileaio_req *h = nullptr;
        int rc = 0;
        bool was_submitted = false;
    };
    std::array<cancel_try, 2> cancels{};
    size_t cancel_count = 0;
    for (uint8_t sel : {cancel_a, cancel_b}) {
        cancel_try &t = cancels[cancel_count++];
        t.h = req_handle(sel, &t.r);
        t.was_submitted = live(t.h) && t.r->state == FILEAIO_REQ_SUBMITTED;
        t.rc = fileaio_req_cancel(t.h);
    }
    const bool woke = (wake_b & 1) != 0;
    if (woke) expect_code("fileaio_ctx_wakeup during a wait", fileaio_ctx_wakeup(h), 0);
    waiter.join();
    trace("concurrent ctx %zu: wait(min %zu, %u ms) -> %s, %zu; submit %zu -> %s, %zu; cancels %s, %s; wakeup %d",
          ctx, min_reqs, timeout, name(wrc), count, n, name(src), accepted, name(cancels[0].rc), name(cancels[1].rc),
          woke ? 1 : 0);
    ++g_count.waits;

    // Cancels that stopped a request first: then no wait may have returned it (complete_one checks).
    for (size_t i = 0; i < cancel_count; ++i) {
        cancel_try &t = cancels[i];
        if (!live(t.h)) {
            expect_code("fileaio_req_cancel", t.rc, FILEAIO_E_INVALID_HANDLE);
            continue;
        }
        if (!t.was_submitted) {
            expect_code("fileaio_req_cancel of a request not SUBMITTED", t.rc, FILEAIO_E_NOT_SUBMITTED);
            continue;
        }
        ++g_count.cancel_tries;
        if (t.rc == 0) {
            if (t.r->cancel_said_done) violation("cancel stopped a request after answering E_COMPLETED");
            t.r->state = FILEAIO_REQ_COMPLETED;
            t.r->result = FILEAIO_E_CANCELED;
            t.r->transferred = 0;
            ctx_model &owner = g_m->ctxs[t.r->ctx];
            ++owner.canceled;
            --owner.pending;
            ++g_count.canceled;
        } else if (t.rc == FILEAIO_E_COMPLETED) {
            ++g_count.cancel_completed;
        } else if (t.rc == FILEAIO_E_IN_PROGRESS) {
            ++g_count.cancel_in_progress;
        } else if (t.rc == FILEAIO_E_NOT_SUBMITTED) {
            ++g_count.cancel_too_late;
        } else {
            violation("cancel during a wait returned %d (%s)", t.rc, name(t.rc));
        }
    }
    if (count > out.size()) violation("wait returned %zu completions with capacity %zu", count, out.size());
    for (size_t i = 0; i < count; ++i) complete_one(ctx, out[i], i);
    for (size_t i = 0; i < cancel_count; ++i) {
        const cancel_try &t = cancels[i];
        if (!t.was_submitted) continue;
        // E_NOT_SUBMITTED: only if the waiter had already completed it. E_COMPLETED or
        // E_IN_PROGRESS: the waiter returned it, or a later wait will.
        if (t.rc == FILEAIO_E_NOT_SUBMITTED && t.r->state == FILEAIO_REQ_SUBMITTED)
            violation("cancel of a request in flight answered E_NOT_SUBMITTED");
        if (t.rc == FILEAIO_E_COMPLETED && t.r->state == FILEAIO_REQ_SUBMITTED) t.r->cancel_said_done = true;
    }

    // The waiter's code.
    uint64_t stopped_here = 0;  // requests of this context stopped by a cancel: pending may have dropped to 0
    for (size_t i = 0; i < cancel_count; ++i)
        if (cancels[i].was_submitted && cancels[i].rc == 0 && cancels[i].r->ctx == ctx) ++stopped_here;
    const bool wakeup_possible = wakeup_start != tri::no || woke || waker;
    switch (wrc) {
        case FILEAIO_E_NO_REQUEST:
            if ((c.flags & FILEAIO_CTX_WAIT_WITHOUT_PENDING) != 0)
                violation("E_NO_REQUEST from a context with FILEAIO_CTX_WAIT_WITHOUT_PENDING");
            if (pending_start > stopped_here) violation("E_NO_REQUEST with requests pending");
            if (count != 0) violation("E_NO_REQUEST with completions");
            break;
        case 0:
            if (wakeup_start == tri::yes) violation("wait returned 0 with a wakeup pending (the wakeup wins)");
            if (count < min_reqs) violation("wait returned 0 with %zu completions, min_reqs %zu", count, min_reqs);
            break;
        case FILEAIO_E_INTERRUPTED:
            ++g_count.interrupted;
            if (!wakeup_possible) violation("wait interrupted with no wakeup");
            break;
        case FILEAIO_E_TIMEOUT:
            ++g_count.timeouts;
            if (wakeup_start == tri::yes) violation("wait timed out with a wakeup pending");
            if (count >= min_reqs) violation("wait timed out with %zu completions, min_reqs %zu", count, min_reqs);
            break;
        default: violation("fileaio_ctx_wait on the second thread returned %d (%s)", wrc, name(wrc));
    }
    // What is left of the wakeups.
    const bool consumed = wrc == 0 || wrc == FILEAIO_E_INTERRUPTED || wrc == FILEAIO_E_TIMEOUT;
    if (woke) {
        if (wakeup_start == tri::no && !waker) c.wakeup = wrc == FILEAIO_E_INTERRUPTED ? tri::no : tri::yes;
        else c.wakeup = tri::maybe;
    } else if (consumed) {
        c.wakeup = after_wait(c);
    }
}

// ---- One input ----

// Waits until nothing is in flight anywhere (each completion checked as usual). Not done within
// drain_budget_ms: a request was lost or the backend hangs.
void drain()
{
    const auto deadline = steady::now() + std::chrono::milliseconds(drain_budget_ms);
    for (size_t i = 0; i < ctx_slots; ++i) {
        ctx_model &c = g_m->ctxs[i];
        if (c.h == nullptr) continue;
        join_waker(c);
        std::array<fileaio_req *, wait_array> out{};
        while (c.pending != 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
            if (left <= 0)
                violation("hang: %llu requests of context %zu (%s) did not complete within %u ms",
                          static_cast<unsigned long long>(c.pending), i, fileaio_backend_name(c.kind), drain_budget_ms);
            size_t n = 0;
            int rc = fileaio_ctx_wait(c.h, 1, static_cast<uint32_t>(left), out.data(), out.size(), &n);
            trace("drain: wait ctx %zu -> %s, %zu", i, name(rc), n);
            if (n > c.pending) violation("drain: wait returned %zu completions with %llu in flight", n,
                                         static_cast<unsigned long long>(c.pending));
            for (size_t k = 0; k < n; ++k) complete_one(i, out[k], k);
            if (rc == FILEAIO_E_INTERRUPTED) {
                if (c.wakeup == tri::no) violation("drain: wait interrupted with no wakeup");
                c.wakeup = tri::no;
            } else if (rc == 0 || rc == FILEAIO_E_TIMEOUT) {
                if (c.wakeup == tri::yes) violation("drain: wait returned %s with a wakeup pending", name(rc));
                c.wakeup = tri::no;
            } else {
                violation("drain: wait returned %d (%s)", rc, name(rc));
            }
        }
        check_context(i);
    }
}

void teardown()
{
    for (req_model &r : g_m->reqs) {
        if (r.h == nullptr) continue;
        expect_code("fileaio_req_destroy at the end", fileaio_req_destroy(r.h), 0);
        r.h = nullptr;
    }
    for (ctx_model &c : g_m->ctxs) {
        if (c.h == nullptr) continue;
        g_reaper.destroy(c.h, c.kind);
        reset_ctx(c);
    }
}

void start_input(reader &in)
{
    g_m->next_seq = 1;
    g_m->next_write_id = 1;
    g_m->next_user = 1;
    g_m->wait_spent_ms = 0;
    // The data file: the initial pattern (id 0), known everywhere; the scratch file: empty.
    static unsigned char initial[data_file_size];
    static bool made = false;
    if (!made) {
        for (size_t i = 0; i < data_file_size; ++i) initial[i] = pattern(0, i);
        made = true;
    }
    std::memcpy(g_m->shadow.data(), initial, sizeof initial);
    g_m->known.fill(true);
    g_m->unknown = 0;
    if (::pwrite(g_world.fds[fd_data], initial, sizeof initial, 0) != static_cast<ssize_t>(sizeof initial))
        violation("pwrite of the data file failed: %s", std::strerror(errno));
    if (::ftruncate(g_world.fds[fd_scratch], 0) != 0) violation("ftruncate scratch: %s", std::strerror(errno));

    const uint8_t backend_b = in.u8(), max_b = in.u8(), flags_b = in.u8();
    const fileaio_backend kind = g_world.available[backend_b % g_world.available.size()];
    const uint32_t max_reqs = 1 + max_b % 16u;
    const uint32_t flags = flags_b & FILEAIO_CTX_WAIT_WITHOUT_PENDING;
    fileaio_ctx *h = nullptr;
    int rc = fileaio_ctx_create_ex(&h, max_reqs, flags, kind);
    trace("start: %s, max_reqs %u, flags %#x -> %s", fileaio_backend_name(kind), max_reqs, flags, name(rc));
    if (is_resource_error(rc)) {
        ++g_count.resource_refusals;
    } else {
        expect_code("fileaio_ctx_create_ex of an available backend", rc, 0);
        ctx_model &c = g_m->ctxs[0];
        c.h = h;
        c.max_reqs = max_reqs;
        c.flags = flags;
        c.kind = kind;
        if (fileaio_ctx_get_backend(h) != kind) violation("get_backend is not the backend asked for");
        ++g_count.contexts;
        ++g_count.per_backend[static_cast<size_t>(kind)];
    }
    for (size_t i = 0; i < req_slots; ++i) {
        req_model &r = g_m->reqs[i];
        r = req_model{};
        if (i < 4) expect_code("fileaio_req_create", fileaio_req_create(&r.h), 0);
    }
}

void run(reader &in)
{
    g_op_index = 0;
    const auto t_start = steady::now();
    start_input(in);
    g_count.op_ms[static_cast<size_t>(opcode::count)] +=
        std::chrono::duration<double, std::milli>(steady::now() - t_start).count();
    check_all();
    while (in.n != 0) {
        ++g_op_index;
        ++g_count.ops;
        const auto op = static_cast<opcode>(in.u8() % static_cast<uint8_t>(opcode::count));
        const auto t0 = steady::now();
        switch (op) {
            case opcode::ctx_create: op_ctx_create(in); break;
            case opcode::ctx_destroy: op_ctx_destroy(in); break;
            case opcode::req_create: op_req_create(in); break;
            case opcode::req_destroy: op_req_destroy(in); break;
            case opcode::prepare_read: op_prepare_io(in, false); break;
            case opcode::prepare_write: op_prepare_io(in, true); break;
            case opcode::prepare_readv: op_prepare_vectored(in, false); break;
            case opcode::prepare_writev: op_prepare_vectored(in, true); break;
            case opcode::prepare_flush: op_prepare_sync(in, false); break;
            case opcode::prepare_datasync: op_prepare_sync(in, true); break;
            case opcode::submit: op_submit(in); break;
            case opcode::wait: op_wait(in); break;
            case opcode::wakeup: op_wakeup(in); break;
            case opcode::wakeup_later: op_wakeup_later(in); break;
            case opcode::cancel: op_cancel(in); break;
            case opcode::get_stats: op_get_stats(in); break;
            case opcode::get_result: op_get_result(in); break;
            case opcode::register_buffers: op_register_buffers(in); break;
            case opcode::unregister_buffers: op_unregister_buffers(in); break;
            case opcode::associate: op_associate(in); break;
            case opcode::check_data: op_check_data(); break;
            case opcode::misc: op_misc(in); break;
            case opcode::concurrent: op_concurrent(in); break;
            case opcode::count: break;
        }
        check_all();
        g_count.op_ms[static_cast<size_t>(op)] += std::chrono::duration<double, std::milli>(steady::now() - t0).count();
    }
    ++g_op_index;
    const auto t1 = steady::now();
    trace("end of input: drain");
    drain();
    check_all();
    op_check_data();
    teardown();
    g_count.op_ms[static_cast<size_t>(opcode::count) + 1] += std::chrono::duration<double, std::milli>(steady::now() - t1).count();
    // Only when every context is really gone (the reaper may still be at work: then next time).
    if (!g_reaper.idle()) return;
    if (count_open_fds() != g_world.baseline_fds) {
        std::string list;
        const size_t fds = count_open_fds(&list);
        violation("%zu file descriptors open after the input, %zu before: the library leaks (or kept) fds:\n%s", fds,
                  g_world.baseline_fds, list.c_str());
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    make_world();
    static model m;
    g_m = &m;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ++g_count.inputs;
    reader in{data, size};
    run(in);
    return 0;
}
