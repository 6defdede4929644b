/* GPU engine with the kernel cache: a warm cache makes no NVRTC compile, a bundle read in place
 * serves a context whose user cache is off, and the results are bitwise those of the cold run.
 * Label "gpu": exits 77 where no GPU engine can run. Runs without fork. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_cache.h"
#include "support.h"

enum { N = 5000, D = 64, K = 24 };

typedef struct run_out {
  float centroids[K * D];
  int32_t labels[N];
  double inertia;
  size_t compiles;
} run_out;

/* One GPU fit in a fresh context; returns its outputs and the NVRTC compiles it made. */
static void fit(const float *x, fkm_dtype dtype, run_out *out) {
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_options o;
  fkm_options_init(&o);
  o.k = K, o.engine = FKM_ENGINE_GPU, o.dtype = dtype, o.max_iter = 5, o.seed = 3;
  fkm_points p = {x, FKM_DTYPE_FP32, 1, N, D};
  fkm_result r = {.centroids = out->centroids, .labels = out->labels, .inertia = &out->inertia};
  ck_assert_msg(fkm_fit(ctx, &p, &o, &r) == FKM_OK, "fit: %s", fkm_ctx_last_error(ctx));
  out->compiles = fkm__nvrtc_compile_count(ctx);
  fkm_ctx_free(ctx);
}

static void same(const run_out *a, const run_out *b) {
  ck_assert_int_eq(memcmp(a->centroids, b->centroids, sizeof a->centroids), 0);
  ck_assert_int_eq(memcmp(a->labels, b->labels, sizeof a->labels), 0);
}

START_TEST(warm_cache_and_bundle_make_no_compiles) {
  char dir[] = "/tmp/fkm-gpu-cache-XXXXXX", root[128], bundle[128];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(root, sizeof root, "%s/user", dir);
  snprintf(bundle, sizeof bundle, "%s/kernels.fkmb", dir);
  setenv("FKM_CACHE_DIR", root, 1);
  unsetenv("FKM_CACHE_OVERRIDE_DIR");
  unsetenv("FKM_BUNDLE_PATH");
  uint64_t rng = fkm_test_seed();
  float *x = fkm_test_blobs(&rng, 1, N, D, K, 0.5);
  static run_out cold, warm, bundled;
  fkm_dtype dtype = _i ? FKM_DTYPE_FP16 : FKM_DTYPE_FP32;
  fit(x, dtype, &cold);
  ck_assert_uint_gt(cold.compiles, 0);
  fit(x, dtype, &warm);
  ck_assert_uint_eq(warm.compiles, 0);
  same(&cold, &warm);
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_OK);
  fkm_ctx_free(ctx);
  setenv("FKM_CACHE_DIR", "", 1);
  setenv("FKM_BUNDLE_PATH", bundle, 1);
  fit(x, dtype, &bundled);
  ck_assert_uint_eq(bundled.compiles, 0);
  same(&cold, &bundled);
  unsetenv("FKM_BUNDLE_PATH");
  fkm__remove_tree(dir);
  free(x);
}
END_TEST

int main(void) {
  if (!fkm_test_gpu_usable()) return 77;
  Suite *s = suite_create("gpu_cache");
  TCase *t = tcase_create("cache");
  tcase_set_timeout(t, 600);
  tcase_add_loop_test(t, warm_cache_and_bundle_make_no_compiles, 0, 2);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 1);
}
