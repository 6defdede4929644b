/* fkm bench's check of a fit's labels against an fp64 scan of its centroids on a sample. */
#include "bench_check.h"

#include <math.h>

double bench_unit_roundoff(fkm_dtype t, fkm_precision p, int64_t d) {
  double accumulate = ldexp((double)d, -24);
  switch (t) {
    case FKM_DTYPE_FP16:
      return ldexp(1.0, -11) + accumulate;
    case FKM_DTYPE_BF16:
      return ldexp(1.0, -8) + accumulate;
    case FKM_DTYPE_FP64:
      return ldexp(1.0, -52);
    default:
      return ldexp(1.0, p == FKM_PRECISION_TF32 ? -10 : -21) + accumulate;
  }
}

static double sqdist(const float *a, const float *b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
  return s;
}

static double sqnorm(const float *a, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) s += (double)a[j] * a[j];
  return s;
}

/* The nearest of centroids c [K][D] to point x: its index, *dist its squared distance. */
static int64_t nearest(const float *x, const float *c, int64_t k, int64_t d, double *dist) {
  int64_t best = 0;
  *dist = sqdist(x, c, d);
  for (int64_t j = 1; j < k; j++) {
    double v = sqdist(x, c + j * d, d);
    if (v < *dist) *dist = v, best = j;
  }
  return best;
}

void bench_check_labels(const float *x, const float *c, const int32_t *labels, int64_t b, int64_t n,
                        int64_t k, int64_t d, double u, int64_t sample, bench_check *out) {
  out->checked = out->wrong = 0, out->worst = 0.0;
  int64_t m = sample < n ? sample : n;
  for (int64_t bt = 0; bt < b; bt++) {
    const float *cb = c + bt * k * d;
    for (int64_t s = 0; s < m; s++) {
      int64_t i = bt * n + s * n / m;
      const float *xi = x + i * d;
      int32_t l = labels[i];
      out->checked++;
      if (l < 0 || l >= k) {
        out->wrong++;
        continue;
      }
      double near, mine = sqdist(xi, cb + (int64_t)l * d, d);
      int64_t j = nearest(xi, cb, k, d, &near);
      double cl = sqnorm(cb + (int64_t)l * d, d), cj = sqnorm(cb + j * d, d);
      double tol = 2.0 * u * (2.0 * sqnorm(xi, d) + 4.0 * (cl > cj ? cl : cj)) + 1e-300;
      double ratio = (mine - near) / tol;
      if (ratio > out->worst) out->worst = ratio;
      if (ratio > 1.0) out->wrong++;
    }
  }
}
