#include "bench.hpp"

#include "util.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fileaio::cli {
namespace {

constexpr std::size_t min_buffer_alignment = 4096;       // every request buffer is page-aligned
constexpr std::size_t layout_chunk_bytes = 1 * mib;      // pwrite/pread size when writing or warming the file
constexpr std::uint32_t wait_timeout_ms = 1000;          // so that SIGINT is noticed even if I/O stalls
constexpr std::uint32_t complete_batch_divisor = 4;      // wait for iodepth/4 completions (fio's iodepth_batch_complete_min)
constexpr std::uint64_t min_failure_window = 64;         // this many failures in a row (at least) abort a job
constexpr std::uint64_t failure_window_per_depth = 2;    // ... or twice the iodepth, whichever is more
constexpr std::uint64_t offset_seed = 0x5EED'F11E'A10Bu; // the same offsets for every backend
constexpr std::uint64_t pattern_seed = 0xDA7A'5EEDu;
constexpr mode_t created_file_mode = 0644;
constexpr const char *default_tmpdir = "/tmp";
constexpr const char *temp_name_pattern = "/fileaio-bench-XXXXXX";

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int /*signo*/) { stop_requested = 1; }

// SIGINT/SIGTERM end the run early (cleanly: the temporary file is removed) while installed.
class stop_signal_scope {
public:
    stop_signal_scope()
    {
        stop_requested = 0;
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

bool stopping() { return stop_requested != 0; }

// splitmix64: tiny, fast, good enough to scatter offsets and fill buffers.
class splitmix64 {
public:
    explicit splitmix64(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t next() noexcept
    {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15u);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        return z ^ (z >> 31);
    }

private:
    std::uint64_t state_;
};

void fill_pattern(std::byte *data, std::size_t size, splitmix64 &rng)
{
    for (std::size_t at = 0; at < size; at += sizeof(std::uint64_t)) {
        const std::uint64_t word = rng.next();
        std::memcpy(data + at, &word, std::min(sizeof word, size - at));
    }
}

// Block-aligned offsets in [0, blocks * block_size): sequential (wrapping) or uniformly random.
class offset_generator {
public:
    offset_generator(bool random, std::uint64_t blocks, std::uint64_t block_size) noexcept
        : random_(random), blocks_(blocks), block_size_(block_size), rng_(offset_seed)
    {
    }
    std::int64_t next() noexcept
    {
        std::uint64_t block = 0;
        if (random_) {
            // Lemire's multiply-shift: an unbiased-enough range reduction without a division.
            block = static_cast<std::uint64_t>((static_cast<unsigned __int128>(rng_.next()) * blocks_) >> 64);
        } else {
            block = next_block_;
            next_block_ = next_block_ + 1 == blocks_ ? 0 : next_block_ + 1;
        }
        return static_cast<std::int64_t>(block * block_size_);
    }

private:
    bool random_;
    std::uint64_t blocks_;
    std::uint64_t block_size_;
    std::uint64_t next_block_ = 0;
    splitmix64 rng_;
};

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

void log_line(const std::string &text) { std::fprintf(stderr, "fileaio: %s\n", text.c_str()); }

// Writes [from, to) of fd with a pattern, then fsyncs, so that no writeback runs during the jobs.
void lay_out(int fd, const std::string &path, std::uint64_t from, std::uint64_t to)
{
    log_line("writing " + format_bytes(to - from) + " to " + path + " ...");
    const auto chunk = allocate_aligned(min_buffer_alignment, layout_chunk_bytes);
    splitmix64 rng(pattern_seed);
    fill_pattern(chunk.get(), layout_chunk_bytes, rng);
    for (std::uint64_t at = from; at < to;) {
        if (stopping()) {
            throw interrupted_error("interrupted while writing " + path);
        }
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(layout_chunk_bytes, to - at));
        const ssize_t n = ::pwrite(fd, chunk.get(), len, static_cast<off_t>(at));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::runtime_error("writing " + path + ": " + describe_errno(errno));
        }
        at += static_cast<std::uint64_t>(n);
    }
    if (::fsync(fd) != 0) {
        throw std::runtime_error("fsync " + path + ": " + describe_errno(errno));
    }
}

// Reads [0, size) once so that buffered reads of every backend find the same page cache.
void warm_page_cache(int fd, const std::string &path, std::uint64_t size)
{
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
        lay_out(fd.get(), target.path, 0, target.size);
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
        lay_out(fd.get(), target.path, 0, target.size);
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
            lay_out(fd.get(), target.path, whole_blocks(file_bytes, opts.block_size), target.size);
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

// The backends to run, in order. Unavailable named ones are an error; with `all` they are skipped.
std::vector<fileaio_backend> choose_backends(const bench_options &opts)
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
                log_line(std::string("skipping ") + fileaio_backend_name(backend) + ": " + reason);
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

// Per-request bookkeeping, reached through the request's user pointer.
struct slot {
    fileaio_req *req = nullptr;
    std::byte *buffer = nullptr;
    std::uint64_t submit_ns = 0;
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

// What one job needs that does not depend on the backend.
struct job_geometry {
    int fd = -1;
    std::uint64_t blocks = 0;               // the workload's offsets are blocks of block_size
    std::size_t buffer_alignment = 0;       // for every request buffer
};

job_result run_job(const bench_options &opts, fileaio_backend backend, const job_geometry &geo)
{
    job_result result;
    result.requested = backend;
    result.backend = backend;
    result.rw = opts.rw;
    result.block_size = opts.block_size;
    result.iodepth = opts.iodepth;
    result.direct = opts.direct;

    const bool writing = rw_is_write(opts.rw);
    const std::size_t depth = opts.iodepth;
    const auto block_size = static_cast<std::size_t>(opts.block_size);

    std::size_t alignment = geo.buffer_alignment;
    if (fileaio_limits lim{}; fileaio_get_limits(backend, &lim) == 0) {
        alignment = std::max<std::size_t>(alignment, lim.buffer_alignment);
    }
    const std::size_t stride = (block_size + alignment - 1) / alignment * alignment;
    aligned_bytes buffers = allocate_aligned(alignment, stride * depth);
    if (writing) {
        splitmix64 rng(pattern_seed);
        fill_pattern(buffers.get(), stride * depth, rng);
    }

    fileaio_ctx_options ctx_opts{};
    ctx_opts.size = sizeof ctx_opts;
    ctx_opts.max_reqs = opts.iodepth;
    ctx_opts.backend = backend;
    ctx_opts.threads = opts.threads;
    context_owner ctx;
    if (const int rc = fileaio_ctx_create_opts(ctx.out(), &ctx_opts); rc != 0) {
        result.failure = "fileaio_ctx_create_opts: " + describe_code(rc);
        return result;
    }
    result.backend = fileaio_ctx_get_backend(ctx.get());

    // Hints that let a backend use its fastest path (registered file, fixed buffers).
    if (const int rc = fileaio_ctx_associate_with_file(ctx.get(), geo.fd); rc != 0 && rc != FILEAIO_E_NOT_SUPPORTED) {
        log_line("note: fileaio_ctx_associate_with_file: " + describe_code(rc) + "; continuing without it");
    }
    const iovec region{buffers.get(), stride * depth};
    if (const int rc = fileaio_ctx_register_buffers(ctx.get(), &region, 1); rc != 0 && rc != FILEAIO_E_NOT_SUPPORTED) {
        log_line("note: fileaio_ctx_register_buffers: " + describe_code(rc) + "; continuing without it");
    }

    request_set reqs(depth);
    if (const int rc = reqs.create_all(); rc != 0) {
        result.failure = "fileaio_req_create: " + describe_code(rc);
        return result;
    }
    std::vector<slot> slots(depth);
    std::vector<slot *> ready(depth);             // slots whose request is free: ready[0 .. ready_count)
    std::vector<fileaio_req *> batch_reqs(depth); // the requests of one submit call
    std::vector<fileaio_req *> completed(depth);  // what one wait hands back
    for (std::size_t i = 0; i < depth; ++i) {
        slots[i] = slot{reqs[i], buffers.get() + i * stride, 0};
        ready[i] = &slots[i];
    }
    std::size_t ready_count = depth;
    std::size_t in_flight = 0;

    offset_generator offsets(rw_is_random(opts.rw), geo.blocks, opts.block_size);
    direction_result &dir = writing ? result.write : result.read;
    const std::size_t batch_complete = std::max<std::size_t>(1, depth / complete_batch_divisor);
    const std::uint64_t failure_window =
        std::max<std::uint64_t>(min_failure_window, failure_window_per_depth * depth);
    const std::uint64_t io_limit = opts.runtime_s > 0 ? UINT64_MAX : geo.blocks;  // runtime 0: one pass
    std::uint64_t issued = 0;
    std::uint64_t failures_in_a_row = 0;
    bool submitting = true;

    const cpu_times cpu_before = process_cpu_times();
    const std::uint64_t start_ns = monotonic_ns();
    const std::uint64_t deadline_ns =
        opts.runtime_s > 0 ? start_ns + static_cast<std::uint64_t>(opts.runtime_s * static_cast<double>(ns_per_s))
                           : UINT64_MAX;
    std::uint64_t end_ns = start_ns;

    // The loop allocates nothing (but for the first error's text): requests, buffers and
    // arrays above are reused.
    while (true) {
        if (submitting && ready_count > 0) {
            const auto batch = static_cast<std::size_t>(std::min<std::uint64_t>(ready_count, io_limit - issued));
            for (std::size_t i = 0; i < batch; ++i) {
                slot *s = ready[i];
                const std::int64_t offset = offsets.next();
                const int rc = writing
                                   ? fileaio_req_prepare_write(s->req, geo.fd, offset, s->buffer, block_size, s)
                                   : fileaio_req_prepare_read(s->req, geo.fd, offset, s->buffer, block_size, s);
                if (rc != 0) {
                    result.failure = "fileaio_req_prepare: " + describe_code(rc);
                    submitting = false;
                    break;
                }
                batch_reqs[i] = s->req;
            }
            if (submitting && batch > 0) {
                const std::uint64_t now = monotonic_ns();
                for (std::size_t i = 0; i < batch; ++i) {
                    ready[i]->submit_ns = now;
                }
                std::size_t submitted = 0;
                const int rc = fileaio_ctx_submit(ctx.get(), batch_reqs.data(), batch, &submitted);
                in_flight += submitted;
                issued += submitted;
                // The unsubmitted remain prepared; move them (and the rest) to the front.
                std::copy(ready.begin() + static_cast<std::ptrdiff_t>(submitted),
                          ready.begin() + static_cast<std::ptrdiff_t>(ready_count), ready.begin());
                ready_count -= submitted;
                const bool transient = rc == FILEAIO_E_INSUFFICIENT_RESOURCES || rc == FILEAIO_E_NO_MEMORY;
                if (rc != 0 && !(transient && in_flight > 0)) {
                    result.failure = "fileaio_ctx_submit: " + describe_code(rc);
                    submitting = false;
                }
            }
            if (issued >= io_limit) {
                submitting = false;
            }
        }
        if (in_flight == 0) {
            break;
        }

        std::size_t count = 0;
        const int rc = fileaio_ctx_wait(ctx.get(), std::min(batch_complete, in_flight), wait_timeout_ms,
                                        completed.data(), depth, &count);
        const std::uint64_t now = monotonic_ns();
        for (std::size_t i = 0; i < count; ++i) {
            auto *s = static_cast<slot *>(fileaio_req_get_user(completed[i]));
            std::size_t transferred = 0;
            const int io_rc = fileaio_req_get_result(s->req, &transferred);
            if (io_rc == 0 && transferred == block_size) {
                ++dir.ios;
                dir.io_bytes += transferred;
                dir.latency_ns.record(now - s->submit_ns);
                failures_in_a_row = 0;
            } else {
                if (result.errors == 0) {
                    result.first_error = io_rc;
                    result.first_error_text = io_rc != 0 ? describe_code(io_rc)
                                                         : "short transfer: " + std::to_string(transferred) +
                                                               " of " + std::to_string(block_size) + " bytes";
                    log_line(std::string(fileaio_backend_name(result.backend)) +
                             ": I/O error: " + result.first_error_text);
                }
                ++result.errors;
                if (++failures_in_a_row >= failure_window && submitting) {
                    result.failure = "every request failed (" + std::to_string(failures_in_a_row) +
                                     " in a row), first: " + result.first_error_text;
                    submitting = false;
                }
            }
            ready[ready_count++] = s;
        }
        in_flight -= count;
        if (count > 0) {
            end_ns = now;
        }
        if (rc != 0 && rc != FILEAIO_E_TIMEOUT && rc != FILEAIO_E_INTERRUPTED) {
            result.failure = "fileaio_ctx_wait: " + describe_code(rc);
            break;  // the wait itself is broken: do not spin on it
        }
        if (now >= deadline_ns) {
            submitting = false;
        }
        if (stopping() && submitting) {
            result.interrupted = true;
            submitting = false;
        }
    }

    const cpu_times cpu_after = process_cpu_times();
    result.elapsed_s = static_cast<double>(end_ns - start_ns) / static_cast<double>(ns_per_s);
    result.usr_s = cpu_after.usr_s - cpu_before.usr_s;
    result.sys_s = cpu_after.sys_s - cpu_before.sys_s;
    if (in_flight > 0) {
        log_line(std::to_string(in_flight) + " requests could not be reaped; leaving them to the process exit");
        ctx.leak();
        reqs.leak();
        (void)buffers.release();  // the kernel or a worker may still write into them
    }
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
    const std::vector<fileaio_backend> backends = choose_backends(opts);
    const stop_signal_scope signals;
    const target_file target = prepare_target(opts);

    const bool writing = rw_is_write(opts.rw);
    const int flags = (writing ? O_RDWR : O_RDONLY) | (opts.direct ? O_DIRECT : 0) | O_CLOEXEC;
    unique_fd fd(::open(target.path.c_str(), flags));
    if (!fd.valid()) {
        const int err = errno;
        if (opts.direct && err == EINVAL) {
            throw std::runtime_error(target.path + ": O_DIRECT is not supported here (open: " + describe_errno(err) +
                                     "); see fileaio info " + target.path);
        }
        throw std::runtime_error("cannot open " + target.path + ": " + describe_errno(err));
    }

    job_geometry geo;
    geo.fd = fd.get();
    geo.blocks = target.size / opts.block_size;
    geo.buffer_alignment = min_buffer_alignment;
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
    } else if (!writing && !target.written_now) {
        warm_page_cache(fd.get(), target.path, target.size);
    }

    for (const auto backend : backends) {
        if (stopping()) {
            break;
        }
        const std::string runtime_text = opts.runtime_s > 0 ? "for " + format_seconds(opts.runtime_s) : "one pass";
        log_line(std::string("running ") + fileaio_backend_name(backend) + " " + std::string(rw_name(opts.rw)) +
                 " bs=" + format_size(opts.block_size) + " iodepth=" + std::to_string(opts.iodepth) +
                 (opts.direct ? " direct=1" : "") + " on " + format_bytes(target.size) + " " + runtime_text + " ...");
        job_result job = run_job(opts, backend, geo);
        if (!job.failure.empty()) {
            log_line(std::string(fileaio_backend_name(job.backend)) + ": " + job.failure);
            outcome.exit_code = exit_failure;
        } else if (job.errors > 0) {
            outcome.exit_code = exit_failure;
        }
        outcome.jobs.push_back(std::move(job));
    }
    if (stopping()) {
        log_line("interrupted");
        outcome.exit_code = exit_interrupted;
    }
    return outcome;
}

}  // namespace fileaio::cli
