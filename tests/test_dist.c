/* The arithmetic of multi-GPU fits, without a GPU: the random init's picks split over ranks (their
 * union is the one-GPU fit's picks) and the shards of opts->devices. (Communicator ids, launcher
 * variables and NCCL's absence: test_comm.c.) */
#include <stdint.h>
#include <stdlib.h>

#include "comm.h"
#include "gpu_run.h"
#include "support.h"

static uint64_t rng;

static void setup(void) { rng = fkm_test_seed() ^ 0x9b05688c2b3e6c1full; }

/* For random rank counts, shard sizes and weights, the ranks' owned picks, taken back to global
 * indices, are exactly the one-GPU picks (each owned by one rank), in pick order. */
START_TEST(picks_split_over_ranks) {
  for (int trial = 0; trial < 40; trial++) {
    int size = 1 + (int)fkm_test_uniform(&rng, 0, 6), weighted = trial % 2;
    int64_t n[8], first[8], positive[8], total = 0, m = 0;
    for (int r = 0; r < size; r++) {
      n[r] = 1 + (int64_t)fkm_test_uniform(&rng, 0, 300);
      first[r] = total, total += n[r];
    }
    float *w = malloc((size_t)total * sizeof *w);
    for (int64_t i = 0; i < total; i++) w[i] = weighted ? (float)(int)fkm_test_uniform(&rng, 0, 3) : 1.0f;
    /* one point of positive weight at least: options.c rejects K above their count */
    w[(int64_t)fkm_test_uniform(&rng, 0, (double)total)] = 1.0f;
    for (int r = 0; r < size; r++) {
      positive[r] = 0;
      for (int64_t i = first[r]; i < first[r] + n[r]; i++) positive[r] += w[i] > 0.0f;
      m += positive[r];
    }
    int64_t k = 1 + (int64_t)fkm_test_uniform(&rng, 0, (double)(m < 40 ? m : 40)), want[40], got[40], b = trial % 3;
    uint64_t seed = fkm__mix64(rng + (uint64_t)trial);
    ck_assert_int_eq(fkm__random_init_indices(seed, b, m, k, want), FKM_OK);
    ck_assert_int_eq(fkm__rank_indices(weighted ? w : NULL, total, k, want), FKM_OK);
    int owners[40] = {0};
    for (int r = 0; r < size; r++) {
      int64_t pick[40];
      unsigned char owned[40];
      ck_assert_int_eq(fkm__dist_own_picks(seed, b, k, positive, size, r,
                                           weighted ? w + first[r] : NULL, n[r], pick, owned),
                       FKM_OK);
      for (int64_t j = 0; j < k; j++)
        if (owned[j]) owners[j]++, got[j] = first[r] + pick[j];
        else ck_assert_int_eq(pick[j], 0);
    }
    for (int64_t j = 0; j < k; j++) {
      ck_assert_msg(owners[j] == 1, "trial %d: pick %lld held by %d ranks", trial, (long long)j, owners[j]);
      ck_assert_msg(got[j] == want[j], "trial %d: pick %lld is %lld, one GPU picks %lld", trial,
                    (long long)j, (long long)got[j], (long long)want[j]);
    }
    free(w);
  }
}
END_TEST

/* Shards of opts->devices: contiguous, covering [0, N), whole spans but the last, even. */
START_TEST(span_shards) {
  for (int trial = 0; trial < 200; trial++) {
    int64_t n = 1 + (int64_t)fkm_test_uniform(&rng, 0, trial < 100 ? 5000 : 3e7), spans = (n + 511) / 512;
    int g = 1 + (int)fkm_test_uniform(&rng, 0, 16);
    if (g > spans) g = (int)spans;
    int64_t next = 0, lo = INT64_MAX, hi = 0;
    for (int r = 0; r < g; r++) {
      int64_t first, count;
      fkm__span_shard(n, g, r, &first, &count);
      ck_assert_msg(first == next && count >= 1, "n %lld g %d rank %d: [%lld, +%lld)", (long long)n, g,
                    r, (long long)first, (long long)count);
      ck_assert(r == g - 1 || count % 512 == 0);
      if (r < g - 1) lo = count < lo ? count : lo, hi = count > hi ? count : hi;
      next = first + count;
    }
    ck_assert_int_eq(next, n);
    ck_assert(g == 1 || hi - lo <= 512);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("dist");
  TCase *t = tcase_create("core");
  tcase_add_checked_fixture(t, setup, NULL);
  tcase_add_test(t, picks_split_over_ranks);
  tcase_add_test(t, span_shards);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
