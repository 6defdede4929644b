/* Run-time loaders: the driver and NVRTC are opened with dlopen; a missing piece is a clear status,
 * never a crash. Written to hold both here (no driver) and on a GPU machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char logged[1024];
static void capture_log(fkm_log_level level, const char *message, void *user) {
  (void)level, (void)user;
  snprintf(logged, sizeof logged, "%s", message);
}

START_TEST(query_reports_each_piece) {
  fkm_ctx *ctx;
  fkm_runtime_info info;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_int_eq(fkm_runtime_query(ctx, &info), FKM_OK);
  ck_assert(info.driver == FKM_OK || info.driver == FKM_ERR_NO_DRIVER || info.driver == FKM_ERR_NO_DEVICE);
  if (info.driver != FKM_OK) {
    ck_assert_int_eq(info.device_count, 0);
    ck_assert_int_ne(info.gpu, FKM_OK);
  } else {
    ck_assert_int_gt(info.driver_version, 0);
  }
  if (info.nvrtc == FKM_OK) ck_assert_int_ge(info.nvrtc_major, 11);
  ck_assert_int_eq(fkm_runtime_query(ctx, NULL), FKM_ERR_INVALID_ARG);
  fkm_ctx_free(ctx);
}
END_TEST

/* In a forked child so the process-wide NVRTC table is loaded for the first time here. */
START_TEST(nvrtc_path_override_that_points_nowhere) {
  setenv("FKM_NVRTC_PATH", "/nonexistent/libnvrtc.so", 1);
  fkm_ctx *ctx;
  fkm_runtime_info info;
  fkm_ctx_create(&ctx);
  ck_assert_int_eq(fkm_runtime_query(ctx, &info), FKM_OK);
  ck_assert_int_eq(info.nvrtc, FKM_ERR_NO_NVRTC);
  if (info.driver != FKM_OK) ck_assert_int_ne(info.gpu, FKM_OK); /* NVRTC alone does not gate it */
  ck_assert_str_eq(info.nvrtc_path, "");
  fkm_ctx_free(ctx);
}
END_TEST

static fkm_status fit_with(fkm_engine engine, float *centroids, fkm_ctx *ctx) {
  static float x[40];
  for (int i = 0; i < 40; i++) x[i] = (float)(i % 7) + 0.25f * (float)i;
  fkm_points p = {x, FKM_DTYPE_FP32, 1, 20, 2};
  fkm_options o;
  fkm_options_init(&o);
  o.k = 3, o.engine = engine;
  fkm_result r = {.centroids = centroids, .labels = NULL, .inertia = NULL};
  return fkm_fit(ctx, &p, &o, &r);
}

/* Without a usable GPU: engine GPU fails with the loader's status and untouched outputs; engine
 * AUTO runs on the CPU and logs why once. */
START_TEST(engines_without_a_gpu) {
  fkm_ctx *ctx;
  fkm_runtime_info info;
  fkm_ctx_create(&ctx);
  fkm_runtime_query(ctx, &info);
  if (info.gpu == FKM_OK) {
    fkm_ctx_free(ctx);
    return; /* a GPU machine: covered by the gpu suites */
  }
  float c[6] = {-7, -7, -7, -7, -7, -7};
  fkm_status s = fit_with(FKM_ENGINE_GPU, c, ctx);
  ck_assert_int_eq(s, info.gpu);
  ck_assert(strlen(fkm_ctx_last_error(ctx)) > 10);
  for (int i = 0; i < 6; i++) ck_assert(c[i] == -7.0f);
  fkm_log_set(ctx, capture_log, NULL);
  logged[0] = '\0';
  ck_assert_int_eq(fit_with(FKM_ENGINE_AUTO, c, ctx), FKM_OK);
  ck_assert_ptr_nonnull(strstr(logged, "CPU engine"));
  fkm_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("loaders");
  TCase *t = tcase_create("loaders");
  tcase_add_test(t, query_reports_each_piece);
  tcase_add_test(t, nvrtc_path_override_that_points_nowhere);
  tcase_add_test(t, engines_without_a_gpu);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
