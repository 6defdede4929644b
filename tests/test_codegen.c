/* Code generator: validation of the whole configuration space, deterministic self-contained
 * source, NVRTC compiles of a covering sample for every target, compile errors surfacing the log.
 * Needs NVRTC (not a GPU); skipped (77) where NVRTC is absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen_cases.h"
#include "generate.h"
#include "space.h"
#include "support.h"

static fkm__kernel_spec assign_spec(fkm_dtype t, int d, int sm, size_t config) {
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, t, FKM_PRECISION_DEFAULT, d, sm);
  fkm__space_apply(config, &s);
  return s;
}

/* Every configuration × dtype × D × target is accepted or rejected with a reason; every D and
 * dtype has accepted configurations on every target. */
START_TEST(space_validates_or_gives_reasons) {
  for (size_t t = 0; t < CODEGEN_COUNT(codegen_targets); t++)
    for (size_t di = 0; di < CODEGEN_COUNT(codegen_dims); di++)
      for (size_t ti = 0; ti < CODEGEN_COUNT(codegen_dtypes); ti++) {
        size_t accepted = 0;
        for (size_t c = 0; c < fkm__space_size(); c++) {
          fkm__kernel_spec s = assign_spec(codegen_dtypes[ti], codegen_dims[di], codegen_targets[t].sm, c);
          s.arch_specific = codegen_targets[t].a;
          char why[256] = "";
          fkm__spec_layout l;
          fkm_status st = fkm__spec_validate(&s, &l, why, sizeof why);
          ck_assert(st == FKM_OK || st == FKM_ERR_REJECTED);
          if (st == FKM_OK) {
            accepted++;
            ck_assert(l.shared <= fkm__sm_shared_limit(s.sm));
          } else {
            ck_assert_msg(strlen(why) > 10, "rejection without a reason");
          }
        }
        /* sm_90a's wgmma kernel needs 128-byte chunk rows; narrower rows run the sm_90 kernel
         * there. */
        size_t esize = codegen_dtypes[ti] == FKM_DTYPE_FP32 ? 4 : 2;
        int wgmma_too_narrow =
            codegen_targets[t].a && fkm__padded_d(codegen_dims[di]) * esize < 128;
        ck_assert_msg(accepted > 0 || wgmma_too_narrow, "no configuration for D=%d", codegen_dims[di]);
      }
}
END_TEST

START_TEST(rejections_name_the_reason) {
  char why[256];
  fkm__kernel_spec s = assign_spec(FKM_DTYPE_FP16, 2048, 86, 0);
  s.block_n = 256, s.block_k = 256, s.block_d = 128, s.num_stages = 4, s.num_warps = 8;
  ck_assert_int_eq(fkm__spec_validate(&s, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "shared memory"));
  s = assign_spec(FKM_DTYPE_FP16, 64, 90, 0);
  s.precision = FKM_PRECISION_TF32;
  ck_assert_int_eq(fkm__spec_validate(&s, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "tf32"));
  s = assign_spec(FKM_DTYPE_FP16, 32, 90, 0);
  s.arch_specific = 1;
  ck_assert_int_eq(fkm__spec_validate(&s, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "wgmma"));
  s = assign_spec(FKM_DTYPE_FP16, 64, 90, 0);
  s.block_n = 96;
  ck_assert_int_eq(fkm__spec_validate(&s, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "BLOCK_N"));
  s.block_n = 128, s.d = 0;
  ck_assert_int_eq(fkm__spec_validate(&s, NULL, why, sizeof why), FKM_ERR_REJECTED);
  s = fkm__spec_make(FKM_KIND_UPDATE, FKM_METRIC_L2, FKM_DTYPE_FP16, 0, 64, 90);
  s.num_warps = 4;
  ck_assert_int_eq(fkm__spec_validate(&s, NULL, why, sizeof why), FKM_ERR_REJECTED);
}
END_TEST

/* Same spec → same bytes; no #include; the spec's constants and its id appear; another spec
 * differs in name. */
START_TEST(source_is_deterministic_and_self_contained) {
  fkm_ctx *ctx;
  fkm_ctx_create(&ctx);
  fkm__kernel_spec s = assign_spec(FKM_DTYPE_BF16, 130, 90, 17), t = s;
  t.num_stages = s.num_stages == 1 ? 2 : 1;
  char *a, *b, *c, id[18];
  ck_assert_int_eq(fkm__generate(ctx, &s, &a), FKM_OK);
  ck_assert_int_eq(fkm__generate(ctx, &s, &b), FKM_OK);
  ck_assert_int_eq(fkm__generate(ctx, &t, &c), FKM_OK);
  ck_assert_str_eq(a, b);
  ck_assert_str_ne(a, c);
  ck_assert_ptr_null(strstr(a, "#include"));
  ck_assert_ptr_nonnull(strstr(a, "#define FKM_D 130\n"));
  ck_assert_ptr_nonnull(strstr(a, "#define FKM_DP 144\n"));
  fkm__spec_id(&s, id);
  ck_assert_ptr_nonnull(strstr(a, id));
  ck_assert_uint_ne(fkm__spec_hash(&s), fkm__spec_hash(&t));
  free(a), free(b), free(c);
  fkm_ctx_free(ctx);
}
END_TEST

/* The update's segment: about 512 KiB of rows, 512 to 2048 members, and the update and finalize
 * kernels are generated with the host's value (the runtime sizes the reduce's grid with it). */
START_TEST(segments_follow_the_row_bytes) {
  ck_assert_int_eq(fkm__segment_rows(FKM_DTYPE_FP16, 128), 2048);
  ck_assert_int_eq(fkm__segment_rows(FKM_DTYPE_BF16, 8), 2048);
  ck_assert_int_eq(fkm__segment_rows(FKM_DTYPE_FP32, 128), 1024);
  ck_assert_int_eq(fkm__segment_rows(FKM_DTYPE_FP16, 200), 1024);
  ck_assert_int_eq(fkm__segment_rows(FKM_DTYPE_FP16, 1024), 512);
  ck_assert_int_eq(fkm__segment_rows(FKM_DTYPE_FP32, 12288), 512);
  fkm_ctx *ctx;
  fkm_ctx_create(&ctx);
  const fkm__kernel_kind kinds[] = {FKM_KIND_UPDATE, FKM_KIND_FINALIZE};
  const fkm_dtype types[] = {FKM_DTYPE_FP16, FKM_DTYPE_FP32};
  for (int k = 0; k < 2; k++)
    for (int t = 0; t < 2; t++) {
      fkm__kernel_spec s = fkm__spec_make(kinds[k], FKM_METRIC_L2, types[t], 0, 200, 90);
      char *src, want[48];
      ck_assert_int_eq(fkm__generate(ctx, &s, &src), FKM_OK);
      snprintf(want, sizeof want, "#define FKM_SEGMENT %d\n", fkm__segment_rows(types[t], 200));
      ck_assert_ptr_nonnull(strstr(src, want));
      free(src);
    }
  fkm_ctx_free(ctx);
}
END_TEST

/* The spec id is pinned: kernels named by it must not change silently. */
START_TEST(spec_id_is_pinned) {
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, FKM_DTYPE_FP16, 0, 128, 90);
  s.block_n = 128, s.block_k = 128, s.block_d = 128, s.num_warps = 8, s.num_stages = 3;
  char id[18];
  fkm__spec_id(&s, id);
  ck_assert_str_eq(id, FKM_PINNED_ID);
}
END_TEST

/* A block is alone on its multiprocessor exactly when its shared memory passes half of the
 * target's less the per-block reservation (sm_90: 113 KiB of 228), and the source says so. */
START_TEST(alone_on_a_multiprocessor_past_half_its_shared_memory) {
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, FKM_DTYPE_FP16, 0, 128, 90);
  s.arch_specific = 1, s.block_n = 256, s.block_k = 64, s.block_d = 128, s.num_warps = 8;
  fkm__spec_layout l;
  const int stages[] = {3, 4}; /* tiles of 256 · (3·64 + 256) + 1024 = 113 KiB, and 129 KiB */
  for (int i = 0; i < 2; i++) {
    s.num_stages = stages[i];
    ck_assert_int_eq(fkm__spec_validate(&s, &l, NULL, 0), FKM_OK);
    ck_assert_uint_eq(l.shared, (size_t)(113 + 16 * i) * 1024);
    ck_assert_int_eq(l.alone, i);
    fkm_ctx *ctx;
    char *src, want[32];
    fkm_ctx_create(&ctx);
    ck_assert_int_eq(fkm__generate(ctx, &s, &src), FKM_OK);
    snprintf(want, sizeof want, "#define FKM_ALONE %d\n", i);
    ck_assert_ptr_nonnull(strstr(src, want));
    free(src);
    fkm_ctx_free(ctx);
  }
  s.sm = 80, s.arch_specific = 0, s.num_stages = 2; /* mma.sync: 144 + 16 bytes a row */
  ck_assert_int_eq(fkm__spec_validate(&s, &l, NULL, 0), FKM_OK);
  ck_assert_int_eq(l.alone, l.shared > 81 * 1024);
  ck_assert_uint_eq(fkm__two_blocks_shared(228 * 1024, 1024), 113 * 1024);
}
END_TEST

/* fp32 at default precision (3×TF32) takes sm_90a's warpgroup kernel with one m64 tile of points
 * a warpgroup: only the centroid stages' hi and lo tiles in shared memory, the points' fragments
 * as the MMA's A registers (a D chunk's at a time past one chunk), NVRTC compiles it; tiles whose
 * fragments outgrow the registers are rejected with the reason. */
START_TEST(three_tf32_runs_on_warpgroup_mmas) {
  char why[256], *src;
  fkm__spec_layout l;
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, FKM_DTYPE_FP32, 0, 128, 90);
  s.arch_specific = 1, s.block_n = 128, s.block_k = 64, s.block_d = 128, s.num_warps = 8;
  s.num_stages = 3;
  ck_assert(fkm__spec_split_tf32(&s) && fkm__spec_uses_wgmma(&s));
  ck_assert_int_eq(fkm__spec_validate(&s, &l, why, sizeof why), FKM_OK);
  ck_assert_int_eq(l.split, 1);
  ck_assert_uint_eq(l.shared, 2 * 128 * 4 * 64 * 3 + 1024);
  fkm_ctx *ctx;
  void *cubin;
  size_t bytes;
  fkm_ctx_create(&ctx);
  ck_assert_int_eq(fkm__generate(ctx, &s, &src), FKM_OK);
  ck_assert_ptr_nonnull(strstr(src, "m64n64k8.f32.tf32.tf32 {%0, "));
  ck_assert_ptr_nonnull(strstr(src, "}, {%32, %33, %34, %35}, %36, p, 1, 1;"));
  ck_assert_int_eq(fkm__compile(ctx, &s, src, &cubin, &bytes), FKM_OK);
  free(src);
  free(cubin);
  fkm__kernel_spec bad = s;
  bad.block_n = 256; /* two m64 tiles a warpgroup */
  ck_assert_int_eq(fkm__spec_validate(&bad, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "64 per warpgroup"));
  bad = s, bad.block_k = 128, bad.num_stages = 1; /* 64 accumulators beside 128 fragments */
  ck_assert_int_eq(fkm__spec_validate(&bad, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "registers"));
  fkm__kernel_spec wide = s; /* 16 chunks of 64 columns, the last one past D */
  wide.d = 1000, wide.block_d = 64, wide.num_stages = 4;
  ck_assert_int_eq(fkm__spec_validate(&wide, &l, why, sizeof why), FKM_OK);
  ck_assert_int_eq(l.split, 1);
  ck_assert_int_eq(l.d_chunks, 16);
  ck_assert_uint_eq(l.shared, 2 * 64 * 4 * 64 * 4 + 1024);
  ck_assert_int_eq(fkm__generate(ctx, &wide, &src), FKM_OK);
  ck_assert_int_eq(fkm__compile(ctx, &wide, src, &cubin, &bytes), FKM_OK);
  free(src);
  free(cubin);
  bad = wide, bad.block_d = 128, bad.num_stages = 2; /* 128 fragments, 64 next values */
  ck_assert_int_eq(fkm__spec_validate(&bad, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "registers"));
  s.precision = FKM_PRECISION_TF32;
  ck_assert_int_eq(fkm__spec_validate(&s, &l, why, sizeof why), FKM_OK);
  ck_assert_int_eq(l.split, 0);
  fkm_ctx_free(ctx);
}
END_TEST

/* Clusters (num_ctas 2 or 4) are specs of their own: sm_90a's warpgroup kernel with the whole row
 * in one chunk only, a copy warp and the cluster size in the layout, their own id (0 and 1 keep the
 * unclustered id, so earlier caches hold), the cluster entry and its K padding in the source, and
 * NVRTC compiles. */
START_TEST(clusters_are_specs_of_their_own) {
  char why[256], *a, *b;
  fkm__spec_layout l;
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, FKM_DTYPE_FP16, 0, 128, 90);
  s.arch_specific = 1, s.block_n = 128, s.block_k = 64, s.block_d = 128, s.num_warps = 4, s.num_stages = 4;
  fkm__kernel_spec one = s, two = s, four = s;
  one.num_ctas = 1, two.num_ctas = 2, four.num_ctas = 4;
  ck_assert_uint_eq(fkm__spec_hash(&one), fkm__spec_hash(&s));
  ck_assert_uint_ne(fkm__spec_hash(&two), fkm__spec_hash(&s));
  ck_assert_int_eq(fkm__spec_validate(&two, &l, why, sizeof why), FKM_OK);
  ck_assert_int_eq(l.threads, 160);
  ck_assert_int_eq(l.cluster, 2);
  ck_assert_int_eq(fkm__spec_validate(&four, &l, why, sizeof why), FKM_OK);
  ck_assert_int_eq(l.cluster, 4);
  ck_assert_uint_ne(fkm__spec_hash(&four), fkm__spec_hash(&two));
  ck_assert_int_eq(fkm__spec_validate(&s, &l, why, sizeof why), FKM_OK);
  ck_assert_int_eq(l.cluster, 1);
  fkm__kernel_spec bad = two;
  bad.arch_specific = 0;
  ck_assert_int_eq(fkm__spec_validate(&bad, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "sm_90a"));
  bad = two, bad.num_ctas = 3;
  ck_assert_int_eq(fkm__spec_validate(&bad, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "num_ctas"));
  bad = two, bad.d = 256; /* two 128-column chunks */
  ck_assert_int_eq(fkm__spec_validate(&bad, NULL, why, sizeof why), FKM_ERR_REJECTED);
  ck_assert_ptr_nonnull(strstr(why, "chunk"));
  bad = fkm__spec_make(FKM_KIND_NORMS, FKM_METRIC_L2, FKM_DTYPE_FP16, 0, 128, 90), bad.num_ctas = 2;
  ck_assert_int_eq(fkm__spec_validate(&bad, NULL, why, sizeof why), FKM_ERR_REJECTED);
  fkm_ctx *ctx;
  fkm_ctx_create(&ctx);
  ck_assert_int_eq(fkm__generate(ctx, &two, &a), FKM_OK);
  ck_assert_int_eq(fkm__generate(ctx, &s, &b), FKM_OK);
  ck_assert_ptr_nonnull(strstr(a, "#define FKM_CTAS 2\n"));
  ck_assert_ptr_nonnull(strstr(a, "#define FKM_KPAD_ROWS 256\n"));
  ck_assert_int_eq(fkm__kpad_rows(1000), 1024);
  ck_assert_ptr_nonnull(strstr(a, "__cluster_dims__(CTAS"));
  ck_assert_ptr_null(strstr(b, "__cluster_dims__(CTAS"));
  free(a), free(b);
  fkm_ctx_free(ctx);
  if (fkm_test_nvrtc_usable()) {
    ck_assert_uint_eq(fkm_test_compile_all(&two, 1, 1), 0);
    ck_assert_uint_eq(fkm_test_compile_all(&four, 1, 1), 0);
  }
}
END_TEST

static size_t add_all_configs(fkm__kernel_spec *out, fkm_dtype t, int d, int sm, int a) {
  size_t n = 0;
  for (size_t c = 0; c < fkm__space_size(); c++) {
    fkm__kernel_spec s = assign_spec(t, d, sm, c);
    s.arch_specific = a;
    if (fkm__spec_validate(&s, NULL, NULL, 0) == FKM_OK) out[n++] = s;
  }
  return n;
}

/* Every accepted configuration of fp16 D=128 on sm_90 (mma.sync) and sm_90a (wgmma) and of fp32
 * D=17 (3×TF32) compiles; bf16 and TF32 differ only in the MMA instruction and are sampled below. */
START_TEST(every_config_compiles_for_some_dims) {
  static fkm__kernel_spec specs[4096];
  size_t n = add_all_configs(specs, FKM_DTYPE_FP16, 128, 90, 0);
  n += add_all_configs(specs + n, FKM_DTYPE_FP16, 128, 90, 1);
  n += add_all_configs(specs + n, FKM_DTYPE_FP32, 17, 90, 0);
  ck_assert_uint_eq(fkm_test_compile_all(specs, n, 2), 0);
}
END_TEST

/* Every target compiles every kind for a few configurations and D. */
START_TEST(every_target_compiles_a_sample) {
  static fkm__kernel_spec specs[1024];
  static const size_t configs[] = {0, 101, 287};
  size_t n = 0;
  for (size_t t = 0; t < CODEGEN_COUNT(codegen_targets); t++)
    for (size_t ti = 0; ti < CODEGEN_COUNT(codegen_dtypes); ti++) {
      int d = codegen_dims[(t + ti) % CODEGEN_COUNT(codegen_dims)];
      for (int kind = 0; kind < FKM__KIND_COUNT; kind++) {
        fkm__kernel_spec s = fkm__spec_make(kind, (fkm_metric)(ti % 3), codegen_dtypes[ti], 0, d,
                                            codegen_targets[t].sm);
        s.arch_specific = codegen_targets[t].a;
        for (size_t c = 0; c < (kind == FKM_KIND_ASSIGN ? 3u : 1u); c++) {
          if (kind == FKM_KIND_ASSIGN) fkm__space_apply(configs[c], &s);
          if (fkm__spec_validate(&s, NULL, NULL, 0) == FKM_OK) specs[n++] = s;
          if (kind == FKM_KIND_ASSIGN && s.dtype == FKM_DTYPE_FP32) {
            fkm__kernel_spec tf32 = s;
            tf32.precision = FKM_PRECISION_TF32;
            if (fkm__spec_validate(&tf32, NULL, NULL, 0) == FKM_OK) specs[n++] = tf32;
          }
        }
      }
    }
  ck_assert_uint_gt(n, 60);
  ck_assert_uint_eq(fkm_test_compile_all(specs, n, 2), 0);
}
END_TEST

/* A compile error comes back as FKM_ERR_COMPILE with the NVRTC log. */
START_TEST(compile_errors_surface_the_log) {
  fkm_ctx *ctx;
  fkm_ctx_create(&ctx);
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_NORMS, FKM_METRIC_L2, FKM_DTYPE_FP16, 0, 64, 90);
  void *cubin = NULL;
  size_t size = 0;
  fkm_status st = fkm__compile(ctx, &s, "extern \"C\" __global__ void f() { undeclared_thing(); }",
                               &cubin, &size);
  ck_assert_int_eq(st, FKM_ERR_COMPILE);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_compile_log(ctx), "undeclared_thing"));
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "nvrtcCompileProgram"));
  ck_assert_ptr_null(cubin);
  fkm_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("codegen");
  TCase *t = tcase_create("codegen");
  tcase_set_timeout(t, 900);
  tcase_add_test(t, space_validates_or_gives_reasons);
  tcase_add_test(t, rejections_name_the_reason);
  tcase_add_test(t, source_is_deterministic_and_self_contained);
  tcase_add_test(t, segments_follow_the_row_bytes);
  tcase_add_test(t, spec_id_is_pinned);
  tcase_add_test(t, alone_on_a_multiprocessor_past_half_its_shared_memory);
  tcase_add_test(t, three_tf32_runs_on_warpgroup_mmas);
  tcase_add_test(t, clusters_are_specs_of_their_own);
  if (fkm_test_nvrtc_usable()) {
    if (!getenv("FKM_TEST_QUICK")) tcase_add_test(t, every_config_compiles_for_some_dims);
    tcase_add_test(t, every_target_compiles_a_sample);
    tcase_add_test(t, compile_errors_surface_the_log);
  } else {
    fprintf(stderr, "NVRTC absent: compile tests skipped\n");
  }
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
