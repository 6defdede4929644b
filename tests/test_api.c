/* Public API: argument validation of fkm_fit / fkm_predict (CPU engine), what the GPU engine
 * refuses by name (fkm__gpu_supports), status names and messages, option defaults, version. Every
 * refused call must return the right status, leave a detail text naming the problem and write
 * nothing to the outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fkm_version.h"
#include "internal.h"
#include "support.h"

#define B 2
#define N 20
#define D 3
#define K 4
#define SENTINEL_F 12345.5f
#define SENTINEL_L (-7)
#define SENTINEL_D (-99.25)

/* A valid call that each test then breaks in one way. */
typedef struct {
  fkm_ctx *ctx;
  float x[B * N * D];
  uint16_t x16[B * N * D]; /* fp16 copy of x */
  float init[B * K * D];
  fkm_points p;
  fkm_options o;
  float c[B * K * D];
  int32_t labels[B * N];
  double inertia[B];
  fkm_result r;
} fixture;

static fixture *fx;

static void poison(fixture *f) {
  for (int i = 0; i < B * K * D; i++) f->c[i] = SENTINEL_F;
  for (int i = 0; i < B * N; i++) f->labels[i] = SENTINEL_L;
  for (int i = 0; i < B; i++) f->inertia[i] = SENTINEL_D;
  f->r = (fkm_result){.centroids = f->c,
                      .labels = f->labels,
                      .inertia = f->inertia,
                      .iterations = -3,
                      .engine = FKM_ENGINE_AUTO};
}

static void setup(void) {
  fx = calloc(1, sizeof *fx);
  ck_assert_int_eq(fkm_ctx_create(&fx->ctx), FKM_OK);
  uint64_t state = fkm_test_seed() ^ 0xa11ull;
  for (int i = 0; i < B * N * D; i++) {
    fx->x[i] = (float)fkm_test_uniform(&state, -4.0, 4.0);
    fx->x16[i] = 0x3c00; /* 1.0 */
  }
  for (int i = 0; i < B * K * D; i++) fx->init[i] = (float)fkm_test_uniform(&state, -4.0, 4.0);
  fx->p = (fkm_points){fx->x, FKM_DTYPE_FP32, B, N, D};
  fkm_options_init(&fx->o);
  fx->o.k = K;
  fx->o.engine = FKM_ENGINE_CPU;
  fx->o.max_iter = 5;
  poison(fx);
}

static void teardown(void) {
  fkm_ctx_free(fx->ctx);
  free(fx);
}

static void assert_untouched(const fixture *f) {
  for (int i = 0; i < B * K * D; i++) ck_assert_float_eq(f->c[i], SENTINEL_F);
  for (int i = 0; i < B * N; i++) ck_assert_int_eq(f->labels[i], SENTINEL_L);
  for (int i = 0; i < B; i++) ck_assert_double_eq(f->inertia[i], SENTINEL_D);
  ck_assert_int_eq(f->r.iterations, -3);
  ck_assert_int_eq(f->r.engine, FKM_ENGINE_AUTO);
}

/* The error text is non-empty and contains needle. */
static void assert_detail(const fkm_ctx *ctx, const char *needle) {
  const char *err = fkm_ctx_last_error(ctx);
  ck_assert_msg(err[0] != '\0', "no error detail");
  ck_assert_msg(strstr(err, needle) != NULL, "detail \"%s\" lacks \"%s\"", err, needle);
}

/* fkm_fit with the fixture's (broken) arguments must fail with want, naming needle. */
static void expect_fit(fkm_status want, const char *needle) {
  fkm_status s = fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r);
  ck_assert_msg(s == want, "fit: %s, expected %s (%s)", fkm_status_name(s), fkm_status_name(want),
                fkm_ctx_last_error(fx->ctx));
  assert_detail(fx->ctx, needle);
  assert_untouched(fx);
}

static void expect_predict(fkm_status want, const char *needle, const float *centroids) {
  fkm_status s = fkm_predict(fx->ctx, &fx->p, centroids, &fx->o, fx->labels, fx->inertia);
  ck_assert_msg(s == want, "predict: %s, expected %s (%s)", fkm_status_name(s),
                fkm_status_name(want), fkm_ctx_last_error(fx->ctx));
  assert_detail(fx->ctx, needle);
  assert_untouched(fx);
}

START_TEST(valid_call_succeeds) {
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_OK);
  ck_assert_str_eq(fkm_ctx_last_error(fx->ctx), "");
  ck_assert_int_eq(fx->r.engine, FKM_ENGINE_CPU);
  for (int i = 0; i < B * N; i++) ck_assert(fx->labels[i] >= 0 && fx->labels[i] < K);
  for (int i = 0; i < B; i++) ck_assert(fx->inertia[i] >= 0.0 && fx->inertia[i] != SENTINEL_D);
}
END_TEST

START_TEST(error_text_cleared_by_next_call) {
  fx->o.k = 0;
  expect_fit(FKM_ERR_INVALID_ARG, "k");
  fx->o.k = K;
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_OK);
  ck_assert_str_eq(fkm_ctx_last_error(fx->ctx), "");
}
END_TEST

START_TEST(null_arguments) {
  ck_assert_int_eq(fkm_fit(NULL, &fx->p, &fx->o, &fx->r), FKM_ERR_INVALID_ARG);
  assert_untouched(fx);
  ck_assert_int_eq(fkm_predict(NULL, &fx->p, fx->init, &fx->o, fx->labels, fx->inertia),
                   FKM_ERR_INVALID_ARG);
  assert_untouched(fx);
  ck_assert_int_eq(fkm_fit(fx->ctx, NULL, &fx->o, &fx->r), FKM_ERR_INVALID_ARG);
  assert_detail(fx->ctx, "points");
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, NULL, &fx->r), FKM_ERR_INVALID_ARG);
  assert_detail(fx->ctx, "options");
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, NULL), FKM_ERR_INVALID_ARG);
  assert_detail(fx->ctx, "result");
  assert_untouched(fx);
  fx->p.data = NULL;
  expect_fit(FKM_ERR_INVALID_ARG, "points");
}
END_TEST

START_TEST(null_centroid_buffer) {
  fx->r.centroids = NULL;
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_ERR_INVALID_ARG);
  assert_detail(fx->ctx, "centroids");
  fx->r.centroids = fx->c;
  assert_untouched(fx);
}
END_TEST

START_TEST(bad_point_dtype) {
  const fkm_dtype bad[] = {FKM_DTYPE_AUTO, (fkm_dtype)5, (fkm_dtype)-1};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fx->p.dtype = bad[i];
    expect_fit(FKM_ERR_INVALID_ARG, "dtype");
  }
}
END_TEST

START_TEST(bad_shape) {
  const int64_t bad[] = {0, -1};
  for (int which = 0; which < 3; which++) {
    for (size_t i = 0; i < 2; i++) {
      fx->p = (fkm_points){fx->x, FKM_DTYPE_FP32, B, N, D};
      if (which == 0) fx->p.batches = bad[i];
      if (which == 1) fx->p.n = bad[i];
      if (which == 2) fx->p.d = bad[i];
      expect_fit(FKM_ERR_INVALID_ARG, "shape");
    }
  }
}
END_TEST

START_TEST(bad_k) {
  fx->o.k = 0;
  expect_fit(FKM_ERR_INVALID_ARG, "k = 0");
  fx->o.k = -2;
  expect_fit(FKM_ERR_INVALID_ARG, "k = -2");
  fx->o.k = N + 1;
  expect_fit(FKM_ERR_INVALID_ARG, "k = 21");
}
END_TEST

/* A fit over several devices of the process: the device list and what such a fit does not take
 * are checked before any GPU or NCCL use. */
START_TEST(bad_device_lists) {
  static const int twice[3] = {0, 1, 0}, negative[2] = {0, -1}, two[2] = {0, 1};
  fx->o.engine = FKM_ENGINE_GPU;
  fx->p.batches = 1;
  fx->o.num_devices = 2;
  expect_fit(FKM_ERR_INVALID_ARG, "devices is NULL");
  fx->o.devices = twice, fx->o.num_devices = 3;
  expect_fit(FKM_ERR_INVALID_ARG, "device 0 is listed twice");
  fx->o.devices = negative, fx->o.num_devices = 2;
  expect_fit(FKM_ERR_INVALID_ARG, "devices[1] = -1");
  fx->o.devices = two, fx->o.num_devices = -1;
  expect_fit(FKM_ERR_INVALID_ARG, "num_devices = -1");
  fx->o.num_devices = 2;
  fx->o.engine = FKM_ENGINE_CPU;
  expect_fit(FKM_ERR_INVALID_ARG, "GPU engine");
  fx->o.engine = FKM_ENGINE_GPU;
  fx->p.batches = B;
  expect_fit(FKM_ERR_UNSUPPORTED, "B = 2");
  fx->p.batches = 1;
  fx->o.init = FKM_INIT_KMEANSPP;
  expect_fit(FKM_ERR_UNSUPPORTED, "k-means++");
  fx->o.init = FKM_INIT_RANDOM, fx->o.empty = FKM_EMPTY_FARTHEST;
  expect_fit(FKM_ERR_UNSUPPORTED, "farthest");
  fx->o.empty = FKM_EMPTY_KEEP, fx->o.tol_relative = 1;
  expect_fit(FKM_ERR_UNSUPPORTED, "tol_relative");
  fx->o.tol_relative = 0, fx->o.tune = 1;
  expect_fit(FKM_ERR_UNSUPPORTED, "tune");
  fx->o.tune = 0;
  ck_assert_int_eq(fkm_fit_device(fx->ctx, &fx->p, &fx->o, &fx->r, NULL), FKM_ERR_INVALID_ARG);
  assert_detail(fx->ctx, "opts->comm");
  assert_untouched(fx);
}
END_TEST

/* Several devices of which the first, the one a fit of so few points uses, is missing (999, on any
 * machine): the GPU engine says so before any NCCL use (it reported an NCCL failure), writing
 * nothing; AUTO runs the whole fit on the CPU engine. */
START_TEST(missing_devices_are_named_or_left_to_the_cpu) {
  static const int devices[2] = {999, 0};
  fx->p.batches = 1, fx->o.devices = devices, fx->o.num_devices = 2;
  fx->o.engine = FKM_ENGINE_GPU;
  fkm_status s = fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r);
  ck_assert_msg(s != FKM_OK && s != FKM_ERR_COMM, "%s: %s", fkm_status_name(s),
                fkm_ctx_last_error(fx->ctx));
  assert_untouched(fx);
  fx->o.engine = FKM_ENGINE_AUTO;
  ck_assert_msg(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r) == FKM_OK, "%s",
                fkm_ctx_last_error(fx->ctx));
  ck_assert_int_eq(fx->r.engine, FKM_ENGINE_CPU);
}
END_TEST

START_TEST(unknown_enums) {
  fx->o.metric = (fkm_metric)3;
  expect_fit(FKM_ERR_INVALID_ARG, "metric");
  fx->o.metric = (fkm_metric)-1;
  expect_fit(FKM_ERR_INVALID_ARG, "metric");
  fx->o.metric = FKM_METRIC_L2;
  fx->o.init = (fkm_init)3;
  expect_fit(FKM_ERR_INVALID_ARG, "init");
  fx->o.init = FKM_INIT_RANDOM;
  fx->o.engine = (fkm_engine)3;
  expect_fit(FKM_ERR_INVALID_ARG, "engine");
  fx->o.engine = FKM_ENGINE_CPU;
  fx->o.empty = (fkm_empty_policy)2;
  expect_fit(FKM_ERR_INVALID_ARG, "empty-cluster policy");
  fx->o.empty = FKM_EMPTY_KEEP;
  fx->o.dtype = (fkm_dtype)7;
  expect_fit(FKM_ERR_INVALID_ARG, "dtype");
  fx->o.dtype = FKM_DTYPE_AUTO;
  fx->o.precision = (fkm_precision)2;
  expect_fit(FKM_ERR_INVALID_ARG, "precision");
}
END_TEST

START_TEST(bad_numbers) {
  fx->o.max_iter = -1;
  expect_fit(FKM_ERR_INVALID_ARG, "max_iter");
  fx->o.max_iter = 5;
  fx->o.tol = NAN;
  expect_fit(FKM_ERR_INVALID_ARG, "tol");
  fx->o.tol = 1e-4;
  fx->o.n_init = 0;
  expect_fit(FKM_ERR_INVALID_ARG, "n_init");
  fx->o.n_init = 1;
  fx->o.device = -1;
  expect_fit(FKM_ERR_INVALID_ARG, "device");
}
END_TEST

START_TEST(given_init_without_centroids) {
  fx->o.init = FKM_INIT_GIVEN;
  expect_fit(FKM_ERR_INVALID_ARG, "init_centroids");
}
END_TEST

START_TEST(nonfinite_points) {
  const float bad[] = {NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < 3; i++) {
    float keep = fx->x[B * N * D - 1];
    fx->x[B * N * D - 1] = bad[i];
    expect_fit(FKM_ERR_NONFINITE, "points");
    expect_predict(FKM_ERR_NONFINITE, "points", fx->init);
    fx->x[B * N * D - 1] = keep;
  }
  fx->p = (fkm_points){fx->x16, FKM_DTYPE_FP16, B, N, D};
  fx->x16[7] = 0x7c00; /* +Inf in fp16 */
  expect_fit(FKM_ERR_NONFINITE, "points");
  fx->x16[7] = 0x7e00; /* NaN in fp16 */
  expect_fit(FKM_ERR_NONFINITE, "points");
}
END_TEST

/* The threaded exponent-bit check on arrays past one thread's share: every dtype, NaN and Inf
 * anywhere, two of them in different threads' ranges: the lower index is named. */
START_TEST(nonfinite_found_in_large_arrays) {
  static const fkm_dtype types[] = {FKM_DTYPE_FP16, FKM_DTYPE_BF16, FKM_DTYPE_FP32, FKM_DTYPE_FP64};
  static const uint64_t inf_bits[] = {0x7c00u, 0x7f80u, 0x7f800000u, 0x7ff0000000000000ull};
  fkm_dtype t = types[_i];
  size_t count = ((size_t)2 << 24) + 77, size = fkm__dtype_size(t); /* past one thread's share */
  unsigned char *x = calloc(count, size);
  uint64_t state = fkm_test_seed() + (uint64_t)_i;
  ck_assert_ptr_nonnull(x);
  ck_assert_int_eq(fkm__check_finite(fx->ctx, x, t, count, FKM_DTYPE_AUTO, 0, "points"), FKM_OK);
  size_t hi = (size_t)fkm_test_uniform(&state, (double)count / 2, (double)count);
  size_t lo = (size_t)fkm_test_uniform(&state, 0, (double)count / 4);
  uint64_t nan_bits = inf_bits[_i] | 1; /* a NaN: exponent all ones, mantissa not zero */
  memcpy(x + hi * size, &nan_bits, size);
  ck_assert_int_eq(fkm__check_finite(fx->ctx, x, t, count, FKM_DTYPE_AUTO, 0, "points"), FKM_ERR_NONFINITE);
  memcpy(x + lo * size, &inf_bits[_i], size);
  fkm__clear_error(fx->ctx); /* the context keeps the first failure's detail */
  ck_assert_int_eq(fkm__check_finite(fx->ctx, x, t, count, FKM_DTYPE_AUTO, 0, "points"), FKM_ERR_NONFINITE);
  char want[64];
  snprintf(want, sizeof want, "points: element %zu is", lo);
  assert_detail(fx->ctx, want);
  free(x);
}
END_TEST

/* A fit of the fixture's arguments that must succeed (outputs written, no error detail). */
static void expect_fit_ok(void) {
  ck_assert_msg(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r) == FKM_OK, "%s",
                fkm_ctx_last_error(fx->ctx));
  ck_assert_str_eq(fkm_ctx_last_error(fx->ctx), "");
  poison(fx);
}

/* Finite values that the compute dtype rounds to Inf are refused like NaN and Inf, naming the
 * element, its value and the dtype: fp32 points and given centroids at 65520 under fp16 (65519
 * rounds to 65504 and fits), bf16 points at 65536 (the next bf16 below is 65280); the same
 * values fit when computed in bf16 or fp32, and under cosine, whose rows are scaled first. */
START_TEST(values_past_the_compute_range) {
  fx->o.dtype = FKM_DTYPE_FP16;
  fx->x[5] = -65520.0f;
  expect_fit(FKM_ERR_NONFINITE, "points: element 5 (-65520) rounds to Inf in the fp16");
  expect_predict(FKM_ERR_NONFINITE, "points: element 5", fx->init);
  fx->x[5] = 65519.0f;
  expect_fit_ok();
  fx->x[5] = 1e30f;
  fx->o.dtype = FKM_DTYPE_BF16;
  expect_fit_ok();
  fx->o.dtype = FKM_DTYPE_FP16, fx->o.metric = FKM_METRIC_COSINE;
  expect_fit_ok();
  fx->x[5] = 1.0f, fx->o.metric = FKM_METRIC_L2;
  fx->o.init = FKM_INIT_GIVEN, fx->o.init_centroids = fx->init;
  fx->init[2] = 7e4f;
  expect_fit(FKM_ERR_NONFINITE, "init_centroids: element 2");
  expect_predict(FKM_ERR_NONFINITE, "centroids: element 2", fx->init);
  fx->init[2] = 1.0f, fx->o.init = FKM_INIT_RANDOM;
  fx->p = (fkm_points){fx->x16, FKM_DTYPE_BF16, B, N, D};
  for (int i = 0; i < B * N * D; i++) fx->x16[i] = (uint16_t)(0x3f80u + (unsigned)i % 64); /* 1 .. 1.5 */
  fx->x16[9] = 0x477f; /* 65280 */
  expect_fit_ok();
  fx->x16[9] = 0xc780; /* −65536 */
  expect_fit(FKM_ERR_NONFINITE, "points: element 9 (-65536)");
}
END_TEST

/* The GPU sums squares of fp32, bf16 and fp64 rows in fp32: |x| from sqrt(FLT_MAX / (5·D))
 * (4.763e18 at D = 3) on could overflow them and is refused before any device work, naming the
 * element and the bound, for points (l2, dot) and given centroids (also under cosine, whose
 * centroids the GPU scales with fp32 norms), fit and predict, every row dtype; a value below passes
 * the check, and the CPU engine (fp64) and cosine points (scaled in fp64) take the large value. */
START_TEST(values_whose_squares_overflow_the_gpu) {
  const float big = 4.8e18f, below = 4.7e18f;
  fx->o.engine = FKM_ENGINE_GPU;
  fx->x[4] = -big;
  expect_fit(FKM_ERR_NONFINITE, "points: element 4 (-4.8e+18) is too large for the GPU's fp32");
  assert_detail(fx->ctx, "below 4.763e+18");
  expect_predict(FKM_ERR_NONFINITE, "points: element 4", fx->init);
  fx->o.metric = FKM_METRIC_DOT;
  expect_fit(FKM_ERR_NONFINITE, "points: element 4");
  fx->o.metric = FKM_METRIC_L2, fx->x[4] = below;
  ck_assert_int_ne(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_ERR_NONFINITE);
  poison(fx);
  fx->o.engine = FKM_ENGINE_CPU, fx->x[4] = -big;
  expect_fit_ok();
  fx->o.engine = FKM_ENGINE_GPU, fx->o.metric = FKM_METRIC_COSINE;
  ck_assert_int_ne(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_ERR_NONFINITE);
  poison(fx);
  fx->o.metric = FKM_METRIC_L2, fx->x[4] = 1.0f;
  fx->o.init = FKM_INIT_GIVEN, fx->o.init_centroids = fx->init;
  fx->init[7] = big;
  expect_fit(FKM_ERR_NONFINITE, "init_centroids: element 7");
  expect_predict(FKM_ERR_NONFINITE, "centroids: element 7", fx->init);
  fx->o.metric = FKM_METRIC_COSINE;
  expect_fit(FKM_ERR_NONFINITE, "init_centroids: element 7");
  fx->init[7] = 1.0f, fx->o.init = FKM_INIT_RANDOM, fx->o.metric = FKM_METRIC_L2;
  fx->p = (fkm_points){fx->x16, FKM_DTYPE_BF16, B, N, D};
  fx->x16[11] = 0x5e85; /* 4.792e18 in bf16 */
  expect_fit(FKM_ERR_NONFINITE, "points: element 11");
  fx->o.dtype = FKM_DTYPE_FP16; /* rounds to Inf first */
  expect_fit(FKM_ERR_NONFINITE, "rounds to Inf in the fp16");
  fx->o.dtype = FKM_DTYPE_AUTO;
  double x64[B * N * D];
  for (int i = 0; i < B * N * D; i++) x64[i] = fx->x[i];
  x64[13] = -4.77e18;
  fx->p = (fkm_points){x64, FKM_DTYPE_FP64, B, N, D};
  expect_fit(FKM_ERR_NONFINITE, "points: element 13");
}
END_TEST

/* fp64 points on the CPU engine (computed in fp64) must fit fp32, which the centroids are kept and
 * returned in: −1e300 is refused naming the range (it gave Inf centroids), 3e38 fits and its
 * centroids stay finite, and cosine, whose rows are scaled first, takes −1e300. */
START_TEST(fp64_values_past_the_fp32_range) {
  double x64[B * N * D];
  for (int i = 0; i < B * N * D; i++) x64[i] = fx->x[i];
  fx->p = (fkm_points){x64, FKM_DTYPE_FP64, B, N, D};
  x64[6] = -1e300;
  expect_fit(FKM_ERR_NONFINITE, "points: element 6 (-1e+300) is beyond fp32's range");
  expect_predict(FKM_ERR_NONFINITE, "points: element 6", fx->init);
  x64[6] = 3e38;
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_OK);
  for (int i = 0; i < B * K * D; i++) ck_assert_msg(isfinite(fx->c[i]), "centroid value %d", i);
  poison(fx);
  fx->o.metric = FKM_METRIC_COSINE, x64[6] = -1e300;
  expect_fit_ok();
}
END_TEST

START_TEST(nonfinite_given_centroids) {
  fx->o.init = FKM_INIT_GIVEN;
  fx->o.init_centroids = fx->init;
  fx->init[B * K * D - 1] = NAN;
  expect_fit(FKM_ERR_NONFINITE, "init_centroids");
  fx->init[B * K * D - 1] = INFINITY;
  expect_fit(FKM_ERR_NONFINITE, "init_centroids");
}
END_TEST

/* tune takes 0, 1 or 2; the CPU engine has no kernels to tune and fits as usual. */
START_TEST(tune_option_values) {
  fx->o.tune = 3;
  expect_fit(FKM_ERR_INVALID_ARG, "tune");
  fx->o.tune = -1;
  expect_fit(FKM_ERR_INVALID_ARG, "tune");
  fx->o.tune = 1;
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_OK);
  ck_assert_int_eq(fx->r.engine, FKM_ENGINE_CPU);
}
END_TEST

/* k-means++, sample weights and restarts: the GPU engine accepts each, and engine auto runs them
 * (on the CPU where no GPU is usable). */
START_TEST(complete_features_on_every_engine) {
  float w[B * N];
  for (int i = 0; i < B * N; i++) w[i] = 1.0f;
  struct {
    fkm_init init;
    const float *weights;
    int n_init;
  } cases[] = {{FKM_INIT_KMEANSPP, NULL, 1}, {FKM_INIT_RANDOM, w, 1}, {FKM_INIT_KMEANSPP, w, 3}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    fx->o.init = cases[c].init;
    fx->o.sample_weight = cases[c].weights;
    fx->o.n_init = cases[c].n_init;
    ck_assert_int_eq(fkm__gpu_supports(fx->ctx, &fx->p, &fx->o), FKM_OK);
    fx->o.engine = FKM_ENGINE_AUTO;
    poison(fx);
    ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_OK);
    for (int i = 0; i < B * N; i++) ck_assert(fx->labels[i] >= 0 && fx->labels[i] < K);
    fx->o.engine = FKM_ENGINE_CPU;
  }
}
END_TEST

START_TEST(bad_sample_weights) {
  float w[B * N];
  for (int i = 0; i < B * N; i++) w[i] = 1.0f;
  fx->o.sample_weight = w;
  w[B * N - 1] = -0.5f;
  expect_fit(FKM_ERR_INVALID_ARG, "sample_weight: element 39 = -0.5 is negative");
  w[B * N - 1] = NAN;
  expect_fit(FKM_ERR_NONFINITE, "sample_weight");
  w[3] = INFINITY;
  w[B * N - 1] = 1.0f;
  expect_fit(FKM_ERR_NONFINITE, "sample_weight: element 3");
  w[3] = 1.0f;
  for (int i = N; i < B * N - (K - 1); i++) w[i] = 0.0f; /* batch 1: K − 1 positive weights */
  expect_fit(FKM_ERR_INVALID_ARG, "batch 1 has 3 points of positive weight, fewer than k = 4");
  w[N] = 2.0f;
  ck_assert_int_eq(fkm_fit(fx->ctx, &fx->p, &fx->o, &fx->r), FKM_OK);
}
END_TEST

/* predict ignores what only fit reads: the same labels and inertia with and without them. */
START_TEST(predict_ignores_fit_options) {
  ck_assert_int_eq(fkm_predict(fx->ctx, &fx->p, fx->init, &fx->o, fx->labels, fx->inertia), FKM_OK);
  int32_t labels[B * N];
  double inertia[B];
  float w[B * N];
  for (int i = 0; i < B * N; i++) w[i] = (float)(i % 3);
  fx->o.sample_weight = w;
  fx->o.init = FKM_INIT_KMEANSPP;
  fx->o.n_init = 3;
  ck_assert_int_eq(fkm_predict(fx->ctx, &fx->p, fx->init, &fx->o, labels, inertia), FKM_OK);
  ck_assert(memcmp(labels, fx->labels, sizeof labels) == 0);
  ck_assert(memcmp(inertia, fx->inertia, sizeof inertia) == 0);
}
END_TEST

/* predict takes more centroids than points (K > N is a fit's mistake only): each of 3 points of
 * each batch gets its nearest of K = 40 random centroids (fp64 scan, lowest index on ties), with
 * its squared distance summed into the inertia. */
START_TEST(predict_more_centroids_than_points) {
  enum { N3 = 3, K40 = 40 };
  float c[B * K40 * D];
  uint64_t state = fkm_test_seed() ^ 0x9e37ull;
  for (int i = 0; i < B * K40 * D; i++) c[i] = (float)fkm_test_uniform(&state, -4.0, 4.0);
  fx->p.n = N3, fx->o.k = K40;
  ck_assert_int_eq(fkm_predict(fx->ctx, &fx->p, c, &fx->o, fx->labels, fx->inertia), FKM_OK);
  for (int b = 0; b < B; b++) {
    double inertia = 0.0;
    for (int i = 0; i < N3; i++) {
      const float *x = fx->x + ((size_t)b * N3 + i) * D;
      int best = 0;
      double best_d = INFINITY;
      for (int j = 0; j < K40; j++) {
        double dist = 0.0;
        for (int t = 0; t < D; t++) {
          double e = (double)x[t] - c[((size_t)b * K40 + j) * D + t];
          dist += e * e;
        }
        if (dist < best_d) best_d = dist, best = j;
      }
      ck_assert_int_eq(fx->labels[b * N3 + i], best);
      inertia += best_d;
    }
    ck_assert_double_eq_tol(fx->inertia[b], inertia, 1e-9 * inertia);
  }
  poison(fx);
  fx->o.k = N3 + 1; /* fit still refuses K > N */
  expect_fit(FKM_ERR_INVALID_ARG, "must be in [1, N = 3]");
}
END_TEST

START_TEST(restarts_with_given_init) {
  fx->o.init = FKM_INIT_GIVEN;
  fx->o.init_centroids = fx->init;
  fx->o.n_init = 2;
  expect_fit(FKM_ERR_INVALID_ARG, "n_init = 2 with init = given");
  ck_assert_int_eq(fkm_predict(fx->ctx, &fx->p, fx->init, &fx->o, fx->labels, fx->inertia), FKM_OK);
}
END_TEST

START_TEST(predict_arguments) {
  expect_predict(FKM_ERR_INVALID_ARG, "centroids", NULL);
  ck_assert_int_eq(fkm_predict(fx->ctx, &fx->p, fx->init, &fx->o, NULL, fx->inertia),
                   FKM_ERR_INVALID_ARG);
  assert_detail(fx->ctx, "labels");
  assert_untouched(fx);
  fx->o.k = 0;
  expect_predict(FKM_ERR_INVALID_ARG, "k = 0", fx->init);
  fx->o.k = K;
  fx->o.metric = (fkm_metric)9;
  expect_predict(FKM_ERR_INVALID_ARG, "metric", fx->init);
  fx->o.metric = FKM_METRIC_L2;
  fx->p.d = 0;
  expect_predict(FKM_ERR_INVALID_ARG, "shape", fx->init);
  fx->p.d = D;
  fx->init[5] = -INFINITY;
  expect_predict(FKM_ERR_NONFINITE, "centroids", fx->init);
}
END_TEST

START_TEST(predict_valid_call) {
  ck_assert_int_eq(fkm_predict(fx->ctx, &fx->p, fx->init, &fx->o, fx->labels, fx->inertia), FKM_OK);
  for (int i = 0; i < B * N; i++) ck_assert(fx->labels[i] >= 0 && fx->labels[i] < K);
  for (int i = 0; i < B; i++) ck_assert(fx->inertia[i] > 0.0);
}
END_TEST

START_TEST(status_names_and_messages) {
  struct {
    fkm_status s;
    const char *name, *message;
  } all[] = {
#define ROW_(name, value, message) {name, #name, message},
      FKM_STATUS_LIST(ROW_)
#undef ROW_
  };
  size_t count = sizeof all / sizeof all[0];
  ck_assert_uint_eq(count, 17);
  for (size_t i = 0; i < count; i++) {
    ck_assert_int_eq(all[i].s, (int)i); /* values are dense and append-only */
    ck_assert_str_eq(fkm_status_name(all[i].s), all[i].name);
    ck_assert_str_eq(fkm_status_message(all[i].s), all[i].message);
    ck_assert_uint_gt(strlen(all[i].message), 3);
  }
  ck_assert_str_eq(fkm_status_name(FKM_OK), "FKM_OK");
  ck_assert_str_eq(fkm_status_name(FKM_ERR_CANCELLED), "FKM_ERR_CANCELLED");
  ck_assert_str_eq(fkm_status_message(FKM_ERR_NONFINITE), "input holds NaN or Inf");
  const fkm_status unknown[] = {(fkm_status)17, (fkm_status)999, (fkm_status)-1};
  for (size_t i = 0; i < 3; i++) {
    ck_assert_str_eq(fkm_status_name(unknown[i]), "FKM_UNKNOWN_STATUS");
    ck_assert_str_eq(fkm_status_message(unknown[i]), "unknown status");
  }
}
END_TEST

START_TEST(option_defaults) {
  fkm_options o;
  memset(&o, 0x5a, sizeof o);
  fkm_options_init(&o);
  ck_assert_int_eq(o.k, 0);
  ck_assert_int_eq(o.metric, FKM_METRIC_L2);
  ck_assert_int_eq(o.dtype, FKM_DTYPE_AUTO);
  ck_assert_int_eq(o.precision, FKM_PRECISION_DEFAULT);
  ck_assert_int_eq(o.init, FKM_INIT_RANDOM);
  ck_assert_ptr_null(o.init_centroids);
  ck_assert_uint_eq(o.seed, 0);
  ck_assert_int_eq(o.max_iter, 300);
  ck_assert_double_eq(o.tol, 1e-4);
  ck_assert_int_eq(o.tol_relative, 0);
  ck_assert_int_eq(o.empty, FKM_EMPTY_KEEP);
  ck_assert_int_eq(o.engine, FKM_ENGINE_AUTO);
  ck_assert_int_eq(o.device, 0);
  ck_assert_int_eq(o.deterministic, 1);
  ck_assert_int_eq(o.n_init, 1);
  ck_assert_ptr_null(o.sample_weight);
  ck_assert_uint_eq(o.device_memory_budget, 0);
  ck_assert_int_eq(o.tune, 0);
  ck_assert_int_eq(o.config.BLOCK_N | o.config.BLOCK_K | o.config.BLOCK_D | o.config.num_warps |
                       o.config.num_stages | o.config.num_ctas,
                   0);
  ck_assert_int_eq(o.check_every, 8);
  ck_assert_ptr_null(o.on_iter);
  ck_assert_ptr_null(o.on_iter_user);
  ck_assert_ptr_null(o.comm);
  ck_assert_ptr_null(o.devices);
  ck_assert_int_eq(o.num_devices, 0);
  fkm_options_init(NULL); /* accepted, does nothing */
}
END_TEST

START_TEST(version) {
  unsigned major, minor, patch;
  char tail;
  ck_assert_int_eq(sscanf(fkm_version_string(), "%u.%u.%u%c", &major, &minor, &patch, &tail), 3);
  ck_assert_uint_eq(fkm_version(), major * 10000u + minor * 100u + patch);
  ck_assert_str_eq(fkm_version_string(), FKM_VERSION_STRING);
  ck_assert_uint_eq(major, FKM_VERSION_MAJOR);
}
END_TEST

START_TEST(context_basics) {
  ck_assert_int_eq(fkm_ctx_create(NULL), FKM_ERR_INVALID_ARG);
  ck_assert_str_eq(fkm_ctx_last_error(NULL), "");
  ck_assert_str_eq(fkm_ctx_last_error(fx->ctx), "");
  ck_assert_str_eq(fkm_ctx_compile_log(fx->ctx), "");
  fkm_ctx_free(NULL);
}
END_TEST

static Suite *api_suite(void) {
  Suite *s = suite_create("api");
  TCase *tc = tcase_create("validation");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, valid_call_succeeds);
  tcase_add_test(tc, error_text_cleared_by_next_call);
  tcase_add_test(tc, null_arguments);
  tcase_add_test(tc, null_centroid_buffer);
  tcase_add_test(tc, bad_point_dtype);
  tcase_add_test(tc, bad_shape);
  tcase_add_test(tc, bad_k);
  tcase_add_test(tc, unknown_enums);
  tcase_add_test(tc, bad_device_lists);
  tcase_add_test(tc, bad_numbers);
  tcase_add_test(tc, given_init_without_centroids);
  tcase_add_test(tc, nonfinite_points);
  tcase_add_test(tc, nonfinite_given_centroids);
  tcase_add_test(tc, fp64_values_past_the_fp32_range);
  tcase_add_test(tc, missing_devices_are_named_or_left_to_the_cpu);
  tcase_add_test(tc, predict_more_centroids_than_points);
  tcase_add_test(tc, values_past_the_compute_range);
  tcase_add_loop_test(tc, nonfinite_found_in_large_arrays, 0, 4);
  tcase_add_test(tc, tune_option_values);
  tcase_add_test(tc, complete_features_on_every_engine);
  tcase_add_test(tc, values_whose_squares_overflow_the_gpu);
  tcase_add_test(tc, bad_sample_weights);
  tcase_add_test(tc, restarts_with_given_init);
  tcase_add_test(tc, predict_ignores_fit_options);
  tcase_add_test(tc, predict_arguments);
  tcase_add_test(tc, predict_valid_call);
  tcase_add_test(tc, context_basics);
  suite_add_tcase(s, tc);
  TCase *info = tcase_create("info");
  tcase_add_test(info, status_names_and_messages);
  tcase_add_test(info, option_defaults);
  tcase_add_test(info, version);
  suite_add_tcase(s, info);
  return s;
}

int main(void) {
  fkm_test_seed();
  return fkm_test_run(api_suite(), 0);
}
