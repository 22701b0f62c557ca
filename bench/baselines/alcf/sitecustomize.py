"""Baseline: ALCF's PyModuleSnooper style of Python monitoring.

Written for the pyusage benchmark, not copied from anywhere. It follows the
method (and so pays the cost) of ALCF's PyModuleSnooper as deployed in a
`sitecustomize`: import the standard modules it needs at start-up (datetime,
json, logging, socket), and register an `atexit` hook that walks every entry of
`sys.modules`, collects each module's file path and `__version__` together with
the process context (executable, argv, sys.path, environment, host, pid,
time), and writes them as one JSON line through a `logging.FileHandler` into a
file of its own per process (host.pid.time).

`bench/run.py` puts this directory on PYTHONPATH for the baseline's rows only
and names the output directory in PYUSAGE_BENCH_ALCF_DIR.
"""

import atexit
import datetime
import json
import logging
import os
import socket
import sys


def _rank_nonzero():
    mpi = getattr(sys.modules.get("mpi4py"), "MPI", None)
    try:
        return mpi is not None and mpi.Is_initialized() and mpi.COMM_WORLD.Get_rank() > 0
    except Exception:  # noqa: BLE001
        return False


def _snoop():
    try:
        if _rank_nonzero():
            return
        now = datetime.datetime.now()
        host = socket.gethostname()
        modules = dict(sys.modules)
        paths = {name: m.__file__ for name, m in modules.items() if hasattr(m, "__file__")}
        versions = {name: str(getattr(modules[name], "__version__", None)) for name in paths}
        record = {
            "timestamp": now.strftime("%m-%d-%Y %H:%M:%S.%f"),
            "sys.executable": sys.executable,
            "sys.argv": sys.argv,
            "sys.path": sys.path,
            "env": dict(os.environ),
            "hostname": host,
            "pid": os.getpid(),
            "modules": paths,
            "versions": versions,
        }
        directory = os.environ.get("PYUSAGE_BENCH_ALCF_DIR") or "/tmp"
        name = "%s.%d.%s" % (host, os.getpid(), now.strftime("%H.%M.%S.%f"))
        logger = logging.getLogger("pyusage-bench-alcf")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        handler = logging.FileHandler(os.path.join(directory, name))
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.info(json.dumps(record))
        handler.close()
    except Exception:  # noqa: BLE001 - a monitor must never break the user's program
        pass


if not os.environ.get("DISABLE_PYMODULE_LOG"):
    atexit.register(_snoop)
