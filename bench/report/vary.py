#!/usr/bin/env python3
"""Vary generated NDJSON records (bench/ingest/gen.py) so that every
counting rule of the report is exercised: sampling weights, two clusters,
every way a process ends, MPI and CUDA. Reads NDJSON on stdin, writes it
on stdout; deterministic (seeded).

Used by bench/report/same_answers.sh to compare two builds' answers."""
import json
import random
import sys

rng = random.Random(7)
for line in sys.stdin:
    r = json.loads(line)
    x = rng.random()
    r["sample"] = 1.0 if x < 0.7 else (0.5 if x < 0.9 else 0.25)
    job = r.get("job")
    if job and int(job["id"]) % 3 == 0:
        job["cluster"] = "polaris"
    y = rng.random()
    if y < 0.03:
        r["ended"] = {"how": "signal", "status": None, "signal": 9}
    elif y < 0.05:
        r["ended"] = {"how": "exec", "status": None, "signal": None}
    elif y < 0.08:
        r["ended"] = {"how": "exit", "status": 2, "signal": None}
    if rng.random() < 0.05:
        r["native"]["mpi"] = ["libmpi.so.40"]
    sys.stdout.write(json.dumps(r) + "\n")
