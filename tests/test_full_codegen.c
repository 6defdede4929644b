/* Opt-in (ctest -L full): every accepted assign configuration × dtype × D × target, and every other
 * kind × metric × dtype × D × target, compiles with NVRTC. Hours on 2 cores; FKM_FULL_THREADS sets
 * the compile threads (default 2). Skipped (77) without NVRTC. */
#include <stdio.h>
#include <stdlib.h>

#include "codegen_cases.h"
#include "space.h"
#include "support.h"

static size_t collect(fkm__kernel_spec *out) {
  size_t n = 0;
  for (size_t t = 0; t < CODEGEN_COUNT(codegen_targets); t++)
    for (size_t di = 0; di < CODEGEN_COUNT(codegen_dims); di++)
      for (size_t ti = 0; ti < CODEGEN_COUNT(codegen_dtypes); ti++)
        for (int kind = 0; kind < FKM__KIND_COUNT; kind++)
          for (int m = 0; m < 3; m++) {
            fkm__kernel_spec s = fkm__spec_make(kind, (fkm_metric)m, codegen_dtypes[ti], 0,
                                                codegen_dims[di], codegen_targets[t].sm);
            s.arch_specific = codegen_targets[t].a;
            size_t configs = kind == FKM_KIND_ASSIGN ? fkm__space_size() : 1;
            for (size_t c = 0; c < configs; c++) {
              if (kind == FKM_KIND_ASSIGN) fkm__space_apply(c, &s);
              if (fkm__spec_validate(&s, NULL, NULL, 0) == FKM_OK) out[n++] = s;
            }
          }
  return n;
}

START_TEST(every_variant_compiles_for_every_target) {
  size_t cap = CODEGEN_COUNT(codegen_targets) * CODEGEN_COUNT(codegen_dims) *
               CODEGEN_COUNT(codegen_dtypes) * FKM__KIND_COUNT * 3 * fkm__space_size();
  fkm__kernel_spec *specs = malloc(cap * sizeof *specs);
  size_t n = collect(specs);
  const char *env = getenv("FKM_FULL_THREADS");
  fprintf(stderr, "compiling %zu kernel variants\n", n);
  ck_assert_uint_eq(fkm_test_compile_all(specs, n, env ? atoi(env) : 2), 0);
  free(specs);
}
END_TEST

int main(void) {
  fkm_ctx *ctx;
  fkm_runtime_info info;
  fkm_ctx_create(&ctx);
  fkm_runtime_query(ctx, &info);
  fkm_ctx_free(ctx);
  if (info.nvrtc != FKM_OK) return 77;
  Suite *s = suite_create("full_codegen");
  TCase *t = tcase_create("full");
  tcase_set_timeout(t, 0);
  tcase_add_test(t, every_variant_compiles_for_every_target);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 1);
}
