#!/usr/bin/env bash
# `make test`'s last step: build the tracer, run every test once, then say
# how many ran and how many skipped (tests/src/skip.rs). Under CI=true a
# skip is a failure, so CI cannot pass by not testing.
set -uo pipefail
cd "$(dirname "$0")/.."
cargo=${CARGO:-cargo}
mkdir -p target
rm -f target/test-skips.log
# The preload alone first (panic = abort, no_std); `cargo test` then builds
# everything else once, the `pyusage` program included.
"$cargo" build --release -p pyusage-preload || exit 1
"$cargo" test --release --workspace --no-fail-fast 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
python3 - target/test-output.log target/test-skips.log <<'PY'
import re, sys
out, skips = sys.argv[1], sys.argv[2]
totals = dict(passed=0, failed=0, ignored=0)
for line in open(out, errors="replace"):
    m = re.match(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", line)
    if m:
        for k, v in zip(("passed", "failed", "ignored"), m.groups()):
            totals[k] += int(v)
try:
    skipped = [l.rstrip("\n").split("\t", 1) for l in open(skips) if l.strip()]
except FileNotFoundError:
    skipped = []
tests = sorted({t for t, _ in skipped})
ran = totals["passed"] + totals["failed"]
print(f"\nmake test: {ran} tests ran ({totals['passed']} passed, {totals['failed']} failed), "
      f"{totals['ignored']} ignored, {len(tests)} skipped all or part of their work")
for t, why in skipped:
    print(f"  skipped: {t}: {why}")
PY
exit "$status"
