"""Runs flash-kmeans (PyPI `flash-kmeans`) on the SPEC §8 shapes and writes its per-iteration times.

Usage on the GPU machine: python3 bench/flash_kmeans_side_by_side.py OUT.json
Method as `fkm bench`: random uniform points in [-1, 1), a 2-iteration warm-up (compiles),
then max_iters=10 with tol 0 timed with CUDA events; assign and update timed separately on the
last centroids (median of 5). fp32 input runs flash-kmeans' own (tf32) path.
"""
import json
import statistics
import sys

import torch
from flash_kmeans import batch_kmeans_Euclid
from flash_kmeans.assign_euclid_triton import euclid_assign_triton
from flash_kmeans.centroid_update_triton import triton_centroid_update_sorted_euclid

SHAPES = [
    ("b32_n74k_k1000", 32, 74256, 1000, 128, torch.float16),
    ("n8m_k1024", 1, 8388608, 1024, 128, torch.float16),
    ("n1m_k8192", 1, 1048576, 8192, 128, torch.float16),
    ("b8_n65k_k100", 8, 65536, 100, 128, torch.float16),
    ("n1m_k65536", 1, 1048576, 65536, 128, torch.float16),
    ("n1m_k1024_d1024", 1, 1048576, 1024, 1024, torch.float16),
    ("n4m_k4096_bf16", 1, 4194304, 4096, 128, torch.bfloat16),
    ("n2m_k1024_fp32", 1, 2097152, 1024, 128, torch.float32),
]
# flash-kmeans computes fp32 in tf32: its fp32 row is the reference for both fkm fp32 rows.
ALIASES = {"n2m_k1024_tf32": "n2m_k1024_fp32"}


def timed(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def run(name, b, n, k, d, dtype, iters=10):
    gen = torch.Generator(device="cuda").manual_seed(42)
    x = (torch.rand((b, n, d), device="cuda", generator=gen, dtype=torch.float32) * 2 - 1).to(dtype)
    batch_kmeans_Euclid(x, k, max_iters=2, tol=0.0)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    _, centroids, ran = batch_kmeans_Euclid(x, k, max_iters=iters, tol=0.0)
    stop.record()
    torch.cuda.synchronize()
    e2e = start.elapsed_time(stop) / ran
    x_sq = (x.float() ** 2).sum(-1).to(dtype)
    centroids = centroids.to(dtype)
    ids = euclid_assign_triton(x, centroids, x_sq)
    assign = timed(lambda: euclid_assign_triton(x, centroids, x_sq))
    update = timed(lambda: triton_centroid_update_sorted_euclid(x, ids, centroids))
    del x, x_sq
    torch.cuda.empty_cache()
    return {"shape": name, "ms_per_iter": e2e, "ms_assign": assign, "ms_update": update}


def main():
    out = []
    for shape in SHAPES:
        row = run(*shape)
        print(json.dumps(row), flush=True)
        out.append(row)
    for alias, source in ALIASES.items():
        out.append(dict(next(r for r in out if r["shape"] == source), shape=alias))
    with open(sys.argv[1], "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "results": out}, f, indent=1)


if __name__ == "__main__":
    main()
