"""Side-by-side table and chart of fkm and flash-kmeans measured in the same run.

Usage: python3 bench/compare.py FKM.jsonl FLASH.json OUT_PREFIX
Writes OUT_PREFIX.md (markdown table) and OUT_PREFIX.png (bar chart, when matplotlib exists).
Both are held against the floor fkm bench wrote per shape (its --peak-tflops and --copy-tbps,
which tests/run_gpu.sh measures on the card in the same run with bench/card_rates.py).
"""
import json
import sys


def fixed(value, places):
    return "—" if value is None else f"{value:.{places}f}"


def percent(row, key):
    """row[key], a percentage, to one place; — where fkm bench did not write it or wrote 0."""
    return fixed(row.get(key) or None, 1)


def times(ms, floor):
    return "—" if not floor else f"{ms / floor:.2f}"


def main():
    fkm = {}
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                fkm[row["shape"]] = row
    with open(sys.argv[2]) as f:
        flash = json.load(f)
    rates = next(iter(fkm.values()), {})
    lines = [
        f"Card: {flash['device']}. ms per Lloyd iteration (fixed iterations, tol off). Floor: "
        f"max(FLOPs / {rates.get('peak_tflops', '?')} TFLOP/s, bytes / "
        f"{rates.get('copy_tbps', '?')} TB/s), the rates fkm bench was given.",
        "",
        "| shape | fkm ms/iter | fkm assign | fkm update | fkm % of peak (iteration / assign) "
        "| floor ms | fkm × floor | flash-kmeans ms/iter | its assign | its update "
        "| flash-kmeans × floor | fkm / flash-kmeans |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    names, ours, theirs = [], [], []
    for row in flash["results"]:
        name = row["shape"]
        if name not in fkm:
            continue
        f = fkm[name]
        ratio = f["ms_per_iter"] / row["ms_per_iter"]
        floor = f.get("floor_ms")
        lines.append(
            f"| {name} | {f['ms_per_iter']:.3f} | {f['ms_assign']:.3f} | {f['ms_update']:.3f} | "
            f"{percent(f, 'pct_peak')} / {percent(f, 'assign_pct_peak')} | {fixed(floor, 3)} | "
            f"{times(f['ms_per_iter'], floor)} | {row['ms_per_iter']:.3f} | "
            f"{row['ms_assign']:.3f} | {row['ms_update']:.3f} | {times(row['ms_per_iter'], floor)} | "
            f"{ratio:.2f} |"
        )
        names.append(name)
        ours.append(f["ms_per_iter"])
        theirs.append(row["ms_per_iter"])
    with open(sys.argv[3] + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib absent: no chart")
        return
    fig, ax = plt.subplots(figsize=(11, 4.5))
    pos = range(len(names))
    ax.bar([p - 0.2 for p in pos], [t / o for t, o in zip(theirs, ours)], width=0.4, label="speed-up of fkm over flash-kmeans")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.axhline(1 / 0.7, color="red", lw=0.8, ls="--", label="target (fkm ≤ 0.7 × flash-kmeans)")
    ax.set_xticks(list(pos))
    ax.set_xticklabels(names, rotation=20, ha="right")
    ax.set_ylabel("flash-kmeans ms / fkm ms")
    ax.set_title(f"fkm vs flash-kmeans per Lloyd iteration, {flash['device']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(sys.argv[3] + ".png", dpi=110)


if __name__ == "__main__":
    main()
