#!/bin/sh
# The test command (README, .ci/run): installs the Debian build dependencies when run as root,
# builds fkm, runs every suite but the opt-in "full" label, then a sanitizer (ASan + UBSan) build
# of the suites. GPU suites skip (exit 77) where no GPU is usable.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake gcc make pkg-config \
    libjansson-dev libxxhash-dev check libsubunit-dev python3 >/dev/null
fi
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -LE full -j2)
cmake -S . -B build-asan -DFKM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build-asan -j"$jobs"
(cd build-asan && FKM_TEST_QUICK=1 ctest --output-on-failure -LE full -j2)
