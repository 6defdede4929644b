#!/bin/bash
# Golden tests of the fkm command: cli_test.sh FKM_BINARY CASE (one CTest test per CASE).
# Fixtures are .npy files written here with printf (no Python); FKM_CACHE_DIR points into a temp
# directory that is removed at the end.
set -u
FKM=$1
CASE=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export FKM_CACHE_DIR=$WORK/cache
mkdir -p "$WORK/data" "$WORK/log"
cd "$WORK/data" || exit 1
OUT=$WORK/log/stdout
ERR=$WORK/log/stderr

fail() {
  echo "FAIL [$CASE]: $*" >&2
  echo "--- stdout:" >&2; cat "$OUT" >&2 2>/dev/null
  echo "--- stderr:" >&2; cat "$ERR" >&2 2>/dev/null
  exit 1
}

# ---- .npy fixtures -----------------------------------------------------------------------------
# npy_header DESCR SHAPE [FORTRAN]: format 1.0 preamble and dict padded (as numpy does) so the data
# starts at a multiple of 64 bytes.
npy_header() {
  local dict="{'descr': '$1', 'fortran_order': ${3:-False}, 'shape': $2, }"
  local hlen=$(( (10 + ${#dict} + 1 + 63) / 64 * 64 - 10 ))
  printf '\x93NUMPY\x01\x00'
  printf "\\x$(printf %02x $((hlen & 255)))\\x$(printf %02x $((hlen >> 8)))"
  printf '%s%*s\n' "$dict" $((hlen - ${#dict} - 1)) ''
}
# Little-endian bytes of 16-, 32- and 64-bit patterns given in hex, and of small int32 values.
f16() { for h in "$@"; do printf "\\x${h:2:2}\\x${h:0:2}"; done; }
f32() { for h in "$@"; do printf "\\x${h:6:2}\\x${h:4:2}\\x${h:2:2}\\x${h:0:2}"; done; }
f64() { for h in "$@"; do f32 "${h:8:8}" "${h:0:8}"; done; }
i32() { for v in "$@"; do printf "\\x$(printf %02x "$v")\\x00\\x00\\x00"; done; }

# float32 patterns: 0, 0.5, 10, 10.5, 20, 20.5 and the expected means 0.25, 10.25, 20.25
Z=00000000 H=3f000000 T=41200000 TH=41280000 W=41a00000 WH=41a40000
MA=3e800000 MB=41240000 MC=41a20000
# 12 points in 3 tight groups around (0.25, 0.25), (10.25, 10.25), (20.25, 20.25)
POINTS32=($Z $Z $H $Z $Z $H $H $H  $T $T $TH $T $T $TH $TH $TH  $W $W $WH $W $W $WH $WH $WH)
LABELS=(0 0 0 0 1 1 1 1 2 2 2 2)

make_fixtures() {
  { npy_header '<f4' '(12, 2)'; f32 "${POINTS32[@]}"; } >points.npy
  { npy_header '<f4' '(3, 2)'; f32 $Z $Z $T $T $W $W; } >init.npy
  { npy_header '<f2' '(12, 2)'
    f16 0000 0000 3800 0000 0000 3800 3800 3800 4900 4900 4940 4900 4900 4940 4940 4940 \
        4d00 4d00 4d20 4d00 4d00 4d20 4d20 4d20; } >points16.npy
  # B = 2 batches of N = 3 points, D = 2, float64: 0, 1, 10, 11
  { npy_header '<f8' '(2, 3, 2)'
    f64 0000000000000000 0000000000000000 3ff0000000000000 0000000000000000 \
        4024000000000000 4024000000000000 \
        0000000000000000 3ff0000000000000 4024000000000000 4026000000000000 \
        4026000000000000 4026000000000000; } >batched.npy
  { npy_header '<f4' '(12, 2)'; f32 "${POINTS32[@]}"; } | head -c 150 >truncated.npy
  { npy_header '<i4' '(12, 2)'; i32 $(seq 1 24); } >int32.npy
  { npy_header '<f4' '(24,)'; f32 "${POINTS32[@]}"; } >rank1.npy
  { npy_header '<f4' '(1, 2, 12, 1)'; f32 "${POINTS32[@]}"; } >rank4.npy
  { npy_header '<f4' '(2, 12)' True; f32 "${POINTS32[@]}"; } >fortran.npy
  { npy_header '<f4' '(12, 2)'; f32 "${POINTS32[@]:0:5}" 7fc00000 "${POINTS32[@]:6}"; } >nan.npy
  { npy_header '<f4' '(12, 2)'; f32 "${POINTS32[@]:0:17}" 7f800000 "${POINTS32[@]:18}"; } >inf.npy
  # element 11 is 70000: finite in fp32, Inf in fp16
  { npy_header '<f4' '(12, 2)'; f32 "${POINTS32[@]:0:11}" 4788b800 "${POINTS32[@]:12}"; } >big.npy
  { npy_header '<f4' '(3, 2)'; f32 $Z $Z $T 7fc00000 $W $W; } >init_nan.npy
  { npy_header '<f4' '(3, 3)'; f32 $Z $Z $Z $T $T $T $W $W $W; } >init_d3.npy
  # float64 with 1e300 (past fp32's range) as point 2's first value / centroid 1's second
  local z=0000000000000000 e300=7e37e43c8800759c
  { npy_header '<f8' '(3, 2)'; f64 $z $z 3ff0000000000000 $z $e300 $z; } >big64.npy
  { npy_header '<f8' '(3, 2)'; f64 $z $z $z $e300 4024000000000000 $z; } >init_big64.npy
  : >empty.npy
  printf 'not a numpy file at all\n' >text.npy
}

expected_centroids() { npy_header '<f4' '(3, 2)'; f32 $MA $MA $MB $MB $MC $MC; }
expected_labels() { npy_header '<i4' '(12,)'; i32 "${LABELS[@]}"; }

# ---- helpers -----------------------------------------------------------------------------------
run_ok() {
  "$FKM" "$@" >"$OUT" 2>"$ERR" || fail "exit $? from: fkm $*"
}

# expect_error ARGS...: non-zero exit, exactly one stderr line starting "fkm: ", nothing on stdout,
# no file created or changed in the data directory.
expect_error() {
  local before after
  before=$(ls -A | sort; cat -- * 2>/dev/null | cksum)
  "$FKM" "$@" >"$OUT" 2>"$ERR"
  local rc=$?
  [ $rc -ne 0 ] || fail "exit 0 from: fkm $*"
  [ "$(wc -l <"$ERR")" -eq 1 ] || fail "not exactly one stderr line from: fkm $*"
  grep -q '^fkm: ' "$ERR" || fail "stderr does not start with 'fkm: ' for: fkm $*"
  [ ! -s "$OUT" ] || fail "stdout not empty for: fkm $*"
  after=$(ls -A | sort; cat -- * 2>/dev/null | cksum)
  [ "$before" = "$after" ] || fail "files created or changed by: fkm $*"
}

expect_json_fields() {
  for field in "$@"; do grep -q "\"$field\": " "$OUT" || fail "JSON lacks \"$field\""; done
  [ "$(wc -l <"$OUT")" -eq 1 ] || fail "JSON is not one line"
  grep -q '^{.*}$' "$OUT" || fail "stdout is not one JSON object"
}

# header_has FILE TEXT: the .npy header of FILE contains TEXT
header_has() { head -c 128 "$1" | grep -aqF "$2" || fail "$1: header lacks $2"; }

# The inertia list of the JSON summary on stdout, e.g. "1.5" or "2, 3".
json_inertia() { sed -n 's/.*"inertia": \[\([^]]*\)\].*/\1/p' "$OUT"; }

# repeat COUNT WORD: WORD COUNT times
repeat() { for _ in $(seq "$1"); do printf '%s ' "$2"; done; }

# ---- cases ------------------------------------------------------------------------------------
case_version() {
  run_ok --version
  grep -qE '^fkm [0-9]+\.[0-9]+\.[0-9]+$' "$OUT" || fail "bad version line"
}

case_help() {
  run_ok help
  grep -q '^usage: fkm <command>' "$OUT" || fail "no overview"
  run_ok --help
  for cmd in run predict demo info cache; do
    run_ok help $cmd
    grep -q "^usage: fkm $cmd" "$OUT" || fail "no usage for $cmd"
    run_ok $cmd --help
    grep -q "^usage: fkm $cmd" "$OUT" || fail "no usage for $cmd --help"
  done
  run_ok help run
  for opt in --n-init --sample-weight --tol-relative --device-memory; do
    grep -q "^  $opt " "$OUT" || fail "run usage lacks $opt"
  done
}

case_run() {
  make_fixtures
  run_ok run points.npy -k 3 --engine cpu --seed 7 --json --centroids c.npy --labels l.npy
  cp c.npy c_first.npy
  # a device-memory budget (1.5 KiB, 512M) is accepted; the CPU engine has no device memory
  for budget in 1536 512M; do
    run_ok run points.npy -k 3 --engine cpu --seed 7 --device-memory $budget --centroids c.npy
    cmp -s c.npy c_first.npy || fail "--device-memory $budget changed the centroids"
  done
  run_ok run points.npy -k 3 --engine cpu --seed 7 --json --centroids c.npy --labels l.npy
  expect_json_fields engine device B N D K dtype metric iterations inertia ms_total ms_per_iter \
    ms_compile ms_init
  local want='"engine": "cpu", "device": "cpu", "B": 1, "N": 12, "D": 2, "K": 3, "dtype": "fp32"'
  grep -qF "$want" "$OUT" || fail "JSON values"
  grep -q '"metric": "l2"' "$OUT" || fail "metric"
  grep -qE '"iterations": [1-9][0-9]*,' "$OUT" || fail "iterations not > 0"
  grep -qE '"inertia": \[[0-9.e+-]+\]' "$OUT" || fail "inertia is not one number"
  grep -q '^iter 1  shift .* inertia .* changed .* empty .* ms  .* Gpoints/s  .* GB/s$' "$ERR" || fail "no progress lines"
  header_has c.npy "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"
  header_has l.npy "{'descr': '<i4', 'fortran_order': False, 'shape': (12,), }"
  [ "$(wc -c <c.npy)" -eq $((128 + 24)) ] || fail "c.npy size"
  [ "$(wc -c <l.npy)" -eq $((128 + 48)) ] || fail "l.npy size"
  [ -z "$(ls -A | grep tmp)" ] || fail "temp files left"
  # seeds are decimal (a leading 0 is not octal) or hexadecimal after 0x; a tol too small for a
  # double reads as 0 (--iters 0: the centroids are the seed's random picks)
  local s
  for s in 010 10 0xa 8; do
    run_ok run points.npy -k 3 --engine cpu --iters 0 --seed $s --tol 1e-400 --centroids c$s.npy
  done
  cmp -s c010.npy c10.npy && cmp -s c0xa.npy c10.npy || fail "--seed 010 / 0xa is not ten"
  cmp -s c8.npy c10.npy && fail "--seed 8 and 10 pick the same points"
  rm c010.npy c10.npy c0xa.npy c8.npy
  # --quiet: nothing on stderr; the text summary on stdout
  run_ok run points.npy -k 3 --engine cpu --quiet
  [ ! -s "$ERR" ] || fail "--quiet printed on stderr"
  grep -q 'iterations, inertia' "$OUT" || fail "no text summary"
}

# Given centroids: the result is known exactly, and so are the output files, byte for byte.
case_run_given() {
  make_fixtures
  run_ok run points.npy --init-centroids init.npy --engine cpu --json --quiet --centroids c.npy \
    --labels l.npy
  grep -q '"K": 3' "$OUT" || fail "K not taken from the centroids"
  grep -q '"inertia": \[1.5\]' "$OUT" || fail "inertia is not 1.5"
  expected_centroids >want_c.npy
  expected_labels >want_l.npy
  cmp c.npy want_c.npy || fail "centroids differ"
  cmp l.npy want_l.npy || fail "labels differ"
  run_ok run points.npy -k 3 --init given --init-centroids init.npy --engine cpu --quiet \
    --metric l2 --dtype fp64 --iters 5 --tol 0 --empty farthest --device 0 --labels=l2.npy
  cmp l2.npy want_l.npy || fail "labels differ (fp64, --opt=value)"
}

case_run_batched() {
  make_fixtures
  run_ok run batched.npy -k 2 --engine cpu --json --centroids c.npy --labels l.npy
  grep -q '"B": 2, "N": 3, "D": 2, "K": 2, "dtype": "fp64", "input_dtype": "fp64"' "$OUT" ||
    fail "JSON values"
  grep -qE '"inertia": \[[0-9.e+-]+, [0-9.e+-]+\]' "$OUT" || fail "inertia is not two numbers"
  header_has c.npy "'shape': (2, 2, 2)"
  header_has l.npy "'shape': (2, 3)"
  run_ok run batched.npy -k 2 --engine cpu --dtype fp32 --json --quiet
  grep -q '"dtype": "fp32", "input_dtype": "fp64"' "$OUT" || fail "compute dtype"
}

# Sample weights: unit weights change nothing, byte for byte; integer weights (float64) give what
# repeating those rows gives; bad weights are refused before anything is written.
case_run_weighted() {
  make_fixtures
  local given="--init-centroids init.npy --engine cpu --json --quiet" one=3f800000 f64one
  f64one=3ff0000000000000
  { npy_header '<f4' '(12,)'; f32 $(repeat 12 $one); } >ones.npy
  run_ok run points.npy $given --sample-weight ones.npy --centroids c.npy --labels l.npy
  [ "$(json_inertia)" = 1.5 ] || fail "inertia with unit weights is not 1.5"
  grep -q '"sample_weight": true' "$OUT" || fail "weights not in the JSON summary"
  expected_centroids >want_c.npy
  expected_labels >want_l.npy
  cmp c.npy want_c.npy || fail "unit weights changed the centroids"
  cmp l.npy want_l.npy || fail "unit weights changed the labels"
  # weight 2 on point 0 and 3 on point 5, against those rows appended once and twice more
  { npy_header '<f8' '(12,)'
    f64 4000000000000000 $(repeat 4 $f64one) 4008000000000000 $(repeat 6 $f64one); } >w.npy
  { npy_header '<f4' '(15, 2)'
    f32 "${POINTS32[@]}" "${POINTS32[@]:0:2}" "${POINTS32[@]:10:2}" "${POINTS32[@]:10:2}"; } \
    >repeated.npy
  run_ok run points.npy $given --sample-weight w.npy --centroids cw.npy --labels lw.npy
  local weighted
  weighted=$(json_inertia)
  run_ok run repeated.npy $given --centroids cr.npy --labels lr.npy
  awk -v a="$weighted" -v b="$(json_inertia)" 'BEGIN { d = a - b; exit !(d * d <= 1e-24 * b * b) }' ||
    fail "weighted inertia $weighted differs from the repeated rows' $(json_inertia)"
  cmp cw.npy cr.npy || fail "weighted centroids differ from the repeated rows'"
  cmp -s cw.npy want_c.npy && fail "the weights changed nothing"
  cmp <(tail -c +129 lw.npy) <(tail -c +129 lr.npy | head -c 48) || fail "weighted labels differ"
  # batched weights are (B, N)
  { npy_header '<f4' '(2, 2, 2)'; f32 $Z $Z $T $T $Z $Z $T $T; } >init_b.npy
  { npy_header '<f4' '(2, 3)'; f32 $(repeat 6 $one); } >ones_b.npy
  run_ok run batched.npy --init-centroids init_b.npy --engine cpu --quiet --centroids cb.npy
  run_ok run batched.npy --init-centroids init_b.npy --engine cpu --quiet --centroids cbw.npy \
    --sample-weight ones_b.npy
  cmp cb.npy cbw.npy || fail "unit batched weights changed the centroids"
  # refusals: shape, dtype, values
  local o="--centroids out_c.npy --labels out_l.npy"
  { npy_header '<f4' '(11,)'; f32 $(repeat 11 $one); } >w11.npy
  { npy_header '<f4' '(3, 3)'; f32 $(repeat 9 $one); } >w33.npy
  { npy_header '<f2' '(12,)'; f16 $(repeat 12 3c00); } >w16.npy
  { npy_header '<i4' '(12,)'; i32 $(repeat 12 1); } >wint.npy
  { npy_header '<f4' '(12,)'; f32 $(repeat 3 $one) bf800000 $(repeat 8 $one); } >wneg.npy
  { npy_header '<f4' '(12,)'; f32 $(repeat 7 $one) 7fc00000 $(repeat 4 $one); } >wnan.npy
  { npy_header '<f4' '(12,)'; f32 $one $one $(repeat 10 $Z); } >wtwo.npy
  expect_error run points.npy -k 3 --sample-weight w11.npy $o
  grep -q 'N = 11 but the input has N = 12' "$ERR" || fail "N mismatch not named"
  expect_error run points.npy -k 3 --sample-weight w33.npy $o
  expect_error run batched.npy -k 2 --sample-weight ones.npy $o
  expect_error run batched.npy -k 2 --sample-weight w33.npy $o
  grep -q 'B = 3 but the input has B = 2' "$ERR" || fail "B mismatch not named"
  expect_error run points.npy -k 3 --sample-weight w16.npy $o
  expect_error run points.npy -k 3 --sample-weight wint.npy $o
  expect_error run points.npy -k 3 --sample-weight missing.npy $o
  expect_error run points.npy -k 3 --sample-weight wneg.npy $o
  grep -q 'element 3 = -1 is negative' "$ERR" || fail "negative weight not named"
  expect_error run points.npy -k 3 --sample-weight wnan.npy $o
  grep -q 'NaN or Inf' "$ERR" || fail "NaN weight not named"
  expect_error run points.npy -k 3 --sample-weight wtwo.npy $o
  grep -q '2 points of positive weight, fewer than k = 3' "$ERR" || fail "too few weights not named"
  run_ok run points.npy -k 2 --engine cpu --quiet --sample-weight wtwo.npy
  expect_error predict points.npy --init-centroids init.npy --labels out_l.npy \
    --sample-weight ones.npy
}

# Restarts: with 30 of them every seed reaches the optimum (inertia 1.5), never worse than one
# start, and at least one seed's single start misses it (else this would prove nothing).
case_run_n_init() {
  make_fixtures
  local seed single best improved=0
  for seed in 1 2 3 4 5 6 7 8; do
    run_ok run points.npy -k 3 --engine cpu --json --quiet --seed $seed
    single=$(json_inertia)
    grep -q '"n_init": 1,' "$OUT" || fail "n_init 1 not in the JSON summary"
    run_ok run points.npy -k 3 --engine cpu --json --quiet --seed $seed --n-init 30
    best=$(json_inertia)
    grep -q '"n_init": 30,' "$OUT" || fail "n_init 30 not in the JSON summary"
    [ "$best" = 1.5 ] || fail "seed $seed: 30 restarts end at inertia $best, not 1.5"
    awk -v a="$single" -v b="$best" 'BEGIN { exit !(a >= b) }' ||
      fail "seed $seed: 30 restarts ($best) worse than one ($single)"
    awk -v a="$single" -v b="$best" 'BEGIN { exit !(a > b) }' && improved=1
  done
  [ $improved = 1 ] || fail "every single start found the optimum: the fixture shows nothing"
  local o="--centroids out_c.npy --labels out_l.npy"
  expect_error run points.npy --init-centroids init.npy --n-init 2 $o
  expect_error run points.npy -k 3 --init given --init-centroids init.npy --n-init 3 $o
  expect_error run points.npy -k 3 --n-init 0 $o
  expect_error run points.npy -k 3 --n-init two $o
  run_ok run points.npy --init-centroids init.npy --n-init 1 --engine cpu --quiet
}

# Relative tolerance: from init.npy the first shift is 0.3536 (0.25·√2) and the second 0; the mean
# per-feature variance of the points is 66.73, so --tol 0.006 --tol-relative (0.400 absolute) stops
# after iteration 1, --tol 0.005 --tol-relative (0.334) and --tol 0.006 alone after iteration 2.
case_run_tol_relative() {
  make_fixtures
  local given="--init-centroids init.npy --engine cpu --json --quiet"
  run_ok run points.npy $given --tol 0.006 --tol-relative
  grep -q '"iterations": 1,' "$OUT" || fail "relative tol 0.006 did not stop after 1 iteration"
  grep -q '"tol_relative": true' "$OUT" || fail "tol_relative not in the JSON summary"
  run_ok run points.npy $given --tol 0.005 --tol-relative
  grep -q '"iterations": 2,' "$OUT" || fail "relative tol 0.005 did not run 2 iterations"
  run_ok run points.npy $given --tol 0.006
  grep -q '"iterations": 2,' "$OUT" || fail "absolute tol 0.006 did not run 2 iterations"
  grep -q '"tol_relative": false' "$OUT" || fail "tol_relative default not false"
  expect_error run points.npy -k 3 --tol-relative=yes --centroids out_c.npy
  expect_error predict points.npy --init-centroids init.npy --labels out_l.npy --tol-relative
}

case_predict() {
  make_fixtures
  expected_labels >want_l.npy
  run_ok predict points.npy --init-centroids init.npy --labels l.npy --engine cpu --json
  expect_json_fields engine device B N D K dtype metric iterations inertia ms_total
  grep -q '"command": "predict"' "$OUT" || fail "command"
  cmp l.npy want_l.npy || fail "labels differ"
  run_ok predict points16.npy --init-centroids init.npy --labels l16.npy --engine cpu -k 3
  cmp l16.npy want_l.npy || fail "labels differ (fp16 input)"
  grep -q 'fp16' "$OUT" || fail "fp16 not reported"
  # two points against three centroids: predict takes K > N
  { npy_header '<f4' '(2, 2)'; f32 $W $W $Z $H; } >two.npy
  run_ok predict two.npy --init-centroids init.npy --labels l2.npy --engine cpu
  { npy_header '<i4' '(2,)'; i32 2 0; } | cmp -s - l2.npy || fail "labels of two points"
}

case_demo() {
  run_ok demo --engine cpu
  grep -q 'engine cpu' "$OUT" || fail "engine not reported"
  grep -q 'adjusted Rand index' "$OUT" || fail "recovery not reported"
  grep -qE 'ms/iter' "$OUT" || fail "ms/iter not reported"
  run_ok demo --engine cpu --json --quiet --seed 12345
  [ ! -s "$ERR" ] || fail "--quiet printed on stderr"
  expect_json_fields engine iterations ms_per_iter adjusted_rand_index recovered
  grep -q '"recovered": true' "$OUT" || fail "not recovered"
  run_ok # no command: the demo, on whatever engine is usable
  grep -q 'adjusted Rand index' "$OUT" || fail "'fkm' alone did not run the demo"
}

case_info() {
  run_ok info
  grep -q '^fkm [0-9]' "$OUT" || fail "no version"
  grep -qE '^driver: (CUDA [0-9]|no CUDA driver: |the CUDA driver)' "$OUT" || fail "no driver line"
  if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
    grep -q '^driver: no CUDA driver: ' "$OUT" || fail "no clear 'no CUDA driver' line"
    grep -q '^gpu engine: not usable: FKM_ERR_NO_DRIVER' "$OUT" || fail "gpu engine line"
  fi
  grep -qE '^nvrtc: ([0-9]+\.[0-9]+ \(|not found)' "$OUT" || fail "no nvrtc line"
  grep -q '^devices: [0-9]' "$OUT" || fail "no devices line"
  grep -q "^cache root: $FKM_CACHE_DIR (\$FKM_CACHE_DIR)" "$OUT" || fail "cache root"
  FKM_CACHE_DIR= run_ok info
  grep -q '^cache root: disabled' "$OUT" || fail "empty FKM_CACHE_DIR is not 'disabled'"
  (unset FKM_CACHE_DIR; XDG_CACHE_HOME=/x/y "$FKM" info >"$OUT") || fail "info with XDG"
  grep -q '^cache root: /x/y/fkm ' "$OUT" || fail "XDG cache root"
  (unset FKM_CACHE_DIR XDG_CACHE_HOME; HOME=/h "$FKM" info >"$OUT") || fail "info with HOME"
  grep -q '^cache root: /h/.cache/fkm ' "$OUT" || fail "HOME cache root"
  run_ok info --json
  expect_json_fields version driver nvrtc device_count gpu_engine cache_root
}

# fkm bench on the CPU engine with shapes of its own: a row and a JSON line per shape with every
# sampled label checked and passing, held against the floor at the rates given (fp32:
# 2·2·3000·16·32 FLOPs, 2·6000·32·4 bytes of points, 8·6000 of labels, 2·2·16·32·4 of
# centroids; bf16: 2-byte values), which bench/compare.py puts beside a flash-kmeans JSON; bad shapes, names, rates and
# options are usage errors; an unwritable --json is refused before any fit, with nothing written,
# and a run that measures nothing leaves an existing --json file as it was.
case_bench() {
  run_ok bench --engine cpu --shape 2,3000,16,32,fp32 --shape 1,2000,7,20,bf16 --iters 3 \
    --sample 100 --json bench.jsonl --peak-tflops 0.5 --copy-tbps 0.25
  grep -qF '| % of 0.5 TFLOP/s (iteration / assign) | floor ms (0.25 TB/s) |' "$OUT" ||
    fail "rates in the header"
  python3 - bench.jsonl <<'PY' || fail "floor or rates in the JSON"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
want = [(6.144e6, 2 * 6000 * 32 * 4 + 8 * 6000 + 2 * 2 * 16 * 32 * 4),
        (2 * 2000 * 7 * 20, 2 * 2000 * 20 * 2 + 8 * 2000 + 2 * 7 * 20 * 4)]
for row, (flops, nbytes) in zip(rows, want):
    floor = max(flops / 0.5e9, nbytes / 0.25e9)
    assert row["bytes"] == nbytes and abs(row["floor_ms"] / floor - 1) < 1e-12, row
    assert abs(row["tflops"] / (flops / (row["ms_per_iter"] * 1e9)) - 1) < 1e-12, row
    assert abs(row["pct_peak"] / (row["tflops"] / 0.5 * 100) - 1) < 1e-12, row
    assign = row["assign_pct_peak"] * row["ms_assign"]
    assert abs(assign / (row["pct_peak"] * row["ms_per_iter"]) - 1) < 1e-9, row
    assert row["peak_tflops"] == 0.5 and row["copy_tbps"] == 0.25, row
PY
  printf '{"device": "C", "results": [{"shape": "b2_n3000_k16_d32_fp32", "ms_per_iter": 2,
    "ms_assign": 1.5, "ms_update": 0.5}]}' >flash.json
  python3 "$(dirname "$0")/../bench/compare.py" bench.jsonl flash.json cmp >cmp.out 2>"$ERR" ||
    fail "compare.py exit $?"
  grep -Eq '^\| b2_n3000_k16_d32_fp32 \|( [0-9.]+ \|){3} [0-9.]+ / [0-9.]+ \| 0\.012 \|'\
'( [0-9.]+ \|){4} 162\.76 \| [0-9.]+ \|$' cmp.md || fail "compare.py row"
  rm -f flash.json cmp.out cmp.md cmp.png
  grep -q '^| b2_n3000_k16_d32_fp32 | 2 | 3000 | 16 | 32 | fp32 | .* | 200/200 ok |$' "$OUT" ||
    fail "fp32 row"
  grep -q '^| b1_n2000_k7_d20_bf16 | 1 | 2000 | 7 | 20 | bf16 | .* | 100/100 ok |$' "$OUT" ||
    fail "bf16 row"
  [ "$(wc -l <bench.jsonl)" -eq 2 ] || fail "not two JSON lines"
  [ "$(stat -c %a bench.jsonl)" = "$(printf %o $((0666 & ~0$(umask))))" ] || fail "--json mode"
  for field in '"engine": "cpu"' '"checked": 200' '"wrong": 0' '"ms_per_iter": ' '"ms_assign": '; do
    head -n 1 bench.jsonl | grep -qF "$field" || fail "JSON lacks $field"
  done
  rm bench.jsonl
  run_ok help bench
  grep -q '^usage: fkm bench' "$OUT" || fail "no usage"
  for h in "-h" "--engine cpu --help"; do
    run_ok bench $h
    grep -q '^usage: fkm bench' "$OUT" || fail "no usage for bench $h"
  done
  run_ok bench --engine=cpu --shape=1,500,5,4,fp32 --iters=2 --sample=50
  grep -q '^| b1_n500_k5_d4_fp32 | .* | 50/50 ok |$' "$OUT" || fail "--name=value options"
  expect_error bench --quiet
  grep -q "unknown option '--quiet'" "$ERR" || fail "an unknown flag read as wanting a value"
  for bad in "--shape 1,2,3" "--shape 1,10,20,4,fp16" "--shape 1,100,5,4,fp8" \
             "--shape 1000000,1000000,5,4,fp16" "--only nosuch" \
             "--iters 0" "--config 128,64" "--engine tpu" "--sample" "--frobnicate 1" \
             "--peak-tflops 0" "--peak-tflops nan" "--copy-tbps -2" "--copy-tbps 1x"; do
    expect_error bench $bad
    grep -q '^fkm: bench' "$ERR" || fail "message for: $bad"
  done
  expect_error bench --engine cpu --shape 1,100,5,4,fp32 --json "$WORK/none/bench.jsonl"
  grep -q "^fkm: bench: $WORK/none/bench.jsonl: directory .* does not exist" "$ERR" ||
    fail "bench --json message"
  # a run that measures nothing leaves an existing --json file as it was (no GPU engine here)
  if ! "$FKM" info | grep -q '^gpu engine: usable'; then
    echo kept >kept.jsonl
    "$FKM" bench --shape 1,100,5,4,fp32 --json kept.jsonl >"$OUT" 2>"$ERR" && fail "bench ran"
    [ "$(cat kept.jsonl)" = kept ] || fail "a failed bench emptied its --json file"
    [ -z "$(ls -A | grep '\.tmp\.')" ] || fail "bench left a temp file"
    rm kept.jsonl
  fi
}

# bench/ab.sh: two rounds of one variant (a folder holding fkm) on the CPU engine make a table of
# the shape by the rounds; a variant without fkm, or a round with a wrong label, fails it.
case_bench_ab() {
  local ab
  ab="$(dirname "$0")/../bench/ab.sh"
  mkdir "$WORK/v" && ln -s "$FKM" "$WORK/v/fkm"
  sh "$ab" -r 2 -o "$WORK/ab" "$WORK/v" -- --engine cpu --shape 1,3000,5,8,fp32 --iters 2 \
    >"$OUT" 2>"$ERR" || fail "ab.sh exit $?"
  grep -q '^| shape | v-r1 | v-r2 |$' "$OUT" || fail "header"
  grep -Eq '^\| b1_n3000_k5_d8_fp32 \| [0-9.]+ \([0-9.]+\) \| [0-9.]+ \([0-9.]+\) \|$' "$OUT" ||
    fail "row"
  sh "$ab" -r 1 -o "$WORK/ab2" "$WORK/none" -- --engine cpu >"$OUT" 2>"$ERR" && fail "no fkm"
  sed 's/"wrong": 0/"wrong": 2/' "$WORK/ab/v-r1.jsonl" >"$WORK/wrong.jsonl"
  python3 "$(dirname "$0")/../bench/ab_table.py" "$WORK/wrong.jsonl" >"$OUT" 2>"$ERR" &&
    fail "wrong label passed"
  grep -q 'WRONG 2' "$OUT" || fail "wrong label not marked"
}

# The kernel cache: empty listings, usage errors, an export onto a directory refused with the
# directory left whole, and where NVRTC is installed an offline prebuild exported, imported into a
# second cache, verified without NVRTC, damaged, cleared.
case_cache() {
  run_ok cache list
  grep -q '^0 kernels, 0 bytes$' "$OUT" || fail "empty list"
  run_ok cache verify --json
  grep -q '^{"intact": 0, "damaged": 0}$' "$OUT" || fail "empty verify"
  expect_error cache
  expect_error cache frobnicate
  expect_error cache export
  mkdir keep && echo kept >keep/file
  expect_error cache export keep
  grep -q 'keep is a directory' "$ERR" || fail "export into a directory: message"
  [ "$(cat keep/file)" = kept ] || fail "export into a directory touched it"
  rm -r keep
  expect_error cache import missing.fkmb
  expect_error cache prebuild --d 64
  expect_error cache prebuild --sm 75 --d 64
  expect_error cache list --sm 80
  FKM_CACHE_DIR= expect_error cache export b.fkmb
  "$FKM" info | grep -q '^nvrtc: [0-9]' || return 0
  run_ok cache prebuild --sm 80 --d 32 --quiet
  [ ! -s "$ERR" ] || fail "--quiet printed on stderr"
  run_ok cache list
  cp "$OUT" "$WORK/log/list1"
  grep -qE '^[0-9a-f]{32}  norms +fp16  l2 +D=32 +sm_80 ' "$OUT" || fail "no norms kernel listed"
  run_ok cache export b.fkmb
  grep -q 'exported [0-9]* kernels' "$ERR" || fail "export not reported"
  head -c 8 b.fkmb | grep -q '^FKMBNDL1$' || fail "bundle magic"
  export FKM_CACHE_DIR=$WORK/cache2
  run_ok cache import b.fkmb
  run_ok cache list
  cmp "$OUT" "$WORK/log/list1" || fail "imported cache lists differently"
  FKM_NVRTC_PATH=/nonexistent run_ok cache verify
  grep -qE '^[1-9][0-9]* intact, 0 damaged$' "$OUT" || fail "verify"
  local cubin
  cubin=$(ls "$FKM_CACHE_DIR"/kernels/*/kernel.cubin | head -n 1)
  truncate -s 100 "$cubin"
  "$FKM" cache verify >"$OUT" 2>"$ERR" && fail "verify passed a truncated cubin"
  grep -q ' 1 damaged$' "$OUT" || fail "damage not counted"
  grep -q 'payload_xxh3' "$ERR" || fail "damage not named"
  run_ok cache clear
  run_ok cache list
  grep -q '^0 kernels, 0 bytes$' "$OUT" || fail "clear left kernels"
}

# Every bad input of SPEC §6, with outputs requested: one line, non-zero exit, nothing written.
case_bad_inputs() {
  make_fixtures
  local o="--centroids out_c.npy --labels out_l.npy"
  expect_error run missing.npy -k 3 $o
  expect_error run truncated.npy -k 3 $o
  expect_error run empty.npy -k 3 $o
  expect_error run text.npy -k 3 $o
  expect_error run int32.npy -k 3 $o
  grep -q "dtype '<i4' is not supported" "$ERR" || fail "dtype not named"
  expect_error run rank1.npy -k 3 $o
  expect_error run rank4.npy -k 3 $o
  expect_error run fortran.npy -k 3 $o
  expect_error run points.npy -k 13 $o
  expect_error run points.npy -k 0 $o
  expect_error run points.npy -k -2 $o
  expect_error run nan.npy -k 3 $o
  grep -q 'NaN or Inf' "$ERR" || fail "NaN not named"
  expect_error run inf.npy -k 3 $o
  expect_error run big.npy -k 3 --dtype fp16 $o
  grep -q 'element 11 (70000) rounds to Inf in the fp16 compute dtype' "$ERR" || fail "range not named"
  expect_error run points.npy --init-centroids init_nan.npy $o
  expect_error run points.npy --init-centroids init_d3.npy $o
  mkdir pipe && mkfifo pipe/fifo.npy # refused as not a regular file, without blocking on it
  timeout 60 "$FKM" run pipe/fifo.npy -k 3 $o >"$OUT" 2>"$ERR"
  [ $? -eq 1 ] && grep -q 'not a regular file' "$ERR" || fail "a FIFO as input"
  rm -r pipe
  expect_error run big64.npy -k 2 --engine cpu $o
  grep -q "element 4 (1e+300) is beyond fp32's range" "$ERR" || fail "fp64 range not named"
  expect_error run points.npy --init-centroids init_big64.npy $o
  grep -q "init_big64.npy: element 3 (1e+300) is beyond fp32's range" "$ERR" ||
    fail "fp64 centroid range not named"
  expect_error run points.npy -k 2 --init-centroids init.npy $o
  expect_error run points.npy -k 3 --centroids no/such/dir/c.npy --labels out_l.npy
  expect_error run points.npy -k 3 --engine gpu $o --device 99
  expect_error predict nan.npy --init-centroids init.npy --labels out_l.npy
  expect_error predict points.npy --init-centroids init_d3.npy --labels out_l.npy
  expect_error predict points.npy --init-centroids missing.npy --labels out_l.npy
  expect_error predict rank1.npy --init-centroids init.npy --labels out_l.npy
  # an existing output survives a failed run unchanged
  printf 'old' >out_c.npy
  expect_error run nan.npy -k 3 $o
  [ "$(cat out_c.npy)" = old ] || fail "existing output changed"
  # ... and a run whose second output cannot be renamed into place, after the first was: the first
  # goes back to what it held (the ASan build's runtime is not first when a shim is preloaded)
  printf 'old labels' >out_l.npy
  LD_PRELOAD=$FKM_TEST_FAIL_RENAME FKM_TEST_FAIL_RENAME_TO=out_l.npy \
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    expect_error run points.npy -k 3 --engine cpu --quiet $o
  grep -q 'out_l.npy: cannot rename into place' "$ERR" || fail "the failed rename not named"
  [ "$(cat out_c.npy)" = old ] && [ "$(cat out_l.npy)" = 'old labels' ] ||
    fail "outputs replaced before the failed rename were not put back"
}

# Command-line mistakes (outputs naming one file twice, or an input, among them): one line, exit
# status 2, nothing written.
case_bad_usage() {
  make_fixtures
  local o="--centroids out_c.npy --labels out_l.npy"
  expect_error frobnicate
  expect_error help frobnicate
  expect_error run points.npy -k 3 --frobnicate $o
  expect_error run points.npy -k 3 $o --iters
  expect_error run points.npy -k three $o
  expect_error run points.npy -k 3 --iters 1.5 $o
  expect_error run points.npy -k 3 --tol fast $o
  expect_error run points.npy -k 3 --seed -1 $o
  expect_error run points.npy -k 3 --seed 0x $o
  expect_error run points.npy -k 3 --seed 0x-5 $o
  expect_error run points.npy -k 3 --seed 0x0x10 $o
  expect_error run points.npy -k 3 --tol 1e400 $o
  expect_error run points.npy -k 3 --metric manhattan $o
  expect_error run points.npy -k 3 --dtype int8 $o
  expect_error run points.npy -k 3 --json=yes $o
  expect_error run points.npy $o
  expect_error run -k 3 $o
  expect_error run points.npy other.npy -k 3 $o
  expect_error run points.npy -k 3 --init given $o
  expect_error run points.npy --init random --init-centroids init.npy $o
  expect_error run points.npy -k 3 --centroids same.npy --labels same.npy
  expect_error run points.npy -k 3 --centroids same.npy --labels "./same.npy"
  # an output naming an input file, by its name, another spelling or a hard link, is refused
  ln points.npy linked.npy
  expect_error run points.npy -k 3 --centroids points.npy
  grep -q "output 'points.npy' is the input file 'points.npy'" "$ERR" || fail "same-file message"
  expect_error run points.npy -k 3 --labels "$PWD/linked.npy"
  expect_error run points.npy --init-centroids init.npy --labels ./init.npy
  expect_error predict points.npy --init-centroids init.npy --labels points.npy
  rm linked.npy
  expect_error predict points.npy --init-centroids init.npy
  expect_error predict points.npy --labels out_l.npy
  expect_error predict points.npy --init-centroids init.npy --labels out_l.npy --iters 3
  expect_error run points.npy -k 3 --device-memory lots $o
  expect_error run points.npy -k 3 --device-memory 0 $o
  expect_error run points.npy -k 3 --device-memory 8X $o
  expect_error run points.npy -k 3 --device-memory -1G $o
  expect_error run points.npy -k 3 --devices 0,,1 $o
  expect_error run points.npy -k 3 --devices 0,x $o
  expect_error run points.npy -k 3 --devices "" $o
  expect_error run points.npy -k 3 --devices 0,1, $o
  expect_error run points.npy -k 3 --devices 0,1 --engine cpu $o
  expect_error run points.npy -k 3 --devices 0,1,0 $o
  expect_error predict points.npy --init-centroids init.npy --labels out_l.npy --devices 0,1
  expect_error demo --frobnicate
  expect_error demo extra
  expect_error info --quiet
  "$FKM" run points.npy -k 3 --bogus >"$OUT" 2>"$ERR"
  [ $? -eq 2 ] || fail "a usage error does not exit 2"
}

case_triton() {
  # The Triton fixtures with stand-in cubins that are not ELF: refusals by metadata still name the
  # feature; the others name the unreadable cubin (the NVRTC-built cubins are tests/test_triton.c's).
  cp -r "$(dirname "$0")/data/triton/cache" "$WORK/triton" || fail "cannot copy fixtures"
  for d in "$WORK"/triton/*/; do echo "not an ELF" >"$d/_euclid_assign_kernel.cubin"; done
  run_ok triton inspect "$WORK/triton" --sm 90
  grep -q '^12 kernels, 0 launchable by fkm$' "$OUT" || fail "totals"
  grep -q '^ctas .*not launchable: num_ctas > 1' "$OUT" || fail "num_ctas refusal"
  grep -q '^coop .*cooperative' "$OUT" || fail "cooperative refusal"
  grep -q '^pdl .*launch_pdl' "$OUT" || fail "PDL refusal"
  grep -q '^v35 .*(2 hidden)  not launchable: cubin: not a little-endian ELF64' "$OUT" || fail "v35"
  run_ok triton inspect "$WORK/triton" --sm 90 --json
  [ "$(grep -c '^{.*"launchable": false.*}$' "$OUT")" -eq 12 ] || fail "JSON lines"
  run_ok triton export "$WORK/export"
  grep -q '^0 tuning records' "$OUT" || fail "export of an empty cache"
  local rec="$(dirname "$0")/data/triton/autotune/flash/_euclid_assign_kernel.autotune.json"
  run_ok triton import "$rec" --device "NVIDIA H100 80GB HBM3" --sm 90 --d 128
  grep -q '^imported BLOCK_N=128 BLOCK_K=64 BLOCK_D=0 num_warps=4 num_stages=2 ' "$OUT" || fail "import"
  run_ok triton export "$WORK/export"
  grep -q '^1 tuning records' "$OUT" || fail "export of the imported record"
  ls "$WORK"/export/*/_euclid_assign_kernel.autotune.json >/dev/null || fail "exported file"
  expect_error triton import "$rec" --device "NVIDIA H100 80GB HBM3" --sm 90
  expect_error triton import "$(dirname "$0")/data/triton/autotune/bad/empty.autotune.json" \
    --device X --sm 90 --d 128
  expect_error triton
  expect_error triton inspect
  expect_error triton frobnicate x
  expect_error triton inspect "$WORK/none" --sm 90
  expect_error triton inspect "$WORK/triton" --sm x
}

declare -F "case_$CASE" >/dev/null || { echo "unknown case $CASE" >&2; exit 1; }
"case_$CASE"
echo "ok [$CASE]"
