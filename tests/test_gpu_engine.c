/* GPU engine against the fp64 oracle (SPEC §2 acceptance rule) on fresh random data. Label "gpu":
 * exits 77 where no GPU engine can run. Runs without fork (CUDA does not survive fork). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"
#include "gpu.h"
#include "oracle.h"
#include "support.h"

typedef struct gcase {
  int64_t b, n, d, k;
  fkm_dtype dtype;
  fkm_metric metric;
  int distinct; /* > 0: only this many distinct points (duplicates, empty clusters) */
  fkm_precision precision;
  fkm_config config; /* forced assign configuration; zeros = the default pick */
} gcase;

/* Every D, K, N, B and dtype of the issue, with the awkward corners: K = N, N = 1, N not a multiple
 * of any tile, duplicates with many empty clusters; fp32 in 3×TF32 (default) and TF32. The forced
 * configurations cover other tiles of the wgmma kernel on sm_90 (two warpgroups, 128 × 64 and
 * 64 × 128 tiles, 4 stages, TF32 with 128 points a block, 3×TF32 with one warpgroup and 2 stages
 * or two and 1 stage, and in D chunks of 32 and 64 columns whose last one runs past D; its default
 * pick runs at D = 17, 96, 128 and 512) and its clusters of two and
 * four blocks sharing the centroid tiles (a count of point tiles that is no multiple of the
 * cluster, K short of the last centroid tile, one and four 128-byte column blocks, two
 * warpgroups). */
static const gcase cases[] = {
    {1, 1, 3, 1, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {3, 17, 17, 17, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {32, 8193, 64, 100, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 16, 100, FKM_DTYPE_BF16, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 1, 7, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 96, 1031, FKM_DTYPE_FP32, FKM_METRIC_DOT, 0, FKM_PRECISION_DEFAULT, {0}},
    {3, 8193, 128, 1000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 130, 2, FKM_DTYPE_BF16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 256, 4096, FKM_DTYPE_FP16, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 512, 7, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 1000, 100, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 1024, 1031, FKM_DTYPE_BF16, FKM_METRIC_DOT, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 2048, 100, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 64, 1000, FKM_DTYPE_FP16, FKM_METRIC_L2, 50, FKM_PRECISION_DEFAULT, {0}},
    {3, 8193, 17, 100, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 8193, 128, 100, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_TF32, {0}},
    {3, 8193, 17, 1031, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, FKM_PRECISION_TF32, {0}},
    {2, 8193, 64, 300, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_TF32, {0}},
    {1, 8193, 1000, 100, FKM_DTYPE_FP32, FKM_METRIC_DOT, 0, FKM_PRECISION_TF32, {0}},
    {3, 8193, 128, 1000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {128, 64, 128, 4, 3, 1}},
    {1, 8193, 64, 1031, FKM_DTYPE_BF16, FKM_METRIC_DOT, 0, FKM_PRECISION_DEFAULT, {128, 64, 64, 4, 4, 1}},
    {2, 8193, 128, 100, FKM_DTYPE_FP16, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {256, 64, 128, 8, 3, 1}},
    {1, 8193, 128, 7, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {64, 128, 128, 4, 3, 1}},
    {1, 8193, 128, 300, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_TF32, {128, 64, 128, 4, 3, 1}},
    {2, 8193, 128, 300, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {64, 64, 128, 4, 2, 1}},
    {1, 8193, 64, 1031, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {128, 64, 64, 8, 1, 1}},
    {2, 8193, 300, 1000, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {128, 64, 32, 8, 3, 1}},
    {1, 8193, 200, 100, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {64, 64, 64, 4, 1, 1}},
    {2, 8193, 128, 1000, FKM_DTYPE_FP32, FKM_METRIC_L2, 40, FKM_PRECISION_DEFAULT, {0}},
    {3, 8193, 128, 1000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {256, 64, 128, 4, 3, 2}},
    {1, 8193, 64, 1031, FKM_DTYPE_BF16, FKM_METRIC_DOT, 0, FKM_PRECISION_DEFAULT, {128, 64, 64, 4, 4, 2}},
    {2, 8193, 128, 300, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, FKM_PRECISION_TF32, {128, 64, 128, 8, 2, 2}},
    {3, 8193, 128, 1000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {128, 64, 128, 4, 4, 4}},
    {1, 8193, 64, 1031, FKM_DTYPE_BF16, FKM_METRIC_DOT, 0, FKM_PRECISION_DEFAULT, {256, 64, 64, 8, 3, 4}},
    /* 16-bit sort counters in shared memory; again with segment blocks beside small runs */
    {1, 40000, 8, 13000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 40000, 8, 13000, FKM_DTYPE_FP16, FKM_METRIC_L2, 50, FKM_PRECISION_DEFAULT, {0}},
    /* two batches, odd K: the last cluster's counter is the low half of its word */
    {2, 30000, 8, 12999, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    /* past FKM_LAZY_TILES centroid tiles the wgmma kernel folds in two passes (K = 10,000 in
     * 64-column tiles: 29 such tiles; 3×TF32 at D = 200 in 32-column chunks); with duplicates,
     * equal distances within and across those tiles */
    {1, 10000, 64, 10000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {256, 64, 64, 4, 3, 1}},
    {1, 10000, 64, 10000, FKM_DTYPE_BF16, FKM_METRIC_DOT, 40, FKM_PRECISION_DEFAULT, {256, 64, 64, 4, 3, 1}},
    {1, 10000, 64, 10000, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 10000, 200, 10000, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {128, 64, 32, 8, 3, 1}},
    /* sort counters in global memory (K·2 bytes above sm_90's opt-in shared memory) */
    {1, 150000, 8, 120000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 1000003, 128, 1000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 1000003, 17, 4096, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
};
#define CASE_COUNT ((int)(sizeof cases / sizeof cases[0]))

static fkm_ctx *ctx;
static uint64_t rng;

static void setup(void) {
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  rng = fkm_test_seed() ^ 0x6a09e667f3bcc909ull;
}
static void teardown(void) { fkm_ctx_free(ctx); }

static float *case_points(const gcase *c) {
  size_t rows = (size_t)(c->b * c->n);
  float *x = fkm_test_random(&rng, rows * (size_t)c->d);
  if (c->distinct > 0)
    for (size_t r = 0; r < rows; r++)
      memcpy(x + r * c->d, x + (r % (size_t)c->distinct) * c->d, (size_t)c->d * sizeof(float));
  return x;
}

/* K rows picked from each batch (repeats allowed), unit length for cosine and dot. */
static float *case_centroids(const gcase *c, const float *x) {
  float *cen = malloc((size_t)(c->b * c->k * c->d) * sizeof(float));
  for (int64_t b = 0; b < c->b; b++)
    for (int64_t j = 0; j < c->k; j++) {
      int64_t i = (int64_t)fkm_test_uniform(&rng, 0, (double)c->n);
      float *dst = cen + (b * c->k + j) * c->d;
      memcpy(dst, x + (b * c->n + i) * c->d, (size_t)c->d * sizeof(float));
      double s = 0.0;
      for (int64_t t = 0; t < c->d; t++) s += (double)dst[t] * dst[t];
      if (c->metric != FKM_METRIC_L2 && s > 0)
        for (int64_t t = 0; t < c->d; t++) dst[t] = (float)(dst[t] / sqrt(s));
    }
  return cen;
}

static fkm_options case_options(const gcase *c, const float *init, int max_iter) {
  fkm_options o;
  fkm_options_init(&o);
  o.k = c->k, o.metric = c->metric, o.dtype = c->dtype, o.engine = FKM_ENGINE_GPU;
  o.precision = c->precision, o.config = c->config;
  o.init = init ? FKM_INIT_GIVEN : FKM_INIT_RANDOM, o.init_centroids = init;
  o.max_iter = max_iter, o.tol = 0.0, o.seed = rng;
  return o;
}

static int64_t check_stride(const gcase *c) {
  double work = (double)c->b * c->n * c->k * c->d;
  return work <= 1e8 ? 1 : (int64_t)(work / 1e8) + 1;
}

static void expect_labels(const oracle_problem *o, const gcase *c, const float *cen,
                          const int32_t *labels, const char *what) {
  int64_t ties = 0, bad = oracle_check_labels(o, cen, labels, check_stride(c), &ties);
  ck_assert_msg(bad == 0, "%s: %lld labels rejected (B=%lld N=%lld D=%lld K=%lld %s %s)", what,
                (long long)bad, (long long)c->b, (long long)c->n, (long long)c->d, (long long)c->k,
                fkm__dtype_name(c->dtype), fkm__metric_name(c->metric));
}

/* ‖got − want‖ ≤ 1e-5·‖want‖ per centroid (plus an fp32-storage floor). */
static void expect_centroids(const gcase *c, const float *got, const double *want) {
  for (int64_t r = 0; r < c->b * c->k; r++) {
    double diff = 0.0, norm = 0.0;
    for (int64_t j = 0; j < c->d; j++) {
      double w = want[r * c->d + j], e = got[r * c->d + j] - w;
      diff += e * e, norm += w * w;
    }
    ck_assert_msg(sqrt(diff) <= 1e-5 * sqrt(norm) + 1e-7 * sqrt((double)c->d),
                  "centroid %lld off by %.3g (norm %.3g)", (long long)r, sqrt(diff), sqrt(norm));
  }
}

static void expect_inertia(const oracle_problem *o, const float *cen, const int32_t *labels,
                           const double *got) {
  double *want = malloc((size_t)o->b * sizeof(double));
  oracle_inertia(o, cen, labels, want);
  for (int64_t b = 0; b < o->b; b++)
    ck_assert_msg(fabs(got[b] - want[b]) <= 1e-6 * fabs(want[b]) + 1e-9,
                  "inertia[%lld] %.10g, oracle %.10g", (long long)b, got[b], want[b]);
  free(want);
}

/* c's points *x and centroids *c0 drawn (caller frees both), as *p, with their fp64 oracle *o. */
static void case_problem(const gcase *c, float **x, float **c0, fkm_points *p, oracle_problem *o) {
  *x = case_points(c), *c0 = case_centroids(c, *x);
  *p = (fkm_points){*x, FKM_DTYPE_FP32, c->b, c->n, c->d};
  oracle_init(o, p, c->k, c->metric, c->dtype, c->precision);
}

/* predict(C0) → L1 checked; fit(C0, one iteration) → C1 = means over L1, final labels checked
 * against C1, inertia recomputed. Outputs are poisoned first. */
START_TEST(one_iteration_matches_oracle) {
  const gcase *c = &cases[_i];
  float *x, *c0;
  fkm_points p;
  oracle_problem o;
  case_problem(c, &x, &c0, &p, &o);
  size_t nl = (size_t)(c->b * c->n), nc = (size_t)(c->b * c->k * c->d);
  int32_t *l1 = malloc(nl * 4), *fl = malloc(nl * 4);
  float *c1 = malloc(nc * 4);
  double *inertia = malloc((size_t)c->b * 8), *ref = malloc(nc * 8);
  memset(l1, 0xff, nl * 4), memset(fl, 0xff, nl * 4), memset(c1, 0xff, nc * 4);
  memset(inertia, 0xff, (size_t)c->b * 8);
  fkm_options opt = case_options(c, c0, 1);
  ck_assert_msg(fkm_predict(ctx, &p, c0, &opt, l1, NULL) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  expect_labels(&o, c, c0, l1, "predict");
  fkm_result r = {.centroids = c1, .labels = fl, .inertia = inertia};
  ck_assert_msg(fkm_fit(ctx, &p, &opt, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert_int_eq(r.engine, FKM_ENGINE_GPU);
  ck_assert_int_eq(r.iterations, 1);
  oracle_means(&o, l1, c0, ref);
  expect_centroids(c, c1, ref);
  expect_labels(&o, c, c1, fl, "final labels");
  expect_inertia(&o, c1, fl, inertia);
  oracle_free(&o);
  free(x), free(c0), free(l1), free(fl), free(c1), free(inertia), free(ref);
}
END_TEST

/* predict takes more centroids than points (fit refuses K > N): 5 points of each of two batches
 * against 300 centroids (fp16, l2), 3 points against 1031 (fp32 in 3×TF32, cosine), the centroids
 * drawn from the points, so that most are repeats and ties go to the lowest index. */
static const gcase few_points[] = {
    {2, 5, 64, 300, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 3, 17, 1031, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {0}},
};

START_TEST(predict_more_centroids_than_points) {
  const gcase *c = &few_points[_i];
  float *x, *c0;
  fkm_points p;
  oracle_problem o;
  case_problem(c, &x, &c0, &p, &o);
  int32_t *labels = malloc((size_t)(c->b * c->n) * 4);
  memset(labels, 0xff, (size_t)(c->b * c->n) * 4);
  fkm_options opt = case_options(c, c0, 1);
  ck_assert_msg(fkm_predict(ctx, &p, c0, &opt, labels, NULL) == FKM_OK, "%s",
                fkm_ctx_last_error(ctx));
  expect_labels(&o, c, c0, labels, "predict with K > N");
  oracle_free(&o);
  free(x), free(c0), free(labels);
}
END_TEST

/* Random init, several iterations: labels are the nearest returned centroids, inertia matches,
 * and a second run is bitwise identical. */
START_TEST(iterations_are_deterministic) {
  const gcase *c = &cases[_i];
  float *x = case_points(c);
  fkm_points p = {x, FKM_DTYPE_FP32, c->b, c->n, c->d};
  size_t nl = (size_t)(c->b * c->n), nc = (size_t)(c->b * c->k * c->d);
  float *cen[2] = {malloc(nc * 4), malloc(nc * 4)};
  int32_t *lab[2] = {malloc(nl * 4), malloc(nl * 4)};
  double in[2][64];
  fkm_options opt = case_options(c, NULL, 4);
  for (int run = 0; run < 2; run++) {
    memset(cen[run], 0xff, nc * 4), memset(lab[run], 0xff, nl * 4);
    fkm_result r = {.centroids = cen[run], .labels = lab[run], .inertia = in[run]};
    ck_assert_msg(fkm_fit(ctx, &p, &opt, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
    ck_assert_int_eq(r.iterations, 4);
  }
  ck_assert(memcmp(cen[0], cen[1], nc * 4) == 0);
  ck_assert(memcmp(lab[0], lab[1], nl * 4) == 0);
  ck_assert(memcmp(in[0], in[1], (size_t)c->b * 8) == 0);
  oracle_problem o;
  oracle_init(&o, &p, c->k, c->metric, c->dtype, c->precision);
  expect_labels(&o, c, cen[0], lab[0], "final labels");
  expect_inertia(&o, cen[0], lab[0], in[0]);
  oracle_free(&o);
  free(x), free(cen[0]), free(cen[1]), free(lab[0]), free(lab[1]);
}
END_TEST

/* Random init: the GPU picks the same points as the CPU engine (max_iter 0 returns them). */
START_TEST(random_init_matches_cpu_engine) {
  const int64_t b = 3, n = 7001, d = 5, k = 40;
  float *x = fkm_test_random(&rng, (size_t)(b * n * d));
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  gcase c = {b, n, d, k, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}};
  fkm_options opt = case_options(&c, NULL, 0);
  float cen[2][3 * 40 * 5];
  for (int e = 0; e < 2; e++) {
    opt.engine = e ? FKM_ENGINE_CPU : FKM_ENGINE_GPU;
    fkm_result r = {.centroids = cen[e], .labels = NULL, .inertia = NULL};
    ck_assert_msg(fkm_fit(ctx, &p, &opt, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
    ck_assert_int_eq(r.iterations, 0);
  }
  ck_assert(memcmp(cen[0], cen[1], sizeof cen[0]) == 0);
  free(x);
}
END_TEST

/* Well-separated blobs seeded with one point of each blob: no point is near a tie, so the GPU and
 * the CPU reference converge to the same labels, centroids (1e-5) and iteration count. */
START_TEST(matches_cpu_engine_on_blobs) {
  const fkm_dtype dtypes[] = {FKM_DTYPE_FP32, FKM_DTYPE_FP16, FKM_DTYPE_BF16};
  const int64_t b = 2, n = 20011, d = 24, k = 12;
  float *x = fkm_test_blobs(&rng, b, n, d, k, 2.0);
  float init[2 * 12 * 24];
  for (int64_t bi = 0; bi < b; bi++) /* point i lies in blob i mod k */
    memcpy(init + bi * k * d, x + bi * n * d, (size_t)(k * d) * sizeof(float));
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  gcase c = {b, n, d, k, dtypes[_i], FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}};
  fkm_options opt = case_options(&c, init, 50);
  opt.tol = 1e-6;
  float cen[2][2 * 12 * 24];
  int32_t *lab[2] = {malloc((size_t)(b * n) * 4), malloc((size_t)(b * n) * 4)};
  double in[2][2];
  int iters[2];
  for (int e = 0; e < 2; e++) {
    opt.engine = e ? FKM_ENGINE_CPU : FKM_ENGINE_GPU;
    fkm_result r = {.centroids = cen[e], .labels = lab[e], .inertia = in[e]};
    ck_assert_msg(fkm_fit(ctx, &p, &opt, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
    iters[e] = r.iterations;
  }
  ck_assert_int_eq(iters[0], iters[1]);
  ck_assert(memcmp(lab[0], lab[1], (size_t)(b * n) * 4) == 0);
  double ref[2 * 12 * 24];
  for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) ref[i] = cen[1][i];
  expect_centroids(&c, cen[0], ref);
  for (int64_t i = 0; i < b; i++) ck_assert(fabs(in[0][i] - in[1][i]) <= 1e-6 * in[1][i]);
  free(x), free(lab[0]), free(lab[1]);
}
END_TEST

/* Cosine is blind to scale on the GPU too: fp64 points times 2^700 and 2^-700 (their squares
 * overflow or fall below fp64's range) label as the points themselves against the same centroids,
 * but for near-ties (at most one in a thousand), with the same inertia to 1e-6; subnormal ones
 * (times 2^-1060) still get labels and a finite inertia. */
START_TEST(cosine_fp64_at_extreme_scales) {
  const int64_t n = 4000, d = 24, k = 50;
  float *x32 = fkm_test_random(&rng, (size_t)(n * d)), *c = fkm_test_random(&rng, (size_t)(k * d));
  double *x = malloc((size_t)(n * d) * sizeof(double));
  int32_t *base = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
  double inertia[2];
  fkm_options o;
  fkm_options_init(&o);
  o.k = k, o.metric = FKM_METRIC_COSINE, o.engine = FKM_ENGINE_GPU, o.dtype = FKM_DTYPE_FP32;
  fkm_points p = {x, FKM_DTYPE_FP64, 1, n, d};
  for (int e = 0; e <= 1400; e += 700) {
    for (int64_t i = 0; i < n * d; i++) x[i] = ldexp((double)x32[i], e == 1400 ? -700 : e);
    ck_assert_msg(fkm_predict(ctx, &p, c, &o, e ? got : base, &inertia[e ? 1 : 0]) == FKM_OK, "%s",
                  fkm_ctx_last_error(ctx));
    if (!e) continue;
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++) differ += got[i] != base[i];
    ck_assert_msg(differ <= n / 1000, "2^%d: %lld labels differ", e == 1400 ? -700 : e,
                  (long long)differ);
    ck_assert_double_eq_tol(inertia[1], inertia[0], 1e-6 * inertia[0]);
  }
  for (int64_t i = 0; i < n * d; i++) x[i] = ldexp((double)x32[i], -1060); /* subnormal */
  ck_assert_msg(fkm_predict(ctx, &p, c, &o, got, &inertia[1]) == FKM_OK, "%s",
                fkm_ctx_last_error(ctx));
  ck_assert_msg(isfinite(inertia[1]) && inertia[1] > 0.0, "inertia %g", inertia[1]);
  for (int64_t i = 0; i < n; i++) ck_assert(got[i] >= 0 && got[i] < k);
  free(x32), free(c), free(x), free(base), free(got);
}
END_TEST

/* Device pointers in and out, fp16 storage used in place: bitwise equal to the host entry point. */
START_TEST(device_entry_points_match_host) {
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  const int64_t b = 3, n = 5000, d = 64, k = 37;
  size_t count = (size_t)(b * n * d), nc = (size_t)(b * k * d), nl = (size_t)(b * n);
  float *xf = fkm_test_random(&rng, count);
  uint16_t *xh = malloc(count * 2);
  for (size_t i = 0; i < count; i++) xh[i] = fkm__float_to_half(xf[i]);
  fkm_points host = {xh, FKM_DTYPE_FP16, b, n, d};
  gcase c = {b, n, d, k, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}};
  fkm_options opt = case_options(&c, NULL, 6);
  float *hc = malloc(nc * 4), *dc_host = malloc(nc * 4);
  int32_t *hl = malloc(nl * 4), *dl_host = malloc(nl * 4);
  double hi[3], di[3];
  fkm_result hr = {.centroids = hc, .labels = hl, .inertia = hi};
  ck_assert_msg(fkm_fit(ctx, &host, &opt, &hr) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  CUdeviceptr dx, dc, dl, din;
  ck_assert(cu->cuMemAlloc(&dx, count * 2) == CUDA_SUCCESS);
  ck_assert(cu->cuMemAlloc(&dc, nc * 4) == CUDA_SUCCESS);
  ck_assert(cu->cuMemAlloc(&dl, nl * 4) == CUDA_SUCCESS);
  ck_assert(cu->cuMemAlloc(&din, 3 * 8) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyHtoDAsync(dx, xh, count * 2, NULL) == CUDA_SUCCESS);
  fkm_points dev = {(const void *)(uintptr_t)dx, FKM_DTYPE_FP16, b, n, d};
  fkm_result dr = {.centroids = (float *)(uintptr_t)dc, .labels = (int32_t *)(uintptr_t)dl, .inertia = (double *)(uintptr_t)din};
  ck_assert_msg(fkm_fit_device(ctx, &dev, &opt, &dr, NULL) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert(cu->cuMemcpyDtoHAsync(dc_host, dc, nc * 4, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyDtoHAsync(dl_host, dl, nl * 4, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyDtoHAsync(di, din, 3 * 8, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuStreamSynchronize(NULL) == CUDA_SUCCESS);
  ck_assert_int_eq(dr.iterations, hr.iterations);
  ck_assert(memcmp(hc, dc_host, nc * 4) == 0);
  ck_assert(memcmp(hl, dl_host, nl * 4) == 0);
  ck_assert(memcmp(hi, di, 3 * 8) == 0);
  memset(dl_host, 0xff, nl * 4);
  ck_assert(fkm_predict_device(ctx, &dev, (const float *)(uintptr_t)dc, &opt,
                               (int32_t *)(uintptr_t)dl, NULL, NULL) == FKM_OK);
  ck_assert(cu->cuMemcpyDtoHAsync(dl_host, dl, nl * 4, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuStreamSynchronize(NULL) == CUDA_SUCCESS);
  ck_assert(memcmp(hl, dl_host, nl * 4) == 0);
  cu->cuMemFree(dx), cu->cuMemFree(dc), cu->cuMemFree(dl), cu->cuMemFree(din);
  free(xf), free(xh), free(hc), free(dc_host), free(hl), free(dl_host);
}
END_TEST

/* FKM_EMPTY_FARTHEST: a centroid far from every point gets none and is re-seeded at the farthest
 * point, as the CPU engine does (labels, centroids equal). Each batch has one clear outlier, so
 * the re-seeded centroid puts no boundary through a blob (no near-ties between the engines). */
START_TEST(farthest_policy_matches_cpu_engine) {
  const int64_t b = 2, n = 3001, d = 6, k = 4;
  float *x = fkm_test_blobs(&rng, b, n, d, 3, 0.5);
  float init[2 * 4 * 6];
  for (int64_t bi = 0; bi < b; bi++) {
    memcpy(init + bi * k * d, x + bi * n * d, (size_t)(3 * d) * sizeof(float)); /* one per blob */
    for (int64_t j = 3 * d; j < k * d; j++) init[bi * k * d + j] = 1000.0f + (float)j; /* far away */
    x[(size_t)((bi * n + 7) * d)] += 40.0f; /* the clear farthest point */
  }
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  gcase c = {b, n, d, k, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}};
  fkm_options opt = case_options(&c, init, 3);
  opt.empty = FKM_EMPTY_FARTHEST;
  float cen[2][2 * 4 * 6];
  int32_t *lab[2] = {malloc((size_t)(b * n) * 4), malloc((size_t)(b * n) * 4)};
  for (int e = 0; e < 2; e++) {
    opt.engine = e ? FKM_ENGINE_CPU : FKM_ENGINE_GPU;
    fkm_result r = {.centroids = cen[e], .labels = lab[e]};
    ck_assert_msg(fkm_fit(ctx, &p, &opt, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  }
  ck_assert(memcmp(lab[0], lab[1], (size_t)(b * n) * 4) == 0);
  double ref[2 * 4 * 6];
  for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) ref[i] = cen[1][i];
  expect_centroids(&c, cen[0], ref);
  for (int64_t bi = 0; bi < b; bi++) { /* re-seeded at the outlier, not kept far away */
    ck_assert_int_eq(lab[0][bi * n + 7], 3);
    ck_assert(cen[0][(bi * k + 3) * d] < 100.0f);
  }
  free(x), free(lab[0]), free(lab[1]);
}
END_TEST

typedef struct {
  int count;
  fkm_iter_report r[16];
} report_log;

static int record_report(const fkm_iter_report *r, void *user) {
  report_log *log = user;
  if (log->count < 16) log->r[log->count++] = *r;
  return 0;
}

/* The per-iteration report (changed labels, empty clusters, shift, inertia) matches the CPU
 * engine's on blobs seeded one point per blob plus one far centroid that stays empty. */
START_TEST(reports_match_cpu_engine) {
  const int64_t b = 2, n = 4001, d = 5, k = 4;
  float *x = fkm_test_blobs(&rng, b, n, d, 3, 0.5);
  float init[2 * 4 * 5];
  for (int64_t bi = 0; bi < b; bi++) {
    memcpy(init + bi * k * d, x + bi * n * d, (size_t)(3 * d) * sizeof(float));
    for (int64_t j = 3 * d; j < k * d; j++) init[bi * k * d + j] = 500.0f;
  }
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  gcase c = {b, n, d, k, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}};
  fkm_options opt = case_options(&c, init, 5);
  report_log log[2] = {{0}, {0}};
  float cen[2 * 4 * 5];
  for (int e = 0; e < 2; e++) {
    opt.engine = e ? FKM_ENGINE_CPU : FKM_ENGINE_GPU;
    opt.on_iter = record_report, opt.on_iter_user = &log[e];
    fkm_result r = {.centroids = cen};
    ck_assert_msg(fkm_fit(ctx, &p, &opt, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  }
  ck_assert_int_eq(log[0].count, log[1].count);
  for (int i = 0; i < log[0].count; i++) {
    const fkm_iter_report *g = &log[0].r[i], *h = &log[1].r[i];
    ck_assert_int_eq(g->iteration, h->iteration);
    ck_assert_int_eq(g->changed, h->changed);
    ck_assert_int_eq(g->empty, h->empty);
    ck_assert(fabs(g->inertia - h->inertia) <= 1e-6 * h->inertia);
    ck_assert(fabs(g->shift - h->shift) <= 1e-5 * (h->shift + 1e-3));
  }
  ck_assert_int_eq(log[0].r[0].changed, b * n);
  ck_assert_int_eq(log[0].r[0].empty, b);
  free(x);
}
END_TEST

/* Tolerance stops early on blobs; the state flag is honoured between groups of iterations. */
START_TEST(tolerance_stops_early) {
  const int64_t n = 30000, d = 8, k = 5;
  float *x = fkm_test_blobs(&rng, 1, n, d, k, 0.3);
  fkm_points p = {x, FKM_DTYPE_FP32, 1, n, d};
  gcase c = {1, n, d, k, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}};
  fkm_options opt = case_options(&c, NULL, 300);
  opt.tol = 1e-3;
  float cen[5 * 8];
  fkm_result r = {.centroids = cen, .labels = NULL, .inertia = NULL};
  ck_assert_msg(fkm_fit(ctx, &p, &opt, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert_int_gt(r.iterations, 0);
  ck_assert_int_lt(r.iterations, 300);
  free(x);
}
END_TEST

/* Clusters of 20 members on average (summed one to a warp), one span and two (D ≤ 256). */
static const gcase small_run_cases[] = {
    {2, 20011, 64, 1000, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 14001, 130, 700, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, FKM_PRECISION_DEFAULT, {0}},
    {1, 12000, 200, 600, FKM_DTYPE_BF16, FKM_METRIC_DOT, 0, FKM_PRECISION_DEFAULT, {0}},
};

/* Small clusters summed one to a warp (fkm_reduce_small_runs) give the segment blocks' sums bit for
 * bit: the same fit with the warps turned off returns the same centroids, labels and inertia, with
 * weights (some zero) and without. */
START_TEST(small_runs_equal_segment_blocks) {
  const gcase *c = &small_run_cases[_i / 2];
  float *x = case_points(c), *c0 = case_centroids(c, x), *w = NULL;
  size_t nl = (size_t)(c->b * c->n), nc = (size_t)(c->b * c->k * c->d);
  if (_i % 2) {
    w = malloc(nl * sizeof(float));
    for (size_t i = 0; i < nl; i++) w[i] = i % 7 == 3 ? 0.0f : (float)fkm_test_uniform(&rng, 0.25, 4.0);
  }
  fkm_points p = {x, FKM_DTYPE_FP32, c->b, c->n, c->d};
  fkm_options opt = case_options(c, c0, 3);
  opt.sample_weight = w;
  float *cen[2] = {malloc(nc * 4), malloc(nc * 4)};
  int32_t *lab[2] = {malloc(nl * 4), malloc(nl * 4)};
  double in[2][2];
  for (int run = 0; run < 2; run++) {
    fkm__gpu_small_runs(run == 0);
    fkm_result r = {.centroids = cen[run], .labels = lab[run], .inertia = in[run]};
    fkm_status st = fkm_fit(ctx, &p, &opt, &r);
    fkm__gpu_small_runs(1);
    ck_assert_msg(st == FKM_OK, "%s", fkm_ctx_last_error(ctx));
    ck_assert_int_eq(r.iterations, 3);
  }
  ck_assert_msg(memcmp(cen[0], cen[1], nc * 4) == 0, "case %d: centroids differ", _i);
  ck_assert_msg(memcmp(lab[0], lab[1], nl * 4) == 0, "case %d: labels differ", _i);
  ck_assert_msg(memcmp(in[0], in[1], (size_t)c->b * 8) == 0, "case %d: inertia differs", _i);
  free(x), free(c0), free(w), free(cen[0]), free(cen[1]), free(lab[0]), free(lab[1]);
}
END_TEST

int main(void) {
  if (!fkm_test_gpu_usable()) return 77;
  int small = getenv("FKM_TEST_SMALL") != NULL; /* sanitizer runs: small shapes only */
  Suite *s = suite_create("gpu_engine");
  TCase *t = tcase_create("core");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 1200);
  /* small: the first three cases cover mma.sync (fp32, narrow fp16) and wgmma (fp16, D=64) */
  tcase_add_loop_test(t, one_iteration_matches_oracle, 0, small ? 3 : CASE_COUNT);
  tcase_add_loop_test(t, iterations_are_deterministic, 0, small ? 3 : CASE_COUNT - 2);
  tcase_add_loop_test(t, predict_more_centroids_than_points, 0, 2);
  tcase_add_test(t, cosine_fp64_at_extreme_scales);
  tcase_add_test(t, farthest_policy_matches_cpu_engine);
  tcase_add_test(t, reports_match_cpu_engine);
  tcase_add_loop_test(t, small_runs_equal_segment_blocks, 0, small ? 2 : 6);
  if (!small) {
    tcase_add_test(t, random_init_matches_cpu_engine);
    tcase_add_loop_test(t, matches_cpu_engine_on_blobs, 0, 3);
    tcase_add_test(t, device_entry_points_match_host);
    tcase_add_test(t, tolerance_stops_early);
  }
  suite_add_tcase(s, t);
  return fkm_test_run(s, 1);
}
