/* Declarations shared by the CPU reference engine's files (runtime/cpu_*.c). Not installed.
 *
 * Everything here is fp64. Shapes: points [B][N][D], centroids [B][K][D], labels [B][N],
 * all row-major and contiguous. */
#ifndef FKM_CPU_INTERNAL_H
#define FKM_CPU_INTERNAL_H

#include "internal.h"

/* The points of one call as the engine holds them, fp64: for cosine each row is first scaled to
 * unit L2 norm from the input values in fp64 (a zero row stays zero); then every element is rounded
 * once to the compute dtype and used as it is (no re-normalisation after rounding). */
typedef struct fkm__cpu_points {
  double *x; /* [B][N][D], owned */
  double *w; /* [B][N] sample weights, owned; NULL: every weight is 1 */
  int64_t b, n, d;
  fkm_metric metric;
} fkm__cpu_points;

/* malloc(count × size) that reports FKM_ERR_NOMEM (naming what) through ctx and returns NULL on
 * failure or overflow. */
void *fkm__cpu_alloc(fkm_ctx *ctx, size_t count, size_t size, const char *what);

/* Loads and rounds p per o (compute dtype, metric) into *out; release with fkm__cpu_points_free. */
fkm_status fkm__cpu_points_load(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                                fkm__cpu_points *out);
void fkm__cpu_points_free(fkm__cpu_points *pts);
/* pts->w = o->sample_weight widened to fp64 (left NULL without weights); fit only. */
fkm_status fkm__cpu_weights_load(fkm_ctx *ctx, const fkm_options *o, fkm__cpu_points *pts);

/* Scales each of rows rows of v [rows][d] to unit L2 norm; zero rows stay zero. A row whose sum
 * of squares overflows fp64 or falls below 2^-1000 is first brought to a largest |v| in [1, 2) by
 * a power of two, so that its unit row is what the same row at a moderate scale gives. */
void fkm__cpu_normalise(double *v, int64_t rows, int64_t d);
/* Σ (a_j − b_j)², summed in index order. */
double fkm__cpu_sqdist(const double *a, const double *b, int64_t d);

/* Labels [B][N] of the nearest of the k centroids c [B][k][D] per pts->metric: l2 minimises
 * ‖c‖² − 2·x·c, cosine and dot maximise x·c; ties go to the lowest index. Dot products are summed
 * in index order, so the labels do not depend on blocking or the number of threads. */
fkm_status fkm__cpu_assign(fkm_ctx *ctx, const fkm__cpu_points *pts, const double *c, int64_t k,
                           int32_t *labels);
/* inertia[b] = Σ_i w_i · ‖x_i − c[label_i]‖² (explicit squared differences, index order; w_i = 1
 * without weights), [B]. */
void fkm__cpu_inertia(const fkm__cpu_points *pts, const double *c, int64_t k, const int32_t *labels,
                      double *inertia);

/* Scratch for fkm__cpu_update, sized for one batch of pts with k clusters. */
typedef struct fkm__cpu_update_ws {
  double *sum;              /* [K][D]: Σ w·x */
  double *weight;           /* [K]: Σ w (the point count without weights) */
  struct fkm__cpu_far *far; /* [N], FKM_EMPTY_FARTHEST only (defined in cpu_update.c) */
} fkm__cpu_update_ws;

fkm_status fkm__cpu_update_ws_init(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t k,
                                   fkm_empty_policy policy, fkm__cpu_update_ws *ws);
void fkm__cpu_update_ws_free(fkm__cpu_update_ws *ws);

/* One Lloyd update: c_new [B][k][D] = weighted mean (Σ w·x / Σ w) of each cluster's points under
 * labels, empty clusters (weight total 0) handled per policy against c_old, then (cosine, dot)
 * re-normalised. *empty receives the number of empty clusters before the policy, summed over
 * batches. FARTHEST takes only points of positive weight. */
void fkm__cpu_update(const fkm__cpu_points *pts, const int32_t *labels, const double *c_old,
                     double *c_new, int64_t k, fkm_empty_policy policy, fkm__cpu_update_ws *ws,
                     int64_t *empty);

/* Greedy k-means++ (runtime/init_kmeanspp.c, whose header states the exact procedure): the K
 * point indices out [K] of batch b of pts picked with this seed, in pick order; never a point of
 * zero weight. Needs K points of positive weight in the batch. */
fkm_status fkm__kmeanspp_indices(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t b, int64_t k,
                                 uint64_t seed, int64_t *out);

/* Initial centroids c [B][k][D] for init RANDOM or KMEANSPP with this seed (runtime/cpu_init.c):
 * the picked points in pick order, scaled to unit length for cosine and dot. RANDOM draws
 * fkm__random_init_indices over the points of positive weight, by rank (all N points without
 * weights, so the picks are those of the GPU engine). */
fkm_status fkm__cpu_init_picks(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t k, fkm_init init,
                               uint64_t seed, double *c);

#endif
