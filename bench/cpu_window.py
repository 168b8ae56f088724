#!/usr/bin/env python3
"""Runs a command and measures its CPU over the steady state only: the user + system time of the
whole process (every thread: io_uring's io-wq and SQPOLL threads, glibc's AIO threads, libuv's
pool, fio's job threads) between SKIP seconds after the start and SKIP + WINDOW seconds, read
from /proc/PID/stat, so start-up (parsing, laying out, warming) and teardown are left out. The
same method for every program compare_fio.sh runs (fio is run with --thread so that it is one
process).

    cpu_window.py --skip S --window W --out FILE.json --cpu FILE.cpu -- COMMAND ARGS...

FILE.cpu gets one line "CPU_SECONDS WALL_SECONDS" of the window (or "nan nan" when the command
ended before the window did); the exit status is the command's.
"""
import argparse
import os
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole thread group, in seconds; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":  # exited, not yet reaped: its counters are final, but the window is broken
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15 of stat)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--skip", type=float, required=True)
    p.add_argument("--window", type=float, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--err", default=os.devnull)
    p.add_argument("--cpu", required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    with open(a.out, "w") as out, open(a.err, "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        result = "nan nan"
        time.sleep(max(0.0, start + a.skip - time.monotonic()))
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(max(0.0, t0 + a.window - time.monotonic()))
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        if c0 is not None and c1 is not None and proc.poll() is None:
            result = f"{c1 - c0:.3f} {t1 - t0:.3f}"
        rc = proc.wait()
    with open(a.cpu, "w") as f:
        f.write(result + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
