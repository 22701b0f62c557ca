"""multiprocessing Pool(8) with the fork start method, 2,000 small tasks.

Every worker is a fork of this process and ends with os._exit, so this is the
path where a tracer pays for fork handling and for finishing a record without
atexit. chunksize=1 makes each task its own round trip through the pool.
"""
import multiprocessing as mp
import sys


def task(x):
    return sum(range(x % 97))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with mp.get_context("fork").Pool(8) as pool:
        total = sum(pool.imap_unordered(task, range(n), chunksize=1))
    expected = sum(sum(range(x % 97)) for x in range(n))
    if total != expected:
        sys.exit("pool_fork: wrong result")


if __name__ == "__main__":
    main()
