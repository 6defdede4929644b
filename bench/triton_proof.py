"""Proof for issue 8: fkm launches a Triton-compiled cubin read from a Triton cache directory.

For each shape, a child process with TRITON_CACHE_DIR set to a fresh directory makes random fp16
points x [B, N, D] and centroids c [B, K, D], runs flash-kmeans' Euclidean assign kernel
(flash_kmeans.assign_euclid_triton.euclid_assign_triton, small-D path: `_euclid_assign_kernel`)
once, so Triton compiles it into that directory, and saves x, c, x_sq = ||x||^2 (fp32),
c_sq = ||c||^2 (fp32) and flash-kmeans' labels as .npy. Then build/bench/triton_proof (C) finds the
kernel with fkm's Triton reader, launches the cubin with fkm_triton_launch on the same inputs and
grid, and compares the labels with flash-kmeans', a second launch, fkm's GPU engine and its CPU
engine (fkm_predict with the same centroids).

The kernel's parameters: x_ptr, c_ptr, x_sq_ptr, c_sq_ptr, out_ptr, then B, N, K, D, every stride,
BLOCK_N, BLOCK_K and D_PAD, all tl.constexpr (baked into the cubin, so not passed). Its grid is
(cdiv(N, BLOCK_N), B, 1) with BLOCK_N from flash-kmeans' heuristic config, which this script
computes with the package's own function and passes explicitly so the grid is known.

Usage (GPU machine with torch, triton, numpy and flash_kmeans importable):
  python3 bench/triton_proof.py [--proof build/bench/triton_proof] [--fkm build/cli/fkm] [--keep]
Exit status: 0 when every shape passes, else the C program's (1 real mismatch, 2 could not run).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

SHAPES = [  # (B, N, K, D): one large single batch; a batched one with ragged N and padded D
    (1, 65536, 1000, 128),
    (3, 10000, 100, 96),
]
INPUTS = ["x", "c", "xsq", "csq", "labels"]


def child(b, n, k, d, work):
    """Runs flash-kmeans once (Triton compiles into $TRITON_CACHE_DIR) and saves its inputs."""
    import numpy as np
    import torch
    import triton
    from flash_kmeans import assign_euclid_triton as fa

    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(1000 * b + d)
    x = torch.randn(b, n, d, device=dev, dtype=torch.float16, generator=gen)
    c = torch.randn(b, k, d, device=dev, dtype=torch.float16, generator=gen)
    x_sq = (x.float() ** 2).sum(-1)
    c_sq = (c.float() ** 2).sum(-1)
    if fa._need_split_d(d, x.dtype, dev):
        raise SystemExit(f"D={d} takes flash-kmeans' split-D kernel; the proof expects the small-D one")
    cfg = fa._heuristic_euclid_config(n, k, d, device=dev, dtype=x.dtype)
    labels = fa.euclid_assign_triton(x, c, x_sq, c_sq=c_sq, config=cfg)
    torch.cuda.synchronize()
    arrays = {"x": x, "c": c, "xsq": x_sq, "csq": c_sq, "labels": labels.to(torch.int32)}
    for name, t in arrays.items():
        np.save(os.path.join(work, name + ".npy"), np.ascontiguousarray(t.cpu().numpy()))
    meta = {
        "grid": [triton.cdiv(n, cfg["BLOCK_N"]), b, 1],
        "config": cfg,
        "triton": triton.__version__,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(dev),
    }
    with open(os.path.join(work, "meta.json"), "w") as f:
        json.dump(meta, f)


def run_shape(shape, args):
    """Compiles with Triton in a child process, then runs the C proof. Returns its exit status."""
    b, n, k, d = shape
    work = tempfile.mkdtemp(prefix="fkm-triton-proof-")
    cache = os.path.join(work, "triton-cache")
    os.mkdir(cache)
    env = dict(os.environ, TRITON_CACHE_DIR=cache)
    made = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(b), str(n),
                           str(k), str(d), work], env=env)
    if made.returncode != 0:
        print(f"flash-kmeans side failed for B={b} N={n} K={k} D={d} (kept {work})")
        return 2
    with open(os.path.join(work, "meta.json")) as f:
        meta = json.load(f)
    print(f"\n### B={b} N={n} K={k} D={d}\n")
    print(f"- {meta['device']}; Triton {meta['triton']}, torch {meta['torch']}; "
          f"flash-kmeans config {meta['config']}; TRITON_CACHE_DIR `{cache}`")
    sys.stdout.flush()
    if args.fkm and os.path.exists(args.fkm):
        print("\n```")
        sys.stdout.flush()
        subprocess.run([args.fkm, "triton", "inspect", cache])
        print("```\n")
        sys.stdout.flush()
    cmd = [args.proof, "--cache", cache, "--grid", ",".join(map(str, meta["grid"]))]
    for name in INPUTS:
        cmd += ["--" + name, os.path.join(work, name + ".npy")]
    rc = subprocess.run(cmd).returncode
    if rc == 0 and not args.keep:
        shutil.rmtree(work)
    else:
        print(f"(kept {work})")
    return rc


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        child(*map(int, sys.argv[2:6]), sys.argv[6])
        return 0
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proof", default=os.path.join(root, "build", "bench", "triton_proof"))
    p.add_argument("--fkm", default=os.path.join(root, "build", "cli", "fkm"))
    p.add_argument("--keep", action="store_true", help="keep the work directories")
    args = p.parse_args()
    print("# fkm launches flash-kmeans' Triton-compiled assign kernel (issue 8)")
    codes = [run_shape(s, args) for s in SHAPES]
    print(f"\n{'PASS' if not any(codes) else 'FAIL'}: {len(codes)} shapes, exit statuses {codes}")
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
