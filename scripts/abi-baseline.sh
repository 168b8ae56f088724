#!/usr/bin/env bash
# Records the ABI of a built libfileaio.so as the baseline that `make test` compares every build
# with (tests/release/abi_check.sh). Run it only on purpose, through `make abi-baseline`, when a
# release is made or an incompatible change is accepted together with a soname bump
# (docs/releasing.md); then commit abi/libfileaio.abi with that change.
#
# Usage: scripts/abi-baseline.sh LIBRARY [OUTPUT]   (OUTPUT: abi/libfileaio.abi of this tree)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -lt 1 ]]; then
    echo "usage: $0 LIBRARY [OUTPUT]" >&2
    exit 2
fi
lib=$1
out=${2:-$src/abi/libfileaio.abi}
command -v abidw >/dev/null 2>&1 || { echo "abi-baseline: abidw is missing (Debian: abigail-tools)" >&2; exit 1; }
readelf -S "$lib" | grep -q '\.debug_info' ||
    { echo "abi-baseline: $lib has no debug info; build it with -g (the dev and release presets do)" >&2; exit 1; }

# Only the types of the public headers, no build paths: the file changes only when the ABI does.
abidw --headers-dir "$src/include/fileaio" --drop-private-types --exported-interfaces-only \
    --no-corpus-path --no-comp-dir-path --type-id-style hash \
    --out-file "$out" "$lib"
echo "abi-baseline: wrote $out from $lib ($(grep -c '<elf-symbol ' "$out") ELF symbols)"
