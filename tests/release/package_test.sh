#!/usr/bin/env bash
# The Debian packages of `make package` (cmake/packaging.cmake), made from this build tree.
#
#   package_test.sh build BUILD_DIR DEB_DIR
#       cpack -G DEB: libfileaio0, libfileaio-dev, fileaio-tools into DEB_DIR (the fixture of
#       the other two modes).
#   package_test.sh lintian DEB_DIR
#       lintian on the three: no errors (warnings are printed).
#   package_test.sh install DEB_DIR SOURCE_DIR SCRATCH_DIR
#       Checks that every library a packaged binary needs is in its Depends (as the package
#       that owns it here, dpkg -S), unpacks the three packages into SCRATCH_DIR/root (a clean
#       root: nothing else is in it, and nothing outside it is touched), builds examples/ against
#       that root with CMake (find_package) and with pkg-config, runs both and the packaged
#       `fileaio --version`, each using the root's libfileaio.so.0, preloads the root's
#       libfileaio-posix.so.0 into a libc-only aio_read program, then removes the root.
#
# Exit status: 0 passed; 1 failed; 77 skipped (a tool is missing; the message says which).
set -uo pipefail

mode=${1:-}
skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "package_test: FAILED: $*" >&2
    exit 1
}
need() {
    local tool=$1 package=$2
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (Debian: $package; scripts/install-deps.sh installs it)"
}
expected_packages=(libfileaio0 libfileaio-dev fileaio-tools)
deb_of() { # deb_of DEB_DIR PACKAGE: the .deb of PACKAGE in DEB_DIR
    local f
    f=$(find "$1" -maxdepth 1 -name "$2_*.deb" -print -quit)
    [[ -n $f ]] || fail "no $2_*.deb in $1 (did release.package_build run?)"
    echo "$f"
}

case $mode in
build)
    [[ $# -eq 3 ]] || fail "usage: $0 build BUILD_DIR DEB_DIR"
    build=$2
    debs=$3
    need cpack cmake
    need dpkg-deb dpkg
    need dpkg-shlibdeps dpkg-dev
    need file file
    rm -rf "$debs"
    mkdir -p "$debs"
    (cd "$build" && cpack -G DEB -B "$debs") || fail "cpack -G DEB"
    for p in "${expected_packages[@]}"; do
        deb=$(deb_of "$debs" "$p")
        echo "$(basename "$deb"): Depends: $(dpkg-deb -f "$deb" Depends)"
    done
    ;;
lintian)
    [[ $# -eq 2 ]] || fail "usage: $0 lintian DEB_DIR"
    debs=$2
    need lintian lintian
    files=()
    for p in "${expected_packages[@]}"; do files+=("$(deb_of "$debs" "$p")"); done
    # lintian's exit status is 2 for errors only at the default --fail-on; say it explicitly.
    out=$(lintian --fail-on error --tag-display-limit 0 "${files[@]}" 2>&1)
    rc=$?
    echo "$out" | grep -v 'running with root privileges'
    if ((rc != 0)) || grep -q '^E: ' <<<"$out"; then
        fail "lintian reports errors (exit $rc)"
    fi
    echo "package_test: lintian: no errors in ${expected_packages[*]}"
    ;;
install)
    [[ $# -eq 4 ]] || fail "usage: $0 install DEB_DIR SOURCE_DIR SCRATCH_DIR"
    debs=$2
    src=$3
    scratch=$4
    need dpkg-deb dpkg
    need dpkg dpkg
    need file file
    need pkg-config pkg-config
    need cmake cmake
    cc=${CC:-cc}
    problems=()
    problem() {
        echo "package_test: PROBLEM: $*" >&2
        problems+=("$*")
    }
    rm -rf "$scratch"
    root=$scratch/root
    mkdir -p "$root"
    trap 'rm -rf "$scratch"' EXIT

    # Dependencies found by the tooling must cover what the binaries need.
    for p in libfileaio0 fileaio-tools; do
        deb=$(deb_of "$debs" "$p")
        depends=$(dpkg-deb -f "$deb" Depends)
        mkdir -p "$scratch/$p"
        dpkg-deb -x "$deb" "$scratch/$p"
        # The package names in Depends, one a line.
        names=$(sed -E 's/ *\([^)]*\)//g; s/, */\n/g' <<<"$depends")
        while IFS= read -r elf; do
            # Each library it needs itself (NEEDED) -> the file ld.so finds for it here.
            while read -r needed path; do
                if [[ $path == MISSING ]]; then
                    problem "$p: $(basename "$elf") needs $needed, which ld.so does not find here"
                    continue
                elif [[ $needed == libfileaio.so.* ]]; then
                    owner=libfileaio0
                else
                    owner=$(dpkg -S "$path" 2>/dev/null | head -n1 | sed -E 's/[:,].*//')
                    [[ -n $owner ]] ||
                        owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | sed -E 's/[:,].*//')
                fi
                if [[ $owner == "$p" ]]; then
                    continue  # libfileaio-posix.so.0 needs libfileaio.so.0, in the same package
                elif [[ -z $owner ]]; then
                    problem "$p: $(basename "$elf") needs $needed ($path), which no installed package owns"
                elif ! grep -qxF "$owner" <<<"$names"; then
                    problem "$p: $(basename "$elf") needs $needed ($owner) but Depends is '$depends'"
                fi
            done < <(join -a 1 -e MISSING -o 1.1,2.2 <(readelf -d "$elf" | sed -nE 's/.*\(NEEDED\).*\[(.*)\].*/\1/p' | sort) \
                <(LD_LIBRARY_PATH=$(dirname "$(find "$scratch" -name 'libfileaio.so.0' -print -quit)") ldd "$elf" |
                    awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}
                         $1 ~ /^\// {n = split($1, part, "/"); print part[n], $1}' | sort))
        done < <(find "$scratch/$p" -type f \( -name '*.so*' -o -perm -u+x \) -exec sh -c 'file -b "$1" | grep -q ELF' _ {} \; -print)
        echo "ok: $p Depends: $depends"
    done

    for p in "${expected_packages[@]}"; do
        dpkg-deb -x "$(deb_of "$debs" "$p")" "$root" || fail "dpkg-deb -x $p"
    done
    libso=$(find "$root" -name 'libfileaio.so.0' -print -quit)
    [[ -n $libso ]] || fail "libfileaio.so.0 is in none of the packages"
    libdir=$(dirname "$libso")
    echo "root: $root, libdir: ${libdir#"$root"}"
    for f in include/fileaio/fileaio.h include/fileaio/fileaio.hpp bin/fileaio; do
        [[ -e $root/usr/$f ]] || problem "not in the packages: /usr/$f"
    done
    for f in libfileaio.so libfileaio.a pkgconfig/fileaio.pc cmake/fileaio/fileaioConfig.cmake \
        libfileaio-posix.so.0 libfileaio-posix.so pkgconfig/fileaio-posix.pc; do
        [[ -e $libdir/$f ]] || problem "not in the packages: ${libdir#"$root"}/$f"
    done

    input=$scratch/input.bin
    head -c $((1024 * 1024)) /dev/urandom >"$input"
    # run_against_root PROGRAM ARGS...: runs it with the root's libraries, after checking
    # that the libfileaio it loads is the root's.
    run_against_root() {
        local resolved
        resolved=$(LD_LIBRARY_PATH=$libdir ldd "$1" | awk '/libfileaio/ {print $3}')
        [[ $resolved == "$libdir"/* ]] || { echo "$1 loads libfileaio from '$resolved', not $libdir" >&2; return 1; }
        LD_LIBRARY_PATH=$libdir "$@"
    }
    check_copy() {
        local prog=$1 out=$scratch/out-$(basename "$1").bin
        run_against_root "$prog" "$input" "$out" || { echo "$prog failed" >&2; return 1; }
        cmp "$input" "$out" || return 1
        echo "ok: $(basename "$prog") copied 1 MiB through the packaged library"
    }

    printf '\n== CMake: find_package(fileaio) from the packages\n'
    if cmake -S "$src/examples" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$scratch/cmake.log" 2>&1 &&
        cmake --build "$scratch/cmake" >>"$scratch/cmake.log" 2>&1; then
        grep -q "$root/usr" "$scratch/cmake/CMakeCache.txt" || problem "CMake found fileaio outside the root"
        check_copy "$scratch/cmake/copy_file" || problem "the CMake consumer"
    else
        cat "$scratch/cmake.log"
        problem "building examples/ with CMake against the packages"
    fi

    printf '\n== pkg-config from the packages\n'
    # The root's .pc first; what it requires (liburing) comes from the system, as libfileaio-dev's
    # Depends promise.
    flags=$(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs fileaio) || problem "pkg-config fileaio"
    echo "pkg-config --cflags --libs fileaio: $flags"
    read -r -a pc_flags <<<"$flags"
    if "$cc" "$src/examples/copy_file.c" -o "$scratch/copy_file_pc" "${pc_flags[@]}"; then
        check_copy "$scratch/copy_file_pc" || problem "the pkg-config consumer"
    else
        problem "compiling examples/copy_file.c with pkg-config against the packages"
    fi

    printf '\n== libfileaio-posix: preloaded into a program linked only against libc\n'
    cat >"$scratch/aio_copy.c" <<'CSRC'
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    static char buf[1 << 20];
    int in = open(argv[1], O_RDONLY), out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = in; cb.aio_buf = buf; cb.aio_nbytes = sizeof buf;
    if (in < 0 || out < 0 || aio_read(&cb) != 0) return 1;
    const struct aiocb *list[1] = {&cb};
    while (aio_error(&cb) == EINPROGRESS) aio_suspend(list, 1, NULL);
    ssize_t n = aio_return(&cb);
    return n > 0 && write(out, buf, (size_t)n) == n ? 0 : 1;
}
CSRC
    if "$cc" "$scratch/aio_copy.c" -o "$scratch/aio_copy"; then
        posix_so=$libdir/libfileaio-posix.so.0
        if LD_LIBRARY_PATH=$libdir LD_PRELOAD=$posix_so FILEAIO_POSIX_DEBUG=1 "$scratch/aio_copy" "$input" \
            "$scratch/out-aio.bin" 2>"$scratch/aio.log" && cmp "$input" "$scratch/out-aio.bin" &&
            grep -q 'fileaio-posix: context' "$scratch/aio.log"; then
            echo "ok: aio_read through the packaged libfileaio-posix ($(head -n1 "$scratch/aio.log"))"
        else
            cat "$scratch/aio.log"
            problem "a preloaded aio_read through the packaged libfileaio-posix"
        fi
    else
        problem "compiling the aio_read program"
    fi
    PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --libs fileaio-posix >/dev/null || problem "pkg-config fileaio-posix"

    printf '\n== fileaio-tools\n'
    version=$(run_against_root "$root/usr/bin/fileaio" --version) || problem "fileaio --version failed"
    echo "$version"
    header_version=$(sed -nE 's/^#define FILEAIO_VERSION_STRING "(.*)"/\1/p' "$root/usr/include/fileaio/fileaio.h")
    [[ $version == "fileaio $header_version" ]] || problem "fileaio --version says '$version', the packaged header $header_version"

    if [[ ${#problems[@]} -ne 0 ]]; then
        printf 'package_test: FAILED: %s\n' "${problems[@]}" >&2
        exit 1
    fi
    echo "package_test: passed; removing $root"
    ;;
*)
    echo "usage: $0 build BUILD_DIR DEB_DIR | lintian DEB_DIR | install DEB_DIR SOURCE_DIR SCRATCH_DIR" >&2
    exit 2
    ;;
esac
