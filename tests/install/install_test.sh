#!/usr/bin/env bash
# Proves that the installed package works for a user:
#   cmake --install BUILD --prefix SCRATCH/prefix, then
#   (1) find_package(fileaio): build examples/ as a standalone project, copy a 1 MiB random
#       file with copy_file (C) and coro_cp (C++20 coroutines), cmp; and copy_file from a C
#       project against fileaio::fileaio_static;
#   (1b) the event-loop examples: epoll_serve serves the file to 3 TCP clients on 127.0.0.1
#       (python3 is the client), asio_cp and uv_cp copy it on every available backend;
#   (2) pkg-config: compile examples/copy_file.c against the shared library and, with
#       --static, against libfileaio.a; run both, cmp.
# Each stage runs even when an earlier one failed, so one run reports every fault.
#
# Usage: install_test.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
# Environment (CTest sets them from the build, so sanitizer builds link their consumers):
#   FILEAIO_TEST_CC, FILEAIO_TEST_CFLAGS, FILEAIO_TEST_LDFLAGS, FILEAIO_TEST_CXX, FILEAIO_TEST_CXXFLAGS
# Exit status: 0 passed; 1 failed; 77 skipped (pkg-config missing, everything else passed).
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 BUILD_DIR SOURCE_DIR SCRATCH_DIR" >&2
    exit 2
fi
build=$1
src=$2
scratch=$3
cc=${FILEAIO_TEST_CC:-cc}
# The flag strings are lists of flags: split them into words once, here.
read -r -a cflags <<<"${FILEAIO_TEST_CFLAGS:-}"
read -r -a ldflags <<<"${FILEAIO_TEST_LDFLAGS:-}"
readonly copy_size=$((1024 * 1024))

step() { printf '\n== %s\n' "$*"; }
fail() {
    echo "install_test: FAILED: $*" >&2
    exit 1
}
problems=()
problem() {
    echo "install_test: PROBLEM: $*" >&2
    problems+=("$*")
}
# Runs a stage function; a failing stage is recorded and the next one still runs.
# (Inside a stage `set -e` is off, because it runs as an `if` condition: every command that
# matters ends in `|| return 1`.)
stage() {
    local name=$1
    shift
    step "$name"
    if ! "$@"; then problem "$name"; fi
}

rm -rf "$scratch"
mkdir -p "$scratch"
prefix=$scratch/prefix

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" || fail "cmake --install"

libdir=
for d in lib lib64 lib/x86_64-linux-gnu; do
    if [[ -f $prefix/$d/cmake/fileaio/fileaioConfig.cmake || -f $prefix/$d/pkgconfig/fileaio.pc ]]; then
        libdir=$prefix/$d
        break
    fi
done
if [[ -z $libdir ]]; then
    # Whatever other directory ${CMAKE_INSTALL_LIBDIR} may name.
    found=$(find "$prefix" -path '*/cmake/fileaio/fileaioConfig.cmake' -print -quit)
    [[ -n $found ]] || fail "no fileaioConfig.cmake under $prefix"
    libdir=$(dirname "$(dirname "$(dirname "$found")")")
fi
echo "libdir: $libdir"
for f in "$prefix/include/fileaio/fileaio.h" "$prefix/include/fileaio/fileaio.hpp" "$libdir/libfileaio.so" \
    "$libdir/libfileaio.a" "$libdir/cmake/fileaio/fileaioConfig.cmake" "$libdir/pkgconfig/fileaio.pc"; do
    [[ -e $f ]] || problem "not installed: ${f#"$prefix"/}"
done

input=$scratch/input.bin
head -c "$copy_size" /dev/urandom >"$input"

# check_copy OUTPUT PROGRAM...: runs "PROGRAM INPUT OUTPUT" and compares OUTPUT with INPUT.
check_copy() {
    local out=$1
    shift
    rm -f "$out"
    "$@" "$input" "$out" || { echo "$* exited with $?" >&2; return 1; }
    cmp "$input" "$out" || { echo "$* produced a different file" >&2; return 1; }
    echo "ok: $*"
}

# links_libfileaio_so BINARY: true when BINARY needs libfileaio.so at run time.
links_libfileaio_so() { readelf -d "$1" | grep -q 'NEEDED.*libfileaio'; }

# ---- (1) find_package(fileaio) ----
cmake_args=(-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc"
    -DCMAKE_C_FLAGS="${FILEAIO_TEST_CFLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${FILEAIO_TEST_LDFLAGS:-}")
# The C++ examples (asio_cp) with the same compiler family and flags as the build.
if [[ -n ${FILEAIO_TEST_CXX:-} ]]; then
    cmake_args+=(-DCMAKE_CXX_COMPILER="$FILEAIO_TEST_CXX" -DCMAKE_CXX_FLAGS="${FILEAIO_TEST_CXXFLAGS:-}")
fi

find_package_shared() {
    cmake -S "$src/examples" -B "$scratch/ex-cmake" "${cmake_args[@]}" || return 1
    cmake --build "$scratch/ex-cmake" || return 1
    check_copy "$scratch/out-cmake.bin" "$scratch/ex-cmake/copy_file" || return 1
    check_copy "$scratch/out-coro.bin" "$scratch/ex-cmake/coro_cp"
}

# The exported static target used from a C-only project: its link interface must bring what
# the C++ implementation needs (the C++ runtime, threads) — a C consumer cannot guess it.
find_package_static() {
    mkdir -p "$scratch/ex-cmake-static-src"
    cat >"$scratch/ex-cmake-static-src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.20)
project(fileaio_static_consumer C)
find_package(fileaio REQUIRED)
add_executable(copy_file_static "$src/examples/copy_file.c")
target_link_libraries(copy_file_static PRIVATE fileaio::fileaio_static)
EOF
    cmake -S "$scratch/ex-cmake-static-src" -B "$scratch/ex-cmake-static" "${cmake_args[@]}" || return 1
    cmake --build "$scratch/ex-cmake-static" || return 1
    if links_libfileaio_so "$scratch/ex-cmake-static/copy_file_static"; then
        echo "copy_file_static needs libfileaio.so: fileaio::fileaio_static is not the archive" >&2
        return 1
    fi
    check_copy "$scratch/out-cmake-static.bin" "$scratch/ex-cmake-static/copy_file_static"
}

stage "find_package(fileaio): examples/ as a standalone project (fileaio::fileaio)" find_package_shared

# ---- (1b) the event-loop examples of examples/ (built by find_package_shared above) ----
# epoll_serve: three clients at once fetch the file over TCP from 127.0.0.1; each copy is cmp'd.
event_loop_epoll() {
    local bin=$scratch/ex-cmake/epoll_serve portfile=$scratch/epoll.port pid port i
    [[ -x $bin ]] || { echo "epoll_serve was not built" >&2; return 1; }
    rm -f "$portfile"
    timeout 120 "$bin" "$input" "$portfile" 3 &  # a hang fails the stage, never the whole run
    pid=$!
    for ((i = 0; i < 100; i++)); do  # a liveness bound only
        [[ -s $portfile ]] && break
        sleep 0.1
    done
    [[ -s $portfile ]] || { kill "$pid" 2>/dev/null; echo "epoll_serve did not listen" >&2; return 1; }
    port=$(<"$portfile")
    python3 - "$port" "$scratch" <<'PY' || { kill "$pid" 2>/dev/null; return 1; }
import socket, sys, threading
port, scratch = int(sys.argv[1]), sys.argv[2]
def fetch(i):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s, open(f"{scratch}/epoll-out{i}.bin", "wb") as f:
        while chunk := s.recv(1 << 16):
            f.write(chunk)
ts = [threading.Thread(target=fetch, args=(i,)) for i in range(3)]
for t in ts: t.start()
for t in ts: t.join()
PY
    wait "$pid" || { echo "epoll_serve exited with $?" >&2; return 1; }
    for i in 0 1 2; do
        cmp "$input" "$scratch/epoll-out$i.bin" || { echo "client $i got a different file" >&2; return 1; }
    done
    echo "ok: epoll_serve, 3 clients"
}
# asio_cp and uv_cp: built when Asio and libuv are installed (scripts/install-deps.sh installs
# both); each copies on every backend this machine has.
event_loop_copies() {
    local prog backend ran=0
    for prog in asio_cp uv_cp; do
        if [[ ! -x $scratch/ex-cmake/$prog ]]; then
            echo "$prog not built (its library is missing): skipped"
            continue
        fi
        for backend in io_uring linux_aio posix_aio thread_pool; do
            if [[ -x $prefix/bin/fileaio ]] &&
                ! LD_LIBRARY_PATH=$libdir "$prefix/bin/fileaio" info | grep -Eq "^  $backend +available"; then
                echo "$prog on $backend: backend unavailable here, skipped"
                continue
            fi
            echo "$prog on $backend:"
            FILEAIO_BACKEND=$backend check_copy "$scratch/out-$prog-$backend.bin" "$scratch/ex-cmake/$prog" || return 1
            ran=1
        done
    done
    [[ $ran == 1 ]] || echo "neither asio_cp nor uv_cp ran"
}
if command -v python3 >/dev/null 2>&1; then
    stage "examples: epoll_serve (epoll loop, TCP on 127.0.0.1, reads through fileaio)" event_loop_epoll
else
    echo "python3 is not installed: the epoll_serve client cannot run, skipped"
fi
stage "examples: asio_cp and uv_cp on every backend" event_loop_copies
stage "find_package(fileaio): fileaio::fileaio_static from a C-only project" find_package_static

# ---- (2) pkg-config ----
if ! command -v pkg-config >/dev/null 2>&1; then
    if [[ ${#problems[@]} -ne 0 ]]; then
        printf 'install_test: FAILED: %s\n' "${problems[@]}" >&2
        exit 1
    fi
    echo "SKIP: pkg-config is not installed; the find_package part passed, the pkg-config part did not run"
    exit 77
fi
export PKG_CONFIG_PATH=$libdir/pkgconfig

pkg_config_shared() {
    local flags resolved
    flags=$(pkg-config --cflags --libs fileaio) || return 1
    echo "pkg-config --cflags --libs fileaio: $flags"
    local -a pc_flags
    read -r -a pc_flags <<<"$flags"
    "$cc" "${cflags[@]}" "$src/examples/copy_file.c" -o "$scratch/copy_file_pc_shared" "${ldflags[@]}" \
        "${pc_flags[@]}" || return 1
    # The .so that runs must be the installed one, not some other copy.
    resolved=$(LD_LIBRARY_PATH=$libdir ldd "$scratch/copy_file_pc_shared" | awk '/libfileaio/ {print $3}')
    if [[ $resolved != "$libdir"/* ]]; then
        echo "copy_file_pc_shared finds libfileaio at '$resolved', not under $libdir" >&2
        return 1
    fi
    LD_LIBRARY_PATH=$libdir check_copy "$scratch/out-pc-shared.bin" "$scratch/copy_file_pc_shared"
}

pkg_config_static() {
    local cflags_pc libs_pc flag
    cflags_pc=$(pkg-config --cflags fileaio) || return 1
    libs_pc=$(pkg-config --static --libs fileaio) || return 1
    echo "pkg-config --static --libs fileaio: $libs_pc"
    local -a pc_cflags pc_libs static_libs=()
    read -r -a pc_cflags <<<"$cflags_pc"
    read -r -a pc_libs <<<"$libs_pc"
    # With libfileaio.so and libfileaio.a side by side, -lfileaio picks the .so: name the
    # archive itself, and keep everything else --static gives (Libs.private).
    for flag in "${pc_libs[@]}"; do
        if [[ $flag == -lfileaio ]]; then
            static_libs+=("$libdir/libfileaio.a")
        else
            static_libs+=("$flag")
        fi
    done
    "$cc" "${cflags[@]}" "${pc_cflags[@]}" "$src/examples/copy_file.c" -o "$scratch/copy_file_pc_static" \
        "${ldflags[@]}" "${static_libs[@]}" || return 1
    if links_libfileaio_so "$scratch/copy_file_pc_static"; then
        echo "copy_file_pc_static needs libfileaio.so, not libfileaio.a" >&2
        return 1
    fi
    check_copy "$scratch/out-pc-static.bin" "$scratch/copy_file_pc_static"
}

stage "pkg-config: examples/copy_file.c against libfileaio.so" pkg_config_shared
stage "pkg-config --static: examples/copy_file.c against libfileaio.a" pkg_config_static

if [[ ${#problems[@]} -ne 0 ]]; then
    printf 'install_test: FAILED: %s\n' "${problems[@]}" >&2
    exit 1
fi
step "passed"
rm -rf "$scratch"
