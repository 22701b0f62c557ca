#!/usr/bin/env bash
# Remove what packaging/install.sh installed (run by `make uninstall`):
#
#   PREFIX=/opt/pyusage [DESTDIR=] packaging/uninstall.sh
#
# Reads PREFIX/share/pyusage/install-manifest and removes exactly those files,
# then the directories they leave empty. The system config, the spool, the
# package map and any store are not in the manifest: they stay.
set -euo pipefail
PREFIX=${PREFIX:-/opt/pyusage}
DESTDIR=${DESTDIR:-}
manifest=$DESTDIR$PREFIX/share/pyusage/install-manifest
if [ ! -f "$manifest" ]; then
  echo "uninstall: nothing to do: $manifest does not exist" >&2
  exit 0
fi
dirs=()
while IFS= read -r f; do
  case $f in
    "$PREFIX"/*) ;;
    *) echo "uninstall: warning: $manifest: skipping '$f' (not under $PREFIX)" >&2; continue ;;
  esac
  rm -f "$DESTDIR$f"
  dirs+=("$(dirname "$f")")
done < "$manifest"
rm -f "$manifest"
dirs+=("$PREFIX/share/pyusage")
# Remove emptied directories, deepest first, up to (and including) PREFIX.
printf '%s\n' "${dirs[@]}" | sort -u -r | while IFS= read -r d; do
  while [ "${#d}" -ge "${#PREFIX}" ]; do
    rmdir "$DESTDIR$d" 2>/dev/null || break
    d=$(dirname "$d")
  done
done
echo "uninstall: removed pyusage from $DESTDIR$PREFIX (config, spool and map kept)"
