#!/usr/bin/env python3
"""Time to solution of k-means++ against random init on the GPU engine.

For each shape, writes Gaussian blobs (K true centres) as a float16 .npy, runs `fkm run` with
`--init random` and `--init kmeans++` (same seed, tol 1e-4, at most 300 iterations) and prints a
Markdown table: init ms, iterations, ms per iteration, total (init + iterations) ms, final inertia.
What it shows: whether k-means++ seeding pays for itself (fewer iterations, lower inertia) and what
its seeding costs next to one Lloyd iteration.

usage: init_cost.py FKM_BINARY [OUT.md]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SHAPES = [(100_000, 64, 256), (1_000_000, 128, 1024), (1_000_000, 128, 4096)]


def blobs(n, d, k, seed):
    """n points around k random centres (spread 1 around centres in [-10, 10]^d), float16."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(k, d)).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    return (centres[labels] + rng.standard_normal((n, d), dtype=np.float32)).astype(np.float16)


def run(fkm, path, k, init):
    """One `fkm run` on the GPU; its --json summary."""
    out = subprocess.run([fkm, "run", path, "-k", str(k), "--init", init, "--engine", "gpu",
                          "--seed", "1", "--tol", "1e-4", "--iters", "300", "--json", "--quiet"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def row(n, d, k, init, s):
    inertia = sum(s["inertia"]) if isinstance(s["inertia"], list) else s["inertia"]
    iters_ms = s["ms_per_iter"] * s["iterations"]
    return (f"| {n} | {d} | {k} | {init} | {s['ms_init']:.1f} | {s['iterations']} | "
            f"{s['ms_per_iter']:.3f} | {s['ms_init'] + iters_ms:.1f} | {inertia:.6g} |")


def main():
    fkm = sys.argv[1]
    lines = ["| N | D | K | init | init ms | iterations | ms/iter | init + iterations ms | inertia |",
             "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for n, d, k in SHAPES:
            path = os.path.join(tmp, "x.npy")
            np.save(path, blobs(n, d, k, seed=n + k))
            run(fkm, path, k, "random")  # warm the kernel cache: compile time stays out
            for init in ("random", "kmeans++"):
                lines.append(row(n, d, k, init, run(fkm, path, k, init)))
                print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write(table)
    print(table)


if __name__ == "__main__":
    main()
