#!/usr/bin/env bash
# Package-map benchmark: build time vs Python's importlib.metadata, and lookup
# time, on (1) a virtualenv with >=150 distributions from the package index and
# (2) a synthetic site directory of 5,000 distributions / 500,000 RECORD lines.
#
#   bench/map/run.sh            (env: PYUSAGE_BENCH_PYTHON, BENCH_MAP_QUICK=1)
#
# The bench venv is cached under build/bench-map/venv (stamp file); without
# network it is skipped and only the synthetic tree is measured.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$root/build/bench-map
python=${PYUSAGE_BENCH_PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
command -v "$python" >/dev/null 2>&1 || python=$(command -v python3)
venv=$work/venv
stamp=$venv/.bench-venv-v1
mkdir -p "$work"

# ~70 requirements that pull in >=150 distributions (wheels only).
pkgs="numpy scipy pandas scikit-learn matplotlib seaborn statsmodels sympy networkx
requests httpx aiohttp flask django sqlalchemy alembic jinja2 click rich typer
pydantic fastapi uvicorn starlette pytest hypothesis coverage black isort flake8
pylint mypy sphinx docutils pygments tqdm PyYAML toml tomli attrs cattrs
jsonschema lxml beautifulsoup4 pillow openpyxl tabulate python-dateutil pytz
arrow cryptography paramiko celery redis pymongo protobuf msgpack orjson six
bokeh dask xarray h5py joblib tornado ipython nbformat boto3 pyarrow polars
numexpr bottleneck"
if [ ! -f "$stamp" ]; then
  echo "bench/map: creating $venv (once) ..." >&2
  rm -rf "$venv"
  if "$python" -m venv "$venv" \
     && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: $pkgs >&2; then
    touch "$stamp"
  else
    echo "bench/map: could not build the bench venv (no network?); measuring the synthetic tree only" >&2
  fi
fi

cd "$root"
cargo build --quiet --release -p pyusage-resolver --features build --example map_bench
args=(--work "$work")
[ -f "$stamp" ] && args+=(--python "$venv/bin/python")
if [ "${BENCH_MAP_QUICK:-0}" = 1 ]; then
  args+=(--dists 500 --lines 50000 --lookups 100000)
fi
[ -f "$stamp" ] || args+=(--python "$python")
"$root/target/release/examples/map_bench" "${args[@]}"
