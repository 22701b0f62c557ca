#!/usr/bin/env bash
# Do two builds of `pyusage` give the same report? Generates a small store
# whose records exercise every counting rule (bench/ingest/gen.py varied by
# bench/report/vary.py: sampling, two clusters, processes outside jobs,
# every ending, MPI, CUDA), runs both binaries' `report --format json` over
# it with a dozen option sets, and compares the documents (numbers to a
# relative 1e-9; the generation time is left out).
#
#   bash bench/report/same_answers.sh OLD_PYUSAGE NEW_PYUSAGE [RECORDS]
#
# RECORDS defaults to 20000. Exits non-zero on the first difference.
# OLD_SCHEMA=N: the old build knows store schema versions up to N only;
# it reads a copy of the store labelled as version N. Valid only when the
# versions after N change indexes and nothing else (schema 2 dropped four
# indexes), since the old build then reads the same tables.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
old=$1 new=$2 n=${3:-20000}
out=$root/build/bench/report/same-$n
mkdir -p "$out"
cfg=$out/empty.toml
: > "$cfg"
db=$out/store.db
if [ ! -f "$db.done" ]; then
  python3 "$root/bench/ingest/gen.py" --ndjson "$out/gen.ndjson" --records "$n" --jobs $((n / 10)) --days 90
  python3 "$root/bench/report/vary.py" < "$out/gen.ndjson" > "$out/varied.ndjson"
  rm -f "$db" "$db"-*
  "$new" ingest --config "$cfg" --db "$db" "$out/varied.ndjson" > "$out/ingest.log" 2>&1
  touch "$db.done"
fi
old_db=$db
if [ -n "${OLD_SCHEMA:-}" ]; then
  old_db=$out/store-schema$OLD_SCHEMA.db
  cp "$db" "$old_db"
  sqlite3 "$old_db" "DELETE FROM schema_version WHERE version > $OLD_SCHEMA"
fi
uid=$(sqlite3 "$db" 'SELECT uid FROM users ORDER BY uid LIMIT 1' 2>/dev/null || echo 20000)
printf '%s\n# a comment\nuser0003\n' "$uid" > "$out/exclude.txt"
sets=(
  ""
  "--limit 0"
  "--limit 3"
  "--cluster perlmutter"
  "--cluster polaris"
  "--cluster nowhere"
  "--exclude-users $out/exclude.txt"
  "--since 2026-10-01"
  "--since 2026-10-15 --until 2026-11-01"
  "--compare-cluster perlmutter polaris"
  "--compare-period"
  "--compare-period --since 2026-11-01 --section top-packages --section together"
  "--section versions --section trends --section never-used"
)
for s in "${sets[@]}"; do
  # shellcheck disable=SC2086
  "$old" report --config "$cfg" --db "$old_db" --format json $s > "$out/old.json"
  # shellcheck disable=SC2086
  "$new" report --config "$cfg" --db "$db" --format json $s > "$out/new.json"
  python3 - "$out/old.json" "$out/new.json" "$s" "$old_db" "$db" <<'PY'
import json, math, sys
# The old build may read a copy of the store (OLD_SCHEMA): same label.
a = json.loads(open(sys.argv[1]).read().replace(sys.argv[4], sys.argv[5]))
b = json.load(open(sys.argv[2]))
def same(x, y, path):
    if isinstance(x, dict) and isinstance(y, dict):
        if x.keys() != y.keys():
            return f"{path}: keys {sorted(x.keys() ^ y.keys())}"
        for k in x:
            if k == "generated":
                continue
            d = same(x[k], y[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return f"{path}: {len(x)} vs {len(y)} items"
        for i, (p, q) in enumerate(zip(x, y)):
            d = same(p, q, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
        if x == y or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
            return None
        return f"{path}: {x} vs {y}"
    return None if x == y else f"{path}: {x!r} vs {y!r}"
d = same(a, b, "$")
sections = len(b.get("sections", []))
if d:
    print(f"DIFFERENT ({sys.argv[3] or 'no options'}): {d}")
    sys.exit(1)
print(f"same ({sys.argv[3] or 'no options'}): {sections} sections")
PY
done
