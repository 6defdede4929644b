/* fp64 oracle for GPU tests (see oracle.h). */
#include "oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static void normalise(double *v, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) s += v[j] * v[j];
  if (s > 0.0)
    for (int64_t j = 0; j < d; j++) v[j] /= sqrt(s);
}

void oracle_init(oracle_problem *o, const fkm_points *p, int64_t k, fkm_metric m, fkm_dtype t,
                 fkm_precision precision) {
  o->b = p->batches, o->n = p->n, o->d = p->d, o->k = k, o->metric = m, o->dtype = t;
  o->precision = precision;
  size_t count = (size_t)(o->b * o->n * o->d);
  o->x = malloc(count * sizeof(double));
  for (size_t i = 0; i < count; i++) o->x[i] = fkm__load_element(p->data, p->dtype, i);
  if (m == FKM_METRIC_COSINE) /* the GPU normalises the input, then rounds */
    for (int64_t r = 0; r < o->b * o->n; r++) normalise(o->x + r * o->d, o->d);
  for (size_t i = 0; i < count; i++) o->x[i] = fkm__round_to_dtype(o->x[i], t);
}

void oracle_free(oracle_problem *o) { free(o->x); }

double oracle_unit_roundoff(fkm_dtype t, fkm_precision precision) {
  if (t == FKM_DTYPE_FP16) return 0x1p-11;
  if (t == FKM_DTYPE_BF16) return 0x1p-8;
  return precision == FKM_PRECISION_TF32 ? 0x1p-10 : 0x1p-22; /* TF32 wgmma truncates */
}

/* Score (lower is nearer) of point x against centroid c, and its error bound. */
static double score(const oracle_problem *o, const double *x, const float *c, double *bound) {
  double dot = 0.0, absdot = 0.0, cn = 0.0;
  for (int64_t j = 0; j < o->d; j++) {
    dot += x[j] * c[j];
    absdot += fabs(x[j] * c[j]);
    cn += (double)c[j] * c[j];
  }
  double u = oracle_unit_roundoff(o->dtype, o->precision), acc = (double)o->d * 0x1p-24;
  if (o->metric != FKM_METRIC_L2) {
    *bound = 2.0 * (u + acc) * absdot + 1e-30;
    return -dot;
  }
  *bound = 2.0 * (2.0 * (u + acc) * absdot + (2.0 * u + acc) * cn) + 1e-30;
  return cn - 2.0 * dot;
}

static int label_ok(const oracle_problem *o, const double *x, const float *cb, int32_t label,
                    int *differs) {
  double best = INFINITY, best_bound = 0.0;
  int64_t arg = 0;
  for (int64_t c = 0; c < o->k; c++) {
    double bound, s = score(o, x, cb + c * o->d, &bound);
    if (s < best) best = s, best_bound = bound, arg = c;
  }
  if (label < 0 || label >= o->k) return 0;
  double bound, s = score(o, x, cb + (int64_t)label * o->d, &bound);
  *differs = label != arg;
  return s - best <= bound + best_bound;
}

int64_t oracle_check_labels(const oracle_problem *o, const float *c, const int32_t *labels,
                            int64_t stride, int64_t *near_ties) {
  int64_t bad = 0;
  *near_ties = 0;
  for (int64_t b = 0; b < o->b; b++)
    for (int64_t i = 0; i < o->n; i += stride) {
      int differs = 0;
      int32_t l = labels[b * o->n + i];
      if (!label_ok(o, o->x + (b * o->n + i) * o->d, c + b * o->k * o->d, l, &differs)) {
        if (bad++ < 5)
          fprintf(stderr, "  label rejected: batch %lld point %lld label %d\n", (long long)b,
                  (long long)i, l);
      } else {
        *near_ties += differs;
      }
    }
  return bad;
}

void oracle_means(const oracle_problem *o, const int32_t *labels, const float *prev, double *out) {
  int64_t rows = o->b * o->k;
  int64_t *count = calloc((size_t)rows, sizeof(int64_t));
  for (int64_t i = 0; i < rows * o->d; i++) out[i] = 0.0;
  for (int64_t b = 0; b < o->b; b++)
    for (int64_t i = 0; i < o->n; i++) {
      int64_t r = b * o->k + labels[b * o->n + i];
      count[r]++;
      for (int64_t j = 0; j < o->d; j++) out[r * o->d + j] += o->x[(b * o->n + i) * o->d + j];
    }
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < o->d; j++)
      out[r * o->d + j] = count[r] ? out[r * o->d + j] / (double)count[r] : prev[r * o->d + j];
    if (count[r] && o->metric != FKM_METRIC_L2) normalise(out + r * o->d, o->d);
  }
  free(count);
}

void oracle_inertia(const oracle_problem *o, const float *c, const int32_t *labels,
                    double *inertia) {
  for (int64_t b = 0; b < o->b; b++) {
    double t = 0.0;
    for (int64_t i = 0; i < o->n; i++) {
      const double *x = o->x + (b * o->n + i) * o->d;
      const float *cr = c + (b * o->k + labels[b * o->n + i]) * o->d;
      for (int64_t j = 0; j < o->d; j++) t += (x[j] - cr[j]) * (x[j] - cr[j]);
    }
    inertia[b] = t;
  }
}
