// fileaio: the command-line tool. `info` describes what the machine offers each backend,
// `bench` measures them. This file only dispatches; the commands live beside it.
#include "bench.hpp"
#include "info.hpp"
#include "options.hpp"
#include "report.hpp"

#include <fileaio/fileaio.h>

#include <cstdio>
#include <exception>
#include <span>
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

int bench_command(std::span<const std::string_view> args)
{
    const parse_result parsed = parse_bench_options(args);
    if (std::holds_alternative<help_requested>(parsed)) {
        std::fputs(bench_usage().data(), stdout);
        return exit_ok;
    }
    if (const auto *error = std::get_if<parse_error>(&parsed)) {
        std::fprintf(stderr, "fileaio bench: %s\n", error->message.c_str());
        return exit_usage;
    }
    const auto &opts = std::get<bench_options>(parsed);
    bench_outcome outcome;
    try {
        outcome = run_bench(opts);
    } catch (const usage_error &e) {
        std::fprintf(stderr, "fileaio bench: %s\n", e.what());
        return exit_usage;
    } catch (const interrupted_error &e) {
        std::fprintf(stderr, "fileaio bench: %s\n", e.what());
        return exit_interrupted;
    }
    const std::string report = opts.format == output_format::json ? format_json(outcome.jobs) : format_table(outcome.jobs);
    std::fputs(report.c_str(), stdout);
    return outcome.exit_code;
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
        std::printf("fileaio %s\n", FILEAIO_VERSION_STRING);
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
