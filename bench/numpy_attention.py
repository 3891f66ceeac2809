"""Standard attention in NumPy, timed: the comparison `attnlab bench` runs in the same process tree.

    softmax(Q Kᵀ / √d) V  for one head, float32, --repeat timed runs after one warm-up.

`bench` starts it once per measurement (--repeat 1), between its own runs, so that AttnLab and
NumPy alternate. Prints one JSON object per line: {"n", "d", "seconds", "gflops"} for each run
(4·N²·d FLOPs for the two products), then {"numpy", "blas"}.
"""
import argparse
import json
import time

import numpy as np


def attention(q, k, v):
    s = (q @ k.T) * np.float32(1 / np.sqrt(q.shape[1]))
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    return p @ v


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="1024,2048,4096")
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    for n in [int(x) for x in args.n.split(",")]:
        q, k, v = (rng.standard_normal((n, args.d), dtype=np.float32) for _ in range(3))
        for _ in range(2):  # warm-up: a fresh process, its BLAS threads not yet running
            attention(q, k, v)
        for _ in range(args.repeat):
            start = time.perf_counter()
            attention(q, k, v)
            seconds = time.perf_counter() - start
            print(json.dumps({"n": n, "d": args.d, "seconds": seconds, "gflops": 4 * n * n * args.d / seconds / 1e9}))
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy has no dict form
        blas = "unknown"
    print(json.dumps({"numpy": np.__version__, "blas": blas}))


if __name__ == "__main__":
    main()
