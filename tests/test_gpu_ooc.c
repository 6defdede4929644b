/* Out-of-core GPU fit and predict: host points streamed in chunks under a small device-memory
 * budget give bitwise the in-memory GPU result, for chunk sizes that do not divide N, several
 * batches, weights, restarts, pageable and page-locked points; labels pass the SPEC §2 oracle; bad
 * budgets and unsupported options fail cleanly with nothing written. Label "gpu": exits 77 where
 * no GPU engine can run; runs without fork. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"
#include "internal.h"
#include "oracle.h"
#include "support.h"

static fkm_ctx *ctx;
static uint64_t rng;
static char g_case[256];
/* What the last streaming run logged: its chunk size (0 if it did not stream), its resident and
 * total chunks. */
static long long g_chunk, g_resident, g_chunks;

static void on_log(fkm_log_level level, const char *message, void *user) {
  (void)level, (void)user;
  long long points, chunk, resident, chunks;
  if (sscanf(message,
             "streaming %lld points from %*s host memory in chunks of %lld, %lld of %lld chunks",
             &points, &chunk, &resident, &chunks) == 4)
    g_chunk = chunk, g_resident = resident, g_chunks = chunks;
}

static void setup(void) {
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_log_set(ctx, on_log, NULL);
  rng = fkm_test_seed() ^ 0x3c6ef372fe94f82bull;
}
static void release_context(void);
static void teardown(void) {
  release_context();
  fkm_ctx_free(ctx);
}

typedef struct ooc_case {
  int64_t b, n, d, k;
  fkm_dtype storage, compute;
  fkm_metric metric;
  int weights, n_init, pinned;
  size_t budget; /* bytes, below half the in-memory workspace; the case also runs at 1.5× this
                    budget (another chunk size) */
} ooc_case;

static const ooc_case cases[] = {
    {1, 100003, 128, 50, FKM_DTYPE_FP16, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, 1, 0, 8u << 20},
    {1, 100003, 128, 50, FKM_DTYPE_FP16, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, 1, 1, 8u << 20},
    {3, 30001, 37, 20, FKM_DTYPE_FP32, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, 1, 0, 2u << 20},
    {2, 50000, 64, 33, FKM_DTYPE_FP32, FKM_DTYPE_BF16, FKM_METRIC_COSINE, 1, 1, 0, 4u << 20},
    {1, 70001, 96, 64, FKM_DTYPE_FP16, FKM_DTYPE_FP16, FKM_METRIC_DOT, 0, 3, 0, 4u << 20},
    {1, 65536, 128, 300, FKM_DTYPE_FP16, FKM_DTYPE_FP16, FKM_METRIC_L2, 1, 1, 1, 6u << 20},
};

/* Retains device 0's primary context (the one fkm uses) and makes it current on this thread, for
 * the test's own page-locked buffers; teardown releases it after they are freed. */
static CUcontext g_context; /* retained by the test, NULL when not */
static const fkm__cuda_api *current_context(void) {
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  CUdevice dev;
  ck_assert(cu && cu->cuDeviceGet(&dev, 0) == CUDA_SUCCESS);
  if (!g_context) ck_assert(cu->cuDevicePrimaryCtxRetain(&g_context, dev) == CUDA_SUCCESS);
  ck_assert(cu->cuCtxSetCurrent(g_context) == CUDA_SUCCESS);
  return cu;
}

static void release_context(void) {
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  CUdevice dev;
  if (g_context && cu && cu->cuDeviceGet(&dev, 0) == CUDA_SUCCESS) cu->cuDevicePrimaryCtxRelease(dev);
  g_context = NULL;
}

/* Host buffers of one case: fp32 values, the points in the storage dtype (page-locked when the
 * case asks), optional integer weights 0..3 (some zero). */
typedef struct data {
  float *x32;
  void *x;
  float *w;
  int pinned;
} data;

static data make_data(const ooc_case *c) {
  size_t count = (size_t)(c->b * c->n * c->d), bytes = count * fkm__dtype_size(c->storage);
  data v = {fkm_test_blobs(&rng, c->b, c->n, c->d, c->k, 0.6), NULL, NULL, c->pinned};
  if (c->pinned)
    ck_assert(current_context()->cuMemAllocHost(&v.x, bytes) == CUDA_SUCCESS);
  else
    v.x = malloc(bytes);
  for (size_t i = 0; i < count; i++)
    if (c->storage == FKM_DTYPE_FP16)
      ((uint16_t *)v.x)[i] = fkm__float_to_half(v.x32[i]);
    else
      ((float *)v.x)[i] = v.x32[i];
  if (c->weights) {
    v.w = malloc((size_t)(c->b * c->n) * sizeof(float));
    for (int64_t i = 0; i < c->b * c->n; i++) v.w[i] = (float)(int)fkm_test_uniform(&rng, 0.0, 4.0);
  }
  return v;
}

static void free_data(data *v) {
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  if (v->pinned)
    cu->cuMemFreeHost(v->x);
  else
    free(v->x);
  free(v->x32);
  free(v->w);
}

static fkm_options case_options(const ooc_case *c, const data *v, size_t budget) {
  fkm_options o;
  fkm_options_init(&o);
  o.k = c->k, o.metric = c->metric, o.dtype = c->compute, o.engine = FKM_ENGINE_GPU;
  o.max_iter = 8, o.tol = c->n_init > 1 ? 1e-4 : 0.0, o.seed = rng, o.n_init = c->n_init;
  o.sample_weight = v->w;
  o.device_memory_budget = budget;
  return o;
}

/* One fit's outputs, poisoned so an unwritten element shows. */
typedef struct out {
  float *c;
  int32_t *labels;
  double inertia[4];
  int iterations;
  long long chunk, resident, chunks;
} out;

static out fit(const fkm_points *p, const fkm_options *o) {
  size_t nc = (size_t)(p->batches * o->k * p->d), nl = (size_t)(p->batches * p->n);
  out f = {malloc(nc * sizeof(float)), malloc(nl * sizeof(int32_t)), {NAN, NAN, NAN, NAN}, -1, 0,
           0, 0};
  for (size_t i = 0; i < nc; i++) f.c[i] = NAN;
  memset(f.labels, 0xff, nl * sizeof(int32_t));
  fkm_result r = {.centroids = f.c, .labels = f.labels, .inertia = f.inertia};
  g_chunk = 0;
  fkm_status s = fkm_fit(ctx, p, o, &r);
  ck_assert_msg(s == FKM_OK, "%s: %s", g_case, fkm_ctx_last_error(ctx));
  f.iterations = r.iterations;
  f.chunk = g_chunk, f.resident = g_resident, f.chunks = g_chunks;
  return f;
}

static void out_free(out *f) { free(f->c), free(f->labels); }

static void expect_same(const fkm_points *p, int64_t k, const out *a, const out *b) {
  size_t nc = (size_t)(p->batches * k * p->d), nl = (size_t)(p->batches * p->n);
  ck_assert_msg(memcmp(a->c, b->c, nc * sizeof(float)) == 0, "%s: centroids differ", g_case);
  ck_assert_msg(memcmp(a->labels, b->labels, nl * 4) == 0, "%s: labels differ", g_case);
  ck_assert_msg(memcmp(a->inertia, b->inertia, (size_t)p->batches * 8) == 0, "%s: inertia differs",
                g_case);
  ck_assert_int_eq(a->iterations, b->iterations);
}

/* Streamed labels pass the oracle against the streamed centroids; inertia (unweighted) agrees. */
static void expect_oracle(const ooc_case *c, const data *v, const out *f) {
  fkm_points p32 = {v->x32, FKM_DTYPE_FP32, c->b, c->n, c->d};
  oracle_problem op;
  oracle_init(&op, &p32, c->k, c->metric, c->compute, FKM_PRECISION_DEFAULT);
  int64_t ties = 0, bad = oracle_check_labels(&op, f->c, f->labels, 1, &ties);
  ck_assert_msg(bad == 0, "%s: %lld labels rejected by the oracle", g_case, (long long)bad);
  if (!v->w && c->metric == FKM_METRIC_L2) {
    double want[4];
    oracle_inertia(&op, f->c, f->labels, want);
    for (int64_t b = 0; b < c->b; b++)
      ck_assert_msg(fabs(f->inertia[b] - want[b]) <= 1e-6 * want[b], "%s: inertia %.17g, want %.17g",
                    g_case, f->inertia[b], want[b]);
  }
  oracle_free(&op);
}

START_TEST(streamed_fit_equals_in_memory) {
  const ooc_case *c = &cases[_i];
  data v = make_data(c);
  fkm_points p = {v.x, c->storage, c->b, c->n, c->d};
  snprintf(g_case, sizeof g_case, "case %d (B=%lld N=%lld D=%lld K=%lld %s %s%s%s)", _i,
           (long long)c->b, (long long)c->n, (long long)c->d, (long long)c->k,
           fkm__metric_name(c->metric), c->pinned ? "page-locked" : "pageable",
           c->weights ? ", weights" : "", c->n_init > 1 ? ", restarts" : "");
  fkm_options whole = case_options(c, &v, 0);
  out ref = fit(&p, &whole);
  ck_assert_msg(ref.chunk == 0, "%s: the in-memory run streamed", g_case);
  for (int larger = 0; larger < 2; larger++) {
    fkm_options o = case_options(c, &v, c->budget + (larger ? c->budget / 2 : 0));
    out got = fit(&p, &o);
    ck_assert_msg(got.chunk > 0 && got.chunk < c->n, "%s: budget %zu: chunk %lld of N=%lld",
                  g_case, o.device_memory_budget, got.chunk, (long long)c->n);
    ck_assert_msg(got.resident < got.chunks, "%s: budget %zu: all %lld chunks resident", g_case,
                  o.device_memory_budget, got.chunks);
    ck_assert_msg(_i != 0 || got.resident > 0, "%s: no chunk resident", g_case);
    ck_assert_msg(got.chunk % 512 == 0, "%s: chunk %lld not whole spans", g_case, got.chunk);
    expect_same(&p, c->k, &got, &ref);
    if (!larger) expect_oracle(c, &v, &got);
    out_free(&got);
  }
  out_free(&ref);
  free_data(&v);
}
END_TEST

/* A streamed fit asked for centroids alone (no labels, no inertia: no final pass) returns the
 * centroids and iterations of the full fit, bitwise. */
START_TEST(centroids_alone_equal_the_full_fit) {
  const ooc_case *c = &cases[0];
  data v = make_data(c);
  fkm_points p = {v.x, c->storage, c->b, c->n, c->d};
  snprintf(g_case, sizeof g_case, "centroids alone (B=%lld N=%lld)", (long long)c->b, (long long)c->n);
  fkm_options o = case_options(c, &v, c->budget);
  out full = fit(&p, &o);
  size_t nc = (size_t)(c->b * c->k * c->d);
  float *alone = malloc(nc * sizeof(float));
  for (size_t i = 0; i < nc; i++) alone[i] = NAN;
  fkm_result r = {.centroids = alone};
  g_chunk = 0;
  ck_assert_msg(fkm_fit(ctx, &p, &o, &r) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert_msg(g_chunk > 0, "%s: did not stream", g_case);
  ck_assert_int_eq(r.iterations, full.iterations);
  ck_assert_msg(memcmp(alone, full.c, nc * sizeof(float)) == 0, "%s: centroids differ", g_case);
  free(alone);
  out_free(&full);
  free_data(&v);
}
END_TEST

/* Streamed predict: labels and inertia equal the in-memory predict's. */
START_TEST(streamed_predict_equals_in_memory) {
  const ooc_case *c = &cases[2];
  data v = make_data(c);
  fkm_points p = {v.x, c->storage, c->b, c->n, c->d};
  snprintf(g_case, sizeof g_case, "predict");
  size_t nc = (size_t)(c->b * c->k * c->d), nl = (size_t)(c->b * c->n);
  float *cent = fkm_test_random(&rng, nc);
  int32_t *l0 = malloc(nl * 4), *l1 = malloc(nl * 4);
  double i0[3], i1[3];
  fkm_options o = case_options(c, &v, 0);
  ck_assert(fkm_predict(ctx, &p, cent, &o, l0, i0) == FKM_OK);
  o.device_memory_budget = c->budget;
  g_chunk = 0;
  ck_assert_msg(fkm_predict(ctx, &p, cent, &o, l1, i1) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert(g_chunk > 0 && g_chunk < c->n);
  ck_assert(memcmp(l0, l1, nl * 4) == 0);
  ck_assert(memcmp(i0, i1, sizeof i0) == 0);
  free(cent), free(l0), free(l1);
  free_data(&v);
}
END_TEST

/* A budget below one span of points, and k-means++ or the farthest policy when streaming: a clear
 * error, and nothing written. */
START_TEST(refusals_write_nothing) {
  const ooc_case *c = &cases[0];
  data v = make_data(c);
  fkm_points p = {v.x, c->storage, c->b, c->n, c->d};
  size_t nc = (size_t)(c->k * c->d), nl = (size_t)c->n;
  const fkm_status want[3] = {FKM_ERR_DEVICE_MEMORY, FKM_ERR_UNSUPPORTED, FKM_ERR_UNSUPPORTED};
  for (int i = 0; i < 3; i++) {
    fkm_options o = case_options(c, &v, i == 0 ? 64u << 10 : c->budget);
    if (i == 1) o.init = FKM_INIT_KMEANSPP;
    if (i == 2) o.empty = FKM_EMPTY_FARTHEST;
    float *cent = malloc(nc * 4);
    int32_t *labels = malloc(nl * 4);
    double inertia = NAN;
    for (size_t j = 0; j < nc; j++) cent[j] = NAN;
    memset(labels, 0xff, nl * 4);
    fkm_result r = {.centroids = cent, .labels = labels, .inertia = &inertia};
    fkm_status s = fkm_fit(ctx, &p, &o, &r);
    ck_assert_msg(s == want[i], "refusal %d: %s (%s)", i, fkm_status_name(s), fkm_ctx_last_error(ctx));
    ck_assert_msg(strstr(fkm_ctx_last_error(ctx), i == 0 ? "budget" : "stream") != NULL,
                  "refusal %d: unclear message '%s'", i, fkm_ctx_last_error(ctx));
    for (size_t j = 0; j < nc; j++) ck_assert(isnan(cent[j]));
    for (size_t j = 0; j < nl; j++) ck_assert_int_eq(labels[j], -1);
    ck_assert(isnan(inertia));
    free(cent), free(labels);
  }
  free_data(&v);
}
END_TEST

/* fkm_workspace_size: at least the labels, sort buffers and centroids it must hold, growing with N
 * and K, smaller for device points already in the compute layout; bad arguments refused. */
START_TEST(workspace_size_counts_the_buffers) {
  static const char dummy = 0;
  fkm_points p = {&dummy, FKM_DTYPE_FP16, 2, 100000, 128};
  fkm_options o;
  fkm_options_init(&o);
  o.k = 1000, o.engine = FKM_ENGINE_GPU;
  size_t a = 0, b = 0, c = 0, d = 0;
  ck_assert_msg(fkm_workspace_size(ctx, &p, &o, &a) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert(a >= (size_t)(p.batches * p.n) * 8 + (size_t)(p.batches * o.k * p.d) * 4);
  p.n *= 2;
  ck_assert(fkm_workspace_size(ctx, &p, &o, &b) == FKM_OK && b > a);
  o.k *= 2;
  ck_assert(fkm_workspace_size(ctx, &p, &o, &c) == FKM_OK && c > b);
  p.dtype = FKM_DTYPE_FP32; /* converted into an fp16 copy on the device */
  o.dtype = FKM_DTYPE_FP16;
  ck_assert(fkm_workspace_size(ctx, &p, &o, &d) == FKM_OK);
  ck_assert(d >= c + (size_t)(p.batches * p.n * p.d) * 2);
  ck_assert_int_eq(fkm_workspace_size(ctx, &p, &o, NULL), FKM_ERR_INVALID_ARG);
  o.k = p.n + 1;
  ck_assert_int_eq(fkm_workspace_size(ctx, &p, &o, &d), FKM_ERR_INVALID_ARG);
}
END_TEST

int main(void) {
  if (!fkm_test_gpu_usable()) return 77;
  int small = getenv("FKM_TEST_SMALL") != NULL; /* sanitizer runs: one case of each kind */
  Suite *s = suite_create("gpu_ooc");
  TCase *t = tcase_create("core");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 1200);
  tcase_add_loop_test(t, streamed_fit_equals_in_memory, 0,
                      small ? 1 : (int)(sizeof cases / sizeof cases[0]));
  tcase_add_test(t, centroids_alone_equal_the_full_fit);
  tcase_add_test(t, streamed_predict_equals_in_memory);
  tcase_add_test(t, refusals_write_nothing);
  tcase_add_test(t, workspace_size_counts_the_buffers);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 1);
}
