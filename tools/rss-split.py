#!/usr/bin/env python3
"""Runs a command and reports the largest resident memory it reached, split into its
anonymous part (the heap, stacks) and its file-backed part (the binary's code and read-only
data, shared libraries).

    tools/rss-split.py [--every MS] [--top N] -- COMMAND [ARGS...]

`/usr/bin/time -f %M` gives one number, and a sweep's peak moves for two unrelated reasons:
what the allocator holds, and which of the binary's code pages have been touched so far
(which also depends on the page cache, BENCHMARKS.md Figure 23). This samples
`/proc/PID/status` every MS milliseconds (default 10) and prints the largest anonymous and
file-backed totals seen, and the kernel's own peak of their sum (`VmHWM`) as of the last
sample. Sampling misses moments shorter than its period, so the two sampled peaks can sit a
little below what they reached; `VmHWM` misses only what follows the last sample. (The
`ru_maxrss` that `wait4` returns would be no better: it counts the memory of this Python
process, which the child holds between `fork` and `exec`.) It also lists the N mappings (default 8) with
the most anonymous memory, read from `/proc/PID/smaps` right after the sample with the
largest anonymous total. Only the command's own process is measured (not its children), so
give the program itself, not a shell or `time` wrapping it. Linux only; Python's standard
library only. The command's standard output is discarded, its standard error passes
through, and its exit status is this script's.
"""

import argparse
import math
import os
import re
import subprocess
import sys
import time

MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def status_kb(pid, fields):
    """The given `/proc/PID/status` fields in KB; None once the process has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in fields:
            values[name] = int(rest.split()[0])
    return values if len(values) == len(fields) else None


def anonymous_by_mapping(pid):
    """(anonymous KB, mapping) for each mapping in `/proc/PID/smaps`; [] once it has gone."""
    try:
        with open(f"/proc/{pid}/smaps") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        if MAPPING.match(line):
            parts = line.split()
            name = parts[5] if len(parts) > 5 else "[anonymous]"
            out.append([0, f"{parts[0]} {parts[1]} {name}"])
        elif line.startswith("Anonymous:") and out:
            out[-1][0] = int(line.split()[1])
    return out


def main():
    parser = argparse.ArgumentParser(
        description="Peak anonymous and file-backed RSS of a command (see the file's header)."
    )
    parser.add_argument("--every", type=float, default=10, metavar="MS", help="sampling period in ms (default 10)")
    parser.add_argument("--top", type=int, default=8, metavar="N", help="mappings to list (default 8)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    if not (math.isfinite(args.every) and args.every > 0) or args.top < 0:
        parser.error("--every must be a number above 0, and --top at least 0")
    if not os.path.exists("/proc/self/status"):
        sys.exit("rss-split: needs Linux's /proc")

    try:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    except OSError as e:
        sys.exit(f"rss-split: cannot run {command[0]}: {e}")
    fields = ("RssAnon", "RssFile", "VmHWM")
    peak_anon = peak_file = hwm = samples = 0
    mappings = []
    while child.poll() is None:
        values = status_kb(child.pid, fields)
        if values is not None:
            samples += 1
            anon, file = values["RssAnon"], values["RssFile"]
            peak_file = max(peak_file, file)
            hwm = max(hwm, values["VmHWM"])
            if anon > peak_anon:
                peak_anon = anon
                mappings = anonymous_by_mapping(child.pid) or mappings
        time.sleep(args.every / 1000)

    print(f"samples {samples} every {args.every:g} ms")
    if not samples:
        print("the command ended before the first sample: nothing was measured")
    else:
        print(f"peak anonymous {peak_anon} KB, peak file-backed {peak_file} KB (sampled)")
        print(f"VmHWM {hwm} KB (the kernel's peak of their sum, as of the last sample)")
    listed = sorted((m for m in mappings if m[0]), key=lambda m: -m[0])[: args.top]
    if listed:
        print("anonymous memory by mapping, read after the sample with the most:")
        for kb, name in listed:
            print(f"  {kb:>8} KB  {name}")
    code = child.returncode
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
