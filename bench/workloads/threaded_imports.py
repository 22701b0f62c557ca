"""16 threads importing 300 modules concurrently.

    threaded_imports.py MODULE_DIR [THREADS]

MODULE_DIR holds the package `benchmods` with modules m000 ... m299 (made by
bench/run.py, byte-compiled in advance so no run writes __pycache__). All
threads start together at a barrier and each walks all 300 modules from its own
starting point, so the import lock is contended and a tracer's audit hook is
entered from many threads at once.
"""
import importlib
import sys
import threading


def main():
    sys.path.insert(0, sys.argv[1])
    nthreads = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    import benchmods

    names = ["benchmods.m%03d" % i for i in range(benchmods.COUNT)]
    barrier = threading.Barrier(nthreads)
    errors = []

    def worker(t):
        barrier.wait()
        start = (t * 19) % len(names)
        try:
            for name in names[start:] + names[:start]:
                importlib.import_module(name).f(t)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors or len([n for n in sys.modules if n.startswith("benchmods.")]) != len(names):
        sys.exit("threaded_imports: %r" % errors[:1])


if __name__ == "__main__":
    main()
