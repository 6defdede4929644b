/* CPU engine: the Lloyd update (weighted cluster means, fp64 sums of w·x and of w in point order;
 * w = 1 without weights, so the sums are those of the points and the counts) and the empty-cluster
 * policies. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* A point and its squared distance to its (old) centroid, for FKM_EMPTY_FARTHEST (−1 for a point of
 * zero weight, which is never taken). */
typedef struct fkm__cpu_far {
  double dist;
  int64_t index;
} far_point;

fkm_status fkm__cpu_update_ws_init(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t k,
                                   fkm_empty_policy policy, fkm__cpu_update_ws *ws) {
  memset(ws, 0, sizeof *ws);
  ws->sum = fkm__cpu_alloc(ctx, (size_t)k * (size_t)pts->d, sizeof(double), "cluster sums");
  ws->weight = fkm__cpu_alloc(ctx, (size_t)k, sizeof(double), "cluster weights");
  if (policy == FKM_EMPTY_FARTHEST)
    ws->far = fkm__cpu_alloc(ctx, (size_t)pts->n, sizeof(far_point), "farthest points");
  if (!ws->sum || !ws->weight || (policy == FKM_EMPTY_FARTHEST && !ws->far)) {
    fkm__cpu_update_ws_free(ws);
    return FKM_ERR_NOMEM;
  }
  return FKM_OK;
}

void fkm__cpu_update_ws_free(fkm__cpu_update_ws *ws) {
  free(ws->sum);
  free(ws->weight);
  free(ws->far);
  memset(ws, 0, sizeof *ws);
}

static double weight_of(const double *w, int64_t i) { return w ? w[i] : 1.0; }

/* sum [K][D] (Σ w·x) and weight [K] (Σ w) of the n points x [N][D] of one batch, weights w [N] or
 * NULL, under labels [N]. */
static void accumulate(const double *x, const double *w, const int32_t *labels, int64_t n,
                       int64_t d, int64_t k, double *sum, double *weight) {
  memset(sum, 0, (size_t)(k * d) * sizeof(double));
  memset(weight, 0, (size_t)k * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    double *s = sum + (size_t)labels[i] * (size_t)d, wi = weight_of(w, i);
    const double *xi = x + (size_t)i * (size_t)d;
    for (int64_t j = 0; j < d; j++) s[j] += wi * xi[j];
    weight[labels[i]] += wi;
  }
}

/* Farthest first; equal distances: lower point index first (a total order, so qsort is exact). */
static int farther_first(const void *a, const void *b) {
  const far_point *p = a, *q = b;
  if (p->dist != q->dist) return p->dist > q->dist ? -1 : 1;
  return (p->index > q->index) - (p->index < q->index);
}

/* scikit-learn's relocation for one batch: the empty clusters, in increasing index, take the points
 * of positive weight farthest from their old centroid c_old [K][D]; a taken point leaves its old
 * cluster's sums and becomes the sole member of the empty cluster. options.c guarantees K points of
 * positive weight, more than the empty clusters. */
static void relocate_farthest(const double *x, const double *w, const int32_t *labels,
                              const double *c_old, int64_t n, int64_t d, int64_t k,
                              fkm__cpu_update_ws *ws) {
  far_point *far = ws->far;
  for (int64_t i = 0; i < n; i++) {
    far[i].dist = weight_of(w, i) > 0.0 ? fkm__cpu_sqdist(x + (size_t)i * (size_t)d,
                                                          c_old + (size_t)labels[i] * (size_t)d, d)
                                        : -1.0;
    far[i].index = i;
  }
  qsort(far, (size_t)n, sizeof *far, farther_first);
  int64_t taken = 0;
  for (int64_t j = 0; j < k; j++) {
    if (ws->weight[j] != 0.0) continue;
    int64_t i = far[taken++].index, old = labels[i];
    const double *xi = x + (size_t)i * (size_t)d;
    double *s_old = ws->sum + (size_t)old * (size_t)d, *s_new = ws->sum + (size_t)j * (size_t)d;
    double wi = weight_of(w, i);
    for (int64_t t = 0; t < d; t++) {
      s_old[t] -= wi * xi[t];
      s_new[t] = wi * xi[t];
    }
    ws->weight[old] -= wi;
    ws->weight[j] = wi;
  }
}

static int64_t count_empty(const double *weight, int64_t k) {
  int64_t e = 0;
  for (int64_t j = 0; j < k; j++) e += weight[j] == 0.0;
  return e;
}

/* c_new [K][D]: sum / weight; a cluster still empty keeps c_old (and is not re-normalised). */
static void finish_means(const fkm__cpu_update_ws *ws, const double *c_old, double *c_new,
                         int64_t d, int64_t k, fkm_metric metric) {
  for (int64_t j = 0; j < k; j++) {
    const double *s = ws->sum + (size_t)j * (size_t)d;
    double *c = c_new + (size_t)j * (size_t)d;
    if (ws->weight[j] == 0.0) {
      memcpy(c, c_old + (size_t)j * (size_t)d, (size_t)d * sizeof(double));
      continue;
    }
    for (int64_t t = 0; t < d; t++) c[t] = s[t] / ws->weight[j];
    if (metric != FKM_METRIC_L2) fkm__cpu_normalise(c, 1, d);
  }
}

void fkm__cpu_update(const fkm__cpu_points *pts, const int32_t *labels, const double *c_old,
                     double *c_new, int64_t k, fkm_empty_policy policy, fkm__cpu_update_ws *ws,
                     int64_t *empty) {
  int64_t n = pts->n, d = pts->d;
  *empty = 0;
  for (int64_t b = 0; b < pts->b; b++) {
    const double *x = pts->x + (size_t)(b * n) * (size_t)d;
    const double *w = pts->w ? pts->w + b * n : NULL;
    const int32_t *lab = labels + b * n;
    const double *old = c_old + (size_t)(b * k) * (size_t)d;
    accumulate(x, w, lab, n, d, k, ws->sum, ws->weight);
    int64_t e = count_empty(ws->weight, k);
    *empty += e;
    if (e > 0 && policy == FKM_EMPTY_FARTHEST) relocate_farthest(x, w, lab, old, n, d, k, ws);
    finish_means(ws, old, c_new + (size_t)(b * k) * (size_t)d, d, k, pts->metric);
  }
}
