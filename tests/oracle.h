/* The fp64 oracle of SPEC §2 for GPU tests: engine-rounded points, the label acceptance rule with
 * its accumulation-error bound, means from given labels, inertia. */
#ifndef FKM_TEST_ORACLE_H
#define FKM_TEST_ORACLE_H

#include <stdint.h>

#include "fkm.h"

typedef struct oracle_problem {
  int64_t b, n, d, k;
  fkm_metric metric;
  fkm_dtype dtype; /* compute dtype */
  fkm_precision precision;
  double *x;       /* [B][N][D]: points as the kernels hold them, owned */
} oracle_problem;

/* Builds x from host points p for compute dtype t (cosine: unit length, then rounded). */
void oracle_init(oracle_problem *o, const fkm_points *p, int64_t k, fkm_metric m, fkm_dtype t,
                 fkm_precision precision);
void oracle_free(oracle_problem *o);

/* Relative error of the operands the tensor cores see: the compute dtype's unit roundoff for
 * fp16/bf16 centroids, 2⁻¹¹ for TF32, 2⁻²² for 3×TF32 (two TF32 terms per fp32 operand). */
double oracle_unit_roundoff(fkm_dtype t, fkm_precision precision);

/* Checks labels [B][N] against centroids c [B][K][D] (as the kernels saw them: unit length for
 * cosine) on every stride-th point: a label is accepted when its score is within the sum of the two
 * candidates' error bounds of the best score (SPEC §2:
 *   bound_j = 2·[2(u + D·2⁻²⁴)·Σ_i|x_i c_ji| + (2u + D·2⁻²⁴)·‖c_j‖²] for l2,
 *   bound_j = 2·(u + D·2⁻²⁴)·Σ_i|x_i c_ji| for cosine and dot).
 * Returns the number of rejected labels (the first few are printed); *near_ties counts accepted
 * labels that differ from the fp64 argmin. */
int64_t oracle_check_labels(const oracle_problem *o, const float *c, const int32_t *labels,
                            int64_t stride, int64_t *near_ties);

/* Means [B][K][D] of the points per labels (unit length for cosine and dot); clusters without
 * points take prev's row. */
void oracle_means(const oracle_problem *o, const int32_t *labels, const float *prev, double *out);

/* Σ ‖x − c[label]‖² per batch (fp64) into inertia [B]. */
void oracle_inertia(const oracle_problem *o, const float *c, const int32_t *labels,
                    double *inertia);

#endif
