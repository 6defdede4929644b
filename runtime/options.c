/* Option defaults and argument checks shared by every entry point. */
#include "cpu_internal.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void fkm_options_init(fkm_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->metric = FKM_METRIC_L2;
  o->dtype = FKM_DTYPE_AUTO;
  o->init = FKM_INIT_RANDOM;
  o->max_iter = 300;
  o->tol = 1e-4;
  o->engine = FKM_ENGINE_AUTO;
  o->deterministic = 1;
  o->n_init = 1;
  o->check_every = 8;
}

static int storage_dtype_ok(fkm_dtype t) { return t >= FKM_DTYPE_FP16 && t <= FKM_DTYPE_FP64; }

static fkm_status check_points(fkm_ctx *ctx, const fkm_points *p) {
  if (!p || !p->data) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "points: NULL");
  if (!storage_dtype_ok(p->dtype))
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "points: dtype %d is not fp16, bf16, fp32 or fp64",
                      (int)p->dtype);
  if (p->batches < 1 || p->n < 1 || p->d < 1)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG,
                      "points: shape (B=%lld, N=%lld, D=%lld) must be positive",
                      (long long)p->batches, (long long)p->n, (long long)p->d);
  double elems = (double)p->batches * (double)p->n * (double)p->d;
  if (elems * 8.0 > 9.0e18)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "points: B×N×D = %.3g elements is too large", elems);
  return FKM_OK;
}

/* o against p. any_k: K may exceed N (predict, which labels points against any centroids; a
 * rank's shard of a distributed fit, whose K is checked against all ranks' points). */
static fkm_status check_options(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                                int any_k) {
  if (!o) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: NULL");
  if (o->k < 1 || (o->k > p->n && !any_k))
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: k = %lld must be in [1, N = %lld]",
                      (long long)o->k, (long long)p->n);
  if ((unsigned)o->metric > FKM_METRIC_DOT)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: unknown metric %d", (int)o->metric);
  if (o->dtype != FKM_DTYPE_AUTO && !storage_dtype_ok(o->dtype))
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: unknown dtype %d", (int)o->dtype);
  if ((unsigned)o->precision > FKM_PRECISION_TF32)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: unknown precision %d", (int)o->precision);
  if ((unsigned)o->init > FKM_INIT_GIVEN)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: unknown init %d", (int)o->init);
  if ((unsigned)o->empty > FKM_EMPTY_FARTHEST)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: unknown empty-cluster policy %d",
                      (int)o->empty);
  if ((unsigned)o->engine > FKM_ENGINE_CPU)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: unknown engine %d", (int)o->engine);
  if (o->max_iter < 0)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: max_iter = %d is negative", o->max_iter);
  if (o->n_init < 1)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: n_init = %d must be ≥ 1", o->n_init);
  if (isnan(o->tol)) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: tol is NaN");
  if (o->device < 0)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: device = %d is negative", o->device);
  if (o->tune < 0 || o->tune > 2)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: tune = %d must be 0, 1 or 2", o->tune);
  return FKM_OK;
}

/* Host sample weights [B][N]: finite (FKM_ERR_NONFINITE), ≥ 0, and at least K of them positive in
 * each batch, so that every init and the farthest policy find K points to seed from. */
static fkm_status check_weights(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o) {
  const float *w = o->sample_weight;
  for (int64_t b = 0; b < p->batches; b++) {
    int64_t positive = 0;
    for (int64_t i = b * p->n; i < (b + 1) * p->n; i++) {
      if (!isfinite(w[i]))
        return fkm__error(ctx, FKM_ERR_NONFINITE, "sample_weight: element %lld is NaN or Inf",
                          (long long)i);
      if (w[i] < 0.0f)
        return fkm__error(ctx, FKM_ERR_INVALID_ARG, "sample_weight: element %lld = %g is negative",
                          (long long)i, (double)w[i]);
      positive += w[i] > 0.0f;
    }
    if (positive < o->k && !o->comm) /* a rank's shard: checked against all ranks' points */
      return fkm__error(ctx, FKM_ERR_INVALID_ARG,
                        "sample_weight: batch %lld has %lld points of positive weight, fewer than "
                        "k = %lld",
                        (long long)b, (long long)positive, (long long)o->k);
  }
  return FKM_OK;
}

/* The device list of a fit over several GPUs of this process: distinct, non-negative. */
static fkm_status check_devices(fkm_ctx *ctx, const fkm_options *o) {
  if (o->num_devices < 0)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: num_devices = %d is negative", o->num_devices);
  if (o->num_devices <= 1) return FKM_OK;
  if (!o->devices)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: num_devices = %d but devices is NULL",
                      o->num_devices);
  if (o->comm)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: give comm or devices, not both");
  for (int i = 0; i < o->num_devices; i++) {
    if (o->devices[i] < 0)
      return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: devices[%d] = %d is negative", i,
                        o->devices[i]);
    for (int j = 0; j < i; j++)
      if (o->devices[j] == o->devices[i])
        return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: device %d is listed twice",
                          o->devices[i]);
  }
  return FKM_OK;
}

/* What a fit over several GPUs (comm, or num_devices > 1) takes. */
static fkm_status check_group(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o) {
  fkm_status s = check_devices(ctx, o);
  if (s != FKM_OK || (!o->comm && o->num_devices <= 1)) return s;
  if (o->engine == FKM_ENGINE_CPU)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: several GPUs need the GPU engine");
  if (o->comm && o->device != fkm_comm_device(o->comm))
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: device %d is not the comm's device %d",
                      o->device, fkm_comm_device(o->comm));
  if (o->num_devices > 1 && p->batches > 1)
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED,
                      "options: several devices in one call take B = 1 (got B = %lld); run one "
                      "rank per device with opts->comm for batches",
                      (long long)p->batches);
  const char *refused = o->init == FKM_INIT_KMEANSPP       ? "k-means++ init"
                        : o->empty == FKM_EMPTY_FARTHEST    ? "the farthest empty-cluster policy"
                        : o->tol_relative && o->tol > 0     ? "tol_relative (give an absolute tol)"
                        : o->tune                           ? "tune (tune the shapes beforehand)"
                                                            : NULL;
  if (refused)
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "options: %s is not supported over several GPUs",
                      refused);
  return FKM_OK;
}

static size_t centroid_count(const fkm_points *p, const fkm_options *o) {
  return (size_t)p->batches * (size_t)o->k * (size_t)p->d;
}

/* The dtype that host values of these shapes are rounded to, for the range check: the compute
 * dtype, fp64 taken as fp32 unless the engine is the CPU's (the GPU computes fp64 input in fp32);
 * AUTO (NaN and Inf only) under cosine, whose rows are scaled to unit length first. */
static fkm_dtype rounded_to(const fkm_points *p, const fkm_options *o) {
  if (o->metric == FKM_METRIC_COSINE) return FKM_DTYPE_AUTO;
  return fkm__compute_dtype(p, o, o->engine != FKM_ENGINE_CPU);
}

/* D when the GPU may run these values through fp32 sums over D columns (distances, norms, shifts:
 * 5·D·x² must stay finite), else 0: every engine but the CPU's counts as the GPU, as in
 * rounded_to (fp16 rows never come near the bound). */
static int64_t squared_columns(const fkm_points *p, const fkm_options *o) {
  return o->engine != FKM_ENGINE_CPU ? p->d : 0;
}

/* The host points hold no NaN or Inf, nothing the compute dtype rounds to Inf, and nothing whose
 * squares overflow the GPU's fp32 sums (cosine rows are scaled to unit length in fp64 first). */
static fkm_status check_point_values(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o) {
  return fkm__check_finite(ctx, p->data, p->dtype, (size_t)(p->batches * p->n * p->d),
                           rounded_to(p, o),
                           o->metric == FKM_METRIC_COSINE ? 0 : squared_columns(p, o), "points");
}

/* Host centroids c [B][K][D] (fp32) as check_point_values checks points; unit: the engines scale
 * their rows to unit length before rounding them (no rounding limit then, but the GPU scales them
 * with fp32 norms, so the squares' bound stays); `what` names them. */
static fkm_status check_centroid_values(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                                        const float *c, int unit, const char *what) {
  return fkm__check_finite(ctx, c, FKM_DTYPE_FP32, centroid_count(p, o),
                           unit ? FKM_DTYPE_AUTO : rounded_to(p, o), squared_columns(p, o), what);
}

fkm_status fkm__check_shapes(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o) {
  fkm_status s = check_points(ctx, p);
  return s == FKM_OK ? check_options(ctx, p, o, o && o->comm) : s;
}

fkm_status fkm__check_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                          const fkm_result *r, int host) {
  fkm_status s = fkm__check_shapes(ctx, p, o);
  if (s == FKM_OK) s = check_group(ctx, p, o);
  if (s == FKM_OK && (!r || !r->centroids))
    s = fkm__error(ctx, FKM_ERR_INVALID_ARG, "result: centroids buffer is NULL");
  if (s == FKM_OK && o->init == FKM_INIT_GIVEN && !o->init_centroids)
    s = fkm__error(ctx, FKM_ERR_INVALID_ARG, "options: init = given needs init_centroids");
  if (s == FKM_OK && o->init == FKM_INIT_GIVEN && o->n_init > 1)
    s = fkm__error(ctx, FKM_ERR_INVALID_ARG,
                   "options: n_init = %d with init = given would repeat one fit; use n_init = 1",
                   o->n_init);
  if (s == FKM_OK && host) s = check_point_values(ctx, p, o);
  if (s == FKM_OK && host && o->init == FKM_INIT_GIVEN)
    s = check_centroid_values(ctx, p, o, o->init_centroids, o->metric != FKM_METRIC_L2,
                              "init_centroids");
  if (s == FKM_OK && host && o->sample_weight) s = check_weights(ctx, p, o);
  return s;
}

fkm_status fkm__check_tune(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o) {
  fkm_status s = fkm__check_shapes(ctx, p, o);
  if (s == FKM_OK && o->engine == FKM_ENGINE_CPU)
    s = fkm__error(ctx, FKM_ERR_INVALID_ARG, "tune: tuning measures GPU kernels (engine is cpu)");
  if (s == FKM_OK && o->dtype == FKM_DTYPE_FP64)
    s = fkm__error(ctx, FKM_ERR_UNSUPPORTED, "tune: the GPU engine does not compute in fp64");
  if (s == FKM_OK) s = check_point_values(ctx, p, o);
  return s;
}

fkm_status fkm__check_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                              const fkm_options *o, const int32_t *labels, int host) {
  fkm_status s = check_points(ctx, p);
  if (s == FKM_OK) s = check_options(ctx, p, o, 1);
  if (s == FKM_OK && (!centroids || !labels))
    s = fkm__error(ctx, FKM_ERR_INVALID_ARG, "predict: centroids and labels must not be NULL");
  if (s == FKM_OK && host) s = check_point_values(ctx, p, o);
  if (s == FKM_OK && host)
    s = check_centroid_values(ctx, p, o, centroids, o->metric == FKM_METRIC_COSINE, "centroids");
  return s;
}

/* Mean over batches and features of the per-feature variance (host points only). */
static double mean_feature_variance(const fkm_points *p) {
  double total = 0.0;
  for (int64_t b = 0; b < p->batches; b++) {
    for (int64_t j = 0; j < p->d; j++) {
      double mean = 0.0, m2 = 0.0;
      for (int64_t i = 0; i < p->n; i++) { /* Welford: stable for large N */
        double x = fkm__load_element(p->data, p->dtype, (size_t)((b * p->n + i) * p->d + j));
        double delta = x - mean;
        mean += delta / (double)(i + 1);
        m2 += delta * (x - mean);
      }
      total += m2 / (double)p->n;
    }
  }
  return total / (double)(p->batches * p->d);
}

/* The same of the points' unit rows (zero rows stay zero), whose spread the unit centroids of
 * cosine and dot move in: per batch (mean ‖u‖² − ‖mean u‖²) / D. row and mu hold D values. */
static double unit_row_variance(const fkm_points *p, double *row, double *mu) {
  double total = 0.0;
  for (int64_t b = 0; b < p->batches; b++) {
    double sq = 0.0, mu2 = 0.0;
    memset(mu, 0, (size_t)p->d * sizeof(double));
    for (int64_t i = 0; i < p->n; i++) {
      for (int64_t j = 0; j < p->d; j++)
        row[j] = fkm__load_element(p->data, p->dtype, (size_t)((b * p->n + i) * p->d + j));
      fkm__cpu_normalise(row, 1, p->d);
      for (int64_t j = 0; j < p->d; j++) mu[j] += row[j], sq += row[j] * row[j];
    }
    for (int64_t j = 0; j < p->d; j++) mu2 += (mu[j] / (double)p->n) * (mu[j] / (double)p->n);
    total += fmax(sq / (double)p->n - mu2, 0.0) / (double)p->d;
  }
  return total / (double)p->batches;
}

/* The variance tol_relative scales tol by: the raw points' for l2, their unit rows' for cosine
 * and dot (so that it does not change with the data's scale, as their shifts do not). The unit
 * rows' needs 2·D doubles; without them (out of memory) the raw points' is taken. */
static double tol_variance(const fkm_points *p, const fkm_options *o) {
  double *buf = o->metric == FKM_METRIC_L2 ? NULL : malloc(2 * (size_t)p->d * sizeof(double));
  double v = buf ? unit_row_variance(p, buf, buf + p->d) : mean_feature_variance(p);
  free(buf);
  return v;
}

double fkm__absolute_tol(const fkm_points *p, const fkm_options *o) {
  return o->tol_relative && o->tol > 0 ? o->tol * tol_variance(p, o) : o->tol;
}
