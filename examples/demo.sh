#!/usr/bin/env bash
# `make demo`: the main job on embedded defaults, on this one machine.
#  1. build the package map of the test virtualenv and its interpreter
#  2. run a few Python workloads under the tracer (normal exit, os._exit in
#     multiprocessing workers, a fork child, a process killed with SIGKILL)
#  3. sweep what the killed process left on tmpfs
#  4. print what was recorded
#  5. ingest the records into the store (SQLite) and ask it a question
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/pyusage
py=$root/build/venv/bin/python
demo=$root/build/demo
rm -rf "$demo" && mkdir -p "$demo"
cat > "$demo/config.toml" <<TOML
# demo configuration (see README, "Configuration")
enabled = true
spool = "$demo/spool"
runtime_dir = "$demo/runtime"
map = "$demo/map.bin"
store = "$demo/usage.db"
TOML
export PYUSAGE_CONFIG=$demo/config.toml

echo "== 1. package map"
"$bin" map build --output "$demo/map.bin" --python "$py"

run() { "$bin" run --config "$demo/config.toml" -- "$@"; }
echo
echo "== 2. workloads under the tracer"
run "$py" -c "import numpy, scipy.optimize, pandas; print('numpy/scipy/pandas imported')"
run "$py" -c "import sklearn, yaml, PIL.Image; print('scikit-learn, PyYAML, pillow imported')"
run "$py" -I -c "import six; print('python -I: six imported')"
run "$py" -c "
import multiprocessing as mp
def work(x):
    import yaml
    return x * x
if __name__ == '__main__':
    with mp.get_context('fork').Pool(2) as p:
        print('multiprocessing (fork) results:', sum(p.map(work, range(10))))"
"$bin" run --config "$demo/config.toml" -- "$py" -c "import os, time, six; time.sleep(60)" &
victim=$!
sleep 1
kill -KILL "$victim"; wait "$victim" 2>/dev/null || true
echo "a traced python was killed with SIGKILL; its record is on tmpfs:"
ls "$demo/runtime"

echo
echo "== 3. sweep"
"$bin" sweep

echo
echo "== 4. records in $demo/spool"
"$py" - "$demo/spool" <<'PY'
import json, pathlib, sys
records = [json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1]).glob("*.json")]
for r in sorted(records, key=lambda r: r["start"]):
    how = r["ended"]["how"] + (f" {r['ended']['status']}" if r["ended"]["status"] is not None else "")
    pk = ", ".join(f"{p['name']} {p['version']}" for p in r["packages"]) or "-"
    extra = f" forked_from={r['forked_from']}" if r["forked_from"] else ""
    extra += f" forks={r['forks']}" if r["forks"] else ""
    print(f"pid {r['pid']:>7} {r['script'] or '':<3} ended {how:<10}{extra}\n    packages: {pk}")
    if any(r["native"].values()):
        print(f"    native: {r['native']}")
print(f"{len(records)} records")
PY

echo
echo "== 5. ingest into the store ($demo/usage.db)"
"$bin" ingest --keep "$demo/ingested"
"$py" - "$demo/usage.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print("distributions by processes that used them:")
for name, n in db.execute(
    "SELECT d.name, SUM(c.n) FROM (SELECT package_set, COUNT(*) AS n FROM processes GROUP BY package_set) c "
    "JOIN package_set_members m ON m.package_set = c.package_set JOIN releases r ON r.id = m.release "
    "JOIN dists d ON d.id = r.dist GROUP BY d.name ORDER BY 2 DESC, 1"):
    print(f"  {name:<20} {n}")
PY

echo
echo "== 6. the report ($demo/report.html)"
"$bin" report --limit 10 --html "$demo/report.html"
