// `fileaio bench` option parsing: what each good command line sets, and that each bad one is
// refused with a message that names the problem.
#include "options.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fileaio::cli {
namespace {

parse_result parse(const std::vector<std::string_view> &args) { return parse_bench_options(args); }

std::string describe(const std::vector<std::string_view> &args)
{
    std::string text;
    for (const auto a : args) {
        text += std::string(a) + " ";
    }
    return text;
}

struct good_case {
    std::vector<std::string_view> args;
    std::function<bool(const bench_options &)> holds;
};

TEST(bench_options, no_arguments_is_the_page_cached_make_bench_run)
{
    const auto parsed = parse({});
    const auto *opts = std::get_if<bench_options>(&parsed);
    ASSERT_NE(opts, nullptr);
    EXPECT_TRUE(opts->no_arguments);
    EXPECT_FALSE(opts->invalidate) << "make bench measures page-cached reads";
    EXPECT_EQ(opts->selection, backend_selection::all);
    EXPECT_EQ(opts->rw, rw_mode::randread);
    EXPECT_EQ(opts->block_size, 4 * kib);
    EXPECT_EQ(opts->iodepth, 32u);
    EXPECT_EQ(opts->size, 256 * mib);
}

TEST(bench_options, defaults_with_any_option_follow_fio)
{
    const auto parsed = parse({"--bs=4k"});
    const auto *opts = std::get_if<bench_options>(&parsed);
    ASSERT_NE(opts, nullptr);
    EXPECT_FALSE(opts->no_arguments);
    EXPECT_TRUE(opts->invalidate) << "fio's --invalidate defaults to 1";
    EXPECT_EQ(opts->rwmixread, 50u);
    EXPECT_EQ(opts->numjobs, 1u);
    EXPECT_EQ(opts->fsync_every, 0u);
    EXPECT_EQ(opts->batch_submit, 0u) << "every free request in one submit";
    EXPECT_EQ(opts->complete_min(), 8u) << "iodepth / 4";
    EXPECT_EQ(opts->complete_max(FILEAIO_BACKEND_IO_URING), 32u) << "io_uring, buffered: every completion, one refill";
    for (const auto backend : {FILEAIO_BACKEND_LINUX_AIO, FILEAIO_BACKEND_POSIX_AIO, FILEAIO_BACKEND_THREAD_POOL}) {
        EXPECT_EQ(opts->complete_max(backend), 8u) << fileaio_backend_name(backend) << ": the min, as fio";
    }
    EXPECT_TRUE(opts->fixed_buffers);
    EXPECT_TRUE(opts->register_files);
    EXPECT_FALSE(opts->sqthread_poll);
    EXPECT_TRUE(opts->random_map) << "fio's default: each block once per pass";
    EXPECT_FALSE(opts->verify);
    EXPECT_FALSE(opts->direct);
}

TEST(bench_options, good_command_lines_set_what_they_say)
{
    const std::vector<good_case> cases = {
        {{"--rw=randrw", "--rwmixread=70"}, [](auto &o) { return o.rw == rw_mode::randrw && o.rwmixread == 70; }},
        {{"--rw", "rw"}, [](auto &o) { return o.rw == rw_mode::rw; }},
        {{"--readwrite=readwrite"}, [](auto &o) { return o.rw == rw_mode::rw; }},
        {{"--rw=write"}, [](auto &o) { return o.rw == rw_mode::write && rw_writes(o.rw) && !rw_reads(o.rw); }},
        {{"--rw=randrw"}, [](auto &o) { return rw_writes(o.rw) && rw_reads(o.rw) && rw_is_random(o.rw); }},
        {{"--rwmixwrite=30"}, [](auto &o) { return o.rwmixread == 70; }},
        {{"--rwmixread=0"}, [](auto &o) { return o.rwmixread == 0; }},
        {{"--bs=64k"}, [](auto &o) { return o.block_size == 64 * kib; }},
        {{"--bs", "1m"}, [](auto &o) { return o.block_size == mib; }},
        {{"--blocksize=2KiB"}, [](auto &o) { return o.block_size == 2 * kib; }},
        {{"--bs=256m", "--iodepth=1"}, [](auto &o) { return o.block_size == 256 * mib && o.iodepth == 1; }},
        {{"--iodepth=128"}, [](auto &o) { return o.iodepth == 128 && o.complete_min() == 32; }},
        {{"--iodepth=2"}, [](auto &o) { return o.complete_min() == 1; }},
        {{"--numjobs=4"}, [](auto &o) { return o.numjobs == 4; }},
        {{"--size=1g"}, [](auto &o) { return o.size == gib && o.size_given; }},
        {{"--runtime=500ms"}, [](auto &o) { return o.runtime_s == 0.5 && o.runtime_given; }},
        {{"--runtime=2"}, [](auto &o) { return o.runtime_s == 2.0; }},
        {{"--runtime=1m"}, [](auto &o) { return o.runtime_s == 60.0; }},
        {{"--runtime=0"}, [](auto &o) { return o.runtime_s == 0.0; }},
        {{"--time_based"}, [](auto &o) { return o.runtime_s > 0; }},
        {{"--direct"}, [](auto &o) { return o.direct; }},
        {{"--direct", "1"}, [](auto &o) { return o.direct; }},
        {{"--direct=0"}, [](auto &o) { return !o.direct; }},
        {{"--invalidate=0"}, [](auto &o) { return !o.invalidate; }},
        {{"--invalidate"}, [](auto &o) { return o.invalidate; }},
        {{"--fsync=64"}, [](auto &o) { return o.fsync_every == 64; }},
        {{"--iodepth_batch_submit=16", "--iodepth_batch_complete_min=8"},
         [](auto &o) { return o.batch_submit == 16 && o.complete_min() == 8; }},
        {{"--iodepth_batch=4", "--iodepth_batch_complete=2"},
         [](auto &o) { return o.batch_submit == 4 && o.complete_min() == 2; }},
        {{"--iodepth_batch_complete_min=0"}, [](auto &o) { return o.complete_min() == 1; }},
        {{"--direct=1", "--iodepth_batch_complete_min=2"},
         [](auto &o) { return o.complete_max(FILEAIO_BACKEND_IO_URING) == 2; }},
        {{"--direct=1"}, [](auto &o) { return o.complete_max(FILEAIO_BACKEND_IO_URING) == 8; }},  // fio's: the min
        {{"--direct=1"}, [](auto &o) { return o.complete_max(FILEAIO_BACKEND_THREAD_POOL) == 8; }},
        {{"--iodepth_batch_complete_max=16"},
         [](auto &o) {
             return o.complete_min() == 8 && o.complete_max(FILEAIO_BACKEND_IO_URING) == 16 &&
                    o.complete_max(FILEAIO_BACKEND_THREAD_POOL) == 16;  // given: the same on every backend
         }},
        {{"--direct=1", "--iodepth_batch_complete_max=0"},
         [](auto &o) { return o.complete_max(FILEAIO_BACKEND_IO_URING) == 8; }},
        {{"--iodepth_batch_complete_max=0"},
         [](auto &o) {
             return o.complete_max(FILEAIO_BACKEND_IO_URING) == 32 && o.complete_max(FILEAIO_BACKEND_LINUX_AIO) == 8;
         }},
        {{"--iodepth=64", "--iodepth_batch_complete_min=4"},
         [](auto &o) {
             return o.complete_max(FILEAIO_BACKEND_IO_URING) == 64 && o.complete_max(FILEAIO_BACKEND_POSIX_AIO) == 4;
         }},
        {{"--verify"}, [](auto &o) { return o.verify; }},
        {{"--verify=0"}, [](auto &o) { return !o.verify; }},
        {{"--backend=io_uring,thread_pool"},
         [](auto &o) {
             return o.selection == backend_selection::named && o.backends.size() == 2 &&
                    o.backends[0] == FILEAIO_BACKEND_IO_URING && o.backends[1] == FILEAIO_BACKEND_THREAD_POOL;
         }},
        {{"--backend=auto"}, [](auto &o) { return o.selection == backend_selection::auto_; }},
        {{"--backend=posix_aio", "--backend=all"}, [](auto &o) { return o.selection == backend_selection::all; }},
        {{"--no-fixedbufs", "--no-registerfiles"}, [](auto &o) { return !o.fixed_buffers && !o.register_files; }},
        {{"--fixedbufs=0", "--registerfiles=0"}, [](auto &o) { return !o.fixed_buffers && !o.register_files; }},
        {{"--sqthread_poll"}, [](auto &o) { return o.sqthread_poll; }},
        {{"--sqthread_poll=0"}, [](auto &o) { return !o.sqthread_poll; }},
        {{"--norandommap"}, [](auto &o) { return !o.random_map; }},
        {{"--norandommap=0"}, [](auto &o) { return o.random_map; }},
        {{"--rw=randrw"}, [](auto &o) { return o.random_map; }},  // fio's default: the map is on
        {{"--threads=3"}, [](auto &o) { return o.threads == 3; }},
        {{"--output-format=json", "--output=x.json", "--report=r.html"},
         [](auto &o) {
             return o.format == output_format::json && o.output_path == "x.json" && o.report_path == "r.html";
         }},
        {{"--filename=/dev/null"}, [](auto &o) { return o.filename == "/dev/null"; }},
        {{"--direct", "--bs=4k"}, [](auto &o) { return o.direct && o.block_size == 4 * kib; }},
    };
    for (const auto &c : cases) {
        const auto parsed = parse(c.args);
        const auto *opts = std::get_if<bench_options>(&parsed);
        if (opts == nullptr) {
            const auto *error = std::get_if<parse_error>(&parsed);
            ADD_FAILURE() << describe(c.args) << "was refused: " << (error != nullptr ? error->message : "help");
            continue;
        }
        EXPECT_TRUE(c.holds(*opts)) << describe(c.args);
    }
}

TEST(bench_options, bad_command_lines_are_refused_with_a_reason)
{
    const std::vector<std::pair<std::vector<std::string_view>, std::string_view>> cases = {
        {{"--rw=sideways"}, "unknown workload"},
        {{"--rwmixread=101"}, "at most 100"},
        {{"--rwmixread=abc"}, "not a number"},
        {{"--bs=12q"}, "not a size"},
        {{"--bs=0"}, "greater than 0"},
        {{"--bs=1t"}, "at most"},
        {{"--iodepth=0"}, "at least 1"},
        {{"--iodepth=70000"}, "at most"},
        {{"--iodepth=-3"}, "not a number"},
        {{"--numjobs=0"}, "at least 1"},
        {{"--numjobs=5000"}, "at most"},
        {{"--runtime=abc"}, "not a duration"},
        {{"--runtime=-1"}, "not a duration"},
        {{"--direct=2"}, "expected 0 or 1"},
        {{"--invalidate=yes"}, "expected 0 or 1"},
        {{"--fsync=-1"}, "not a number"},
        {{"--iodepth_batch_submit=64"}, "more than --iodepth"},
        {{"--iodepth=8", "--iodepth_batch_complete_min=9"}, "more than --iodepth"},
        {{"--iodepth=8", "--iodepth_batch_complete_max=9"}, "more than --iodepth"},
        {{"--iodepth_batch_complete_min=4", "--iodepth_batch_complete_max=2"}, "less than --iodepth_batch_complete_min"},
        {{"--iodepth_batch_complete_max=4"}, "--iodepth_batch_complete_min=8 (its default, iodepth/4)"},
        {{"--verify=maybe"}, "expected 0 or 1"},
        {{"--verify", "--bs=16"}, "verify header"},
        {{"--backend=floppy"}, "unknown backend"},
        {{"--backend=io_uring,io_uring"}, "named twice"},
        {{"--backend=io_uring,"}, "unknown backend"},
        {{"--no-fixedbufs=1"}, "takes no value"},
        {{"--sqthread_poll=2"}, "expected 0 or 1"},
        {{"--norandommap=yes"}, "expected 0 or 1"},
        {{"--output="}, "needs a file name"},
        {{"--report="}, "needs a file name"},
        {{"--output=a", "--report=a"}, "same file"},
        {{"--output-format=xml"}, "normal or json"},
        {{"--no-such-option"}, "unknown option"},
        {{"positional"}, "unexpected argument"},
        {{"--"}, "unexpected argument"},
        {{"--bs"}, "needs a value"},
        {{"--size=4k", "--bs=8k"}, "smaller than --bs"},
        {{"--direct", "--bs=100"}, "multiple of 512"},
        {{"--bs=256m", "--iodepth=17"}, "of buffers"},
        {{"--bs=256m", "--iodepth=4", "--numjobs=8"}, "of buffers"},
        {{"--filename="}, "needs a path"},
    };
    for (const auto &[args, reason] : cases) {
        const auto parsed = parse(args);
        const auto *error = std::get_if<parse_error>(&parsed);
        if (error == nullptr) {
            ADD_FAILURE() << describe(args) << "was accepted";
            continue;
        }
        EXPECT_NE(error->message.find(reason), std::string::npos)
            << describe(args) << "-> \"" << error->message << "\" does not say \"" << reason << "\"";
    }
}

TEST(bench_options, help_is_recognised_anywhere)
{
    EXPECT_TRUE(std::holds_alternative<help_requested>(parse({"--bs=4k", "--help"})));
    EXPECT_TRUE(std::holds_alternative<help_requested>(parse({"-h"})));
}

TEST(bench_options, usage_mentions_every_option_and_the_no_argument_cache_rule)
{
    const std::string_view usage = bench_usage();
    for (const auto name :
         {"--rw", "--rwmixread", "--bs", "--iodepth", "--numjobs", "--size", "--runtime", "--filename", "--direct",
          "--invalidate", "--fsync", "--iodepth_batch_submit", "--iodepth_batch_complete_min",
          "--iodepth_batch_complete_max", "--verify",
          "--backend", "--no-fixedbufs", "--no-registerfiles", "--sqthread_poll", "--output-format", "--output",
          "--report", "FILEAIO_BENCH_SECONDS"}) {
        EXPECT_NE(usage.find(name), std::string_view::npos) << name;
    }
    EXPECT_NE(usage.find("--invalidate=0"), std::string_view::npos) << "the no-argument run's exception is explained";
}

TEST(sizes, parse_and_format_round_trip)
{
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("4k"), 4096u);
    EXPECT_EQ(parse_size("4K"), 4096u);
    EXPECT_EQ(parse_size("4KiB"), 4096u);
    EXPECT_EQ(parse_size("2g"), 2 * gib);
    EXPECT_FALSE(parse_size(""));
    EXPECT_FALSE(parse_size("k"));
    EXPECT_FALSE(parse_size("99999999999999999999"));
    EXPECT_FALSE(parse_size("17179869184t"));  // overflows 64 bits
    EXPECT_EQ(format_size(4096), "4k");
    EXPECT_EQ(format_size(mib), "1m");
    EXPECT_EQ(format_size(1000), "1000");
    EXPECT_EQ(format_bytes(256 * mib), "256 MiB");
}

TEST(durations, units)
{
    EXPECT_EQ(parse_seconds("5"), 5.0);
    EXPECT_EQ(parse_seconds("2.5"), 2.5);
    EXPECT_EQ(parse_seconds("250ms"), 0.25);
    EXPECT_EQ(parse_seconds("1h"), 3600.0);
    EXPECT_FALSE(parse_seconds("soon"));
    EXPECT_FALSE(parse_seconds("ms"));
}

}  // namespace
}  // namespace fileaio::cli
