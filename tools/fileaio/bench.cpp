#include "bench.hpp"

#include "offsets.hpp"
#include "progress.hpp"
#include "util.hpp"
#include "verify.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <latch>
#include <memory>
#include <optional>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace fileaio::cli {
namespace {

constexpr std::size_t min_buffer_alignment = 4096;       // every request buffer is page-aligned
constexpr std::size_t layout_chunk_bytes = 1 * mib;      // pwrite/pread size when writing or warming the file
constexpr std::uint64_t min_failure_window = 64;         // this many failures in a row (at least) abort a job
constexpr std::uint64_t failure_window_per_depth = 2;    // ... or twice the iodepth, whichever is more
constexpr std::uint64_t offset_seed = 0x5EED'F11E'A10Bu; // the same offsets for every backend
constexpr std::uint64_t direction_seed = 0xD1EC'7104u;   // the same read/write mix for every backend
constexpr std::uint64_t job_seed_step = 0x9E37'79B9'7F4A'7C15u;  // a different sequence per job
constexpr std::uint64_t pattern_seed = 0xDA7A'5EEDu;
constexpr std::uint64_t max_tracked_blocks = std::uint64_t{4} << 20;  // --verify generation tracking, per job
constexpr std::uint32_t percent = 100;
constexpr std::uint64_t mincore_window = std::uint64_t{1} << 30;  // looked at 1 GiB at a time
constexpr mode_t created_file_mode = 0644;
constexpr const char *default_tmpdir = "/tmp";
constexpr const char *temp_name_pattern = "/fileaio-bench-XXXXXX";

std::atomic<int> stop_requested{0};  // lock-free, hence safe to set from a signal handler
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int /*signo*/) { stop_requested.store(1, std::memory_order_relaxed); }

// SIGINT/SIGTERM end the run early (cleanly: the temporary file is removed) while installed.
class stop_signal_scope {
public:
    stop_signal_scope()
    {
        stop_requested.store(0);
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    stop_signal_scope(const stop_signal_scope &) = delete;
    stop_signal_scope &operator=(const stop_signal_scope &) = delete;
    ~stop_signal_scope()
    {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

bool stopping() { return stop_requested.load(std::memory_order_relaxed) != 0; }

void fill_pattern(std::byte *data, std::size_t size, splitmix64 &rng)
{
    for (std::size_t at = 0; at < size; at += sizeof(std::uint64_t)) {
        const std::uint64_t word = rng.next();
        std::memcpy(data + at, &word, std::min(sizeof word, size - at));
    }
}

struct free_deleter {
    void operator()(void *p) const noexcept { std::free(p); }
};
using aligned_bytes = std::unique_ptr<std::byte, free_deleter>;

aligned_bytes allocate_aligned(std::size_t alignment, std::size_t size)
{
    void *p = nullptr;
    if (const int rc = posix_memalign(&p, alignment, size); rc != 0) {
        throw std::runtime_error("cannot allocate " + format_bytes(size) + " of buffers: " + describe_errno(rc));
    }
    return aligned_bytes(static_cast<std::byte *>(p));
}

// A temporary file's name, unlinked when this goes away (also on an exception or SIGINT).
class temp_path {
public:
    explicit temp_path(std::string path) : path_(std::move(path)) {}
    temp_path(const temp_path &) = delete;
    temp_path &operator=(const temp_path &) = delete;
    ~temp_path() { ::unlink(path_.c_str()); }
    [[nodiscard]] const std::string &path() const { return path_; }

private:
    std::string path_;
};

// The file (or block device) every job of the run works on.
struct target_file {
    std::string path;
    std::uint64_t size = 0;  // bytes the workload uses: a whole number of blocks
    bool block_device = false;
    bool written_now = false;  // laid out by this run, hence in the page cache
    std::unique_ptr<temp_path> temp;
};

double seconds_of(const timeval &tv)
{
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

struct cpu_times {
    double usr_s = 0.0;
    double sys_s = 0.0;
};

cpu_times process_cpu_times()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return {seconds_of(ru.ru_utime), seconds_of(ru.ru_stime)};
}

// A message on stderr. On a terminal it first erases the progress line it would otherwise be
// written into (jobs log errors while the coordinator keeps that line).
void log_line(const std::string &text)
{
    static const bool terminal = ::isatty(STDERR_FILENO) == 1;
    std::fprintf(stderr, "%sfileaio: %s\n", terminal ? "\r\033[K" : "", text.c_str());
}

// Writes [from, to) of fd, then fsyncs, so that no writeback runs during the jobs. With --verify
// every block gets its verify header (generation 0), so that a later verifying read finds it.
void lay_out(int fd, const std::string &path, std::uint64_t from, std::uint64_t to, const bench_options &opts)
{
    log_line("writing " + format_bytes(to - from) + " to " + path + " ...");
    const std::size_t block = static_cast<std::size_t>(opts.block_size);
    // Whole blocks per chunk when verifying, so that each block is stamped in one piece.
    const std::size_t chunk_bytes =
        opts.verify ? std::max<std::size_t>(1, layout_chunk_bytes / block) * block : layout_chunk_bytes;
    const auto chunk = allocate_aligned(min_buffer_alignment, chunk_bytes);
    splitmix64 rng(pattern_seed);
    fill_pattern(chunk.get(), chunk_bytes, rng);
    for (std::uint64_t at = from; at < to;) {
        if (stopping()) {
            throw interrupted_error("interrupted while writing " + path);
        }
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, to - at));
        if (opts.verify) {
            for (std::size_t b = 0; b + block <= len; b += block) {
                verify_stamp(chunk.get() + b, block, at + b, 0);
            }
        }
        const ssize_t n = ::pwrite(fd, chunk.get(), len, static_cast<off_t>(at));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::runtime_error("writing " + path + " at offset " + std::to_string(at) + ": " +
                                     describe_errno(errno));
        }
        if (opts.verify && static_cast<std::size_t>(n) != len) {
            // A short write would split a stamped block; rewrite the rest from its block start.
            at += static_cast<std::uint64_t>(n) / block * block;
            continue;
        }
        at += static_cast<std::uint64_t>(n);
    }
    if (::fsync(fd) != 0) {
        throw std::runtime_error("fsync " + path + ": " + describe_errno(errno));
    }
}

// Whether every page of [0, size) is in the page cache (mmap + mincore, a window at a time);
// false when that cannot be told.
bool fully_cached(int fd, std::uint64_t size)
{
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident(static_cast<std::size_t>(mincore_window / page));
    for (std::uint64_t at = 0; at < size; at += mincore_window) {
        const auto len = static_cast<std::size_t>(std::min(mincore_window, size - at));
        void *map = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(at));
        if (map == MAP_FAILED) {
            return false;
        }
        const int rc = ::mincore(map, len, resident.data());
        ::munmap(map, len);
        const std::size_t pages = (len + page - 1) / page;
        if (rc != 0 || !std::all_of(resident.begin(), resident.begin() + static_cast<std::ptrdiff_t>(pages),
                                    [](unsigned char r) { return (r & 1u) != 0; })) {
            return false;
        }
    }
    return true;
}

// Reads [0, size) once so that buffered reads of every backend find the same page cache (unless
// it is all there already: reading it again would only burn CPU before the run).
void warm_page_cache(int fd, const std::string &path, std::uint64_t size)
{
    if (fully_cached(fd, size)) {
        log_line(path + " is in the page cache already");
        return;
    }
    log_line("reading " + format_bytes(size) + " of " + path + " into the page cache ...");
    const auto chunk = allocate_aligned(min_buffer_alignment, layout_chunk_bytes);
    for (std::uint64_t at = 0; at < size;) {
        if (stopping()) {
            throw interrupted_error("interrupted while reading " + path);
        }
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(layout_chunk_bytes, size - at));
        const ssize_t n = ::pread(fd, chunk.get(), len, static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw std::runtime_error("reading " + path + ": " +
                                     (n == 0 ? std::string("unexpected end of file") : describe_errno(errno)));
        }
        at += static_cast<std::uint64_t>(n);
    }
}

// fio's --invalidate: write back what is dirty, then drop the file's pages from the page cache.
// Failures are reported and the run goes on (as fio does): the figures then include cached data.
void invalidate_cache(int fd, const std::string &path)
{
    if (::fdatasync(fd) != 0 && errno != EINVAL && errno != EROFS) {
        log_line("note: fdatasync " + path + " before --invalidate: " + describe_errno(errno));
    }
    if (const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); rc != 0) {
        log_line("note: --invalidate: posix_fadvise(DONTNEED) on " + path + ": " + describe_errno(rc) +
                 "; its page cache stays");
    }
}

std::string format_seconds(double seconds)
{
    constexpr std::size_t text_size = 32;
    char text[text_size];
    std::snprintf(text, sizeof text, "%g s", seconds);
    return text;
}

std::uint64_t whole_blocks(std::uint64_t bytes, std::uint64_t block_size) { return bytes / block_size * block_size; }

// Finds, creates or lays out the file the jobs will use.
target_file prepare_target(const bench_options &opts)
{
    target_file target;
    if (opts.filename.empty()) {
        const char *env_dir = std::getenv("TMPDIR");
        const std::string dir = env_dir != nullptr && *env_dir != '\0' ? env_dir : default_tmpdir;
        std::string name = dir + temp_name_pattern;
        unique_fd fd(::mkostemp(name.data(), O_CLOEXEC));
        if (!fd.valid()) {
            throw std::runtime_error("cannot create a temporary file in " + dir + ": " + describe_errno(errno) +
                                     " (set TMPDIR or give --filename)");
        }
        target.temp = std::make_unique<temp_path>(name);
        target.path = name;
        target.size = whole_blocks(opts.size, opts.block_size);
        lay_out(fd.get(), target.path, 0, target.size, opts);
        target.written_now = true;
        return target;
    }

    target.path = opts.filename;
    struct stat st {};
    if (::stat(target.path.c_str(), &st) != 0) {
        if (errno != ENOENT) {
            throw std::runtime_error(target.path + ": " + describe_errno(errno));
        }
        unique_fd fd(::open(target.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, created_file_mode));
        if (!fd.valid()) {
            throw std::runtime_error("cannot create " + target.path + ": " + describe_errno(errno));
        }
        target.size = whole_blocks(opts.size, opts.block_size);
        lay_out(fd.get(), target.path, 0, target.size, opts);
        target.written_now = true;
        return target;
    }

    if (S_ISBLK(st.st_mode)) {
        const unique_fd fd(::open(target.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.valid()) {
            throw std::runtime_error("cannot open " + target.path + ": " + describe_errno(errno));
        }
        const off_t end = ::lseek(fd.get(), 0, SEEK_END);
        if (end < 0) {
            throw std::runtime_error(target.path + ": cannot find the device size: " + describe_errno(errno));
        }
        const auto device_bytes = static_cast<std::uint64_t>(end);
        if (opts.size_given && opts.size > device_bytes) {
            throw usage_error("--size=" + format_size(opts.size) + " is larger than " + target.path + " (" +
                              std::to_string(device_bytes) + " bytes)");
        }
        target.block_device = true;
        target.size = whole_blocks(opts.size_given ? opts.size : device_bytes, opts.block_size);
    } else if (S_ISREG(st.st_mode)) {
        const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
        if (!opts.size_given && file_bytes == 0) {
            throw usage_error(target.path + " is empty: give --size to lay it out");
        }
        target.size = whole_blocks(opts.size_given ? opts.size : file_bytes, opts.block_size);
        if (target.size > file_bytes) {
            unique_fd fd(::open(target.path.c_str(), O_WRONLY | O_CLOEXEC));
            if (!fd.valid()) {
                throw std::runtime_error("cannot open " + target.path + " to extend it: " + describe_errno(errno));
            }
            lay_out(fd.get(), target.path, whole_blocks(file_bytes, opts.block_size), target.size, opts);
            target.written_now = true;
        }
    } else {
        throw usage_error(target.path + " is neither a regular file nor a block device");
    }
    if (target.size == 0) {
        throw usage_error(target.path + " is smaller than --bs=" + format_size(opts.block_size));
    }
    return target;
}

// The backends to run, in order. Unavailable named ones are an error; with `all` they are skipped
// (and named in `skipped`).
std::vector<fileaio_backend> choose_backends(const bench_options &opts, std::vector<std::string> &skipped)
{
    constexpr std::size_t reason_size = 256;
    char reason[reason_size] = {};
    std::vector<fileaio_backend> chosen;
    switch (opts.selection) {
    case backend_selection::all:
        for (const auto backend : all_backends) {
            reason[0] = '\0';
            if (fileaio_backend_probe(backend, reason, sizeof reason) == 0) {
                chosen.push_back(backend);
            } else {
                skipped.push_back(std::string(fileaio_backend_name(backend)) + ": " + reason);
                log_line("skipping " + skipped.back());
            }
        }
        if (chosen.empty()) {
            throw std::runtime_error("no backend is available here (see fileaio info)");
        }
        break;
    case backend_selection::auto_:
        if (const int rc = fileaio_backend_probe(FILEAIO_BACKEND_AUTO, reason, sizeof reason); rc != 0) {
            throw std::runtime_error(std::string("no backend for --backend=auto: ") +
                                     (reason[0] != '\0' ? reason : fileaio_strerror(rc)));
        }
        chosen.push_back(FILEAIO_BACKEND_AUTO);
        break;
    case backend_selection::named:
        for (const auto backend : opts.backends) {
            reason[0] = '\0';
            if (const int rc = fileaio_backend_probe(backend, reason, sizeof reason); rc != 0) {
                throw std::runtime_error(std::string("backend ") + fileaio_backend_name(backend) +
                                         " is not available here: " +
                                         (reason[0] != '\0' ? reason : fileaio_strerror(rc)));
            }
            chosen.push_back(backend);
        }
        break;
    }
    return chosen;
}

enum class op_kind : std::uint8_t { read, write, flush };

// Per-request bookkeeping, reached through the request's user pointer.
struct slot {
    fileaio_req *req = nullptr;
    std::byte *buffer = nullptr;
    std::uint64_t submit_ns = 0;
    std::uint64_t index = 0;       // the block, counted in the job's own blocks (see job_blocks)
    std::uint64_t offset = 0;      // in bytes, in the file
    std::uint64_t generation = 0;  // --verify: what a write stamped
    op_kind kind = op_kind::read;
    bool busy = false;             // prepared for or submitted with `index`: no other request may take it
};

// The requests of one job: created once, destroyed at the end (never while submitted).
class request_set {
public:
    explicit request_set(std::size_t count) : reqs_(count, nullptr) {}
    request_set(const request_set &) = delete;
    request_set &operator=(const request_set &) = delete;
    ~request_set()
    {
        for (auto *req : reqs_) {
            fileaio_req_destroy(req);  // E_IN_PROGRESS for a leaked submitted one: left alone
        }
    }
    int create_all()
    {
        for (auto *&req : reqs_) {
            if (const int rc = fileaio_req_create(&req); rc != 0) {
                req = nullptr;
                return rc;
            }
        }
        return 0;
    }
    fileaio_req *operator[](std::size_t i) const { return reqs_[i]; }
    void leak() { reqs_.clear(); }  // some are still submitted: destroying them is not allowed

private:
    std::vector<fileaio_req *> reqs_;
};

// A context that is destroyed at the end unless requests are still pending in it.
class context_owner {
public:
    context_owner() = default;
    context_owner(const context_owner &) = delete;
    context_owner &operator=(const context_owner &) = delete;
    ~context_owner() { fileaio_ctx_destroy(ctx_); }
    fileaio_ctx **out() { return &ctx_; }
    [[nodiscard]] fileaio_ctx *get() const { return ctx_; }
    void leak() { ctx_ = nullptr; }  // pending requests we could not reap: let the process exit own them

private:
    fileaio_ctx *ctx_ = nullptr;
};

// What every job of a run needs that does not depend on the backend.
struct job_geometry {
    std::string path;
    int open_flags = 0;
    std::uint64_t blocks = 0;           // the workload's offsets are blocks of block_size
    std::size_t buffer_alignment = 0;   // for every request buffer
    bool stripe = false;                // job j only touches blocks j, j + numjobs, ... (--verify with writes)
};

// The blocks one job works on: first, first + step, ... (count of them).
struct job_blocks {
    std::uint64_t first = 0;
    std::uint64_t step = 1;
    std::uint64_t count = 0;
};

job_blocks blocks_of_job(const job_geometry &geo, std::uint32_t job, std::uint32_t numjobs)
{
    if (!geo.stripe) {
        return {0, 1, geo.blocks};
    }
    return {job, numjobs, geo.blocks > job ? (geo.blocks - job + numjobs - 1) / numjobs : 0};
}

// Counters a job publishes for the sampler (one writer each: the job; relaxed is enough).
struct alignas(64) job_progress {
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> writes{0};
    std::atomic<std::uint64_t> issued{0};  // data requests submitted (for one-pass progress)
};

// How the jobs of one measurement start and stop together.
struct start_gate {
    explicit start_gate(std::ptrdiff_t jobs) : ready(jobs) {}
    std::latch ready;        // each job, once set up (or failed to)
    std::latch go{1};        // the coordinator: start_ns and deadline_ns are set, run
    std::latch teardown{1};  // the coordinator took the CPU time: clean up
    std::atomic<std::uint32_t> finished{0};
    std::uint64_t start_ns = 0;
    std::uint64_t deadline_ns = 0;
};

// What one job did.
struct job_output {
    fileaio_backend backend = FILEAIO_BACKEND_AUTO;
    std::uint32_t ctx_flags = 0;  // the FILEAIO_CTX_* flags its context was created with
    std::uint32_t complete_min = 0;  // the completion batch its waits used (0: the loop never ran)
    std::uint32_t complete_max = 0;
    direction_result read;
    direction_result write;
    direction_result sync;
    std::uint64_t errors = 0;
    int first_error = 0;
    std::string first_error_text;
    std::string failure;
    bool interrupted = false;
    std::uint64_t end_ns = 0;  // the last completion; 0 when there was none
};

struct job_args {
    const bench_options *opts = nullptr;
    fileaio_backend backend = FILEAIO_BACKEND_AUTO;
    const job_geometry *geo = nullptr;
    std::uint32_t index = 0;
    job_progress *progress = nullptr;
    start_gate *gate = nullptr;
};

// One job: sets itself up, waits for the start, runs the I/O loop, reports. Runs on its own thread.
class job {
public:
    job(const job_args &args, job_output &out)
        : opts_(*args.opts), geo_(*args.geo), args_(args), out_(out), depth_(args.opts->iodepth),
          block_size_(static_cast<std::size_t>(args.opts->block_size)), reqs_(depth_)
    {
    }

    // The job's context once the gate's `ready` has been passed (null if it could not be made),
    // alive until `teardown`: the coordinator wakes the job's wait with it when the run ends.
    [[nodiscard]] fileaio_ctx *context() const noexcept { return ctx_.get(); }

    // Never throws: every failure ends up in out.failure, and the gate is always passed.
    void run() noexcept
    {
        bool ready = false;
        try {
            ready = set_up();
        } catch (const std::exception &e) {
            out_.failure = e.what();
        } catch (...) {
            out_.failure = "unexpected error while setting up";
        }
        args_.gate->ready.count_down();
        args_.gate->go.wait();
        if (ready) {
            try {
                io_loop();
                if (opts_.lib_latency) {
                    take_library_latency();
                }
            } catch (const std::exception &e) {  // only the error path builds strings
                out_.failure = e.what();
            }
        }
        args_.gate->finished.fetch_add(1, std::memory_order_release);
        args_.gate->teardown.wait();
        if (in_flight_ > 0) {
            log_line(std::to_string(in_flight_) + " requests could not be reaped; leaving them to the process exit");
            ctx_.leak();
            reqs_.leak();
            (void)buffers_.release();  // the kernel or a worker may still write into them
        }
    }

private:
    // --lib_latency: the job's latency figures are the library's histogram of its context
    // (every request the waits handed back, failed ones too).
    void take_library_latency()
    {
        std::size_t n = 0;
        if (const int rc = fileaio_ctx_get_latency_buckets(ctx_.get(), FILEAIO_LATENCY_READ, nullptr, 0, &n); rc != 0) {
            log_line("note: fileaio_ctx_get_latency_buckets: " + describe_code(rc));
            return;
        }
        std::vector<std::uint64_t> counts(n);
        const std::pair<int, direction_result *> ops[] = {
            {FILEAIO_LATENCY_READ, &out_.read}, {FILEAIO_LATENCY_WRITE, &out_.write}, {FILEAIO_LATENCY_SYNC, &out_.sync}};
        for (const auto &[op, dir] : ops) {
            fileaio_latency lat{};
            lat.size = sizeof lat;
            if (fileaio_ctx_get_latency_buckets(ctx_.get(), op, counts.data(), n, &n) != 0 ||
                fileaio_ctx_get_latency(ctx_.get(), op, &lat) != 0) {
                continue;
            }
            dir->latency_ns.assign(counts.data(), n, lat.mean_ns * lat.count, lat.min_ns, lat.max_ns);
        }
    }

    bool set_up()
    {
        blocks_ = blocks_of_job(geo_, args_.index, opts_.numjobs);
        fd_.reset(::open(geo_.path.c_str(), geo_.open_flags));
        if (!fd_.valid()) {
            out_.failure = "cannot open " + geo_.path + ": " + describe_errno(errno);
            return false;
        }

        std::size_t alignment = geo_.buffer_alignment;
        if (fileaio_limits lim{}; fileaio_get_limits(args_.backend, &lim) == 0) {
            alignment = std::max<std::size_t>(alignment, lim.buffer_alignment);
        }
        stride_ = (block_size_ + alignment - 1) / alignment * alignment;
        buffers_ = allocate_aligned(alignment, stride_ * depth_);
        splitmix64 rng(pattern_seed + args_.index);
        fill_pattern(buffers_.get(), stride_ * depth_, rng);

        fileaio_ctx_options ctx_opts{};
        ctx_opts.size = sizeof ctx_opts;
        ctx_opts.max_reqs = opts_.iodepth;
        // Each job submits, waits and registers on its own thread only: io_uring's single-issuer ring.
        ctx_opts.flags = FILEAIO_CTX_SINGLE_THREAD;
        ctx_opts.backend = args_.backend;
        ctx_opts.threads = opts_.threads;
        ctx_opts.uring_flags = opts_.sqthread_poll ? FILEAIO_URING_SQPOLL : 0u;
        if (opts_.lib_latency) ctx_opts.flags |= FILEAIO_CTX_LATENCY;
        out_.ctx_flags = ctx_opts.flags;  // what was asked for, also when the context cannot be made
        if (const int rc = fileaio_ctx_create_opts(ctx_.out(), &ctx_opts); rc != 0) {
            out_.failure = "fileaio_ctx_create_opts: " + describe_code(rc);
            return false;
        }
        out_.backend = fileaio_ctx_get_backend(ctx_.get());

        // Hints that let a backend use its fastest path (registered file, fixed buffers).
        if (opts_.register_files) {
            if (const int rc = fileaio_ctx_associate_with_file(ctx_.get(), fd_.get());
                rc != 0 && rc != FILEAIO_E_NOT_SUPPORTED) {
                log_line("note: fileaio_ctx_associate_with_file: " + describe_code(rc) + "; continuing without it");
            }
        }
        if (opts_.fixed_buffers) {
            const iovec region{buffers_.get(), stride_ * depth_};
            if (const int rc = fileaio_ctx_register_buffers(ctx_.get(), &region, 1);
                rc != 0 && rc != FILEAIO_E_NOT_SUPPORTED) {
                log_line("note: fileaio_ctx_register_buffers: " + describe_code(rc) + "; continuing without it");
            }
        }

        if (const int rc = reqs_.create_all(); rc != 0) {
            out_.failure = "fileaio_req_create: " + describe_code(rc);
            return false;
        }
        slots_.resize(depth_);
        ready_.resize(depth_);
        batch_reqs_.resize(depth_);
        completed_.resize(depth_);
        for (std::size_t i = 0; i < depth_; ++i) {
            slots_[i].req = reqs_[i];
            slots_[i].buffer = buffers_.get() + i * stride_;
            ready_[i] = &slots_[i];
        }
        ready_count_ = depth_;
        exclusive_ = opts_.verify && rw_writes(opts_.rw);
        if (opts_.verify && rw_is_mixed(opts_.rw) && blocks_.count <= max_tracked_blocks) {
            last_generation_.assign(blocks_.count, 0);
        }
        return true;
    }

    // Whether another request of this job holds block `index` (only tracked with exclusive_).
    [[nodiscard]] bool block_busy(std::uint64_t index) const noexcept
    {
        for (const auto &s : slots_) {
            if (s.busy && s.kind != op_kind::flush && s.index == index) {
                return true;
            }
        }
        return false;
    }

    // Prepares s for the next request of the workload; false when there is none (or it failed).
    bool prepare_next(slot &s, index_generator &indexes, splitmix64 &directions)
    {
        if (opts_.fsync_every != 0 && writes_since_flush_ >= opts_.fsync_every) {
            writes_since_flush_ = 0;
            s.kind = op_kind::flush;
            s.busy = true;
            return prepared(fileaio_req_prepare_flush(s.req, fd_.get(), &s));
        }
        if (issued_ >= io_limit_) {
            return false;
        }
        bool write = writes_only_;
        if (mixed_) {
            write = directions.below(percent) >= opts_.rwmixread;
        }
        std::uint64_t index = indexes.next();
        if (exclusive_) {
            while (block_busy(index)) {  // terminates: a job has more blocks than requests (checked)
                index = indexes.next();
            }
        }
        ++issued_;
        s.kind = write ? op_kind::write : op_kind::read;
        s.index = index;
        s.offset = (blocks_.first + index * blocks_.step) * opts_.block_size;
        s.busy = true;
        const auto offset = static_cast<std::int64_t>(s.offset);
        if (!write) {
            return prepared(fileaio_req_prepare_read(s.req, fd_.get(), offset, s.buffer, block_size_, &s));
        }
        ++writes_since_flush_;
        if (opts_.verify) {
            s.generation = verify_generation(args_.index + 1, ++write_sequence_);
            verify_stamp(s.buffer, block_size_, s.offset, s.generation);
        }
        return prepared(fileaio_req_prepare_write(s.req, fd_.get(), offset, s.buffer, block_size_, &s));
    }

    bool prepared(int rc)
    {
        if (rc != 0) {
            out_.failure = "fileaio_req_prepare: " + describe_code(rc);
            submitting_ = false;
            return false;
        }
        return true;
    }

    void record_error(int rc, const std::string &text)
    {
        if (out_.errors == 0) {
            out_.first_error = rc;
            out_.first_error_text = text;
            log_line(std::string(fileaio_backend_name(out_.backend)) + ": " + text);
        }
        ++out_.errors;
    }

    // Accounts for one completed request and makes its slot ready again.
    void complete(slot &s, std::uint64_t now)
    {
        std::size_t transferred = 0;
        const int io_rc = fileaio_req_get_result(s.req, &transferred);
        s.busy = false;
        ready_[ready_count_++] = &s;
        if (s.kind == op_kind::flush) {
            if (io_rc == 0) {
                ++out_.sync.ios;
                if (!opts_.lib_latency) {
                    out_.sync.latency_ns.record(now - s.submit_ns);
                }
                failures_in_a_row_ = 0;
            } else {
                failed("flush: " + describe_code(io_rc), io_rc);
            }
            return;
        }
        const bool write = s.kind == op_kind::write;
        if (io_rc != 0 || transferred != block_size_) {
            if (write && !last_generation_.empty()) {
                last_generation_[s.index] = 0;  // unknown now
            }
            failed(std::string(write ? "write" : "read") + " at offset " + std::to_string(s.offset) + ": " +
                       (io_rc != 0 ? describe_code(io_rc)
                                   : "short transfer: " + std::to_string(transferred) + " of " +
                                         std::to_string(block_size_) + " bytes"),
                   io_rc);
            return;
        }
        direction_result &dir = write ? out_.write : out_.read;
        ++dir.ios;
        dir.io_bytes += transferred;
        if (!opts_.lib_latency) {
            dir.latency_ns.record(now - s.submit_ns);
        }
        failures_in_a_row_ = 0;
        if (!opts_.verify) {
            return;
        }
        if (write) {
            if (!last_generation_.empty()) {
                last_generation_[s.index] = s.generation;
            }
            return;
        }
        const std::uint64_t expected = last_generation_.empty() ? 0 : last_generation_[s.index];
        if (const verify_finding finding = verify_check(s.buffer, block_size_, s.offset, expected);
            finding.status != verify_status::ok) {
            const std::string text = describe_verify_failure(finding, s.offset);
            record_error(0, text);
            if (out_.failure.empty()) {
                out_.failure = text;
            }
            submitting_ = false;  // a bad block fails the run: stop here, as fio's verify_fatal does
        }
    }

    void failed(const std::string &text, int rc)
    {
        record_error(rc, text);
        if (++failures_in_a_row_ >= failure_window_ && submitting_) {
            out_.failure = "gave up after " + std::to_string(failures_in_a_row_) + " failed requests in a row";
            submitting_ = false;
        }
    }

    // Prepares and submits requests for the free slots, at most --iodepth_batch_submit per call.
    void submit_free(index_generator &indexes, splitmix64 &directions)
    {
        const std::size_t batch_max = opts_.batch_submit != 0 ? opts_.batch_submit : depth_;
        while (submitting_ && ready_count_ > 0) {
            const std::size_t want = std::min(ready_count_, batch_max);
            std::size_t batch = 0;
            while (batch < want && prepare_next(*ready_[batch], indexes, directions)) {
                batch_reqs_[batch] = ready_[batch]->req;
                ++batch;
            }
            if (batch < want && submitting_ && issued_ >= io_limit_) {
                submitting_ = false;  // one pass: this is the last batch
            }
            if (batch == 0) {
                return;
            }
            if (!opts_.lib_latency) {  // else the library times them
                const std::uint64_t now = monotonic_ns();
                for (std::size_t i = 0; i < batch; ++i) {
                    ready_[i]->submit_ns = now;
                }
            }
            std::size_t submitted = 0;
            const int rc = fileaio_ctx_submit(ctx_.get(), batch_reqs_.data(), batch, &submitted);
            for (std::size_t i = submitted; i < batch; ++i) {
                ready_[i]->busy = false;  // still PREPARED: prepared afresh next time
                issued_ -= ready_[i]->kind != op_kind::flush ? 1u : 0u;
            }
            in_flight_ += submitted;
            // The unsubmitted remain prepared; move them (and the rest) to the front.
            std::copy(ready_.begin() + static_cast<std::ptrdiff_t>(submitted),
                      ready_.begin() + static_cast<std::ptrdiff_t>(ready_count_), ready_.begin());
            ready_count_ -= submitted;
            const bool transient = rc == FILEAIO_E_INSUFFICIENT_RESOURCES || rc == FILEAIO_E_NO_MEMORY;
            if (rc != 0 && !(transient && in_flight_ > 0)) {
                out_.failure = "fileaio_ctx_submit: " + describe_code(rc);
                submitting_ = false;
            }
            if (submitted < batch) {
                return;  // out of resources for now: reap first
            }
        }
    }

    // The loop allocates nothing (but for the first error's text): requests, buffers and arrays
    // were set up before, and the counters the sampler reads are plain atomics.
    void io_loop()
    {
        const offset_order order = !rw_is_random(opts_.rw) ? offset_order::sequential
                                   : opts_.random_map      ? offset_order::random_map
                                                           : offset_order::random_uniform;
        index_generator indexes(order, blocks_.count, offset_seed + args_.index * job_seed_step);
        splitmix64 directions(direction_seed + args_.index * job_seed_step);
        mixed_ = rw_is_mixed(opts_.rw);
        writes_only_ = rw_is_write(opts_.rw);
        io_limit_ = opts_.runtime_s > 0 ? UINT64_MAX : blocks_.count;  // runtime 0: one pass
        failure_window_ = std::max<std::uint64_t>(min_failure_window, failure_window_per_depth * depth_);
        const std::size_t complete_min = opts_.complete_min();
        // fio's iodepth_batch_complete_max: take at most that many, submit as many again, and find
        // the rest at the next wait (bench_options::complete_max says why its default differs
        // between page-cache and O_DIRECT I/O).
        const std::size_t complete_max = std::min<std::size_t>(opts_.complete_max(out_.backend), depth_);
        out_.complete_min = static_cast<std::uint32_t>(std::min(complete_min, depth_));
        out_.complete_max = static_cast<std::uint32_t>(complete_max);  // what the report names
        const std::uint64_t deadline_ns = args_.gate->deadline_ns;
        job_progress &progress = *args_.progress;

        while (true) {
            submit_free(indexes, directions);
            progress.issued.store(issued_, std::memory_order_relaxed);
            if (in_flight_ == 0) {
                break;
            }
            std::size_t count = 0;
            // No timeout, as fio: an armed timer costs a wait that sleeps 2-3 us (QD1, Linux AIO,
            // docs/PERFORMANCE.md "Session 7"). When the run ends (runtime, SIGINT) the coordinator
            // wakes this wait with fileaio_ctx_wakeup.
            const int rc = fileaio_ctx_wait(ctx_.get(), std::min(complete_min, in_flight_), FILEAIO_WAIT_FOREVER,
                                            completed_.data(), complete_max, &count);
            const std::uint64_t now = monotonic_ns();
            for (std::size_t i = 0; i < count; ++i) {
                complete(*static_cast<slot *>(fileaio_req_get_user(completed_[i])), now);
            }
            in_flight_ -= count;
            if (count > 0) {
                out_.end_ns = now;
                progress.reads.store(out_.read.ios, std::memory_order_relaxed);
                progress.writes.store(out_.write.ios, std::memory_order_relaxed);
            }
            if (rc != 0 && rc != FILEAIO_E_TIMEOUT && rc != FILEAIO_E_INTERRUPTED) {
                out_.failure = "fileaio_ctx_wait: " + describe_code(rc);
                break;  // the wait itself is broken: do not spin on it
            }
            if (now >= deadline_ns) {
                submitting_ = false;
            }
            if (stopping() && submitting_) {
                out_.interrupted = true;
                submitting_ = false;
            }
        }
    }

    const bench_options &opts_;
    const job_geometry &geo_;
    job_args args_;
    job_output &out_;
    std::size_t depth_;
    std::size_t block_size_;
    job_blocks blocks_;
    unique_fd fd_;
    std::size_t stride_ = 0;
    aligned_bytes buffers_;
    context_owner ctx_;
    request_set reqs_;
    std::vector<slot> slots_;
    std::vector<slot *> ready_;             // slots whose request is free: ready_[0 .. ready_count_)
    std::vector<fileaio_req *> batch_reqs_; // the requests of one submit call
    std::vector<fileaio_req *> completed_;  // what one wait hands back
    std::vector<std::uint64_t> last_generation_;  // --verify with reads and writes: per job block
    std::size_t ready_count_ = 0;
    std::size_t in_flight_ = 0;
    std::uint64_t issued_ = 0;               // data requests prepared for submission (and then submitted)
    std::uint64_t io_limit_ = UINT64_MAX;
    std::uint64_t writes_since_flush_ = 0;
    std::uint64_t write_sequence_ = 0;
    std::uint64_t failures_in_a_row_ = 0;
    std::uint64_t failure_window_ = 0;
    bool submitting_ = true;
    bool exclusive_ = false;  // no two requests of this job on one block (--verify with writes)
    bool mixed_ = false;
    bool writes_only_ = false;
};

// Sleeps until the monotonic time `at_ns` (or a signal).
void sleep_until(std::uint64_t at_ns)
{
    const timespec ts{static_cast<time_t>(at_ns / ns_per_s), static_cast<long>(at_ns % ns_per_s)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
}

std::string with_job_prefix(std::uint32_t job, std::uint32_t numjobs, const std::string &text)
{
    return numjobs > 1 ? "job " + std::to_string(job) + ": " + text : text;
}

// One backend's measurement: numjobs threads started together; the coordinating thread samples
// their counters every sample_interval_ns and keeps the progress line.
job_result run_measurement(const bench_options &opts, fileaio_backend backend, const job_geometry &geo,
                           progress_line &progress, std::size_t backend_index, std::size_t backend_count)
{
    job_result result;
    result.requested = backend;
    result.backend = backend;
    result.rw = opts.rw;
    result.rwmixread = opts.rwmixread;
    result.block_size = opts.block_size;
    result.iodepth = opts.iodepth;
    result.numjobs = opts.numjobs;
    result.direct = opts.direct;
    result.fsync_every = opts.fsync_every;
    result.verify = opts.verify;
    // Preallocated, so that sampling never allocates while the jobs run.
    result.samples.reserve(opts.runtime_s > 0 ? static_cast<std::size_t>(opts.runtime_s * static_cast<double>(ns_per_s) /
                                                                           static_cast<double>(sample_interval_ns)) +
                                                    sample_margin
                                              : max_untimed_samples);

    const std::uint32_t numjobs = opts.numjobs;
    start_gate gate(numjobs);
    const auto counters = std::make_unique<job_progress[]>(numjobs);
    std::vector<job_output> outputs(numjobs);
    std::vector<std::unique_ptr<job>> jobs;
    std::vector<std::thread> threads;
    jobs.reserve(numjobs);
    threads.reserve(numjobs);
    for (std::uint32_t j = 0; j < numjobs; ++j) {
        // A job that cannot start still passes the gate, so that the others are not left waiting.
        try {
            const job_args args{&opts, backend, &geo, j, &counters[j], &gate};
            jobs.push_back(std::make_unique<job>(args, outputs[j]));
            threads.emplace_back([&runner = *jobs.back()] { runner.run(); });
        } catch (const std::exception &e) {
            outputs[j].failure = std::string("cannot start job ") + std::to_string(j) + ": " + e.what();
            gate.ready.count_down();
            gate.finished.fetch_add(1);
        }
    }
    gate.ready.wait();

    std::uint64_t pass_ios = 0;  // for one-pass progress: the I/Os of every job's pass
    for (std::uint32_t j = 0; j < numjobs; ++j) {
        pass_ios += blocks_of_job(geo, j, numjobs).count;
    }
    const cpu_times cpu_before = process_cpu_times();
    gate.start_ns = monotonic_ns();
    gate.deadline_ns = opts.runtime_s > 0 ? gate.start_ns + static_cast<std::uint64_t>(
                                                                opts.runtime_s * static_cast<double>(ns_per_s))
                                          : UINT64_MAX;
    gate.go.count_down();

    std::uint64_t next_sample = gate.start_ns + sample_interval_ns;
    std::uint64_t next_draw = progress.enabled() ? gate.start_ns + progress_interval_ns : UINT64_MAX;
    bool woken = false;  // the jobs' waits, once, when the run ends
    while (gate.finished.load(std::memory_order_acquire) < numjobs) {
        sleep_until(std::min({next_sample, next_draw, woken ? UINT64_MAX : gate.deadline_ns}));
        const std::uint64_t now = monotonic_ns();
        if (!woken && (now >= gate.deadline_ns || stopping())) {
            // A job waits without a timeout, for its batch's completions. Woken now, it stops
            // submitting at once instead of after that batch (one batch less past the end on slow
            // I/O); it still drains what is in flight. Contexts live until teardown, after this loop.
            for (const auto &j : jobs) {
                if (fileaio_ctx *ctx = j->context(); ctx != nullptr) {
                    (void)fileaio_ctx_wakeup(ctx);
                }
            }
            woken = true;
        }
        if (now < next_sample && now < next_draw) {
            continue;  // woken by a signal
        }
        iops_sample sample{now - gate.start_ns, 0, 0};
        std::uint64_t issued = 0;
        for (std::uint32_t j = 0; j < numjobs; ++j) {
            sample.reads += counters[j].reads.load(std::memory_order_relaxed);
            sample.writes += counters[j].writes.load(std::memory_order_relaxed);
            issued += counters[j].issued.load(std::memory_order_relaxed);
        }
        if (now >= next_sample) {
            if (result.samples.size() < result.samples.capacity()) {
                result.samples.push_back(sample);
            }
            next_sample += sample_interval_ns;
            if (next_sample <= now) {  // fell behind (a stalled machine): skip, do not burst
                next_sample = now + sample_interval_ns;
            }
        }
        if (now >= next_draw) {
            const double elapsed = static_cast<double>(sample.t_ns) / static_cast<double>(ns_per_s);
            progress.draw({backend_index, backend_count, fileaio_backend_name(backend), elapsed, opts.runtime_s,
                           pass_ios > 0 ? static_cast<double>(issued) / static_cast<double>(pass_ios) : 0.0,
                           elapsed > 0 ? static_cast<double>(sample.reads + sample.writes) / elapsed : 0.0});
            next_draw = std::max(next_draw + progress_interval_ns, now + 1);
        }
    }
    const cpu_times cpu_after = process_cpu_times();
    gate.teardown.count_down();
    for (auto &t : threads) {
        t.join();
    }
    progress.clear();

    std::uint64_t end_ns = gate.start_ns;
    bool backend_known = false;
    for (std::uint32_t j = 0; j < numjobs; ++j) {
        const job_output &out = outputs[j];
        if (!backend_known && out.backend != FILEAIO_BACKEND_AUTO) {
            result.backend = out.backend;
            backend_known = true;
        }
        result.ctx_flags |= out.ctx_flags;  // the same for every job: they follow the options
        if (out.complete_max != 0) {  // the same for every job that ran
            result.complete_min = out.complete_min;
            result.complete_max = out.complete_max;
        }
        result.read.merge(out.read);
        result.write.merge(out.write);
        result.sync.merge(out.sync);
        if (out.errors > 0 && result.errors == 0) {
            result.first_error = out.first_error;
            result.first_error_text = with_job_prefix(j, numjobs, out.first_error_text);
        }
        result.errors += out.errors;
        if (!out.failure.empty() && result.failure.empty()) {
            result.failure = with_job_prefix(j, numjobs, out.failure);
        }
        result.interrupted = result.interrupted || out.interrupted;
        end_ns = std::max(end_ns, out.end_ns);
    }
    result.elapsed_s = static_cast<double>(end_ns - gate.start_ns) / static_cast<double>(ns_per_s);
    if (result.complete_max == 0) {  // no job ran its loop: what it would have used
        result.complete_min = std::min(opts.complete_min(), opts.iodepth);
        result.complete_max = std::min(opts.complete_max(result.backend), opts.iodepth);
    }
    result.usr_s = cpu_after.usr_s - cpu_before.usr_s;
    result.sys_s = cpu_after.sys_s - cpu_before.sys_s;
    return result;
}

}  // namespace

double job_result::iops() const
{
    return elapsed_s > 0 ? static_cast<double>(total_ios()) / elapsed_s : 0.0;
}

double job_result::bytes_per_s() const
{
    return elapsed_s > 0 ? static_cast<double>(total_bytes()) / elapsed_s : 0.0;
}

double job_result::iops_per_cpu_s() const
{
    const double cpu = usr_s + sys_s;
    return cpu > 0 ? static_cast<double>(total_ios()) / cpu : 0.0;
}

bench_outcome run_bench(const bench_options &opts)
{
    bench_outcome outcome;
    const std::vector<fileaio_backend> backends = choose_backends(opts, outcome.skipped);
    const stop_signal_scope signals;
    const target_file target = prepare_target(opts);
    outcome.target = {target.path, target.size, target.temp != nullptr, target.block_device};

    const bool reads = rw_reads(opts.rw);
    const bool writes = rw_writes(opts.rw);
    job_geometry geo;
    geo.path = target.path;
    geo.open_flags = (writes ? O_RDWR : O_RDONLY) | (opts.direct ? O_DIRECT : 0) | O_CLOEXEC;
    geo.blocks = target.size / opts.block_size;
    geo.buffer_alignment = min_buffer_alignment;
    geo.stripe = opts.verify && writes && opts.numjobs > 1;

    unique_fd fd(::open(target.path.c_str(), geo.open_flags));
    if (!fd.valid()) {
        const int err = errno;
        if (opts.direct && err == EINVAL) {
            throw std::runtime_error(target.path + ": O_DIRECT is not supported here (open: " + describe_errno(err) +
                                     "); see fileaio info " + target.path);
        }
        throw std::runtime_error("cannot open " + target.path + (writes ? " for writing: " : ": ") +
                                 describe_errno(err));
    }
    if (opts.direct) {
        fileaio_dio_alignment dio{};
        if (const int rc = fileaio_get_dio_alignment(fd.get(), &dio); rc != 0) {
            throw std::runtime_error("fileaio_get_dio_alignment(" + target.path + "): " + describe_code(rc));
        }
        if (dio.offset_align != 0 && opts.block_size % dio.offset_align != 0) {
            throw usage_error("--bs=" + format_size(opts.block_size) + " is not a multiple of the O_DIRECT alignment (" +
                              std::to_string(dio.offset_align) + " bytes) of " + target.path);
        }
        geo.buffer_alignment = std::max<std::size_t>(geo.buffer_alignment, dio.mem_align);
    }
    if (opts.verify && writes) {
        const job_blocks smallest = blocks_of_job(geo, opts.numjobs - 1, opts.numjobs);
        if (smallest.count <= opts.iodepth) {
            throw usage_error("--verify with writes needs more blocks per job than --iodepth (" +
                              std::to_string(smallest.count) + " blocks of " + format_size(opts.block_size) +
                              " per job): give a larger --size or a smaller --iodepth or --numjobs");
        }
    }
    if (!opts.invalidate && !opts.direct && reads && !target.written_now) {
        warm_page_cache(fd.get(), target.path, target.size);
    }

    progress_line progress;
    for (std::size_t i = 0; i < backends.size(); ++i) {
        const fileaio_backend backend = backends[i];
        if (stopping()) {
            break;
        }
        try {
            if (opts.invalidate) {
                invalidate_cache(fd.get(), target.path);
            } else if (writes && ::fdatasync(fd.get()) != 0 && errno != EINVAL) {
                // The previous backend's dirty pages must not be written back during this one.
                log_line("note: fdatasync " + target.path + ": " + describe_errno(errno));
            }
            const std::string runtime_text =
                opts.runtime_s > 0 ? "for " + format_seconds(opts.runtime_s) : "one pass";
            std::string what = std::string(rw_name(opts.rw));
            if (rw_is_mixed(opts.rw)) {
                what += " rwmixread=" + std::to_string(opts.rwmixread);
            }
            log_line(std::string("running ") + fileaio_backend_name(backend) + " " + what +
                     " bs=" + format_size(opts.block_size) + " iodepth=" + std::to_string(opts.iodepth) +
                     (opts.numjobs > 1 ? " numjobs=" + std::to_string(opts.numjobs) : "") +
                     (opts.direct ? " direct=1" : "") +
                     (opts.fsync_every != 0 ? " fsync=" + std::to_string(opts.fsync_every) : "") +
                     (opts.verify ? " verify" : "") + " on " + format_bytes(target.size) + " " + runtime_text +
                     " ...");
            job_result result = run_measurement(opts, backend, geo, progress, i, backends.size());
            if (!result.failure.empty()) {
                if (result.failure != result.first_error_text) {  // that one was logged when it happened
                    log_line(std::string(fileaio_backend_name(result.backend)) + ": " + result.failure);
                }
                outcome.exit_code = exit_failure;
            } else if (result.errors > 0) {
                outcome.exit_code = exit_failure;
            }
            outcome.jobs.push_back(std::move(result));
        } catch (const std::exception &e) {
            // Not the I/O's fault (memory, threads): keep what was measured and stop.
            progress.clear();
            log_line(std::string(fileaio_backend_name(backend)) + ": " + e.what());
            outcome.exit_code = exit_failure;
            break;
        }
    }
    if (stopping()) {
        log_line("interrupted");
        outcome.exit_code = exit_interrupted;
    }
    return outcome;
}

}  // namespace fileaio::cli
