#!/usr/bin/env bash
# The ingest benchmark: pyusage ingest into SQLite and PostgreSQL, side by
# side with a plain Python json+sqlite3 ingest and DuckDB's read_json, on the
# same generated spool, in one run.
#
#   bash bench/ingest/run.sh [RECORDS]      (default 200000; numbers in bench/README.md)
#
# BENCH_NO_DUCKDB_SPOOL=1 leaves out DuckDB over the spool's files (it takes
# minutes per 50,000 files); DuckDB over the NDJSON file always runs.
#
# Generates the spool once (bench/ingest/gen.py, kept in build/bench/ingest/
# src-RECORDS), copies it afresh for each contender (and `sync`s, so files
# are on disk as in a real spool, not only in the page cache), and prints
# records per second for each. DuckDB comes from a virtualenv under build/
# (pip); without it that row is skipped. PostgreSQL is a private cluster in a
# temp dir (Debian's postgresql; run as `nobody` when root).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${1:-200000}
out=$root/build/bench/ingest
src=$out/src-$n
mkdir -p "$out"
say() { printf 'bench-ingest: %s\n' "$*" >&2; }

cargo build --release -p pyusage-tools >&2
# A copy, so that a rebuild during the run cannot change what is measured.
cp "$root/target/release/pyusage" "$out/pyusage"
pyusage=$out/pyusage
cfg=$out/empty.toml
: > "$cfg"

if [ ! -f "$src/.done" ]; then
  say "generating $n records in $src"
  rm -rf "$src" "$src.ndjson"
  chown=()
  [ "$(id -u)" = 0 ] && chown=(--chown)
  python3 bench/ingest/gen.py --out "$src" --records "$n" --jobs $((n / 10)) "${chown[@]}"
  python3 bench/ingest/gen.py --ndjson "$src.ndjson" --records "$n" --jobs $((n / 10))
  touch "$src/.done"
fi

venv=$root/build/bench/duckdb-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q duckdb || say "no duckdb: that row is skipped"
fi

fresh() { # a fresh copy of the spool, on disk
  rm -rf "$out/spool"
  cp -a "$src" "$out/spool"
  rm -f "$out/spool/.done"
  sync
}
results=()
timed() { # NAME COMMAND...: runs it, records wall-clock and CPU (user + system) seconds
  local name=$1; shift
  local TIMEFORMAT='%R %U %S' t
  t=$( { time "$@" > "$out/last.log" 2>&1; } 2>&1 ) || { say "$name failed:"; cat "$out/last.log" >&2; return 0; }
  local wall cpu
  wall=$(echo "$t" | tail -1 | cut -d' ' -f1)
  cpu=$(echo "$t" | tail -1 | awk '{print $2 + $3}')
  results+=("$name|$wall|$cpu")
  say "$name: $wall s wall, $cpu s CPU"
}

# --- PostgreSQL: a private cluster.
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
pgdir=
if [ -n "$pgbin" ]; then
  pgdir=$(mktemp -d /tmp/pyusage-bench-pg.XXXXXX)
  asuser=()
  if [ "$(id -u)" = 0 ]; then chown nobody "$pgdir"; asuser=(setpriv --reuid=65534 --regid=65534 --clear-groups --); fi
  (cd / && "${asuser[@]}" "$pgbin/initdb" -D "$pgdir/data" -U pyusage --auth=trust --no-sync --locale=C -E UTF8 >/dev/null)
  (cd / && "${asuser[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
     -o "-k $pgdir -c listen_addresses= -c shared_buffers=512MB -c max_wal_size=4GB" start >/dev/null)
  trap '(cd / && "${asuser[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1); rm -rf "$pgdir"' EXIT
fi
pgurl() { echo "postgresql:///$1?host=$pgdir&user=pyusage"; }
pgdb() { psql -q -h "$pgdir" -U pyusage -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"; }

rm -f "$out"/*.db "$out"/*.db-*
fresh; timed "pyusage ingest -> SQLite (spool, files removed)" "$pyusage" ingest --config "$cfg" --db "$out/a.db" "$out/spool"
fresh; timed "pyusage ingest -> SQLite (spool, --keep)" "$pyusage" ingest --config "$cfg" --db "$out/b.db" --keep "$out/kept" "$out/spool"
rm -rf "$out/kept"
timed "pyusage ingest -> SQLite (NDJSON)" "$pyusage" ingest --config "$cfg" --db "$out/c.db" "$src.ndjson"
mkdir -p "$out/empty"; "$pyusage" ingest --config "$cfg" --db "$out/floor.db" "$out/empty" >/dev/null
timed "SQLite alone: INSERT..SELECT, same rows (floor)" python3 bench/ingest/sqlite_floor.py "$out/floor.db" "$out/c.db"
timed "pyusage ingest --dry-run (NDJSON: read, check)" "$pyusage" ingest --config "$cfg" --db "$out/d.db" --dry-run "$src.ndjson"
fresh; timed "pyusage ingest --dry-run (spool: read, check)" "$pyusage" ingest --config "$cfg" --db "$out/d.db" --dry-run "$out/spool"
if [ -n "$pgdir" ]; then
  pgdb spool; fresh; timed "pyusage ingest -> PostgreSQL (spool, files removed)" "$pyusage" ingest --config "$cfg" --db "$(pgurl spool)" "$out/spool"
  pgdb nd; timed "pyusage ingest -> PostgreSQL (NDJSON)" "$pyusage" ingest --config "$cfg" --db "$(pgurl nd)" "$src.ndjson"
fi
mkdir -p "$out/empty"; "$pyusage" ingest --config "$cfg" --db "$out/e.db" "$out/empty" >/dev/null
cp "$out/e.db" "$out/g.db"
fresh; timed "Python json + sqlite3 (spool, files removed)" python3 bench/ingest/baseline_sqlite.py "$out/e.db" "$out/spool"
timed "Python json + sqlite3 (NDJSON)" python3 bench/ingest/baseline_sqlite.py "$out/g.db" "$src.ndjson"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
  if [ -z "${BENCH_NO_DUCKDB_SPOOL:-}" ]; then
    fresh; timed "DuckDB read_json (spool, read only)" "$venv/bin/python" bench/ingest/duckdb_read.py "$out/f.duckdb" "$out/spool"
    rm -f "$out/f.duckdb"
  fi
  timed "DuckDB read_json (NDJSON, read only)" "$venv/bin/python" bench/ingest/duckdb_read.py "$out/h.duckdb" "$src.ndjson"
  rm -f "$out/h.duckdb"
fi
# (SQLite's own floor is the row after the NDJSON ingest: sqlite_floor.py.)
# The file system's own floor: removing the spool's files, nothing else.
fresh; timed "rm -rf of the spool (file system floor)" rm -rf "$out/spool"
rm -rf "$out/spool"

printf '\n%s records (%s), %s cores, load average %s\n\n' "$n" "$(du -sh "$src" | cut -f1)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-52s | %8s | %10s | %8s | %12s |\n' "contender" "wall s" "records/s" "CPU s" "rec/CPU-s"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "----------" "------------" "----------" "--------------"
for r in "${results[@]}"; do
  IFS='|' read -r name wall cpu <<<"$r"
  printf '| %-52s | %8.1f | %10.0f | %8.1f | %12.0f |\n' "$name" "$wall" "$(echo "$n / $wall" | bc -l)" \
    "$cpu" "$(echo "$n / $cpu" | bc -l)"
done
echo
echo "CPU s: user + system of the command itself (the PostgreSQL server's work is not in it)."
