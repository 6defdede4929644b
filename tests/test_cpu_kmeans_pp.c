/* CPU engine, issue 7: k-means++ init against a plain re-implementation of its documented
 * procedure, recovery of K distinct points, seeding, zero-weight points never seeding, sample
 * weights (ones are bitwise the unweighted fit, integers equal repeated points) and n_init restarts
 * (the winner is the lowest-inertia restart run on its own). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "internal.h"
#include "support.h"

static char g_case[200];

/* ---- running fit ------------------------------------------------------------------------------ */

/* Runs fkm_fit and asserts success on the CPU engine. */
static fkm_test_fit run_fit(const fkm_points *p, const fkm_options *o) {
  fkm_test_fit f = fkm_test_run_fit(p, o);
  ck_assert_msg(f.status == FKM_OK, "%s: %s (%s)", g_case, fkm_status_name(f.status), f.err);
  ck_assert_int_eq(f.r.engine, FKM_ENGINE_CPU);
  return f;
}

/* a and b hold bitwise the same centroids, labels, inertia and iteration count. */
static void assert_same_fit(const fkm_test_fit *a, const fkm_test_fit *b, const fkm_points *p, int64_t k) {
  ck_assert_msg(memcmp(a->c, b->c, (size_t)(p->batches * k * p->d) * sizeof(float)) == 0,
                "%s: centroids differ", g_case);
  ck_assert_msg(memcmp(a->labels, b->labels, (size_t)(p->batches * p->n) * sizeof(int32_t)) == 0,
                "%s: labels differ", g_case);
  ck_assert_msg(memcmp(a->inertia, b->inertia, (size_t)p->batches * sizeof(double)) == 0,
                "%s: inertia differs", g_case);
  ck_assert_int_eq(a->r.iterations, b->r.iterations);
}

static void cpu_options(fkm_options *o, int64_t k, fkm_metric m, fkm_init init) {
  fkm_options_init(o);
  o->k = k;
  o->metric = m;
  o->init = init;
  o->engine = FKM_ENGINE_CPU;
}

static double total(const double *v, int64_t count) {
  double s = 0.0;
  for (int64_t i = 0; i < count; i++) s += v[i];
  return s;
}

/* ---- the documented procedure, written out plainly --------------------------------------------- */

/* fkm__uniform53 as documented: the top 53 bits of counter c of stream (seed, b). */
static uint64_t ref_uniform53(uint64_t seed, int64_t b, uint64_t c) {
  return fkm__mix64(fkm__mix64(seed ^ fkm__mix64((uint64_t)b)) + c) >> 11;
}

static double ref_uniform(uint64_t seed, int64_t b, uint64_t c) {
  return (double)ref_uniform53(seed, b, c) / 9007199254740992.0;
}

/* ⌊v · 2^σ⌋ with σ = 62 − ⌈log₂ N⌉ − ⌊log₂ max⌋, by repeated halving and doubling. */
static int ref_sigma(double max, int64_t n) {
  int l = 0, e = 0;
  while (((int64_t)1 << l) < n) l++;
  while (max >= 2.0) max /= 2.0, e++;
  while (max < 1.0) max *= 2.0, e--;
  return 62 - l - e;
}

static uint64_t ref_q(double v, int sigma) {
  for (; sigma > 0; sigma--) v *= 2.0;
  for (; sigma < 0; sigma++) v /= 2.0;
  return (uint64_t)v;
}

/* First i whose inclusive prefix of q exceeds ⌊m·Q/2⁵³⌋; with Q = 0, the lowest-index unpicked
 * point of positive weight. */
static int64_t ref_pick(const uint64_t *q, const double *w, const unsigned char *picked, int64_t n,
                        uint64_t m) {
  uint64_t total = 0, prefix = 0;
  for (int64_t i = 0; i < n; i++) total += q[i];
  uint64_t target = (uint64_t)(((unsigned __int128)m * total) >> 53);
  for (int64_t i = 0; i < n && total > 0; i++)
    if ((prefix += q[i]) > target) return i;
  for (int64_t i = 0; i < n; i++)
    if (w[i] > 0.0 && !picked[i]) return i;
  return -1;
}

static double ref_sqdist(const double *a, const double *b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

/* Greedy k-means++ of one batch x [N][D], weights w [N], as runtime/init_kmeanspp.c states it. */
static void ref_kmeanspp(const double *x, const double *w, int64_t n, int64_t d, int64_t k,
                         uint64_t seed, int64_t b, int64_t *out) {
  int trials = 2 + (int)floor(log((double)k));
  double *d2 = malloc((size_t)n * sizeof(double));
  uint64_t *q = malloc((size_t)n * sizeof(uint64_t));
  unsigned char *picked = calloc((size_t)n, 1);
  for (int64_t s = 0; s < k; s++) {
    double max = 0.0;
    for (int64_t i = 0; i < n; i++) max = fmax(max, s == 0 ? w[i] : w[i] * d2[i]);
    int sigma = max > 0.0 ? ref_sigma(max, n) : 0;
    for (int64_t i = 0; i < n; i++) q[i] = max > 0.0 ? ref_q(s == 0 ? w[i] : w[i] * d2[i], sigma) : 0;
    int64_t best = -1;
    uint64_t best_pot = 0;
    for (int t = 0; t < (s == 0 ? 1 : trials); t++) {
      int64_t c = ref_pick(q, w, picked, n, ref_uniform53(seed, b, (uint64_t)(s * trials + t)));
      uint64_t pot = 0;
      for (int64_t i = 0; i < n && s > 0 && max > 0.0; i++)
        pot += ref_q(w[i] * fmin(d2[i], ref_sqdist(x + i * d, x + c * d, d)), sigma);
      if (best < 0 || pot < best_pot) best = c, best_pot = pot;
    }
    out[s] = best;
    picked[best] = 1;
    for (int64_t i = 0; i < n; i++) {
      double dist = ref_sqdist(x + i * d, x + best * d, d);
      d2[i] = s == 0 ? dist : fmin(d2[i], dist);
    }
  }
  free(d2);
  free(q);
  free(picked);
}

/* The engine's points (and weights) of p under o. */
static fkm__cpu_points engine_points(const fkm_points *p, const fkm_options *o) {
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm__cpu_points pts;
  ck_assert_int_eq(fkm__cpu_points_load(ctx, p, o, &pts), FKM_OK);
  ck_assert_int_eq(fkm__cpu_weights_load(ctx, o, &pts), FKM_OK);
  fkm_ctx_free(ctx);
  return pts;
}

/* fkm__kmeanspp_indices of every batch equals ref_kmeanspp, and fit with max_iter = 0 starts from
 * those points (unit-scaled for cosine and dot). */
static void check_against_reference(const fkm_points *p, const fkm_options *o) {
  fkm__cpu_points pts = engine_points(p, o);
  int64_t n = p->n, d = p->d, k = o->k;
  double *ones = malloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++) ones[i] = 1.0;
  int64_t *got = malloc((size_t)k * sizeof(int64_t)), *want = malloc((size_t)k * sizeof(int64_t));
  fkm_options o0 = *o;
  o0.max_iter = 0;
  fkm_test_fit f = run_fit(p, &o0);
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  for (int64_t b = 0; b < p->batches; b++) {
    const double *x = pts.x + b * n * d, *w = pts.w ? pts.w + b * n : ones;
    ck_assert_int_eq(fkm__kmeanspp_indices(ctx, &pts, b, k, o->seed, got), FKM_OK);
    ref_kmeanspp(x, w, n, d, k, o->seed, b, want);
    for (int64_t j = 0; j < k; j++) {
      ck_assert_msg(got[j] == want[j], "%s: batch %lld pick %lld is %lld, want %lld", g_case,
                    (long long)b, (long long)j, (long long)got[j], (long long)want[j]);
      ck_assert_msg(w[got[j]] > 0.0, "%s: zero-weight point %lld picked", g_case,
                    (long long)got[j]);
      double row[64];
      memcpy(row, x + got[j] * d, (size_t)d * sizeof(double));
      double norm = sqrt(ref_sqdist(row, (double[64]){0}, d));
      for (int64_t t = 0; t < d; t++) {
        double v = o->metric == FKM_METRIC_L2 ? row[t] : row[t] / norm;
        ck_assert_float_eq(f.c[(b * k + j) * d + t], (float)v);
      }
    }
  }
  fkm_ctx_free(ctx);
  fkm_test_fit_free(&f);
  free(got);
  free(want);
  free(ones);
  fkm__cpu_points_free(&pts);
}

/* ---- tests ------------------------------------------------------------------------------------- */

START_TEST(uniform_is_the_documented_stream) {
  uint64_t seed = fkm_test_seed();
  for (uint64_t c = 0; c < 1000; c++) {
    double u = fkm__uniform01(seed, (int64_t)(c % 7), c);
    ck_assert(u >= 0.0 && u < 1.0);
    ck_assert_double_eq(u, ref_uniform(seed, (int64_t)(c % 7), c));
    ck_assert_uint_eq(fkm__uniform53(seed, (int64_t)(c % 7), c), ref_uniform53(seed, (int64_t)(c % 7), c));
  }
  for (int i = 0; i < 1000; i++) { /* the quantisation helpers against the plain ones */
    double max = ldexp(1.0 + (double)(seed >> 12) * 0x1p-52, i % 2000 - 1000), v = max * (i % 97) / 96.0;
    int64_t n = 1 + (int64_t)(fkm__mix64(seed + (uint64_t)i) % 5000000);
    ck_assert_int_eq(fkm__kmeanspp_sigma(max, n), ref_sigma(max, n));
    ck_assert_uint_eq(fkm__kmeanspp_quantise(v, ref_sigma(max, n)), ref_q(v, ref_sigma(max, n)));
    ck_assert_uint_lt(fkm__kmeanspp_quantise(max, ref_sigma(max, n)) * (uint64_t)n, (uint64_t)1 << 63);
  }
  ck_assert_int_eq(fkm__kmeanspp_trials(1), 2);
  ck_assert_int_eq(fkm__kmeanspp_trials(2), 2);
  ck_assert_int_eq(fkm__kmeanspp_trials(3), 3);
  ck_assert_int_eq(fkm__kmeanspp_trials(8), 4);
  ck_assert_int_eq(fkm__kmeanspp_trials(1000), 8);
  ck_assert_int_eq(fkm__restart_seed(seed, 0), seed);
  ck_assert_int_eq(fkm__restart_seed(seed, 3), fkm__mix64(seed + 3));
}
END_TEST

/* Unweighted and weighted (a third of the weights zero), every metric, several K. */
START_TEST(picks_follow_the_documented_procedure) {
  uint64_t st = fkm_test_seed() ^ 0x7001ull;
  int64_t b = 2, n = 150, d = 5;
  float *x = fkm_test_random(&st, (size_t)(b * n * d));
  float *w = malloc((size_t)(b * n) * sizeof(float));
  for (int64_t i = 0; i < b * n; i++) w[i] = i % 3 == 1 ? 0.0f : (float)fkm_test_uniform(&st, 0.1, 4);
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  const int64_t ks[] = {1, 2, 7, 40};
  for (int m = 0; m < 3; m++)
    for (int weighted = 0; weighted < 2; weighted++)
      for (size_t q = 0; q < 4; q++) {
        snprintf(g_case, sizeof g_case, "k-means++ %s weighted=%d K=%lld",
                 fkm__metric_name((fkm_metric)m), weighted, (long long)ks[q]);
        fkm_options o;
        cpu_options(&o, ks[q], (fkm_metric)m, FKM_INIT_KMEANSPP);
        o.seed = st + q;
        o.sample_weight = weighted ? w : NULL;
        check_against_reference(&p, &o);
      }
  free(x);
  free(w);
}
END_TEST

/* K distinct points, each repeated many times and shuffled: k-means++ returns all K of them. */
START_TEST(recovers_k_distinct_points) {
  uint64_t st = fkm_test_seed() ^ 0x7002ull;
  int64_t b = 2, k = 12, n = 400, d = 3;
  float *x = malloc((size_t)(b * n * d) * sizeof(float)), distinct[2][12][3];
  for (int64_t bi = 0; bi < b; bi++) {
    for (int64_t j = 0; j < k; j++)
      for (int64_t t = 0; t < d; t++) distinct[bi][j][t] = (float)fkm_test_uniform(&st, -5, 5);
    for (int64_t i = 0; i < n; i++) { /* every distinct point at least once, then at random */
      int64_t j = i < k ? i : (int64_t)fkm_test_uniform(&st, 0, (double)k);
      memcpy(x + (bi * n + i) * d, distinct[bi][j], sizeof distinct[bi][j]);
    }
    for (int64_t i = n - 1; i > 0; i--) { /* shuffle */
      int64_t r = (int64_t)fkm_test_uniform(&st, 0, (double)(i + 1));
      float tmp[3];
      memcpy(tmp, x + (bi * n + i) * d, sizeof tmp);
      memcpy(x + (bi * n + i) * d, x + (bi * n + r) * d, sizeof tmp);
      memcpy(x + (bi * n + r) * d, tmp, sizeof tmp);
    }
  }
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  for (uint64_t seed = 0; seed < 10; seed++) {
    snprintf(g_case, sizeof g_case, "distinct points, seed %llu", (unsigned long long)seed);
    fkm_options o;
    cpu_options(&o, k, FKM_METRIC_L2, FKM_INIT_KMEANSPP);
    o.seed = st ^ seed;
    o.max_iter = 0;
    fkm_test_fit f = run_fit(&p, &o);
    for (int64_t bi = 0; bi < b; bi++) {
      int found[12] = {0};
      for (int64_t j = 0; j < k; j++)
        for (int64_t q = 0; q < k; q++)
          if (memcmp(f.c + (bi * k + j) * d, distinct[bi][q], sizeof distinct[bi][q]) == 0)
            found[q]++;
      for (int64_t q = 0; q < k; q++)
        ck_assert_msg(found[q] == 1, "%s: distinct point %lld found %d times", g_case,
                      (long long)q, found[q]);
      ck_assert_double_eq(f.inertia[bi], 0.0);
    }
    fkm_test_fit_free(&f);
  }
  free(x);
}
END_TEST

START_TEST(seeded) {
  uint64_t st = fkm_test_seed() ^ 0x7003ull;
  int64_t b = 1, n = 300, d = 4, k = 10;
  float *x = fkm_test_random(&st, (size_t)(b * n * d));
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  fkm_options o;
  cpu_options(&o, k, FKM_METRIC_L2, FKM_INIT_KMEANSPP);
  o.max_iter = 0;
  o.seed = st;
  snprintf(g_case, sizeof g_case, "k-means++ seeding");
  fkm_test_fit a = run_fit(&p, &o), again = run_fit(&p, &o);
  assert_same_fit(&a, &again, &p, k);
  int differ = 0;
  for (uint64_t s = 1; s <= 5; s++) {
    o.seed = st + s;
    fkm_test_fit other = run_fit(&p, &o);
    differ += memcmp(a.c, other.c, (size_t)(k * d) * sizeof(float)) != 0;
    fkm_test_fit_free(&other);
  }
  ck_assert_msg(differ >= 4, "only %d of 5 other seeds changed the picks", differ);
  fkm_test_fit_free(&a);
  fkm_test_fit_free(&again);
  free(x);
}
END_TEST

/* Random and k-means++ init never start from a zero-weight point (max_iter = 0: the centroids are
 * the picks); the points are distinct, so a centroid names its point. */
START_TEST(zero_weight_points_never_seed) {
  uint64_t st = fkm_test_seed() ^ 0x7004ull;
  int64_t b = 2, n = 60, d = 3, k = 20;
  float *x = fkm_test_random(&st, (size_t)(b * n * d));
  float *w = malloc((size_t)(b * n) * sizeof(float));
  for (int64_t i = 0; i < b * n; i++) w[i] = i % 3 == 0 ? 1.0f : 0.0f; /* exactly K positive */
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  for (int init = 0; init < 2; init++)
    for (uint64_t seed = 0; seed < 8; seed++) {
      snprintf(g_case, sizeof g_case, "zero weights, init %d, seed %llu", init,
               (unsigned long long)seed);
      fkm_options o;
      cpu_options(&o, k, FKM_METRIC_L2, (fkm_init)init);
      o.sample_weight = w;
      o.seed = st + seed;
      o.max_iter = 0;
      fkm_test_fit f = run_fit(&p, &o);
      for (int64_t bi = 0; bi < b; bi++)
        for (int64_t j = 0; j < k; j++) {
          int64_t hit = -1;
          for (int64_t i = 0; i < n; i++)
            if (memcmp(f.c + (bi * k + j) * d, x + (bi * n + i) * d, (size_t)d * sizeof(float)) ==
                0)
              hit = i;
          ck_assert_msg(hit >= 0 && w[bi * n + hit] > 0.0f, "%s: centroid %lld seeded at %lld",
                        g_case, (long long)j, (long long)hit);
        }
      fkm_test_fit_free(&f);
    }
  free(x);
  free(w);
}
END_TEST

/* Weights of 1 give bitwise the unweighted fit: every metric, init and empty policy. */
START_TEST(unit_weights_are_bitwise_unweighted) {
  uint64_t st = fkm_test_seed() ^ 0x7005ull;
  int64_t b = 2, n = 200, d = 6, k = 9;
  float *x = fkm_test_blobs(&st, b, n, d, 5, 2.0);
  float *w = malloc((size_t)(b * n) * sizeof(float));
  for (int64_t i = 0; i < b * n; i++) w[i] = 1.0f;
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  for (int m = 0; m < 3; m++)
    for (int init = 0; init < 2; init++)
      for (int e = 0; e < 2; e++) {
        snprintf(g_case, sizeof g_case, "unit weights %s init %d empty %d",
                 fkm__metric_name((fkm_metric)m), init, e);
        fkm_options o;
        cpu_options(&o, k, (fkm_metric)m, (fkm_init)init);
        o.seed = st;
        o.empty = (fkm_empty_policy)e;
        fkm_test_fit plain = run_fit(&p, &o);
        o.sample_weight = w;
        fkm_test_fit weighted = run_fit(&p, &o);
        assert_same_fit(&plain, &weighted, &p, k);
        fkm_test_fit_free(&plain);
        fkm_test_fit_free(&weighted);
      }
  free(x);
  free(w);
}
END_TEST

/* Integer weights (0 to 3) equal repeating each point that many times, from the same given
 * centroids. Integer coordinates keep every Σ w·x and Σ w exact, so the centroids are bitwise
 * equal; the inertia sums in another order (1e-12 relative). */
START_TEST(integer_weights_repeat_points) {
  uint64_t st = fkm_test_seed() ^ 0x7006ull;
  int64_t b = 2, n = 120, d = 3, k = 4;
  float *x = fkm_test_blobs(&st, b, n, d, k, 3.0);
  float *w = malloc((size_t)(b * n) * sizeof(float));
  float *rep = malloc((size_t)(b * 3 * n * d) * sizeof(float));
  int64_t *origin = malloc((size_t)(b * 3 * n) * sizeof(int64_t));
  for (int64_t i = 0; i < b * n * d; i++) x[i] = roundf(x[i] * 10.0f);
  for (int64_t i = 0; i < b * n; i++) w[i] = (float)(int)fkm_test_uniform(&st, 0, 4);
  int64_t m = 0; /* repeated points per batch: the same count in each batch, padded below */
  for (int64_t bi = 0; bi < b; bi++) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += (int64_t)w[bi * n + i];
    m = c > m ? c : m;
  }
  for (int64_t bi = 0; bi < b; bi++) { /* equal counts: top up with the batch's first point */
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += (int64_t)w[bi * n + i];
    w[bi * n] += (float)(m - c);
    int64_t r = 0;
    for (int64_t i = 0; i < n; i++)
      for (int t = 0; t < (int)w[bi * n + i]; t++, r++) {
        memcpy(rep + (bi * m + r) * d, x + (bi * n + i) * d, (size_t)d * sizeof(float));
        origin[bi * m + r] = i;
      }
  }
  float init[2 * 4 * 3];
  for (int64_t bi = 0; bi < b; bi++) /* the first point of each blob */
    memcpy(init + bi * k * d, x + bi * n * d, (size_t)(k * d) * sizeof(float));
  fkm_points pw = {x, FKM_DTYPE_FP32, b, n, d}, pr = {rep, FKM_DTYPE_FP32, b, m, d};
  snprintf(g_case, sizeof g_case, "integer weights");
  fkm_options o;
  cpu_options(&o, k, FKM_METRIC_L2, FKM_INIT_GIVEN);
  o.init_centroids = init;
  o.tol = 0.0;
  o.max_iter = 20;
  o.sample_weight = w;
  fkm_test_fit fw = run_fit(&pw, &o);
  o.sample_weight = NULL;
  fkm_test_fit fr = run_fit(&pr, &o);
  ck_assert(memcmp(fw.c, fr.c, (size_t)(b * k * d) * sizeof(float)) == 0);
  ck_assert_int_eq(fw.r.iterations, fr.r.iterations);
  for (int64_t bi = 0; bi < b; bi++) {
    ck_assert(fabs(fw.inertia[bi] - fr.inertia[bi]) <= 1e-12 * fr.inertia[bi]);
    for (int64_t r = 0; r < m; r++)
      ck_assert_int_eq(fr.labels[bi * m + r], fw.labels[bi * n + origin[bi * m + r]]);
  }
  fkm_test_fit_free(&fw);
  fkm_test_fit_free(&fr);
  free(x);
  free(w);
  free(rep);
  free(origin);
}
END_TEST

/* FARTHEST takes the farthest point of positive weight: 1-D points 0, 1, 2 (weight 1) and 100
 * (weight 0), centroids given at 1 and 50. Cluster 1 (at 50) holds only the zero-weight point, so
 * its weight is 0 and it is empty. Unweighted, the point at 100 (50 from its centroid) would move;
 * here the farthest are 0 and 2 (both 1 from theirs), ties to the lower index: 0 moves. Weighted
 * inertia ignores the point at 100. */
START_TEST(farthest_skips_zero_weight_points) {
  const float x[] = {0, 1, 2, 100}, w[] = {1, 1, 1, 0}, init[] = {1, 50};
  fkm_points p = {x, FKM_DTYPE_FP32, 1, 4, 1};
  fkm_options o;
  cpu_options(&o, 2, FKM_METRIC_L2, FKM_INIT_GIVEN);
  o.init_centroids = init;
  o.sample_weight = w;
  o.empty = FKM_EMPTY_FARTHEST;
  o.max_iter = 1;
  snprintf(g_case, sizeof g_case, "farthest with zero weights");
  fkm_test_fit f = run_fit(&p, &o);
  ck_assert_float_eq(f.c[0], 1.5f); /* 1 and 2 left with point 0 relocated: (1 + 2) / 2 */
  ck_assert_float_eq(f.c[1], 0.0f);
  ck_assert_int_eq(f.labels[0], 1);
  ck_assert_int_eq(f.labels[3], 0);
  ck_assert_double_eq(f.inertia[0], 0.5);
  fkm_test_fit_free(&f);
}
END_TEST

/* n_init = R returns bitwise the lowest-inertia run among fits with fkm__restart_seed(seed, r),
 * r < R, each run alone (ties to the earlier). */
START_TEST(restarts_keep_the_lowest_inertia) {
  uint64_t st = fkm_test_seed() ^ 0x7007ull;
  int64_t b = 2, n = 240, d = 2, k = 6;
  float *x = fkm_test_blobs(&st, b, n, d, 8, 3.0);
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  const int restarts = 5;
  for (int init = 0; init < 2; init++) {
    snprintf(g_case, sizeof g_case, "restarts, init %d", init);
    fkm_options o;
    cpu_options(&o, k, FKM_METRIC_L2, (fkm_init)init);
    o.seed = st;
    o.n_init = restarts;
    fkm_test_fit all = run_fit(&p, &o);
    o.n_init = 1;
    int best = -1, differ = 0;
    double best_total = 0.0, first_total = 0.0;
    for (int r = 0; r < restarts; r++) {
      o.seed = fkm__restart_seed(st, r);
      fkm_test_fit one = run_fit(&p, &o);
      double t = total(one.inertia, b);
      if (r == 0) first_total = t;
      differ += t != first_total;
      if (best < 0 || t < best_total) best = r, best_total = t;
      fkm_test_fit_free(&one);
    }
    ck_assert_msg(differ > 0 || init == FKM_INIT_KMEANSPP, "%s: every restart ended alike", g_case);
    o.seed = fkm__restart_seed(st, best);
    fkm_test_fit winner = run_fit(&p, &o);
    assert_same_fit(&all, &winner, &p, k);
    fkm_test_fit_free(&winner);
    fkm_test_fit_free(&all);
  }
  free(x);
}
END_TEST

/* Blob data, 0 iterations: the k-means++ start has a lower inertia than the random one on
 * average over seeds. */
START_TEST(kmeanspp_starts_better_than_random) {
  uint64_t st = fkm_test_seed() ^ 0x7008ull;
  int64_t b = 1, n = 800, d = 4, k = 10;
  float *x = fkm_test_blobs(&st, b, n, d, k, 1.0);
  fkm_points p = {x, FKM_DTYPE_FP32, b, n, d};
  double sum[2] = {0.0, 0.0};
  for (uint64_t seed = 0; seed < 12; seed++)
    for (int init = 0; init < 2; init++) {
      snprintf(g_case, sizeof g_case, "start quality, init %d", init);
      fkm_options o;
      cpu_options(&o, k, FKM_METRIC_L2, (fkm_init)init);
      o.seed = st + seed;
      o.max_iter = 0;
      fkm_test_fit f = run_fit(&p, &o);
      sum[init] += f.inertia[0];
      fkm_test_fit_free(&f);
    }
  ck_assert_msg(sum[FKM_INIT_KMEANSPP] < sum[FKM_INIT_RANDOM], "k-means++ %g, random %g",
                sum[FKM_INIT_KMEANSPP], sum[FKM_INIT_RANDOM]);
  free(x);
}
END_TEST

static Suite *kmeans_pp_suite(void) {
  Suite *s = suite_create("cpu_kmeans_pp");
  TCase *tc = tcase_create("issue7");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, uniform_is_the_documented_stream);
  tcase_add_test(tc, picks_follow_the_documented_procedure);
  tcase_add_test(tc, recovers_k_distinct_points);
  tcase_add_test(tc, seeded);
  tcase_add_test(tc, zero_weight_points_never_seed);
  tcase_add_test(tc, unit_weights_are_bitwise_unweighted);
  tcase_add_test(tc, integer_weights_repeat_points);
  tcase_add_test(tc, farthest_skips_zero_weight_points);
  tcase_add_test(tc, restarts_keep_the_lowest_inertia);
  tcase_add_test(tc, kmeanspp_starts_better_than_random);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  fkm_test_seed();
  return fkm_test_run(kmeans_pp_suite(), 0);
}
