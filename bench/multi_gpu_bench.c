/* Multi-GPU scaling (issue 9): one fkm_fit of fp16 points in host memory over 1, 2, 4, … GPUs of
 * this process (opts->devices), fixed iterations, random init; reports the device time per Lloyd
 * iteration (rank 0's events), the speedup over one GPU, the efficiency speedup / G and whether
 * the centroids equal the one-GPU fit's bit for bit.
 *
 * usage: multi_gpu_bench [--n N] [--d D] [--k K] [--iters I] [--devices G[,G...]]
 * One JSON line per G; the first G listed is the baseline (give 1 first). G = 0 stands for one GPU
 * run as a one-rank communicator (the ranks' update path: partial sums, broadcast, finalize) — the
 * cost of that path against the fused one-GPU update. Every run also times assign and update apart
 * (opts->profile) in a second fit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_fill.h"
#include "fkm.h"

typedef struct args {
  long long n, d, k;
  int iters, groups[8], group_count;
} args;

/* One fit over g devices (g = 0: device 0 as a one-rank communicator); profile splits the time. */
static fkm_status fit(fkm_ctx *ctx, const fkm_points *p, const args *a, int g, int profile,
                      float *c, fkm_result *r) {
  static const int devices[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  fkm_options o;
  fkm_options_init(&o);
  o.k = a->k, o.max_iter = a->iters, o.tol = 0.0, o.seed = 1, o.engine = FKM_ENGINE_GPU;
  o.devices = devices, o.num_devices = g, o.profile = profile;
  fkm_comm_id id;
  fkm_status s = g == 0 ? fkm_comm_id_create(ctx, &id) : FKM_OK;
  if (s == FKM_OK && g == 0) s = fkm_comm_create(ctx, 0, 1, 0, &id, &o.comm);
  *r = (fkm_result){.centroids = c};
  if (s == FKM_OK) s = fkm_fit(ctx, p, &o, r);
  fkm_comm_free(o.comm);
  return s;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int parse(int argc, char **argv, args *a) {
  *a = (args){1 << 24, 128, 4096, 10, {1, 2}, 2};
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *v = argv[i + 1];
    if (!strcmp(argv[i], "--n")) a->n = atoll(v);
    else if (!strcmp(argv[i], "--d")) a->d = atoll(v);
    else if (!strcmp(argv[i], "--k")) a->k = atoll(v);
    else if (!strcmp(argv[i], "--iters")) a->iters = atoi(v);
    else if (!strcmp(argv[i], "--devices")) {
      a->group_count = 0;
      for (char *s = (char *)v; *s && a->group_count < 8; s += *s == ',')
        a->groups[a->group_count++] = (int)strtol(s, &s, 10);
    } else return 0;
  }
  return a->n > 0 && a->d > 0 && a->k > 0 && a->iters > 0 && a->group_count > 0;
}

int main(int argc, char **argv) {
  args a;
  if (!parse(argc, argv, &a)) {
    fprintf(stderr, "usage: multi_gpu_bench [--n N] [--d D] [--k K] [--iters I] [--devices G,...]\n");
    return 2;
  }
  size_t count = (size_t)(a.n * a.d), nc = (size_t)(a.k * a.d);
  uint16_t *x = malloc(count * 2);
  float *c = malloc(nc * 4), *base = malloc(nc * 4);
  fkm_ctx *ctx;
  if (!x || !c || !base || fkm_ctx_create(&ctx) != FKM_OK) return 1;
  fill_all(x, count);
  fkm_points p = {x, FKM_DTYPE_FP16, 1, a.n, a.d};
  double base_ms = 0.0;
  for (int gi = 0; gi < a.group_count; gi++) {
    int g = a.groups[gi];
    fkm_result r, rp;
    double t0 = now_ms();
    fkm_status s = fit(ctx, &p, &a, g, 0, c, &r);
    double wall = now_ms() - t0;
    if (s == FKM_OK) s = fit(ctx, &p, &a, g, 1, c, &rp);
    if (s != FKM_OK) {
      fprintf(stderr, "G=%d: %s: %s\n", g, fkm_status_name(s), fkm_ctx_last_error(ctx));
      return 1;
    }
    double ms = r.ms_iterations / (r.iterations > 0 ? r.iterations : 1), it = rp.iterations > 0 ? rp.iterations : 1;
    if (gi == 0) base_ms = ms, memcpy(base, c, nc * 4);
    double flops = 2.0 * (double)a.n * (double)a.k * (double)a.d, gpus = g ? g : 1;
    printf("{\"g\": %d, \"one_rank_comm\": %s, \"n\": %lld, \"d\": %lld, \"k\": %lld, "
           "\"iterations\": %d, \"ms_per_iter\": %.3f, \"ms_assign\": %.3f, \"ms_update\": %.3f, "
           "\"tflops\": %.1f, \"speedup\": %.3f, \"efficiency\": %.3f, \"wall_ms\": %.0f, "
           "\"init_ms\": %.0f, \"identical\": %s}\n",
           g, g ? "false" : "true", a.n, a.d, a.k, r.iterations, ms, rp.ms_assign / it,
           rp.ms_update / it, flops / (ms * 1e-3) * 1e-12, base_ms / ms, base_ms / ms / gpus,
           wall, r.ms_init, memcmp(base, c, nc * 4) == 0 ? "true" : "false");
    fflush(stdout);
  }
  fkm_ctx_free(ctx);
  free(x), free(c), free(base);
  return 0;
}
