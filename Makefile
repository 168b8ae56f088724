# The two commands of the README:
#   make bench   installs missing packages, builds (release) and runs `fileaio bench`
#   make test    installs missing packages, builds, and runs every test: the dev build, again
#                under ASan+UBSan, the concurrency and stress tests under TSan, and the libFuzzer
#                harness (tests/fuzz, clang) for FUZZ_SECONDS (default 60)
#   make soak    the stress test for SOAK_SECONDS (default 600) per backend
# Everything else here is a convenience for developers.

JOBS ?= $(shell nproc)
CTEST_FLAGS ?= --output-on-failure -j $(JOBS) --timeout 600

.PHONY: all deps build bench compare test test-dev test-asan test-tsan test-fuzz soak abi-baseline package clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake --preset release
	cmake --build build/release -j $(JOBS)

bench: build
	./build/release/tools/fileaio/fileaio bench

# The last line says what ran: fuzzing skips itself where clang or libFuzzer is missing, and
# then the line says so and why (tests/fuzz/run_fuzzer.sh writes build/test-fuzz.status).
test: deps test-dev test-asan test-tsan test-fuzz
	@fuzz=$$(cat build/test-fuzz.status 2>/dev/null || echo "SKIPPED: run_fuzzer.sh left no status"); \
	case "$$fuzz" in \
	  passed*) echo "make test: all suites passed (dev, asan+ubsan, tsan, fuzz $$fuzz)" ;; \
	  *) echo "make test: dev, asan+ubsan and tsan passed; fuzz was $$fuzz" ;; \
	esac

test-dev: deps
	cmake --preset dev
	cmake --build build/dev -j $(JOBS)
	ctest --test-dir build/dev $(CTEST_FLAGS)

test-asan: deps
	cmake --preset asan
	cmake --build build/asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build/asan $(CTEST_FLAGS) -LE 'install|abi|package|preload'

test-tsan: deps
	cmake --preset tsan
	cmake --build build/tsan -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --test-dir build/tsan $(CTEST_FLAGS) -L 'concurrency|stress'

# The headline table of docs/PERFORMANCE.md: every workload of BENCHMARKS.md through `fileaio bench`
# and the strongest peers of each backend (fio's engines, raw liburing, libuv), ROUNDS interleaved
# rounds of RUNTIME s per run, medians (bench/compare_fio.sh --help). The default run takes about
# 25 minutes on a 2-CPU VM. Writes build/compare/PERFORMANCE-table.md (and prints it), keeps every
# run's output in build/compare/raw. Narrower: make compare WORKLOADS=cached-randrw BACKENDS=io_uring
# ROUNDS=3. COMPARE_DIR: where the benchmark files go (default $TMPDIR or /tmp). HOLD: a command
# each workload's rounds run under, e.g. HOLD='flock -x /work/cpu.lock' on a shared machine
# (BUILD_HOLD likewise for the build step, e.g. BUILD_HOLD='flock -s /work/cpu.lock').
ROUNDS ?= 5
RUNTIME ?= 3
WORKLOADS ?=
BACKENDS ?=
COMPARE_DIR ?=
HOLD ?=
BUILD_HOLD ?=
compare: deps
	$(BUILD_HOLD) cmake --preset release
	$(BUILD_HOLD) cmake --build build/release -j $(JOBS) --target fileaio_compare_tools
	rm -rf build/compare/raw
	mkdir -p build/compare
	bench/compare_fio.sh --rounds $(ROUNDS) --runtime $(RUNTIME) --keep build/compare/raw \
	  $(if $(WORKLOADS),--workloads $(WORKLOADS)) $(if $(BACKENDS),--backends $(BACKENDS)) \
	  $(if $(COMPARE_DIR),--dir $(COMPARE_DIR)) $(if $(HOLD),--hold '$(HOLD)') >build/compare/PERFORMANCE-table.md
	@cat build/compare/PERFORMANCE-table.md

# The libFuzzer harness: its corpus once, then FUZZ_SECONDS of fuzzing (build/fuzz, clang). New
# inputs stay under build/fuzz/fuzz-run. Skipped, with the reason, where clang or libFuzzer is missing.
FUZZ_SECONDS ?= 60
test-fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) tests/fuzz/run_fuzzer.sh

# The stress test for as long as asked, on every backend: make soak SOAK_SECONDS=3600
SOAK_SECONDS ?= 600
soak: deps
	cmake --preset dev
	cmake --build build/dev -j $(JOBS)
	FILEAIO_STRESS_SECONDS=$(SOAK_SECONDS) ctest --test-dir build/dev --output-on-failure -V -L stress \
	  --timeout $$(( $(SOAK_SECONDS) + 600 ))

# The Debian packages libfileaio0, libfileaio-dev and fileaio-tools in build/package (CPack, see
# cmake/packaging.cmake), then lintian on them: no errors allowed.
package: deps
	cmake --preset package
	cmake --build build/package -j $(JOBS)
	rm -f build/package/*.deb
	cd build/package && cpack -G DEB
	tests/release/package_test.sh lintian build/package
	@ls -1 build/package/*.deb

# Records the ABI of this tree's libfileaio.so as the baseline that `make test` checks every build
# against (abi/libfileaio.abi). Only on purpose: at a release, or with an incompatible change that
# bumps the soname (docs/releasing.md). Commit the file it writes.
abi-baseline: deps
	cmake --preset dev
	cmake --build build/dev -j $(JOBS) --target fileaio
	scripts/abi-baseline.sh build/dev/src/libfileaio.so

clean:
	rm -rf build
