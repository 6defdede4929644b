"""A/B table of `fkm bench --json` files (bench/ab.sh), one column a file.

Usage: python3 bench/ab_table.py NAME-rR.jsonl ...
Prints a markdown table to stdout: a row a shape (in first-seen order), a column a file (named by
its file name without .jsonl), cells "ms/iter (update ms)"; a shape a file lacks shows "—", one
whose labels check found wrong ones is marked "WRONG n". Exits 1 when any file has a wrong label
or cannot be read.
"""
import json
import os
import sys


def read_rows(path):
    """{shape: row} of one JSON-lines file."""
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                rows[row["shape"]] = row
    return rows


def cell(row):
    if row is None:
        return "—"
    text = f"{row['ms_per_iter']:.3f} ({row['ms_update']:.3f})"
    return text + (f" WRONG {row['wrong']}" if row.get("wrong") else "")


def main(paths):
    if not paths:
        sys.exit(__doc__)
    ok = True
    columns, shapes = [], []
    for path in paths:
        try:
            rows = read_rows(path)
        except (OSError, ValueError, KeyError) as e:
            print(f"ab_table: {path}: {e}", file=sys.stderr)
            rows, ok = {}, False
        columns.append((os.path.basename(path).removesuffix(".jsonl"), rows))
        shapes += [s for s in rows if s not in shapes]
        ok = ok and not any(r.get("wrong") for r in rows.values())
    print("| shape | " + " | ".join(name for name, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for s in shapes:
        print(f"| {s} | " + " | ".join(cell(rows.get(s)) for _, rows in columns) + " |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
