#!/bin/sh
# A/B rounds of fkm builds on one GPU machine, in the same run (SPEC §8: only same-run numbers
# compare):
#   sh bench/ab.sh [-r ROUNDS] [-o DIR] VARIANT ... [-- FKM_BENCH_ARGS ...]
# VARIANT: a folder of bench/ab_build.sh (build/ab/NAME, holding fkm and libfkm.so.0) or "head"
# for build/ of this tree. Round r runs `fkm bench --iters 10 --json DIR/NAME-rR.jsonl ARGS` for
# every variant in turn, so drift of the card's clock falls on all alike; then bench/ab_table.py
# writes DIR/table.md (ms/iter, update ms in brackets). DIR defaults to ${OUT:-ab-logs}/ab.
# Exits 1 when any round fails or checks a wrong label.
set -u
cd "$(dirname "$0")/.."
rounds=2
out=${OUT:-ab-logs}/ab
while getopts r:o: opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
variants=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do variants="$variants $1"; shift; done
[ $# -gt 0 ] && shift
[ -n "$variants" ] || { echo "usage: sh bench/ab.sh [-r R] [-o DIR] VARIANT ... [-- ARGS]" >&2; exit 2; }
mkdir -p "$out"
status=0
files=""
r=1
while [ "$r" -le "$rounds" ]; do
  for v in $variants; do
    if [ "$v" = head ]; then dir=build; bin=build/cli/fkm; name=head
    else dir=$v; bin=$v/fkm; name=$(basename "$v"); fi
    json="$out/$name-r$r.jsonl"
    rm -f "$json"
    LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$bin" bench --iters 10 \
      --json "$json" "$@" > "$out/$name-r$r.md" 2>&1 || { status=1; tail -n 5 "$out/$name-r$r.md"; }
    files="$files $json"
  done
  r=$((r + 1))
done
# shellcheck disable=SC2086 # one argument a file
python3 bench/ab_table.py $files > "$out/table.md" || status=1
cat "$out/table.md"
exit $status
