#!/bin/sh
# Builds variants of fkm for an A/B run on a GPU machine (bench/ab.sh), on a machine with the
# README's build dependencies and no GPU needed:
#   sh bench/ab_build.sh NAME=REF ...
# For each NAME=REF (REF: any commit, branch or tag of this repository) it builds REF in a
# scratch worktree and copies its command and shared library into build/ab/NAME/ (plain files,
# no links), which travels with build/ to the GPU machine. Exits non-zero at the first REF that
# does not build, leaving no half-built variant.
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: sh bench/ab_build.sh NAME=REF ..." >&2; exit 2; }
root=$(pwd)
scratch=$(mktemp -d)
trap 'for w in "$scratch"/*/; do git -C "$root" worktree remove --force "$w" 2>/dev/null || true;
      done; rm -rf "$scratch"' EXIT
for pair in "$@"; do
  name=${pair%%=*}
  ref=${pair#*=}
  case "$name" in
    "" | *[!A-Za-z0-9_.-]* | "$pair") echo "ab_build: bad variant '$pair' (NAME=REF)" >&2; exit 2 ;;
  esac
  tree="$scratch/$name"
  git worktree add --quiet --detach "$tree" "$ref"
  cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release > "$scratch/$name.log"
  cmake --build "$tree/build" -j "$(nproc)" --target fkm_cli >> "$scratch/$name.log" 2>&1 ||
    { tail -n 20 "$scratch/$name.log" >&2; exit 1; }
  out="build/ab/$name"
  rm -rf "$out" && mkdir -p "$out"
  cp "$tree/build/cli/fkm" "$out/"
  cp -L "$tree/build/libfkm.so.0" "$out/" # the soname fkm asks for, as a plain file
  echo "$name: $(git -C "$tree" log --oneline -1)" | tee "$out/REF"
done
