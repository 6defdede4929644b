/* Out-of-core throughput (issue 6): fkm_fit on fp16 points in page-locked host memory, streamed
 * through the device under a device-memory budget, beside the host→device copy bandwidth of the
 * same buffer measured in the same process.
 *
 * usage: ooc_bench [--n N] [--d D] [--k K] [--iters I] [--budget BYTES[,BYTES...]] [--pageable]
 * Prints one JSON line per budget (0: fkm sizes itself by the free memory): the shape, the H2D bandwidth (best of 5 copies of 1 GiB), every iteration's
 * wall time (fkm's per-iteration reports), their median past the first, and the PCIe floor
 * bytes / bandwidth. Points: uniform fp16 in [-1, 1), filled on all cores (the values do not
 * change the work of exact Lloyd). Uses the driver API (bench_driver.h) for the pinned buffer. */
#include <cuda.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_driver.h"
#include "bench_fill.h"
#include "fkm.h"

#define MAX_ITERS 64

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Best of 5 host→device copies of up to 1 GiB of x, in GB/s. */
static double h2d_bandwidth(const void *x, size_t bytes) {
  size_t n = bytes < ((size_t)1 << 30) ? bytes : (size_t)1 << 30;
  CUdeviceptr d;
  double best = 0.0;
  if (cu.cuMemAlloc(&d, n)) return 0.0;
  for (int i = 0; i < 5; i++) {
    double t0 = now_ms();
    if (cu.cuMemcpyHtoD(d, x, n)) break;
    double gbs = (double)n / ((now_ms() - t0) * 1e-3) * 1e-9;
    if (gbs > best) best = gbs;
  }
  cu.cuMemFree(d);
  return best;
}

/* ---- the fit --------------------------------------------------------------------------------- */
typedef struct iter_log {
  double ms[MAX_ITERS];
  int count;
} iter_log;

static int on_iter(const fkm_iter_report *r, void *user) {
  iter_log *log = user;
  if (log->count < MAX_ITERS) log->ms[log->count++] = r->ms;
  return 0;
}

/* The chunk size and resident chunks fkm's streaming log line names (0 when it did not stream). */
static long long g_chunk, g_resident, g_chunks;
static void on_log(fkm_log_level level, const char *message, void *user) {
  long long points, chunk, resident, chunks;
  (void)level, (void)user;
  if (sscanf(message,
             "streaming %lld points from %*s host memory in chunks of %lld, %lld of %lld chunks",
             &points, &chunk, &resident, &chunks) == 4)
    g_chunk = chunk, g_resident = resident, g_chunks = chunks;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of the iterations past the first (the first includes the pipeline's start). */
static double steady_ms(const iter_log *log) {
  double v[MAX_ITERS];
  int n = log->count - 1;
  if (n < 1) return log->count ? log->ms[0] : 0.0;
  memcpy(v, log->ms + 1, (size_t)n * sizeof *v);
  qsort(v, (size_t)n, sizeof *v, by_value);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define MAX_BUDGETS 8
typedef struct args {
  int64_t n, d, k;
  int iters, pageable, budgets;
  size_t budget[MAX_BUDGETS];
} args;

/* Comma-separated byte counts into a->budget. */
static int parse_budgets(const char *v, args *a) {
  a->budgets = 0;
  for (const char *p = v; *p && a->budgets < MAX_BUDGETS; p += strspn(p, ",")) {
    char *end;
    a->budget[a->budgets++] = (size_t)strtoull(p, &end, 10);
    if (end == p) return 1;
    p = end;
  }
  return a->budgets == 0;
}

static int parse(int argc, char **argv, args *a) {
  *a = (args){(int64_t)1 << 27, 128, 8192, 6, 0, 1, {(size_t)16 << 30}};
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--pageable")) a->pageable = 1;
    else if (!v) return 1;
    else if (!strcmp(argv[i], "--n")) a->n = atoll(v), i++;
    else if (!strcmp(argv[i], "--d")) a->d = atoll(v), i++;
    else if (!strcmp(argv[i], "--k")) a->k = atoll(v), i++;
    else if (!strcmp(argv[i], "--iters")) a->iters = atoi(v), i++;
    else if (!strcmp(argv[i], "--budget")) {
      if (parse_budgets(v, a)) return 1;
      i++;
    }
    else return 1;
  }
  return a->n < 1 || a->d < 1 || a->k < 1 || a->k > a->n || a->iters < 1 || a->iters > MAX_ITERS;
}

static int run(const args *a, size_t budget, const void *x, size_t bytes, double gbs) {
  fkm_ctx *ctx;
  fkm_options o;
  iter_log log = {{0}, 0};
  float *c = malloc((size_t)(a->k * a->d) * sizeof(float));
  fkm_points p = {x, FKM_DTYPE_FP16, 1, a->n, a->d};
  fkm_options_init(&o);
  o.k = a->k, o.engine = FKM_ENGINE_GPU, o.max_iter = a->iters, o.tol = 0.0;
  o.device_memory_budget = budget, o.on_iter = on_iter, o.on_iter_user = &log;
  fkm_result r = {.centroids = c};
  if (!c || fkm_ctx_create(&ctx) != FKM_OK) return 2;
  fkm_log_set(ctx, on_log, NULL);
  g_chunk = g_resident = g_chunks = 0;
  double t0 = now_ms();
  fkm_status s = fkm_fit(ctx, &p, &o, &r);
  double total = now_ms() - t0;
  if (s != FKM_OK) {
    fprintf(stderr, "ooc_bench: fit failed: %s\n", fkm_ctx_last_error(ctx));
    return 2;
  }
  double ms = steady_ms(&log), floor_ms = (double)bytes / (gbs * 1e9) * 1e3;
  printf("{\"n\": %lld, \"d\": %lld, \"k\": %lld, \"dtype\": \"fp16\", \"pinned\": %s, "
         "\"budget\": %zu, \"chunk\": %lld, \"resident\": %lld, \"chunks\": %lld, "
         "\"bytes\": %zu, \"h2d_gbs\": %.2f, \"pcie_floor_ms\": %.2f, "
         "\"ms_per_iter\": %.2f, \"over_floor\": %.3f, \"gbs\": %.2f, \"ms_total\": %.1f, "
         "\"ms_init\": %.1f, \"ms_compile\": %.1f, \"iter_ms\": [",
         (long long)a->n, (long long)a->d, (long long)a->k, a->pageable ? "false" : "true",
         budget, g_chunk, g_resident, g_chunks, bytes, gbs, floor_ms, ms, ms / floor_ms, (double)bytes / (ms * 1e6), total,
         r.ms_init, r.ms_compile);
  for (int i = 0; i < log.count; i++) printf("%s%.2f", i ? ", " : "", log.ms[i]);
  printf("]}\n");
  fkm_ctx_free(ctx);
  free(c);
  return 0;
}

int main(int argc, char **argv) {
  bench_program = "ooc_bench";
  args a;
  if (parse(argc, argv, &a)) {
    fprintf(stderr, "usage: ooc_bench [--n N] [--d D] [--k K] [--iters I] "
                    "[--budget BYTES[,BYTES...]] [--pageable]\n");
    return 2;
  }
  CUdevice dev;
  CUcontext context;
  if (driver_open(0, &dev, &context)) return 2;
  size_t count = (size_t)(a.n * a.d), bytes = count * 2;
  void *x = NULL;
  if (a.pageable ? !(x = malloc(bytes)) : cu.cuMemAllocHost(&x, bytes) != CUDA_SUCCESS) {
    fprintf(stderr, "ooc_bench: cannot allocate %zu bytes of host memory\n", bytes);
    return 2;
  }
  double t0 = now_ms();
  fill_all(x, count);
  fprintf(stderr, "ooc_bench: %zu bytes filled in %.0f ms\n", bytes, now_ms() - t0);
  double gbs = h2d_bandwidth(x, bytes);
  int rc = 0;
  for (int i = 0; i < a.budgets && !rc; i++) rc = run(&a, a.budget[i], x, bytes, gbs);
  if (a.pageable)
    free(x);
  else
    cu.cuMemFreeHost(x);
  return rc;
}
