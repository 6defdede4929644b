/* Start-up of fkm as the process a user runs (issue 5's targets): in a new process, with the data
 * already on the device, the wall time from the first fkm call to the first Lloyd iteration.
 *
 * Before the clock: the driver is opened (dlopen, as by an application that already uses CUDA),
 * the device's primary context retained and made current (the one fkm uses), random points
 * uploaded in their storage dtype, the result buffers allocated. Timed: fkm_ctx_create, then
 * fkm_fit_device with an on_iter callback that notes when iteration 1 is reported and stops the fit
 * (which then returns FKM_ERR_CANCELLED: the expected outcome). So everything a first call does is
 * inside: fkm's driver table, NVRTC loading and compiles or cache reads, module loads, workspace,
 * the points' conversion, the initial centroids and the first iteration.
 *
 * Usage: startup [--n N] [--d D] [--k K] [--batches B] [--dtype fp16|bf16|fp32]
 *                [--init random|kmeans++] [--device I] [--label TEXT] [--verbose]
 * Defaults: N = 1,048,576, D = 128, K = 1024, B = 1, fp16, random init, device 0. The cache is
 * what the environment says (FKM_CACHE_DIR, FKM_BUNDLE_PATH, FKM_NVRTC_PATH; bench/startup.sh runs
 * the three cases). Prints one JSON line (fields in print_json); fkm's warnings (all its log lines
 * with --verbose) go to stderr. Exit status 0 when iteration 1 was reported, 1 when the fit failed,
 * 2 when the benchmark cannot run (arguments, driver, memory).
 *
 * White-box: links the static library to read the process-wide NVRTC call counter
 * (fkm__nvrtc_calls), the context's kernel compile + load time (a cancelled fit leaves its result
 * unwritten, ms_compile included) and the cache root the library resolves. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_driver.h"
#include "cache.h"
#include "generate.h"
#include "gpu.h"
#include "kernel_cache.h"

/* Opens the driver and makes device's primary context current; its name into name. 0 or 2. */
static int open_device(int device, char *name, int len) {
  CUdevice dev;
  CUcontext context;
  int rc = driver_open(device, &dev, &context);
  return rc ? rc : cu_check(cu.cuDeviceGetName(name, len, dev), "cuDeviceGetName");
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ---- arguments ------------------------------------------------------------------------------ */
typedef struct args {
  int64_t n, d, k, b;
  fkm_dtype dtype;
  fkm_init init;
  int device, verbose;
  const char *label;
} args;

/* Sets option flag from its value v. 0, or 2 with a message. */
static int parse_value(const char *flag, const char *v, args *a) {
  char *end;
  long long x = strtoll(v, &end, 10);
  int number = *v && !*end && x > 0;
  int64_t *dim = !strcmp(flag, "--n")         ? &a->n
                 : !strcmp(flag, "--d")       ? &a->d
                 : !strcmp(flag, "--k")       ? &a->k
                 : !strcmp(flag, "--batches") ? &a->b
                                              : NULL;
  int is_dtype = !strcmp(flag, "--dtype"), is_init = !strcmp(flag, "--init");
  if (dim && number) return *dim = x, 0;
  if (!strcmp(flag, "--device") && *v && !*end && x >= 0) return a->device = (int)x, 0;
  if (!strcmp(flag, "--label")) return a->label = v, 0;
  if (is_dtype && !strcmp(v, "fp16")) return a->dtype = FKM_DTYPE_FP16, 0;
  if (is_dtype && !strcmp(v, "bf16")) return a->dtype = FKM_DTYPE_BF16, 0;
  if (is_dtype && !strcmp(v, "fp32")) return a->dtype = FKM_DTYPE_FP32, 0;
  if (is_init && !strcmp(v, "random")) return a->init = FKM_INIT_RANDOM, 0;
  if (is_init && !strcmp(v, "kmeans++")) return a->init = FKM_INIT_KMEANSPP, 0;
  return fprintf(stderr, "startup: bad option %s %s\n", flag, v), 2;
}

static int parse(int argc, char **argv, args *a) {
  *a = (args){1048576, 128, 1024, 1, FKM_DTYPE_FP16, FKM_INIT_RANDOM, 0, 0, ""};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--verbose")) {
      a->verbose = 1;
    } else if (i + 1 < argc) {
      if (parse_value(argv[i], argv[i + 1], a)) return 2;
      i++;
    } else {
      return fprintf(stderr, "startup: bad option %s (see the usage in bench/startup.c)\n",
                     argv[i]), 2;
    }
  }
  return a->k <= a->n ? 0 : fail("K must not exceed N");
}

/* ---- data on the device --------------------------------------------------------------------- */
/* Device buffers of one run: points [B][N][D] in the storage dtype, centroids [B][K][D] f32,
 * labels [B][N] i32, inertia [B] f64. */
typedef struct buffers {
  CUdeviceptr x, centroids, labels, inertia;
} buffers;

/* Uniform values in [-1, 1) from a 64-bit LCG, as the storage dtype: a host array (caller frees)
 * of count elements, or NULL. */
static void *random_points(size_t count, fkm_dtype dtype) {
  size_t esize = dtype == FKM_DTYPE_FP32 ? 4 : 2;
  unsigned char *h = malloc(count * esize);
  uint64_t s = 42;
  for (size_t i = 0; h && i < count; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    float v = (float)((double)(s >> 11) * 0x1p-53 * 2.0 - 1.0);
    if (dtype == FKM_DTYPE_FP32)
      ((float *)h)[i] = v;
    else
      ((uint16_t *)h)[i] = dtype == FKM_DTYPE_FP16 ? fkm__float_to_half(v) : fkm__float_to_bf16(v);
  }
  return h;
}

static int upload(const args *a, buffers *d) {
  size_t count = (size_t)(a->b * a->n * a->d), esize = a->dtype == FKM_DTYPE_FP32 ? 4 : 2;
  void *h = random_points(count, a->dtype);
  if (!h) return fail("out of host memory for the points");
  int rc = cu_check(cu.cuMemAlloc(&d->x, count * esize), "cuMemAlloc") ||
           cu_check(cu.cuMemcpyHtoD(d->x, h, count * esize), "cuMemcpyHtoD") ||
           cu_check(cu.cuMemAlloc(&d->centroids, (size_t)(a->b * a->k * a->d) * 4), "cuMemAlloc") ||
           cu_check(cu.cuMemAlloc(&d->labels, (size_t)(a->b * a->n) * 4), "cuMemAlloc") ||
           cu_check(cu.cuMemAlloc(&d->inertia, (size_t)a->b * 8), "cuMemAlloc") ||
           cu_check(cu.cuCtxSynchronize(), "cuCtxSynchronize");
  free(h);
  return rc ? 2 : 0;
}

/* ---- the timed call ------------------------------------------------------------------------- */
typedef struct timing {
  double t0, first;  /* clock at the first fkm call; at iteration 1's report (0: none) */
  double iter_ms;    /* iteration 1's own wall time, as its report gives it */
  double fit_ms;     /* from the first fkm call until fit returned */
  double compile_ms; /* the context's kernel compile + load time */
  size_t nvrtc_calls, compiles;
  fkm_status status;
} timing;

static int stop_at_first(const fkm_iter_report *r, void *user) {
  timing *t = user;
  if (r->iteration == 1 && t->first == 0) t->first = now_ms(), t->iter_ms = r->ms;
  return 1;
}

static void log_line(fkm_log_level level, const char *message, void *user) {
  static const char *const names[] = {"debug", "info", "warn"};
  if (level >= FKM_LOG_WARN || *(const int *)user)
    fprintf(stderr, "startup: fkm [%s] %s\n", names[level], message);
}

static void timed_fit(const args *a, const buffers *d, timing *t) {
  fkm_options o;
  fkm_options_init(&o);
  o.k = a->k, o.init = a->init, o.device = a->device, o.engine = FKM_ENGINE_GPU;
  o.on_iter = stop_at_first, o.on_iter_user = t;
  fkm_points p = {(const void *)(uintptr_t)d->x, a->dtype, a->b, a->n, a->d};
  fkm_result r = {.centroids = (float *)(uintptr_t)d->centroids,
                  .labels = (int32_t *)(uintptr_t)d->labels,
                  .inertia = (double *)(uintptr_t)d->inertia};
  fkm_ctx *ctx = NULL;
  size_t calls0 = fkm__nvrtc_calls();
  t->t0 = now_ms();
  t->status = fkm_ctx_create(&ctx);
  if (t->status == FKM_OK) {
    fkm_log_set(ctx, log_line, (void *)&a->verbose);
    t->status = fkm_fit_device(ctx, &p, &o, &r, NULL);
  }
  t->fit_ms = now_ms() - t->t0;
  t->nvrtc_calls = fkm__nvrtc_calls() - calls0;
  t->compiles = fkm__nvrtc_compile_count(ctx);
  t->compile_ms = ctx && ctx->gpu ? ctx->gpu->ms_compile : 0.0;
  if (t->status != FKM_OK && t->status != FKM_ERR_CANCELLED)
    fprintf(stderr, "startup: fit failed: %s: %s\n", fkm_status_name(t->status),
            fkm_ctx_last_error(ctx));
  fkm_ctx_free(ctx);
}

/* ---- output --------------------------------------------------------------------------------- */
static void put_string(const char *key, const char *v) {
  printf("\"%s\": \"", key);
  for (; *v; v++) {
    if (*v == '"' || *v == '\\') putchar('\\');
    putchar((unsigned char)*v < 32 ? '?' : *v);
  }
  printf("\", ");
}

static const char *dtype_name(fkm_dtype t) {
  return t == FKM_DTYPE_FP16 ? "fp16" : t == FKM_DTYPE_BF16 ? "bf16" : "fp32";
}

/* One JSON line: the run, where kernels could come from (cache_dir: the user cache root fkm
 * resolves, "" when disabled; bundle_path and nvrtc_path: the environment's, "" when unset), the
 * fit's status and the times in ms, the NVRTC compiles the process made (nvrtc_calls) and those
 * the context counts (kernel_compiles). */
static void print_json(const args *a, const char *device, const timing *t) {
  char root[FKM__PATH_MAX];
  const char *bundle = getenv("FKM_BUNDLE_PATH"), *nvrtc = getenv("FKM_NVRTC_PATH");
  if (!fkm__cache_user_root(root, sizeof root)) root[0] = '\0';
  printf("{");
  put_string("label", a->label);
  put_string("device", device);
  printf("\"B\": %lld, \"N\": %lld, \"D\": %lld, \"K\": %lld, ", (long long)a->b, (long long)a->n,
         (long long)a->d, (long long)a->k);
  put_string("dtype", dtype_name(a->dtype));
  put_string("init", a->init == FKM_INIT_KMEANSPP ? "kmeans++" : "random");
  put_string("cache_dir", root);
  put_string("bundle_path", bundle ? bundle : "");
  put_string("nvrtc_path", nvrtc ? nvrtc : "");
  put_string("status", fkm_status_name(t->status));
  printf("\"first_iteration\": %s, ", t->first > 0 ? "true" : "false");
  printf("\"ms_to_first_iteration\": %.3f, \"ms_first_iteration\": %.3f, ",
         t->first > 0 ? t->first - t->t0 : -1.0, t->first > 0 ? t->iter_ms : -1.0);
  printf("\"ms_compile\": %.3f, \"ms_fit_call\": %.3f, ", t->compile_ms, t->fit_ms);
  printf("\"nvrtc_calls\": %zu, \"kernel_compiles\": %zu, ", t->nvrtc_calls, t->compiles);
  put_string("fkm_version", fkm_version_string());
  printf("\"ok\": %s}\n", t->first > 0 ? "true" : "false");
}

int main(int argc, char **argv) {
  bench_program = "startup";
  args a;
  buffers d = {0};
  char device[256];
  timing t = {0};
  int rc = parse(argc, argv, &a);
  if (!rc) rc = open_device(a.device, device, sizeof device);
  if (!rc) rc = upload(&a, &d);
  if (rc) return rc;
  timed_fit(&a, &d, &t);
  print_json(&a, device, &t);
  cu.cuMemFree(d.x), cu.cuMemFree(d.centroids), cu.cuMemFree(d.labels), cu.cuMemFree(d.inertia);
  return t.first > 0 && (t.status == FKM_ERR_CANCELLED || t.status == FKM_OK) ? 0 : 1;
}
