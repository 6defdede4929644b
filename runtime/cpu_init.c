/* CPU engine: initial centroids from picked points (random or k-means++). */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* Random picks of batch b: Floyd's K distinct ranks among the m points of positive weight, mapped
 * to their indices (rank r = the r-th such point in index order); scratch rank [N]. */
static fkm_status random_picks(const fkm__cpu_points *pts, int64_t b, int64_t k, uint64_t seed,
                               int64_t *rank, int64_t *out) {
  const double *w = pts->w ? pts->w + b * pts->n : NULL;
  int64_t m = 0;
  for (int64_t i = 0; i < pts->n; i++)
    if (!w || w[i] > 0.0) rank[m++] = i;
  if (fkm__random_init_indices(seed, b, m, k, out) != FKM_OK) return FKM_ERR_NOMEM;
  for (int64_t j = 0; j < k; j++) out[j] = rank[out[j]];
  return FKM_OK;
}

static fkm_status batch_picks(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t b, int64_t k,
                              fkm_init init, uint64_t seed, int64_t *rank, int64_t *out) {
  if (init == FKM_INIT_KMEANSPP) return fkm__kmeanspp_indices(ctx, pts, b, k, seed, out);
  if (random_picks(pts, b, k, seed, rank, out) == FKM_OK) return FKM_OK;
  return fkm__error(ctx, FKM_ERR_NOMEM, "CPU engine: cannot allocate the random-init set");
}

fkm_status fkm__cpu_init_picks(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t k, fkm_init init,
                               uint64_t seed, double *c) {
  int64_t *idx = fkm__cpu_alloc(ctx, (size_t)k, sizeof(int64_t), "init indices");
  int64_t *rank = fkm__cpu_alloc(ctx, (size_t)pts->n, sizeof(int64_t), "init ranks");
  fkm_status s = idx && rank ? FKM_OK : FKM_ERR_NOMEM;
  size_t row = (size_t)pts->d * sizeof(double);
  for (int64_t b = 0; b < pts->b && s == FKM_OK; b++) {
    s = batch_picks(ctx, pts, b, k, init, seed, rank, idx);
    for (int64_t j = 0; j < k && s == FKM_OK; j++)
      memcpy(c + (size_t)(b * k + j) * (size_t)pts->d,
             pts->x + (size_t)(b * pts->n + idx[j]) * (size_t)pts->d, row);
  }
  free(idx);
  free(rank);
  if (s == FKM_OK && pts->metric != FKM_METRIC_L2) fkm__cpu_normalise(c, pts->b * k, pts->d);
  return s;
}
