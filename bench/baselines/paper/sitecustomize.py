"""Baseline: the method of the paper behind pyusage (NERSC's "customs" + syslog).

Written for the pyusage benchmark, not copied from anywhere. It does what that
method does, at the same cost: an `atexit` hook checks `sys.modules` against a
fixed list of about 100 packages of interest, gathers a little job context and
sends one JSON message over syslog (a unix datagram to /dev/log, which is what
the `syslog` module and `logging.handlers.SysLogHandler` do).

`bench/run.py` puts this directory on PYTHONPATH for the baseline's rows only.
This machine has no /dev/log, so the benchmark opens a datagram socket of its
own and names it in PYUSAGE_BENCH_SYSLOG; the message is still built and sent,
and the cost is still paid.
"""

import atexit
import sys

WATCHED = frozenset(
    """
    astropy autograd bokeh boto3 cartopy cffi click cloudpickle cupy cython
    dask dask_cuda datashader distributed fitsio flask gensim gpaw h5py
    healpy holoviews horovod jax jaxlib joblib jupyter keras lightgbm
    llvmlite matplotlib mpi4py mpmath netCDF4 networkx nltk numba numexpr
    numpy onnx onnxruntime openmm pandas panel paramiko PIL plotly
    psutil pyarrow pybind11 pycuda pyfftw pyproj pyspark pytest pytorch_lightning
    pywt pyyaml yaml qiskit ray requests rpy2 scanpy scikit_image skimage
    sklearn scipy seaborn shapely six spacy sqlalchemy statsmodels sympy
    tables tensorflow theano toolz torch torchvision tornado tqdm
    transformers ujson uproot vtk xarray xgboost zarr zmq ase pymatgen
    mdtraj MDAnalysis pyscf qutip lal gwpy pycbc camb emcee corner
    """.split()
)


def _report():
    try:
        import json
        import os
        import socket
        import time

        packages = {}
        for name in WATCHED.intersection(sys.modules):
            module = sys.modules.get(name)
            packages[name] = str(getattr(module, "__version__", "") or "")
        message = {
            "category": "MODS",
            "name": "python",
            "user": os.environ.get("USER") or os.environ.get("LOGNAME"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "job_id": os.environ.get("SLURM_JOB_ID"),
            "num_nodes": os.environ.get("SLURM_JOB_NUM_NODES"),
            "executable": sys.executable,
            "script": sys.argv[0] if sys.argv else None,
            "python_version": "%d.%d.%d" % sys.version_info[:3],
            "packages": packages,
            "time": time.time(),
        }
        payload = "<134>%s customs[%d]: %s" % (
            time.strftime("%b %d %H:%M:%S"),
            os.getpid(),
            json.dumps(message, sort_keys=True),
        )
        address = os.environ.get("PYUSAGE_BENCH_SYSLOG", "/dev/log")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.sendto(payload.encode("utf-8", "replace"), address)
        finally:
            sock.close()
    except Exception:  # noqa: BLE001 - a monitor must never break the user's program
        pass


atexit.register(_report)
