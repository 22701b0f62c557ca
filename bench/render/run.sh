#!/usr/bin/env bash
# Renderer benchmark (issue 13): rendering hostile raw records, the current
# renderer side by side with the one before issue 13 (bench/render/before.rs,
# O(n^2)) in one run, then `pyusage sweep` end to end on 16 MiB hostile
# records (the largest the sweep accepts).
#
#   bench/render/run.sh [--quick]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --quiet --release -p pyusage-record --example render_bench
cargo build --quiet --release -p pyusage-tools
"$root/target/release/examples/render_bench" "$@"

work=$(mktemp -d "${TMPDIR:-/tmp}/pyusage-bench-render.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/runtime" "$work/spool"
printf 'enabled = true\n' >"$work/config.toml"
"$root/target/release/examples/render_bench" --write "$work/runtime" >/dev/null
# Past the sweep's grace period for young files.
touch -d '-1 hour' "$work"/runtime/rec-*.bin
echo
echo "pyusage sweep of $(ls "$work"/runtime | wc -l) hostile 16 MiB records (one sweep, wall time):"
start=$(date +%s.%N)
"$root/target/release/pyusage" sweep --config "$work/config.toml" --spool "$work/spool" \
  --runtime-dir "$work/runtime" --map "$work/none.map"
end=$(date +%s.%N)
python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f} s')" "$start" "$end"
ls -l "$work/spool" | awk 'NR > 1 { print "  shipped", $5, "bytes" }'
