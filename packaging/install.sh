#!/usr/bin/env bash
# Install pyusage system-wide (run as root after `cargo build --release`):
#   packaging/install.sh [PREFIX]      (default /opt/pyusage)
# Lays down the tracer, the tools, the system config (if none exists), the
# spool and runtime directories with the right modes, the modulefile and the
# Slurm epilog. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-/opt/pyusage}
install -d "$prefix/bin" "$prefix/lib/pyusage" "$prefix/share/pyusage"
install -m 0755 "$root/target/release/pyusage" "$prefix/bin/pyusage"
# Replace the library by rename so running processes keep the old mapping.
install -m 0644 "$root/target/release/libpyusage.so" "$prefix/lib/pyusage/.libpyusage.so.new"
mv -f "$prefix/lib/pyusage/.libpyusage.so.new" "$prefix/lib/pyusage/libpyusage.so"
install -d /etc/pyusage
[ -e /etc/pyusage/config.toml ] || install -m 0644 "$root/packaging/config.toml" /etc/pyusage/config.toml
install -d -m 1733 /var/spool/pyusage
install -d -m 0755 /var/lib/pyusage
install -m 0644 "$root/packaging/lmod/pyusage.lua" "$prefix/share/pyusage/pyusage.lua"
install -m 0755 "$root/packaging/slurm/epilog.sh" "$prefix/share/pyusage/slurm-epilog.sh"
echo "installed into $prefix; next: pyusage map build --output /var/lib/pyusage/map.bin --python /usr/bin/python3 ..."
