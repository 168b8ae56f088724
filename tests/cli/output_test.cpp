// What `fileaio bench` writes, from results made up here: the JSON shape (parsed, every key
// checked), the table's rows, the HTML report (well-formed, self-contained, one series per
// backend in each chart), the --verify block format and the latency histogram.
#include "html_report.hpp"
#include "json_reader.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "verify.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fileaio::cli {
namespace {

using test::json_reader;
using test::json_value;

job_result made_up_job(fileaio_backend backend, rw_mode rw, double iops_scale)
{
    job_result job;
    job.requested = backend;
    job.backend = backend;
    job.rw = rw;
    job.rwmixread = 70;
    job.block_size = 4096;
    job.iodepth = 32;
    job.numjobs = 2;
    job.elapsed_s = 1.0;
    job.usr_s = 0.25;
    job.sys_s = 0.5;
    const auto ios = static_cast<std::uint64_t>(100'000 * iops_scale);
    for (std::uint64_t i = 0; i < 1000; ++i) {
        job.read.latency_ns.record(10'000 + i * 50);
        if (rw_is_mixed(rw)) {
            job.write.latency_ns.record(20'000 + i * 70);
        }
    }
    job.read.ios = rw_is_mixed(rw) ? ios * 7 / 10 : ios;
    job.read.io_bytes = job.read.ios * job.block_size;
    if (rw_is_mixed(rw)) {
        job.write.ios = ios - job.read.ios;
        job.write.io_bytes = job.write.ios * job.block_size;
        job.fsync_every = 64;
        job.sync.ios = job.write.ios / 64;
        job.sync.latency_ns.record(500'000);
    }
    for (std::uint64_t t = 1; t <= 10; ++t) {
        job.samples.push_back({t * sample_interval_ns, job.read.ios * t / 10, job.write.ios * t / 10});
    }
    return job;
}

std::vector<job_result> made_up_jobs(rw_mode rw)
{
    return {made_up_job(FILEAIO_BACKEND_IO_URING, rw, 3.0), made_up_job(FILEAIO_BACKEND_LINUX_AIO, rw, 2.5),
            made_up_job(FILEAIO_BACKEND_POSIX_AIO, rw, 1.0), made_up_job(FILEAIO_BACKEND_THREAD_POOL, rw, 2.8)};
}

std::set<std::string> keys_of(const json_value &object)
{
    return {object.keys.begin(), object.keys.end()};
}

// The shape of the issue: one object per backend run, with read and write sections.
void expect_job_shape(const json_value &job, bool with_sync)
{
    ASSERT_TRUE(job.is(json_value::kind::object));
    std::set<std::string> expected{"backend",   "context_flags", "rw",    "bs",  "iodepth", "iodepth_batch_complete_min",
                                   "iodepth_batch_complete_max", "numjobs",
                                   "direct",    "runtime_s",     "read",  "write", "cpu", "iops_per_cpu_s",
                                   "errors"};
    if (with_sync) {
        expected.insert("sync");
    }
    EXPECT_EQ(keys_of(job), expected);
    EXPECT_TRUE(job.find("backend")->is(json_value::kind::string));
    EXPECT_TRUE(job.find("context_flags")->is(json_value::kind::string));
    EXPECT_TRUE(job.find("rw")->is(json_value::kind::string));
    for (const char *number : {"bs", "iodepth", "iodepth_batch_complete_min", "iodepth_batch_complete_max", "numjobs",
                               "direct", "runtime_s", "iops_per_cpu_s", "errors"}) {
        EXPECT_TRUE(job.find(number)->is(json_value::kind::number)) << number;
    }
    for (const char *direction : {"read", "write"}) {
        const json_value *dir = job.find(direction);
        ASSERT_NE(dir, nullptr) << direction;
        EXPECT_EQ(keys_of(*dir), (std::set<std::string>{"ios", "io_bytes", "iops", "bw_bytes", "lat_ns"})) << direction;
        const json_value *lat = dir->find("lat_ns");
        ASSERT_NE(lat, nullptr);
        EXPECT_EQ(keys_of(*lat), (std::set<std::string>{"min", "mean", "p50", "p90", "p99", "p99.9", "max"}));
        for (std::size_t i = 0; i < lat->items.size(); ++i) {
            EXPECT_TRUE(lat->items[i].is(json_value::kind::number)) << lat->keys[i];
        }
        // Percentiles never go down.
        EXPECT_LE(lat->find("min")->number, lat->find("p50")->number);
        EXPECT_LE(lat->find("p50")->number, lat->find("p90")->number);
        EXPECT_LE(lat->find("p90")->number, lat->find("p99")->number);
        EXPECT_LE(lat->find("p99")->number, lat->find("p99.9")->number);
        EXPECT_LE(lat->find("p99.9")->number, lat->find("max")->number);
    }
    EXPECT_EQ(keys_of(*job.find("cpu")), (std::set<std::string>{"usr_s", "sys_s"}));
}

TEST(json_output, has_the_documented_shape)
{
    const auto jobs = made_up_jobs(rw_mode::randread);
    std::string error;
    const auto doc = json_reader::parse(format_json(jobs), &error);
    ASSERT_TRUE(doc) << error;
    EXPECT_EQ(keys_of(*doc), (std::set<std::string>{"fileaio_version", "jobs"}));
    EXPECT_EQ(doc->find("fileaio_version")->text, FILEAIO_VERSION_STRING);
    const json_value &list = *doc->find("jobs");
    ASSERT_TRUE(list.is(json_value::kind::array));
    ASSERT_EQ(list.items.size(), jobs.size()) << "one job object per backend run";
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        SCOPED_TRACE(fileaio_backend_name(jobs[i].backend));
        const json_value &job = list.items[i];
        expect_job_shape(job, false);
        EXPECT_EQ(job.find("backend")->text, fileaio_backend_name(jobs[i].backend));
        EXPECT_EQ(job.find("rw")->text, "randread");
        EXPECT_EQ(job.find("bs")->number, 4096);
        EXPECT_EQ(job.find("numjobs")->number, 2);
        EXPECT_EQ(job.find("read")->find("ios")->number, static_cast<double>(jobs[i].read.ios));
        EXPECT_DOUBLE_EQ(job.find("read")->find("iops")->number, jobs[i].iops());
        EXPECT_EQ(job.find("write")->find("ios")->number, 0);
        EXPECT_NEAR(job.find("iops_per_cpu_s")->number, jobs[i].iops_per_cpu_s(), 1e-3);
    }
}

TEST(json_output, mixed_workloads_have_both_directions_and_the_flushes)
{
    const auto jobs = made_up_jobs(rw_mode::randrw);
    std::string error;
    const auto doc = json_reader::parse(format_json(jobs), &error);
    ASSERT_TRUE(doc) << error;
    for (const auto &job : doc->find("jobs")->items) {
        expect_job_shape(job, true);
        EXPECT_GT(job.find("read")->find("ios")->number, 0);
        EXPECT_GT(job.find("write")->find("ios")->number, 0);
        EXPECT_GT(job.find("sync")->find("ios")->number, 0);
    }
}

TEST(json_output, failures_are_reported_and_strings_escaped)
{
    auto jobs = made_up_jobs(rw_mode::randwrite);
    jobs[1].errors = 3;
    jobs[1].first_error_text = "write at offset 4096: \"ENOSPC\"\n";
    jobs[1].failure = "gave up";
    std::string error;
    const auto doc = json_reader::parse(format_json(jobs), &error);
    ASSERT_TRUE(doc) << error;
    const json_value &job = doc->find("jobs")->items[1];
    EXPECT_EQ(job.find("errors")->number, 3);
    EXPECT_EQ(job.find("first_error")->text, jobs[1].first_error_text);
    EXPECT_EQ(job.find("failure")->text, "gave up");
}

TEST(json_reader_self_test, refuses_what_is_not_json)
{
    for (const char *bad : {"", "{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{'a':1}", "[01]", "nul", "{\"a\":1}x",
                            "{\"a\":1,\"a\":2}", "\"\x01\""}) {
        EXPECT_FALSE(json_reader::parse(bad)) << bad;
    }
    EXPECT_TRUE(json_reader::parse(R"({"a": [1, -2.5e3, true, false, null, "x\"y"]})"));
}

TEST(table_output, mixed_workloads_get_read_write_and_flush_rows)
{
    const auto jobs = made_up_jobs(rw_mode::randrw);
    const std::string table = format_table(jobs);
    std::size_t reads = 0;
    std::size_t writes = 0;
    std::size_t flushes = 0;
    for (std::size_t at = 0; (at = table.find('\n', at)) != std::string::npos; ++at) {
        const std::string_view line = std::string_view(table).substr(at + 1, 40);
        reads += line.find(" read ") != std::string_view::npos ? 1 : 0;
        writes += line.find(" write ") != std::string_view::npos ? 1 : 0;
        flushes += line.find(" flush ") != std::string_view::npos ? 1 : 0;
    }
    EXPECT_EQ(reads, jobs.size()) << table;
    EXPECT_EQ(writes, jobs.size()) << table;
    EXPECT_EQ(flushes, jobs.size()) << table;
    EXPECT_NE(table.find("winner: io_uring"), std::string::npos) << table;
    EXPECT_NE(table.find("IOPS/CPU-s"), std::string::npos);
}

TEST(table_output, a_failed_backend_keeps_its_row_and_says_why)
{
    auto jobs = made_up_jobs(rw_mode::randread);
    jobs[2] = job_result{};
    jobs[2].backend = FILEAIO_BACKEND_POSIX_AIO;
    jobs[2].failure = "fileaio_ctx_create_opts: EAGAIN";
    const std::string table = format_table(jobs);
    EXPECT_NE(table.find("failed: fileaio_ctx_create_opts: EAGAIN"), std::string::npos) << table;
    EXPECT_NE(table.find("winner: io_uring"), std::string::npos) << table;
}

// Balanced tags: every opened element is closed, in order (void elements and "/>" excepted).
::testing::AssertionResult well_formed(const std::string &html)
{
    static const std::set<std::string> void_elements{"meta", "br", "hr", "img", "input", "link"};
    std::vector<std::string> open;
    std::size_t at = 0;
    while ((at = html.find('<', at)) != std::string::npos) {
        if (html.compare(at, 4, "<!--") == 0) {
            at = html.find("-->", at);
            if (at == std::string::npos) {
                return ::testing::AssertionFailure() << "unterminated comment";
            }
            continue;
        }
        const std::size_t end = html.find('>', at);
        if (end == std::string::npos) {
            return ::testing::AssertionFailure() << "unterminated tag at " << at;
        }
        const std::string tag = html.substr(at + 1, end - at - 1);
        at = end + 1;
        if (tag.starts_with("!")) {
            continue;  // <!DOCTYPE html>
        }
        if (tag.starts_with("/")) {
            const std::string name = tag.substr(1);
            if (open.empty() || open.back() != name) {
                return ::testing::AssertionFailure()
                       << "</" << name << "> closes <" << (open.empty() ? "nothing" : open.back()) << ">";
            }
            open.pop_back();
            continue;
        }
        const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
        if (tag.ends_with("/") || void_elements.contains(name)) {
            continue;
        }
        open.push_back(name);
        if (name == "style") {  // CSS is not markup
            at = html.find("</style>", at);
            if (at == std::string::npos) {
                return ::testing::AssertionFailure() << "unterminated <style>";
            }
        }
    }
    if (!open.empty()) {
        return ::testing::AssertionFailure() << "<" << open.back() << "> is never closed";
    }
    return ::testing::AssertionSuccess();
}

// chart name -> the backends of its series, from <svg class="chart" data-chart="..."> ... </svg>.
std::map<std::string, std::multiset<std::string>> series_by_chart(const std::string &html)
{
    std::map<std::string, std::multiset<std::string>> charts;
    const std::string chart_mark = "<svg class=\"chart\" data-chart=\"";
    const std::string series_mark = "<polyline class=\"series\" data-backend=\"";
    for (std::size_t at = 0; (at = html.find(chart_mark, at)) != std::string::npos;) {
        at += chart_mark.size();
        const std::string name = html.substr(at, html.find('"', at) - at);
        const std::size_t end = html.find("</svg>", at);
        auto &set = charts[name];
        for (std::size_t s = at; (s = html.find(series_mark, s)) != std::string::npos && s < end;) {
            s += series_mark.size();
            set.insert(html.substr(s, html.find('"', s) - s));
        }
    }
    return charts;
}

const std::multiset<std::string> all_four{"io_uring", "linux_aio", "posix_aio", "thread_pool"};

TEST(html_report, is_well_formed_self_contained_and_has_one_series_per_backend)
{
    bench_options opts;
    bench_outcome outcome;
    outcome.jobs = made_up_jobs(rw_mode::randread);
    outcome.target = {"/tmp/a <file> & more", 256 * mib, true, false};
    const std::string html = format_html(opts, outcome);
    EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
    EXPECT_TRUE(well_formed(html));
    EXPECT_EQ(html.find("<script"), std::string::npos) << "no scripts";
    EXPECT_EQ(html.find("https:"), std::string::npos) << "nothing from the network";
    EXPECT_EQ(html.find("url("), std::string::npos) << "nothing from the network";
    EXPECT_EQ(html.find("@import"), std::string::npos);
    EXPECT_EQ(html.find(" src="), std::string::npos);
    EXPECT_EQ(html.find(" href="), std::string::npos);
    EXPECT_NE(html.find("/tmp/a &lt;file&gt; &amp; more"), std::string::npos) << "text is escaped";
    const auto charts = series_by_chart(html);
    ASSERT_TRUE(charts.contains("iops"));
    ASSERT_TRUE(charts.contains("latency"));
    ASSERT_TRUE(charts.contains("bars"));
    EXPECT_EQ(charts.at("iops"), all_four);
    EXPECT_EQ(charts.at("latency"), all_four);
    // Axes are labelled and the legend names each backend.
    EXPECT_NE(html.find("class=\"axis-label\""), std::string::npos);
    EXPECT_GE(std::count_if(all_four.begin(), all_four.end(),
                            [&](const std::string &b) { return html.find(">" + b + "  ") != std::string::npos; }),
              4);
    EXPECT_NE(html.find("Winner: <b>io_uring</b>"), std::string::npos);
}

TEST(html_report, mixed_workloads_get_read_and_write_latency_charts)
{
    bench_options opts;
    opts.rw = rw_mode::randrw;
    bench_outcome outcome;
    outcome.jobs = made_up_jobs(rw_mode::randrw);
    const std::string html = format_html(opts, outcome);
    EXPECT_TRUE(well_formed(html));
    const auto charts = series_by_chart(html);
    EXPECT_EQ(charts.at("latency-read"), all_four);
    EXPECT_EQ(charts.at("latency-write"), all_four);
    EXPECT_FALSE(charts.contains("latency"));
}

TEST(html_report, a_backend_without_data_is_named_but_drawn_nowhere)
{
    bench_options opts;
    bench_outcome outcome;
    outcome.jobs = made_up_jobs(rw_mode::randread);
    outcome.jobs[3] = job_result{};
    outcome.jobs[3].backend = FILEAIO_BACKEND_THREAD_POOL;
    outcome.jobs[3].failure = "cannot <start>";
    const std::string html = format_html(opts, outcome);
    EXPECT_TRUE(well_formed(html));
    EXPECT_NE(html.find("cannot &lt;start&gt;"), std::string::npos);
    EXPECT_EQ(series_by_chart(html).at("latency").count("thread_pool"), 0u);
}

TEST(verify_blocks, a_stamped_block_checks_out_and_any_change_is_caught)
{
    constexpr std::size_t size = 4096;
    std::vector<std::byte> block(size);
    for (std::size_t i = 0; i < size; ++i) {
        block[i] = static_cast<std::byte>(i * 7 + 3);
    }
    constexpr std::uint64_t offset = 40960;
    const std::uint64_t generation = verify_generation(1, 5);
    verify_stamp(block.data(), size, offset, generation);
    EXPECT_EQ(verify_check(block.data(), size, offset, 0).status, verify_status::ok);
    EXPECT_EQ(verify_check(block.data(), size, offset, generation).status, verify_status::ok);
    EXPECT_EQ(verify_check(block.data(), size, offset + size, 0).status, verify_status::bad_offset);
    EXPECT_EQ(verify_check(block.data(), size, offset, verify_generation(1, 6)).status,
              verify_status::stale_generation);

    for (const std::size_t at : {std::size_t{0}, std::size_t{9}, std::size_t{17}, std::size_t{24}, std::size_t{40},
                                 size - 1}) {
        auto copy = block;
        copy[at] ^= std::byte{0x10};
        const verify_status status = verify_check(copy.data(), size, offset, 0).status;
        EXPECT_NE(status, verify_status::ok) << "a flipped bit at byte " << at;
    }
    std::vector<std::byte> zeros(size);
    const verify_finding finding = verify_check(zeros.data(), size, offset, 0);
    EXPECT_EQ(finding.status, verify_status::bad_magic);
    const std::string text = describe_verify_failure(finding, offset);
    EXPECT_NE(text.find("offset 40960"), std::string::npos) << text;
}

TEST(latency_histogram, percentiles_are_within_the_bucket_resolution)
{
    histogram h;
    for (std::uint64_t v = 1; v <= 100'000; ++v) {
        h.record(v * 100);  // 100 ns .. 10 ms, uniform
    }
    EXPECT_EQ(h.count(), 100'000u);
    EXPECT_EQ(h.min(), 100u);
    EXPECT_EQ(h.max(), 10'000'000u);
    for (const double p : {50.0, 90.0, 99.0, 99.9}) {
        const double exact = p / 100.0 * 10'000'000.0;
        EXPECT_NEAR(static_cast<double>(h.percentile(p)), exact, exact / 16.0) << "p" << p;
    }
    EXPECT_EQ(h.percentile(100.0), h.max());
    EXPECT_EQ(h.percentile(0.0), h.percentile(0.0001));
    histogram other;
    other.record(1);
    h.merge(other);
    EXPECT_EQ(h.min(), 1u);
}

TEST(progress_text, says_backend_elapsed_eta_and_iops)
{
    char line[160];
    const std::size_t len =
        format_progress({1, 4, "linux_aio", 1.25, 3.0, 0.0, 412345.0}, std::span<char>(line, sizeof line));
    const std::string text(line, len);
    EXPECT_EQ(text, "[2/4] linux_aio  1.2/3.0 s  ETA 7.8 s  412,345 IOPS");
    char tiny[8];
    EXPECT_LT(format_progress({0, 1, "thread_pool", 0, 0, 0.5, 1}, std::span<char>(tiny, sizeof tiny)), sizeof tiny);
    EXPECT_EQ(std::strlen(tiny), 7u);
}

}  // namespace
}  // namespace fileaio::cli
