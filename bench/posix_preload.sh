#!/usr/bin/env bash
# Stock fio's posixaio engine with and without LD_PRELOAD=libfileaio-posix.so, and fio's own
# io_uring engine on the same job, interleaved round after round; then 100,000 aio_read on one
# descriptor (bench/posix_deep_queue) through both: cached 512 B reads of the file, and 1-byte
# reads of an empty pipe (every request really in flight while the rest are submitted). Prints
# the medians.
#
#   bench/posix_preload.sh [--rounds N] [--runtime S] [--file PATH] [--glibc-deep N]
#
#   --rounds N     rounds (default 3); each runs every job x engine back to back
#   --runtime S    seconds per fio run (default 5)
#   --file PATH    the 256 MiB test file (default: $TMPDIR/fileaio-posix-bench; not tmpfs, O_DIRECT)
#   --glibc-deep N requests for glibc's deep-queue runs (default 10000: with requests held in
#                  flight glibc's submit time grows with the square of the queue)
# Environment: LIB (default build/release/posix/libfileaio-posix.so), DEEP (the
# posix_deep_queue binary, default build/release/bench/posix_deep_queue).
#
# Jobs: cached randread 4k QD32 (file in the page cache), direct randread 4k QD32 (O_DIRECT),
# each with --numjobs=1 and 2. Engines: posixaio (glibc), posixaio + preload, io_uring (fio's).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
lib="${LIB:-$here/build/release/posix/libfileaio-posix.so}"
deep="${DEEP:-$here/build/release/bench/posix_deep_queue}"
rounds=3
runtime=5
file="${TMPDIR:-/tmp}/fileaio-posix-bench"
glibc_deep=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runtime) runtime="$2"; shift 2 ;;
    --file) file="$2"; shift 2 ;;
    --glibc-deep) glibc_deep="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for f in "$lib" "$deep"; do
  [ -e "$f" ] || { echo "missing $f (cmake --preset release && cmake --build build/release)" >&2; exit 2; }
done
command -v fio >/dev/null || { echo "fio is not installed (Debian: fio)" >&2; exit 2; }
lib="$(readlink -f "$lib")"

if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne $((256 << 20)) ]; then
  dd if=/dev/urandom of="$file" bs=1M count=256 status=none
fi
cat "$file" >/dev/null  # into the page cache, outside any timing

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run_fio() {  # run_fio ENGINE JOB NUMJOBS -> IOPS
  local engine=$1 job=$2 numjobs=$3 pre="" ioengine=posixaio direct=0
  case $engine in
    preload) pre="$lib" ;;
    io_uring) ioengine=io_uring ;;
  esac
  [ "$job" = direct ] && direct=1
  LD_PRELOAD="$pre" fio --name=j --filename="$file" --size=256m --ioengine=$ioengine --rw=randread \
    --bs=4k --iodepth=32 --direct=$direct --invalidate=0 --numjobs="$numjobs" --group_reporting \
    --runtime="$runtime" --time_based --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  for job in cached direct; do
    for nj in 1 2; do
      for engine in posixaio preload io_uring; do
        v=$(run_fio $engine $job $nj)
        echo "$v" >>"$out/$job.$nj.$engine"
        echo "round $r: $job numjobs=$nj $engine: $v IOPS" >&2
      done
    done
  done
  LD_PRELOAD="$lib" "$deep" "$file" 100000 | awk '{print $4}' >>"$out/deep.preload"
  "$deep" "$file" "$glibc_deep" | awk '{print $4}' >>"$out/deep.glibc"
  LD_PRELOAD="$lib" "$deep" --pipe 100000 | awk '{print $4}' >>"$out/pipe.preload"
  "$deep" --pipe "$glibc_deep" | awk '{print $4}' >>"$out/pipe.glibc"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "| job | numjobs | glibc posixaio | posixaio + libfileaio-posix | fio io_uring | preload / glibc | preload / io_uring |"
echo "|---|---|---|---|---|---|---|"
for job in cached direct; do
  for nj in 1 2; do
    g=$(median "$out/$job.$nj.posixaio"); p=$(median "$out/$job.$nj.preload"); u=$(median "$out/$job.$nj.io_uring")
    awk -v j="$job randread 4k QD32" -v n="$nj" -v g="$g" -v p="$p" -v u="$u" \
      'BEGIN {printf "| %s | %s | %d | %d | %d | %.2fx | %.2fx |\n", j, n, g, p, u, p/g, p/u}'
  done
done
echo
echo "deep queue, one descriptor: time to submit (median of $rounds)"
echo "  cached 512 B reads of the file: libfileaio-posix 100000: $(median "$out/deep.preload") s; glibc $glibc_deep: $(median "$out/deep.glibc") s"
echo "  1-byte reads of an empty pipe:  libfileaio-posix 100000: $(median "$out/pipe.preload") s; glibc $glibc_deep: $(median "$out/pipe.glibc") s"
