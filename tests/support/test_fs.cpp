// The FUSE filesystem of the test suite (see test_fs.hpp). High-level libfuse3 API for the
// callbacks; the requests are served by our own fixed pool of daemon threads, each looping on
// fuse_session_receive_buf / fuse_session_process_buf.
//
// Why not fuse_loop_mt: when its session ends it pthread_cancel()s its workers, and a thread
// cancelled while it holds a lock without cancellation cleanup keeps that lock held for good
// (libfuse reports device errors with perror(), and glibc's perror holds the stderr lock without
// such cleanup). With fuse_loop_mt, one run under ASan hung at exit on glibc's stderr lock after
// every other thread had gone. Our threads are never cancelled: they leave when the device says
// the connection is gone.
//
// Shutdown never uses libfuse's own unmount while requests are being served (fuse_unmount closes
// the device fd the daemon threads are reading). Instead the mount is detached from outside
// (umount2 MNT_DETACH, or fusermount3 -u -z); once no file on it is open the kernel tears the
// connection down, every read of /dev/fuse fails and the threads return. Only then are
// fuse_unmount (which now just closes the fd) and fuse_destroy called.
#include "test_fs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "temp_dir.hpp"

#if FILEAIO_HAVE_FUSE3

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#define FUSE_USE_VERSION 31  // libfuse >= 3.1; nothing newer is needed
#include <fuse.h>
#include <fuse_lowlevel.h>

extern char **environ;

namespace fileaio::test {
namespace {

constexpr const char *gate_file = "/gate";
constexpr const char *eio_file = "/eio";
// Each read blocked at the gate holds a daemon thread; the others must still serve lookups, opens
// and releases. Tests block a handful of reads at most.
constexpr unsigned daemon_threads = 16;
// Asynchronous direct I/O (kernel AIO on O_DIRECT) uses FUSE background requests; beyond
// max_background the kernel blocks the submitter, which would turn an in-flight test into a hang.
constexpr unsigned max_background_requests = 256;
constexpr unsigned congestion_threshold = 192;
// How long shutdown waits for the loop after the unmount, and again after aborting the connection.
constexpr auto stop_grace = std::chrono::seconds(5);
constexpr const char *fusectl_dir = "/sys/fs/fuse/connections";
constexpr size_t log_keep_bytes = 2048;

// libfuse reports errors through its log function; mount() quotes them in its reason.
std::mutex log_mutex;
std::string log_text;

__attribute__((format(printf, 2, 0))) void capture_log(enum fuse_log_level level, const char *fmt, va_list ap) {
    char line[512];
    std::vsnprintf(line, sizeof line, fmt, ap);
    std::fprintf(stderr, "test_fs (libfuse): %s", line);
    if (level > FUSE_LOG_ERR) return;
    std::lock_guard lock(log_mutex);
    log_text += line;
    if (log_text.size() > log_keep_bytes) log_text.erase(0, log_text.size() - log_keep_bytes);
}

std::string take_log() {
    std::lock_guard lock(log_mutex);
    std::string s;
    s.swap(log_text);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (char &c : s)
        if (c == '\n') c = ' ';
    return s;
}

bool in_path(const char *prog) {
    const char *path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(start, end - start) + "/" + prog;
        if (::access(candidate.c_str(), X_OK) == 0) return true;
        start = end + 1;
    }
    return false;
}

// Runs argv to completion; true when it exited with status 0.
bool run(const std::vector<const char *> &argv) {
    std::vector<char *> args;
    for (const char *a : argv) args.push_back(const_cast<char *>(a));
    args.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return false;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// One daemon thread: serves requests until the connection is gone (ENODEV after the unmount,
// ECONNABORTED after an abort) or the session has ended.
void serve_requests(struct fuse_session *se) {
    struct fuse_buf buf {};
    while (fuse_session_exited(se) == 0) {
        int res = fuse_session_receive_buf(se, &buf);
        if (res == -EINTR) continue;
        if (res <= 0) break;
        fuse_session_process_buf(se, &buf);
    }
    std::free(buf.mem);
}

}  // namespace

struct test_fs::impl {
    options opts;
    std::string mount_point;
    unsigned long connection = 0;  // the kernel's device number of the mount: fusectl's directory name
    struct fuse *fuse = nullptr;
    std::thread server;

    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool loop_returned = false;
    bool all_threads_started = false;  // every daemon thread exists (mount returns only then)

    mutable std::mutex mutex;  // guards the gate and the eio file
    mutable std::condition_variable cv;
    size_t permits = 0;
    bool open = false;
    uint64_t started = 0;
    size_t in_flight = 0;
    size_t max_in_flight = 0;
    std::vector<unsigned char> eio_data;
    std::set<uint64_t> fail_offsets;
    uint64_t failures = 0;
    std::vector<test_fs::op_record> ops;
    uint64_t fsyncs = 0;  // fsync and fdatasync calls that reached the daemon, on any file
    uint64_t bytes_read = 0;
    std::atomic<bool> metadata_at_gate{false};  // hold_metadata(true): getattr and statfs wait at the gate

    static impl *self() { return static_cast<impl *>(fuse_get_context()->private_data); }

    void serve() {
        // The daemon threads inherit this mask: the tests' signals stay on the tests' threads.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, nullptr);
        struct fuse_session *se = fuse_get_session(fuse);
        std::vector<std::thread> helpers;
        for (unsigned i = 1; i < daemon_threads; ++i) helpers.emplace_back([se] { serve_requests(se); });
        {
            std::lock_guard lock(stop_mutex);
            all_threads_started = true;
        }
        stop_cv.notify_all();
        serve_requests(se);
        for (auto &t : helpers) t.join();
        std::lock_guard lock(stop_mutex);
        loop_returned = true;
        stop_cv.notify_all();
    }

    // So that a test counting this process's threads (support/threads.hpp) finds the daemon's
    // all there before it starts counting.
    void wait_all_threads_started() {
        std::unique_lock lock(stop_mutex);
        stop_cv.wait(lock, [&] { return all_threads_started; });
    }

    bool wait_loop_returned(std::chrono::seconds timeout) {
        std::unique_lock lock(stop_mutex);
        return stop_cv.wait_for(lock, timeout, [&] { return loop_returned; });
    }

    // Detaches the mount from the tree; the kernel ends the connection once no file is open on it.
    bool detach() {
        if (geteuid() == 0) return ::umount2(mount_point.c_str(), MNT_DETACH) == 0 || errno == EINVAL;
        return run({"fusermount3", "-u", "-z", "-q", mount_point.c_str()});
    }

    // Ends the connection even though files are still open on it (fusectl, root only). Mounts
    // fusectl if it is not (systemd mounts it at boot), and then unmounts it again.
    bool abort_connection() {
        std::string dir = std::string(fusectl_dir) + "/" + std::to_string(connection);
        bool mounted_here = false;
        if (::access(dir.c_str(), F_OK) != 0 && geteuid() == 0)
            mounted_here = ::mount("fusectl", fusectl_dir, "fusectl", 0, nullptr) == 0;
        bool ok = false;
        int fd = ::open((dir + "/abort").c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            ok = ::write(fd, "1", 1) == 1;
            ::close(fd);
        }
        if (mounted_here) ::umount2(fusectl_dir, MNT_DETACH);
        return ok;
    }

    // Blocks until the gate lets this operation through (the lock is held on entry and exit).
    void pass_gate(std::unique_lock<std::mutex> &lock) {
        ++started;
        ++in_flight;
        max_in_flight = std::max(max_in_flight, in_flight);
        cv.notify_all();
        cv.wait(lock, [&] { return open || permits > 0; });
        if (!open) --permits;
        --in_flight;
        cv.notify_all();
    }

    void record(test_fs::op_kind kind, uint64_t offset, uint64_t size) {
        ops.push_back({kind, offset, size});
        cv.notify_all();
    }

    int gate_read(char *buf, size_t size, off_t off) {
        {
            std::unique_lock lock(mutex);
            pass_gate(lock);
        }
        uint64_t from = static_cast<uint64_t>(off);
        if (from >= opts.gate_size) return 0;
        size_t n = static_cast<size_t>(std::min<uint64_t>(size, opts.gate_size - from));
        for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>(pattern_byte(from + i));
        return static_cast<int>(n);
    }

    bool touches_failure(uint64_t off, size_t size) const {
        auto it = fail_offsets.lower_bound(off);
        return it != fail_offsets.end() && *it - off < size;
    }

    int eio_read(char *buf, size_t size, off_t off) {
        std::lock_guard lock(mutex);
        uint64_t from = static_cast<uint64_t>(off);
        if (touches_failure(from, size)) {
            ++failures;
            return -EIO;
        }
        size_t n = 0;
        if (from < eio_data.size()) n = static_cast<size_t>(std::min<uint64_t>(size, eio_data.size() - from));
        if (opts.max_read_bytes != 0) n = std::min(n, opts.max_read_bytes);
        if (n != 0) std::memcpy(buf, eio_data.data() + from, n);
        bytes_read += n;
        record(test_fs::op_kind::read, from, n);
        return static_cast<int>(n);
    }

    int eio_write(const char *buf, size_t size, off_t off) {
        std::unique_lock lock(mutex);
        uint64_t from = static_cast<uint64_t>(off);
        record(test_fs::op_kind::write_arrived, from, size);
        if (opts.gate_writes) pass_gate(lock);
        if (touches_failure(from, size)) {
            ++failures;
            record(test_fs::op_kind::write_done, from, 0);
            return -EIO;
        }
        if (from + size > eio_data.size()) eio_data.resize(from + size, 0);
        std::memcpy(eio_data.data() + from, buf, size);
        record(test_fs::op_kind::write_done, from, size);
        return static_cast<int>(size);
    }

    int eio_fsync() {
        std::lock_guard lock(mutex);
        ++fsyncs;
        record(test_fs::op_kind::fsync, 0, 0);
        return 0;
    }
};

namespace {

using impl = test_fs::impl;

void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    const bool cached = static_cast<impl *>(fuse_get_context()->private_data)->opts.page_cache;
    cfg->direct_io = cached ? 0 : 1;
    cfg->kernel_cache = 0;
    cfg->attr_timeout = 0;  // the size of `eio` changes with writes
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    conn->max_background = max_background_requests;
    conn->congestion_threshold = congestion_threshold;
    return fuse_get_context()->private_data;
}

int fs_getattr(const char *path, struct stat *st, struct fuse_file_info * /*fi*/) {
    impl *fs = impl::self();
    std::memset(st, 0, sizeof *st);
    st->st_uid = ::geteuid();
    st->st_gid = ::getegid();
    if (std::strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    }
    st->st_nlink = 1;
    if (fs->metadata_at_gate.load() && (std::strcmp(path, gate_file) == 0 || std::strcmp(path, eio_file) == 0)) {
        std::unique_lock lock(fs->mutex);
        fs->pass_gate(lock);  // counted as a read
    }
    if (std::strcmp(path, gate_file) == 0) {
        st->st_mode = S_IFREG | 0444;
        st->st_size = static_cast<off_t>(fs->opts.gate_size);
        return 0;
    }
    if (std::strcmp(path, eio_file) == 0) {
        st->st_mode = S_IFREG | 0644;
        std::lock_guard lock(fs->mutex);
        st->st_size = static_cast<off_t>(fs->eio_data.size());
        return 0;
    }
    return -ENOENT;
}

int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t /*off*/, struct fuse_file_info * /*fi*/,
               enum fuse_readdir_flags /*flags*/) {
    if (std::strcmp(path, "/") != 0) return -ENOTDIR;
    const auto none = static_cast<enum fuse_fill_dir_flags>(0);
    for (const char *name : {".", "..", gate_file + 1, eio_file + 1}) fill(buf, name, nullptr, 0, none);
    return 0;
}

int fs_open(const char *path, struct fuse_file_info *fi) {
    if (std::strcmp(path, gate_file) != 0 && std::strcmp(path, eio_file) != 0) return -ENOENT;
    fi->direct_io = impl::self()->opts.page_cache ? 0 : 1;  // direct_io: every read and write reaches us
    fi->keep_cache = 0;
    return 0;
}

int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info * /*fi*/) {
    impl *fs = impl::self();
    if (std::strcmp(path, gate_file) == 0) return fs->gate_read(buf, size, off);
    if (std::strcmp(path, eio_file) == 0) return fs->eio_read(buf, size, off);
    return -ENOENT;
}

int fs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info * /*fi*/) {
    impl *fs = impl::self();
    if (std::strcmp(path, eio_file) == 0) return fs->eio_write(buf, size, off);
    return std::strcmp(path, gate_file) == 0 ? -EACCES : -ENOENT;
}

int fs_truncate(const char *path, off_t size, struct fuse_file_info * /*fi*/) {
    impl *fs = impl::self();
    if (std::strcmp(path, eio_file) != 0) return std::strcmp(path, gate_file) == 0 ? -EACCES : -ENOENT;
    std::lock_guard lock(fs->mutex);
    fs->eio_data.resize(static_cast<size_t>(size), 0);
    return 0;
}

int fs_fsync(const char *path, int /*datasync*/, struct fuse_file_info * /*fi*/) {
    impl *fs = impl::self();
    if (fs->opts.fsync_at_gate && std::strcmp(path, gate_file) == 0) {
        char none = 0;
        fs->gate_read(&none, 0, 0);  // waits at the gate like a read (and is counted as one)
    }
    if (std::strcmp(path, eio_file) == 0) return fs->eio_fsync();  // counted and recorded there
    std::lock_guard lock(fs->mutex);
    ++fs->fsyncs;
    return 0;
}

// What libfuse answers without a statfs operation, but able to wait at the gate.
int fs_statfs(const char * /*path*/, struct statvfs *st) {
    impl *fs = impl::self();
    if (fs->metadata_at_gate.load()) {
        std::unique_lock lock(fs->mutex);
        fs->pass_gate(lock);  // counted as a read
    }
    std::memset(st, 0, sizeof *st);
    st->f_namemax = 255;
    st->f_bsize = 512;
    return 0;
}

struct fuse_operations make_operations() {
    struct fuse_operations ops {};
    ops.init = fs_init;
    ops.getattr = fs_getattr;
    ops.readdir = fs_readdir;
    ops.open = fs_open;
    ops.read = fs_read;
    ops.write = fs_write;
    ops.truncate = fs_truncate;
    ops.fsync = fs_fsync;
    ops.statfs = fs_statfs;
    return ops;
}

}  // namespace

std::unique_ptr<test_fs> test_fs::mount(std::string *why_not, const options &opts) {
    auto refuse = [&](const std::string &reason) -> std::unique_ptr<test_fs> {
        if (why_not != nullptr) *why_not = reason;
        return nullptr;
    };
    if (::access("/dev/fuse", R_OK | W_OK) != 0) return refuse(std::string("/dev/fuse: ") + std::strerror(errno));
    if (::geteuid() != 0 && !in_path("fusermount3")) return refuse("not root and no fusermount3 in PATH");

    auto p = std::make_unique<impl>();
    p->opts = opts;
    p->eio_data.resize(static_cast<size_t>(opts.eio_size));
    for (size_t i = 0; i < p->eio_data.size(); ++i) p->eio_data[i] = pattern_byte(i);

    const char *base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/fileaio-fuse-XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    if (::mkdtemp(name.data()) == nullptr) return refuse("mkdtemp " + templ + ": " + std::strerror(errno));
    p->mount_point = name.data();

    static std::once_flag log_once;
    std::call_once(log_once, [] { fuse_set_log_func(capture_log); });
    take_log();

    static const struct fuse_operations ops = make_operations();
    struct fuse_args args = FUSE_ARGS_INIT(0, nullptr);
    fuse_opt_add_arg(&args, "fileaio_test_fs");
    fuse_opt_add_arg(&args, "-o");
    fuse_opt_add_arg(&args, "fsname=fileaio_test_fs,subtype=fileaio_test_fs");
    p->fuse = fuse_new(&args, &ops, sizeof ops, p.get());
    fuse_opt_free_args(&args);
    if (p->fuse == nullptr) {
        ::rmdir(p->mount_point.c_str());
        return refuse("fuse_new failed: " + take_log());
    }
    if (fuse_mount(p->fuse, p->mount_point.c_str()) != 0) {
        fuse_destroy(p->fuse);
        ::rmdir(p->mount_point.c_str());
        return refuse("fuse_mount " + std::string(name.data()) + " failed: " + take_log());
    }
    impl *raw = p.get();
    p->server = std::thread([raw] { raw->serve(); });
    raw->wait_all_threads_started();
    auto fs = std::unique_ptr<test_fs>(new test_fs(std::move(p)));  // from here on, ~test_fs cleans up
    struct stat st {};
    if (::stat(raw->mount_point.c_str(), &st) != 0)  // the first request: waits until the daemon serves
        return refuse("stat of the new FUSE mount " + raw->mount_point + ": " + std::strerror(errno));
    raw->connection = (static_cast<unsigned long>(major(st.st_dev)) << 20) | minor(st.st_dev);
    return fs;
}

test_fs::test_fs(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

test_fs::~test_fs() {
    impl &p = *impl_;
    release_all();
    if (!p.detach())
        std::fprintf(stderr, "test_fs: unmounting %s failed: %s\n", p.mount_point.c_str(), std::strerror(errno));
    bool stopped = p.wait_loop_returned(stop_grace);
    if (!stopped) {
        std::fprintf(stderr, "test_fs: %s still has open files after %llds; aborting the connection\n",
                     p.mount_point.c_str(), static_cast<long long>(stop_grace.count()));
        if (p.abort_connection()) stopped = p.wait_loop_returned(stop_grace);
    }
    if (!stopped) {
        // Waiting would hang the test binary; leaking the daemon only leaks.
        std::fprintf(stderr, "test_fs: the FUSE daemon of %s did not stop; leaving it behind\n",
                     p.mount_point.c_str());
        p.server.detach();
        (void)impl_.release();
        return;
    }
    p.server.join();
    fuse_unmount(p.fuse);  // the connection is gone: this only closes the device fd
    fuse_destroy(p.fuse);
    // A test leaves nothing behind: say so when the mount point cannot be removed (once, in a
    // TSan run of the suite, one stayed, empty and unmounted, with no message to tell why).
    if (::rmdir(p.mount_point.c_str()) != 0 && errno != ENOENT)
        std::fprintf(stderr, "test_fs: removing the mount point %s failed: %s\n", p.mount_point.c_str(),
                     std::strerror(errno));
}

const std::string &test_fs::mount_point() const { return impl_->mount_point; }
std::string test_fs::gate_path() const { return impl_->mount_point + gate_file; }
std::string test_fs::eio_path() const { return impl_->mount_point + eio_file; }

void test_fs::release(size_t k) {
    std::lock_guard lock(impl_->mutex);
    impl_->permits += k;
    impl_->cv.notify_all();
}

void test_fs::hold_metadata(bool on) { impl_->metadata_at_gate.store(on); }

void test_fs::release_all() {
    std::lock_guard lock(impl_->mutex);
    impl_->open = true;
    impl_->cv.notify_all();
}

uint64_t test_fs::reads_started() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->started;
}

size_t test_fs::reads_in_flight() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->in_flight;
}

size_t test_fs::max_reads_in_flight() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->max_in_flight;
}

bool test_fs::wait_for_in_flight(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->cv.wait_for(lock, timeout, [&] { return impl_->in_flight >= n; });
}

void test_fs::fail_at(uint64_t offset) {
    std::lock_guard lock(impl_->mutex);
    impl_->fail_offsets.insert(offset);
}

uint64_t test_fs::eio_failures() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->failures;
}

std::vector<test_fs::op_record> test_fs::operations() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->ops;
}

uint64_t test_fs::fsyncs() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->fsyncs;
}

uint64_t test_fs::eio_bytes_read() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->bytes_read;
}

bool test_fs::wait_for_operations(const std::function<bool(const std::vector<op_record> &)> &pred,
                                  std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->cv.wait_for(lock, timeout, [&] { return pred(impl_->ops); });
}

}  // namespace fileaio::test

#else  // !FILEAIO_HAVE_FUSE3

namespace fileaio::test {

// Without libfuse3 the class exists, so the tests compile, and mount() says why it cannot run.
struct test_fs::impl {
    std::string mount_point;
};

std::unique_ptr<test_fs> test_fs::mount(std::string *why_not, const options & /*opts*/) {
    if (why_not != nullptr) *why_not = "built without libfuse3 (install libfuse3-dev and fuse3, then reconfigure)";
    return nullptr;
}

test_fs::test_fs(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
test_fs::~test_fs() = default;
const std::string &test_fs::mount_point() const { return impl_->mount_point; }
std::string test_fs::gate_path() const { return impl_->mount_point + "/gate"; }
std::string test_fs::eio_path() const { return impl_->mount_point + "/eio"; }
void test_fs::release(size_t /*k*/) {}
void test_fs::release_all() {}
void test_fs::hold_metadata(bool /*on*/) {}
uint64_t test_fs::reads_started() const { return 0; }
size_t test_fs::reads_in_flight() const { return 0; }
size_t test_fs::max_reads_in_flight() const { return 0; }
bool test_fs::wait_for_in_flight(size_t /*n*/, std::chrono::milliseconds /*timeout*/) const { return false; }
void test_fs::fail_at(uint64_t /*offset*/) {}
uint64_t test_fs::eio_failures() const { return 0; }
std::vector<test_fs::op_record> test_fs::operations() const { return {}; }
uint64_t test_fs::fsyncs() const { return 0; }
uint64_t test_fs::eio_bytes_read() const { return 0; }
bool test_fs::wait_for_operations(const std::function<bool(const std::vector<op_record> &)> & /*pred*/,
                                  std::chrono::milliseconds /*timeout*/) const {
    return false;
}

}  // namespace fileaio::test

#endif  // FILEAIO_HAVE_FUSE3
