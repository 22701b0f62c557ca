#!/usr/bin/env bash
# The pyusage overhead benchmark: `make bench` runs exactly this script.
#
#   bash bench/run.sh [--quick] [--only ROW,...] [--no-callgrind]
#
# Builds what it needs (idempotently), then prints the table of ratios
# described in bench/README.md. Arguments go to bench/run.py. Results are also
# written to build/bench/results.md and build/bench/results.json.
#
# Environment: PYUSAGE_BENCH_SKIP_MAP_BENCH=1 skips bench/map/run.sh.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/build/bench
mkdir -p "$out"

# Nothing from the caller's session may leak into the "untraced" runs (a
# loaded pyusage module would put the tracer into every one of them).
unset LD_PRELOAD PYTHONPATH PYTHONSTARTUP PYTHONDEVMODE PYTHONMALLOC
unset PYUSAGE_CONFIG PYUSAGE_SPOOL PYUSAGE_RUNTIME_DIR PYUSAGE_MAP PYUSAGE_DISABLE PYUSAGE_DEBUG

say() { printf 'bench: %s\n' "$*" >&2; }

# --- tools: gcc for the driver and the do-nothing preload, valgrind for the
# instruction counts. Installed only when missing, and only as root.
need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v valgrind >/dev/null || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; } ||
      say "could not install ${need[*]}"
  else
    say "missing ${need[*]} (not root: install them yourself)"
  fi
fi
command -v gcc >/dev/null || { say "gcc is required"; exit 1; }

# --- the project. A broken crate elsewhere in the workspace must not stop the
# benchmark of the library, so fall back to building just what we run.
say "cargo build --release"
if ! cargo build --release --quiet 2>"$out/cargo.log"; then
  say "workspace build failed (see $out/cargo.log); building preload and tools only"
  cargo build --release --quiet -p pyusage-preload 2>>"$out/cargo.log" ||
    say "libpyusage.so did not build"
  cargo build --release --quiet -p pyusage-tools 2>>"$out/cargo.log" ||
    say "the pyusage tool did not build"
fi

# Measure a snapshot: the workspace's target/ may be rebuilt while we run.
rm -f "$out/libpyusage.so"
if [ -f target/release/libpyusage.so ]; then
  cp target/release/libpyusage.so "$out/libpyusage.so"
  say "measuring libpyusage.so of $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- preload record resolver 2>/dev/null || echo ' + uncommitted changes')"
fi

# --- the harness and the C baseline.
gcc -O2 -Wall -Wextra -o "$out/spawnloop" bench/src/spawnloop.c || exit 1
gcc -O2 -shared -fPIC -o "$out/libnoop_preload.so" bench/baselines/noop_preload.c || exit 1

# --- the Python side: the shared test venv and 300 small modules to import.
bash tests/fixtures/venv.sh || { say "tests/fixtures/venv.sh failed"; exit 1; }
py=$root/build/venv/bin/python
mods=$out/mods/benchmods
if [ ! -f "$mods/.complete" ]; then
  rm -rf "$out/mods" && mkdir -p "$mods"
  "$py" - "$mods" <<'EOF'
import os, sys
d = sys.argv[1]
with open(os.path.join(d, "__init__.py"), "w") as f:
    f.write("COUNT = 300\n")
for i in range(300):
    with open(os.path.join(d, "m%03d.py" % i), "w") as f:
        f.write("import math\n\nCONST_%03d = %d\n\n\nclass C%03d:\n"
                "    def __init__(self, x):\n        self.x = x\n\n\n"
                "def f(x):\n    return C%03d(math.sqrt(x + %d)).x\n" % (i, i, i, i, i))
EOF
  "$py" -m compileall -q "$out/mods" >/dev/null && touch "$mods/.complete"
fi

# --- the package map, when the resolver's command exists.
map_args=(--map-desc "none (no pyusage binary)")
if [ -x target/release/pyusage ]; then
  rm -f "$out/map.bin"
  if target/release/pyusage map build --output "$out/map.bin" --python "$py" \
       >"$out/map-build.log" 2>&1 && [ -s "$out/map.bin" ]; then
    map_args=(--map "$out/map.bin" --map-desc "built with \`pyusage map build\` ($(stat -c %s "$out/map.bin") bytes)")
  else
    map_args=(--map-desc "**none: \`pyusage map build\` failed** ($(head -c 120 "$out/map-build.log" | tr '\n|' '  '))")
    say "pyusage map build failed; running without a map (see $out/map-build.log)"
  fi
fi

# --- the resolver's own map benchmark, when present.
if [ -f bench/map/run.sh ] && [ -z "${PYUSAGE_BENCH_SKIP_MAP_BENCH:-}" ]; then
  say "bench/map/run.sh"
  timeout 300 bash bench/map/run.sh || say "bench/map/run.sh failed (status $?)"
fi

say "overhead rows (about 8 minutes; --quick for a smoke test)"
exec "$py" bench/run.py "${map_args[@]}" "$@"
