#!/usr/bin/env bash
# libfileaio.so exports exactly the C API of include/fileaio/fileaio.h, each symbol versioned by
# src/fileaio.map, under the soname libfileaio.so.MAJOR.
#
# The expected set comes from the header itself: it is preprocessed as a user compiles it (no
# comments, macros expanded) and every `fileaio_name(` left is a function declaration. Adding a
# function to the header and to the map is therefore the whole job; forgetting the map (or
# FILEAIO_API) fails here as "missing", and anything else the library exports fails as "leaked".
#
# Usage: symbols_test.sh LIBRARY HEADER MAJOR [CC]
# Exit status: 0 passed; 1 failed; 77 skipped (nm/objdump missing).
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 LIBRARY HEADER MAJOR [CC]" >&2
    exit 2
fi
lib=$1
header=$2
major=$3
cc=${4:-cc}
for tool in nm objdump readelf "$cc"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool is not installed (Debian: binutils, gcc)"
        exit 77
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The declared functions (-P: no line markers). The system headers the header includes declare
# nothing named fileaio_*, so every match is ours.
printf '#include "%s"\n' "$header" | "$cc" -E -P -x c - >"$tmp/pre.c"
grep -oE '\bfileaio_[A-Za-z0-9_]+[[:space:]]*\(' "$tmp/pre.c" | sed -E 's/[[:space:]]*\($//' | sort -u >"$tmp/declared"
if [[ ! -s $tmp/declared ]]; then
    echo "symbols_test: FAILED: found no fileaio_* function in $header" >&2
    exit 1
fi

# The exported symbols (defined, dynamic), with their versions: "name@@VERSION" or "name".
# The version node itself shows as an absolute symbol (type A) and is not a function.
nm -D --defined-only --with-symbol-versions "$lib" | awk '$2 != "A" {print $3}' | sort -u >"$tmp/exported_versioned"
sed -E 's/@.*$//' "$tmp/exported_versioned" | sort -u >"$tmp/exported"

status=0
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
leaked=$(comm -13 "$tmp/declared" "$tmp/exported")
if [[ -n $missing ]]; then
    echo "symbols_test: public symbols declared in $header but not exported (add them to src/fileaio.map, in the node of this release, and declare them with FILEAIO_API):" >&2
    sed 's/^/  /' <<<"$missing" >&2
    status=1
fi
if [[ -n $leaked ]]; then
    echo "symbols_test: symbols exported but not declared in $header (internal symbols leaking; src/fileaio.map must keep them local):" >&2
    sed 's/^/  /' <<<"$leaked" >&2
    status=1
fi
unversioned=$(grep -vE '@@?FILEAIO_[0-9]+\.[0-9]+$' "$tmp/exported_versioned" || true)
if [[ -n $unversioned ]]; then
    echo "symbols_test: exported symbols without a FILEAIO_x.y version (is the library linked with src/fileaio.map?):" >&2
    sed 's/^/  /' <<<"$unversioned" >&2
    status=1
fi
soname=$(readelf -d "$lib" | sed -nE 's/.*Library soname: \[(.*)\].*/\1/p')
if [[ $soname != "libfileaio.so.$major" ]]; then
    echo "symbols_test: soname is '$soname', expected libfileaio.so.$major" >&2
    status=1
fi
if [[ $status -eq 0 ]]; then
    echo "symbols_test: passed: $(wc -l <"$tmp/declared") functions of $(basename "$header") exported, all versioned:"
    sed -E 's/^/  /' "$tmp/exported_versioned" | column -c 120 2>/dev/null || sed -E 's/^/  /' "$tmp/exported_versioned"
    echo "  soname $soname"
fi
exit $status
