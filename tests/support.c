/* Helpers shared by the test suites. */
#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fkm_test_seed(void) {
  static uint64_t seed;
  static int done;
  if (!done) {
    const char *env = getenv("FKM_TEST_SEED");
    seed = env ? strtoull(env, NULL, 0) : mix((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    fprintf(stderr, "test seed: FKM_TEST_SEED=%llu\n", (unsigned long long)seed);
    done = 1;
  }
  return seed;
}

double fkm_test_uniform(uint64_t *state, double lo, double hi) {
  *state = mix(*state);
  return lo + (hi - lo) * (double)(*state >> 11) * 0x1p-53;
}

float *fkm_test_random(uint64_t *state, size_t count) {
  float *x = malloc(count * sizeof(float));
  for (size_t i = 0; i < count; i++) x[i] = (float)fkm_test_uniform(state, -1.0, 1.0);
  return x;
}

float *fkm_test_blobs(uint64_t *state, int64_t b, int64_t n, int64_t d, int64_t k, double spread) {
  float *x = malloc((size_t)(b * n * d) * sizeof(float));
  double *centre = malloc((size_t)(k * d) * sizeof(double));
  for (int64_t bi = 0; bi < b; bi++) {
    for (int64_t i = 0; i < k * d; i++) centre[i] = fkm_test_uniform(state, -10.0, 10.0);
    for (int64_t i = 0; i < n; i++) {
      int64_t c = i % k;
      for (int64_t j = 0; j < d; j++)
        x[(bi * n + i) * d + j] =
            (float)(centre[c * d + j] + spread * fkm_test_uniform(state, -1.0, 1.0));
    }
  }
  free(centre);
  return x;
}

int fkm_test_run(Suite *s, int no_fork) {
  SRunner *r = srunner_create(s);
  if (no_fork) srunner_set_fork_status(r, CK_NOFORK);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

typedef struct {
  const fkm__kernel_spec *specs;
  size_t count;
  atomic_size_t next, failed;
} compile_job;

static void compile_one(compile_job *job, const fkm__kernel_spec *s, fkm_ctx *ctx) {
  char *src = NULL, desc[256];
  void *cubin = NULL;
  size_t size = 0;
  fkm_status st = fkm__generate(ctx, s, &src);
  if (st == FKM_OK) st = fkm__compile(ctx, s, src, &cubin, &size);
  if (st != FKM_OK) {
    fkm__spec_describe(s, desc, sizeof desc);
    fprintf(stderr, "compile failed: %s: %s\n%.600s\n", desc, fkm_ctx_last_error(ctx),
            fkm_ctx_compile_log(ctx));
    atomic_fetch_add(&job->failed, 1);
  }
  fkm__clear_error(ctx);
  free(src);
  free(cubin);
}

static void *compile_worker(void *arg) {
  compile_job *job = arg;
  fkm_ctx *ctx;
  fkm_ctx_create(&ctx);
  for (size_t i; (i = atomic_fetch_add(&job->next, 1)) < job->count;)
    compile_one(job, &job->specs[i], ctx);
  fkm_ctx_free(ctx);
  return NULL;
}

size_t fkm_test_compile_all(const struct fkm__kernel_spec *specs, size_t count, int threads) {
  compile_job job = {specs, count, 0, 0};
  pthread_t tid[16];
  if (threads > 16) threads = 16;
  for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, compile_worker, &job);
  for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
  return atomic_load(&job.failed);
}

int fkm_test_gpu_usable(void) {
  fkm_ctx *probe;
  fkm_ctx_create(&probe);
  fkm_status s = fkm__gpu_available(probe, 0);
  if (s != FKM_OK) fprintf(stderr, "skipping GPU suite: %s\n", fkm_ctx_last_error(probe));
  fkm_ctx_free(probe);
  return s == FKM_OK;
}

fkm_test_fit fkm_test_run_fit(const fkm_points *p, const fkm_options *o) {
  fkm_test_fit f;
  size_t nc = (size_t)(p->batches * o->k * p->d), nl = (size_t)(p->batches * p->n);
  f.c = malloc(nc * sizeof(float));
  f.labels = malloc(nl * sizeof(int32_t));
  f.inertia = malloc((size_t)p->batches * sizeof(double));
  for (size_t i = 0; i < nc; i++) f.c[i] = NAN;
  for (size_t i = 0; i < nl; i++) f.labels[i] = -1;
  for (int64_t i = 0; i < p->batches; i++) f.inertia[i] = NAN;
  f.r = (fkm_result){.centroids = f.c,
                     .labels = f.labels,
                     .inertia = f.inertia,
                     .iterations = -1,
                     .engine = FKM_ENGINE_AUTO,
                     .ms_assign = -1.0,
                     .ms_update = -1.0};
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  f.status = fkm_fit(ctx, p, o, &f.r);
  snprintf(f.err, sizeof f.err, "%s", fkm_ctx_last_error(ctx));
  fkm_ctx_free(ctx);
  return f;
}

void fkm_test_fit_free(fkm_test_fit *f) {
  free(f->c);
  free(f->labels);
  free(f->inertia);
}

int fkm_test_nvrtc_usable(void) {
  fkm_ctx *ctx;
  fkm_runtime_info info;
  if (fkm_ctx_create(&ctx) != FKM_OK) return 0;
  fkm_runtime_query(ctx, &info);
  fkm_ctx_free(ctx);
  return info.nvrtc == FKM_OK;
}

void fkm_test_capture_warnings(fkm_log_level level, const char *message, void *user) {
  fkm_test_log_capture *c = user;
  if (level != FKM_LOG_WARN) return;
  c->warnings++;
  snprintf(c->last, sizeof c->last, "%s", message);
}
