/* GPU engine: k-means++, sample weights and restarts against the CPU reference engine on fresh
 * random data. Label "gpu": exits 77 where no GPU engine can run; runs without fork. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"
#include "internal.h"
#include "support.h"

static fkm_ctx *ctx;
static uint64_t rng;
static char g_case[256];

static void setup(void) {
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  rng = fkm_test_seed() ^ 0xbb67ae8584caa73bull;
}
static void teardown(void) { fkm_ctx_free(ctx); }

/* One fit's outputs, poisoned before the call so an unwritten element shows. */
typedef struct {
  float *c;
  int32_t *labels;
  double inertia[8];
  int iterations;
} fit_out;

static fit_out fit(const fkm_points *p, const fkm_options *o, fkm_engine engine) {
  size_t nc = (size_t)(p->batches * o->k * p->d), nl = (size_t)(p->batches * p->n);
  fit_out f = {malloc(nc * sizeof(float)), malloc(nl * sizeof(int32_t)), {0}, -1};
  for (size_t i = 0; i < nc; i++) f.c[i] = NAN;
  memset(f.labels, 0xff, nl * sizeof(int32_t));
  for (int b = 0; b < 8; b++) f.inertia[b] = NAN;
  fkm_options oe = *o;
  oe.engine = engine;
  fkm_result r = {.centroids = f.c, .labels = f.labels, .inertia = f.inertia};
  fkm_status s = fkm_fit(ctx, p, &oe, &r);
  ck_assert_msg(s == FKM_OK, "%s (%s engine): %s", g_case, engine == FKM_ENGINE_GPU ? "gpu" : "cpu",
                fkm_ctx_last_error(ctx));
  ck_assert_int_eq(r.engine, engine);
  f.iterations = r.iterations;
  return f;
}

static void fit_free(fit_out *f) {
  free(f->c);
  free(f->labels);
}

static fkm_options options(int64_t k, fkm_metric metric, fkm_dtype dtype, fkm_init init, int iters) {
  fkm_options o;
  fkm_options_init(&o);
  o.k = k, o.metric = metric, o.dtype = dtype, o.init = init;
  o.max_iter = iters, o.tol = 0.0, o.seed = rng;
  return o;
}

static void expect_same(const fkm_points *p, int64_t k, const fit_out *a, const fit_out *b) {
  size_t nc = (size_t)(p->batches * k * p->d), nl = (size_t)(p->batches * p->n);
  ck_assert_msg(memcmp(a->c, b->c, nc * sizeof(float)) == 0, "%s: centroids differ", g_case);
  ck_assert_msg(memcmp(a->labels, b->labels, nl * sizeof(int32_t)) == 0, "%s: labels differ", g_case);
  ck_assert_msg(memcmp(a->inertia, b->inertia, (size_t)p->batches * 8) == 0, "%s: inertia differs",
                g_case);
  ck_assert_int_eq(a->iterations, b->iterations);
}

/* GPU centroids within 1e-5 relative (per centroid) of the CPU engine's. */
static void expect_close(const fkm_points *p, int64_t k, const fit_out *gpu, const fit_out *cpu,
                         double rel) {
  for (int64_t r = 0; r < p->batches * k; r++) {
    double diff = 0.0, norm = 0.0;
    for (int64_t j = 0; j < p->d; j++) {
      double w = cpu->c[r * p->d + j], e = gpu->c[r * p->d + j] - w;
      diff += e * e, norm += w * w;
    }
    ck_assert_msg(sqrt(diff) <= rel * sqrt(norm) + 1e-7 * sqrt((double)p->d),
                  "%s: centroid %lld off by %.3g (norm %.3g)", g_case, (long long)r, sqrt(diff),
                  sqrt(norm));
  }
}

/* Weights [B][N]: uniform in (0.1, 3), with every `zero_every`-th point weighing 0 (0: none). */
static float *random_weights(int64_t count, int zero_every) {
  float *w = malloc((size_t)count * sizeof(float));
  for (int64_t i = 0; i < count; i++)
    w[i] = zero_every && i % zero_every == 3 ? 0.0f : (float)fkm_test_uniform(&rng, 0.1, 3.0);
  return w;
}

typedef struct {
  int64_t b, n, d, k;
  fkm_dtype dtype;
  fkm_metric metric;
  int zero_every; /* weights: 0 none, else one point in zero_every weighs 0; −1 unit weights */
  int distinct;   /* > 0: only this many distinct points per batch */
  double scale;   /* > 0: the points times this */
} pp_case;

/* Shapes crossing the 2048-point chunks, K not a power of two, D = 1 and a padded D, every metric
 * and dtype, weights with zeros, fewer distinct points than K (the Q = 0 rule), and scales at the
 * ends of the fp32 screen's range: fp16 subnormals, and squared distances near 10^37; K past
 * e^7 (more than 8 trials a step); N past what one launch's warps take a tile each. */
static const pp_case pp_cases[] = {
    {1, 5003, 8, 37, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, 0, 0},
    {3, 4099, 1, 9, FKM_DTYPE_FP32, FKM_METRIC_L2, 7, 0, 0},
    {2, 2048, 130, 100, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, 0, 0},
    {1, 6001, 33, 64, FKM_DTYPE_BF16, FKM_METRIC_COSINE, 5, 0, 0},
    {2, 3001, 16, 50, FKM_DTYPE_FP32, FKM_METRIC_DOT, 0, 0, 0},
    {1, 4000, 12, 40, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, 25, 0},
    {1, 20011, 64, 300, FKM_DTYPE_FP16, FKM_METRIC_L2, 3, 0, 0},
    {1, 5000, 24, 60, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, 0, 1e-6},
    {2, 3000, 40, 30, FKM_DTYPE_BF16, FKM_METRIC_L2, 0, 0, 1e17},
    {1, 4001, 17, 45, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, 0, 1e17},
    {1, 3001, 20, 1100, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, 0, 0}, /* 9 trials: two n8 tiles */
    {2, 150001, 16, 40, FKM_DTYPE_BF16, FKM_METRIC_L2, 0, 0, 0}, /* more 32-point tiles than the
                                                                   potential kernel's warps */
};

static float *pp_points(const pp_case *c) {
  float *x = fkm_test_blobs(&rng, c->b, c->n, c->d, c->k / 2 + 1, 1.0);
  for (int64_t i = 0; c->scale > 0 && i < c->b * c->n * c->d; i++) x[i] = (float)(x[i] * c->scale);
  if (c->distinct > 0)
    for (int64_t r = 0; r < c->b * c->n; r++)
      memcpy(x + r * c->d, x + (r / c->n * c->n + r % c->distinct) * c->d,
             (size_t)c->d * sizeof(float));
  return x;
}

/* k-means++ on the GPU picks the CPU engine's points: with max_iter = 0 the centroids are the
 * picked points (bitwise for l2; cosine and dot scale them to unit length in different
 * precisions), and the final labels agree. */
START_TEST(kmeanspp_picks_match_cpu_engine) {
  const pp_case *c = &pp_cases[_i];
  snprintf(g_case, sizeof g_case, "k-means++ case %d (B=%lld N=%lld D=%lld K=%lld %s %s)", _i,
           (long long)c->b, (long long)c->n, (long long)c->d, (long long)c->k,
           fkm__dtype_name(c->dtype), fkm__metric_name(c->metric));
  float *x = pp_points(c), *w = c->zero_every ? random_weights(c->b * c->n, c->zero_every) : NULL;
  fkm_points p = {x, FKM_DTYPE_FP32, c->b, c->n, c->d};
  fkm_options o = options(c->k, c->metric, c->dtype, FKM_INIT_KMEANSPP, 0);
  o.sample_weight = w;
  fit_out g = fit(&p, &o, FKM_ENGINE_GPU), h = fit(&p, &o, FKM_ENGINE_CPU);
  if (c->metric == FKM_METRIC_L2)
    ck_assert_msg(memcmp(g.c, h.c, (size_t)(c->b * c->k * c->d) * sizeof(float)) == 0,
                  "%s: picks differ", g_case);
  else
    expect_close(&p, c->k, &g, &h, 1e-6);
  ck_assert_int_eq(g.iterations, 0);
  fit_free(&g), fit_free(&h);
  free(x), free(w);
}
END_TEST

/* k-means++ on exactly K distinct points recovers every one of them: inertia 0. */
START_TEST(kmeanspp_recovers_k_distinct_points) {
  const int64_t b = 2, n = 3000, d = 7, k = 30;
  pp_case c = {b, n, d, k, FKM_DTYPE_FP32, FKM_METRIC_L2, 0, (int)k, 0};
  snprintf(g_case, sizeof g_case, "k-means++ on %lld distinct points", (long long)k);
  float *x = pp_points(&c);
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  fkm_options o = options(k, FKM_METRIC_L2, FKM_DTYPE_FP32, FKM_INIT_KMEANSPP, 0);
  fit_out g = fit(&p, &o, FKM_ENGINE_GPU);
  for (int64_t bi = 0; bi < b; bi++) ck_assert_double_eq(g.inertia[bi], 0.0);
  fit_free(&g);
  free(x);
}
END_TEST

/* Weights of 1 give bitwise the unweighted result; random init, farthest policy. */
START_TEST(unit_weights_are_bitwise_unweighted) {
  const int64_t b = 2, n = 9001, d = 20, k = 33;
  snprintf(g_case, sizeof g_case, "unit weights");
  float *x = fkm_test_blobs(&rng, b, n, d, 20, 2.0), *w = malloc((size_t)(b * n) * sizeof(float));
  for (int64_t i = 0; i < b * n; i++) w[i] = 1.0f;
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  fkm_options o = options(k, FKM_METRIC_L2, FKM_DTYPE_FP16, FKM_INIT_RANDOM, 12);
  o.empty = FKM_EMPTY_FARTHEST;
  fit_out plain = fit(&p, &o, FKM_ENGINE_GPU);
  o.sample_weight = w;
  fit_out weighted = fit(&p, &o, FKM_ENGINE_GPU);
  expect_same(&p, k, &plain, &weighted);
  fit_free(&plain), fit_free(&weighted);
  free(x), free(w);
}
END_TEST

/* Integer weights (0 to 3) equal repeating each point that many times, from the same given
 * centroids: integer coordinates keep every Σ w·x and Σ w exact, so the centroids are bitwise
 * equal and the labels follow their points. */
START_TEST(integer_weights_repeat_points) {
  const int64_t n = 2000, d = 3, k = 6;
  snprintf(g_case, sizeof g_case, "integer weights");
  float *x = fkm_test_blobs(&rng, 1, n, d, k, 3.0), *w = malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n * d; i++) x[i] = roundf(x[i] * 10.0f);
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++) w[i] = (float)(int)fkm_test_uniform(&rng, 0, 4);
  for (int64_t i = 0; i < n; i++) m += (int64_t)w[i];
  float *rep = malloc((size_t)(m * d) * sizeof(float));
  int64_t *origin = malloc((size_t)m * sizeof(int64_t)), r = 0;
  for (int64_t i = 0; i < n; i++)
    for (int t = 0; t < (int)w[i]; t++, r++) {
      memcpy(rep + r * d, x + i * d, (size_t)d * sizeof(float));
      origin[r] = i;
    }
  fkm_points pw = {x, FKM_DTYPE_FP32, 1, n, d}, pr = {rep, FKM_DTYPE_FP32, 1, m, d};
  fkm_options o = options(k, FKM_METRIC_L2, FKM_DTYPE_FP32, FKM_INIT_GIVEN, 20);
  o.init_centroids = x; /* points 0..5: one per blob */
  o.sample_weight = w;
  fit_out fw = fit(&pw, &o, FKM_ENGINE_GPU);
  o.sample_weight = NULL;
  fit_out fr = fit(&pr, &o, FKM_ENGINE_GPU);
  ck_assert(memcmp(fw.c, fr.c, (size_t)(k * d) * sizeof(float)) == 0);
  ck_assert_int_eq(fw.iterations, fr.iterations);
  ck_assert(fabs(fw.inertia[0] - fr.inertia[0]) <= 1e-12 * fr.inertia[0]);
  for (int64_t i = 0; i < m; i++) ck_assert_int_eq(fr.labels[i], fw.labels[origin[i]]);
  fit_free(&fw), fit_free(&fr);
  free(x), free(w), free(rep), free(origin);
}
END_TEST

/* Weighted fits (weights with zeros) on blobs seeded one point per blob match the CPU engine:
 * labels, centroids (1e-5), inertia (1e-6), iterations; keep and farthest policies, with one
 * centroid far away that stays empty. */
START_TEST(weighted_fit_matches_cpu_engine) {
  const int64_t b = 2, n = 12007, d = 10, k = 9;
  snprintf(g_case, sizeof g_case, "weighted fit, %s policy", _i ? "farthest" : "keep");
  float init[2 * 9 * 10], *x = NULL, *w = NULL;
  fkm_points p = {NULL, FKM_DTYPE_FP32, b, n, d};
  fkm_options o = options(k, FKM_METRIC_L2, FKM_DTYPE_FP32, FKM_INIT_GIVEN, 40);
  o.init_centroids = init, o.tol = 1e-7;
  o.empty = _i ? FKM_EMPTY_FARTHEST : FKM_EMPTY_KEEP;
  fit_out h = {0};
  /* Point i lies in blob i % 8 and weighs 0 when i % 5 == 3, so that every blob keeps weight (with
   * zeros at i % 4 == 3, blobs 3 and 7 weighed nothing, the farthest policy split other blobs and
   * the fits drifted along near-ties for 30-odd iterations, where fp32 against fp64 may settle in
   * a neighbouring fixed point). A draw whose reference still needs many iterations (blob centres
   * drawn close together) tells nothing either and is replaced by a fresh one. */
  const int settled = 20;
  for (int attempt = 0; attempt < 8 && (attempt == 0 || h.iterations > settled); attempt++) {
    if (attempt) fit_free(&h), free(x), free(w);
    x = fkm_test_blobs(&rng, b, n, d, k - 1, 1.0), w = random_weights(b * n, 5);
    for (int64_t bi = 0; bi < b; bi++) {
      memcpy(init + bi * k * d, x + bi * n * d, (size_t)((k - 1) * d) * sizeof(float)); /* blob j */
      for (int64_t t = 0; t < d; t++) init[(bi * k + k - 1) * d + t] = 500.0f;
      x[(bi * n + 14) * d] += 300.0f; /* the clear farthest point, far from every blob (14 % 5 ≠ 3) */
    }
    p.data = x, o.sample_weight = w;
    h = fit(&p, &o, FKM_ENGINE_CPU);
  }
  ck_assert_msg(h.iterations <= settled, "%s: no draw settling within %d iterations in 8", g_case,
                settled);
  fit_out g = fit(&p, &o, FKM_ENGINE_GPU);
  int64_t differ = 0, first = -1;
  for (int64_t i = 0; i < b * n; i++)
    if (g.labels[i] != h.labels[i]) first = first < 0 ? i : first, differ++;
  ck_assert_msg(differ == 0, "%s: %lld labels differ, first point %lld (weight %g): gpu %d, cpu %d; iterations %d / %d",
                g_case, (long long)differ, (long long)first, first >= 0 ? w[first] : 0.0,
                first >= 0 ? g.labels[first] : -1, first >= 0 ? h.labels[first] : -1, g.iterations,
                h.iterations);
  ck_assert_int_eq(g.iterations, h.iterations);
  expect_close(&p, k, &g, &h, 1e-5);
  for (int64_t bi = 0; bi < b; bi++)
    ck_assert_msg(fabs(g.inertia[bi] - h.inertia[bi]) <= 1e-6 * h.inertia[bi], "%s: inertia %.10g vs %.10g",
                  g_case, g.inertia[bi], h.inertia[bi]);
  fit_free(&g), fit_free(&h);
  free(x), free(w);
}
END_TEST

/* n_init restarts keep the lowest total inertia: the result equals the best of the single fits
 * seeded fkm__restart_seed(seed, r) (bitwise, first best on ties), and the CPU engine's restarts
 * agree; random and k-means++ init, with weights. */
START_TEST(restarts_keep_the_lowest_inertia) {
  const int64_t b = 2, n = 6007, d = 8, k = 25;
  const int restarts = 4;
  snprintf(g_case, sizeof g_case, "restarts, %s init", _i ? "k-means++" : "random");
  float *x = fkm_test_blobs(&rng, b, n, d, 18, 3.0), *w = random_weights(b * n, 0);
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  fkm_options o = options(k, FKM_METRIC_L2, FKM_DTYPE_FP32, _i ? FKM_INIT_KMEANSPP : FKM_INIT_RANDOM, 30);
  o.sample_weight = w;
  fkm_options one = o;
  fit_out best = {0};
  double best_total = INFINITY;
  for (int r = 0; r < restarts; r++) {
    one.seed = fkm__restart_seed(o.seed, r);
    fit_out f = fit(&p, &one, FKM_ENGINE_GPU);
    double total = f.inertia[0] + f.inertia[1];
    if (total < best_total) {
      fit_free(&best);
      best = f, best_total = total;
    } else {
      fit_free(&f);
    }
  }
  o.n_init = restarts;
  fit_out g = fit(&p, &o, FKM_ENGINE_GPU), h = fit(&p, &o, FKM_ENGINE_CPU);
  expect_same(&p, k, &g, &best);
  ck_assert_msg(fabs(g.inertia[0] + g.inertia[1] - h.inertia[0] - h.inertia[1]) <=
                    1e-6 * (h.inertia[0] + h.inertia[1]),
                "%s: GPU restarts %.10g, CPU restarts %.10g", g_case, g.inertia[0] + g.inertia[1],
                h.inertia[0] + h.inertia[1]);
  fit_free(&g), fit_free(&h), fit_free(&best);
  free(x), free(w);
}
END_TEST

/* Device points and device weights give bitwise the host entry point's result (k-means++). */
START_TEST(device_weights_match_host) {
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  const int64_t b = 2, n = 5000, d = 16, k = 21;
  size_t count = (size_t)(b * n * d), nc = (size_t)(b * k * d), nl = (size_t)(b * n);
  snprintf(g_case, sizeof g_case, "device weights");
  float *x = fkm_test_random(&rng, count), *w = random_weights(b * n, 6);
  fkm_points host = {x, FKM_DTYPE_FP32, b, n, d};
  fkm_options o = options(k, FKM_METRIC_L2, FKM_DTYPE_FP32, FKM_INIT_KMEANSPP, 5);
  o.sample_weight = w;
  o.engine = FKM_ENGINE_GPU;
  fit_out h = fit(&host, &o, FKM_ENGINE_GPU);
  CUdeviceptr dx, dw, dc, dl;
  ck_assert(cu->cuMemAlloc(&dx, count * 4) == CUDA_SUCCESS);
  ck_assert(cu->cuMemAlloc(&dw, nl * 4) == CUDA_SUCCESS);
  ck_assert(cu->cuMemAlloc(&dc, nc * 4) == CUDA_SUCCESS);
  ck_assert(cu->cuMemAlloc(&dl, nl * 4) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyHtoDAsync(dx, x, count * 4, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyHtoDAsync(dw, w, nl * 4, NULL) == CUDA_SUCCESS);
  fkm_points dev = {(const void *)(uintptr_t)dx, FKM_DTYPE_FP32, b, n, d};
  o.sample_weight = (const float *)(uintptr_t)dw;
  fkm_result dr = {.centroids = (float *)(uintptr_t)dc, .labels = (int32_t *)(uintptr_t)dl};
  ck_assert_msg(fkm_fit_device(ctx, &dev, &o, &dr, NULL) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  float *c = malloc(nc * 4);
  int32_t *l = malloc(nl * 4);
  ck_assert(cu->cuMemcpyDtoHAsync(c, dc, nc * 4, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyDtoHAsync(l, dl, nl * 4, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuStreamSynchronize(NULL) == CUDA_SUCCESS);
  ck_assert(memcmp(c, h.c, nc * 4) == 0);
  ck_assert(memcmp(l, h.labels, nl * 4) == 0);
  ck_assert_int_eq(dr.iterations, h.iterations);
  cu->cuMemFree(dx), cu->cuMemFree(dw), cu->cuMemFree(dc), cu->cuMemFree(dl);
  fit_free(&h);
  free(x), free(w), free(c), free(l);
}
END_TEST

/* Cosine and dot where every similarity is negative (points in the negative orthant, centroids
 * in the positive one) and K fills no tile: a padded centroid lane (similarity 0) must never win.
 * Labels equal the CPU engine's; inertia agrees. */
START_TEST(negative_similarities_never_pick_padding) {
  const fkm_metric metrics[] = {FKM_METRIC_DOT, FKM_METRIC_COSINE};
  const fkm_dtype dtypes[] = {FKM_DTYPE_FP32, FKM_DTYPE_FP16};
  const int64_t n = 3001, d = 24, k = 13;
  snprintf(g_case, sizeof g_case, "negative similarities, %s %s", fkm__metric_name(metrics[_i / 2]),
           fkm__dtype_name(dtypes[_i % 2]));
  float *x = malloc((size_t)(n * d) * sizeof(float)), c[13 * 24];
  for (int64_t i = 0; i < n * d; i++) x[i] = (float)fkm_test_uniform(&rng, -2.0, -0.5);
  for (int64_t i = 0; i < k * d; i++) c[i] = (float)fkm_test_uniform(&rng, 0.5, 2.0);
  fkm_points p = {x, FKM_DTYPE_FP32, 1, n, d};
  fkm_options o = options(k, metrics[_i / 2], dtypes[_i % 2], FKM_INIT_GIVEN, 0);
  o.init_centroids = c;
  fit_out g = fit(&p, &o, FKM_ENGINE_GPU), h = fit(&p, &o, FKM_ENGINE_CPU);
  int64_t differ = 0;
  for (int64_t i = 0; i < n; i++) {
    ck_assert_msg(g.labels[i] >= 0 && g.labels[i] < k, "%s: label %d", g_case, g.labels[i]);
    differ += g.labels[i] != h.labels[i];
  }
  ck_assert_msg(differ <= (dtypes[_i % 2] == FKM_DTYPE_FP16 ? n / 100 : 0), /* fp16: near-ties */
                "%s: %lld labels differ from the CPU engine's", g_case, (long long)differ);
  ck_assert(fabs(g.inertia[0] - h.inertia[0]) <= 1e-3 * fabs(h.inertia[0]));
  fit_free(&g), fit_free(&h);
  free(x);
}
END_TEST

int main(void) {
  if (!fkm_test_gpu_usable()) return 77;
  int small = getenv("FKM_TEST_SMALL") != NULL; /* sanitizer runs: small shapes only */
  Suite *s = suite_create("gpu_complete");
  TCase *t = tcase_create("core");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 1200);
  int count = (int)(sizeof pp_cases / sizeof pp_cases[0]);
  tcase_add_loop_test(t, kmeanspp_picks_match_cpu_engine, 0, small ? 2 : count);
  tcase_add_test(t, unit_weights_are_bitwise_unweighted);
  tcase_add_loop_test(t, weighted_fit_matches_cpu_engine, 0, 2);
  tcase_add_loop_test(t, negative_similarities_never_pick_padding, 0, 4);
  if (!small) {
    tcase_add_test(t, kmeanspp_recovers_k_distinct_points);
    tcase_add_test(t, integer_weights_repeat_points);
    tcase_add_loop_test(t, restarts_keep_the_lowest_inertia, 0, 2);
    tcase_add_test(t, device_weights_match_host);
  }
  suite_add_tcase(s, t);
  return fkm_test_run(s, 1);
}
