/* fkm bench's labels check (cli/bench_check.c): fresh random points and centroids; the nearest
 * labels pass, a label moved to a farther centroid or out of range fails, a tie passes, and the
 * tolerances order as the dtypes' rounding does. Its floor model (cli/bench_floor.c) gives SPEC
 * §8's compute and memory floors at SPEC §8's rates. */
#include <math.h>
#include <stdlib.h>

#include "bench_check.h"
#include "bench_floor.h"
#include "support.h"

enum { B = 2, N = 500, K = 40, D = 24 };

static float x[B * N * D], c[B * K * D];
static int32_t labels[B * N];

static double sqdist(const float *a, const float *b) {
  double s = 0.0;
  for (int j = 0; j < D; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
  return s;
}

/* labels = the nearest centroid of each point's batch (fp64, the lowest index of a tie). */
static void assign(void) {
  for (int i = 0; i < B * N; i++) {
    const float *cb = c + (i / N) * K * D;
    int best = 0;
    for (int j = 1; j < K; j++)
      if (sqdist(x + i * D, cb + j * D) < sqdist(x + i * D, cb + best * D)) best = j;
    labels[i] = best;
  }
}

/* x, c uniform in [-1, 1), labels assigned. */
static void fill(void) {
  uint64_t rng = fkm_test_seed();
  for (int i = 0; i < B * N * D; i++) x[i] = (float)fkm_test_uniform(&rng, -1.0, 1.0);
  for (int i = 0; i < B * K * D; i++) c[i] = (float)fkm_test_uniform(&rng, -1.0, 1.0);
  assign();
}

/* The centroid of batch b farthest from point i. */
static int32_t farthest(int i) {
  const float *cb = c + (i / N) * K * D;
  int32_t far = 0;
  for (int j = 1; j < K; j++)
    if (sqdist(x + i * D, cb + j * D) > sqdist(x + i * D, cb + far * D)) far = j;
  return far;
}

START_TEST(nearest_labels_pass_on_every_sample_size) {
  fill();
  const double u = bench_unit_roundoff(FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, D);
  const int64_t samples[] = {1, 7, 256, N, 10 * N};
  for (int s = 0; s < 5; s++) {
    bench_check r;
    bench_check_labels(x, c, labels, B, N, K, D, u, samples[s], &r);
    ck_assert_int_eq(r.checked, B * (samples[s] < N ? samples[s] : N));
    ck_assert_int_eq(r.wrong, 0);
    ck_assert(r.worst <= 0.0);
  }
}
END_TEST

START_TEST(a_farther_or_invalid_label_fails) {
  fill();
  const double u = bench_unit_roundoff(FKM_DTYPE_BF16, FKM_PRECISION_DEFAULT, D);
  bench_check r;
  labels[N + 7 * N / 100] = farthest(N + 7 * N / 100); /* sample 7 of 100 in batch 1 */
  bench_check_labels(x, c, labels, B, N, K, D, u, 100, &r);
  ck_assert_int_eq(r.checked, 200);
  ck_assert_int_eq(r.wrong, 1);
  ck_assert(r.worst > 1.0);
  labels[0] = K, labels[N / 2] = -1; /* samples 0 and 50 of batch 0 */
  bench_check_labels(x, c, labels, B, N, K, D, u, 100, &r);
  ck_assert_int_eq(r.wrong, 3);
  bench_check_labels(x, c, labels, B, N, K, D, u, 3, &r); /* points 0, 166, 333 of each batch */
  ck_assert_int_eq(r.wrong, 1);
}
END_TEST

START_TEST(a_tie_passes) {
  fill();
  const int32_t a = labels[0], twin = a == 5 ? 6 : 5;
  for (int i = 0; i < D; i++) c[twin * D + i] = c[a * D + i];
  assign();
  labels[0] = labels[0] == a ? twin : a; /* the other of two equally near centroids */
  bench_check r;
  const double u = bench_unit_roundoff(FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, D);
  bench_check_labels(x, c, labels, B, N, K, D, u, N, &r);
  ck_assert_int_eq(r.checked, B * N);
  ck_assert_int_eq(r.wrong, 0);
}
END_TEST

START_TEST(tolerances_follow_the_rounding) {
  double bf16 = bench_unit_roundoff(FKM_DTYPE_BF16, FKM_PRECISION_DEFAULT, 128);
  double tf32 = bench_unit_roundoff(FKM_DTYPE_FP32, FKM_PRECISION_TF32, 128);
  double fp16 = bench_unit_roundoff(FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 128);
  double fp32 = bench_unit_roundoff(FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, 128);
  double fp64 = bench_unit_roundoff(FKM_DTYPE_FP64, FKM_PRECISION_DEFAULT, 128);
  ck_assert(bf16 > tf32 && tf32 > fp16 && fp16 > fp32 && fp32 > fp64 && fp64 > 0.0);
  ck_assert(bench_unit_roundoff(FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, 1024) > fp32);
}
END_TEST

/* SPEC §8's table: the compute floor of each shape at 730 TFLOP/s (ms, as printed there, to two
 * decimals or three figures) and B = 8's memory floor, 0.09 ms at 2.97 TB/s. */
START_TEST(floors_match_spec8) {
  static const struct {
    int64_t b, n, k, d;
    int elem;
    double ms;
  } rows[] = {{32, 74256, 1000, 128, 2, 0.83},   {1, 8388608, 1024, 128, 2, 3.01},
              {1, 1048576, 8192, 128, 2, 3.01},  {8, 65536, 100, 128, 2, 0.02},
              {1, 1048576, 65536, 128, 2, 24.1}, {1, 1048576, 1024, 1024, 2, 3.01},
              {1, 4194304, 4096, 128, 2, 6.02}, {1, 2097152, 1024, 128, 4, 0.75}};
  bench_floor f;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    bench_floor_of(rows[i].b, rows[i].n, rows[i].k, rows[i].d, rows[i].elem,
                   BENCH_H100_FP16_TFLOPS, BENCH_H100_COPY_TBPS, &f);
    double step = rows[i].ms >= 10.0 ? 0.1 : 0.01;
    ck_assert_msg(fabs(f.ms_compute - rows[i].ms) <= step / 2, "row %zu: %g", i, f.ms_compute);
    ck_assert(f.ms == fmax(f.ms_compute, f.ms_memory));
  }
  bench_floor_of(8, 65536, 100, 128, 2, BENCH_H100_FP16_TFLOPS, BENCH_H100_COPY_TBPS, &f);
  ck_assert_msg(fabs(f.ms_memory - 0.09) <= 0.005 && f.ms == f.ms_memory, "%g", f.ms_memory);
  bench_floor_of(1, 1, 1, 1, 4, 2.0 * BENCH_H100_FP16_TFLOPS, 2.0 * BENCH_H100_COPY_TBPS, &f);
  ck_assert(f.flops == 2.0 && f.bytes == 2.0 * 4 + 8.0 + 2.0 * 4);
}
END_TEST

int main(void) {
  Suite *s = suite_create("bench_check");
  TCase *t = tcase_create("core");
  tcase_add_test(t, nearest_labels_pass_on_every_sample_size);
  tcase_add_test(t, a_farther_or_invalid_label_fails);
  tcase_add_test(t, a_tie_passes);
  tcase_add_test(t, tolerances_follow_the_rounding);
  tcase_add_test(t, floors_match_spec8);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
