#!/usr/bin/env python3
"""SQLite's own floor for an ingest: copy the rows of a store that
`pyusage ingest` wrote into an empty store of the same schema, with SQL alone
(INSERT ... SELECT from the attached store), in the same transactions
(5,000 processes each) and with the same settings (WAL, synchronous=FULL,
256 MiB page cache). No JSON, no checks, no binding: what is left is
SQLite's B-tree and WAL work for exactly these rows, which no writer on
SQLite can go below.

    sqlite_floor.py EMPTY_STORE SOURCE_STORE

Every SELECT has a WHERE clause, so SQLite cannot use its transfer
optimisation (copying pages of an identical table wholesale), which a real
ingest never gets.
"""
import sqlite3
import sys

BATCH = 5000
DIMENSIONS = ["hosts", "users", "jobs", "interpreters", "envs", "dists", "releases",
              "package_sets", "unmapped_paths"]


def main():
    dest, source = sys.argv[1], sys.argv[2]
    c = sqlite3.connect(dest, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("PRAGMA cache_size=-262144")
    c.execute("ATTACH ? AS src", (source,))
    (last,) = c.execute("SELECT coalesce(max(id), 0) FROM src.processes").fetchone()
    c.execute("BEGIN")
    for t in DIMENSIONS:
        c.execute(f"INSERT INTO {t} SELECT * FROM src.{t} WHERE id > 0")
    c.execute("INSERT INTO package_set_members SELECT * FROM src.package_set_members "
              "WHERE package_set > 0")
    c.execute("COMMIT")
    for lo in range(1, last + 1, BATCH):
        hi = lo + BATCH - 1
        c.execute("BEGIN")
        c.execute("INSERT INTO processes SELECT * FROM src.processes WHERE id BETWEEN ? AND ?",
                  (lo, hi))
        c.execute("INSERT INTO process_unmapped SELECT * FROM src.process_unmapped "
                  "WHERE process BETWEEN ? AND ?", (lo, hi))
        c.execute("COMMIT")
    (n,) = c.execute("SELECT count(*) FROM processes").fetchone()
    if n != last:
        sys.exit(f"sqlite_floor: copied {n} processes, expected {last}")


if __name__ == "__main__":
    main()
