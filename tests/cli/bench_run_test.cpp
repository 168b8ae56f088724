// `fileaio bench` run for real, briefly: the JSON it writes, the report, --verify catching a
// corrupted block, the no-argument run, and the errors (an unwritable path, a full disk).
#include "cli_run.hpp"
#include "json_reader.hpp"
#include "support/temp_dir.hpp"

#include <fileaio/fileaio.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <sys/mount.h>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fileaio::test {
namespace {

constexpr const char *short_runtime = "--runtime=300ms";

std::vector<std::string> available_backends()
{
    std::vector<std::string> names;
    for (const auto b : {FILEAIO_BACKEND_IO_URING, FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO,
                         FILEAIO_BACKEND_THREAD_POOL}) {
        char reason[256];
        if (fileaio_backend_probe(b, reason, sizeof reason) == 0) {
            names.emplace_back(fileaio_backend_name(b));
        }
    }
    return names;
}

json_value parse_or_fail(const std::string &text)
{
    std::string error;
    auto doc = json_reader::parse(text, &error);
    EXPECT_TRUE(doc) << error << "\n" << text;
    return doc ? *doc : json_value{};
}

TEST(bench_run, json_output_file_has_the_documented_shape)
{
    temp_dir dir;
    const std::string json_path = dir.path() + "/out.json";
    const auto r = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--size=8m", "--iodepth=8", short_runtime,
                                        "--filename=" + dir.path() + "/f", "--output-format=json",
                                        "--output=" + json_path});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    EXPECT_EQ(r.out, "") << "--output takes the results off stdout";
    const json_value doc = parse_or_fail(read_whole_file(json_path));
    ASSERT_NE(doc.find("jobs"), nullptr);
    ASSERT_EQ(doc.find("jobs")->items.size(), 1u);
    const json_value &job = doc.find("jobs")->items[0];
    EXPECT_EQ(job.keys, (std::vector<std::string>{"backend", "context_flags", "rw", "bs", "iodepth", "iodepth_batch_complete_min",
                                                  "iodepth_batch_complete_max", "numjobs", "direct", "runtime_s",
                                                  "read", "write", "cpu", "iops_per_cpu_s", "errors"}));
    EXPECT_EQ(job.find("backend")->text, "thread_pool");
    EXPECT_EQ(job.find("context_flags")->text, "single_thread") << "each job's context is used by its thread only";
    EXPECT_EQ(job.find("rw")->text, "randread");
    EXPECT_EQ(job.find("iodepth")->number, 8);
    EXPECT_EQ(job.find("iodepth_batch_complete_min")->number, 2) << "iodepth / 4";
    EXPECT_EQ(job.find("iodepth_batch_complete_max")->number, 2) << "thread_pool: the min (only io_uring takes every one)";
    EXPECT_GT(job.find("read")->find("ios")->number, 0);
    EXPECT_GT(job.find("read")->find("lat_ns")->find("p50")->number, 0);
    EXPECT_EQ(job.find("write")->find("ios")->number, 0);
    EXPECT_EQ(job.find("errors")->number, 0);
    EXPECT_GT(job.find("runtime_s")->number, 0.2);
}

// The completion batch is per backend unless given: io_uring takes every completion of
// page-cache I/O and refills in one call; the others (and every O_DIRECT job) take the min, as fio.
TEST(bench_run, completion_batch_default_follows_the_backend_that_ran)
{
    temp_dir dir;
    const auto backends = available_backends();
    const std::string list = [&] {
        std::string joined;
        for (const auto &name : backends) {
            joined += (joined.empty() ? "" : ",") + name;
        }
        return joined;
    }();
    const auto r = run_cli(dir.path(), {"bench", "--backend=" + list, "--size=8m", "--iodepth=16", short_runtime,
                                        "--filename=" + dir.path() + "/f", "--output-format=json"});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    const json_value doc = parse_or_fail(r.out);
    ASSERT_EQ(doc.find("jobs")->items.size(), backends.size());
    for (const json_value &job : doc.find("jobs")->items) {
        const std::string backend = job.find("backend")->text;
        EXPECT_EQ(job.find("iodepth_batch_complete_min")->number, 4) << backend;
        EXPECT_EQ(job.find("iodepth_batch_complete_max")->number, backend == "io_uring" ? 16 : 4) << backend;
    }
    const auto given = run_cli(dir.path(), {"bench", "--backend=" + list, "--size=8m", "--iodepth=16", short_runtime,
                                            "--iodepth_batch_complete_max=12", "--filename=" + dir.path() + "/f",
                                            "--output-format=json"});
    ASSERT_EQ(given.exit_code, 0) << given.all();
    const json_value given_doc = parse_or_fail(given.out);
    ASSERT_EQ(given_doc.find("jobs")->items.size(), backends.size());
    for (const json_value &job : given_doc.find("jobs")->items) {
        EXPECT_EQ(job.find("iodepth_batch_complete_max")->number, 12) << job.find("backend")->text;
    }
}

// The names in a directory that start with `prefix`.
std::vector<std::string> entries_starting_with(const std::string &dir, const std::string &prefix)
{
    std::vector<std::string> names;
    if (DIR *d = ::opendir(dir.c_str()); d != nullptr) {
        while (const dirent *e = ::readdir(d)) {
            if (std::string(e->d_name).rfind(prefix, 0) == 0) {
                names.emplace_back(e->d_name);
            }
        }
        ::closedir(d);
    }
    return names;
}

// SIGINT ends a timed run early on every backend (the jobs wait without a timeout now; the
// coordinator also wakes their waits): exit 130, the temporary file removed.
TEST(bench_run, sigint_ends_a_long_run_cleanly_on_every_backend)
{
    for (const auto &backend : available_backends()) {
        SCOPED_TRACE(backend);
        temp_dir dir;
        const cli_process proc = spawn_cli(dir.path(), {"bench", "--backend=" + backend, "--size=8m", "--iodepth=4",
                                                        "--runtime=600", "--output-format=json"},
                                           {"TMPDIR=" + dir.path()});
        ASSERT_GE(proc.pid, 0) << proc.spawn_error;
        // Signalled once the measurement runs (its "running" line), not before.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (read_whole_file(proc.err_path).find("running ") == std::string::npos &&
               std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_EQ(::kill(proc.pid, SIGINT), 0);
        const cli_result r = finish_cli_within(proc, 60);  // killed if it hangs: not left running
        EXPECT_EQ(r.exit_code, 130) << r.all();
        EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
        EXPECT_EQ(entries_starting_with(dir.path(), "fileaio-bench-"), std::vector<std::string>{})
            << "the temporary file is removed";
    }
}

// --lib_latency adds the library's histogram to the context; it must not take away the
// single-thread ring every job runs on (it once did: the second flag replaced the first).
TEST(bench_run, lib_latency_keeps_the_single_thread_context)
{
    temp_dir dir;
    const auto r = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--size=8m", "--iodepth=8", short_runtime,
                                        "--lib_latency=1", "--filename=" + dir.path() + "/f",
                                        "--output-format=json"});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    const json_value doc = parse_or_fail(r.out);
    ASSERT_EQ(doc.find("jobs")->items.size(), 1u);
    const json_value &job = doc.find("jobs")->items[0];
    EXPECT_EQ(job.find("context_flags")->text, "single_thread,latency");
    EXPECT_GT(job.find("read")->find("lat_ns")->find("p50")->number, 0) << "figures from the library's histogram";
}

TEST(bench_run, mixed_workload_with_flushes_and_two_jobs)
{
    temp_dir dir;
    const auto r = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--rw=randrw", "--rwmixread=70",
                                        "--fsync=16", "--numjobs=2", "--size=8m", "--iodepth=8", short_runtime,
                                        "--filename=" + dir.path() + "/f", "--output-format=json"});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    const json_value doc = parse_or_fail(r.out);
    ASSERT_EQ(doc.find("jobs")->items.size(), 1u);
    const json_value &job = doc.find("jobs")->items[0];
    EXPECT_EQ(job.find("numjobs")->number, 2);
    const double reads = job.find("read")->find("ios")->number;
    const double writes = job.find("write")->find("ios")->number;
    ASSERT_GT(reads + writes, 500) << r.out;
    EXPECT_NEAR(reads / (reads + writes), 0.70, 0.08) << "--rwmixread=70";
    ASSERT_NE(job.find("sync"), nullptr) << "--fsync adds the flushes";
    EXPECT_GT(job.find("sync")->find("ios")->number, 0);
}

// A zeroed (sparse) file of `blocks` 4 KiB blocks at path.
std::string zero_file(const std::string &path, std::size_t blocks)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(blocks * 4096)), 0);
    ::close(fd);
    return path;
}

// How many 4 KiB blocks of the file are no longer all zeros.
std::size_t written_blocks(const std::string &path)
{
    const std::string bytes = read_whole_file(path);
    std::size_t written = 0;
    for (std::size_t at = 0; at + 4096 <= bytes.size(); at += 4096) {
        written += bytes.find_first_not_of('\0', at) < at + 4096 ? 1 : 0;
    }
    return written;
}

// fio's random map (the default): one pass of --runtime=0 writes each block exactly once, so a
// zeroed file has no zero block left; --norandommap leaves about 1/e of them untouched.
TEST(bench_run, one_pass_of_randwrite_writes_every_block_once_unless_norandommap)
{
    temp_dir dir;
    constexpr std::size_t blocks = 2048;
    for (const bool map : {true, false}) {
        const std::string file = zero_file(dir.path() + (map ? "/map" : "/nomap"), blocks);
        std::vector<std::string> args{"bench", "--backend=thread_pool", "--rw=randwrite", "--bs=4k", "--iodepth=8",
                                      "--runtime=0", "--filename=" + file, "--output-format=json"};
        if (!map) {
            args.emplace_back("--norandommap");
        }
        const auto r = run_cli(dir.path(), args);
        ASSERT_EQ(r.exit_code, 0) << r.all();
        const json_value doc = parse_or_fail(r.out);
        EXPECT_EQ(doc.find("jobs")->items[0].find("write")->find("ios")->number, static_cast<double>(blocks));
        const std::size_t written = written_blocks(file);
        if (map) {
            EXPECT_EQ(written, blocks) << "every block once";
        } else {
            EXPECT_LT(written, blocks * 3 / 4) << "independent draws repeat blocks";
            EXPECT_GT(written, blocks / 2);
        }
    }
}

// randrw: each block is read or written once per pass, so the writes land on distinct blocks.
// (--verify tells them apart: a written block carries its write's generation, a laid-out one 0;
// the buffers are shared by reads and writes, so the data alone could not.)
TEST(bench_run, one_pass_of_randrw_writes_distinct_blocks)
{
    temp_dir dir;
    constexpr std::size_t blocks = 2048;
    const std::string file = dir.path() + "/f";
    const auto r = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--rw=randrw", "--bs=4k", "--iodepth=8",
                                        "--runtime=0", "--size=8m", "--verify", "--filename=" + file,
                                        "--output-format=json"});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    const json_value doc = parse_or_fail(r.out);
    const json_value &job = doc.find("jobs")->items[0];
    const auto writes = static_cast<std::size_t>(job.find("write")->find("ios")->number);
    EXPECT_EQ(static_cast<std::size_t>(job.find("read")->find("ios")->number) + writes, blocks);
    EXPECT_GT(writes, blocks / 4);
    const std::string bytes = read_whole_file(file);
    ASSERT_EQ(bytes.size(), blocks * 4096);
    std::size_t rewritten = 0;
    for (std::size_t at = 0; at < bytes.size(); at += 4096) {
        std::uint64_t generation = 0;
        std::memcpy(&generation, bytes.data() + at + 16, sizeof generation);  // verify.hpp's header
        rewritten += generation != 0 ? 1 : 0;
    }
    EXPECT_EQ(rewritten, writes) << "no block written twice in the pass";
}

TEST(bench_run, report_has_a_series_per_available_backend)
{
    temp_dir dir;
    const std::string report = dir.path() + "/report.html";
    const auto r = run_cli(dir.path(), {"bench", "--backend=all", "--size=8m", "--iodepth=8", "--runtime=200ms",
                                        "--invalidate=0", "--report=" + report});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    const std::string html = read_whole_file(report);
    ASSERT_FALSE(html.empty());
    EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
    EXPECT_TRUE(html.ends_with("</html>\n"));
    EXPECT_EQ(html.find("<script"), std::string::npos);
    for (const char *chart : {"iops", "latency", "bars"}) {
        EXPECT_NE(html.find(std::string("data-chart=\"") + chart + "\""), std::string::npos) << chart;
    }
    for (const auto &backend : available_backends()) {
        const std::string series = "<polyline class=\"series\" data-backend=\"" + backend + "\"";
        const std::size_t first = html.find(series);
        ASSERT_NE(first, std::string::npos) << backend;
        EXPECT_NE(html.find(series, first + 1), std::string::npos) << backend << ": IOPS and latency curves";
    }
}

TEST(bench_run, verify_names_the_offset_of_a_block_corrupted_between_write_and_read)
{
    temp_dir dir;
    const std::string file = dir.path() + "/verified";
    const auto write = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--rw=randwrite", "--verify",
                                            "--size=2m", "--bs=4k", "--iodepth=8", "--runtime=200ms",
                                            "--filename=" + file});
    ASSERT_EQ(write.exit_code, 0) << write.all();
    const auto clean = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--rw=read", "--verify", "--bs=4k",
                                            "--runtime=0", "--filename=" + file});
    ASSERT_EQ(clean.exit_code, 0) << "nothing is wrong yet\n" << clean.all();

    constexpr off_t corrupted_block = 37 * 4096;
    const int fd = ::open(file.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const char garbage[] = "not what was written";
    ASSERT_EQ(::pwrite(fd, garbage, sizeof garbage, corrupted_block + 1000), static_cast<ssize_t>(sizeof garbage));
    ::close(fd);

    for (const auto &backend : available_backends()) {
        const auto read = run_cli(dir.path(), {"bench", "--backend=" + backend, "--rw=read", "--verify", "--bs=4k",
                                               "--runtime=0", "--filename=" + file});
        EXPECT_EQ(read.exit_code, 1) << backend << "\n" << read.all();
        EXPECT_NE(read.all().find("offset " + std::to_string(corrupted_block)), std::string::npos)
            << backend << "\n" << read.all();
    }
}

TEST(bench_run, no_argument_run_finishes_and_names_the_winner)
{
    temp_dir dir;
    const auto r = run_cli(dir.path(), {"bench"}, {"FILEAIO_BENCH_SECONDS=0.2", "TMPDIR=" + dir.path()});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    EXPECT_NE(r.out.find("IOPS/CPU-s"), std::string::npos) << r.out;
    for (const auto &backend : available_backends()) {
        EXPECT_NE(r.out.find("\n" + backend + " "), std::string::npos) << backend << "\n" << r.out;
    }
    if (available_backends().size() >= 2) {
        EXPECT_NE(r.out.find("winner: "), std::string::npos) << r.out;
    }
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no progress line when stderr is not a terminal";
    EXPECT_NE(r.err.find("256 MiB"), std::string::npos) << r.err;
}

TEST(bench_run, bad_options_exit_2_with_a_message)
{
    temp_dir dir;
    for (const char *bad : {"--iodepth=0", "--rw=sideways", "--verify=7", "--no-such-option"}) {
        const auto r = run_cli(dir.path(), {"bench", bad});
        EXPECT_EQ(r.exit_code, 2) << bad;
        EXPECT_NE(r.err.find("fileaio bench: "), std::string::npos) << r.err;
    }
    const auto env = run_cli(dir.path(), {"bench"}, {"FILEAIO_BENCH_SECONDS=soon"});
    EXPECT_EQ(env.exit_code, 2) << env.all();
}

TEST(bench_run, an_unwritable_path_is_a_clear_error)
{
    temp_dir dir;
    const auto r = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--size=1m", "--runtime=100ms",
                                        "--filename=" + dir.path() + "/no/such/dir/f"});
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_NE(r.err.find("cannot create " + dir.path() + "/no/such/dir/f: ENOENT"), std::string::npos) << r.err;

    const auto out = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--output=" + dir.path() + "/no/x.json"});
    EXPECT_EQ(out.exit_code, 1) << out.all();
    EXPECT_NE(out.err.find("cannot write"), std::string::npos) << out.err;
}

// A small tmpfs mounted for one test (root only), unmounted at the end.
class small_tmpfs {
public:
    small_tmpfs(const std::string &where, const char *options) : path_(where)
    {
        ::mkdir(path_.c_str(), 0755);
        if (::geteuid() != 0) {
            why_not_ = "needs root to mount a tmpfs";
        } else if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options) != 0) {
            why_not_ = std::string("mount tmpfs: ") + std::strerror(errno);
        } else {
            mounted_ = true;
        }
    }
    ~small_tmpfs()
    {
        if (mounted_) {
            ::umount2(path_.c_str(), MNT_DETACH);
        }
        ::rmdir(path_.c_str());
    }
    small_tmpfs(const small_tmpfs &) = delete;
    small_tmpfs &operator=(const small_tmpfs &) = delete;
    [[nodiscard]] bool mounted() const { return mounted_; }
    [[nodiscard]] const std::string &why_not() const { return why_not_; }

private:
    std::string path_;
    std::string why_not_;
    bool mounted_ = false;
};

TEST(bench_run, a_full_disk_during_the_run_is_reported_with_the_results_so_far)
{
    temp_dir dir;
    const small_tmpfs fs(dir.path() + "/small", "size=4m");
    if (!fs.mounted()) {
        GTEST_SKIP() << fs.why_not();
    }
    // A sparse 16 MiB file (like a virtual disk image) on 4 MiB: writes fill the disk as they go.
    const std::string file = dir.path() + "/small/disk.img";
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 16 << 20), 0);
    ::close(fd);
    const auto r = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--rw=write", "--bs=64k", "--iodepth=8",
                                        "--runtime=2", "--filename=" + file});
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_NE(r.err.find("ENOSPC"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("\nthread_pool  write"), std::string::npos) << "the measured row is printed\n" << r.out;
    EXPECT_NE(r.out.find("ENOSPC"), std::string::npos) << r.out;
}

TEST(bench_run, a_read_only_filesystem_is_a_clear_error)
{
    temp_dir dir;
    const small_tmpfs fs(dir.path() + "/ro", "size=1m,mode=0755");
    if (!fs.mounted()) {
        GTEST_SKIP() << fs.why_not();
    }
    ASSERT_EQ(::mount(nullptr, (dir.path() + "/ro").c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
        << std::strerror(errno);
    const auto r = run_cli(dir.path(), {"bench", "--backend=thread_pool", "--size=1m", "--runtime=100ms",
                                        "--filename=" + dir.path() + "/ro/f"});
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_NE(r.err.find("EROFS"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fileaio::test
