#!/usr/bin/env bash
# Optional device check (run on a GPU machine, see tests/gpu/README.md):
# a traced Python loads the CUDA runtime from a pip wheel (as torch and cupy
# do) and calls into it, which loads the driver (libcuda.so.1). The shipped
# record must flag both under native.cuda and resolve the wheel's library to
# its distribution (nvidia-cuda-runtime-cu12, via = library).
# Needs: target/release/{libpyusage.so,pyusage}, build/gpu/site (the wheel,
# installed with pip --target), python3 on the machine.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$(mktemp -d)}
work=$(mktemp -d)
nvidia-smi -L 2>&1 | head -2
ldd --version | head -1
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "SKIP: no python3 on this machine"; exit 0; }
"$py" -V
printf 'spool = "%s"\nruntime_dir = "%s"\nmap = "%s"\n' "$work/spool" "$work/rt" "$work/map.bin" > "$work/config.toml"
"$root/target/release/pyusage" map build --output "$work/map.bin" --root "$root/build/gpu/site=gpu-check" --python "$py" | tail -4
"$root/target/release/pyusage" run --config "$work/config.toml" -- "$py" - "$root/build/gpu/site" <<'PY'
import ctypes, glob, sys
site = sys.argv[1]
lib = glob.glob(site + "/nvidia/cuda_runtime/lib/libcudart.so*")[0]
cudart = ctypes.CDLL(lib)
n = ctypes.c_int(-1)
rc = cudart.cudaGetDeviceCount(ctypes.byref(n))
print("cudaGetDeviceCount rc", rc, "devices", n.value)
PY
echo "exit status $?"
cat "$work"/spool/*.json | tee "$out/records.json"
"$py" - "$work/spool" <<'PY'
import glob, json, sys
recs = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*.json")]
assert len(recs) == 1, f"expected one record, got {len(recs)}"
r = recs[0]
cuda = r["native"]["cuda"]
pk = {p["name"]: p for p in r["packages"]}
ok_rt = any(n.startswith("libcudart") for n in cuda)
ok_drv = any(n.startswith("libcuda.so") for n in cuda)
ok_pk = pk.get("nvidia-cuda-runtime-cu12", {}).get("via") == "library"
print("CHECK cudart flagged:", ok_rt, "| driver flagged:", ok_drv, "| wheel resolved via library:", ok_pk)
sys.exit(0 if ok_rt and ok_drv and ok_pk else 1)
PY
echo "check status $?"
