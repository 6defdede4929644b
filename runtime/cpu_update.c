/* CPU engine: the Lloyd update (cluster means, fp64 sums in point order, int64 counts) and the
 * empty-cluster policies. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* A point and its squared distance to its (old) centroid, for FKM_EMPTY_FARTHEST. */
typedef struct fkm__cpu_far {
  double dist;
  int64_t index;
} far_point;

fkm_status fkm__cpu_update_ws_init(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t k,
                                   fkm_empty_policy policy, fkm__cpu_update_ws *ws) {
  memset(ws, 0, sizeof *ws);
  ws->sum = fkm__cpu_alloc(ctx, (size_t)k * (size_t)pts->d, sizeof(double), "cluster sums");
  ws->count = fkm__cpu_alloc(ctx, (size_t)k, sizeof(int64_t), "cluster counts");
  if (policy == FKM_EMPTY_FARTHEST)
    ws->far = fkm__cpu_alloc(ctx, (size_t)pts->n, sizeof(far_point), "farthest points");
  if (!ws->sum || !ws->count || (policy == FKM_EMPTY_FARTHEST && !ws->far)) {
    fkm__cpu_update_ws_free(ws);
    return FKM_ERR_NOMEM;
  }
  return FKM_OK;
}

void fkm__cpu_update_ws_free(fkm__cpu_update_ws *ws) {
  free(ws->sum);
  free(ws->count);
  free(ws->far);
  memset(ws, 0, sizeof *ws);
}

/* sum [K][D] and count [K] of the n points x [N][D] of one batch under labels [N]. */
static void accumulate(const double *x, const int32_t *labels, int64_t n, int64_t d, int64_t k,
                       double *sum, int64_t *count) {
  memset(sum, 0, (size_t)(k * d) * sizeof(double));
  memset(count, 0, (size_t)k * sizeof(int64_t));
  for (int64_t i = 0; i < n; i++) {
    double *s = sum + (size_t)labels[i] * (size_t)d;
    const double *xi = x + (size_t)i * (size_t)d;
    for (int64_t j = 0; j < d; j++) s[j] += xi[j];
    count[labels[i]]++;
  }
}

/* Farthest first; equal distances: lower point index first (a total order, so qsort is exact). */
static int farther_first(const void *a, const void *b) {
  const far_point *p = a, *q = b;
  if (p->dist != q->dist) return p->dist > q->dist ? -1 : 1;
  return (p->index > q->index) - (p->index < q->index);
}

/* scikit-learn's relocation for one batch: the empty clusters, in increasing index, take the points
 * farthest from their old centroid c_old [K][D]; a taken point leaves its old cluster's sum and
 * count and becomes the sole member of the empty cluster. */
static void relocate_farthest(const double *x, const int32_t *labels, const double *c_old,
                              int64_t n, int64_t d, int64_t k, fkm__cpu_update_ws *ws) {
  far_point *far = ws->far;
  for (int64_t i = 0; i < n; i++) {
    far[i].dist =
        fkm__cpu_sqdist(x + (size_t)i * (size_t)d, c_old + (size_t)labels[i] * (size_t)d, d);
    far[i].index = i;
  }
  qsort(far, (size_t)n, sizeof *far, farther_first);
  int64_t taken = 0;
  for (int64_t j = 0; j < k; j++) {
    if (ws->count[j] != 0) continue;
    int64_t i = far[taken++].index, old = labels[i];
    const double *xi = x + (size_t)i * (size_t)d;
    double *s_old = ws->sum + (size_t)old * (size_t)d, *s_new = ws->sum + (size_t)j * (size_t)d;
    for (int64_t t = 0; t < d; t++) {
      s_old[t] -= xi[t];
      s_new[t] = xi[t];
    }
    ws->count[old]--;
    ws->count[j] = 1;
  }
}

static int64_t count_empty(const int64_t *count, int64_t k) {
  int64_t e = 0;
  for (int64_t j = 0; j < k; j++) e += count[j] == 0;
  return e;
}

/* c_new [K][D]: sum / count; a cluster still empty keeps c_old (and is not re-normalised). */
static void finish_means(const fkm__cpu_update_ws *ws, const double *c_old, double *c_new,
                         int64_t d, int64_t k, fkm_metric metric) {
  for (int64_t j = 0; j < k; j++) {
    const double *s = ws->sum + (size_t)j * (size_t)d;
    double *c = c_new + (size_t)j * (size_t)d;
    if (ws->count[j] == 0) {
      memcpy(c, c_old + (size_t)j * (size_t)d, (size_t)d * sizeof(double));
      continue;
    }
    for (int64_t t = 0; t < d; t++) c[t] = s[t] / (double)ws->count[j];
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
    const int32_t *lab = labels + b * n;
    const double *old = c_old + (size_t)(b * k) * (size_t)d;
    accumulate(x, lab, n, d, k, ws->sum, ws->count);
    int64_t e = count_empty(ws->count, k);
    *empty += e;
    if (e > 0 && policy == FKM_EMPTY_FARTHEST) relocate_farthest(x, lab, old, n, d, k, ws);
    finish_means(ws, old, c_new + (size_t)(b * k) * (size_t)d, d, k, pts->metric);
  }
}
