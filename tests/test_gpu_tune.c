/* Tuning on the GPU: fkm_tune returns a valid configuration, reports its candidates and stores
 * the shapes' record; a following fit loads the recorded configuration, and in a fresh context with
 * the warm cache makes no NVRTC call; fit with opts.tune tunes a shape without a record once, and
 * not again; on sm_90a a record's clustered pick joins the candidates when it sets the run up, and
 * is timed on centroids in its own layout beside unclustered ones, every candidate's labels
 * matching. Label "gpu": exits 77 where no GPU engine can run. Runs without fork. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "kernel_cache.h"
#include "support.h"
#include "tune.h"
#include "tuning.h"

enum { N = 20000, D = 64, K = 40, CAPACITY = 64 };

static char dir[64], root[96];
static float *x;

typedef struct log_count {
  int tuned; /* INFO lines of finished tuning runs */
} log_count;

static void count_tuned(fkm_log_level level, const char *message, void *user) {
  if (level == FKM_LOG_INFO && strncmp(message, "tuned ", 6) == 0) ((log_count *)user)->tuned++;
}

static fkm_options options(int64_t k) {
  fkm_options o;
  fkm_options_init(&o);
  o.k = k, o.engine = FKM_ENGINE_GPU, o.dtype = FKM_DTYPE_FP16, o.max_iter = 4, o.seed = 5;
  return o;
}

/* The spec config c means for these shapes on ctx's device. */
static fkm__kernel_spec spec_of(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                                const fkm_config *c) {
  fkm__kernel_spec base = fkm__gpu_assign_base(ctx->gpu, p, o), s;
  fkm__spec_layout l;
  char why[256];
  ck_assert_msg(fkm__config_spec(&base, c, &s, &l, why, sizeof why) == FKM_OK, "%s", why);
  return s;
}

static int has_module(const fkm_ctx *ctx, const fkm__kernel_spec *s) {
  for (size_t i = 0; i < ctx->gpu->module_count; i++)
    if (ctx->gpu->modules[i].hash == fkm__spec_hash(s)) return 1;
  return 0;
}

/* One GPU fit in a fresh context: whether it loaded spec (NULL: not checked) and the NVRTC
 * compiles it made (per context, and process-wide). */
static void fit(const fkm_points *p, const fkm_options *o, const fkm__kernel_spec *want,
                size_t *compiles, size_t *calls, log_count *log) {
  fkm_ctx *ctx;
  float *c = malloc((size_t)(o->k * D) * sizeof *c);
  int32_t *labels = malloc((size_t)p->n * sizeof *labels);
  double inertia = NAN;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_log_set(ctx, count_tuned, log);
  size_t calls0 = fkm__nvrtc_calls();
  fkm_result r = {.centroids = c, .labels = labels, .inertia = &inertia};
  ck_assert_msg(fkm_fit(ctx, p, o, &r) == FKM_OK, "fit: %s", fkm_ctx_last_error(ctx));
  ck_assert_int_eq(r.engine, FKM_ENGINE_GPU);
  for (int64_t i = 0; i < p->n; i++) ck_assert(labels[i] >= 0 && labels[i] < o->k);
  ck_assert(isfinite(inertia) && inertia > 0);
  if (want) ck_assert_msg(has_module(ctx, want), "the fit did not load the recorded config");
  *compiles = fkm__nvrtc_compile_count(ctx);
  *calls = fkm__nvrtc_calls() - calls0;
  fkm_ctx_free(ctx);
  free(c);
  free(labels);
}

/* The winner is the fastest measured candidate, the model's pick was measured, and the record
 * holds the winner. */
static void check_report(fkm_ctx *ctx, const fkm_tune_report *r, const fkm_config *best,
                         const fkm_points *p) {
  ck_assert_uint_ge(r->count, 2);
  ck_assert_uint_le(r->count, FKM__TUNE_KEEP);
  ck_assert_uint_ge(r->space, r->count);
  ck_assert_int_eq(r->exhaustive, 0);
  ck_assert_int_eq(r->stored, 1);
  ck_assert_uint_gt(r->compiles, 0); /* a cold cache */
  ck_assert(r->ms_total >= r->ms_measure && r->ms_measure > 0);
  ck_assert_mem_eq(&r->timings[r->best].config, best, sizeof *best);
  int picks = 0;
  for (size_t i = 0; i < r->count; i++) {
    picks += r->timings[i].model_pick;
    if (r->timings[i].ms > 0) ck_assert(r->timings[r->best].ms <= r->timings[i].ms);
  }
  ck_assert_int_eq(picks, 1);
  fkm_config stored;
  ck_assert_int_eq(fkm__tuning_lookup(NULL, ctx->gpu->name, ctx->gpu->sm, "assign", "l2", "fp16",
                                      D, p->n, K, 1, &stored),
                   1);
  ck_assert_mem_eq(&stored, best, sizeof stored);
}

/* A measured candidate other than the winner. */
static fkm_config runner_up(const fkm_tune_report *r) {
  for (size_t i = 0; i < r->count; i++)
    if (i != r->best && r->timings[i].ms > 0) return r->timings[i].config;
  ck_abort_msg("only one candidate ran");
  return r->timings[0].config;
}

/* A tuning run's report and winner. */
typedef struct tuned {
  fkm_tune_timing timings[CAPACITY];
  fkm_tune_report r;
  fkm_config best;
} tuned;

/* Tunes p's shapes under o on ctx into *t; the run must succeed. */
static void tune_into(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, tuned *t) {
  t->r = (fkm_tune_report){.timings = t->timings, .capacity = CAPACITY};
  ck_assert_msg(fkm_tune_detailed(ctx, p, o, &t->best, &t->r) == FKM_OK, "%s",
                fkm_ctx_last_error(ctx));
}

START_TEST(tune_then_fit_from_the_record) {
  fkm_points p = {x, FKM_DTYPE_FP32, 1, N, D};
  fkm_options o = options(K);
  tuned t;
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  tune_into(ctx, &p, &o, &t);
  fkm_config best = t.best;
  fkm__kernel_spec winner = spec_of(ctx, &p, &o, &best);
  check_report(ctx, &t.r, &best, &p);
  fkm_config other = runner_up(&t.r);
  fkm__kernel_spec second = spec_of(ctx, &p, &o, &other);
  ck_assert_int_eq(fkm__gpu_record_store(ctx, ctx->gpu, &p, &o, &other, 1.0), FKM_OK);
  size_t compiles, calls;
  log_count log = {0};
  fit(&p, &o, &second, &compiles, &calls, &log); /* the record's config, compiled by the tuner */
  ck_assert_uint_eq(compiles, 0);
  ck_assert_uint_eq(calls, 0);
  ck_assert_int_eq(fkm__gpu_record_store(ctx, ctx->gpu, &p, &o, &best, 1.0), FKM_OK);
  fit(&p, &o, &winner, &compiles, &calls, &log);
  ck_assert_uint_eq(compiles, 0);
  ck_assert_uint_eq(calls, 0);
  ck_assert_int_eq(log.tuned, 0);
  fkm_ctx_free(ctx);
}
END_TEST

START_TEST(fit_tunes_a_new_bucket_once) {
  fkm_points p = {x, FKM_DTYPE_FP32, 1, N / 2 - 1, D}; /* another N bucket than the test above */
  fkm_options o = options(K);
  o.tune = 1;
  size_t compiles, calls;
  log_count log = {0};
  fit(&p, &o, NULL, &compiles, &calls, &log);
  ck_assert_int_eq(log.tuned, 1);
  fkm_config stored;
  fkm_runtime_info info;
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_int_eq(fkm_runtime_query(ctx, &info), FKM_OK);
  fkm_ctx_free(ctx);
  ck_assert_int_eq(fkm__tuning_lookup(NULL, info.device_name, info.sm, "assign", "l2", "fp16", D,
                                      p.n, K, 1, &stored),
                   1);
  fit(&p, &o, NULL, &compiles, &calls, &log);
  ck_assert_int_eq(log.tuned, 1); /* not again: the bucket has its record */
  ck_assert_uint_eq(compiles, 0);
  ck_assert_uint_eq(calls, 0);
}
END_TEST

/* A record's clustered pick (sm_90a) sets the tuning run up; the space's candidates are not
 * clustered. Every candidate, in either centroid layout, must run and match the set-up's labels. */
START_TEST(a_clustered_record_is_timed_beside_plain_blocks) {
  enum { BIG_N = 33000, BIG_K = 32768 };
  uint64_t rng = fkm_test_seed() ^ 0x3c6ef372fe94f82bull;
  float *big = fkm_test_random(&rng, (size_t)BIG_N * D);
  fkm_points p = {big, FKM_DTYPE_FP32, 1, BIG_N, D};
  fkm_options o = options(BIG_K);
  tuned t;
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_runtime_info info;
  ck_assert_int_eq(fkm_runtime_query(ctx, &info), FKM_OK);
  const fkm_config pair = {128, 64, D, 4, 4, 2};
  if (info.sm == 90) {
    struct fkm__gpu *g;
    ck_assert_int_eq(fkm__gpu_open(ctx, o.device, &g), FKM_OK);
    ck_assert_int_eq(fkm__gpu_record_store(ctx, g, &p, &o, &pair, 1.0), FKM_OK);
  }
  tune_into(ctx, &p, &o, &t);
  int clustered = 0, plain = 0;
  for (size_t i = 0; i < t.r.count; i++) {
    ck_assert_msg(t.r.timings[i].ms > 0, "candidate %zu did not run or its labels differ", i);
    clustered += t.r.timings[i].config.num_ctas > 1, plain += t.r.timings[i].config.num_ctas <= 1;
  }
  ck_assert_int_ge(plain, 1);
  if (ctx->gpu->sm == 90) ck_assert_int_ge(clustered, 1);
  fkm_ctx_free(ctx);
  free(big);
}
END_TEST

int main(void) {
  if (!fkm_test_gpu_usable()) return 77;
  snprintf(dir, sizeof dir, "/tmp/fkm-gpu-tune-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(root, sizeof root, "%s/cache", dir);
  setenv("FKM_CACHE_DIR", root, 1);
  unsetenv("FKM_CACHE_OVERRIDE_DIR");
  unsetenv("FKM_BUNDLE_PATH");
  uint64_t rng = fkm_test_seed();
  x = fkm_test_blobs(&rng, 1, N, D, K, 0.5);
  Suite *s = suite_create("gpu_tune");
  TCase *t = tcase_create("tune");
  tcase_set_timeout(t, 600);
  tcase_add_test(t, tune_then_fit_from_the_record);
  tcase_add_test(t, fit_tunes_a_new_bucket_once);
  tcase_add_test(t, a_clustered_record_is_timed_beside_plain_blocks);
  suite_add_tcase(s, t);
  int rc = fkm_test_run(s, 1);
  fkm__remove_tree(dir);
  free(x);
  return rc;
}
