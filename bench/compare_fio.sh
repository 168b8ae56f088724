#!/usr/bin/env bash
# Runs the standard workloads of BENCHMARKS.md through `fileaio bench` and through the strongest
# peers of each backend, in one sitting, interleaved round after round, and prints the table of
# the medians as Markdown (what `make compare` writes to build/compare/PERFORMANCE-table.md).
#
#   bench/compare_fio.sh [--quick] [--rounds N] [--runtime S] [--size SIZE] [--cached-size SIZE]
#                        [--dir DIR] [--workloads a,b] [--backends a,b] [--norandommap]
#                        [--keep DIR] [--hold CMD] [--fileaio PATH] [--baseline PATH]
#
#   --quick      a short run to see that everything works: 1 round, 1 s each, small files
#   --rounds N   rounds (default 5); each round runs every workload x backend: fileaio and each
#                of its peers back to back, the order reversed every other round
#   --runtime S  seconds per run (default 3)
#   --size SIZE  the file of the direct workloads (default 1g, as BENCHMARKS.md says)
#   --cached-size SIZE  the file of the cached workloads (default 256m), read into the page cache
#                before every run (and, for writes, flushed first: each run starts clean)
#   --dir DIR    where the two files live (default $TMPDIR or /tmp)
#   --norandommap  independent random offsets on every side (default: fio's random map, every
#                block once per pass, on every side: fio, fileaio bench, raw_uring, uv_bench)
#   --keep DIR   keep every run's raw output (JSON, stderr, CPU window) in DIR
#   --hold CMD   run each workload's rounds as one command under CMD, e.g. --hold 'flock -x
#                /work/cpu.lock' on a shared machine: the lock is held for one workload at a
#                time and released in between (all rounds of a workload stay in one hold)
#   --baseline PATH  another fileaio binary (an earlier commit's build) run in the same rounds,
#                right after this one's run; a second table compares the two (a build without
#                --iodepth_batch_complete_max runs without it: it took every completion at once,
#                unlike the other sides wherever their max is QD/4; the table says so)
#
# Workloads (default: all): cached-randread, cached-randrw, cached-randwrite, direct-randread,
# direct-randwrite, seq-read-1m, mixed-flush, direct-qd1, two-jobs. Backends (default: every
# available one, from `fileaio info`).
#
# Like for like (BENCHMARKS.md):
# - Batching: both sides get the same explicit values, --iodepth_batch_submit=QD (every free
#   request in one submit call: fileaio bench's default), --iodepth_batch_complete_min=QD/4
#   (at least 1; fileaio bench's default) and --iodepth_batch_complete_max: QD for io_uring on
#   the cached workloads (every completion, then one refill: faster there for fio and fileaio
#   alike), QD/4 everywhere else (fio's default, the min: the backends that hand I/O to threads,
#   and the device, are kept busy while the job thread refills; fileaio bench's defaults are the
#   same). Every run of one backend's row, fileaio and its peers, gets the same values: fio's
#   engines with a queue (io_uring, libaio, posixaio), bench/raw_uring (--batch/--batch-max) and
#   fileaio get exactly these; psync has no queue (QD1 by nature).
# - Offsets: the same random-map setting on every side.
# - CPU: the whole process (every thread) over the steady state, the same way for every program:
#   bench/cpu_window.py reads /proc/PID/stat from SKIP s after the start to SKIP + WINDOW s (about
#   the middle of the run), fio with --thread so that it is one process. fio's own job usr/sys is
#   not used for the ratio: fio takes it with getrusage(RUSAGE_THREAD) of the job thread, which
#   leaves out io_uring's io-wq and SQPOLL threads and glibc's AIO threads. Both tools' own
#   figures are in the detail table (fileaio: getrusage(RUSAGE_SELF) around its run).
# - Latency: fileaio's is submit to reaped (the clock read before fileaio_ctx_submit, again when
#   the wait returns it). That is fio's total latency "lat" (issue to reaped, --lat_percentiles=1),
#   not "clat" (which starts after the submit call); the detail table shows fio's clat too.
#
# Peers: io_uring -> fio io_uring --fixedbufs --registerfiles (and fio with --sqthread_poll=1
# against fileaio --sqthread_poll=1 on the cached randread/randrw workloads) and bench/raw_uring
# on the cached workloads; linux_aio -> fio libaio; thread_pool -> fio psync (one thread per job,
# no queue), fio posixaio, and libuv's thread pool (bench/uv_bench) on the cached workloads;
# posix_aio -> fio posixaio. `fileaio bench` has no shared-context mode: two-jobs is two jobs with
# a context each, on every side.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
fileaio="${FILEAIO:-$here/build/release/tools/fileaio/fileaio}"
raw_uring="${RAW_URING:-$here/build/release/bench/raw_uring}"
uv_bench="${UV_BENCH:-$here/build/release/bench/uv_bench}"
cpu_window="$here/bench/cpu_window.py"
rounds=5
runtime=3
size=1g
cached_size=256m
dir="${TMPDIR:-/tmp}"
all_workloads="cached-randread,cached-randrw,cached-randwrite,direct-randread,direct-randwrite,seq-read-1m,mixed-flush,direct-qd1,two-jobs"
workloads="$all_workloads"
backends=""
baseline=""
keep=""
norandommap=0
hold=""
mode=all  # all, measure (--measure-only: the rounds, no table) or table (--table-only: from --keep)
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) rounds=1; runtime=1; size=256m; cached_size=64m; shift ;;
    --rounds) rounds="$2"; shift 2 ;;
    --runtime) runtime="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --cached-size) cached_size="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --workloads) workloads="$2"; shift 2 ;;
    --backends) backends="$2"; shift 2 ;;
    --norandommap) norandommap=1; shift ;;
    --keep) keep="$2"; shift 2 ;;
    --hold) hold="$2"; shift 2 ;;
    --measure-only) mode=measure; shift ;;
    --table-only) mode=table; shift ;;
    --fileaio) fileaio="$2"; shift 2 ;;
    --raw-uring) raw_uring="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_fio.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$workloads" ] || workloads="$all_workloads"
for tool in fio python3; do
  command -v "$tool" >/dev/null || { echo "compare_fio.sh: $tool is missing (make deps)" >&2; exit 1; }
done
[ -x "$fileaio" ] || { echo "compare_fio.sh: $fileaio not built (make build)" >&2; exit 1; }
[ -x "$raw_uring" ] || raw_uring=""
[ -x "$uv_bench" ] || uv_bench=""
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "compare_fio.sh: --baseline $baseline is not an executable" >&2; exit 1; }
baseline_has_max=0
[ -z "$baseline" ] || ! "$baseline" bench --help 2>&1 | grep -q -- --iodepth_batch_complete_max || baseline_has_max=1

if [ -z "$backends" ]; then
  backends=$("$fileaio" info | awk '/^backends:/{f=1;next} f&&/^  [a-z_]+ +available/{print $1} f&&/^$/{exit}' | paste -sd, -)
fi
to_bytes() { python3 -c 'import sys; s=sys.argv[1].lower(); m={"k":1<<10,"m":1<<20,"g":1<<30}; print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))' "$1"; }
mkdir -p "$dir"
direct_file="$dir/fileaio-compare-$size"
cached_file="$dir/fileaio-compare-cached-$cached_size"
for f in "$direct_file:$size" "$cached_file:$cached_size"; do  # written once with random data
  path="${f%:*}"; bytes=$(to_bytes "${f##*:}")
  # with --hold, inside the hold (writing 1 GiB of random data is work too); not for the table
  if [ "$mode" != table ] && { [ -z "$hold" ] || [ "$mode" = measure ]; } &&
     { [ ! -f "$path" ] || [ "$(stat -c %s "$path")" -ne "$bytes" ]; }; then
    echo "compare_fio.sh: writing $path (${f##*:})" >&2
    head -c "$bytes" /dev/urandom >"$path"
    sync "$path"
  fi
done

out="${keep:-$(mktemp -d)}"
mkdir -p "$out"
[ -n "$keep" ] || trap 'rm -rf "$out"' EXIT

# The commit measured is the one checked out when the measuring starts (a long run may see new
# commits land before it writes the table); --table-only reuses what the measuring run recorded.
if [ "$mode" != table ] || [ ! -s "$out/commit" ]; then
  commit="$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  # dirty: uncommitted changes to anything but documentation (which cannot change a figure)
  git -C "$here" diff --quiet HEAD -- . ':!docs' ':!*.md' 2>/dev/null || commit="$commit-dirty (uncommitted changes)"
  [ "$mode" = table ] || echo "$commit" >"$out/commit"
fi
[ -s "$out/commit" ] && commit="$(cat "$out/commit")"

# The CPU window: from skip s after the start to skip + window s (inside the run, past start-up).
read -r skip window <<<"$(python3 -c 'import sys; r=float(sys.argv[1]); s=min(0.5, r/4); print(s, round(r-s-0.1, 3))' "$runtime")"

# workload -> "rw bs iodepth direct numjobs file-kind extra" (extra: options both tools take alike)
workload_args() {
  case "$1" in
    cached-randread)  echo "randread 4k 32 0 1 cached --invalidate=0" ;;
    cached-randrw)    echo "randrw 4k 32 0 1 cached --invalidate=0 --rwmixread=50" ;;
    cached-randwrite) echo "randwrite 4k 32 0 1 cached --invalidate=0" ;;
    direct-randread)  echo "randread 4k 128 1 1 direct --invalidate=1" ;;
    direct-randwrite) echo "randwrite 4k 32 1 1 direct --invalidate=1" ;;
    seq-read-1m)      echo "read 1m 8 1 1 direct --invalidate=1" ;;
    mixed-flush)      echo "randrw 16k 16 1 1 direct --invalidate=1 --rwmixread=70 --fsync=64" ;;
    direct-qd1)       echo "randread 4k 1 1 1 direct --invalidate=1" ;;
    two-jobs)         echo "randread 4k 32 0 2 cached --invalidate=0" ;;
    *) echo "compare_fio.sh: unknown workload $1" >&2; exit 2 ;;
  esac
}

# The runs of one workload x backend, fileaio's first: "who" ids. fileaio runs (fa, fa-sqpoll,
# base) and peers (fio-uring, fio-sqpoll, raw, fio-libaio, fio-psync, fio-posixaio, uv).
runs_of() {  # backend workload
  local rw bs depth direct jobs kind extra
  read -r rw bs depth direct jobs kind extra <<<"$(workload_args "$2")"
  local list="fa"
  [ -z "$baseline" ] || list="$list base"
  case "$1" in
    io_uring)
      list="$list fio-uring"
      case "$2" in cached-randread|cached-randrw) list="$list fa-sqpoll fio-sqpoll" ;; esac
      [ -z "$raw_uring" ] || [ "$kind" != cached ] || [ "$jobs" != 1 ] || list="$list raw" ;;
    linux_aio) list="$list fio-libaio" ;;
    thread_pool)
      list="$list fio-psync fio-posixaio"
      [ -z "$uv_bench" ] || [ "$kind" != cached ] || [ "$jobs" != 1 ] || list="$list uv" ;;
    posix_aio) list="$list fio-posixaio" ;;
    *) echo "compare_fio.sh: no peers for $1" >&2; exit 2 ;;
  esac
  echo "$list"
}

# The command of one run, on one line.
run_cmd() {  # who backend workload
  local rw bs depth direct jobs kind extra file bsub bcmin
  read -r rw bs depth direct jobs kind extra <<<"$(workload_args "$3")"
  file="$direct_file"; [ "$kind" = cached ] && file="$cached_file"
  bsub="$depth"; bcmin=$(( depth / 4 > 0 ? depth / 4 : 1 ))
  # At most: every completion for io_uring's page-cache I/O (faster for fio too), else the min.
  local bcmax="$bcmin"; [ "$kind" != cached ] || [ "$2" != io_uring ] || bcmax="$depth"
  local map=""; [ "$norandommap" = 0 ] || map="--norandommap"
  local batch="--iodepth_batch_submit=$bsub --iodepth_batch_complete_min=$bcmin --iodepth_batch_complete_max=$bcmax"
  local fio_common="fio --name=peer --filename=$file --rw=$rw --bs=$bs --direct=$direct --numjobs=$jobs --thread --group_reporting $extra $map --time_based --runtime=$runtime --lat_percentiles=1 --output-format=json"
  case "$1" in
    fa|fa-sqpoll|base)
      local bin="$fileaio" sq=""
      if [ "$1" = base ]; then
        bin="$baseline"
        # A build older than --iodepth_batch_complete_max took every completion at once.
        [ "$baseline_has_max" = 1 ] || batch="${batch% --iodepth_batch_complete_max=*}"
      fi
      [ "$1" = fa-sqpoll ] && sq="--sqthread_poll=1"
      echo "$bin bench --backend=$2 --rw=$rw --bs=$bs --iodepth=$depth --direct=$direct --numjobs=$jobs $extra $batch $map $sq --runtime=$runtime --filename=$file --output-format=json" ;;
    fio-uring)    echo "$fio_common --ioengine=io_uring --iodepth=$depth --fixedbufs --registerfiles $batch" ;;
    fio-sqpoll)   echo "$fio_common --ioengine=io_uring --iodepth=$depth --fixedbufs --registerfiles --sqthread_poll=1 $batch" ;;
    fio-libaio)   echo "$fio_common --ioengine=libaio --iodepth=$depth $batch" ;;
    fio-posixaio) echo "$fio_common --ioengine=posixaio --iodepth=$depth $batch" ;;
    fio-psync)    echo "$fio_common --ioengine=psync --iodepth=1" ;;
    raw)          echo "$raw_uring $file --rw $rw ${extra//--invalidate=0/} --runtime $runtime --iodepth $depth --batch $bcmin --batch-max $bcmax ${map}" | sed 's/--rwmixread=/--rwmixread /' ;;
    uv)           echo "$uv_bench $file --rw $rw ${extra//--invalidate=0/} --bs 4096 --iodepth $depth --runtime $runtime ${map}" | sed 's/--rwmixread=/--rwmixread /' ;;
  esac
}

prepare() {  # workload: a clean page cache state for the cached file, nothing dirty
  local kind
  kind="$(workload_args "$1" | awk '{print $6}')"
  if [ "$kind" = cached ]; then
    sync "$cached_file"
    cat "$cached_file" >/dev/null
  fi
}

run_one() {  # who backend workload round
  local tag="$1-$2-$3-$4"
  prepare "$3"
  # shellcheck disable=SC2046
  python3 "$cpu_window" --skip "$skip" --window "$window" --out "$out/$tag.json" --err "$out/$tag.err" \
    --cpu "$out/$tag.cpu" -- $(run_cmd "$1" "$2" "$3") ||
    echo "compare_fio.sh: $1 $2 $3 failed: $(tail -1 "$out/$tag.err")" >&2
}

IFS=, read -r -a wl <<<"$workloads"
IFS=, read -r -a bk <<<"$backends"
if [ -n "$hold" ] && [ "$mode" = all ]; then  # each workload in its own hold, then the table
  [ -n "$keep" ] || { echo "compare_fio.sh: --hold needs --keep DIR" >&2; exit 2; }
  for w in "${wl[@]}"; do
    # shellcheck disable=SC2086
    $hold "$0" "${args[@]}" --backends "$backends" --workloads "$w" --measure-only
  done
  exec "$0" "${args[@]}" --backends "$backends" --table-only
fi
runs=0
for w in "${wl[@]}"; do
  workload_args "$w" >/dev/null
  for b in "${bk[@]}"; do
    r="$(runs_of "$b" "$w")"; runs=$(( runs + $(wc -w <<<"$r") ))
  done
done
total=$(( rounds * runs * (runtime * 10 + 5) / 10 ))
[ "$mode" = table ] || echo "compare_fio.sh: ${#wl[@]} workloads x ${#bk[@]} backends, $runs runs of ${runtime} s per round, $rounds rounds: about $((total / 60)) min $((total % 60)) s" >&2
[ "$mode" != table ] || rounds_to_run=0
for r in $(seq 1 "${rounds_to_run:-$rounds}"); do
  for w in "${wl[@]}"; do
    for b in "${bk[@]}"; do
      echo "compare_fio.sh: round $r/$rounds: $w $b" >&2
      order="$(runs_of "$b" "$w")"
      [ $((r % 2)) -eq 1 ] || order="$(echo "$order" | tr ' ' '\n' | tac | paste -sd' ' -)"
      for who in $order; do run_one "$who" "$b" "$w" "$r"; done
    done
  done
done

[ "$mode" != measure ] || exit 0

# The header of the table: what was measured, where, with what.
echo "- Commit measured: \`$commit\`; date $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- Machine: nproc = $(nproc), $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)," \
     "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || echo unknown OS); files on" \
     "$(df -T "$dir" | awk 'NR==2{print $2}') ($(df "$dir" | awk 'NR==2{print $1}'))"
echo "- Tools: $(fio --version); fileaio $("$fileaio" --version | awk '{print $2}')${uv_bench:+; libuv $(pkg-config --modversion libuv 2>/dev/null || echo '?')}${raw_uring:+; liburing $(pkg-config --modversion liburing 2>/dev/null || echo '?')}"
echo "- Command: \`bench/compare_fio.sh$([ -z "$hold" ] || echo " --hold '$hold'") --rounds $rounds --runtime $runtime --size $size --cached-size $cached_size --workloads $workloads --backends $backends$([ "$norandommap" = 0 ] || echo ' --norandommap')${baseline:+ --baseline $baseline}\`"
echo "- $rounds interleaved rounds of $runtime s per run, medians (ratio of the medians; \"rounds\" is the range of the per-round ratios)." \
     "Offsets: $([ "$norandommap" = 0 ] && echo "fio's random map on every side" || echo "--norandommap on every side")." \
     "Batch: submit QD, complete_min QD/4, complete_max QD (io_uring, cached) or QD/4 (every other row) on every side. CPU: whole process, all threads, over ${window} s from ${skip} s into each run (bench/cpu_window.py)."
[ -z "$baseline" ] || [ "$baseline_has_max" = 1 ] || echo "- The baseline has no --iodepth_batch_complete_max: it ran without it, taking every completion per wait, so its rows with complete_max QD/4 on the other sides are not like for like."
echo

python3 - "$out" "$rounds" "$workloads" "$backends" "${baseline:+base}" "$(for w in "${wl[@]}"; do for b in "${bk[@]}"; do echo "$w:$b:$(runs_of "$b" "$w" | tr ' ' '+')"; done; done | paste -sd, -)" <<'PY'
import json, math, statistics, sys
out, rounds, workloads, backends, base, plan = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4].split(","), sys.argv[5], sys.argv[6]
runs = {}
for item in plan.split(","):
    w, b, who = item.split(":")
    runs[(w, b)] = who.split("+")
name = {"fio-uring": "fio io_uring fixedbufs+registerfiles", "fio-sqpoll": "fio io_uring fixed+reg+sqthread_poll",
        "raw": "raw liburing loop (bench/raw_uring)", "fio-libaio": "fio libaio", "fio-psync": "fio psync (1 thread/job, QD1)",
        "fio-posixaio": "fio posixaio", "uv": "libuv thread pool (bench/uv_bench)"}

def load(path):
    try:
        with open(path) as f:
            text = f.read()
        return json.loads(text[text.index("{"):])  # fio may print notes before its JSON
    except (OSError, ValueError):
        return None

def window_cpu(tag):
    """CPU-seconds per second over the steady-state window (cores busy)."""
    try:
        cpu, wall = map(float, open(f"{out}/{tag}.cpu").read().split())
    except (OSError, ValueError):
        return None
    return None if math.isnan(cpu) or wall <= 0 else cpu / wall

def result(who, b, w, r):
    tag = f"{who}-{b}-{w}-{r}"
    d = load(f"{out}/{tag}.json")
    rate = window_cpu(tag)
    if not d:
        return None
    res = {"own_cpu": None, "p50": None, "p99": None, "clat_p50": None, "clat_p99": None}
    if who in ("fa", "fa-sqpoll", "base"):
        if not d.get("jobs"):
            return None
        j = d["jobs"][0]
        if j.get("errors") or j.get("failure"):
            return None
        res["iops"] = j["read"]["iops"] + j["write"]["iops"]
        ios = j["read"]["ios"] + j["write"]["ios"]
        cpu = j["cpu"]["usr_s"] + j["cpu"]["sys_s"]
        res["own_cpu"] = ios / cpu if cpu > 0 else None
        main = j["read"] if j["read"]["ios"] else j["write"]
        res["p50"], res["p99"] = main["lat_ns"]["p50"] / 1000.0, main["lat_ns"]["p99"] / 1000.0
    elif who in ("raw", "uv"):
        if d.get("errors"):
            return None
        res["iops"] = d["iops"]
        cpu = d["usr_s"] + d["sys_s"]
        res["own_cpu"] = d["ios"] / cpu if cpu > 0 else None
    else:
        if not d.get("jobs"):
            return None
        j = d["jobs"][0]
        if j.get("error"):
            return None
        res["iops"] = j["read"]["iops"] + j["write"]["iops"]
        ios = j["read"]["total_ios"] + j["write"]["total_ios"]
        cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100.0 * j["job_runtime"] / 1000.0  # fio: the job thread only
        res["own_cpu"] = ios / cpu if cpu > 0 else None
        main = j["read"] if j["read"]["total_ios"] else j["write"]
        lat = main.get("lat_ns", {}).get("percentile", {})
        clat = main.get("clat_ns", {}).get("percentile", {})
        res["p50"], res["p99"] = lat.get("50.000000", 0) / 1000.0 or None, lat.get("99.000000", 0) / 1000.0 or None
        res["clat_p50"], res["clat_p99"] = clat.get("50.000000", 0) / 1000.0 or None, clat.get("99.000000", 0) / 1000.0 or None
    res["per_cpu"] = res["iops"] / rate if rate else None
    res["cores"] = rate
    return res

def med(rs, key):
    vals = [x[key] for x in rs if x and x.get(key) is not None]
    return statistics.median(vals) if vals else None

def fmt(x, digits=0):
    return "failed" if x is None else f"{x:,.{digits}f}"

def ratio(a, b):
    return "-" if a is None or b in (None, 0) else f"{a / b:.2f}"

def spread(xs, ys):
    rs = [x["iops"] / y["iops"] for x, y in zip(xs, ys) if x and y and y["iops"]]
    return "-" if not rs else f"{min(rs):.2f}–{max(rs):.2f}"

def pairs(w, b):
    who = runs[(w, b)]
    for peer in who:
        if peer in ("fa", "fa-sqpoll", "base"):
            continue
        mine = "fa-sqpoll" if peer == "fio-sqpoll" else "fa"
        yield mine, peer

R = range(1, rounds + 1)
print("| workload | backend | fileaio | peer | fileaio IOPS | peer IOPS | IOPS ratio | rounds | fileaio IOPS/CPU-s | peer IOPS/CPU-s | per-CPU ratio | fileaio p50 / p99 µs | peer p50 / p99 µs (fio lat) |")
print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
detail = []
for w in workloads:
    for b in backends:
        for mine, peer in pairs(w, b):
            fa = [result(mine, b, w, r) for r in R]
            fp = [result(peer, b, w, r) for r in R]
            a, p = med(fa, "iops"), med(fp, "iops")
            ac, pc = med(fa, "per_cpu"), med(fp, "per_cpu")
            lat_a = "-" if med(fa, "p50") is None else f"{fmt(med(fa, 'p50'), 1)} / {fmt(med(fa, 'p99'), 1)}"
            lat_p = "-" if med(fp, "p50") is None else f"{fmt(med(fp, 'p50'), 1)} / {fmt(med(fp, 'p99'), 1)}"
            label = "defaults + sqthread_poll" if mine == "fa-sqpoll" else "defaults"
            print(f"| {w} | {b} | {label} | {name[peer]} | {fmt(a)} | {fmt(p)} | **{ratio(a, p)}** | {spread(fa, fp)} "
                  f"| {fmt(ac)} | {fmt(pc)} | {ratio(ac, pc)} | {lat_a} | {lat_p} |")
            clat = "-" if med(fp, "clat_p50") is None else f"{fmt(med(fp, 'clat_p50'), 1)} / {fmt(med(fp, 'clat_p99'), 1)}"
            detail.append(f"| {w} | {b} | {label} | {name[peer]} | {fmt(med(fa, 'cores'), 2)} | {fmt(med(fp, 'cores'), 2)} "
                          f"| {fmt(med(fa, 'own_cpu'))} | {fmt(med(fp, 'own_cpu'))} | {clat} |")
print()
print("Detail: cores busy in the CPU window (whole process), each tool's own IOPS per CPU-second (fileaio, raw_uring,")
print("uv_bench: getrusage(RUSAGE_SELF) around the run; fio: its job usr_cpu + sys_cpu, the job thread only, so it")
print("leaves out io-wq, SQPOLL and glibc AIO threads), and fio's clat (submit call returned to reaped):")
print()
print("| workload | backend | fileaio | peer | fileaio cores | peer cores | fileaio own IOPS/CPU-s | peer own IOPS/CPU-s | peer clat p50 / p99 µs |")
print("|---|---|---|---|---:|---:|---:|---:|---:|")
print("\n".join(detail))
if base:
    print()
    print("This build against the baseline, same rounds:")
    print()
    print("| workload | backend | this IOPS | baseline IOPS | IOPS ratio | this IOPS/CPU-s | baseline IOPS/CPU-s | per-CPU ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for w in workloads:
        for b in backends:
            fa = [result("fa", b, w, r) for r in R]
            fb = [result("base", b, w, r) for r in R]
            a, q = med(fa, "iops"), med(fb, "iops")
            ac, qc = med(fa, "per_cpu"), med(fb, "per_cpu")
            print(f"| {w} | {b} | {fmt(a)} | {fmt(q)} | {ratio(a, q)} | {fmt(ac)} | {fmt(qc)} | {ratio(ac, qc)} |")
PY

echo
echo "Commands of round 1 (every round runs the same; each under bench/cpu_window.py --skip $skip --window $window):"
echo
echo '```sh'
for w in "${wl[@]}"; do
  for b in "${bk[@]}"; do
    echo "# $w, $b"
    for who in $(runs_of "$b" "$w"); do run_cmd "$who" "$b" "$w" | sed "s|$here/||g"; done
  done
done
echo '```'
