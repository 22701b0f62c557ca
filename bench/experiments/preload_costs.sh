#!/usr/bin/env bash
# Tell apart what a preloaded library costs a non-Python process (see
# preload_costs.c): instruction counts with callgrind (repeatable), then
# /bin/true wall time against the do-nothing preload, side by side.
#
#   bash bench/experiments/preload_costs.sh [ROUNDS]     (after bench/run.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=build/bench/exp
mkdir -p "$out"
rounds=${1:-40}
variants=("noop:" "imports:-DIMPORTS" "dlsym:-DDLSYM_CHECK" "phdr:-DPHDR_CHECK"
          "imports_dlsym:-DIMPORTS -DDLSYM_CHECK" "imports_phdr:-DIMPORTS -DPHDR_CHECK"
          "audit_noop:-DAUDIT_NOOP")
names=()
for v in "${variants[@]}"; do
  n=${v%%:*}
  # -fno-plt -z now: bind every import at load time, as the Rust build does.
  # shellcheck disable=SC2086
  gcc -O2 -shared -fPIC -fno-plt -Wl,-z,now ${v#*:} -o "$out/lib$n.so" bench/experiments/preload_costs.c
  names+=("$n")
done
# The smallest possible preload: no code, no libc, two segments, 1.4 KB.
# What it costs is what the kernel and ld.so charge for one more library.
gcc -O2 -shared -fPIC -nostdlib -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none \
  -o "$out/libtiny.so" bench/baselines/noop_preload.c
names+=(tiny)
[ -f build/bench/libpyusage.so ] && names+=(pyusage) && cp build/bench/libpyusage.so "$out/libpyusage.so"

echo "instructions for /bin/true (callgrind):"
base=$(valgrind --tool=callgrind --callgrind-out-file="$out/cg.none" /bin/true 2>/dev/null; grep -E '^(summary|totals):' "$out/cg.none" | head -1 | awk '{print $2}')
printf '  %-14s %8d\n' none "$base"
for n in "${names[@]}"; do
  LD_PRELOAD=$root/$out/lib$n.so valgrind --tool=callgrind --callgrind-out-file="$out/cg.$n" /bin/true 2>/dev/null
  ir=$(grep -E '^(summary|totals):' "$out/cg.$n" | head -1 | awk '{print $2}')
  printf '  %-14s %8d  %+7d vs none\n' "$n" "$ir" $((ir - base))
done

echo "instructions for python -c 'import numpy' (callgrind; audit_noop = any audit hook's floor):"
py=$root/build/venv/bin/python
for n in none noop audit_noop pyusage; do
  [ "$n" = pyusage ] && [ ! -f "$out/libpyusage.so" ] && continue
  pre=()
  [ "$n" != none ] && pre=(env "LD_PRELOAD=$root/$out/lib$n.so")
  [ "$n" = pyusage ] && [ -f build/bench/pyusage.toml ] && pre+=("PYUSAGE_CONFIG=$root/build/bench/pyusage.toml")
  PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 "${pre[@]}" valgrind --tool=callgrind \
    --callgrind-out-file="$out/cgpy.$n" "$py" -c "import numpy" 2>/dev/null
  ir=$(grep -E '^(summary|totals):' "$out/cgpy.$n" | head -1 | awk '{print $2}')
  [ "$n" = none ] && pybase=$ir
  printf '  %-14s %10d  %+9d vs none\n' "$n" "$ir" $((ir - pybase))
done
rm -rf /dev/shm/pyusage-bench-exp

echo "wall time for /bin/true, blocks of 100 runs, $rounds rounds (ratio to none: median [min, max]):"
"$root/build/venv/bin/python" - "$rounds" "${names[@]}" <<'PY'
import os, statistics, subprocess, sys
rounds, names = int(sys.argv[1]), ["none"] + sys.argv[2:]
t = {n: [] for n in names}
for r in range(rounds):
    order = names[r % len(names):] + names[:r % len(names)]
    for n in (order if r % 2 == 0 else order[::-1]):
        env = [] if n == "none" else ["-e", "LD_PRELOAD=%s/build/bench/exp/lib%s.so" % (os.getcwd(), n)]
        p = subprocess.run(["build/bench/spawnloop", "-n", "100", "-u", "LD_PRELOAD"] + env + ["--", "/bin/true"],
                           stdout=subprocess.PIPE, text=True, check=True)
        t[n].append(int(p.stdout.split()[0]))
for n in names[1:]:
    q = sorted(a / b for a, b in zip(t[n], t["none"]))
    print("  %-14s %.3f [%.3f, %.3f]  %.1f us per run" % (n, statistics.median(q), q[0], q[-1],
          statistics.median(t[n]) / 100 / 1e3))
PY
