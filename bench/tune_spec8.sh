#!/bin/sh
# Judges the tuner on the SPEC §8 shapes, on one card, all numbers taken in one process per shape:
# `fkm tune --shape ... --compare-exhaustive --json` runs the pruned tuning (its pick, wall time and
# compiles), then times every valid configuration (the exhaustive best, the sweep's size and wall
# time) and the model's untuned pick within that sweep.
#
# usage: bench/tune_spec8.sh [FKM] [SHAPE...] > tune.jsonl   (SHAPE: 1-8, default all)
# The summary object of each shape (the line with "sweep_size") goes to stdout, one line each; a
# one-line digest per shape to stderr. Kernels are cached in $FKM_CACHE_DIR (default: a fresh
# temporary directory shared by the shapes, so a shape whose D and dtype an earlier one had finds
# its candidates compiled; COLD=1 gives each shape an empty cache).
set -u
fkm=${1:-build/cli/fkm}
[ $# -gt 0 ] && shift
shapes=${*:-1 2 3 4 5 6 7 8}
own=""
if [ -z "${FKM_CACHE_DIR:-}" ]; then
  own=$(mktemp -d)
  export FKM_CACHE_DIR="$own/cache"
fi
# index: B N D K dtype (SPEC §8 table, in order)
shape() {
  case $1 in
    1) echo 32 74256 128 1000 fp16 ;;
    2) echo 1 8388608 128 1024 fp16 ;;
    3) echo 1 1048576 128 8192 fp16 ;;
    4) echo 8 65536 128 100 fp16 ;;
    5) echo 1 1048576 128 65536 fp16 ;;
    6) echo 1 1048576 1024 1024 fp16 ;;
    7) echo 1 4194304 128 4096 bf16 ;;
    8) echo 1 2097152 128 1024 tf32 ;;
    *) return 1 ;;
  esac
}
field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p"; }
status=0
for i in $shapes; do
  dims=$(shape "$i") || { echo "unknown shape $i" >&2; status=1; continue; }
  # shellcheck disable=SC2086 # B N D K dtype: split on purpose
  set -- $dims
  [ "${COLD:-0}" = 1 ] && [ -n "$own" ] && rm -rf "$FKM_CACHE_DIR"
  line=$("$fkm" tune --shape "$2,$3,$4" --batches "$1" --dtype "$5" --compare-exhaustive --json --quiet |
    grep '"sweep_size"') || { echo "shape $i: fkm tune failed" >&2; status=1; continue; }
  echo "$line"
  echo "shape $i (B=$1 N=$2 D=$3 K=$4 $5): tuned $(echo "$line" | field ms_total) ms wall," \
    "pick x$(echo "$line" | field tuned_over_best) of the best," \
    "model x$(echo "$line" | field model_over_best);" \
    "sweep $(echo "$line" | field sweep_size) configs in $(echo "$line" | field sweep_ms_total) ms" >&2
done
[ -n "$own" ] && rm -rf "$own"
exit $status
