"""Out-of-core k-means side by side on one card (issue 6): fkm streaming fp16 points from pinned host
memory (build/bench/ooc_bench, its own process) and flash-kmeans' kmeans_largeN on the same shape,
beside the card's pinned host->device bandwidth and dense fp16 matmul rate measured in this run.

usage: python3 bench/ooc_side_by_side.py OUT.json [--n N] [--d D] [--k K] [--iters I] [--budget B]

Writes OUT.json (every number) and prints a markdown table. The bound of the issue's target is
max(bytes / H2D bandwidth, 2*N*K*D / fp16 matmul rate). flash-kmeans gets its points from
torch.rand on the device copied into a pinned tensor; its time is the whole kmeans_largeN call
divided by the iterations (after a warm-up call on a slice compiles its kernels); fkm's is the
median of its per-iteration reports past the first, and its whole fit call divided likewise.
"""
import argparse
import json
import subprocess
import sys
import time

import torch

from card_rates import fp16_matmul_tflops


def h2d_gbs():
    host = torch.empty(1 << 30, dtype=torch.uint8, pin_memory=True)
    dev = torch.empty_like(host, device="cuda")
    best = 0.0
    for _ in range(5):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        dev.copy_(host, non_blocking=True)
        torch.cuda.synchronize()
        best = max(best, host.numel() / (time.perf_counter() - t0) / 1e9)
    return best


def run_fkm(a):
    cmd = ["build/bench/ooc_bench", "--n", str(a.n), "--d", str(a.d), "--k", str(a.k),
           "--iters", str(a.iters), "--budget", str(a.budget)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_flash(a):
    from flash_kmeans import kmeans_largeN

    x = torch.empty((a.n, a.d), dtype=torch.float16, pin_memory=True)
    step = 1 << 24
    for i in range(0, a.n, step):
        j = min(a.n, i + step)
        x[i:j].copy_(torch.rand((j - i, a.d), dtype=torch.float16, device="cuda") * 2 - 1)
    torch.cuda.synchronize()
    kmeans_largeN(x[: 1 << 22], a.k, max_iters=2, tol=-1, device="cuda:0")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    kmeans_largeN(x, a.k, max_iters=a.iters, tol=-1, device="cuda:0")
    torch.cuda.synchronize()
    total = (time.perf_counter() - t0) * 1e3
    return {"ms_total": total, "ms_per_iter": total / a.iters}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--n", type=int, default=1 << 27)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--k", type=int, default=8192)
    p.add_argument("--iters", type=int, default=6)
    p.add_argument("--budget", type=int, default=16 << 30)
    a = p.parse_args()
    res = {"device": torch.cuda.get_device_name(0), "date": time.strftime("%Y-%m-%d"),
           "n": a.n, "d": a.d, "k": a.k, "iters": a.iters, "budget": a.budget,
           "fp16_tflops": fp16_matmul_tflops(), "h2d_gbs_torch": h2d_gbs()}
    res["fkm"] = run_fkm(a)
    res["flash"] = run_flash(a)
    bytes_ = a.n * a.d * 2
    gbs = max(res["h2d_gbs_torch"], res["fkm"]["h2d_gbs"])
    res["pcie_floor_ms"] = bytes_ / (gbs * 1e9) * 1e3
    res["flops_floor_ms"] = 2 * a.n * a.k * a.d / (res["fp16_tflops"] * 1e12) * 1e3
    res["bound_ms"] = max(res["pcie_floor_ms"], res["flops_floor_ms"])
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    fk, fl = res["fkm"], res["flash"]
    print(f"{res['device']}, {res['date']}: N={a.n} D={a.d} K={a.k} fp16 pinned, {a.iters} iterations")
    print(f"H2D {gbs:.1f} GB/s, fp16 matmul {res['fp16_tflops']:.0f} TFLOP/s: "
          f"PCIe floor {res['pcie_floor_ms']:.1f} ms, FLOP floor {res['flops_floor_ms']:.1f} ms")
    print("| engine | ms/iter | whole call / iters | × bound |")
    print("|---|---|---|---|")
    print(f"| fkm | {fk['ms_per_iter']:.1f} | {fk['ms_total'] / a.iters:.1f} | "
          f"{fk['ms_per_iter'] / res['bound_ms']:.3f} |")
    print(f"| flash-kmeans kmeans_largeN | - | {fl['ms_per_iter']:.1f} | "
          f"{fl['ms_per_iter'] / res['bound_ms']:.3f} |")


if __name__ == "__main__":
    main()
