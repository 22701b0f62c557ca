"""Baseline: ALCF's PyModuleSnooper style of Python monitoring.

Written for the pyusage benchmark, not copied from anywhere. It does what that
method does, at the same cost: an `atexit` hook walks every entry of
`sys.modules` and records the module's name, its file path and its
`__version__`, and writes them as JSON into one file per process.

`bench/run.py` puts this directory on PYTHONPATH for the baseline's rows only
and names the output directory in PYUSAGE_BENCH_ALCF_DIR.
"""

import atexit
import sys


def _snoop():
    try:
        import json
        import os
        import socket
        import time

        modules = []
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            version = getattr(module, "__version__", None)
            modules.append(
                {
                    "name": name,
                    "path": path if isinstance(path, str) else None,
                    "version": str(version) if version is not None else None,
                }
            )
        host = socket.gethostname()
        record = {
            "host": host,
            "pid": os.getpid(),
            "user": os.environ.get("USER") or os.environ.get("LOGNAME"),
            "job_id": os.environ.get("COBALT_JOBID") or os.environ.get("PBS_JOBID"),
            "executable": sys.executable,
            "argv": list(sys.argv),
            "time": time.time(),
            "modules": modules,
        }
        directory = os.environ.get("PYUSAGE_BENCH_ALCF_DIR") or "/tmp"
        path = os.path.join(
            directory, "pymodules-%s-%d-%d.json" % (host, os.getpid(), time.time_ns())
        )
        with open(path, "w") as f:
            json.dump(record, f)
    except Exception:  # noqa: BLE001 - a monitor must never break the user's program
        pass


atexit.register(_snoop)
