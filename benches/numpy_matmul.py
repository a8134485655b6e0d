#!/usr/bin/env python3
"""Times numpy float32 matmul, the CPU reference point of `cargo bench --bench kernels`.

Usage: numpy_matmul.py M,N,K [M,N,K ...] [--reps R]
Prints one JSON object: {"numpy": version, "blas": name, "results": {"M,N,K": median seconds}}.
Each product is x [M, K] @ w.T with w [N, K] (a linear layer, like the GPU case), after one warm-up.
"""

import json
import statistics
import sys
import time

import numpy as np


def blas_name():
    try:
        info = np.show_config(mode="dicts")
        return info["Build Dependencies"]["blas"]["name"]
    except Exception:  # older numpy: no dict mode
        return "unknown"


def time_matmul(m, n, k, reps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((n, k), dtype=np.float32)
    x @ w.T  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        x @ w.T
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv):
    reps = 7
    shapes = []
    args = iter(argv)
    for a in args:
        if a == "--reps":
            reps = int(next(args))
        else:
            shapes.append(a)
    results = {}
    for s in shapes:
        m, n, k = (int(v) for v in s.split(","))
        results[s] = time_matmul(m, n, k, reps)
    print(json.dumps({"numpy": np.__version__, "blas": blas_name(), "results": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
