#!/usr/bin/env python3
"""Runs a command and reports the largest resident memory it reached, split into its
anonymous part (the heap, stacks) and its file-backed part (the binary's code and read-only
data, shared libraries).

    tools/rss-split.py [--every MS] [--top N] -- COMMAND [ARGS...]

`/usr/bin/time -f %M` gives one number, and a sweep's peak moves for two unrelated reasons:
what the allocator holds, and which of the binary's code pages have been touched so far
(which also depends on the page cache, BENCHMARKS.md Figure 23). This samples
`/proc/PID/status` and `/proc/PID/smaps` every MS milliseconds (default 10) and prints the
largest anonymous and file-backed totals seen, and the N mappings (default 8) holding the
most anonymous memory at the moment of the largest anonymous total. Sampling misses
moments shorter than its period, so its peaks can be a little below the kernel's `VmHWM`,
which is printed as well. Linux only; Python's standard library only. The command's own
output is discarded, and its exit status is this script's.
"""

import argparse
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
    if args.every <= 0 or args.top < 0:
        parser.error("--every must be above 0 and --top at least 0")

    try:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as e:
        sys.exit(f"rss-split: cannot run {command[0]}: {e}")
    fields = ("RssAnon", "RssFile", "VmHWM")
    peak_anon = peak_file = peak_total = hwm = samples = 0
    mappings = []
    while child.poll() is None:
        values = status_kb(child.pid, fields)
        if values is None:
            break
        samples += 1
        anon, file = values["RssAnon"], values["RssFile"]
        hwm = max(hwm, values["VmHWM"])
        peak_file = max(peak_file, file)
        peak_total = max(peak_total, anon + file)
        if anon > peak_anon:
            peak_anon = anon
            mappings = anonymous_by_mapping(child.pid) or mappings
        time.sleep(args.every / 1000)
    status = child.wait()

    print(f"samples {samples} every {args.every:g} ms")
    print(f"peak anonymous {peak_anon} KB, peak file-backed {peak_file} KB, "
          f"peak sum {peak_total} KB, VmHWM {hwm} KB")
    if mappings:
        print("anonymous memory by mapping at the anonymous peak:")
        for kb, name in sorted((m for m in mappings if m[0]), key=lambda m: -m[0])[: args.top]:
            print(f"  {kb:>8} KB  {name}")
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
