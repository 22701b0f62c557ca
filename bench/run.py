"""The pyusage overhead benchmark (driven by bench/run.sh; see bench/README.md).

Every row compares two setups side by side in one run: the runs of all setups
of a row alternate (the order rotates each round), each round gives one ratio
per comparison, and the table shows the median of those ratios with min and
max. The timing itself is done by build/bench/spawnloop (bench/src/spawnloop.c),
so this Python process only starts a loop and reads one line back; it is never
on the timed path and never traced.

    run.py [--quick] [--only ROW[,ROW...]] [--no-callgrind]

Output: the tables on stdout, and build/bench/results.{md,json}.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "bench")
SPAWNLOOP = os.path.join(OUT, "spawnloop")
NOOP = os.path.join(OUT, "libnoop_preload.so")
# run.sh copies target/release/libpyusage.so here first, so that a rebuild by
# someone else during the run cannot change the library under measurement.
LIB = os.path.join(OUT, "libpyusage.so")
PYUSAGE = os.path.join(ROOT, "target", "release", "pyusage")
PY = os.path.join(ROOT, "build", "venv", "bin", "python")
WORK = os.path.join(ROOT, "bench", "workloads")
MODS = os.path.join(OUT, "mods")
SPOOL = os.path.join(OUT, "spool")
# The raw record lives on node-local tmpfs in production; so it does here.
RUNTIME = "/dev/shm/pyusage-bench-%d" % os.getuid()
ALCF_DIR = os.path.join(OUT, "alcf")
SYSLOG_SOCK = os.path.join(OUT, "syslog.sock")
CONFIG = os.path.join(OUT, "pyusage.toml")
MAP = os.path.join(OUT, "map.bin")

# Variables that must not leak from the caller into an "untraced" run.
CLEAN = ["LD_PRELOAD", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONDEVMODE", "PYTHONMALLOC",
         "PYUSAGE_CONFIG", "PYUSAGE_SPOOL", "PYUSAGE_RUNTIME_DIR", "PYUSAGE_MAP",
         "PYUSAGE_DISABLE", "PYUSAGE_DEBUG", "PYUSAGE_BENCH_SYSLOG", "PYUSAGE_BENCH_ALCF_DIR"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setups


class Setup:
    """One way of running a workload: a name and the environment it adds."""

    def __init__(self, name, env=None, cleanup=None):
        self.name = name
        self.env = env or {}
        self.cleanup = cleanup or []


def tracer_env(state):
    # Only the config file (spool, runtime_dir, map): in production the path
    # is compiled in and Lmod adds nothing but LD_PRELOAD.
    return {"LD_PRELOAD": LIB, "PYUSAGE_CONFIG": CONFIG}


# Every setup's environment is padded to this many added variables: the
# dynamic loader scans the whole environment (GLIBC_TUNABLES), so a longer
# one costs instructions that do not belong to any setup.
ENV_ADDED = 2


def setups(state):
    return {
        "none": Setup("no tracer"),
        "noop": Setup("do-nothing C preload", {"LD_PRELOAD": NOOP}),
        "pyusage": Setup("libpyusage.so", tracer_env(state), [SPOOL, RUNTIME]),
        "paper": Setup("paper's sitecustomize",
                       {"PYTHONPATH": os.path.join(ROOT, "bench", "baselines", "paper"),
                        "PYUSAGE_BENCH_SYSLOG": SYSLOG_SOCK}),
        "alcf": Setup("ALCF-style sitecustomize",
                      {"PYTHONPATH": os.path.join(ROOT, "bench", "baselines", "alcf"),
                       "PYUSAGE_BENCH_ALCF_DIR": ALCF_DIR}, [ALCF_DIR]),
    }


def empty_dir(path):
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        p = os.path.join(path, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def dir_files(path):
    out = []
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            out.append((os.path.join(dirpath, name), st))
    return out


def padded_env(setup):
    env = dict(setup.env)
    for i in range(ENV_ADDED - len(env)):
        env["PYUSAGE_BENCH_PAD%d" % i] = os.path.join(OUT, "pad")
    return env


def spawnloop(setup, n, argv):
    cmd = [SPAWNLOOP, "-n", str(n)]
    for name in CLEAN:
        cmd += ["-u", name]
    for k, v in padded_env(setup).items():
        cmd += ["-e", "%s=%s" % (k, v)]
    cmd += ["--"] + argv
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fields = p.stdout.split()
    if len(fields) != 6:
        raise RuntimeError("spawnloop failed (%s): %s" % (setup.name, p.stderr.strip()[-400:]))
    ns, runs, rss_med, rss_max, failures, cpu_ns = map(int, fields)
    return {"ns": ns, "runs": runs, "rss_med_kib": rss_med, "rss_max_kib": rss_max,
            "failures": failures, "cpu_ns": cpu_ns, "stderr": p.stderr.strip()}


# ---------------------------------------------------------------- rows


class Row:
    """A workload, the setups it runs under, and the comparisons it reports.

    Each round runs a block of `block` runs under every setup (in rotated
    order); `rounds` rounds make the row. `compare` lists (setup, baseline,
    goal) triples: the ratio is time(setup) / time(baseline).
    """

    def __init__(self, key, title, argv, block, rounds, setups, compare, records=None):
        self.key, self.title, self.argv = key, title, argv
        self.block, self.rounds = block, rounds
        self.setups, self.compare = setups, compare
        self.records = records  # shipped records expected per traced run, if known


def rows(quick):
    # Many small blocks: the median of many adjacent pairs shrugs off the
    # bursts of other work on a shared machine better than a few long blocks.
    q = (lambda full, fast: fast if quick else full)
    pass_argv = [PY, "-c", "pass"]
    return [
        Row("true", "`/bin/true`, 2,000 runs x%d (blocks of 20)" % q(3, 1), ["/bin/true"],
            20, q(300, 100), ["none", "noop", "pyusage"],
            [("pyusage", "none", 1.05), ("pyusage", "noop", 1.00), ("noop", "none", None)], 0),
        Row("pass", "`python -c pass`, 200 runs x%d (blocks of 5)" % q(3, 1), pass_argv,
            5, q(120, 40), ["none", "pyusage", "paper", "alcf"],
            [("pyusage", "none", 1.05), ("pyusage", "paper", 0.5), ("pyusage", "alcf", 0.4),
             ("paper", "none", None), ("alcf", "none", None)], 1),
        Row("numpy", "`import numpy, scipy.optimize, pandas`, %d runs (blocks of 1)" % q(20, 6),
            [PY, "-c", "import numpy, scipy.optimize, pandas"],
            1, q(20, 6), ["none", "pyusage"], [("pyusage", "none", 1.02)], 1),
        Row("pool", "multiprocessing `Pool(8)` (fork), 2,000 small tasks, %d runs (blocks of 1)"
            % q(60, 15), [PY, os.path.join(WORK, "pool_fork.py"), "2000"],
            1, q(60, 15), ["none", "pyusage"], [("pyusage", "none", 1.05)]),
        Row("subprocess", "200 `subprocess.run([\"true\"])` from Python, %d runs (blocks of 1)"
            % q(40, 10), [PY, os.path.join(WORK, "subprocess_true.py"), "200"],
            1, q(40, 10), ["none", "pyusage"], [("pyusage", "none", 1.05)], 1),
        Row("threads", "16 threads importing 300 modules concurrently, %d runs (blocks of 1)"
            % q(60, 15), [PY, os.path.join(WORK, "threaded_imports.py"), MODS, "16"],
            1, q(60, 15), ["none", "pyusage"], [("pyusage", "none", 1.05)], 1),
    ]


def median_ci(sorted_values):
    """About 95% confidence interval of the median (order statistics, no model)."""
    n = len(sorted_values)
    half = 0.98 * n ** 0.5  # 1.96 * sqrt(n) / 2
    lo = max(0, int(n / 2 - half))
    hi = min(n - 1, int(n / 2 + half + 0.999))
    return sorted_values[lo], sorted_values[hi]


def run_row(row, state):
    table = setups(state)
    times = {s: [] for s in row.setups}
    cpu = {s: [] for s in row.setups}
    rss = {s: [] for s in row.setups}
    records = []
    record_sizes = []
    alcf_sizes = []
    stderr = set()
    for s in row.setups:
        for d in table[s].cleanup:
            empty_dir(d)
    t_start = time.monotonic()
    for r in range(row.rounds):
        # Rotate the order every round: with two setups that is AB BA AB ...,
        # so each pair is adjacent in time and neither always goes first.
        k = r % len(row.setups)
        order = row.setups[k:] + row.setups[:k]
        for s in order:
            setup = table[s]
            res = spawnloop(setup, row.block, row.argv)
            if res["failures"]:
                raise RuntimeError("%s under %s: %d of %d runs failed: %s" % (
                    row.key, setup.name, res["failures"], res["runs"], res["stderr"][-400:]))
            if res["stderr"]:
                stderr.add((s, res["stderr"][-300:]))
            times[s].append(res["ns"])
            cpu[s].append(res["cpu_ns"])
            rss[s].append(res["rss_med_kib"])
            if s == "pyusage":
                shipped = [(p, st) for p, st in dir_files(SPOOL) if p.endswith(".json")]
                records.append(len(shipped))
                record_sizes += [st.st_size for _, st in shipped]
            elif s == "alcf":
                alcf_sizes += [st.st_size for _, st in dir_files(ALCF_DIR)]
            for d in setup.cleanup:
                empty_dir(d)
    elapsed = time.monotonic() - t_start
    out = {"key": row.key, "title": row.title, "rounds": row.rounds, "block": row.block,
           "elapsed_s": round(elapsed, 1), "comparisons": [],
           "mean_ms": {s: statistics.median(times[s]) / row.block / 1e6 for s in row.setups},
           "rss_kib": {s: statistics.median(rss[s]) for s in row.setups},
           "stderr": sorted(stderr)}
    for a, b, goal in row.compare:
        ratios = sorted(x / y for x, y in zip(times[a], times[b]))
        cpu_ratios = sorted(x / y for x, y in zip(cpu[a], cpu[b]) if y > 0)
        lo, hi = median_ci(ratios)
        out["comparisons"].append({
            "setup": a, "baseline": b, "goal": goal,
            "median": statistics.median(ratios), "min": ratios[0], "max": ratios[-1],
            "ci_low": lo, "ci_high": hi, "pairs": len(ratios),
            "cpu_median": statistics.median(cpu_ratios) if cpu_ratios else None,
        })
    if "pyusage" in row.setups:
        per_run = statistics.mean(records) / row.block if records else 0
        out["records_per_run"] = per_run
        out["record_bytes_median"] = statistics.median(record_sizes) if record_sizes else None
        out["records_expected"] = row.records
    if alcf_sizes:
        out["alcf_file_bytes_median"] = statistics.median(alcf_sizes)
    return out


# ---------------------------------------------------------------- extras


class SyslogSink:
    """A unix datagram socket standing in for /dev/log (this machine has none)."""

    def __init__(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.messages = 0
        self.last = b""
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            self.messages += 1
            self.last = data


MEMORY_CASES = [
    ("cat", "`cat` (not Python)", ["cat"], ["none", "noop", "pyusage"]),
    ("python", "`python -c 'import sys'`", None, ["none", "pyusage"]),
    ("numpy", "`import numpy, scipy.optimize, pandas`", "import numpy, scipy.optimize, pandas\n",
     ["none", "pyusage"]),
]


def live_process(setup, argv, ready):
    """Start argv under setup, wait until it is ready, and measure it alive."""
    empty_dir(SPOOL)
    empty_dir(RUNTIME)
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    env.update(padded_env(setup))
    p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if ready:
        p.stdout.readline()
    else:
        time.sleep(0.2)
    status = {}
    with open("/proc/%d/status" % p.pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                status[k] = int(v.split()[0])
    files = dir_files(RUNTIME)
    status["tmpfs_bytes"] = sum(st.st_blocks * 512 for _, st in files)
    status["raw_files"] = len(files)
    p.stdin.close()
    p.stdout.read()
    p.wait()
    shipped = [q for q, _ in dir_files(SPOOL) if q.endswith(".json")]
    record = None
    if shipped:
        with open(shipped[0], "rb") as f:
            record = f.read()
    return status, record


def memory_and_record(state, samples=3):
    """Extra memory of a live traced process (medians of a few), and its record."""
    table = setups(state)
    out = {"cases": []}
    for key, title, code, which in MEMORY_CASES:
        if isinstance(code, list):
            argv, ready = code, False
        else:
            script = (code or "import sys\n") + (
                "sys = __import__('sys'); sys.stdout.write('ready\\n'); sys.stdout.flush(); "
                "sys.stdin.read()\n")
            argv, ready = [PY, "-c", script], True
        case = {"key": key, "title": title, "setups": {}}
        for s in which:
            runs = []
            for _ in range(samples):
                status, record = live_process(table[s], argv, ready)
                runs.append(status)
                if s == "pyusage" and record is not None:
                    case["record_bytes"] = len(record)
                    path = os.path.join(OUT, "sample-record-%s.json" % key)
                    with open(path, "wb") as f:
                        f.write(record)
                    try:
                        rec = json.loads(record)
                        case["record_packages"] = len(rec.get("packages") or [])
                        case["record_unmapped"] = len(rec.get("unmapped") or [])
                    except ValueError as e:
                        case["record_error"] = str(e)
            case["setups"][s] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        out["cases"].append(case)
    empty_dir(SPOOL)
    empty_dir(RUNTIME)
    return out


def callgrind_functions(path, inclusive=False):
    """{function: Ir} from callgrind_annotate (self cost unless inclusive)."""
    cmd = ["callgrind_annotate", "--threshold=100"]
    if inclusive:
        cmd.append("--inclusive=yes")
    text = subprocess.run(cmd + [path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True).stdout
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            name = m.group(2).strip()
            out[name] = out.get(name, 0) + int(m.group(1).replace(",", ""))
    return out, text


def short_fn(name):
    """'./elf/./elf/dl-lookup.c:do_lookup_x [/usr/lib/.../ld-linux-x86-64.so.2]' -> 'do_lookup_x (ld-linux-x86-64.so.2)'"""
    m = re.match(r"(.*?)(?: \[(.*)\])?$", name)
    fn, obj = m.group(1), m.group(2)
    fn = fn.rsplit(":", 1)[-1] if ":" in fn else fn
    return "%s (%s)" % (fn, os.path.basename(obj)) if obj else fn


def callgrind_diff(base, new, n=12):
    """The functions whose self cost grew most from base to new."""
    a, _ = callgrind_functions(base)
    b, _ = callgrind_functions(new)
    merged = {}
    for k in set(a) | set(b):
        merged[short_fn(k)] = merged.get(short_fn(k), 0) + b.get(k, 0) - a.get(k, 0)
    return sorted(((d, k) for k, d in merged.items() if d), reverse=True)[:n]


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return None


def callgrind(state):
    """Instruction counts (repeatable on a noisy machine) with valgrind's callgrind."""
    if not shutil.which("valgrind"):
        return {"error": "valgrind not installed"}
    cg_dir = os.path.join(OUT, "callgrind")
    os.makedirs(cg_dir, exist_ok=True)
    table = setups(state)
    cases = [("true", "none", ["/bin/true"]), ("true", "noop", ["/bin/true"]),
             ("true", "pyusage", ["/bin/true"]),
             ("pass", "none", [PY, "-c", "pass"]), ("pass", "noop", [PY, "-c", "pass"]),
             ("pass", "pyusage", [PY, "-c", "pass"]),
             ("numpy", "none", [PY, "-c", "import numpy"]),
             ("numpy", "noop", [PY, "-c", "import numpy"]),
             ("numpy", "pyusage", [PY, "-c", "import numpy"])]
    out = {}
    for work, key, argv in cases:
        if key == "pyusage" and not os.path.exists(LIB):
            continue
        empty_dir(SPOOL)
        empty_dir(RUNTIME)
        cg_out = os.path.join(cg_dir, "%s.%s.out" % (work, key))
        env = {k: v for k, v in os.environ.items() if k not in CLEAN}
        env.update(padded_env(table[key]))
        env["PYTHONHASHSEED"] = "0"  # same dict layouts in both runs
        env["OPENBLAS_NUM_THREADS"] = "1"  # no idle BLAS threads spinning
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg_out]
                           + argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        if p.returncode != 0:
            out["%s.%s" % (work, key)] = {"error": p.stderr.strip()[-300:]}
            continue
        entry = out["%s.%s" % (work, key)] = {"ir": callgrind_total(cg_out), "file": cg_out}
        incl, text = callgrind_functions(cg_out, inclusive=True)
        with open(cg_out + ".txt", "w") as f:
            f.write(text)
        if key == "pyusage":
            ours = sorted(((v, short_fn(k)) for k, v in incl.items() if "libpyusage" in k),
                          reverse=True)
            entry["top"] = ours[:12]
            base = os.path.join(cg_dir, "%s.%s.out" % (work, "noop" if work == "true" else "none"))
            if os.path.exists(base):
                entry["diff_vs"] = "noop" if work == "true" else "none"
                entry["diff"] = callgrind_diff(base, cg_out)
    empty_dir(SPOOL)
    empty_dir(RUNTIME)
    return out


# ---------------------------------------------------------------- report


NAMES = {"none": "no tracer", "noop": "do-nothing C preload", "pyusage": "libpyusage.so",
         "paper": "paper's sitecustomize", "alcf": "ALCF-style sitecustomize"}


def verdict(c):
    if c["goal"] is None:
        return "(reference)"
    if c["median"] <= c["goal"]:
        return "yes"
    if c["ci_low"] <= c["goal"]:
        return "NO, within noise"
    return "**NO**"


def render(results, state, extras, cg):
    lines = []
    add = lines.append
    add("## pyusage overhead, %s" % state["when"])
    add("")
    add("Machine: %s; `nproc` = %s; %s; Python %s (build/venv). Library: commit %s. Map: %s." % (
        state["host_desc"], state["nproc"], state["cpu"], state["pyver"], state["commit"],
        state["map_desc"]))
    add("")
    add("Load average (1 min) at start %s, at end %s; runs at %s. Ratios are only as steady "
        "as the machine." % (state.get("load_start", "?"), state.get("load_end", "?"),
                             state.get("nice", "?")))
    if not state["lib_built"]:
        add("")
        add("**libpyusage.so was not built: tracer rows are missing.**")
    add("")
    add("| workload | setup | compared with | ratio (median) | 95% CI of median | min | max | CPU-time ratio | goal | goal met? |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for c in r["comparisons"]:
            add("| %s | %s | %s | %.3f | %.3f-%.3f | %.3f | %.3f | %s | %s | %s |" % (
                r["title"], NAMES[c["setup"]], NAMES[c["baseline"]], c["median"], c["ci_low"],
                c["ci_high"], c["min"],
                c["max"], "%.3f" % c["cpu_median"] if c["cpu_median"] else "-",
                "<= %.2f" % c["goal"] if c["goal"] is not None else "-", verdict(c)))
    add("")
    add("Time per run (median of blocks), peak RSS (median), traced records:")
    add("")
    add("| workload | " + " | ".join(NAMES[k] for k in NAMES) + " | records shipped per traced run | median record bytes | rounds x block | wall s |")
    add("|---|" + "---|" * len(NAMES) + "---|---|---|---|")
    for r in results:
        cells = []
        for k in NAMES:
            if k in r["mean_ms"]:
                cells.append("%.3f ms, %d KiB" % (r["mean_ms"][k], r["rss_kib"][k]))
            else:
                cells.append("")
        rec = ""
        if "records_per_run" in r:
            rec = "%.2f" % r["records_per_run"]
            if r.get("records_expected") is not None and r["records_per_run"] < r["records_expected"]:
                rec += " (**expected >= %d**)" % r["records_expected"]
        rb = "%d" % r["record_bytes_median"] if r.get("record_bytes_median") else "-"
        add("| %s | %s | %s | %s | %d x %d | %.0f |" % (
            r["title"], " | ".join(cells), rec, rb, r["rounds"], r["block"], r["elapsed_s"]))
    for r in results:
        for s, err in r.get("stderr", []):
            add("")
            add("stderr of %s under %s: `%s`" % (r["key"], NAMES[s], err.replace("\n", " | ")))
    if extras:
        add("")
        add("Memory of one live process (median of 3; RssFile is mostly shared page cache):")
        add("")
        add("| process | setup | RssAnon KiB | RssFile KiB | RssShmem KiB | tmpfs bytes (raw record) | shipped record bytes |")
        add("|---|---|---|---|---|---|---|")
        for case in extras["cases"]:
            base = case["setups"].get("none", {})
            for s, m in case["setups"].items():
                d = lambda k: "%d" % m[k] if s == "none" else "%d (%+d)" % (m[k], m[k] - base.get(k, 0))
                rec = ""
                if s == "pyusage":
                    rec = "%d (%s packages, %s unmapped)" % (
                        case["record_bytes"], case.get("record_packages"),
                        case.get("record_unmapped")) if "record_bytes" in case else "none shipped"
                add("| %s | %s | %s | %s | %s | %s | %s |" % (
                    case["title"], NAMES[s], d("RssAnon"), d("RssFile"), d("RssShmem"),
                    d("tmpfs_bytes"), rec))
        extra_out = []
        if state.get("syslog_bytes"):
            extra_out.append("the paper's method sends %d bytes over syslog per process"
                             % state["syslog_bytes"])
        for r in results:
            if r.get("alcf_file_bytes_median"):
                extra_out.append("the ALCF-style method writes a %d-byte file per process (%s)"
                                 % (r["alcf_file_bytes_median"], r["key"]))
            if r.get("record_bytes_median"):
                extra_out.append("pyusage ships a %d-byte record (median, %s)"
                                 % (r["record_bytes_median"], r["key"]))
        if extra_out:
            add("")
            add("For comparison: " + "; ".join(extra_out) + ".")
    if cg:
        add("")
        add("Instruction counts (valgrind --tool=callgrind, whole process incl. ld.so; repeatable):")
        add("")
        add("| workload | setup | instructions | vs no tracer | vs do-nothing C preload |")
        add("|---|---|---|---|---|")
        for work, title in (("true", "`/bin/true`"), ("pass", "`python -c pass`"),
                            ("numpy", "`python -c 'import numpy'`")):
            base = cg.get(work + ".none", {}).get("ir")
            noop = cg.get(work + ".noop", {}).get("ir")
            for key in ("none", "noop", "pyusage"):
                e = cg.get("%s.%s" % (work, key))
                if not e:
                    continue
                if "error" in e:
                    add("| %s | %s | error: %s | | |" % (title, NAMES[key], e["error"][:80]))
                    continue
                ir = e["ir"]
                vs = "%+d (%.3fx)" % (ir - base, ir / base) if base and key != "none" else ""
                vn = "%+d (%.3fx)" % (ir - noop, ir / noop) if noop and key == "pyusage" else ""
                add("| %s | %s | %d | %s | %s |" % (title, NAMES[key], ir, vs, vn))
        for work in ("true", "pass", "numpy"):
            e = cg.get(work + ".pyusage", {})
            if not e.get("top") and not e.get("diff"):
                continue
            add("")
            add("Where the extra instructions go (%s): libpyusage.so functions by inclusive "
                "count, then the functions whose own count grew most against %s:" % (
                    work, NAMES[e.get("diff_vs", "none")]))
            add("")
            add("```")
            for v, fn in e.get("top", []):
                add("%12d  %s" % (v, fn))
            add("---")
            for d, fn in e.get("diff", []):
                add("%+12d  %s" % (d, fn))
            add("```")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    ap.add_argument("--only", default="", help="comma-separated row keys")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-nice", action="store_true", help="do not raise the priority as root")
    ap.add_argument("--map", default="", help="the package map to use, if built")
    ap.add_argument("--map-desc", default="none")
    args = ap.parse_args()

    os.makedirs(OUT, exist_ok=True)
    # On a shared machine, other work disturbs the ratios less when the
    # benchmark (and so every run it starts) has a higher CPU weight. Every
    # setup gets the same priority, so the comparison stays fair.
    state_nice = "default priority"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and not args.no_nice:
        try:
            os.nice(-15)
            state_nice = "nice -15 (root)"
        except OSError:
            pass
    for d in (SPOOL, RUNTIME, ALCF_DIR):
        empty_dir(d)
    state = {
        "map": bool(args.map),
        "nice": state_nice,
        "map_desc": args.map_desc,
        "lib_built": os.path.exists(LIB),
        "when": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "nproc": os.cpu_count(),
        "cpu": "unknown CPU",
        "host_desc": "%s %s" % (platform.system(), platform.release()),
        "pyver": subprocess.run([PY, "-c", "import platform; print(platform.python_version())"],
                                stdout=subprocess.PIPE, text=True).stdout.strip(),
    }
    git = lambda *a: subprocess.run(["git", "-C", ROOT] + list(a), stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
    state["commit"] = git("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
    if git("diff", "--quiet", "HEAD", "--", "preload", "record", "resolver").returncode:
        state["commit"] += " + uncommitted changes in preload/record/resolver"
    try:
        state["nproc"] = subprocess.run(["nproc"], stdout=subprocess.PIPE, text=True).stdout.strip()
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    state["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open(CONFIG, "w") as f:
        f.write("# written by bench/run.py\n")
        f.write('spool = "%s"\nruntime_dir = "%s"\n' % (SPOOL, RUNTIME))
        if args.map:
            f.write('map = "%s"\n' % MAP)

    state["load_start"] = "%.2f" % os.getloadavg()[0]
    sink = SyslogSink(SYSLOG_SOCK)
    results = []
    only = set(filter(None, args.only.split(",")))
    for row in rows(args.quick):
        if only and row.key not in only:
            continue
        if not state["lib_built"]:
            row.setups = [s for s in row.setups if s != "pyusage"]
            row.compare = [c for c in row.compare if "pyusage" not in c[:2]]
            if not row.compare:
                continue
        log("bench: %s ..." % row.title)
        try:
            results.append(run_row(row, state))
        except RuntimeError as e:
            log("bench: row %s failed: %s" % (row.key, e))
            results.append({"key": row.key, "title": row.title + " **FAILED: %s**" % e,
                            "rounds": 0, "block": 0, "elapsed_s": 0, "comparisons": [],
                            "mean_ms": {}, "rss_kib": {}})
        r = results[-1]
        for c in r["comparisons"]:
            log("bench:   %s / %s = %.3f (CI %.3f-%.3f, min %.3f, max %.3f) %s" % (
                c["setup"], c["baseline"], c["median"], c["ci_low"], c["ci_high"], c["min"],
                c["max"], verdict(c)))
    state["syslog_bytes"] = len(sink.last)
    state["load_end"] = "%.2f" % os.getloadavg()[0]
    extras = {}
    if state["lib_built"] and (not only or "memory" in only):
        log("bench: memory and record size ...")
        extras = memory_and_record(state)
    cg = {}
    if not args.no_callgrind and (not only or "callgrind" in only):
        log("bench: callgrind instruction counts ...")
        cg = callgrind(state)
    text = render(results, state, extras, cg)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"state": state, "rows": results, "memory": extras, "callgrind": cg}, f,
                  indent=1, default=str)
    print(text)
    shutil.rmtree(RUNTIME, ignore_errors=True)


if __name__ == "__main__":
    main()
