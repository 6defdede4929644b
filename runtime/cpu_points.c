/* CPU engine: points in fp64 (rounded to the compute dtype) and their weights, row helpers, checked
 * allocation. */
#include <math.h>
#include <stdlib.h>

#include "cpu_internal.h"

void *fkm__cpu_alloc(fkm_ctx *ctx, size_t count, size_t size, const char *what) {
  size_t bytes = count * size;
  void *p = size != 0 && count > SIZE_MAX / size ? NULL : malloc(bytes != 0 ? bytes : 1);
  if (!p)
    fkm__error(ctx, FKM_ERR_NOMEM, "CPU engine: cannot allocate %s (%zu × %zu bytes)", what, count,
               size);
  return p;
}

fkm_status fkm__cpu_points_load(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                                fkm__cpu_points *out) {
  size_t count = (size_t)p->batches * (size_t)p->n * (size_t)p->d;
  double *x = fkm__cpu_alloc(ctx, count, sizeof(double), "points");
  if (!x) return FKM_ERR_NOMEM;
  fkm_dtype t = fkm__compute_dtype(p, o, 0);
  for (size_t i = 0; i < count; i++) x[i] = fkm__load_element(p->data, p->dtype, i);
  if (o->metric == FKM_METRIC_COSINE) fkm__cpu_normalise(x, p->batches * p->n, p->d);
  for (size_t i = 0; i < count; i++) x[i] = fkm__round_to_dtype(x[i], t);
  *out = (fkm__cpu_points){.x = x, .b = p->batches, .n = p->n, .d = p->d, .metric = o->metric};
  return FKM_OK;
}

fkm_status fkm__cpu_weights_load(fkm_ctx *ctx, const fkm_options *o, fkm__cpu_points *pts) {
  if (!o->sample_weight) return FKM_OK;
  size_t count = (size_t)pts->b * (size_t)pts->n;
  pts->w = fkm__cpu_alloc(ctx, count, sizeof(double), "sample weights");
  if (!pts->w) return FKM_ERR_NOMEM;
  for (size_t i = 0; i < count; i++) pts->w[i] = o->sample_weight[i];
  return FKM_OK;
}

void fkm__cpu_points_free(fkm__cpu_points *pts) {
  free(pts->x);
  free(pts->w);
  pts->x = NULL;
  pts->w = NULL;
}

/* Row v [d] multiplied by the power of two that brings its largest |v| into [1, 2) (exact); its
 * new sum of squares (0 for a zero row). */
static double rescale_row(double *v, int64_t d) {
  double m = 0.0, ss = 0.0;
  for (int64_t j = 0; j < d; j++) m = fmax(m, fabs(v[j]));
  if (m == 0.0) return 0.0;
  const int e = -ilogb(m); /* 2^e itself overflows for subnormal m: each value is shifted */
  for (int64_t j = 0; j < d; j++) v[j] = ldexp(v[j], e), ss += v[j] * v[j];
  return ss;
}

void fkm__cpu_normalise(double *v, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; r++, v += d) {
    double ss = 0.0;
    for (int64_t j = 0; j < d; j++) ss += v[j] * v[j];
    if (!(ss <= 0x1p1000) || ss < 0x1p-1000) ss = rescale_row(v, d); /* overflowed, or lost digits */
    if (ss == 0.0) continue;
    double norm = sqrt(ss);
    for (int64_t j = 0; j < d; j++) v[j] /= norm;
  }
}

double fkm__cpu_sqdist(const double *a, const double *b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) {
    double diff = a[j] - b[j];
    s += diff * diff;
  }
  return s;
}
