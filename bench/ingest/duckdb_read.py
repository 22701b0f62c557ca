#!/usr/bin/env python3
"""Baseline: DuckDB reads every record of a spool or NDJSON file into one table.

    python3 bench/ingest/duckdb_read.py DB SPOOL|NDJSON

`read_json` over the spool's files (or the one file) into a table, as they
are (no normalisation, no validation beyond JSON, no files removed).
"""
import os
import sys

import duckdb

db, spool = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
con.execute(
    "CREATE TABLE records AS SELECT * FROM read_json(?, format = 'auto', union_by_name = true)",
    [spool if os.path.isfile(spool) else spool.rstrip("/") + "/*.json"],
)
print(con.execute("SELECT count(*) FROM records").fetchone()[0], "records")
