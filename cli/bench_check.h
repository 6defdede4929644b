/* The labels check of fkm bench (bench_check.c); its own header so that a test suite links it. */
#ifndef FKM_BENCH_CHECK_H
#define FKM_BENCH_CHECK_H

#include <stdint.h>

#include "fkm.h"

typedef struct bench_check {
  int64_t checked; /* sampled points */
  int64_t wrong;   /* of them, labels out of [0, K) or farther than the tolerance allows */
  double worst;    /* largest (label's distance − nearest distance) / tolerance; ≤ 1 passes */
} bench_check;

/* Unit roundoff of what the fit's distances are made from: the points and centroids rounded to
 * the compute dtype t (fp16 2^-11, bf16 2^-8, fp32 read as TF32 — truncated — 2^-10, fp32 in
 * 3×TF32 2^-21, fp64 2^-52) plus fp32 accumulation over d terms (d·2^-24; none for fp64). */
double bench_unit_roundoff(fkm_dtype t, fkm_precision p, int64_t d);

/* Checks labels [B][N] of points x [B][N][D] against centroids c [B][K][D] (l2) on `sample`
 * evenly spaced points of each batch (all of them when sample ≥ N): a label passes when its fp64
 * squared distance exceeds the nearest one's by at most 2u·(2‖x‖² + 4·max(‖c_label‖², ‖c_near‖²)),
 * the bound on two distances' rounding error with inputs of unit roundoff u. */
void bench_check_labels(const float *x, const float *c, const int32_t *labels, int64_t b, int64_t n,
                        int64_t k, int64_t d, double u, int64_t sample, bench_check *out);

#endif
