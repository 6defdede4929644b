/* flash-kmeans' per-GPU tables shipped as data: probes whose expected configs were derived by
 * reading flash_kmeans/assign_euclid_triton.py (0.3.1), _heuristic_euclid_config_*_smallD and
 * _*_largeD, by hand — never by running that code. Entries are the tables' own values (before
 * flash-kmeans' shared-memory fitting). Then the entries as our kernel runs them
 * (fkm__table_spec): BLOCK_D 0 resolved, fitted to the device's shared memory, validated. */
#include <stdio.h>

#include "gpu.h"
#include "support.h"
#include "tuning.h"

#define M (1LL << 20)
#define F16 FKM_DTYPE_FP16
#define B16 FKM_DTYPE_BF16
#define F32 FKM_DTYPE_FP32

typedef struct probe {
  const char *device;
  long long n, k, d;
  fkm_dtype dtype;
  fkm_config want; /* BLOCK_N, BLOCK_K, BLOCK_D, num_warps, num_stages, num_ctas */
} probe;

static const probe probes[] = {
    /* H200 fp16/bf16 small-D: the hand-tuned table with its D≤64 and N<65536 overrides */
    {"NVIDIA H200", M, 1024, 128, F16, {128, 64, 0, 4, 1, 1}},
    {"NVIDIA H200", M, 65536, 128, F16, {128, 128, 0, 8, 2, 1}},
    {"NVIDIA H200", M, 8192, 64, B16, {64, 128, 0, 4, 4, 1}},
    {"NVIDIA H200", 32768, 8192, 64, F16, {64, 128, 0, 4, 4, 1}},
    {"NVIDIA H200", M, 8192, 96, F16, {128, 128, 0, 4, 4, 1}},
    {"NVIDIA H200", 32768, 256, 512, F16, {64, 64, 0, 8, 1, 1}},
    {"NVIDIA H200", 262144, 1000, 300, F16, {128, 64, 0, 4, 2, 1}},
    {"NVIDIA H200", 1000, 100, 32, F16, {64, 64, 0, 4, 1, 1}},
    /* H200 fp32 small-D */
    {"NVIDIA H200", M, 200000, 64, F32, {128, 64, 0, 4, 4, 1}},
    {"NVIDIA H200", M, 4096, 64, F32, {128, 128, 0, 8, 2, 1}},
    {"NVIDIA H200", M, 20000, 128, F32, {128, 64, 0, 8, 1, 1}},
    {"NVIDIA H200", M, 1000, 128, F32, {128, 64, 0, 4, 1, 1}},
    {"NVIDIA H200", M, 1000, 512, F32, {64, 32, 0, 4, 1, 1}},
    /* H200 split-D */
    {"NVIDIA H200", M, 4096, 2048, F16, {64, 128, 128, 4, 4, 1}},
    {"NVIDIA H200", M, 512, 2048, F16, {128, 128, 64, 8, 4, 1}},
    {"NVIDIA H200", M, 4096, 1024, F32, {64, 128, 64, 4, 4, 1}},
    {"NVIDIA H200", M, 1024, 1024, F32, {128, 128, 32, 8, 4, 1}},
    /* H100 small-D: dtype-independent, N<65536 halves BLOCK_N */
    {"NVIDIA H100 80GB HBM3", M, 1024, 128, F16, {128, 64, 0, 4, 1, 1}},
    {"NVIDIA H100 PCIe", M, 65536, 128, F32, {128, 128, 0, 8, 2, 1}},
    {"NVIDIA H100 80GB HBM3", 10000, 100000, 64, F16, {64, 64, 0, 4, 4, 1}},
    {"NVIDIA H100 80GB HBM3", M, 20000, 64, F16, {128, 128, 0, 4, 4, 1}},
    {"NVIDIA H100 80GB HBM3", M, 20000, 300, F16, {128, 64, 0, 8, 1, 1}},
    {"NVIDIA H100 80GB HBM3", M, 4096, 300, F16, {128, 64, 0, 4, 1, 1}},
    {"nvidia h100 nvl", M, 1024, 64, F16, {128, 64, 0, 4, 2, 1}},
    /* H100 split-D */
    {"NVIDIA H100 80GB HBM3", M, 256, 4096, F16, {64, 128, 64, 4, 4, 1}},
    {"NVIDIA H100 80GB HBM3", M, 65536, 2048, F16, {128, 128, 64, 8, 4, 1}},
    {"NVIDIA H100 80GB HBM3", M, 4096, 2048, B16, {64, 128, 128, 4, 4, 1}},
    {"NVIDIA H100 80GB HBM3", M, 4096, 1024, F32, {64, 128, 64, 4, 4, 1}},
    {"NVIDIA H100 80GB HBM3", M, 4096, 8192, F32, {128, 128, 32, 8, 4, 1}},
    /* A100: exact-D rules */
    {"NVIDIA A100-SXM4-80GB", 65536, 1000, 128, F16, {128, 64, 0, 4, 2, 1}},
    {"NVIDIA A100-SXM4-80GB", 262144, 1000, 128, F16, {128, 32, 0, 4, 2, 1}},
    {"NVIDIA A100-SXM4-80GB", 262144, 4096, 256, F16, {128, 64, 0, 4, 4, 1}},
    {"NVIDIA A100-SXM4-80GB", M, 65536, 256, F16, {128, 32, 0, 4, 4, 1}},
    {"NVIDIA A100-SXM4-80GB", M, 4096, 256, F16, {128, 32, 0, 4, 2, 1}},
    {"NVIDIA A100-SXM4-80GB", M, 4096, 200, F16, {128, 32, 0, 4, 2, 1}},
    {"NVIDIA A100-PCIE-40GB", M, 1000, 1024, F16, {64, 32, 32, 4, 2, 1}},
    /* GB10 */
    {"NVIDIA GB10", M, 1024, 128, F16, {128, 32, 0, 4, 2, 1}},
    {"NVIDIA GB10", 65536, 1024, 128, F16, {64, 64, 0, 4, 1, 1}},
    {"NVIDIA GB10", 65536, 256, 64, F16, {64, 64, 0, 4, 1, 1}},
    {"NVIDIA GB10", M, 256, 64, F16, {128, 32, 0, 4, 1, 1}},
    {"NVIDIA GB10", M, 100000, 128, F16, {128, 64, 0, 4, 1, 1}},
    {"NVIDIA GB10", M, 1000, 512, F16, {64, 32, 0, 8, 1, 1}},
    {"NVIDIA GB10", M, 1000, 600, F32, {64, 32, 32, 4, 1, 1}},
};

START_TEST(known_gpus_give_the_table_entries) {
  const probe *p = &probes[_i];
  fkm_config got = {0};
  ck_assert_msg(fkm__table_lookup(p->device, p->n, p->k, p->d, p->dtype, &got),
                "probe %d (%s N=%lld K=%lld D=%lld) not found", _i, p->device, p->n, p->k, p->d);
  const fkm_config *w = &p->want;
  ck_assert_msg(got.BLOCK_N == w->BLOCK_N && got.BLOCK_K == w->BLOCK_K &&
                    got.BLOCK_D == w->BLOCK_D && got.num_warps == w->num_warps &&
                    got.num_stages == w->num_stages && got.num_ctas == w->num_ctas,
                "probe %d (%s N=%lld K=%lld D=%lld): got %d/%d/%d w%d s%d, want %d/%d/%d w%d s%d",
                _i, p->device, p->n, p->k, p->d, got.BLOCK_N, got.BLOCK_K, got.BLOCK_D,
                got.num_warps, got.num_stages, w->BLOCK_N, w->BLOCK_K, w->BLOCK_D, w->num_warps,
                w->num_stages);
}
END_TEST

static const char *const unknown[] = {"NVIDIA GeForce RTX 4090", "Tesla V100-SXM2-16GB",
                                      "NVIDIA L40S", "NVIDIA B200", ""};

START_TEST(other_gpus_are_not_found) {
  fkm_config got = {7, 7, 7, 7, 7, 7};
  ck_assert_int_eq(fkm__table_lookup(unknown[_i], M, 1024, 128, F16, &got), 0);
  ck_assert_int_eq(got.BLOCK_N, 7); /* untouched */
  ck_assert_int_eq(fkm__table_lookup(NULL, M, 1024, 128, F16, &got), 0);
}
END_TEST

/* ---- the table's configuration as our kernel (fkm__table_spec) ------------------------------- */

typedef struct translation {
  const char *device;
  int sm;
  size_t shared; /* the device's per-block limit, or a budget that forces fitting */
  fkm_dtype dtype;
  long long n, k, d;
  fkm_config table, want; /* the table's entry; what our kernel runs */
  int wgmma;              /* 1: the sm_90a warpgroup-MMA kernel takes it */
} translation;

#define H100 "NVIDIA H100 80GB HBM3"

static const translation translations[] = {
    /* BLOCK_D 0 ("the whole padded row") becomes the model's BLOCK_D: 128 for D ≤ 128, 64-column
     * chunks beyond */
    {H100, 90, 232448, F16, M, 1024, 128, {128, 64, 0, 4, 1, 1}, {128, 64, 128, 4, 1, 1}, 1},
    {H100, 90, 232448, F16, M, 4096, 300, {128, 64, 0, 4, 1, 1}, {128, 64, 64, 4, 1, 1}, 1},
    /* D=40: 48 padded columns, too few for the wgmma kernel's 64-column swizzle: mma.sync */
    {H100, 90, 232448, F16, M, 1024, 40, {128, 64, 0, 4, 2, 1}, {128, 64, 64, 4, 2, 1}, 0},
    /* fp32 (3×TF32): the warpgroup kernel takes one m64 tile of points a warpgroup, else
     * mma.sync */
    {"NVIDIA H200", 90, 232448, F32, M, 20000, 128, {128, 64, 0, 8, 1, 1}, {128, 64, 128, 8, 1, 1},
     1},
    {"NVIDIA H200", 90, 232448, F32, M, 200000, 64, {128, 64, 0, 4, 4, 1}, {128, 64, 64, 4, 4, 1},
     0},
    /* split-D entries keep their BLOCK_D */
    {H100, 90, 232448, F16, M, 1024, 8192, {128, 128, 64, 8, 4, 1}, {128, 128, 64, 8, 4, 1}, 1},
    /* fitted to shared memory as flash-kmeans fits: the most BLOCK_N·BLOCK_K·num_stages that fits,
     * then the nearest aspect ratio, then the larger BLOCK_N. GB10's 99 KiB: 2 stages of fp32
     * 128×32 tiles need 103,424 bytes, one stage 85,504 */
    {"NVIDIA GB10", 121, 101376, F32, M, 1024, 128, {128, 32, 0, 4, 2, 1}, {128, 32, 128, 4, 1, 1},
     0},
    /* smaller budgets on the H100 split-D entry: fewer stages (99,328 bytes at 3; 33,792 at 1),
     * then smaller tiles (64×64 cannot take two warpgroups: mma.sync), then 32×32 with num_warps
     * capped at 4 */
    {H100, 90, 100000, F16, M, 1024, 8192, {128, 128, 64, 8, 4, 1}, {128, 128, 64, 8, 3, 1}, 1},
    {H100, 90, 60000, F16, M, 1024, 8192, {128, 128, 64, 8, 4, 1}, {128, 128, 64, 8, 1, 1}, 1},
    {H100, 90, 20000, F16, M, 1024, 8192, {128, 128, 64, 8, 4, 1}, {64, 64, 64, 8, 1, 1}, 0},
    {H100, 90, 10000, F16, M, 1024, 8192, {128, 128, 64, 8, 4, 1}, {32, 32, 64, 4, 1, 1}, 0},
};

static fkm__kernel_spec base_of(const translation *t) {
  fkm__kernel_spec b = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, t->dtype,
                                      FKM_PRECISION_DEFAULT, (int)t->d, t->sm);
  b.arch_specific = t->sm == 90; /* as fkm__gpu_assign_base */
  if (!fkm__spec_uses_wgmma(&b)) b.arch_specific = 0;
  return b;
}

static void assert_same(fkm_config got, fkm_config want, int i) {
  ck_assert_msg(got.BLOCK_N == want.BLOCK_N && got.BLOCK_K == want.BLOCK_K &&
                    got.BLOCK_D == want.BLOCK_D && got.num_warps == want.num_warps &&
                    got.num_stages == want.num_stages && got.num_ctas == want.num_ctas,
                "case %d: got %d/%d/%d w%d s%d, want %d/%d/%d w%d s%d", i, got.BLOCK_N,
                got.BLOCK_K, got.BLOCK_D, got.num_warps, got.num_stages, want.BLOCK_N,
                want.BLOCK_K, want.BLOCK_D, want.num_warps, want.num_stages);
}

START_TEST(table_configs_become_our_kernel) {
  const translation *t = &translations[_i];
  fkm_config raw;
  ck_assert(fkm__table_lookup(t->device, t->n, t->k, t->d, t->dtype, &raw));
  assert_same(raw, t->table, _i);
  fkm__kernel_spec base = base_of(t), s, as_is;
  fkm__spec_layout l;
  ck_assert(fkm__table_spec(t->device, &base, t->n, t->k, t->shared, &s, &l));
  assert_same(fkm__spec_config(&s), t->want, _i);
  ck_assert_int_eq(s.arch_specific, t->wgmma);
  ck_assert_uint_le(l.shared, t->shared);
  ck_assert_int_eq(fkm__spec_validate(&s, NULL, NULL, 0), FKM_OK);
  /* where fitting changed the entry, the entry itself did not fit */
  fkm_config whole = t->table;
  whole.BLOCK_D = t->want.BLOCK_D;
  if (whole.BLOCK_N != t->want.BLOCK_N || whole.BLOCK_K != t->want.BLOCK_K ||
      whole.num_stages != t->want.num_stages)
    ck_assert(fkm__config_spec(&base, &whole, &as_is, &l, NULL, 0) != FKM_OK ||
              l.shared > t->shared);
}
END_TEST

START_TEST(no_table_config_without_a_table_or_room) {
  const translation *t = &translations[0];
  fkm__kernel_spec base = base_of(t), s;
  fkm__spec_layout l;
  s.block_n = 7;
  ck_assert_int_eq(fkm__table_spec("NVIDIA L40S", &base, t->n, t->k, t->shared, &s, &l), 0);
  ck_assert_int_eq(fkm__table_spec("", &base, t->n, t->k, t->shared, &s, &l), 0);
  ck_assert_int_eq(fkm__table_spec(NULL, &base, t->n, t->k, t->shared, &s, &l), 0);
  ck_assert_int_eq(fkm__table_spec(t->device, &base, t->n, t->k, 3000, &s, &l), 0);
  ck_assert_int_eq(s.block_n, 7); /* untouched */
  ck_assert(fkm__table_spec(t->device, &base, t->n, t->k, 0, &s, &l)); /* 0: the arch's limit */
}
END_TEST

int main(void) {
  Suite *s = suite_create("tables");
  TCase *t = tcase_create("tables");
  tcase_add_loop_test(t, known_gpus_give_the_table_entries, 0,
                      (int)(sizeof probes / sizeof probes[0]));
  tcase_add_loop_test(t, other_gpus_are_not_found, 0, (int)(sizeof unknown / sizeof unknown[0]));
  tcase_add_loop_test(t, table_configs_become_our_kernel, 0,
                      (int)(sizeof translations / sizeof translations[0]));
  tcase_add_test(t, no_table_config_without_a_table_or_room);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
