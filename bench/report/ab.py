#!/usr/bin/env python3
"""Time commands side by side: ROUNDS rounds, each running every command
once in an order that rotates every round, so that the commands of a
round share the machine's load. Prints, per command, the median and the
range of wall-clock and CPU seconds (user + system of the command, from
getrusage of the children), and each command's median ratio (of the rounds' ratios) to the first.

    ab.py [--rounds N] NAME=COMMAND [NAME=COMMAND ...]

COMMAND is run by the shell with its output thrown away; a non-zero exit
fails the run. Used by bench/report/run.sh for before/after comparisons."""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def one(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = after.ru_utime - before.ru_utime
    sys_ = after.ru_stime - before.ru_stime
    return wall, user, sys_


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args()
    cmds = [c.split("=", 1) for c in a.commands]
    res = {name: [] for name, _ in cmds}
    load0 = os.getloadavg()[0]
    for r in range(a.rounds):
        k = r % len(cmds)
        for name, cmd in cmds[k:] + cmds[:k]:
            res[name].append(one(cmd))
        print(f"round {r + 1}: " + ", ".join(
            f"{n} {res[n][-1][0]:.2f}/{res[n][-1][1] + res[n][-1][2]:.2f}" for n, _ in cmds),
            file=sys.stderr)
    load1 = os.getloadavg()[0]
    print(f"{a.rounds} rounds, load average (1 min) {load0:.1f} at start, {load1:.1f} at end\n")
    print("| command | wall s (median) | wall min-max | CPU s (median) | CPU min-max | user s | system s | wall vs first | CPU vs first |")
    print("|---|---|---|---|---|---|---|---|---|")
    first = first_w = None
    for name, _ in cmds:
        w = [x[0] for x in res[name]]
        c = [x[1] + x[2] for x in res[name]]
        u = [x[1] for x in res[name]]
        s = [x[2] for x in res[name]]
        if first is None:
            first, first_w = c, w
        ratio = statistics.median(ci / max(fi, 1e-9) for ci, fi in zip(c, first))
        ratio_w = statistics.median(wi / max(fi, 1e-9) for wi, fi in zip(w, first_w))
        print(f"| {name} | {statistics.median(w):.2f} | {min(w):.2f}-{max(w):.2f} | "
              f"{statistics.median(c):.2f} | {min(c):.2f}-{max(c):.2f} | "
              f"{statistics.median(u):.2f} | {statistics.median(s):.2f} | {ratio_w:.3f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
