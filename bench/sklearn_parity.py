#!/usr/bin/env python3
"""scikit-learn parity of `fkm run` (issue 7).

What it proves: started from the same K initial centroids, fkm's Lloyd iteration (on each engine
asked for, without and with sample weights) ends where
sklearn.cluster.KMeans(algorithm="lloyd", n_init=1, init=C0, max_iter=m, tol=0) ends on the same
float32 values (cast to float64 for scikit-learn): the same labels except near-ties, centroids and
inertia within 1e-5 relative. Data: scikit-learn's bundled data sets (no download) and two random
ones (Gaussian blobs, uniform), several K each, m = 50 and 300.

scikit-learn stops early once the labels stop changing (strict convergence); fkm with --tol 0 runs
all m iterations. From that fixed point more Lloyd iterations change nothing, so the final results
are compared and both iteration counts are reported. Both use scikit-learn's empty-cluster
relocation (fkm --empty farthest).

A label mismatch is a near-tie when, against scikit-learn's final centroids (float64), the squared
distances of the point to its fkm and its scikit-learn centroid differ by at most --tie-rtol
(1e-6) relative; any other mismatch fails the row.

Usage: python3 bench/sklearn_parity.py [--fkm build/cli/fkm] [--engine cpu|gpu|both]
           [--iters 50,300] [--out parity.md] [--seed 0] [--tie-rtol 1e-6]
Exit status: 0 when every row passes, 1 when one fails, 2 on a setup error (no fkm, no sklearn).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

try:
    import numpy as np
    import sklearn.datasets
    from sklearn.cluster import KMeans
except ImportError as e:
    print(f"sklearn_parity: numpy and scikit-learn are needed ({e})", file=sys.stderr)
    sys.exit(2)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RTOL = 1e-5  # centroid and inertia relative error allowed
BUNDLED = ["iris", "digits", "wine", "breast_cancer", "diabetes", "linnerud"]
BUNDLED_KS = [3, 8, 32]


@dataclass
class Dataset:
    """A data matrix and the K values to cluster it with."""

    name: str
    x: np.ndarray  # (N, D) float32, C order
    ks: list


@dataclass
class Fit:
    """One fit's final state: labels (N,), centroids (K, D) float64, inertia, iterations run."""

    labels: np.ndarray
    centroids: np.ndarray
    inertia: float
    iterations: int


class FkmError(Exception):
    """fkm exited non-zero; the message is its stderr."""


# ---- data ----------------------------------------------------------------------------------------


def bundled_datasets():
    """scikit-learn's bundled data sets whose data is a 2-D float matrix, as float32, K ≤ N."""
    for name in BUNDLED:
        data = np.asarray(getattr(sklearn.datasets, f"load_{name}")().data)
        if data.ndim != 2 or data.dtype.kind != "f":
            continue
        x = np.ascontiguousarray(data, dtype=np.float32)
        yield Dataset(name, x, [k for k in BUNDLED_KS if k <= len(x)])


def random_datasets(seed):
    """Gaussian blobs (N=20000, D=32, 50 centres) and uniform [0, 1) data (N=50000, D=64)."""
    blobs, _ = sklearn.datasets.make_blobs(n_samples=20000, n_features=32, centers=50,
                                           random_state=seed)
    rng = np.random.default_rng(seed)
    uniform = rng.random((50000, 64))
    yield Dataset("blobs", np.ascontiguousarray(blobs, dtype=np.float32), [8, 50])
    yield Dataset("uniform", np.ascontiguousarray(uniform, dtype=np.float32), [256])


def has_near_tie(x, centroids, rtol):
    """Whether some point's two nearest centroids are within rtol relative in squared distance
    (float64, ‖x‖² − 2·x·c + ‖c‖²: its rounding is far below rtol here)."""
    c = centroids.astype(np.float64)
    for start in range(0, len(x), 4096):
        xs = x[start:start + 4096].astype(np.float64)
        d2 = (xs * xs).sum(1)[:, None] - 2.0 * xs @ c.T + (c * c).sum(1)[None, :]
        two = np.partition(d2, 1, axis=1)[:, :2]
        if np.any(two[:, 1] - two[:, 0] <= rtol * np.maximum(np.abs(two[:, 1]), 1e-300)):
            return True
    return False


def initial_centroids(x, k, rng, tie_rtol, tries=100):
    """K distinct rows of x, seeded, redrawn until no point starts at a near-tie: fkm breaks ties
    to the lowest index (its spec), scikit-learn by the rounding of its centred data, so a tie in
    the first assignment (common in integer data such as digits) would send the two on different
    paths. Ties in later assignments are not screened; they show as mismatches."""
    _, first = np.unique(x, axis=0, return_index=True)
    if len(first) < k:
        raise ValueError(f"only {len(first)} distinct rows for K = {k}")
    for _ in range(tries):
        c0 = x[rng.choice(np.sort(first), size=k, replace=False)]
        if k == 1 or not has_near_tie(x, c0, tie_rtol):
            return c0
    raise ValueError(f"no initial centroids without a near-tie in {tries} draws for K = {k}")


def random_weights(n, rng):
    """Positive float32 weights in [0.1, 10)."""
    return (0.1 * 100.0 ** rng.random(n)).astype(np.float32)


# ---- the two implementations ---------------------------------------------------------------------


def fit_sklearn(x, c0, iters, w):
    """KMeans(lloyd, n_init=1, init=c0, tol=0) on x and c0 cast to float64."""
    km = KMeans(n_clusters=len(c0), init=c0.astype(np.float64), n_init=1, max_iter=iters, tol=0,
                algorithm="lloyd")
    km.fit(x.astype(np.float64), sample_weight=None if w is None else w.astype(np.float64))
    return Fit(km.labels_.astype(np.int64), km.cluster_centers_, float(km.inertia_), km.n_iter_)


def fit_fkm(fkm, engine, paths, iters):
    """`fkm run` from the given centroids with --tol 0 and scikit-learn's empty-cluster policy;
    paths (write_inputs): x, c0, w (None: unweighted), centroids, labels."""
    cmd = [fkm, "run", paths["x"], "--init-centroids", paths["c0"], "--engine", engine, "--tol",
           "0", "--iters", str(iters), "--empty", "farthest", "--json", "--quiet", "--centroids",
           paths["centroids"], "--labels", paths["labels"]]
    if paths["w"]:
        cmd += ["--sample-weight", paths["w"]]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise FkmError(done.stderr.strip() or f"exit status {done.returncode}")
    summary = json.loads(done.stdout)
    return Fit(np.load(paths["labels"]).astype(np.int64),
               np.load(paths["centroids"]).astype(np.float64), float(summary["inertia"][0]),
               int(summary["iterations"]))


def gpu_usable(fkm):
    """Whether `fkm info` says the GPU engine can run, and if not, why."""
    info = json.loads(subprocess.run([fkm, "info", "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    return bool(info["gpu_engine"]), info.get("gpu_engine_unusable_because", "")


# ---- comparison ----------------------------------------------------------------------------------


def squared_distances(x, centroids, rows):
    """float64 squared distances (len(rows), K) of x[rows] to centroids."""
    diff = x[rows, None, :].astype(np.float64) - centroids[None, :, :]
    return np.einsum("nkd,nkd->nk", diff, diff)


def label_mismatches(x, ref, got, tie_rtol):
    """(mismatches, near-ties among them): a near-tie's squared distances to its two labels'
    reference centroids differ by at most tie_rtol relative."""
    rows = np.flatnonzero(ref.labels != got.labels)
    if len(rows) == 0:
        return 0, 0
    d2 = squared_distances(x, ref.centroids, rows)
    mine, theirs = d2[np.arange(len(rows)), got.labels[rows]], d2[np.arange(len(rows)),
                                                                  ref.labels[rows]]
    ties = np.abs(mine - theirs) <= tie_rtol * np.maximum(np.maximum(mine, theirs), 1e-300)
    return len(rows), int(ties.sum())


def relative_errors(ref, got):
    """(centroid ‖Δ‖∞ / ‖C‖∞, |Δ inertia| / inertia) of got against ref."""
    scale = max(np.abs(ref.centroids).max(), 1e-300)
    centroid = np.abs(got.centroids - ref.centroids).max() / scale
    inertia = abs(got.inertia - ref.inertia) / max(abs(ref.inertia), 1e-300)
    return float(centroid), float(inertia)


def compare(x, ref, got, tie_rtol):
    """The table cells that judge one fkm fit against scikit-learn's, and whether it passes."""
    mismatches, ties = label_mismatches(x, ref, got, tie_rtol)
    centroid, inertia = relative_errors(ref, got)
    ok = mismatches == ties and centroid <= RTOL and inertia <= RTOL
    return {"iterations": f"{got.iterations}/{ref.iterations}",
            "mismatches": f"{mismatches} ({ties})", "centroid": f"{centroid:.1e}",
            "inertia": f"{inertia:.1e}", "pass": "yes" if ok else "**no**"}


# ---- the run -------------------------------------------------------------------------------------


def write_inputs(tmp, ds, c0, w):
    """Writes the float32 .npy inputs of one case; returns the paths fit_fkm takes."""
    paths = {name: os.path.join(tmp, f"{name}.npy") for name in ("x", "c0", "w", "centroids",
                                                                 "labels")}
    np.save(paths["x"], ds.x)
    np.save(paths["c0"], c0)
    if w is None:
        paths["w"] = None
    else:
        np.save(paths["w"], w)
    return paths


def case_rows(args, engines, ds, k, weighted, rng, tmp):
    """Table rows of one (data set, K, weights) case: per iteration cap, per engine."""
    c0 = initial_centroids(ds.x, k, rng, args.tie_rtol)
    w = random_weights(len(ds.x), rng) if weighted else None
    paths = write_inputs(tmp, ds, c0, w)
    rows = []
    for iters in args.iters:
        ref = fit_sklearn(ds.x, c0, iters, w)
        for engine in engines:
            row = {"dataset": ds.name, "N": len(ds.x), "D": ds.x.shape[1], "K": k,
                   "weights": "random" if weighted else "none", "engine": engine}
            try:
                row.update(compare(ds.x, ref, fit_fkm(args.fkm, engine, paths, iters),
                                   args.tie_rtol))
            except FkmError as e:
                row.update({"iterations": f"-/{ref.iterations}", "pass": "**error**",
                            "error": str(e)})
            rows.append(row)
            print(format_row(row), file=sys.stderr, flush=True)
    return rows


COLUMNS = [("dataset", "dataset"), ("N", "N"), ("D", "D"), ("K", "K"), ("weights", "weights"),
           ("engine", "engine"), ("iterations", "iterations fkm/sklearn"),
           ("mismatches", "label mismatches (ties)"), ("centroid", "centroid rel err"),
           ("inertia", "inertia rel err"), ("pass", "pass")]


def format_row(row):
    return "| " + " | ".join(str(row.get(key, "-")) for key, _ in COLUMNS) + " |"


def format_table(rows, header):
    lines = header + ["", "| " + " | ".join(title for _, title in COLUMNS) + " |",
                      "|" + "---|" * len(COLUMNS)]
    lines += [format_row(r) for r in rows]
    errors = [f"- {r['dataset']} K={r['K']} {r['weights']} {r['engine']}: {r['error']}"
              for r in rows if "error" in r]
    return "\n".join(lines + ([""] + errors if errors else [])) + "\n"


def pick_engines(args):
    """The engines to run: --engine, less the GPU (with a note) where `fkm info` says unusable."""
    engines = ["cpu", "gpu"] if args.engine == "both" else [args.engine]
    if "gpu" in engines and args.engine == "both":
        usable, why = gpu_usable(args.fkm)
        if not usable:
            print(f"sklearn_parity: GPU engine skipped: {why}", file=sys.stderr)
            engines.remove("gpu")
    return engines


def int_list(text):
    """"50,300" -> [50, 300] (argparse type)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    if min(values) < 1:
        raise argparse.ArgumentTypeError("iteration caps must be ≥ 1")
    return values


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fkm", default=os.path.join(REPO, "build", "cli", "fkm"),
                   help="the fkm command (default: build/cli/fkm of this repository)")
    p.add_argument("--engine", choices=["cpu", "gpu", "both"], default="both",
                   help="fkm engines (default both; the GPU is skipped where unusable)")
    p.add_argument("--iters", default="50,300", type=int_list,
                   help="iteration caps m, comma-separated (default 50,300)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, centroids and weights")
    p.add_argument("--tie-rtol", type=float, default=1e-6,
                   help="relative squared-distance gap under which a mismatch is a near-tie")
    p.add_argument("--out", help="also write the Markdown table to this file")
    args = p.parse_args(argv)
    if not (os.path.isfile(args.fkm) and os.access(args.fkm, os.X_OK)):
        p.exit(2, f"sklearn_parity: {args.fkm} is not an executable fkm (see --fkm)\n")
    return args


def main(argv):
    args = parse_args(argv)
    engines = pick_engines(args)
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fkm-parity-") as tmp:
        for ds in [*bundled_datasets(), *random_datasets(args.seed)]:
            for k in ds.ks:
                for weighted in (False, True):
                    rows += case_rows(args, engines, ds, k, weighted, rng, tmp)
    header = [f"fkm vs scikit-learn {sklearn.__version__} KMeans(lloyd, tol=0), same initial "
              f"centroids, iteration caps {args.iters}, seed {args.seed}; pass: no label "
              f"mismatch but near-ties (rtol {args.tie_rtol:g}), centroid and inertia relative "
              f"error ≤ {RTOL:g}."]
    table = format_table(rows, header)
    print("\n" + table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    failed = sum(r["pass"] != "yes" for r in rows)
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
