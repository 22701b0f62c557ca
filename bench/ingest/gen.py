#!/usr/bin/env python3
"""Generate a realistic spool of pyusage records (schema 2) for benchmarks.

    python3 bench/ingest/gen.py --out DIR [--records 200000] [--users 2000]
        [--jobs 20000] [--dists 500] [--packages 20] [--hosts 1000]
        [--envs 60] [--days 30] [--vanished 0.05] [--forks 0.05]
        [--seed 1] [--fanout] [--chown] [--ndjson FILE]

What it makes, and why it looks like a cluster's spool:
- `--jobs` Slurm jobs; each job has one software stack (an environment and
  about `--packages` distributions drawn with Zipf-like popularity from
  `--dists`), and its processes (ranks, steps, repeated runs of the script)
  share it, so many records have exactly the same package set. About 10% of
  the records are outside any job (login-node and interactive use).
- `--users` users (uid 20000 + n), each job belongs to one; `--hosts` nodes.
- Environments (`--envs`) pin one version per distribution, so versions vary
  by environment, as in real sites.
- Packages have `by` (null for the first few, the program's own imports;
  else an earlier package of the stack) and increasing `at_ms`.
- `--vanished` of the records ended `vanished` (killed, shipped by the sweep);
  `--forks` of the records have a fork child's record (`forked_from`).
- Times spread over `--days` days ending 2026-11-30.

Output: one `<id>.json` file per record in DIR (flat, or in `<id[:2]>/`
subdirectories with `--fanout`; owned by the record's uid with `--chown`), or one NDJSON file with `--ndjson FILE`
(the `pyusage export --ndjson` form). The same seed gives the same records.

To make a store of 1M processes for report benchmarks:
    python3 bench/ingest/gen.py --records 1000000 --jobs 100000 --ndjson build/bench/1m.ndjson
    pyusage ingest --db build/bench/1m.db build/bench/1m.ndjson
"""
import argparse
import bisect
import json
import os
import random

END = 1_796_083_200  # 2026-12-01T00:00:00Z


def rfc3339(us):
    import time
    s, frac = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%06dZ" % frac


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="spool directory to write (created)")
    ap.add_argument("--ndjson", help="write one NDJSON file instead of a spool")
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--dists", type=int, default=500)
    ap.add_argument("--packages", type=int, default=20, help="about this many per record")
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--envs", type=int, default=60)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--vanished", type=float, default=0.05)
    ap.add_argument("--forks", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fanout", action="store_true", help="write into <id[:2]>/ subdirectories")
    ap.add_argument("--chown", action="store_true",
                    help="give each file to the record's uid, as the tracer's files are (root only)")
    a = ap.parse_args()
    if not a.out and not a.ndjson:
        ap.error("give --out DIR or --ndjson FILE")
    rng = random.Random(a.seed)

    dists = ["pkg%03d" % i for i in range(a.dists)]
    # A few familiar names at the head of the popularity curve.
    for i, n in enumerate(["numpy", "scipy", "pandas", "matplotlib", "mpi4py", "h5py",
                           "torch", "scikit-learn", "astropy", "numba", "dask", "xarray"]):
        if i < a.dists:
            dists[i] = n
    weights = [1.0 / (r + 1) ** 1.1 for r in range(a.dists)]
    cum = []
    t = 0.0
    for w in weights:
        t += w
        cum.append(t)

    def zipf():
        return bisect.bisect_left(cum, rng.random() * t)

    versions = {d: ["%d.%d.%d" % (rng.randint(0, 3), rng.randint(0, 30), v) for v in range(rng.randint(1, 4))]
                for d in dists}
    envs = []
    for e in range(a.envs):
        label = "/sw/conda/envs/env%02d" % e if e % 3 else "site-python-%d" % e
        envs.append((label, {d: rng.choice(versions[d]) for d in dists}))
    cpython = ["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1"]

    def stack(n):
        chosen = []
        seen = set()
        while len(chosen) < n:
            d = zipf()
            if d not in seen:
                seen.add(d)
                chosen.append(dists[d])
        return chosen

    def packages(names, env):
        label, pins = env
        out = []
        at = rng.randint(20, 200)
        for i, n in enumerate(names):
            at += rng.randint(1, 40)
            # Who imports whom is a property of the code, the same in every run.
            by = None if i < 3 else names[(i * 7 + len(n)) % i]
            out.append({
                "name": n, "version": pins[n],
                "via": "extension" if i % 5 == 1 else ("library" if i % 11 == 10 else "import"),
                "env": label, "by": by, "at_ms": at,
            })
        return out

    jobs = []
    for j in range(a.jobs):
        n = max(1, int(rng.gauss(a.packages, a.packages / 4)))
        nodes = rng.choice([1, 1, 1, 2, 4, 8, 16, 64])
        gpu = rng.random() < 0.2
        jobs.append({
            "id": str(1_000_000 + j), "user": rng.randrange(a.users), "env": envs[rng.randrange(a.envs)],
            "stack": stack(n), "nodes": nodes, "tasks": nodes * rng.choice([1, 4, 32, 128]),
            "partition": "gpu" if gpu else rng.choice(["regular", "debug", "shared"]),
            "gpus": 4 if gpu else None, "cpus": rng.choice([1, 2, 4, 8]),
            "python": rng.choice(cpython), "script": "run%d.py" % rng.randrange(5000),
            "start": END * 1_000_000 - rng.randrange(a.days * 86_400 * 1_000_000),
            "host": rng.randrange(a.hosts),
        })

    if a.ndjson:
        os.makedirs(os.path.dirname(os.path.abspath(a.ndjson)), exist_ok=True)
        sink = open(a.ndjson, "w")
    else:
        os.makedirs(a.out, exist_ok=True)
        sink = None
        made = set()

    def emit(rec):
        line = json.dumps(rec, separators=(",", ":"))
        if sink:
            sink.write(line + "\n")
            return
        d = a.out
        if a.fanout:
            d = os.path.join(a.out, rec["id"][:2])
            if d not in made:
                os.makedirs(d, exist_ok=True)
                made.add(d)
        fd = os.open(os.path.join(d, rec["id"] + ".json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, (line + "\n").encode())
        if a.chown:
            os.fchown(fd, rec["uid"], rec["uid"])
        os.close(fd)

    written = 0
    pid = 1000
    while written < a.records:
        in_job = rng.random() < 0.9
        job = jobs[rng.randrange(a.jobs)]
        if in_job:
            names = job["stack"]
            env = job["env"]
            user = job["user"]
            start = job["start"] + rng.randrange(3_600_000_000)
            host = "nid%05d" % ((job["host"] + rng.randrange(job["nodes"])) % a.hosts)
            jobobj = {"scheduler": "slurm", "id": job["id"], "step": str(rng.randrange(3)), "cluster": "perlmutter",
                      "nodes": job["nodes"], "tasks": job["tasks"], "rank": rng.randrange(job["tasks"]),
                      "partition": job["partition"], "gpus": job["gpus"], "cpus_per_task": job["cpus"]}
            script, py = job["script"], job["python"]
        else:
            names = stack(max(1, int(rng.gauss(a.packages / 2, 3))))
            env = envs[rng.randrange(a.envs)]
            user = rng.randrange(a.users)
            start = END * 1_000_000 - rng.randrange(a.days * 86_400 * 1_000_000)
            host = "login%02d" % rng.randrange(8)
            jobobj = None
            script, py = rng.choice(["-c", "notebook.py", None, "-m pip"]), rng.choice(cpython)
        pid += rng.randint(1, 50)
        if pid > 4_000_000:
            pid = 1000
        vanished = rng.random() < a.vanished
        end = start + rng.randrange(1_000, 7_200_000_000)
        uid = 20_000 + user
        cuda = ["libcudart.so.12"] if jobobj and jobobj["gpus"] and "torch" in names else []
        rec = {
            "schema": 2, "id": "%032x" % rng.getrandbits(128), "pid": pid, "ppid": pid - 1, "uid": uid,
            "user": "user%04d" % user, "host": host, "exe": "/sw/python/%s/bin/python3" % ".".join(py.split(".")[:2]),
            "script": script, "notebook": None,
            "python": {"version": py, "implementation": "cpython", "prefix": env[0] if env[0].startswith("/") else "/usr"},
            "start": rfc3339(start), "end": rfc3339(end),
            "ended": {"how": "vanished", "status": None, "signal": None} if vanished
            else {"how": "exit", "status": 0 if rng.random() < 0.95 else 1, "signal": None},
            "job": jobobj, "packages": packages(names, env),
            "unmapped": ["/home/user%04d/src/mod%d.py" % (user, rng.randrange(3))] if rng.random() < 0.1 else [],
            "native": {"cuda": cuda, "mpi": ["libmpi.so.12"] if "mpi4py" in names else [],
                       "blas": ["libopenblas.so.0"] if "numpy" in names else []},
            "forked_from": None, "forks": 0, "sample": 1.0, "truncated": False,
        }
        fork = rng.random() < a.forks and written + 1 < a.records
        if fork:
            rec["forks"] = 1
        emit(rec)
        written += 1
        if fork:
            child = dict(rec)
            child["id"] = "%032x" % rng.getrandbits(128)
            child["pid"] = pid + 1
            child["ppid"] = pid
            child["forked_from"] = pid
            child["forks"] = 0
            child["packages"] = rec["packages"] + packages([n for n in ["multiprocess"] if n not in names], env) \
                if "multiprocess" in dists else rec["packages"][:-1]
            emit(child)
            written += 1
            pid += 1
    if sink:
        sink.close()


if __name__ == "__main__":
    main()
