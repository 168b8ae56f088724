#!/usr/bin/env bash
# Compares the ABI of the built libfileaio.so with the baseline of the current release
# (abi/libfileaio.abi, written by `make abi-baseline`) using abidiff from Debian's abigail-tools.
#
#   no change                                   -> passes
#   only functions or variables added           -> passes, and says which (a compatible addition)
#   anything else: a symbol removed, a public
#   type changed (size, member order, types...) -> fails, with abidiff's report
#
# abidiff's own exit bits are not enough: it sets ABIDIFF_ABI_INCOMPATIBLE_CHANGE (8) only for
# removed symbols, and reports a reordered or resized struct with ABIDIFF_ABI_CHANGE (4) alone,
# "for a human to review". So a change with bit 4 passes only when a second run with
# --no-added-syms finds nothing, i.e. when additions are all there is. Changes that are compatible
# by design (fileaio_ctx_options growing at its end) are suppressed by abi/fileaio.abignore.
#
# Usage: abi_check.sh LIBRARY SOURCE_DIR
# Exit status: 0 passed; 1 failed; 77 skipped (abidiff missing, or the library has no debug info).
set -uo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 LIBRARY SOURCE_DIR" >&2
    exit 2
fi
lib=$1
src=$2
baseline=$src/abi/libfileaio.abi
if ! command -v abidiff >/dev/null 2>&1; then
    echo "SKIP: abidiff is not installed (Debian: abigail-tools; scripts/install-deps.sh installs it)"
    exit 77
fi
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
    echo "SKIP: $lib has no debug info, abidiff cannot see its types (build with -g)"
    exit 77
fi
[[ -f $baseline ]] || { echo "abi_check: FAILED: no baseline $baseline (make abi-baseline)" >&2; exit 1; }

args=(--headers-dir2 "$src/include/fileaio" --drop-private-types --exported-interfaces-only --no-default-suppression
    --suppressions "$src/abi/fileaio.abignore")
report=$(abidiff "${args[@]}" "$baseline" "$lib" 2>&1)
rc=$?
echo "abidiff ${args[*]} $baseline $lib: exit $rc"

if ((rc == 0)); then
    echo "abi_check: passed: the ABI is the baseline's"
    exit 0
fi
if ((rc & 3)); then
    echo "$report"
    echo "abi_check: FAILED: abidiff could not compare (exit $rc: bit 1 error, bit 2 usage)" >&2
    exit 1
fi
if ((rc & 8)); then
    echo "$report"
    echo "abi_check: FAILED: incompatible ABI change (a public symbol removed). If it is meant, the" \
        "soname and the map node change and the baseline is renewed: docs/releasing.md" >&2
    exit 1
fi
# Bit 4 alone: were additions all there was?
abidiff "${args[@]}" --no-added-syms "$baseline" "$lib" >/dev/null 2>&1
rc_without_additions=$?
echo "$report"
if ((rc_without_additions == 0)); then
    echo "abi_check: passed: a compatible addition to the baseline (listed above); it is recorded when the" \
        "next release renews the baseline (docs/releasing.md)"
    exit 0
fi
echo "abi_check: FAILED: the ABI changed in a way abidiff cannot call compatible (a public type's size," \
    "layout or a function's signature; report above). Old programs would break: revert it, or follow" \
    "docs/releasing.md for an incompatible release" >&2
exit 1
