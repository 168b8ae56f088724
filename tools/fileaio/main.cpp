// fileaio: the command-line tool. `info` describes what the machine offers each backend,
// `bench` measures them. This file only dispatches; the commands live beside it.
#include "bench.hpp"
#include "html_report.hpp"
#include "info.hpp"
#include "options.hpp"
#include "report.hpp"

#include <fileaio/fileaio.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fileaio::cli {
namespace {

constexpr std::string_view usage_text = R"(usage: fileaio <command> [options]

commands:
  info [PATH]      kernel, backends (available or why not), what auto picks, limits;
                   with PATH also its filesystem and O_DIRECT alignment
  bench [options]  run an I/O workload on each backend and compare them
                   (fileaio bench --help lists the options)
  help [bench]     this text, or the options of bench

  --version        print the version
)";

void print_usage(std::FILE *to) { std::fputs(usage_text.data(), to); }

constexpr const char *bench_seconds_env = "FILEAIO_BENCH_SECONDS";

// An output file, opened before the run (so that a bad path costs no measurement) and written after.
class output_file {
public:
    output_file() = default;
    output_file(const output_file &) = delete;
    output_file &operator=(const output_file &) = delete;
    ~output_file()
    {
        if (file_ != nullptr) {
            std::fclose(file_);
        }
    }
    // Opens path for writing; false (and a message in error) when it cannot.
    bool open(const std::string &path, std::string &error)
    {
        path_ = path;
        file_ = std::fopen(path.c_str(), "w");
        if (file_ == nullptr) {
            error = "cannot write " + path + ": " + std::strerror(errno);
            return false;
        }
        return true;
    }
    // Writes text and closes the file; false on an error (reported on stderr).
    bool write_and_close(const std::string &text)
    {
        const bool wrote = std::fwrite(text.data(), 1, text.size(), file_) == text.size();
        const bool closed = std::fclose(file_) == 0;
        file_ = nullptr;
        if (!wrote || !closed) {
            std::fprintf(stderr, "fileaio bench: writing %s failed: %s\n", path_.c_str(), std::strerror(errno));
            return false;
        }
        return true;
    }

private:
    std::string path_;
    std::FILE *file_ = nullptr;
};

int bench_command(std::span<const std::string_view> args)
{
    parse_result parsed = parse_bench_options(args);
    if (std::holds_alternative<help_requested>(parsed)) {
        std::fputs(bench_usage().data(), stdout);
        return exit_ok;
    }
    if (const auto *error = std::get_if<parse_error>(&parsed)) {
        std::fprintf(stderr, "fileaio bench: %s\n", error->message.c_str());
        return exit_usage;
    }
    auto &opts = std::get<bench_options>(parsed);
    if (const char *env = std::getenv(bench_seconds_env); env != nullptr && !opts.runtime_given) {
        const auto seconds = parse_seconds(env);
        if (!seconds || *seconds > limits::max_runtime_s) {
            std::fprintf(stderr, "fileaio bench: %s=%s: not a duration (expected seconds, e.g. 0.5)\n",
                         bench_seconds_env, env);
            return exit_usage;
        }
        opts.runtime_s = *seconds;
    }

    output_file output;
    output_file report;
    std::string error;
    if ((!opts.output_path.empty() && !output.open(opts.output_path, error)) ||
        (!opts.report_path.empty() && !report.open(opts.report_path, error))) {
        std::fprintf(stderr, "fileaio bench: %s\n", error.c_str());
        return exit_failure;
    }

    bench_outcome outcome;
    try {
        outcome = run_bench(opts);
    } catch (const usage_error &e) {
        std::fprintf(stderr, "fileaio bench: %s\n", e.what());
        return exit_usage;
    } catch (const interrupted_error &e) {
        std::fprintf(stderr, "fileaio bench: %s\n", e.what());
        return exit_interrupted;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "fileaio bench: %s\n", e.what());
        return exit_failure;
    }

    // Whatever was measured is reported, also when a backend failed part way.
    const std::string results = opts.format == output_format::json ? format_json(outcome.jobs) : format_table(outcome.jobs);
    int status = outcome.exit_code;
    if (!opts.output_path.empty()) {
        if (!output.write_and_close(results) && status == exit_ok) {
            status = exit_failure;
        }
    } else {
        std::fputs(results.c_str(), stdout);
    }
    if (!opts.report_path.empty()) {
        if (report.write_and_close(format_html(opts, outcome))) {
            std::fprintf(stderr, "fileaio: report written to %s\n", opts.report_path.c_str());
        } else if (status == exit_ok) {
            status = exit_failure;
        }
    }
    return status;
}

int run(std::span<const std::string_view> args)
{
    if (args.empty()) {
        print_usage(stderr);
        return exit_usage;
    }
    const std::string_view command = args.front();
    const auto rest = args.subspan(1);
    if (command == "help" || command == "--help" || command == "-h") {
        if (!rest.empty() && rest.front() == "bench") {
            std::fputs(bench_usage().data(), stdout);
        } else {
            print_usage(stdout);
        }
        return exit_ok;
    }
    if (command == "--version" || command == "version") {
        // The library that runs; the header's version too when a newer library runs this tool.
        std::printf("fileaio %s\n", fileaio_version());
        if (std::strcmp(fileaio_version(), FILEAIO_VERSION_STRING) != 0) {
            std::printf("built with fileaio.h %s\n", FILEAIO_VERSION_STRING);
        }
        return exit_ok;
    }
    if (command == "info") {
        if (rest.size() > 1) {
            std::fprintf(stderr, "fileaio info: expected at most one PATH\n");
            return exit_usage;
        }
        return run_info(rest.empty() ? std::nullopt : std::optional<std::string_view>(rest.front()));
    }
    if (command == "bench") {
        return bench_command(rest);
    }
    std::fprintf(stderr, "fileaio: unknown command '%.*s'\n\n", static_cast<int>(command.size()), command.data());
    print_usage(stderr);
    return exit_usage;
}

}  // namespace
}  // namespace fileaio::cli

int main(int argc, char **argv)
{
    try {
        const std::vector<std::string_view> args(argv + 1, argv + argc);
        return fileaio::cli::run(args);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "fileaio: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "fileaio: unexpected error\n");
    }
    return fileaio::cli::exit_failure;
}
