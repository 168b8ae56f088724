#!/usr/bin/env bash
# Runs the standard workloads of BENCHMARKS.md through `fileaio bench` and through fio's matching
# engine (and, for cached-randread, the raw liburing baseline) in one sitting, interleaved round
# after round, and prints the ratio table of the medians as Markdown, ready for
# docs/PERFORMANCE.md.
#
#   bench/compare_fio.sh [--quick] [--rounds N] [--runtime S] [--size SIZE] [--file PATH]
#                        [--workloads a,b] [--backends a,b] [--fileaio PATH] [--raw-uring PATH]
#                        [--baseline PATH]
#
#   --quick      a short run to see that everything works: 1 round, 1 s each, a 256 MiB file
#   --rounds N   rounds (default 3); each round runs every workload x backend, fileaio and its
#                peer back to back (which goes first alternates between rounds)
#   --runtime S  seconds per run (default 5)
#   --size SIZE  the file (default 1g, as BENCHMARKS.md says); --file PATH to choose where
#   --baseline PATH  another fileaio binary (an earlier commit's build) run in the same rounds,
#                right after this one's run; a second table compares the two ("no worse than before")
#
# Workloads (default: all): cached-randread, direct-randread, direct-randwrite, seq-read-1m,
# mixed-flush. Backends (default: every available one, from `fileaio info`). Peers: io_uring ->
# fio io_uring with --fixedbufs --registerfiles --iodepth_batch_submit=16
# --iodepth_batch_complete_min=8; linux_aio -> fio libaio with batch 16/8; posix_aio and
# thread_pool -> fio posixaio. fileaio runs with its defaults (fast by default).
#
# CPU is user+system time of the whole process, every thread, start-up included, measured the
# same way for every program: /usr/bin/time. (fileaio's own JSON also has the CPU of the run
# alone; it is not used here, so that no side is measured more kindly.) The cached workload's file
# is read into the page cache beforehand with cat, outside any timing. Latency is submit to
# completion for both (fio with --lat_percentiles=1).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
fileaio="${FILEAIO:-$here/build/release/tools/fileaio/fileaio}"
raw_uring="${RAW_URING:-$here/build/release/bench/raw_uring}"
rounds=3
runtime=5
size=1g
file=""
workloads="cached-randread,direct-randread,direct-randwrite,seq-read-1m,mixed-flush"
backends=""
baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) rounds=1; runtime=1; size=256m; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    --runtime) runtime="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --file) file="$2"; shift 2 ;;
    --workloads) workloads="$2"; shift 2 ;;
    --backends) backends="$2"; shift 2 ;;
    --fileaio) fileaio="$2"; shift 2 ;;
    --raw-uring) raw_uring="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_fio.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in fio python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "compare_fio.sh: $tool is missing (make deps)" >&2; exit 1; }
done
[ -x "$fileaio" ] || { echo "compare_fio.sh: $fileaio not built (make build)" >&2; exit 1; }
[ -x "$raw_uring" ] || raw_uring=""
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "compare_fio.sh: --baseline $baseline is not an executable" >&2; exit 1; }

if [ -z "$backends" ]; then
  backends=$("$fileaio" info | awk '/^backends:/{f=1;next} f&&/^  [a-z_]+ +available/{print $1} f&&/^$/{exit}' | paste -sd, -)
fi
bytes=$(python3 -c 'import sys; s=sys.argv[1].lower(); m={"k":1<<10,"m":1<<20,"g":1<<30}; print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))' "$size")
file="${file:-${TMPDIR:-/tmp}/fileaio-compare-$size}"

# The file, written once with random data.
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne "$bytes" ]; then
  echo "compare_fio.sh: writing $file ($size)" >&2
  head -c "$bytes" /dev/urandom >"$file"
  sync "$file"
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# workload -> "rw bs iodepth direct extra" (extra: options both tools take alike)
workload_args() {
  case "$1" in
    cached-randread)  echo "randread 4k 32 0 --invalidate=0" ;;
    direct-randread)  echo "randread 4k 128 1 --invalidate=1" ;;
    direct-randwrite) echo "randwrite 4k 32 1 --invalidate=1" ;;
    seq-read-1m)      echo "read 1m 8 1 --invalidate=1" ;;
    mixed-flush)      echo "randrw 16k 16 1 --rwmixread=70 --fsync=64 --invalidate=1" ;;
    *) echo "compare_fio.sh: unknown workload $1" >&2; exit 2 ;;
  esac
}

# backend -> fio's engine and options (its best configuration without SQPOLL)
fio_peer() {
  case "$1" in
    io_uring)  echo "io_uring --fixedbufs --registerfiles --iodepth_batch_submit=16 --iodepth_batch_complete_min=8" ;;
    linux_aio) echo "libaio --iodepth_batch_submit=16 --iodepth_batch_complete_min=8" ;;
    posix_aio|thread_pool) echo "posixaio" ;;
    *) echo "compare_fio.sh: no fio peer for $1" >&2; exit 2 ;;
  esac
}

warm_if_cached() {  # workload: the page cache holds the file for cached runs
  [ "$1" != cached-randread ] || cat "$file" >/dev/null
}

fileaio_cmd() {  # backend workload [binary]
  local rw bs depth direct extra
  read -r rw bs depth direct extra <<<"$(workload_args "$2")"
  # shellcheck disable=SC2086
  echo "${3:-$fileaio}" bench --backend="$1" --rw="$rw" --bs="$bs" --iodepth="$depth" --direct="$direct" $extra \
    --runtime="$runtime" --filename="$file" --output-format=json
}

fio_cmd() {  # backend workload
  local rw bs depth direct extra engine peer
  read -r rw bs depth direct extra <<<"$(workload_args "$2")"
  peer="$(fio_peer "$1")"
  engine="${peer%% *}"
  [ "$engine" = "$peer" ] && peer="" || peer="${peer#* }"
  # shellcheck disable=SC2086
  echo fio --name=peer --filename="$file" --size="$size" --rw="$rw" --bs="$bs" --iodepth="$depth" \
    --direct="$direct" --ioengine="$engine" $peer $extra --time_based --runtime="$runtime" \
    --lat_percentiles=1 --output-format=json
}

run_fileaio() {  # backend workload round
  warm_if_cached "$2"
  # shellcheck disable=SC2046
  /usr/bin/time -f "%U %S" -o "$out/fileaio-$1-$2-$3.time" $(fileaio_cmd "$1" "$2") >"$out/fileaio-$1-$2-$3.json" \
    2>"$out/fileaio-$1-$2-$3.err" ||
    echo "compare_fio.sh: fileaio $1 $2 failed: $(tail -1 "$out/fileaio-$1-$2-$3.err")" >&2
}

run_baseline() {  # backend workload round
  warm_if_cached "$2"
  # shellcheck disable=SC2046
  /usr/bin/time -f "%U %S" -o "$out/base-$1-$2-$3.time" $(fileaio_cmd "$1" "$2" "$baseline") \
    >"$out/base-$1-$2-$3.json" 2>"$out/base-$1-$2-$3.err" ||
    echo "compare_fio.sh: baseline $1 $2 failed: $(tail -1 "$out/base-$1-$2-$3.err")" >&2
}

run_fio() {  # backend workload round
  warm_if_cached "$2"
  # shellcheck disable=SC2046
  /usr/bin/time -f "%U %S" -o "$out/fio-$1-$2-$3.time" $(fio_cmd "$1" "$2") >"$out/fio-$1-$2-$3.json" \
    2>"$out/fio-$1-$2-$3.err" || echo "compare_fio.sh: fio $1 $2 failed: $(tail -1 "$out/fio-$1-$2-$3.err")" >&2
}

run_raw() {  # round
  warm_if_cached cached-randread
  /usr/bin/time -f "%U %S" -o "$out/raw-$1.time" "$raw_uring" "$file" --runtime "$runtime" --iodepth 32 --batch 8 \
    >"$out/raw-$1.json" 2>"$out/raw-$1.err" ||
    echo "compare_fio.sh: raw_uring failed: $(tail -1 "$out/raw-$1.err")" >&2
}

IFS=, read -r -a wl <<<"$workloads"
IFS=, read -r -a bk <<<"$backends"
for w in "${wl[@]}"; do workload_args "$w" >/dev/null; done
for b in "${bk[@]}"; do fio_peer "$b" >/dev/null; done

runs_per_pair=2
[ -z "$baseline" ] || runs_per_pair=3
total=$(( rounds * ${#wl[@]} * ${#bk[@]} * runs_per_pair * runtime ))
echo "compare_fio.sh: ${#wl[@]} workloads x ${#bk[@]} backends x $rounds rounds, about $((total / 60)) min $((total % 60)) s" >&2
for r in $(seq 1 "$rounds"); do
  for w in "${wl[@]}"; do
    for b in "${bk[@]}"; do
      echo "compare_fio.sh: round $r/$rounds: $w $b" >&2
      if [ $((r % 2)) -eq 1 ]; then
        run_fileaio "$b" "$w" "$r"; [ -z "$baseline" ] || run_baseline "$b" "$w" "$r"; run_fio "$b" "$w" "$r"
      else
        run_fio "$b" "$w" "$r"; [ -z "$baseline" ] || run_baseline "$b" "$w" "$r"; run_fileaio "$b" "$w" "$r"
      fi
      if [ "$w" = cached-randread ] && [ "$b" = io_uring ] && [ -n "$raw_uring" ]; then
        run_raw "$r"
      fi
    done
  done
done

# The header of the table: when, where, with what.
echo "- Date: $(date -u +%Y-%m-%d)"
echo "- Machine: nproc = $(nproc), kernel $(uname -r), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || echo unknown OS)," \
     "$(df -T "$file" | awk 'NR==2{print $2}') on $(df "$file" | awk 'NR==2{print $1}')"
echo "- fio: $(fio --version); fileaio $("$fileaio" --version | awk '{print $2}') ($fileaio)"
echo "- Command: bench/compare_fio.sh --rounds $rounds --runtime $runtime --size $size --workloads $workloads --backends $backends${baseline:+ --baseline $baseline}"
[ -z "$baseline" ] || echo "- Baseline: $baseline ($("$baseline" --version | awk '{print $2}'))"
echo "- Commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "- File: $file ($size); $rounds rounds of $runtime s, medians"
echo

python3 - "$out" "$rounds" "$workloads" "$backends" "${raw_uring:+raw}" "${baseline:+base}" <<'PY'
import json, os, statistics, sys
out, rounds, workloads, backends, raw, base = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4].split(","), sys.argv[5], sys.argv[6]
peer = {"io_uring": "fio io_uring fixed+reg+batch 16/8", "linux_aio": "fio libaio batch 16/8",
        "posix_aio": "fio posixaio", "thread_pool": "fio posixaio"}

def load(path):
    try:
        with open(path) as f:
            text = f.read()
        return json.loads(text[text.index("{"):])  # fio may print notes before its JSON
    except (OSError, ValueError):
        return None

def process_cpu(path):
    """usr + sys seconds of the whole process, from /usr/bin/time -f '%U %S'."""
    try:
        usr, sys_ = map(float, open(path).read().split()[-2:])
        return usr + sys_
    except (OSError, ValueError):
        return None

def ours(b, w, r, who="fileaio"):
    d = load(f"{out}/{who}-{b}-{w}-{r}.json")
    cpu = process_cpu(f"{out}/{who}-{b}-{w}-{r}.time")
    if not d or not d.get("jobs") or cpu is None:
        return None
    j = d["jobs"][0]
    if j.get("errors") or j.get("failure"):
        return None
    ios = j["read"]["ios"] + j["write"]["ios"]
    main = j["read"] if j["read"]["ios"] else j["write"]
    return {"iops": j["read"]["iops"] + j["write"]["iops"], "per_cpu": ios / cpu if cpu > 0 else 0,
            "p99": main["lat_ns"]["p99"] / 1000.0}

def fio(b, w, r):
    d = load(f"{out}/fio-{b}-{w}-{r}.json")
    cpu = process_cpu(f"{out}/fio-{b}-{w}-{r}.time")
    if not d or not d.get("jobs") or cpu is None:
        return None
    j = d["jobs"][0]
    if j.get("error"):
        return None
    ios = j["read"]["total_ios"] + j["write"]["total_ios"]
    main = j["read"] if j["read"]["total_ios"] else j["write"]
    pct = main.get("lat_ns", {}).get("percentile", {}) or main.get("clat_ns", {}).get("percentile", {})
    return {"iops": j["read"]["iops"] + j["write"]["iops"], "per_cpu": ios / cpu if cpu > 0 else 0,
            "p99": pct.get("99.000000", 0) / 1000.0}

def raw_run(r):
    d = load(f"{out}/raw-{r}.json")
    cpu = process_cpu(f"{out}/raw-{r}.time")
    if not d or cpu is None:
        return None
    return {"iops": d["iops"], "per_cpu": d["ios"] / cpu if cpu > 0 else 0, "p99": None}

def med(runs, key):
    vals = [x[key] for x in runs if x and x.get(key) is not None]
    return statistics.median(vals) if vals else None

def fmt(x, digits=0):
    return "failed" if x is None else f"{x:,.{digits}f}"

def ratio(a, b):
    return "-" if a is None or b in (None, 0) else f"{a / b:.2f}"

print("| workload | backend | fileaio IOPS | peer | peer IOPS | IOPS ratio | fileaio IOPS/CPU-s | peer IOPS/CPU-s | per-CPU ratio | fileaio p99 µs | peer p99 µs |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for w in workloads:
    for b in backends:
        fa = [ours(b, w, r) for r in range(1, rounds + 1)]
        fp = [fio(b, w, r) for r in range(1, rounds + 1)]
        a, p = med(fa, "iops"), med(fp, "iops")
        ac, pc = med(fa, "per_cpu"), med(fp, "per_cpu")
        print(f"| {w} | {b} | {fmt(a)} | {peer[b]} | {fmt(p)} | {ratio(a, p)} | {fmt(ac)} | {fmt(pc)} | {ratio(ac, pc)} "
              f"| {fmt(med(fa, 'p99'), 1)} | {fmt(med(fp, 'p99'), 1)} |")
        if w == "cached-randread" and b == "io_uring" and raw:
            rr = [raw_run(r) for r in range(1, rounds + 1)]
            q, qc = med(rr, "iops"), med(rr, "per_cpu")
            print(f"| {w} | {b} | {fmt(a)} | raw liburing (fixed+reg, QD32, batch 8) | {fmt(q)} | {ratio(a, q)} | "
                  f"{fmt(ac)} | {fmt(qc)} | {ratio(ac, qc)} | {fmt(med(fa, 'p99'), 1)} | - |")
if base:
    print()
    print("This build against the baseline, same rounds:")
    print()
    print("| workload | backend | this IOPS | baseline IOPS | IOPS ratio | this IOPS/CPU-s | baseline IOPS/CPU-s | per-CPU ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for w in workloads:
        for b in backends:
            fa = [ours(b, w, r) for r in range(1, rounds + 1)]
            fb = [ours(b, w, r, "base") for r in range(1, rounds + 1)]
            a, q = med(fa, "iops"), med(fb, "iops")
            ac, qc = med(fa, "per_cpu"), med(fb, "per_cpu")
            print(f"| {w} | {b} | {fmt(a)} | {fmt(q)} | {ratio(a, q)} | {fmt(ac)} | {fmt(qc)} | {ratio(ac, qc)} |")
PY

echo
echo "Commands of round 1 (every round runs the same):"
echo
echo '```sh'
for w in "${wl[@]}"; do
  for b in "${bk[@]}"; do
    echo "# $w, $b"
    echo "/usr/bin/time -f '%U %S' $(fileaio_cmd "$b" "$w" | sed "s|$here/||")"
    echo "/usr/bin/time -f '%U %S' $(fio_cmd "$b" "$w")"
  done
done
[ -z "$raw_uring" ] || echo "/usr/bin/time -f '%U %S' $raw_uring $file --runtime $runtime --iodepth 32 --batch 8" | sed "s|$here/||"
echo '```'
