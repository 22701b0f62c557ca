#!/usr/bin/env bash
# PostgreSQL ingest, side by side: builds of pyusage alternating over the
# same NDJSON file, into a fresh database each time, on private clusters
# (the C locale, and en_US.UTF-8 when that locale is installed: a site's
# database usually has one like it). Prints, per build and cluster, the
# median wall time and records per second, and the CPU seconds of the
# client (user + system) and of the server (every postgres process of the
# cluster, reaped backends included), of the timed ingest; the schema is
# created before it.
#
#   bash bench/ingest/pg_ab.sh FILE.ndjson ROUNDS BUILD...
#   PRELOAD=OTHER.ndjson bash bench/ingest/pg_ab.sh ...   (into a store that already holds OTHER)
#
# FILE: e.g. `python3 bench/ingest/gen.py --ndjson FILE --records 50000
# --jobs 5000`. Each round runs every build once, in order, so that load
# from other work on the machine falls on all of them alike. Clusters and
# their processes run at nice -10 (as root), as does the ingest, so that
# other work on a shared machine disturbs the numbers less. Debian's
# postgresql; as root the server runs as `nobody`.
set -euo pipefail
file=$1 rounds=$2
shift 2
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$pgbin" ] || { echo "pg_ab: no PostgreSQL server programs (Debian package postgresql)" >&2; exit 2; }
as=()
nice=()
if [ "$(id -u)" = 0 ]; then
  as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  nice=(nice -n -10)
fi
cfg=$(mktemp /tmp/pyusage-pg-ab.XXXXXX.toml)
empty=$(mktemp /tmp/pyusage-pg-ab.XXXXXX.ndjson)
locales=(C)
locale -a 2>/dev/null | grep -qix 'en_US.utf8' && locales+=(en_US.UTF-8)
dirs=()
cleanup() {
  for d in "${dirs[@]}"; do
    (cd / && "${as[@]}" "$pgbin/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1) || true
    rm -rf "$d"
  done
  rm -f "$cfg" "$empty"
}
trap cleanup EXIT
for loc in "${locales[@]}"; do
  d=$(mktemp -d /tmp/pyusage-pg-ab.XXXXXX)
  dirs+=("$d")
  [ "$(id -u)" = 0 ] && chown nobody "$d"
  (cd / && "${as[@]}" "$pgbin/initdb" -D "$d/data" -U pyusage --auth=trust --no-sync --locale="$loc" -E UTF8 >/dev/null)
  (cd / && "${nice[@]}" "${as[@]}" "$pgbin/pg_ctl" -D "$d/data" -l "$d/log" -w \
    -o "-k $d -c listen_addresses= -c shared_buffers=512MB -c max_wal_size=4GB" start >/dev/null)
done

# CPU ticks of a cluster: its postmaster's own and its reaped children's,
# plus every live child's.
ticks() {
  local pm s=0 p
  pm=$(head -1 "$1/data/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do
    s=$((s + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo $s
}
hz=$(getconf CLK_TCK)
results=$(mktemp /tmp/pyusage-pg-ab.XXXXXX)
n=$(grep -c . "$file")
for r in $(seq "$rounds"); do
  for i in "${!dirs[@]}"; do
    d=${dirs[$i]}
    for b in "$@"; do
      psql -q -h "$d" -U pyusage -d postgres -c "DROP DATABASE IF EXISTS b" -c "CREATE DATABASE b" 2>/dev/null
      url="postgresql:///b?host=$d&user=pyusage"
      # The schema is created before the timed ingest (a one-off of about
      # 0.15 s per store, not a cost per record).
      "$b" ingest --config "$cfg" --db "$url" "$empty" >/dev/null
      if [ -n "${PRELOAD:-}" ]; then "$b" ingest --config "$cfg" --db "$url" "$PRELOAD" >/dev/null; fi
      sleep 0.5
      before=$(ticks "$d")
      t=$( { TIMEFORMAT='%R %U %S'; time "${nice[@]}" "$b" ingest --config "$cfg" --db "$url" "$file" >/dev/null 2>&1; } 2>&1 )
      sleep 0.5 # the backends exit and are reaped
      after=$(ticks "$d")
      echo "${locales[$i]} $b $t $(echo "($after - $before) / $hz" | bc -l)" >>"$results"
    done
  done
done
python3 - "$results" "$n" <<'EOF'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    loc, b, wall, user, sys_, server = line.split()
    rows.setdefault((loc, b), []).append((float(wall), float(user) + float(sys_), float(server)))
n = int(sys.argv[2])
print(f"| locale | build | runs | wall s (median, min-max) | records/s (median) | client CPU s | server CPU s |")
print("|---|---|---|---|---|---|---|")
for (loc, b), v in rows.items():
    w = sorted(x[0] for x in v)
    m = st.median(w)
    print(f"| {loc} | {b} | {len(v)} | {m:.2f} ({w[0]:.2f}-{w[-1]:.2f}) | {n / m:,.0f} | "
          f"{st.median(x[1] for x in v):.2f} | {st.median(x[2] for x in v):.2f} |")
EOF
echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
rm -f "$results"
