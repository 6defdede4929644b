/* CPU reference engine (SPEC §2): hand-computed cases, properties on fresh random and blob data
 * (labels are the nearest returned centroid, inertia matches, centroids are means), empty-cluster
 * policies, stopping, random init, determinism and the iteration callback. */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "internal.h"
#include "support.h"

/* Describes the case being checked, for failure messages. */
static char g_case[200];

/* ---- data ------------------------------------------------------------------------------------ */

/* v [count] stored as dtype t; caller frees. */
static void *to_storage(const double *v, size_t count, fkm_dtype t) {
  void *out = malloc(count * fkm__dtype_size(t));
  for (size_t i = 0; i < count; i++) {
    if (t == FKM_DTYPE_FP16) ((uint16_t *)out)[i] = fkm__float_to_half((float)v[i]);
    if (t == FKM_DTYPE_BF16) ((uint16_t *)out)[i] = fkm__float_to_bf16((float)v[i]);
    if (t == FKM_DTYPE_FP32) ((float *)out)[i] = (float)v[i];
    if (t == FKM_DTYPE_FP64) ((double *)out)[i] = v[i];
  }
  return out;
}

/* B×N×D values: uniform in [-1, 1) (kind 0) or blobs around k centres (kind 1); caller frees. */
static double *make_values(uint64_t *st, int kind, int64_t b, int64_t n, int64_t d, int64_t k) {
  size_t count = (size_t)(b * n * d);
  double *v = malloc(count * sizeof(double));
  if (kind == 0) {
    for (size_t i = 0; i < count; i++) v[i] = fkm_test_uniform(st, -1.0, 1.0);
  } else {
    float *f = fkm_test_blobs(st, b, n, d, k, 1.0);
    for (size_t i = 0; i < count; i++) v[i] = f[i];
    free(f);
  }
  return v;
}

static void normalise_rows(double *v, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; r++) {
    double ss = 0.0;
    for (int64_t j = 0; j < d; j++) ss += v[r * d + j] * v[r * d + j];
    for (int64_t j = 0; j < d && ss > 0.0; j++) v[r * d + j] /= sqrt(ss);
  }
}

/* The points as the engine should hold them: for cosine normalised from the input values, then
 * every element rounded once to compute dtype t. */
static double *ref_points(const fkm_points *p, fkm_dtype t, fkm_metric m) {
  size_t count = (size_t)(p->batches * p->n * p->d);
  double *x = malloc(count * sizeof(double));
  for (size_t i = 0; i < count; i++) x[i] = fkm__load_element(p->data, p->dtype, i);
  if (m == FKM_METRIC_COSINE) normalise_rows(x, p->batches * p->n, p->d);
  for (size_t i = 0; i < count; i++) x[i] = fkm__round_to_dtype(x[i], t);
  return x;
}

/* fp32 centroids widened, normalised when unit is set; caller frees. */
static double *widen(const float *c, int64_t rows, int64_t d, int unit) {
  double *w = malloc((size_t)(rows * d) * sizeof(double));
  for (int64_t i = 0; i < rows * d; i++) w[i] = c[i];
  if (unit) normalise_rows(w, rows, d);
  return w;
}

/* Returned fp32 centroids as predict uses them (what labels are computed against): normalised
 * for cosine, as they are for l2 and dot. */
static double *ref_centroids(const float *c, int64_t rows, int64_t d, fkm_metric m) {
  return widen(c, rows, d, m == FKM_METRIC_COSINE);
}

/* ---- running fit ------------------------------------------------------------------------------
 */

static void assert_ok(const fkm_test_fit *f) {
  ck_assert_msg(f->status == FKM_OK, "%s: %s (%s)", g_case, fkm_status_name(f->status), f->err);
  ck_assert_int_eq(f->r.engine, FKM_ENGINE_CPU);
  ck_assert_double_eq(f->r.ms_compile, 0.0);
  ck_assert(f->r.ms_init >= 0.0 && f->r.ms_iterations >= 0.0);
  ck_assert(f->r.ms_assign >= 0.0 && f->r.ms_update >= 0.0);
  ck_assert(f->r.ms_assign + f->r.ms_update <= f->r.ms_iterations + 1e-6);
}

static void cpu_options(fkm_options *o, int64_t k, fkm_metric m) {
  fkm_options_init(o);
  o->k = k;
  o->metric = m;
  o->engine = FKM_ENGINE_CPU;
}

/* ---- reference checks -------------------------------------------------------------------------
 */

/* Score of x against centroid c (lower is nearer): squared distance for l2, −x·c otherwise. */
static double score(const double *x, const double *c, int64_t d, fkm_metric m) {
  double e = 0.0;
  for (int64_t t = 0; t < d; t++)
    e += m == FKM_METRIC_L2 ? (x[t] - c[t]) * (x[t] - c[t]) : -x[t] * c[t];
  return e;
}

/* Every label is the nearest of the k centroids c (fp64, explicit distances; a different label is
 * accepted only within rounding of the candidates' scores). */
static void check_labels(const double *x, const double *c, const int32_t *labels, int64_t b,
                         int64_t n, int64_t d, int64_t k, fkm_metric m) {
  for (int64_t bi = 0; bi < b; bi++) {
    for (int64_t i = 0; i < n; i++) {
      const double *xi = x + (bi * n + i) * d;
      int32_t l = labels[bi * n + i];
      ck_assert_msg(l >= 0 && l < k, "%s: label %d out of range", g_case, l);
      double best = INFINITY, mine = 0.0, scale = 0.0;
      for (int64_t j = 0; j < k; j++) {
        const double *cj = c + (bi * k + j) * d;
        double e = score(xi, cj, d, m), xx = 0.0, cc = 0.0;
        for (int64_t t = 0; t < d; t++) {
          xx += xi[t] * xi[t];
          cc += cj[t] * cj[t];
        }
        scale = fmax(scale, m == FKM_METRIC_L2 ? xx + cc : sqrt(xx * cc));
        best = fmin(best, e);
        if (j == l) mine = e;
      }
      ck_assert_msg(mine <= best + 1e-13 * (double)(d + 1) * scale,
                    "%s: batch %lld point %lld label %d scores %.17g, best %.17g", g_case,
                    (long long)bi, (long long)i, l, mine, best);
    }
  }
}

static double ref_inertia(const double *x, const double *c, const int32_t *labels, int64_t bi,
                          int64_t n, int64_t d, int64_t k) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double *xi = x + (bi * n + i) * d, *ci = c + (bi * k + labels[bi * n + i]) * d;
    for (int64_t t = 0; t < d; t++) s += (xi[t] - ci[t]) * (xi[t] - ci[t]);
  }
  return s;
}

static void check_inertia(const double *x, const double *c, const int32_t *labels,
                          const double *inertia, int64_t b, int64_t n, int64_t d, int64_t k) {
  for (int64_t bi = 0; bi < b; bi++) {
    double want = ref_inertia(x, c, labels, bi, n, d, k);
    ck_assert_msg(fabs(inertia[bi] - want) <= 1e-9 * want + 1e-300,
                  "%s: batch %lld inertia %.17g, recomputed %.17g", g_case, (long long)bi,
                  inertia[bi], want);
  }
}

static void check_unit_rows(const float *c, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; r++) {
    double ss = 0.0;
    for (int64_t t = 0; t < d; t++) ss += (double)c[r * d + t] * c[r * d + t];
    ck_assert_msg(fabs(sqrt(ss) - 1.0) < 1e-6, "%s: centroid %lld has norm %.9g", g_case,
                  (long long)r, sqrt(ss));
  }
}

/* Whether some point of batch bi has two candidates within 1e-6 relative of each other, where
 * rounding the returned centroids to fp32 may have moved it to another cluster. */
static int has_near_tie(const double *x, const double *c, int64_t bi, int64_t n, int64_t d,
                        int64_t k, fkm_metric m) {
  for (int64_t i = 0; i < n; i++) {
    double best = INFINITY, second = INFINITY;
    for (int64_t j = 0; j < k; j++) {
      double e = score(x + (bi * n + i) * d, c + (bi * k + j) * d, d, m);
      second = fmin(second, fmax(best, e));
      best = fmin(best, e);
    }
    if (second - best <= 1e-6 * (1.0 + fabs(best))) return 1;
  }
  return 0;
}

/* After convergence each non-empty cluster's centroid is the mean of its points (re-normalised
 * for cosine and dot), unless a near tie let the final assignment move a point. */
static void check_means(const double *x, const float *c, const int32_t *labels, int64_t b,
                        int64_t n, int64_t d, int64_t k, fkm_metric m) {
  double *mean = malloc((size_t)(k * d) * sizeof(double));
  int64_t *count = malloc((size_t)k * sizeof(int64_t));
  double *wide = ref_centroids(c, b * k, d, m);
  for (int64_t bi = 0; bi < b; bi++) {
    if (has_near_tie(x, wide, bi, n, d, k, m)) continue;
    memset(mean, 0, (size_t)(k * d) * sizeof(double));
    memset(count, 0, (size_t)k * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
      int32_t l = labels[bi * n + i];
      count[l]++;
      for (int64_t t = 0; t < d; t++) mean[l * d + t] += x[(bi * n + i) * d + t];
    }
    for (int64_t j = 0; j < k; j++) {
      if (count[j] == 0) continue;
      for (int64_t t = 0; t < d; t++) mean[j * d + t] /= (double)count[j];
      if (m != FKM_METRIC_L2) normalise_rows(mean + j * d, 1, d);
      for (int64_t t = 0; t < d; t++) {
        double got = c[(bi * k + j) * d + t], want = mean[j * d + t];
        ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-6,
                      "%s: centroid %lld,%lld: %.9g, mean %.9g", g_case, (long long)bi,
                      (long long)j, got, want);
      }
    }
  }
  free(mean);
  free(count);
  free(wide);
}

/* ---- per-iteration reports --------------------------------------------------------------------
 */

#define MAX_REPORTS 512

typedef struct {
  int count;
  int cancel_at; /* return non-zero at this iteration (0: never) */
  fkm_iter_report rep[MAX_REPORTS];
} report_log;

static int record_report(const fkm_iter_report *r, void *user) {
  report_log *log = user;
  if (log->count < MAX_REPORTS) log->rep[log->count] = *r;
  log->count++;
  return log->cancel_at != 0 && r->iteration == log->cancel_at;
}

/* ---- hand-computed cases ----------------------------------------------------------------------
 */

static const fkm_dtype all_dtypes[] = {FKM_DTYPE_FP16, FKM_DTYPE_BF16, FKM_DTYPE_FP32,
                                       FKM_DTYPE_FP64};

/* {0, 1, 10, 11}, K = 2, given {0, 1}: {0, 22/3} → {0.5, 10.5} → unchanged: 3 iterations. */
START_TEST(tiny_1d_l2) {
  const double v[] = {0, 1, 10, 11};
  const float init[] = {0, 1};
  for (int t = 0; t < 4; t++) {
    snprintf(g_case, sizeof g_case, "tiny l2 %s", fkm__dtype_name(all_dtypes[t]));
    void *data = to_storage(v, 4, all_dtypes[t]);
    fkm_points p = {data, all_dtypes[t], 1, 4, 1};
    fkm_options o;
    cpu_options(&o, 2, FKM_METRIC_L2);
    o.init = FKM_INIT_GIVEN;
    o.init_centroids = init;
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    ck_assert_float_eq(f.c[0], 0.5f);
    ck_assert_float_eq(f.c[1], 10.5f);
    ck_assert_int_eq(f.labels[0], 0);
    ck_assert_int_eq(f.labels[1], 0);
    ck_assert_int_eq(f.labels[2], 1);
    ck_assert_int_eq(f.labels[3], 1);
    ck_assert_double_eq(f.inertia[0], 1.0);
    ck_assert_int_eq(f.r.iterations, 3);
    fkm_test_fit_free(&f);
    free(data);
  }
}
END_TEST

/* Compute dtype fp16 rounds 1.0003 to 1 before anything else; fp32 keeps it. */
START_TEST(points_rounded_to_compute_dtype) {
  const float x[] = {0.0f, 1.0003f, 10.0f, 11.0f}, init[] = {0, 1};
  fkm_points p = {x, FKM_DTYPE_FP32, 1, 4, 1};
  fkm_options o;
  cpu_options(&o, 2, FKM_METRIC_L2);
  o.init = FKM_INIT_GIVEN;
  o.init_centroids = init;
  o.dtype = FKM_DTYPE_FP16;
  fkm_test_fit f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  ck_assert_float_eq(f.c[0], 0.5f);
  ck_assert_double_eq(f.inertia[0], 1.0);
  fkm_test_fit_free(&f);
  o.dtype = FKM_DTYPE_AUTO;
  f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  ck_assert_float_eq(f.c[0], (float)((double)1.0003f / 2.0));
  fkm_test_fit_free(&f);
}
END_TEST

/* Points (2,0), (4,3), (0,0.5), (-3,4) with given {(1,0.1), (0.1,1)}. */
static const float quad[] = {2, 0, 4, 3, 0, 0.5f, -3, 4}, quad_init[] = {1, 0.1f, 0.1f, 1};

static fkm_test_fit run_quad(fkm_metric m) {
  fkm_points p = {quad, FKM_DTYPE_FP32, 1, 4, 2};
  fkm_options o;
  cpu_options(&o, 2, m);
  o.init = FKM_INIT_GIVEN;
  o.init_centroids = quad_init;
  fkm_test_fit f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  ck_assert_int_eq(f.labels[0], 0);
  ck_assert_int_eq(f.labels[1], 0);
  ck_assert_int_eq(f.labels[2], 1);
  ck_assert_int_eq(f.labels[3], 1);
  ck_assert_int_eq(f.r.iterations, 2);
  return f;
}

static void assert_centroids_near(const float *c, const double *want, int count) {
  for (int i = 0; i < count; i++)
    ck_assert_msg(fabs(c[i] - want[i]) < 1e-6, "%s: centroid element %d: %.9g, want %.9g", g_case,
                  i, c[i], want[i]);
}

/* Cosine: normalised points (1,0), (.8,.6), (0,1), (-.6,.8); means (.9,.3) and (-.3,.9)
 * re-normalised to (3,1)/√10 and (-1,3)/√10; every point has dot 3/√10 with its centroid. */
START_TEST(tiny_cosine) {
  snprintf(g_case, sizeof g_case, "tiny cosine");
  fkm_test_fit f = run_quad(FKM_METRIC_COSINE);
  double r = sqrt(10.0), want[] = {3 / r, 1 / r, -1 / r, 3 / r};
  assert_centroids_near(f.c, want, 4);
  ck_assert_double_eq_tol(f.inertia[0], 4.0 * (2.0 - 6.0 / r), 1e-6);
  fkm_test_fit_free(&f);
}
END_TEST

/* Dot: raw points; means (3,1.5) and (-1.5,2.25) re-normalised to (2,1)/√5 and (-2,3)/√13. */
START_TEST(tiny_dot) {
  snprintf(g_case, sizeof g_case, "tiny dot");
  fkm_test_fit f = run_quad(FKM_METRIC_DOT);
  double want[] = {2 / sqrt(5.0), 1 / sqrt(5.0), -2 / sqrt(13.0), 3 / sqrt(13.0)};
  assert_centroids_near(f.c, want, 4);
  double inertia = 0.0;
  for (int i = 0; i < 4; i++) {
    const double *c = want + (i < 2 ? 0 : 2);
    inertia += pow(quad[2 * i] - c[0], 2) + pow(quad[2 * i + 1] - c[1], 2);
  }
  ck_assert_double_eq_tol(f.inertia[0], inertia, 1e-6 * inertia);
  fkm_test_fit_free(&f);
}
END_TEST

/* Identical candidates: the lower centroid index wins, for every metric. */
START_TEST(ties_go_to_lowest_index) {
  const float l2_x[] = {0, 1, 5}, l2_c[] = {2, 2, 6};
  const float dot_x[] = {1, 2, -3}, dot_c[] = {2, 2, -1};
  for (int m = 0; m < 3; m++) {
    snprintf(g_case, sizeof g_case, "ties %s", fkm__metric_name((fkm_metric)m));
    fkm_points p = {m == 0 ? l2_x : dot_x, FKM_DTYPE_FP32, 1, 3, 1};
    fkm_options o;
    cpu_options(&o, 3, (fkm_metric)m);
    o.init = FKM_INIT_GIVEN;
    o.init_centroids = m == 0 ? l2_c : dot_c;
    o.max_iter = 0;
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    ck_assert_int_eq(f.labels[0], 0);
    ck_assert_int_eq(f.labels[1], 0);
    ck_assert_int_eq(f.labels[2], 2);
    fkm_test_fit_free(&f);
  }
}
END_TEST

/* Cosine scales (3, 4) to unit length in fp64 and then rounds once: fp16 holds (0.6, 0.8) as
 * (1229, 1638)/2048 (rounding first would keep (3, 4) and give (0.6, 0.8) in fp64). A zero row
 * stays zero; dot and l2 only round. */
START_TEST(cosine_points_normalised_then_rounded) {
  const float v[] = {3, 4, 0, 0};
  fkm_points p = {v, FKM_DTYPE_FP32, 1, 2, 2};
  for (int m = 0; m < 3; m++) {
    snprintf(g_case, sizeof g_case, "point preparation %s", fkm__metric_name((fkm_metric)m));
    fkm_options o;
    cpu_options(&o, 1, (fkm_metric)m);
    o.dtype = FKM_DTYPE_FP16;
    fkm_ctx *ctx;
    ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
    fkm__cpu_points pts;
    ck_assert_int_eq(fkm__cpu_points_load(ctx, &p, &o, &pts), FKM_OK);
    const double cos_want[] = {1229.0 / 2048, 1638.0 / 2048, 0, 0}, raw[] = {3, 4, 0, 0};
    for (int i = 0; i < 4; i++)
      ck_assert_double_eq(pts.x[i], m == FKM_METRIC_COSINE ? cos_want[i] : raw[i]);
    fkm__cpu_points_free(&pts);
    fkm_ctx_free(ctx);
  }
}
END_TEST

/* The rounded cosine point is used as it is: a fit of (3, 4) alone in fp16 returns its held value
 * (1229, 1638)/2048 re-normalised, (1229, 1638)/√4193485, not (0.6, 0.8); against the centroids
 * (3, 4) and (1229, 1638) its label is 1 in fp16 (exactly its direction) but 0 in fp32. */
START_TEST(cosine_fp16_uses_rounded_points) {
  const float v[] = {3, 4}, c[] = {3, 4, 1229, 1638};
  fkm_points p = {v, FKM_DTYPE_FP32, 1, 1, 2};
  snprintf(g_case, sizeof g_case, "cosine fp16 fit");
  fkm_options o;
  cpu_options(&o, 1, FKM_METRIC_COSINE);
  o.dtype = FKM_DTYPE_FP16;
  fkm_test_fit f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  ck_assert_float_eq(f.c[0], (float)(1229.0 / sqrt(4193485.0)));
  ck_assert_float_eq(f.c[1], (float)(1638.0 / sqrt(4193485.0)));
  ck_assert_float_ne(f.c[0], 0.6f);
  fkm_test_fit_free(&f);
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  const float v2[] = {3, 4, 0, -1}; /* K ≤ N: a second point, its label not checked */
  fkm_points p2 = {v2, FKM_DTYPE_FP32, 1, 2, 2};
  o.k = 2;
  for (int fp16 = 0; fp16 < 2; fp16++) {
    o.dtype = fp16 ? FKM_DTYPE_FP16 : FKM_DTYPE_FP32;
    int32_t labels[2] = {-1, -1};
    ck_assert_int_eq(fkm_predict(ctx, &p2, c, &o, labels, NULL), FKM_OK);
    ck_assert_int_eq(labels[0], fp16);
  }
  fkm_ctx_free(ctx);
}
END_TEST

/* Points (1, 0.5), (0, 1); centroids (3, 0), (1, 1). Dot predict takes the centroids as they are:
 * scores 3, 1.5 and 0, 1 give labels {0, 1}, inertia 4 + 0.25 + 1 = 5.25 (normalised centroids
 * would give 1, 1.06: label 1). Cosine predict normalises them: labels {1, 1}. Dot fit scales the
 * given centroids to unit: (1, 0), (1, 1)/√2, labels {1, 1}, inertia (2.25 − 1.5·√2) + (2 − √2). */
START_TEST(dot_predict_uses_centroids_as_given) {
  const float v[] = {1, 0.5f, 0, 1}, c[] = {3, 0, 1, 1};
  fkm_points p = {v, FKM_DTYPE_FP32, 1, 2, 2};
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  for (int m = 1; m < 3; m++) {
    snprintf(g_case, sizeof g_case, "predict %s", fkm__metric_name((fkm_metric)m));
    fkm_options o;
    cpu_options(&o, 2, (fkm_metric)m);
    int32_t labels[2] = {-1, -1};
    double inertia = NAN;
    ck_assert_int_eq(fkm_predict(ctx, &p, c, &o, labels, &inertia), FKM_OK);
    ck_assert_int_eq(labels[0], m == FKM_METRIC_DOT ? 0 : 1);
    ck_assert_int_eq(labels[1], 1);
    if (m == FKM_METRIC_DOT) ck_assert_double_eq(inertia, 5.25);
  }
  fkm_ctx_free(ctx);
  snprintf(g_case, sizeof g_case, "dot fit, given centroids");
  fkm_options o;
  cpu_options(&o, 2, FKM_METRIC_DOT);
  o.init = FKM_INIT_GIVEN;
  o.init_centroids = c;
  o.max_iter = 0;
  fkm_test_fit f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  const double want[] = {1, 0, sqrt(0.5), sqrt(0.5)};
  assert_centroids_near(f.c, want, 4);
  ck_assert_int_eq(f.labels[0], 1);
  ck_assert_int_eq(f.labels[1], 1);
  ck_assert_double_eq_tol(f.inertia[0], 4.25 - 2.5 * sqrt(2.0), 1e-6);
  fkm_test_fit_free(&f);
}
END_TEST

/* ---- empty clusters (1-D, exact arithmetic) ---------------------------------------------------
 */

typedef struct {
  const char *name;
  int k;
  float init[4];
  fkm_empty_policy policy;
  float want_c[4];
  int32_t want_labels[5];
  double want_inertia;
  int want_iterations;
  int64_t want_empty[3];   /* reported per iteration */
  int64_t want_changed[3]; /* reported per iteration */
  double want_shift[3];    /* reported per iteration */
} empty_case;

static void run_empty_case(const float *x, int n, const empty_case *ec) {
  snprintf(g_case, sizeof g_case, "empty clusters: %s", ec->name);
  fkm_points p = {x, FKM_DTYPE_FP32, 1, n, 1};
  fkm_options o;
  cpu_options(&o, ec->k, FKM_METRIC_L2);
  o.init = FKM_INIT_GIVEN;
  o.init_centroids = ec->init;
  o.empty = ec->policy;
  report_log log = {0};
  o.on_iter = record_report;
  o.on_iter_user = &log;
  fkm_test_fit f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  ck_assert_int_eq(f.r.iterations, ec->want_iterations);
  ck_assert_int_eq(log.count, ec->want_iterations);
  for (int j = 0; j < ec->k; j++)
    ck_assert_msg(f.c[j] == ec->want_c[j], "%s: centroid %d = %g, want %g", g_case, j, f.c[j],
                  ec->want_c[j]);
  for (int i = 0; i < n; i++) ck_assert_int_eq(f.labels[i], ec->want_labels[i]);
  ck_assert_double_eq(f.inertia[0], ec->want_inertia);
  for (int i = 0; i < log.count; i++) {
    ck_assert_int_eq(log.rep[i].empty, ec->want_empty[i]);
    ck_assert_int_eq(log.rep[i].changed, ec->want_changed[i]);
    ck_assert_double_eq(log.rep[i].shift, ec->want_shift[i]);
  }
  fkm_test_fit_free(&f);
}

/* Points {0, 1, 10, 11, 12}; a far centroid gets no points. Farthest: the distances to the old
 * centroids are {.25, .25, 1, 0, 1}; the tie at 1 goes to point 2 (x = 10), which leaves cluster 1
 * (mean 11.5). With two empty clusters, the second takes point 4 (x = 12). */
START_TEST(empty_cluster_policies) {
  const float x[] = {0, 1, 10, 11, 12};
  const empty_case cases[] = {
      {.name = "keep",
       .k = 3,
       .init = {0.5f, 11, 1000},
       .policy = FKM_EMPTY_KEEP,
       .want_c = {0.5f, 11, 1000},
       .want_labels = {0, 0, 1, 1, 1},
       .want_inertia = 2.5,
       .want_iterations = 1,
       .want_empty = {1},
       .want_changed = {5},
       .want_shift = {0}},
      {.name = "farthest",
       .k = 3,
       .init = {0.5f, 11, 1000},
       .policy = FKM_EMPTY_FARTHEST,
       .want_c = {0.5f, 11.5f, 10},
       .want_labels = {0, 0, 2, 1, 1},
       .want_inertia = 1.0,
       .want_iterations = 2,
       .want_empty = {1, 0},
       .want_changed = {5, 1},
       .want_shift = {990, 0}},
      {.name = "keep two",
       .k = 4,
       .init = {0.5f, 11, 1000, 2000},
       .policy = FKM_EMPTY_KEEP,
       .want_c = {0.5f, 11, 1000, 2000},
       .want_labels = {0, 0, 1, 1, 1},
       .want_inertia = 2.5,
       .want_iterations = 1,
       .want_empty = {2},
       .want_changed = {5},
       .want_shift = {0}},
      {.name = "farthest two",
       .k = 4,
       .init = {0.5f, 11, 1000, 2000},
       .policy = FKM_EMPTY_FARTHEST,
       .want_c = {0.5f, 11, 10, 12},
       .want_labels = {0, 0, 2, 1, 3},
       .want_inertia = 0.5,
       .want_iterations = 2,
       .want_empty = {2, 0},
       .want_changed = {5, 2},
       .want_shift = {1988, 0}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_empty_case(x, 5, &cases[i]);
}
END_TEST

/* Points {0, 1, 50}, given {0.5, 40, 1000}. Farthest, iteration 1: cluster 2 takes x = 50 from
 * the singleton cluster 1, which is left empty and keeps its old centroid 40. Iteration 2: cluster
 * 1 is empty, distances {.25, .25, 0}: it takes x = 0 (tie, lower index), cluster 0 becomes {1}.
 * Iteration 3 changes nothing. */
START_TEST(farthest_from_singleton_cluster) {
  const float x[] = {0, 1, 50};
  const empty_case cases[] = {
      {.name = "farthest singleton",
       .k = 3,
       .init = {0.5f, 40, 1000},
       .policy = FKM_EMPTY_FARTHEST,
       .want_c = {1, 0, 50},
       .want_labels = {1, 0, 2},
       .want_inertia = 0.0,
       .want_iterations = 3,
       .want_empty = {1, 1, 0},
       .want_changed = {3, 1, 1},
       .want_shift = {950, 40, 0}},
      {.name = "keep singleton",
       .k = 3,
       .init = {0.5f, 40, 1000},
       .policy = FKM_EMPTY_KEEP,
       .want_c = {0.5f, 50, 1000},
       .want_labels = {0, 0, 1},
       .want_inertia = 0.5,
       .want_iterations = 2,
       .want_empty = {1, 1},
       .want_changed = {3, 0},
       .want_shift = {10, 0}},
  };
  for (size_t i = 0; i < 2; i++) run_empty_case(x, 3, &cases[i]);
}
END_TEST

/* ---- properties on random data ----------------------------------------------------------------
 */

static void check_fit_properties(const fkm_points *p, const fkm_options *o, const fkm_test_fit *f) {
  int64_t b = p->batches, n = p->n, d = p->d, k = o->k;
  double *x = ref_points(p, fkm__compute_dtype(p, o, 0), o->metric);
  double *c = ref_centroids(f->c, b * k, d, o->metric);
  check_labels(x, c, f->labels, b, n, d, k, o->metric);
  check_inertia(x, c, f->labels, f->inertia, b, n, d, k);
  if (o->metric != FKM_METRIC_L2) check_unit_rows(f->c, b * k, d);
  if (f->r.iterations < o->max_iter) check_means(x, f->c, f->labels, b, n, d, k, o->metric);
  free(x);
  free(c);
}

START_TEST(random_and_blob_properties) {
  uint64_t st = fkm_test_seed() ^ 0x51ull;
  const int64_t bs[] = {1, 3}, ds[] = {1, 2, 17, 32};
  for (int kind = 0; kind < 2; kind++)
    for (int bi = 0; bi < 2; bi++)
      for (int di = 0; di < 4; di++)
        for (int t = 0; t < 4; t++)
          for (int m = 0; m < 3; m++) {
            int64_t n = 150 + (int64_t)fkm_test_uniform(&st, 0, 250);
            int64_t k = 2 + (int64_t)fkm_test_uniform(&st, 0, 7);
            snprintf(g_case, sizeof g_case, "%s B=%lld N=%lld D=%lld K=%lld %s %s",
                     kind ? "blobs" : "random", (long long)bs[bi], (long long)n, (long long)ds[di],
                     (long long)k, fkm__dtype_name(all_dtypes[t]), fkm__metric_name((fkm_metric)m));
            double *v = make_values(&st, kind, bs[bi], n, ds[di], k);
            void *data = to_storage(v, (size_t)(bs[bi] * n * ds[di]), all_dtypes[t]);
            fkm_points p = {data, all_dtypes[t], bs[bi], n, ds[di]};
            fkm_options o;
            cpu_options(&o, k, (fkm_metric)m);
            o.seed = (uint64_t)fkm_test_uniform(&st, 0, 1e15);
            o.max_iter = 100;
            o.tol = 1e-12;
            o.empty = (kind + t) % 2 ? FKM_EMPTY_FARTHEST : FKM_EMPTY_KEEP;
            fkm_test_fit f = fkm_test_run_fit(&p, &o);
            assert_ok(&f);
            ck_assert(f.r.iterations >= 1 && f.r.iterations <= o.max_iter);
            check_fit_properties(&p, &o, &f);
            fkm_test_fit_free(&f);
            free(data);
            free(v);
          }
}
END_TEST

/* l2 inertia reported per iteration never increases; reports are numbered 1.. and complete. */
START_TEST(reported_inertia_never_increases) {
  uint64_t st = fkm_test_seed() ^ 0x52ull;
  for (int kind = 0; kind < 2; kind++)
    for (int pol = 0; pol < 2; pol++) {
      snprintf(g_case, sizeof g_case, "monotone %s %s", kind ? "blobs" : "random",
               pol ? "farthest" : "keep");
      int64_t b = 3, n = 600, d = 5, k = 12;
      double *v = make_values(&st, kind, b, n, d, 4);
      float *init = malloc((size_t)(b * k * d) * sizeof(float));
      for (int64_t i = 0; i < b * k * d; i++) init[i] = (float)fkm_test_uniform(&st, -2, 2);
      void *data = to_storage(v, (size_t)(b * n * d), FKM_DTYPE_FP32);
      fkm_points p = {data, FKM_DTYPE_FP32, b, n, d};
      fkm_options o;
      cpu_options(&o, k, FKM_METRIC_L2);
      o.init = FKM_INIT_GIVEN;
      o.init_centroids = init;
      o.empty = pol ? FKM_EMPTY_FARTHEST : FKM_EMPTY_KEEP;
      o.max_iter = 40;
      o.tol = 0;
      report_log *log = calloc(1, sizeof *log);
      o.on_iter = record_report;
      o.on_iter_user = log;
      fkm_test_fit f = fkm_test_run_fit(&p, &o);
      assert_ok(&f);
      ck_assert_int_eq(f.r.iterations, 40);
      ck_assert_int_eq(log->count, 40);
      ck_assert_int_eq(log->rep[0].changed, b * n);
      /* iteration 1 is measured against the given centroids */
      double *x = ref_points(&p, FKM_DTYPE_FP32, FKM_METRIC_L2);
      double *c0 = ref_centroids(init, b * k, d, FKM_METRIC_L2);
      /* iteration 1's labels are the argmin against init: predict gives them */
      int32_t *lab = malloc((size_t)(b * n) * sizeof(int32_t));
      double *in = malloc((size_t)b * sizeof(double));
      fkm_ctx *ctx;
      fkm_ctx_create(&ctx);
      fkm_options po = o;
      po.init = FKM_INIT_RANDOM;
      po.init_centroids = NULL;
      ck_assert_int_eq(fkm_predict(ctx, &p, init, &po, lab, in), FKM_OK);
      fkm_ctx_free(ctx);
      check_labels(x, c0, lab, b, n, d, k, FKM_METRIC_L2);
      double want = 0.0;
      for (int64_t bi = 0; bi < b; bi++) want += ref_inertia(x, c0, lab, bi, n, d, k);
      ck_assert_double_eq_tol(log->rep[0].inertia, want, 1e-9 * want);
      for (int i = 0; i < log->count; i++) {
        const fkm_iter_report *r = &log->rep[i];
        ck_assert_int_eq(r->iteration, i + 1);
        ck_assert(r->shift >= 0.0 && r->ms >= 0.0);
        ck_assert(r->changed >= 0 && r->changed <= b * n);
        ck_assert(r->empty >= 0 && r->empty < b * k);
        if (i > 0)
          ck_assert_msg(r->inertia <= log->rep[i - 1].inertia * (1 + 1e-12),
                        "%s: inertia rose at iteration %d: %.17g > %.17g", g_case, i + 1,
                        r->inertia, log->rep[i - 1].inertia);
      }
      double final = f.inertia[0] + f.inertia[1] + f.inertia[2];
      ck_assert(final <= log->rep[log->count - 1].inertia * (1 + 1e-12));
      free(x);
      free(c0);
      free(lab);
      free(in);
      free(log);
      free(init);
      free(data);
      free(v);
      fkm_test_fit_free(&f);
    }
}
END_TEST

/* Same input, options and seed: bitwise-identical results; another seed: other results. */
START_TEST(deterministic) {
  uint64_t st = fkm_test_seed() ^ 0x53ull;
  int64_t b = 3, n = 1500, d = 17, k = 10;
  double *v = make_values(&st, 0, b, n, d, k);
  void *data = to_storage(v, (size_t)(b * n * d), FKM_DTYPE_BF16);
  fkm_points p = {data, FKM_DTYPE_BF16, b, n, d};
  for (int m = 0; m < 3; m++) {
    snprintf(g_case, sizeof g_case, "deterministic %s", fkm__metric_name((fkm_metric)m));
    fkm_options o;
    cpu_options(&o, k, (fkm_metric)m);
    o.seed = (uint64_t)fkm_test_uniform(&st, 0, 1e15);
    o.empty = FKM_EMPTY_FARTHEST;
    fkm_test_fit f1 = fkm_test_run_fit(&p, &o), f2 = fkm_test_run_fit(&p, &o);
    assert_ok(&f1);
    assert_ok(&f2);
    ck_assert_int_eq(f1.r.iterations, f2.r.iterations);
    ck_assert(memcmp(f1.c, f2.c, (size_t)(b * k * d) * sizeof(float)) == 0);
    ck_assert(memcmp(f1.labels, f2.labels, (size_t)(b * n) * sizeof(int32_t)) == 0);
    ck_assert(memcmp(f1.inertia, f2.inertia, (size_t)b * sizeof(double)) == 0);
    o.seed++;
    fkm_test_fit f3 = fkm_test_run_fit(&p, &o);
    assert_ok(&f3);
    ck_assert(memcmp(f1.c, f3.c, (size_t)(b * k * d) * sizeof(float)) != 0);
    fkm_test_fit_free(&f1);
    fkm_test_fit_free(&f2);
    fkm_test_fit_free(&f3);
  }
  free(data);
  free(v);
}
END_TEST

/* Cosine is blind to scale: fp64 points times 2^700 or 2^-700 (exact; their squares overflow or
 * fall below fp64's range) give the labels, centroids and inertia of the points themselves; times
 * 2^-1060 (subnormal, fewer digits) unit centroids still. */
START_TEST(cosine_at_extreme_scales) {
  uint64_t st = fkm_test_seed() ^ 0x57ull;
  int64_t b = 2, n = 700, d = 9, k = 6;
  size_t count = (size_t)(b * n * d);
  double *v = make_values(&st, 0, b, n, d, k), *scaled = malloc(count * sizeof(double));
  fkm_options o;
  cpu_options(&o, k, FKM_METRIC_COSINE);
  fkm_points p = {v, FKM_DTYPE_FP64, b, n, d};
  fkm_test_fit base = fkm_test_run_fit(&p, &o);
  assert_ok(&base);
  for (int e = -700; e <= 700; e += 1400) {
    snprintf(g_case, sizeof g_case, "cosine, points times 2^%d", e);
    for (size_t i = 0; i < count; i++) scaled[i] = ldexp(v[i], e);
    p.data = scaled;
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    ck_assert_int_eq(f.r.iterations, base.r.iterations);
    ck_assert(memcmp(f.labels, base.labels, (size_t)(b * n) * sizeof(int32_t)) == 0);
    ck_assert(memcmp(f.c, base.c, (size_t)(b * k * d) * sizeof(float)) == 0);
    ck_assert(memcmp(f.inertia, base.inertia, (size_t)b * sizeof(double)) == 0);
    fkm_test_fit_free(&f);
  }
  snprintf(g_case, sizeof g_case, "cosine, points times 2^-1060 (subnormal)");
  for (size_t i = 0; i < count; i++) scaled[i] = ldexp(v[i], -1060);
  fkm_test_fit f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  for (int64_t r = 0; r < b * k; r++) { /* unit centroids, not NaN (2^1060 overflows) */
    double s = 0.0;
    for (int64_t j = 0; j < d; j++) s += (double)f.c[r * d + j] * f.c[r * d + j];
    ck_assert_msg(fabs(s - 1.0) < 1e-5, "centroid %lld: squared norm %g", (long long)r, s);
  }
  fkm_test_fit_free(&f);
  fkm_test_fit_free(&base);
  free(scaled);
  free(v);
}
END_TEST

/* Labels and centroids do not depend on how many threads the engine uses. */
START_TEST(independent_of_thread_count) {
  uint64_t st = fkm_test_seed() ^ 0x54ull;
  int64_t b = 2, n = 12000, d = 16, k = 32;
  double *v = make_values(&st, 1, b, n, d, 20);
  void *data = to_storage(v, (size_t)(b * n * d), FKM_DTYPE_FP32);
  fkm_points p = {data, FKM_DTYPE_FP32, b, n, d};
  fkm_options o;
  cpu_options(&o, k, FKM_METRIC_L2);
  o.seed = st;
  o.max_iter = 4;
  o.tol = 0;
  snprintf(g_case, sizeof g_case, "threads");
  fkm_test_fit all = fkm_test_run_fit(&p, &o);
  assert_ok(&all);
  cpu_set_t set, one;
  ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &set)) {
      CPU_SET(cpu, &one);
      break;
    }
  ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
  fkm_test_fit single = fkm_test_run_fit(&p, &o);
  sched_setaffinity(0, sizeof set, &set);
  assert_ok(&single);
  ck_assert(memcmp(all.c, single.c, (size_t)(b * k * d) * sizeof(float)) == 0);
  ck_assert(memcmp(all.labels, single.labels, (size_t)(b * n) * sizeof(int32_t)) == 0);
  ck_assert(memcmp(all.inertia, single.inertia, (size_t)b * sizeof(double)) == 0);
  fkm_test_fit_free(&all);
  fkm_test_fit_free(&single);
  free(data);
  free(v);
}
END_TEST

/* Random init picks the points fkm__random_init_indices names, K distinct ones per batch, the same
 * every run; cosine and dot scale the picks (as the engine holds them) to unit length. */
START_TEST(random_init_picks) {
  uint64_t st = fkm_test_seed() ^ 0x55ull;
  int64_t b = 3, n = 400, d = 5, k = 9;
  double *v = make_values(&st, 0, b, n, d, k);
  void *data = to_storage(v, (size_t)(b * n * d), FKM_DTYPE_FP32);
  fkm_points p = {data, FKM_DTYPE_FP32, b, n, d};
  const float *x = data;
  uint64_t seed = st;
  for (int m = 0; m < 3; m++) {
    snprintf(g_case, sizeof g_case, "random init %s", fkm__metric_name((fkm_metric)m));
    fkm_options o;
    cpu_options(&o, k, (fkm_metric)m);
    o.seed = seed;
    o.max_iter = 0;
    fkm_test_fit f = fkm_test_run_fit(&p, &o), again = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    assert_ok(&again);
    ck_assert_int_eq(f.r.iterations, 0);
    ck_assert(memcmp(f.c, again.c, (size_t)(b * k * d) * sizeof(float)) == 0);
    int64_t idx[9];
    for (int64_t bi = 0; bi < b; bi++) {
      ck_assert_int_eq(fkm__random_init_indices(seed, bi, n, k, idx), FKM_OK);
      for (int64_t j = 0; j < k; j++) {
        ck_assert(idx[j] >= 0 && idx[j] < n);
        for (int64_t q = 0; q < j; q++) ck_assert(idx[q] != idx[j]);
        double row[5], ss = 0.0;
        for (int64_t t = 0; t < d; t++) row[t] = x[(bi * n + idx[j]) * d + t];
        if (m == FKM_METRIC_COSINE) { /* the held point: normalised, then rounded to fp32 */
          normalise_rows(row, 1, d);
          for (int64_t t = 0; t < d; t++) row[t] = (float)row[t];
        }
        for (int64_t t = 0; t < d; t++) ss += row[t] * row[t];
        for (int64_t t = 0; t < d; t++) {
          double want = m == FKM_METRIC_L2 ? row[t] : row[t] / sqrt(ss);
          ck_assert_float_eq(f.c[(bi * k + j) * d + t], (float)want);
        }
      }
    }
    fkm_test_fit_free(&f);
    fkm_test_fit_free(&again);
  }
  free(data);
  free(v);
}
END_TEST

/* K = N: every point is a centroid, inertia is zero (for fp64 points: only the rounding of the
 * returned fp32 centroids, |x − fl32(x)| ≤ 2⁻²⁴|x| with |x| < 1). */
START_TEST(k_equals_n) {
  uint64_t st = fkm_test_seed() ^ 0x56ull;
  int64_t b = 2, n = 60, d = 3;
  double *v = make_values(&st, 0, b, n, d, 1);
  for (int t = 0; t < 4; t++) {
    snprintf(g_case, sizeof g_case, "K = N %s", fkm__dtype_name(all_dtypes[t]));
    void *data = to_storage(v, (size_t)(b * n * d), all_dtypes[t]);
    fkm_points p = {data, all_dtypes[t], b, n, d};
    fkm_options o;
    cpu_options(&o, n, FKM_METRIC_L2);
    o.seed = st + (uint64_t)t;
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    double bound = all_dtypes[t] == FKM_DTYPE_FP64 ? (double)(n * d) * 0x1p-48 : 0.0;
    for (int64_t bi = 0; bi < b; bi++)
      ck_assert_msg(f.inertia[bi] <= bound, "%s: inertia %g", g_case, f.inertia[bi]);
    fkm_test_fit_free(&f);
    free(data);
  }
  free(v);
}
END_TEST

/* tol > 0 stops early on blobs; tol ≤ 0 runs max_iter; a huge relative tol stops after one. */
START_TEST(tolerance_stops) {
  uint64_t st = fkm_test_seed() ^ 0x57ull;
  int64_t n = 3000, d = 8, k = 5;
  double *v = make_values(&st, 1, 1, n, d, k);
  void *data = to_storage(v, (size_t)(n * d), FKM_DTYPE_FP32);
  fkm_points p = {data, FKM_DTYPE_FP32, 1, n, d};
  fkm_options o;
  cpu_options(&o, k, FKM_METRIC_L2);
  o.seed = st;
  o.max_iter = 100;
  snprintf(g_case, sizeof g_case, "tol 1e-4");
  fkm_test_fit f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  ck_assert_int_lt(f.r.iterations, 100);
  fkm_test_fit_free(&f);
  const double off[] = {0.0, -1.0};
  for (int i = 0; i < 2; i++) {
    snprintf(g_case, sizeof g_case, "tol %g", off[i]);
    o.tol = off[i];
    o.max_iter = 25;
    f = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    ck_assert_int_eq(f.r.iterations, 25);
    fkm_test_fit_free(&f);
  }
  snprintf(g_case, sizeof g_case, "tol relative");
  o.tol = 1e6;
  o.tol_relative = 1;
  f = fkm_test_run_fit(&p, &o);
  assert_ok(&f);
  ck_assert_int_eq(f.r.iterations, 1);
  fkm_test_fit_free(&f);
  free(data);
  free(v);
}
END_TEST

/* A relative tol under cosine and dot does not depend on the data's scale: points times 1024
 * (exact) stop after as many iterations, with the same labels and centroids (it used the raw
 * points' variance, so the scaled fit stopped after one). */
START_TEST(relative_tol_is_scale_free_for_unit_metrics) {
  uint64_t st = fkm_test_seed() ^ 0x59ull;
  int64_t n = 2000, d = 6, k = 7;
  double *v = make_values(&st, 0, 1, n, d, k), *scaled = malloc((size_t)(n * d) * sizeof(double));
  for (int64_t i = 0; i < n * d; i++) scaled[i] = v[i] * 1024.0;
  for (int m = FKM_METRIC_COSINE; m <= FKM_METRIC_DOT; m++) {
    snprintf(g_case, sizeof g_case, "relative tol, %s", fkm__metric_name((fkm_metric)m));
    fkm_options o;
    cpu_options(&o, k, (fkm_metric)m);
    o.tol = 1e-3, o.tol_relative = 1, o.max_iter = 300;
    fkm_points p = {v, FKM_DTYPE_FP64, 1, n, d};
    fkm_test_fit a = fkm_test_run_fit(&p, &o);
    p.data = scaled;
    fkm_test_fit b = fkm_test_run_fit(&p, &o);
    assert_ok(&a);
    assert_ok(&b);
    ck_assert_int_gt(a.r.iterations, 1);
    ck_assert_int_eq(b.r.iterations, a.r.iterations);
    ck_assert(memcmp(a.labels, b.labels, (size_t)n * sizeof(int32_t)) == 0);
    ck_assert(memcmp(a.c, b.c, (size_t)(k * d) * sizeof(float)) == 0);
    fkm_test_fit_free(&a);
    fkm_test_fit_free(&b);
  }
  free(scaled);
  free(v);
}
END_TEST

/* max_iter = 0: the init centroids come back (normalised for cosine and dot) with final labels. */
START_TEST(max_iter_zero) {
  uint64_t st = fkm_test_seed() ^ 0x58ull;
  int64_t b = 3, n = 200, d = 4, k = 6;
  double *v = make_values(&st, 0, b, n, d, k);
  void *data = to_storage(v, (size_t)(b * n * d), FKM_DTYPE_FP16);
  fkm_points p = {data, FKM_DTYPE_FP16, b, n, d};
  float *init = malloc((size_t)(b * k * d) * sizeof(float));
  for (int64_t i = 0; i < b * k * d; i++) init[i] = (float)fkm_test_uniform(&st, -1, 1);
  for (int m = 0; m < 3; m++) {
    snprintf(g_case, sizeof g_case, "max_iter 0 %s", fkm__metric_name((fkm_metric)m));
    fkm_options o;
    cpu_options(&o, k, (fkm_metric)m);
    o.init = FKM_INIT_GIVEN;
    o.init_centroids = init;
    o.max_iter = 0;
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    ck_assert_int_eq(f.r.iterations, 0);
    double *want = widen(init, b * k, d, m != FKM_METRIC_L2);
    for (int64_t i = 0; i < b * k * d; i++) ck_assert_float_eq(f.c[i], (float)want[i]);
    check_fit_properties(&p, &o, &f);
    free(want);
    fkm_test_fit_free(&f);
  }
  free(init);
  free(data);
  free(v);
}
END_TEST

/* A callback that returns non-zero cancels the fit: FKM_ERR_CANCELLED, outputs untouched. */
START_TEST(callback_cancels) {
  uint64_t st = fkm_test_seed() ^ 0x59ull;
  int64_t b = 2, n = 300, d = 3, k = 4;
  double *v = make_values(&st, 0, b, n, d, k);
  void *data = to_storage(v, (size_t)(b * n * d), FKM_DTYPE_FP32);
  fkm_points p = {data, FKM_DTYPE_FP32, b, n, d};
  for (int at = 1; at <= 2; at++) {
    snprintf(g_case, sizeof g_case, "cancel at %d", at);
    fkm_options o;
    cpu_options(&o, k, FKM_METRIC_L2);
    o.tol = 0;
    report_log log = {.cancel_at = at};
    o.on_iter = record_report;
    o.on_iter_user = &log;
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    ck_assert_int_eq(f.status, FKM_ERR_CANCELLED);
    ck_assert_msg(strstr(f.err, "cancel") != NULL, "detail: %s", f.err);
    ck_assert_int_eq(log.count, at);
    for (int64_t i = 0; i < b * k * d; i++) ck_assert(isnan(f.c[i]));
    for (int64_t i = 0; i < b * n; i++) ck_assert_int_eq(f.labels[i], -1);
    ck_assert(isnan(f.inertia[0]) && isnan(f.inertia[1]));
    ck_assert_int_eq(f.r.iterations, -1);
    fkm_test_fit_free(&f);
  }
  free(data);
  free(v);
}
END_TEST

/* fkm_predict against the returned centroids reproduces fit's labels and inertia bitwise; it
 * normalises un-normalised centroids for cosine, and a common scale leaves dot's labels alone. */
START_TEST(predict_matches_fit) {
  uint64_t st = fkm_test_seed() ^ 0x5aull;
  int64_t b = 2, n = 700, d = 9, k = 7;
  double *v = make_values(&st, 1, b, n, d, k);
  void *data = to_storage(v, (size_t)(b * n * d), FKM_DTYPE_FP64);
  fkm_points p = {data, FKM_DTYPE_FP64, b, n, d};
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  int32_t *lab = malloc((size_t)(b * n) * sizeof(int32_t));
  double in[2];
  for (int m = 0; m < 3; m++) {
    snprintf(g_case, sizeof g_case, "predict %s", fkm__metric_name((fkm_metric)m));
    fkm_options o;
    cpu_options(&o, k, (fkm_metric)m);
    o.seed = st;
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    assert_ok(&f);
    ck_assert_int_eq(fkm_predict(ctx, &p, f.c, &o, lab, in), FKM_OK);
    ck_assert(memcmp(lab, f.labels, (size_t)(b * n) * sizeof(int32_t)) == 0);
    ck_assert(memcmp(in, f.inertia, sizeof in) == 0);
    float *other = calloc((size_t)(b * k * d), sizeof(float)); /* init_centroids play no part */
    o.init = FKM_INIT_GIVEN;
    o.init_centroids = other;
    ck_assert_int_eq(fkm_predict(ctx, &p, f.c, &o, lab, NULL), FKM_OK);
    ck_assert(memcmp(lab, f.labels, (size_t)(b * n) * sizeof(int32_t)) == 0);
    free(other);
    if (m != FKM_METRIC_L2) {
      for (int64_t i = 0; i < b * k * d; i++) f.c[i] *= 3.0f;
      ck_assert_int_eq(fkm_predict(ctx, &p, f.c, &o, lab, NULL), FKM_OK);
      ck_assert(memcmp(lab, f.labels, (size_t)(b * n) * sizeof(int32_t)) == 0);
    }
    fkm_test_fit_free(&f);
  }
  fkm_ctx_free(ctx);
  free(lab);
  free(data);
  free(v);
}
END_TEST

static Suite *cpu_engine_suite(void) {
  Suite *s = suite_create("cpu_engine");
  TCase *hand = tcase_create("hand-computed");
  tcase_add_test(hand, tiny_1d_l2);
  tcase_add_test(hand, points_rounded_to_compute_dtype);
  tcase_add_test(hand, tiny_cosine);
  tcase_add_test(hand, tiny_dot);
  tcase_add_test(hand, ties_go_to_lowest_index);
  tcase_add_test(hand, cosine_points_normalised_then_rounded);
  tcase_add_test(hand, cosine_fp16_uses_rounded_points);
  tcase_add_test(hand, dot_predict_uses_centroids_as_given);
  tcase_add_test(hand, empty_cluster_policies);
  tcase_add_test(hand, farthest_from_singleton_cluster);
  suite_add_tcase(s, hand);
  TCase *prop = tcase_create("properties");
  tcase_set_timeout(prop, 60);
  tcase_add_test(prop, random_and_blob_properties);
  tcase_add_test(prop, reported_inertia_never_increases);
  tcase_add_test(prop, deterministic);
  tcase_add_test(prop, cosine_at_extreme_scales);
  tcase_add_test(prop, independent_of_thread_count);
  tcase_add_test(prop, random_init_picks);
  tcase_add_test(prop, k_equals_n);
  tcase_add_test(prop, tolerance_stops);
  tcase_add_test(prop, relative_tol_is_scale_free_for_unit_metrics);
  tcase_add_test(prop, max_iter_zero);
  tcase_add_test(prop, callback_cancels);
  tcase_add_test(prop, predict_matches_fit);
  suite_add_tcase(s, prop);
  return s;
}

int main(void) {
  fkm_test_seed();
  return fkm_test_run(cpu_engine_suite(), 0);
}
