#!/bin/sh
# Start-up of fkm as the process a user runs (issue 5's targets), three ways, each a new process of
# bench/startup (the data already on the device; the clock runs from the first fkm call to the
# first iteration):
#   1. empty cache: FKM_CACHE_DIR = a fresh empty directory, so every kernel is compiled
#      (target: first iteration within 1000 ms);
#   2. warm cache: the same directory again (target: within 50 ms, no NVRTC call);
#   3. bundle, NVRTC absent: that cache exported with `fkm cache export` into one file, then
#      FKM_CACHE_DIR = another fresh empty directory, FKM_BUNDLE_PATH = the file and
#      FKM_NVRTC_PATH=/nonexistent (no NVRTC call possible; the bundle serves every kernel; held
#      to the warm target, 50 ms).
# FKM_CACHE_OVERRIDE_DIR is unset for all three, FKM_BUNDLE_PATH for the first two. Before them, one
# empty-cache run in a throwaway directory (digest only) brings libcuda, NVRTC and its builtins into
# the OS page cache, so that run 1 measures compiles rather than a cold disk (PREWARM=0 skips it).
#
# usage: sh bench/startup.sh [BUILD [startup options...]]
#   BUILD: the build folder (default: build), holding bench/startup and cli/fkm;
#   options go to every run, e.g. --n 1048576 --d 128 --k 1024 --dtype fp16 (see bench/startup.c).
# Prints each run's JSON line on stdout, a digest per run and whether it meets its target on
# stderr. Exits 1 when a run fails (the program's own failure, no first iteration, or an NVRTC call
# in runs 2 and 3); a target missed is reported, not a failure.
set -u
build=${1:-build}
[ $# -gt 0 ] && shift
startup=$build/bench/startup
fkm=$build/cli/fkm
for bin in "$startup" "$fkm"; do
  [ -x "$bin" ] && continue
  echo "startup.sh: $bin not found (build first, or pass the build folder)" >&2
  exit 2
done
work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT
unset FKM_CACHE_OVERRIDE_DIR FKM_BUNDLE_PATH FKM_NVRTC_PATH

field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p"; }
status=0

# run LABEL TARGET_MS WANT_NO_NVRTC [env assignments...]: one new process; checks and digests it.
run() {
  label=$1 target=$2 no_nvrtc=$3
  shift 3
  # shellcheck disable=SC2086 # the options, split on purpose
  line=$(env "$@" "$startup" --label "$label" $opts) || {
    echo "startup.sh: $label: FAILED (exit status $?)" >&2
    [ -n "$line" ] && echo "$line"
    status=1
    return 1
  }
  echo "$line"
  ms=$(echo "$line" | field ms_to_first_iteration)
  calls=$(echo "$line" | field nvrtc_calls)
  verdict=$(awk -v ms="$ms" -v t="$target" 'BEGIN { print (ms <= t ? "meets" : "misses") }')
  echo "startup.sh: $label: first iteration after $ms ms (target $target ms: $verdict)," \
    "compile + load $(echo "$line" | field ms_compile) ms, $calls NVRTC calls," \
    "iteration 1 itself $(echo "$line" | field ms_first_iteration) ms" >&2
  if [ "$no_nvrtc" = 1 ] && [ "$calls" != 0 ]; then
    echo "startup.sh: $label: FAILED: $calls NVRTC calls where none may be made" >&2
    status=1
  fi
}

opts="$*"
mkdir -p "$work/prewarm" "$work/empty-then-warm" "$work/empty-for-bundle"
if [ "${PREWARM:-1}" != 0 ]; then
  run page_cache_warmup 1000 0 FKM_CACHE_DIR="$work/prewarm" >/dev/null
fi
run empty_cache 1000 0 FKM_CACHE_DIR="$work/empty-then-warm"
run warm_cache 50 1 FKM_CACHE_DIR="$work/empty-then-warm"
if FKM_CACHE_DIR="$work/empty-then-warm" "$fkm" cache export "$work/kernels.fkmb" >/dev/null; then
  run bundle_no_nvrtc 50 1 FKM_CACHE_DIR="$work/empty-for-bundle" \
    FKM_BUNDLE_PATH="$work/kernels.fkmb" FKM_NVRTC_PATH=/nonexistent
else
  echo "startup.sh: bundle_no_nvrtc: FAILED: fkm cache export did not make the bundle" >&2
  status=1
fi
exit $status
