#!/bin/bash
# Issue 12, item 2: buffered and direct writes, fileaio against fio with equal settings, in
# interleaved rounds (fileaio, fio, fileaio, fio, ...) in one run; prints every round and the
# medians. Run it under the exclusive CPU lock on a shared machine:
#
#   flock -x /work/cpu.lock bench/writes_rounds.sh WORKLOAD ROUNDS FILE [SECONDS]
#
# WORKLOAD (4 KiB blocks, QD 32, offsets uniformly random on both sides: fio --norandommap):
#   tp-randrw    thread_pool randrw 50/50, cached  vs  fio psync (one thread, iodepth 1)
#   tp-randwrite thread_pool randwrite, cached     vs  fio psync
#   aio-randrw   linux_aio randrw 50/50, cached    vs  fio libaio, batch submit 8 / complete 8
#   aio-randwrite linux_aio randwrite, cached      vs  fio libaio, batch 8/8
#   aio-direct   linux_aio randwrite, O_DIRECT     vs  fio libaio, batch 8/8
#   fio-direct-depths  fio libaio O_DIRECT randwrite at QD 1, 4, 8, 16, 32, 64 (is the device the limit?)
# fileaio bench always gets --iodepth_batch_submit=8 --iodepth_batch_complete_min=8.
# For the cached workloads FILE should be in the page cache (cat FILE >/dev/null first).
# FILEAIO (environment) names the fileaio binary; default build/release/tools/fileaio/fileaio.
# EXTRA (environment) is added to the fileaio command line (e.g. --threads=1).
# BASE (environment) names a second fileaio binary (an older build) run in each round too, so that
# before and after are measured in the same rounds: base, fileaio, fio, base, fileaio, fio, ...
set -euo pipefail

workload=$1
rounds=$2
file=$3
secs=${4:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
fileaio=${FILEAIO:-$here/build/release/tools/fileaio/fileaio}
extra=${EXTRA:-}
base=${BASE:-}

common_fio=(--name=w --filename="$file" --bs=4k --time_based --runtime="$secs" --norandommap
            --randrepeat=0 --output-format=json)
common_fa=(--bs=4k --iodepth=32 --iodepth_batch_submit=8 --iodepth_batch_complete_min=8
           --runtime="$secs" --filename="$file" --output-format=json)

case $workload in
    tp-randrw)     fa=(--backend=thread_pool --rw=randrw --direct=0 --invalidate=0)
                   fio_args=(--rw=randrw --rwmixread=50 --ioengine=psync --iodepth=1 --direct=0 --invalidate=0) ;;
    tp-randwrite)  fa=(--backend=thread_pool --rw=randwrite --direct=0 --invalidate=0)
                   fio_args=(--rw=randwrite --ioengine=psync --iodepth=1 --direct=0 --invalidate=0) ;;
    aio-randrw)    fa=(--backend=linux_aio --rw=randrw --direct=0 --invalidate=0)
                   fio_args=(--rw=randrw --rwmixread=50 --ioengine=libaio --iodepth=32 --iodepth_batch_submit=8
                             --iodepth_batch_complete_min=8 --direct=0 --invalidate=0) ;;
    aio-randwrite) fa=(--backend=linux_aio --rw=randwrite --direct=0 --invalidate=0)
                   fio_args=(--rw=randwrite --ioengine=libaio --iodepth=32 --iodepth_batch_submit=8
                             --iodepth_batch_complete_min=8 --direct=0 --invalidate=0) ;;
    aio-direct)    fa=(--backend=linux_aio --rw=randwrite --direct=1)
                   fio_args=(--rw=randwrite --ioengine=libaio --iodepth=32 --iodepth_batch_submit=8
                             --iodepth_batch_complete_min=8 --direct=1) ;;
    fio-direct-depths)
        for qd in 1 4 8 16 32 64; do
            b=$(( qd < 8 ? qd : 8 ))
            fio "${common_fio[@]}" --rw=randwrite --ioengine=libaio --direct=1 --iodepth=$qd \
                --iodepth_batch_submit=$b --iodepth_batch_complete_min=$b |
                jq -r --arg qd "$qd" '.jobs[0] | "fio libaio direct randwrite QD \($qd): \(.write.iops|floor) IOPS, p50 \(.write.clat_ns.percentile["50.000000"]/1000) us, usr+sys \(.usr_cpu+.sys_cpu|floor)%"'
        done
        exit 0 ;;
    *) echo "unknown workload $workload" >&2; exit 2 ;;
esac

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((r = 1; r <= rounds; ++r)); do
    if [ -n "$base" ]; then
        # shellcheck disable=SC2086
        "$base" bench "${common_fa[@]}" "${fa[@]}" $extra |
            jq -r '.jobs[0] | "base \(.read.iops + .write.iops) \(.iops_per_cpu_s)"' >>"$out"
    fi
    # shellcheck disable=SC2086
    "$fileaio" bench "${common_fa[@]}" "${fa[@]}" $extra |
        jq -r '.jobs[0] | "fileaio \(.read.iops + .write.iops) \(.iops_per_cpu_s)"' >>"$out"
    fio "${common_fio[@]}" "${fio_args[@]}" |
        jq -r '.jobs[0] | "fio \(.read.iops + .write.iops) \((.read.iops + .write.iops) / ((.usr_cpu + .sys_cpu) / 100))"' >>"$out"
done
python3 - "$out" "$workload" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
fa = [(float(a), float(b)) for w, a, b in rows if w == "fileaio"]
fi = [(float(a), float(b)) for w, a, b in rows if w == "fio"]
ba = [(float(a), float(b)) for w, a, b in rows if w == "base"]
print(f"{sys.argv[2]}: {len(fa)} rounds")
for i, (x, y) in enumerate(zip(fa, fi)):
    print(f"  round {i + 1}: fileaio {x[0]:10.0f} IOPS {x[1]:10.0f} IOPS/CPU-s | fio {y[0]:10.0f} IOPS {y[1]:10.0f} IOPS/CPU-s | ratio {x[0] / y[0]:.2f}")
m = lambda v: statistics.median(v)
fa_i, fa_c = m([x[0] for x in fa]), m([x[1] for x in fa])
fi_i, fi_c = m([x[0] for x in fi]), m([x[1] for x in fi])
pr = m([x[0] / y[0] for x, y in zip(fa, fi)])
if ba:
    for i, (x, y) in enumerate(zip(ba, fi)):
        print(f"  round {i + 1}: base    {x[0]:10.0f} IOPS {x[1]:10.0f} IOPS/CPU-s | ratio to fio {x[0] / y[0]:.2f}")
    ba_i, ba_c = m([x[0] for x in ba]), m([x[1] for x in ba])
    print(f"  median: base {ba_i:.0f} IOPS {ba_c:.0f} IOPS/CPU-s | ratio of medians to fio {ba_i / fi_i:.2f}, CPU ratio {ba_c / fi_c:.2f}"
          f" | fileaio / base: IOPS {fa_i / ba_i:.2f}, IOPS/CPU-s {fa_c / ba_c:.2f}")
print(f"  median: fileaio {fa_i:.0f} IOPS {fa_c:.0f} IOPS/CPU-s | fio {fi_i:.0f} IOPS {fi_c:.0f} IOPS/CPU-s"
      f" | ratio of medians {fa_i / fi_i:.2f} (median of paired ratios {pr:.2f}), CPU ratio {fa_c / fi_c:.2f}")
EOF
