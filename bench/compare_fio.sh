#!/usr/bin/env bash
# Runs the standard workloads of BENCHMARKS.md through `fileaio bench` and through fio's matching
# engine, interleaved, in one sitting, and prints the ratio table (medians of the rounds).
#
#   bench/compare_fio.sh [--rounds N] [--runtime S] [--file PATH] [--workloads a,b] [--backends a,b]
#
# Workloads: cached-randread (default), direct-randread. Backends: every available one.
# CPU is user+system time of the whole process (fio under /usr/bin/time; fileaio measures itself
# with getrusage), so "IOPS per CPU-second" charges every thread.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
fileaio="${FILEAIO:-$here/build/release/tools/fileaio/fileaio}"
rounds=3
runtime=5
file="${TMPDIR:-/tmp}/fileaio-compare-1g"
workloads="cached-randread"
backends=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runtime) runtime="$2"; shift 2 ;;
    --file) file="$2"; shift 2 ;;
    --workloads) workloads="$2"; shift 2 ;;
    --backends) backends="$2"; shift 2 ;;
    *) echo "compare_fio.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in fio python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "compare_fio.sh: $tool is missing (make deps)" >&2; exit 1; }
done
[ -x "$fileaio" ] || { echo "compare_fio.sh: $fileaio not built (make build)" >&2; exit 1; }

if [ -z "$backends" ]; then
  backends=$("$fileaio" info | awk '/^backends:/{f=1;next} f&&/^  [a-z_]+ +available/{print $1} f&&/^$/{exit}' | paste -sd, -)
fi

# The 1 GiB file, written once.
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne $((1 << 30)) ]; then
  echo "compare_fio.sh: writing $file (1 GiB)" >&2
  dd if=/dev/urandom of="$file" bs=1M count=1024 status=none conv=fsync
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# fio's peer engine and options for each backend (the best configuration without SQPOLL).
fio_peer() {
  case "$1" in
    io_uring) echo "io_uring --fixedbufs --registerfiles --iodepth_batch_submit=16 --iodepth_batch_complete_min=8" ;;
    linux_aio) echo "libaio --iodepth_batch_submit=16 --iodepth_batch_complete_min=8" ;;
    posix_aio|thread_pool) echo "posixaio" ;;
  esac
}

workload_args() {  # name -> "rw bs iodepth direct"
  case "$1" in
    cached-randread) echo "randread 4k 32 0" ;;
    direct-randread) echo "randread 4k 128 1" ;;
    *) echo "compare_fio.sh: unknown workload $1" >&2; exit 2 ;;
  esac
}

run_fileaio() {  # backend workload round
  read -r rw bs depth direct <<<"$(workload_args "$2")"
  "$fileaio" bench --backend="$1" --rw="$rw" --bs="$bs" --iodepth="$depth" --direct="$direct" \
    --runtime="$runtime" --filename="$file" --output-format=json >"$out/fileaio-$1-$2-$3.json" 2>/dev/null
}

run_fio() {  # backend workload round
  read -r rw bs depth direct <<<"$(workload_args "$2")"
  # shellcheck disable=SC2046
  set -- "$1" "$2" "$3" $(fio_peer "$1")
  local b="$1" w="$2" r="$3"; shift 3
  local engine="$1"; shift
  [ "$direct" = 1 ] || cat "$file" >/dev/null  # the page cache holds the file for cached runs
  /usr/bin/time -f "%U %S" -o "$out/fio-$b-$w-$r.time" \
    fio --name=peer --filename="$file" --size=1g --rw="$rw" --bs="$bs" --iodepth="$depth" --direct="$direct" \
      --ioengine="$engine" "$@" --invalidate=0 --time_based --runtime="$runtime" --output-format=json \
      >"$out/fio-$b-$w-$r.json"
}

IFS=, read -r -a wl <<<"$workloads"
IFS=, read -r -a bk <<<"$backends"
for w in "${wl[@]}"; do
  for b in "${bk[@]}"; do
    for r in $(seq 1 "$rounds"); do
      echo "compare_fio.sh: $w $b round $r/$rounds" >&2
      run_fileaio "$b" "$w" "$r"
      run_fio "$b" "$w" "$r"
    done
  done
done

python3 - "$out" "$rounds" "$workloads" "$backends" <<'PY'
import json, statistics, sys
out, rounds, workloads, backends = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4].split(",")
peer = {"io_uring": "fio io_uring fixed+reg+batch", "linux_aio": "fio libaio batch",
        "posix_aio": "fio posixaio", "thread_pool": "fio posixaio"}
print(f"| workload | backend | fileaio IOPS | peer | peer IOPS | IOPS ratio | fileaio IOPS/CPU-s | peer IOPS/CPU-s | per-CPU ratio |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|")
for w in workloads:
    for b in backends:
        fa, fa_cpu, fp, fp_cpu = [], [], [], []
        for r in range(1, rounds + 1):
            j = json.load(open(f"{out}/fileaio-{b}-{w}-{r}.json"))["jobs"][0]
            fa.append(j["read"]["iops"]); fa_cpu.append(j["iops_per_cpu_s"])
            f = json.load(open(f"{out}/fio-{b}-{w}-{r}.json"))["jobs"][0]
            usr, sys_ = map(float, open(f"{out}/fio-{b}-{w}-{r}.time").read().split()[-2:])
            iops = f["read"]["iops"]; secs = f["job_runtime"] / 1000.0
            fp.append(iops); fp_cpu.append(iops * secs / (usr + sys_))
        m = statistics.median
        print(f"| {w} | {b} | {m(fa):,.0f} | {peer[b]} | {m(fp):,.0f} | {m(fa)/m(fp):.2f} | "
              f"{m(fa_cpu):,.0f} | {m(fp_cpu):,.0f} | {m(fa_cpu)/m(fp_cpu):.2f} |")
PY
