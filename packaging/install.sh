#!/usr/bin/env bash
# Lay down a pyusage deployment (run by `make install`; see README, Deployment).
#
#   PREFIX=/opt/pyusage [DESTDIR=] [SYSCONFDIR=/etc] [LOCALSTATEDIR=/var] \
#   LIB=path/to/libpyusage.so BIN=path/to/pyusage  packaging/install.sh
#
# Installs, under DESTDIR:
#   PREFIX/bin/pyusage                                the command
#   PREFIX/lib/pyusage/libpyusage.so                  the tracer
#   PREFIX/share/modulefiles/pyusage/VERSION.lua      Lmod modulefile, prefix filled in
#   PREFIX/share/pyusage/slurm-epilog.sh              Slurm Epilog (sweeps the job's node)
#   PREFIX/share/pyusage/systemd/*.service|*.timer    sweep (nodes without Slurm), ingest
#                                                     and canary (the collector)
#   PREFIX/share/pyusage/cron/pyusage                 the same as a cron.d file
#   PREFIX/share/pyusage/config.toml.example          every option explained
#   SYSCONFDIR/pyusage/config.toml                    only if absent (never overwritten)
#   LOCALSTATEDIR/spool/pyusage (1733), LOCALSTATEDIR/lib/pyusage (0755)
# and lists what it installed in PREFIX/share/pyusage/install-manifest, which
# `make uninstall` reads (config, spool and map are not in it: they are kept).
#
# Safe to re-run. Every file is written beside its target and renamed over it,
# so running processes keep the library and the command they mapped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PREFIX=${PREFIX:-/opt/pyusage}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
LOCALSTATEDIR=${LOCALSTATEDIR:-/var}
LIB=${LIB:-$root/target/release/libpyusage.so}
BIN=${BIN:-$root/target/release/pyusage}
VERSION=${VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)}

die() { echo "install: error: $*" >&2; exit 1; }
for v in PREFIX SYSCONFDIR LOCALSTATEDIR; do
  case ${!v} in
    /*) ;;
    *) die "$v must be an absolute path, not '${!v}'" ;;
  esac
  case ${!v} in
    *[\|\&\\\"]*) die "$v contains a character the installed files cannot quote: '${!v}'" ;;
  esac
done
[ -f "$LIB" ] || die "$LIB: missing; run 'make dist' first"
[ -f "$BIN" ] || die "$BIN: missing; run 'make dist' first"
[ -n "$VERSION" ] || die "cannot read the version from $root/Cargo.toml"

config=$SYSCONFDIR/pyusage/config.toml
# The library reads the system config at a compiled-in path; a mismatch means
# the config installed here would be ignored on the nodes.
if ! grep -qaF "$config" "$LIB"; then
  echo "install: warning: $LIB does not read $config (built for another SYSCONFDIR);" \
       "run 'make install' without NO_BUILD to rebuild it" >&2
fi

share=$PREFIX/share/pyusage
manifest=$DESTDIR$share/install-manifest
installed=()

# fill TEMPLATE: the template with @PREFIX@, @SYSCONFDIR@, @LOCALSTATEDIR@,
# @VERSION@ replaced (the values were checked above for sed's metacharacters).
fill() {
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" \
      -e "s|@LOCALSTATEDIR@|$LOCALSTATEDIR|g" -e "s|@VERSION@|$VERSION|g" "$1"
}

# put MODE SOURCE TARGET: copy beside the target, then rename over it.
put() {
  local mode=$1 src=$2 dst=$DESTDIR$3
  install -d -m 0755 "$(dirname "$dst")"
  local tmp
  tmp=$(mktemp "$(dirname "$dst")/.$(basename "$dst").XXXXXX")
  cat "$src" > "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dst"
  installed+=("$3")
}

# put_filled MODE TEMPLATE TARGET
put_filled() {
  local tmp
  tmp=$(mktemp)
  fill "$2" > "$tmp"
  put "$1" "$tmp" "$3"
  rm -f "$tmp"
}

put 0755 "$BIN" "$PREFIX/bin/pyusage"
put 0644 "$LIB" "$PREFIX/lib/pyusage/libpyusage.so"
put_filled 0644 "$here/lmod/pyusage.lua" "$PREFIX/share/modulefiles/pyusage/$VERSION.lua"
put_filled 0755 "$here/slurm/epilog.sh" "$share/slurm-epilog.sh"
for unit in "$here"/systemd/*; do
  put_filled 0644 "$unit" "$share/systemd/$(basename "$unit")"
done
put_filled 0644 "$here/cron/pyusage" "$share/cron/pyusage"
put_filled 0644 "$here/config.toml" "$share/config.toml.example"

# The config is the admin's: written once, never replaced.
install -d -m 0755 "$DESTDIR$SYSCONFDIR/pyusage"
if [ ! -e "$DESTDIR$config" ]; then
  fill "$here/config.toml" > "$DESTDIR$config.new"
  chmod 0644 "$DESTDIR$config.new"
  mv -f "$DESTDIR$config.new" "$DESTDIR$config"
  echo "install: wrote $DESTDIR$config"
else
  echo "install: kept $DESTDIR$config (the new example is $DESTDIR$share/config.toml.example)"
fi
# Users drop records into the spool but cannot list or remove others' (1733).
install -d -m 0755 "$DESTDIR$LOCALSTATEDIR/spool" "$DESTDIR$LOCALSTATEDIR/lib"
install -d -m 1733 "$DESTDIR$LOCALSTATEDIR/spool/pyusage"
chmod 1733 "$DESTDIR$LOCALSTATEDIR/spool/pyusage"
install -d -m 0755 "$DESTDIR$LOCALSTATEDIR/lib/pyusage"
# Where the epilog, the units and the cron lines log (kept by uninstall).
install -d -m 0755 "$DESTDIR$LOCALSTATEDIR/log"

tmp=$(mktemp "$manifest.XXXXXX")
printf '%s\n' "${installed[@]}" > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$manifest"
echo "install: pyusage $VERSION in $DESTDIR$PREFIX; next: build the package map"
echo "  $PREFIX/bin/pyusage map build --output $LOCALSTATEDIR/lib/pyusage/map.bin --python /usr/bin/python3"
