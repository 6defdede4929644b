/* flash-kmeans' per-GPU tables shipped as data: probes whose expected configs were derived by
 * reading flash_kmeans/assign_euclid_triton.py (0.3.1), _heuristic_euclid_config_*_smallD and
 * _*_largeD, by hand — never by running that code. Entries are the tables' own values (before
 * flash-kmeans' shared-memory fitting). */
#include <stdio.h>

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

int main(void) {
  Suite *s = suite_create("tables");
  TCase *t = tcase_create("tables");
  tcase_add_loop_test(t, known_gpus_give_the_table_entries, 0,
                      (int)(sizeof probes / sizeof probes[0]));
  tcase_add_loop_test(t, other_gpus_are_not_found, 0, (int)(sizeof unknown / sizeof unknown[0]));
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
