/* Per-iteration timing of fkm_fit on the SPEC §8 shapes (public API only).
 * Usage: fkm_bench [--iters N] [--only NAME] [--json FILE] [--config BN,BK,BD,WARPS,STAGES[,CTAS]]
 * Each shape: a warm-up fit (compiles, 2 iterations), then a fit of N iterations with tol off;
 * ms/iter = device time of the iterations (events) / N; a third fit of 3 iterations with profiling
 * splits it into assign and update. TFLOP/s counts 2·B·N·K·D per assignment. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fkm.h"

typedef struct shape {
  const char *name;
  int64_t b, n, k, d;
  fkm_dtype dtype;
  double flash_kmeans_ms; /* SPEC §8 anchor, H100 80GB HBM3, 2026-11-25 */
  fkm_precision precision;
} shape;

static const shape shapes[] = {
    {"b32_n74k_k1000", 32, 74256, 1000, 128, FKM_DTYPE_FP16, 3.16, FKM_PRECISION_DEFAULT},
    {"n8m_k1024", 1, 8388608, 1024, 128, FKM_DTYPE_FP16, 8.09, FKM_PRECISION_DEFAULT},
    {"n1m_k8192", 1, 1048576, 8192, 128, FKM_DTYPE_FP16, 6.41, FKM_PRECISION_DEFAULT},
    {"b8_n65k_k100", 8, 65536, 100, 128, FKM_DTYPE_FP16, 0.72, FKM_PRECISION_DEFAULT},
    {"n1m_k65536", 1, 1048576, 65536, 128, FKM_DTYPE_FP16, 48.6, FKM_PRECISION_DEFAULT},
    {"n1m_k1024_d1024", 1, 1048576, 1024, 1024, FKM_DTYPE_FP16, 9.35, FKM_PRECISION_DEFAULT},
    {"n4m_k4096_bf16", 1, 4194304, 4096, 128, FKM_DTYPE_BF16, 12.4, FKM_PRECISION_DEFAULT},
    {"n2m_k1024_fp32", 1, 2097152, 1024, 128, FKM_DTYPE_FP32, 3.67, FKM_PRECISION_DEFAULT},
    {"n2m_k1024_tf32", 1, 2097152, 1024, 128, FKM_DTYPE_FP32, 3.67, FKM_PRECISION_TF32},
};

static float *random_points(size_t count, uint64_t seed) {
  float *x = malloc(count * sizeof(float));
  if (!x) return NULL;
  for (size_t i = 0; i < count; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (float)((double)(seed >> 11) * 0x1p-53 * 2.0 - 1.0);
  }
  return x;
}

static fkm_config forced; /* --config BLOCK_N,BLOCK_K,BLOCK_D,num_warps,num_stages */

static int run_shape(fkm_ctx *ctx, const shape *s, int iters, FILE *json) {
  size_t count = (size_t)(s->b * s->n * s->d);
  float *x = random_points(count, 42);
  float *cen = malloc((size_t)(s->b * s->k * s->d) * sizeof(float));
  if (!x || !cen) return fprintf(stderr, "%s: out of host memory\n", s->name), 1;
  fkm_points p = {x, FKM_DTYPE_FP32, s->b, s->n, s->d};
  fkm_options o;
  fkm_options_init(&o);
  o.k = s->k, o.dtype = s->dtype, o.engine = FKM_ENGINE_GPU, o.tol = 0.0, o.max_iter = 2;
  o.precision = s->precision;
  o.check_every = 1000;
  o.config = forced;
  fkm_result r = {.centroids = cen, .labels = NULL, .inertia = NULL};
  fkm_status st = fkm_fit(ctx, &p, &o, &r);
  double compile_ms = r.ms_compile;
  o.max_iter = iters;
  if (st == FKM_OK) st = fkm_fit(ctx, &p, &o, &r);
  if (st != FKM_OK) {
    fprintf(stderr, "%s: %s: %s\n", s->name, fkm_status_name(st), fkm_ctx_last_error(ctx));
    free(x), free(cen);
    return 1;
  }
  double ms = r.ms_iterations / r.iterations;
  o.max_iter = 3, o.profile = 1;
  if (fkm_fit(ctx, &p, &o, &r) != FKM_OK) return fprintf(stderr, "%s: profiled fit failed\n", s->name), 1;
  double ms_assign = r.ms_assign / r.iterations, ms_update = r.ms_update / r.iterations;
  double tflops = 2.0 * s->b * s->n * s->k * s->d / (ms * 1e-3) / 1e12;
  printf("| %-18s | %2lld | %8lld | %6lld | %5lld | %-4s | %8.3f | %7.3f | %7.3f | %7.1f | %5.1f%% | %6.2f | %5.2fx |\n", s->name,
         (long long)s->b, (long long)s->n, (long long)s->k, (long long)s->d,
         s->dtype == FKM_DTYPE_FP16   ? "fp16"
         : s->dtype == FKM_DTYPE_BF16 ? "bf16"
         : s->precision               ? "tf32"
                                      : "fp32",
         ms,
         ms_assign, ms_update, tflops, 100.0 * tflops / 730.0, s->flash_kmeans_ms, s->flash_kmeans_ms / ms);
  fflush(stdout);
  if (json)
    fprintf(json, "{\"shape\":\"%s\",\"ms_per_iter\":%.4f,\"ms_assign\":%.4f,\"ms_update\":%.4f,\"tflops\":%.2f,\"ms_compile\":%.1f,\"ms_init\":%.1f}\n",
            s->name, ms, ms_assign, ms_update, tflops, compile_ms, r.ms_init);
  free(x), free(cen);
  return 0;
}

int main(int argc, char **argv) {
  int iters = 10;
  const char *only = NULL, *json_path = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
    else if (!strcmp(argv[i], "--json")) json_path = argv[i + 1];
    else if (!strcmp(argv[i], "--config"))
      sscanf(argv[i + 1], "%d,%d,%d,%d,%d,%d", &forced.BLOCK_N, &forced.BLOCK_K, &forced.BLOCK_D,
             &forced.num_warps, &forced.num_stages, &forced.num_ctas);
  }
  fkm_ctx *ctx;
  fkm_runtime_info info;
  fkm_ctx_create(&ctx);
  fkm_runtime_query(ctx, &info);
  if (info.gpu != FKM_OK) return fprintf(stderr, "fkm_bench: no usable GPU\n"), 77;
  FILE *json = json_path ? fopen(json_path, "w") : NULL;
  printf("device: %s (sm_%d), fkm %s, %d iterations per shape\n\n", info.device_name, info.sm,
         fkm_version_string(), iters);
  printf("| shape | B | N | K | D | dtype | ms/iter | assign ms | update ms | TFLOP/s | %% of 730 | flash-kmeans ms (SPEC §8) | speed-up |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  int failed = 0;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (!only || !strcmp(only, shapes[i].name)) failed |= run_shape(ctx, &shapes[i], iters, json);
  if (json) fclose(json);
  fkm_ctx_free(ctx);
  return failed;
}
