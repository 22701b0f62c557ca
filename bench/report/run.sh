#!/usr/bin/env bash
# The report benchmark: every section of `pyusage report` over an SQLite
# store of generated records, the HTML report, the Parquet export, and the
# main questions asked of DuckDB over that export, side by side in one run.
#
#   bash bench/report/run.sh [RECORDS]      (default 1000000; numbers in bench/README.md)
#   BEFORE=path/to/older/pyusage bash bench/report/run.sh [RECORDS]
#
# With BEFORE, the report commands of both builds also run side by side
# (bench/report/ab.py: ROUNDS rounds, default 5, order rotating each round)
# and their answers are compared (bench/report/same_answers.sh).
# OLD_SCHEMA=N: BEFORE knows store schema versions up to N only; it reads
# a copy of the store labelled as version N (see same_answers.sh).
#
# Records come from bench/ingest/gen.py (realistic: Zipf-popular packages,
# per-job stacks, jobs of several sizes), ingested once into
# build/bench/report/RECORDS.db and exported once to RECORDS-parquet/.
# DuckDB is the report virtualenv's (tests/fixtures/report-venv.sh).
# PYUSAGE_REPORT_TIMING=1 makes the report print the time of each statement
# it reads the store with and of each section.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${1:-1000000}
out=$root/build/bench/report
mkdir -p "$out"
say() { printf 'bench-report: %s\n' "$*" >&2; }

cargo build --release -p pyusage-tools >&2
pyusage=$root/target/release/pyusage
cfg=$out/empty.toml
: > "$cfg"
db=$out/$n.db
pq=$out/$n-parquet

if [ ! -f "$db.done" ]; then
  say "generating and ingesting $n records"
  python3 bench/ingest/gen.py --ndjson "$out/$n.ndjson" --records "$n" --jobs $((n / 10))
  rm -f "$db" "$db"-*
  "$pyusage" ingest --config "$cfg" --db "$db" "$out/$n.ndjson"
  rm -f "$out/$n.ndjson"
  touch "$db.done"
fi

results=()
timed() { # NAME COMMAND...: runs it, records wall-clock and CPU (user + system) seconds
  local name=$1; shift
  local TIMEFORMAT='%R %U %S' t
  t=$( { time "$@" > "$out/last.log" 2>&1; } 2>&1 ) || { say "$name failed:"; tail "$out/last.log" >&2; return 0; }
  local wall cpu
  wall=$(echo "$t" | tail -1 | cut -d' ' -f1)
  cpu=$(echo "$t" | tail -1 | awk '{print $2 + $3}')
  results+=("$name|$wall|$cpu")
  say "$name: $wall s wall, $cpu s CPU"
}

timed "pyusage report, all sections, JSON (SQLite)" \
  "$pyusage" report --config "$cfg" --db "$db" --format json
timed "pyusage report, all sections, text + HTML (SQLite)" \
  "$pyusage" report --config "$cfg" --db "$db" --html "$out/report.html"
timed "pyusage report --section top-packages (SQLite)" \
  "$pyusage" report --config "$cfg" --db "$db" --section top-packages
timed "pyusage export --parquet" \
  "$pyusage" export --config "$cfg" --db "$db" --parquet "$pq"
venv=$root/build/report-venv
if bash tests/fixtures/report-venv.sh >&2; then
  timed "DuckDB over the Parquet export (6 questions)" \
    "$venv/bin/python" bench/report/duckdb_sections.py "$pq"
  cat "$out/last.log" >&2
fi

if [ -n "${BEFORE:-}" ]; then
  say "before/after, side by side: $BEFORE vs $pyusage"
  bash bench/report/same_answers.sh "$BEFORE" "$pyusage" >&2
  a=(--config "$cfg" --db "$db")
  b=(--config "$cfg" --db "$db")
  if [ -n "${OLD_SCHEMA:-}" ]; then
    [ -f "$db.schema$OLD_SCHEMA" ] || { cp "$db" "$db.schema$OLD_SCHEMA" &&
      sqlite3 "$db.schema$OLD_SCHEMA" "DELETE FROM schema_version WHERE version > $OLD_SCHEMA"; }
    b=(--config "$cfg" --db "$db.schema$OLD_SCHEMA")
  fi
  {
    python3 bench/report/ab.py --rounds "${ROUNDS:-5}" \
      "before: all sections, JSON=$BEFORE report ${b[*]} --format json" \
      "after: all sections, JSON=$pyusage report ${a[*]} --format json"
    echo
    python3 bench/report/ab.py --rounds "${ROUNDS:-5}" \
      "before: all sections, text + HTML=$BEFORE report ${b[*]} --html $out/before.html" \
      "after: all sections, text + HTML=$pyusage report ${a[*]} --html $out/after.html"
  } > "$out/ab.md"
fi

printf '\n%s processes, %s cores, load average %s\n\n' "$n" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-52s | %8s | %8s |\n' "what" "wall s" "CPU s"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "----------" "----------"
for r in "${results[@]}"; do
  IFS='|' read -r name wall cpu <<<"$r"
  printf '| %-52s | %8.2f | %8.2f |\n' "$name" "$wall" "$cpu"
done
echo "CPU s: user + system of the command itself."
if [ -n "${BEFORE:-}" ]; then
  printf '\nBefore/after, side by side ("vs first": median of the per-round ratios to the first row of the table):\n\n'
  cat "$out/ab.md"
fi
