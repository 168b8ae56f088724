#!/usr/bin/env bash
# The libFuzzer harness of tests/fuzz (docs/reliability.md, "Fuzzing").
#
#   tests/fuzz/run_fuzzer.sh          what `make test-fuzz` runs: builds the fuzz preset (clang,
#                                     ASan+UBSan), runs the corpus of tests/fuzz/corpus and the
#                                     generated seeds once (ctest), then fuzzes for FUZZ_SECONDS
#                                     (default 60) starting from that corpus.
#   tests/fuzz/run_fuzzer.sh merge    for maintainers: minimizes tests/fuzz/corpus, the seeds and
#                                     what fuzzing found (build/fuzz/fuzz-run/corpus) into a new
#                                     tests/fuzz/corpus (libFuzzer -merge=1).
#
# New inputs go to build/fuzz/fuzz-run/corpus and crashes to build/fuzz/fuzz-run/artifacts: a run
# never writes into the repository (only `merge` does, on purpose). Where clang or libFuzzer is
# missing, it says why and skips (exit 0); the other presets never need either.
set -euo pipefail

cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-2}
build=build/fuzz
run=$build/fuzz-run
fuzzer=$build/tests/fuzz/api_fuzzer
per_input_timeout=20   # seconds: an input running longer is a hang (the harness drains within 10 s)
rss_limit_mb=2048
max_len=1024

# What this run did, for `make test`'s last line (which must not say "fuzz" passed when it was
# skipped): "passed ..." or "SKIPPED: <reason>". Failures exit non-zero and make stops there.
status_file=build/test-fuzz.status
mkdir -p build
rm -f "$status_file"

skip() {
  echo "test-fuzz: SKIPPED: $*"
  echo "SKIPPED: $*" >"$status_file"
  exit 0
}

# ---- Can this machine build a libFuzzer target? ----
command -v clang++ >/dev/null 2>&1 || skip "clang++ not found (Debian: apt-get install clang)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long) { return 0; }' >"$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  skip "clang++ cannot link libFuzzer (Debian: apt-get install libclang-rt-dev): $(head -n 1 "$probe/err")"
fi

cmake --preset fuzz
cmake --build "$build" -j "$jobs"

if [ "${1:-}" = merge ]; then
  # The smallest set that reaches every library edge reached (-use_counters=0: edges, not hit
  # counts), with the harness uninstrumented (api_fuzzer_merge): ~200 inputs, not thousands.
  cmake --build "$build" -j "$jobs" --target api_fuzzer_merge
  "$build/tests/fuzz/fuzz_make_seeds" "$run/seeds"
  mkdir -p "$run/corpus" "$run/artifacts"
  rm -rf "$run/merged"
  mkdir "$run/merged"
  "$build/tests/fuzz/api_fuzzer_merge" -merge=1 -use_counters=0 -detect_leaks=0 -timeout=$per_input_timeout \
    -rss_limit_mb=$rss_limit_mb -max_len=$max_len -artifact_prefix="$run/artifacts/" \
    "$run/merged" tests/fuzz/corpus "$run/seeds" "$run/corpus"
  rm -rf tests/fuzz/corpus
  cp -r "$run/merged" tests/fuzz/corpus
  echo "merge: tests/fuzz/corpus has $(ls tests/fuzz/corpus | wc -l) inputs, $(cat tests/fuzz/corpus/* | wc -c) bytes"
  exit 0
fi

# ---- The corpus and the seeds, once each, with leak checks per input ----
ctest --test-dir "$build" --output-on-failure -L fuzz

# ---- Fuzzing ----
mkdir -p "$run/corpus" "$run/artifacts"
log=$run/fuzz.log
echo "test-fuzz: fuzzing for ${seconds}s from tests/fuzz/corpus (log: $log)"
status=0
# -detect_leaks=0: per input, libFuzzer would rerun every input whose contexts the harness frees in
# the background (a third of the speed); LeakSanitizer still checks the whole run at exit, and
# the ctest run above checks every corpus input on its own.
FILEAIO_FUZZ_STATS=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$fuzzer" -max_total_time="$seconds" -timeout=$per_input_timeout -rss_limit_mb=$rss_limit_mb \
  -max_len=$max_len -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$run/artifacts/" \
  "$run/corpus" tests/fuzz/corpus >"$log" 2>&1 || status=$?

if [ "$status" -ne 0 ]; then
  tail -n 120 "$log"
  echo
  echo "test-fuzz: FAILED (libFuzzer exit $status). The input that failed:"
  ls -l "$run/artifacts"
  echo "Reproduce: FILEAIO_FUZZ_TRACE=1 $fuzzer <artifact>   (prints every call of the input)"
  exit 1
fi
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done [0-9]+ runs|^stat::|^api_fuzzer:' "$log" || true
echo "test-fuzz: passed (${seconds}s, no contract violation, crash, hang or leak)"
echo "passed (${seconds}s)" >"$status_file"
