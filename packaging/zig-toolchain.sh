#!/usr/bin/env bash
# Install the toolchain that builds the release library against an old glibc
# (idempotent): ziglang and cargo-zigbuild from the Python package index, in a
# virtualenv under build/ (ignored by git). Prints the venv's bin directory.
#
#   packaging/zig-toolchain.sh [DEST]       (default: build/zig)
#
# `cargo zigbuild --target x86_64-unknown-linux-gnu.2.17` then links
# libpyusage.so against glibc 2.17's symbol versions, so the library loads on
# compute-node images older than the build host (see README, Deployment).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/../build/zig}
python=${PYUSAGE_ZIG_PYTHON:-$(command -v python3)}
stamp=$dest/.pyusage-zig-v1
if [ ! -f "$stamp" ]; then
  rm -rf "$dest"
  "$python" -m venv "$dest" >&2
  "$dest/bin/python" -m pip install --quiet --disable-pip-version-check \
      'ziglang==0.13.0' 'cargo-zigbuild==0.19.8' >&2
  touch "$stamp"
fi
echo "$(cd "$dest/bin" && pwd)"
