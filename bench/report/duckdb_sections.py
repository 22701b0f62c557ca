#!/usr/bin/env python3
"""The report's main questions asked of DuckDB over the Parquet export, timed.

    python bench/report/duckdb_sections.py EXPORT_DIR

Same counting as `pyusage report` when sampling is off (weights 1): distinct
users, distinct jobs (cluster, job id), processes, node-hours; versions per
package; job size per package (median, 90th percentile, max); correlation of
per-job presence among the 12 packages in most jobs; outcomes per package;
weekly users of the top 8. Prints one line per question and the total.
"""
import sys
import time

import duckdb

d = sys.argv[1]
con = duckdb.connect()
con.execute(f"CREATE VIEW pk AS SELECT * FROM read_parquet('{d}/packages/*/*.parquet', hive_partitioning=true)")
con.execute(f"CREATE VIEW pr AS SELECT * FROM read_parquet('{d}/processes/*/*.parquet', hive_partitioning=true)")

Q = {
    "top packages": """
        WITH jobs AS (SELECT cluster, job_id, max(nodes) AS nodes,
                             epoch(max(end_time) - min(start_time)) / 3600.0 * coalesce(max(nodes), 1) AS nh
                      FROM pr WHERE job_id IS NOT NULL GROUP BY cluster, job_id),
             jp AS (SELECT DISTINCT package, cluster, job_id FROM pk WHERE job_id IS NOT NULL)
        SELECT u.package, u.users, j.jobs, u.processes, j.nh FROM
          (SELECT package, count(DISTINCT uid) AS users, sum(weight) AS processes FROM pk GROUP BY package) u
          LEFT JOIN (SELECT jp.package, count(*) AS jobs, sum(jobs.nh) AS nh FROM jp
                     JOIN jobs USING (cluster, job_id) GROUP BY jp.package) j USING (package)
        ORDER BY users DESC, jobs DESC, processes DESC, package LIMIT 20""",
    "versions": """
        SELECT package, version, count(DISTINCT uid) AS users,
               count(DISTINCT (cluster, job_id)) FILTER (WHERE job_id IS NOT NULL) AS jobs
        FROM pk GROUP BY package, version ORDER BY users DESC LIMIT 60""",
    "job size": """
        WITH jp AS (SELECT DISTINCT package, cluster, job_id, coalesce(nodes, 1) AS nodes
                    FROM pk WHERE job_id IS NOT NULL)
        SELECT package, count(*) AS jobs, quantile_disc(nodes, 0.5) AS median,
               quantile_disc(nodes, 0.9) AS p90, max(nodes) AS max
        FROM jp GROUP BY package ORDER BY jobs DESC LIMIT 20""",
    "together": """
        WITH top AS (SELECT package FROM (SELECT package, count(DISTINCT (cluster, job_id)) AS j
                     FROM pk WHERE job_id IS NOT NULL GROUP BY package) ORDER BY j DESC LIMIT 12),
             jp AS (SELECT DISTINCT cluster, job_id, package FROM pk
                    WHERE job_id IS NOT NULL AND package IN (SELECT package FROM top)),
             n AS (SELECT count(DISTINCT (cluster, job_id)) AS n FROM pk WHERE job_id IS NOT NULL),
             one AS (SELECT package, count(*) AS c FROM jp GROUP BY package),
             pairs AS (SELECT a.package AS a, b.package AS b, count(*) AS ab
                      FROM jp a JOIN jp b USING (cluster, job_id) WHERE a.package < b.package
                      GROUP BY a.package, b.package)
        SELECT pairs.a, pairs.b, (n.n * ab - oa.c * ob.c) /
               sqrt(oa.c * (n.n - oa.c) * ob.c * (n.n - ob.c)) AS r
        FROM pairs, n, one oa, one ob WHERE oa.package = pairs.a AND ob.package = pairs.b
        ORDER BY r DESC""",
    "endings": """
        SELECT package, sum(pk.weight) AS processes,
               sum(pk.weight) FILTER (WHERE pr.ended_how = 'vanished') / sum(pk.weight) AS vanished
        FROM pk JOIN pr USING (record_id) GROUP BY package ORDER BY processes DESC LIMIT 20""",
    "trends": """
        WITH top AS (SELECT package FROM pk GROUP BY package ORDER BY count(DISTINCT uid) DESC LIMIT 8)
        SELECT date_trunc('week', start_time) AS week, package, count(DISTINCT uid) AS users
        FROM pk WHERE package IN (SELECT package FROM top) GROUP BY 1, 2 ORDER BY 1, 2""",
}

total = 0.0
for name, sql in Q.items():
    t = time.perf_counter()
    rows = con.execute(sql).fetchall()
    s = time.perf_counter() - t
    total += s
    print(f"duckdb {name:<14} {s:7.2f} s  ({len(rows)} rows)")
print(f"duckdb total          {total:7.2f} s")
