#!/usr/bin/env python3
"""Baseline for `pyusage ingest`: plain Python `json` + `sqlite3`.

    python3 bench/ingest/baseline_sqlite.py STORE SPOOL|NDJSON

STORE must already hold the pyusage schema (bench/ingest/run.sh creates it
with `pyusage ingest` of an empty directory), so both write the same tables
the same way: dimension rows looked up in dicts, each distinct package set
stored once under the same SHA-256 digest, one `processes` row per record,
unmapped paths, first-import times as a JSON array; files owned by their
uid (an NDJSON line: the uid it states); the spool file removed after its
batch commits. It does not validate
beyond `json.loads`, and does not resolve duplicates (INSERT OR IGNORE).
"""
import hashlib
import json
import os
import pwd
import sqlite3
import sys
import time

BATCH = 5000


def us(ts):
    # 2026-11-26T06:30:00.123456Z
    t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    import calendar
    return calendar.timegm(t) * 1_000_000 + int(ts[20:26])


def records(source):
    """(path or None, owner uid, record) of each record: a spool's files
    (owner: the file's), or an NDJSON file's lines (owner: the record's)."""
    if os.path.isfile(source):
        with open(source, "rb") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    yield None, r["uid"], r
        return
    for e in os.scandir(source):
        if not e.name.endswith(".json"):
            continue
        with open(e.path, "rb") as f:
            st = os.fstat(f.fileno())
            r = json.loads(f.read())
        yield e.path, st.st_uid, r


def main():
    store, spool = sys.argv[1], sys.argv[2]
    c = sqlite3.connect(store)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    maxid = {}
    for t in ["hosts", "users", "jobs", "interpreters", "envs", "dists", "releases", "package_sets",
              "unmapped_paths", "processes"]:
        maxid[t] = c.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
    dims = {t: {} for t in maxid}
    names = {}
    rows = {t: [] for t in list(maxid) + ["members", "links"]}

    def dim(table, key, row):
        d = dims[table]
        i = d.get(key)
        if i is None:
            maxid[table] += 1
            i = d[key] = maxid[table]
            rows[table].append((i,) + row)
        return i

    def flush(files):
        c.executemany("INSERT INTO hosts (id, name) VALUES (?, ?)", rows["hosts"])
        c.executemany("INSERT INTO users (id, uid, name) VALUES (?, ?, ?)", rows["users"])
        c.executemany("INSERT INTO jobs (id, scheduler, cluster, job_id, partition, nodes, tasks, gpus, cpus_per_task) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["jobs"])
        c.executemany("INSERT INTO interpreters (id, implementation, version) VALUES (?, ?, ?)", rows["interpreters"])
        c.executemany("INSERT INTO envs (id, label) VALUES (?, ?)", rows["envs"])
        c.executemany("INSERT INTO dists (id, name) VALUES (?, ?)", rows["dists"])
        c.executemany("INSERT INTO releases (id, dist, version) VALUES (?, ?, ?)", rows["releases"])
        c.executemany("INSERT INTO package_sets (id, digest, size) VALUES (?, ?, ?)", rows["package_sets"])
        c.executemany("INSERT INTO package_set_members (package_set, ord, release, env, via, by_dist) "
                      "VALUES (?, ?, ?, ?, ?, ?)", rows["members"])
        c.executemany("INSERT INTO unmapped_paths (id, path) VALUES (?, ?)", rows["unmapped_paths"])
        c.executemany(
            "INSERT OR IGNORE INTO processes (id, record_id, schema, host, owner, claimed_uid, claimed_user, "
            "claim_differs, job, step, rank, pid, ppid, exe, script, notebook, interpreter, prefix, start_us, end_us, "
            "ended_how, ended_status, ended_signal, forked_from, parent, forks, sample, truncated, cuda, mpi, blas, "
            "package_set, import_ms, ingested_us) VALUES (" + ", ".join("?" * 34) + ")", rows["processes"])
        c.executemany("INSERT INTO process_unmapped (process, path) VALUES (?, ?)", rows["links"])
        c.commit()
        for f in files:
            os.unlink(f)
        for k in rows:
            rows[k] = []

    def dist(name):
        return dim("dists", name, (name,))

    files = []
    pending = 0
    now = int(time.time() * 1e6)
    for path, uid, r in records(spool):
        if uid not in names:
            try:
                names[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                names[uid] = None
        host = dim("hosts", r["host"], (r["host"],))
        owner = dim("users", (uid, names[uid]), (uid, names[uid]))
        j = r["job"]
        job = None
        if j:
            key = (j["scheduler"], j["cluster"], j["id"], j.get("partition"), j["nodes"], j["tasks"],
                   j.get("gpus"), j.get("cpus_per_task"))
            job = dim("jobs", key, key)
        py = r["python"]
        interp = dim("interpreters", (py["implementation"], py["version"]), (py["implementation"], py["version"]))
        members = sorted(((p["name"], p["version"], p["env"], p["via"], p.get("by")), p.get("at_ms"))
                         for p in r["packages"])
        text = "".join(json.dumps(list(m), separators=(",", ":"), ensure_ascii=False) + "\n" for m, _ in members)
        digest = hashlib.sha256(text.encode()).hexdigest()
        pset = dims["package_sets"].get(digest)
        if pset is None:
            pset = dim("package_sets", digest, (digest, len(members)))
            for ord_, ((name, version, env, via, by), _) in enumerate(members):
                d = dist(name)
                rel = dim("releases", (d, version), (d, version))
                envid = dim("envs", env, (env,)) if env is not None else None
                rows["members"].append((pset, ord_, rel, envid, via, dist(by) if by else None))
        times = [t for _, t in members]
        maxid["processes"] += 1
        pid = maxid["processes"]
        for u in r["unmapped"]:
            rows["links"].append((pid, dim("unmapped_paths", u, (u,))))
        nat = r["native"]
        rows["processes"].append((
            pid, r["id"], r["schema"], host, owner, r["uid"], r["user"], int(uid != r["uid"]), job,
            j["step"] if j else None, j["rank"] if j else None, r["pid"], r["ppid"], r["exe"], r["script"],
            r.get("notebook"), interp, py["prefix"], us(r["start"]), us(r["end"]), r["ended"]["how"],
            r["ended"]["status"], r["ended"]["signal"], r["forked_from"], None, r["forks"], r["sample"],
            int(r["truncated"]), json.dumps(nat["cuda"]) if nat["cuda"] else None,
            json.dumps(nat["mpi"]) if nat["mpi"] else None, json.dumps(nat["blas"]) if nat["blas"] else None,
            pset, json.dumps(times) if any(t is not None for t in times) else None, now))
        if path is not None:
            files.append(path)
        pending += 1
        if pending >= BATCH:
            pending = 0
            flush(files)
            files = []
    flush(files)


if __name__ == "__main__":
    main()
