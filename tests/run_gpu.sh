#!/bin/sh
# On a GPU machine, after tests/run_all.sh or an equivalent build in build/: runs the GPU suites,
# compute-sanitizer (memcheck, racecheck and synccheck on small shapes), the command on the GPU,
# and the benchmark beside flash-kmeans when it is importable. Logs go to ${OUT:-gpu-logs}/.
set -u
cd "$(dirname "$0")/.."
out=${OUT:-gpu-logs}
mkdir -p "$out"
status=0
for t in build/tests/test_gpu_*; do
  "$t" > "$out/$(basename "$t").log" 2>&1 || status=1
  tail -n 3 "$out/$(basename "$t").log"
done
for tool in memcheck racecheck synccheck; do
  for suite in engine complete dist; do
    log="$out/sanitizer-$tool-$suite.log"
    # NCCL probes its kernels for other archs at init (cudaFuncGetAttributes: "no kernel image"),
    # which the sanitizer counts as API errors; memory and race checks are unaffected.
    api=explicit
    [ "$suite" = dist ] && api=no
    FKM_TEST_SMALL=1 compute-sanitizer --tool "$tool" --report-api-errors "$api" \
      "build/tests/test_gpu_$suite" > "$log" 2>&1 || status=1
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Checks:" "$log"
  done
done
build/cli/fkm info > "$out/info.log" 2>&1 && head -n 12 "$out/info.log"
build/cli/fkm demo > "$out/demo.log" 2>&1 || status=1
tail -n 4 "$out/demo.log"
if [ "${FKM_BENCH:-1}" = 1 ]; then
  # The card's rates measured here (SPEC §8's H100 anchors where torch is absent).
  rates=$(python3 bench/card_rates.py "$out/rates.json" 2> "$out/rates.log") || rates=
  echo "card rates: ${rates:-SPEC §8 H100 anchors}"
  # shellcheck disable=SC2086 # $rates is two options and their values
  build/cli/fkm bench --iters 10 $rates --json "$out/fkm.jsonl" > "$out/bench.md" 2>&1 || status=1
  cat "$out/bench.md"
  if python3 -c "import flash_kmeans" 2>/dev/null; then
    python3 bench/flash_kmeans_side_by_side.py "$out/flash.json" > "$out/flash.log" 2>&1 &&
      python3 bench/compare.py "$out/fkm.jsonl" "$out/flash.json" "$out/compare" > /dev/null 2>&1
    cat "$out/compare.md" 2>/dev/null
  fi
fi
exit $status
