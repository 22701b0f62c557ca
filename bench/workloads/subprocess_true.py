"""200 subprocess.run(["true"]) from Python.

subprocess uses vfork (CPython 3.10+) and the children inherit LD_PRELOAD, so
this is what a Python driver script that shells out pays, on both sides.
"""
import subprocess
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for _ in range(n):
        subprocess.run(["true"], check=True)


if __name__ == "__main__":
    main()
