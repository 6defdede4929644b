/* Multi-GPU fits through NCCL (label "gpu"; exits 77 where no GPU engine or no NCCL is usable):
 * a one-rank communicator gives bitwise the one-GPU fit — in memory and streamed, batched,
 * weighted, with restarts, on host and device points, and through the in-process path; on machines
 * with several GPUs, fits over 2..G
 * devices give bitwise the one-GPU fit, in one process (opts->devices) and as one process per rank
 * (fkm_comm_from_env, shards not whole spans); unsupported options are refused with nothing
 * written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cuda_api.h"
#include "internal.h"
#include "support.h"

static uint64_t rng;
static char g_case[256];

static void setup(void) { rng = fkm_test_seed() ^ 0x510e527fade682d1ull; }

typedef struct dist_case {
  int64_t b, n, d, k;
  fkm_dtype storage;
  fkm_metric metric;
  int weights, n_init;
  size_t budget; /* 0: in memory; else a device budget that streams */
} dist_case;

static const dist_case cases[] = {
    {1, 100003, 128, 50, FKM_DTYPE_FP16, FKM_METRIC_L2, 0, 1, 0},
    {3, 30001, 37, 20, FKM_DTYPE_FP32, FKM_METRIC_L2, 1, 1, 0},
    {2, 50000, 64, 33, FKM_DTYPE_FP32, FKM_METRIC_COSINE, 0, 3, 0},
    {1, 70001, 96, 64, FKM_DTYPE_FP16, FKM_METRIC_DOT, 1, 1, 4u << 20},
};

/* Points of case c in its storage dtype (host), weights 0..3 when it asks. */
static void *make_points(const dist_case *c, float **w) {
  size_t count = (size_t)(c->b * c->n * c->d);
  float *x32 = fkm_test_blobs(&rng, c->b, c->n, c->d, c->k, 0.6);
  void *x = x32;
  if (c->storage == FKM_DTYPE_FP16) {
    uint16_t *h = malloc(count * 2);
    for (size_t i = 0; i < count; i++) h[i] = fkm__float_to_half(x32[i]);
    free(x32);
    x = h;
  }
  *w = NULL;
  if (c->weights) {
    *w = malloc((size_t)(c->b * c->n) * 4);
    for (int64_t i = 0; i < c->b * c->n; i++) (*w)[i] = (float)(int)fkm_test_uniform(&rng, 0.0, 4.0);
  }
  return x;
}

static fkm_options case_options(const dist_case *c, const float *w) {
  fkm_options o;
  fkm_options_init(&o);
  o.k = c->k, o.metric = c->metric, o.engine = FKM_ENGINE_GPU;
  o.max_iter = 10, o.tol = c->n_init > 1 ? 1e-4 : 0.0, o.seed = rng, o.n_init = c->n_init;
  o.sample_weight = w;
  o.device_memory_budget = c->budget;
  return o;
}

static void expect_same(const fkm_points *p, int64_t k, const fkm_test_fit *a, const fkm_test_fit *b) {
  size_t nc = (size_t)(p->batches * k * p->d), nl = (size_t)(p->batches * p->n);
  ck_assert_msg(a->status == FKM_OK, "%s: %s", g_case, a->err);
  ck_assert_msg(b->status == FKM_OK, "%s: %s", g_case, b->err);
  ck_assert_msg(memcmp(a->c, b->c, nc * 4) == 0, "%s: centroids differ", g_case);
  ck_assert_msg(memcmp(a->labels, b->labels, nl * 4) == 0, "%s: labels differ", g_case);
  ck_assert_msg(memcmp(a->inertia, b->inertia, (size_t)p->batches * 8) == 0, "%s: inertia differs",
                g_case);
  ck_assert_int_eq(a->r.iterations, b->r.iterations);
}

/* A one-rank communicator on device 0 (skips the suite when NCCL is absent: checked in main). */
static fkm_comm *one_rank(void) {
  fkm_ctx *ctx;
  fkm_comm_id id;
  fkm_comm *comm = NULL;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_msg(fkm_comm_id_create(ctx, &id) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert_msg(fkm_comm_create(ctx, 0, 1, 0, &id, &comm) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  ck_assert_int_eq(fkm_comm_rank(comm), 0);
  ck_assert_int_eq(fkm_comm_size(comm), 1);
  fkm_ctx_free(ctx);
  return comm;
}

START_TEST(one_rank_equals_one_gpu) {
  const dist_case *c = &cases[_i];
  float *w;
  void *x = make_points(c, &w);
  fkm_points p = {x, c->storage, c->b, c->n, c->d};
  snprintf(g_case, sizeof g_case, "case %d (B=%lld N=%lld D=%lld K=%lld%s%s%s)", _i,
           (long long)c->b, (long long)c->n, (long long)c->d, (long long)c->k,
           c->weights ? ", weights" : "", c->n_init > 1 ? ", restarts" : "",
           c->budget ? ", streamed" : "");
  fkm_options o = case_options(c, w);
  fkm_test_fit ref = fkm_test_run_fit(&p, &o);
  o.comm = one_rank();
  fkm_test_fit got = fkm_test_run_fit(&p, &o);
  expect_same(&p, c->k, &got, &ref);
  fkm_comm_free(o.comm);
  fkm_test_fit_free(&ref), fkm_test_fit_free(&got);
  free(x), free(w);
}
END_TEST

/* Per-iteration reports, recorded; the callback stops the fit at iteration `stop` (0: never). */
typedef struct reports {
  fkm_iter_report r[16];
  int count, stop;
} reports;

static int record(const fkm_iter_report *r, void *user) {
  reports *rs = user;
  if (rs->count < 16) rs->r[rs->count++] = *r;
  return rs->stop && r->iteration >= rs->stop;
}

/* With a callback, a one-rank communicator reports what the one-GPU fit reports (inertia, changed
 * labels, empty clusters, bit for bit), and a callback that stops it stops the fit cleanly. */
START_TEST(one_rank_reports) {
  const dist_case *c = &cases[1];
  float *w;
  void *x = make_points(c, &w);
  fkm_points p = {x, c->storage, c->b, c->n, c->d};
  fkm_options o = case_options(c, w);
  reports plain = {.count = 0}, ranked = {.count = 0};
  o.on_iter = record, o.on_iter_user = &plain;
  fkm_test_fit ref = fkm_test_run_fit(&p, &o);
  o.comm = one_rank(), o.on_iter_user = &ranked;
  fkm_test_fit got = fkm_test_run_fit(&p, &o);
  snprintf(g_case, sizeof g_case, "reports");
  expect_same(&p, c->k, &got, &ref);
  ck_assert_int_eq(plain.count, ranked.count);
  for (int i = 0; i < plain.count; i++) {
    ck_assert_int_eq(plain.r[i].iteration, ranked.r[i].iteration);
    ck_assert(memcmp(&plain.r[i].inertia, &ranked.r[i].inertia, sizeof(double)) == 0);
    ck_assert_int_eq(plain.r[i].changed, ranked.r[i].changed);
    ck_assert_int_eq(plain.r[i].empty, ranked.r[i].empty);
  }
  ranked = (reports){.count = 0, .stop = 2};
  fkm_test_fit stopped = fkm_test_run_fit(&p, &o);
  ck_assert_msg(stopped.status == FKM_ERR_CANCELLED, "%s: %s", fkm_status_name(stopped.status), stopped.err);
  ck_assert_int_eq(ranked.count, 2);
  fkm_comm_free(o.comm);
  fkm_test_fit_free(&ref), fkm_test_fit_free(&got), fkm_test_fit_free(&stopped);
  free(x), free(w);
}
END_TEST

/* fkm_fit_device with a one-rank communicator: the one-GPU device fit's results. */
START_TEST(one_rank_device_points) {
  const dist_case *c = &cases[1];
  float *w;
  void *x = make_points(c, &w);
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  fkm_comm *comm = one_rank(); /* makes device 0's primary context current */
  size_t px = (size_t)(c->b * c->n * c->d) * 4, nw = (size_t)(c->b * c->n) * 4;
  size_t nc = (size_t)(c->b * c->k * c->d) * 4, nl = (size_t)(c->b * c->n) * 4;
  CUdeviceptr dx, dw, dc[2], dl[2], di[2];
  ck_assert(cu->cuMemAlloc(&dx, px) == CUDA_SUCCESS && cu->cuMemAlloc(&dw, nw) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyHtoDAsync(dx, x, px, NULL) == CUDA_SUCCESS);
  ck_assert(cu->cuMemcpyHtoDAsync(dw, w, nw, NULL) == CUDA_SUCCESS);
  void *host[2][3];
  for (int i = 0; i < 2; i++) {
    ck_assert(cu->cuMemAlloc(&dc[i], nc) == CUDA_SUCCESS && cu->cuMemAlloc(&dl[i], nl) == CUDA_SUCCESS &&
              cu->cuMemAlloc(&di[i], (size_t)c->b * 8) == CUDA_SUCCESS);
    fkm_points p = {(void *)(uintptr_t)dx, c->storage, c->b, c->n, c->d};
    fkm_options o = case_options(c, (const float *)(uintptr_t)dw);
    o.comm = i ? comm : NULL;
    fkm_result r = {.centroids = (float *)(uintptr_t)dc[i], .labels = (int32_t *)(uintptr_t)dl[i],
                    .inertia = (double *)(uintptr_t)di[i]};
    ck_assert_msg(fkm_fit_device(ctx, &p, &o, &r, NULL) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
    host[i][0] = malloc(nc), host[i][1] = malloc(nl), host[i][2] = malloc((size_t)c->b * 8);
    ck_assert(cu->cuMemcpyDtoHAsync(host[i][0], dc[i], nc, NULL) == CUDA_SUCCESS);
    ck_assert(cu->cuMemcpyDtoHAsync(host[i][1], dl[i], nl, NULL) == CUDA_SUCCESS);
    ck_assert(cu->cuMemcpyDtoHAsync(host[i][2], di[i], (size_t)c->b * 8, NULL) == CUDA_SUCCESS);
    ck_assert(cu->cuStreamSynchronize(NULL) == CUDA_SUCCESS);
  }
  ck_assert_msg(memcmp(host[0][0], host[1][0], nc) == 0, "device points: centroids differ");
  ck_assert_msg(memcmp(host[0][1], host[1][1], nl) == 0, "device points: labels differ");
  ck_assert_msg(memcmp(host[0][2], host[1][2], (size_t)c->b * 8) == 0, "device points: inertia differs");
  for (int i = 0; i < 2; i++) {
    cu->cuMemFree(dc[i]), cu->cuMemFree(dl[i]), cu->cuMemFree(di[i]);
    free(host[i][0]), free(host[i][1]), free(host[i][2]);
  }
  cu->cuMemFree(dx), cu->cuMemFree(dw);
  fkm_comm_free(comm);
  fkm_ctx_free(ctx);
  free(x), free(w);
}
END_TEST

/* Options a multi-GPU fit does not take: a clear error, nothing written. */
START_TEST(refusals_write_nothing) {
  const dist_case *c = &cases[0];
  float *w;
  void *x = make_points(c, &w);
  fkm_points p = {x, c->storage, c->b, c->n, c->d};
  fkm_comm *comm = one_rank();
  static const int twice[2] = {0, 0};
  for (int i = 0; i < 8; i++) {
    fkm_options o = case_options(c, w);
    fkm_status want = FKM_ERR_UNSUPPORTED;
    o.comm = comm;
    if (i == 0) o.init = FKM_INIT_KMEANSPP;
    if (i == 1) o.empty = FKM_EMPTY_FARTHEST;
    if (i == 2) o.tol_relative = 1, o.tol = 1e-4;
    if (i == 3) o.tune = 1;
    if (i == 4) o.engine = FKM_ENGINE_CPU, want = FKM_ERR_INVALID_ARG;
    if (i == 5) o.device = 1, want = FKM_ERR_INVALID_ARG;
    if (i == 6) o.comm = NULL, o.devices = twice, o.num_devices = 2, want = FKM_ERR_INVALID_ARG;
    if (i == 7) o.devices = twice, o.num_devices = 2, want = FKM_ERR_INVALID_ARG; /* both given */
    fkm_test_fit f = fkm_test_run_fit(&p, &o);
    ck_assert_msg(f.status == want, "refusal %d: %s (%s)", i, fkm_status_name(f.status), f.err);
    ck_assert_msg(strstr(f.err, "options") != NULL, "refusal %d: unclear message '%s'", i, f.err);
    for (int64_t j = 0; j < c->k * c->d; j++) ck_assert(isnan(f.c[j]));
    for (int64_t j = 0; j < c->n; j++) ck_assert_int_eq(f.labels[j], -1);
    ck_assert(isnan(f.inertia[0]));
    fkm_test_fit_free(&f);
  }
  fkm_comm_free(comm);
  free(x), free(w);
}
END_TEST

static int device_count(void) {
  fkm_ctx *ctx;
  fkm_runtime_info info;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_runtime_query(ctx, &info);
  fkm_ctx_free(ctx);
  return info.device_count;
}

/* opts->devices over more GPUs than the points have 512-point spans takes only as many (here one:
 * the in-process path — communicators, a thread per rank, collected results — runs on device 0
 * alone, even where device 1 does not exist): the one-GPU fit, bit for bit. */
START_TEST(devices_beyond_spans) {
  const dist_case c = {1, 500, 24, 7, FKM_DTYPE_FP32, FKM_METRIC_L2, 1, 1, 0};
  static const int devices[2] = {0, 1};
  float *w;
  void *x = make_points(&c, &w);
  fkm_points p = {x, c.storage, c.b, c.n, c.d};
  fkm_options o = case_options(&c, w);
  snprintf(g_case, sizeof g_case, "N=500 over devices 0, 1");
  fkm_test_fit ref = fkm_test_run_fit(&p, &o);
  o.devices = devices, o.num_devices = 2;
  fkm_test_fit got = fkm_test_run_fit(&p, &o);
  expect_same(&p, c.k, &got, &ref);
  fkm_test_fit_free(&ref), fkm_test_fit_free(&got);
  free(x), free(w);
}
END_TEST

/* opts->devices over 2..G GPUs of this process: the one-GPU fit, bit for bit (B = 1 cases). */
START_TEST(devices_equal_one_gpu) {
  int count = device_count();
  if (count < 2) {
    fprintf(stderr, "devices_equal_one_gpu: %d GPU, nothing to split over\n", count);
    return;
  }
  for (int ci = 0; ci < 4; ci += 3) {
    const dist_case *c = &cases[ci];
    float *w;
    void *x = make_points(c, &w);
    fkm_points p = {x, c->storage, c->b, c->n, c->d};
    fkm_options o = case_options(c, w);
    fkm_test_fit ref = fkm_test_run_fit(&p, &o);
    int devices[16];
    for (int g = 2; g <= count && g <= 16; g *= 2) {
      for (int i = 0; i < g; i++) devices[i] = i;
      o.devices = devices, o.num_devices = g;
      snprintf(g_case, sizeof g_case, "case %d over %d devices", ci, g);
      fkm_test_fit got = fkm_test_run_fit(&p, &o);
      expect_same(&p, c->k, &got, &ref);
      fkm_test_fit_free(&got);
    }
    o.devices = NULL, o.num_devices = 0;
    fkm_test_fit_free(&ref);
    free(x), free(w);
  }
}
END_TEST

/* Rank r of g, run as its own process (this binary re-executed: `rank R G SEED ID`): case 0's
 * points made from SEED as the parent made them, its shard (cut 77 points off span boundaries)
 * fitted through fkm_comm_from_env on device r; centroids and iterations written to stdout. */
static int child_rank(int r, int g, uint64_t seed, const char *id) {
  char v[16];
  snprintf(v, sizeof v, "%d", r), setenv("FKM_RANK", v, 1);
  snprintf(v, sizeof v, "%d", g), setenv("FKM_SIZE", v, 1);
  rng = seed;
  const dist_case *c = &cases[0];
  float *w;
  void *x = make_points(c, &w);
  fkm_options o = case_options(c, w);
  fkm_ctx *ctx;
  fkm_comm *comm = NULL;
  if (fkm_ctx_create(&ctx) != FKM_OK || fkm_comm_from_env(ctx, r, id, &comm) != FKM_OK) return 2;
  int64_t first = c->n * r / g - (r ? 77 : 0), end = r == g - 1 ? c->n : c->n * (r + 1) / g - 77;
  size_t row = (size_t)c->d * fkm__dtype_size(c->storage), nc = (size_t)(c->k * c->d);
  fkm_points shard = {(const char *)x + (size_t)first * row, c->storage, 1, end - first, c->d};
  o.comm = comm, o.device = r;
  float *cent = malloc(nc * 4);
  fkm_result res = {.centroids = cent};
  fkm_status s = fkm_fit(ctx, &shard, &o, &res);
  if (s != FKM_OK) fprintf(stderr, "rank %d: %s\n", r, fkm_ctx_last_error(ctx));
  if (s != FKM_OK || fwrite(cent, 4, nc, stdout) != nc ||
      fwrite(&res.iterations, sizeof res.iterations, 1, stdout) != 1)
    return 1;
  fkm_comm_free(comm);
  fkm_ctx_free(ctx);
  return 0;
}

/* Starts rank r of g as a new process (exec: CUDA does not survive fork) reading its stdout. */
static pid_t start_rank(int r, int g, uint64_t seed, const char *id, int *fd) {
  int fds[2];
  ck_assert(pipe(fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    char rs[16], gs[16], ss[32];
    snprintf(rs, sizeof rs, "%d", r), snprintf(gs, sizeof gs, "%d", g);
    snprintf(ss, sizeof ss, "%llu", (unsigned long long)seed);
    dup2(fds[1], 1);
    close(fds[0]);
    execl("/proc/self/exe", "test_gpu_dist", "rank", rs, gs, ss, id, (char *)NULL);
    _exit(3);
  }
  close(fds[1]);
  *fd = fds[0];
  return pid;
}

static int read_all(int fd, void *buf, size_t bytes) {
  for (size_t got = 0; got < bytes;) {
    ssize_t n = read(fd, (char *)buf + got, bytes - got);
    if (n <= 0) return 0;
    got += (size_t)n;
  }
  return 1;
}

/* One process per rank (2 ranks), shards of uneven, unaligned sizes: the one-GPU centroids. */
START_TEST(processes_equal_one_gpu) {
  if (device_count() < 2) {
    fprintf(stderr, "processes_equal_one_gpu: one GPU, no second rank to run\n");
    return;
  }
  const dist_case *c = &cases[0];
  uint64_t seed = rng;
  float *w;
  void *x = make_points(c, &w);
  fkm_points p = {x, c->storage, c->b, c->n, c->d};
  fkm_options o = case_options(c, w);
  fkm_test_fit ref = fkm_test_run_fit(&p, &o);
  ck_assert_msg(ref.status == FKM_OK, "%s", ref.err);
  char id[64];
  snprintf(id, sizeof id, "/tmp/fkm-test-id-%d", (int)getpid());
  unlink(id);
  int fd[2];
  pid_t pid[2];
  for (int r = 0; r < 2; r++) pid[r] = start_rank(r, 2, seed, id, &fd[r]);
  size_t nc = (size_t)(c->k * c->d);
  for (int r = 0; r < 2; r++) {
    float *got = malloc(nc * 4);
    int iterations = -1, status = 0;
    int ok = read_all(fd[r], got, nc * 4) && read_all(fd[r], &iterations, sizeof iterations);
    ck_assert(waitpid(pid[r], &status, 0) == pid[r]);
    ck_assert_msg(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0, "rank %d failed (%d)", r, status);
    ck_assert_msg(memcmp(got, ref.c, nc * 4) == 0, "rank %d: centroids differ from one GPU's", r);
    ck_assert_int_eq(iterations, ref.r.iterations);
    close(fd[r]);
    free(got);
  }
  unlink(id);
  fkm_test_fit_free(&ref);
  free(x), free(w);
}
END_TEST

/* Whether NCCL opens here (else the suite has nothing to run). */
static int nccl_usable(void) {
  fkm_ctx *ctx;
  fkm_comm_id id;
  if (fkm_ctx_create(&ctx) != FKM_OK) return 0;
  int ok = fkm_comm_id_create(ctx, &id) == FKM_OK;
  if (!ok) fprintf(stderr, "no NCCL: %s\n", fkm_ctx_last_error(ctx));
  fkm_ctx_free(ctx);
  return ok;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "rank") == 0)
    return child_rank(atoi(argv[2]), atoi(argv[3]), strtoull(argv[4], NULL, 10), argv[5]);
  if (!fkm_test_gpu_usable() || !nccl_usable()) return 77;
  int small = getenv("FKM_TEST_SMALL") != NULL;
  Suite *s = suite_create("gpu_dist");
  TCase *t = tcase_create("core");
  tcase_add_checked_fixture(t, setup, NULL);
  tcase_set_timeout(t, 1200);
  tcase_add_loop_test(t, one_rank_equals_one_gpu, 0, small ? 1 : (int)(sizeof cases / sizeof cases[0]));
  tcase_add_test(t, one_rank_reports);
  tcase_add_test(t, one_rank_device_points);
  tcase_add_test(t, refusals_write_nothing);
  tcase_add_test(t, devices_beyond_spans);
  tcase_add_test(t, devices_equal_one_gpu);
  tcase_add_test(t, processes_equal_one_gpu);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 1);
}
