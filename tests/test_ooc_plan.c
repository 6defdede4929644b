/* The out-of-core chunk planner (runtime/ooc_plan.c): the chosen chunk fits the budget, is whole
 * inertia spans, is the largest that fits (or hits a cap), and byte counts add up; budgets below
 * one span are refused. Random shapes per run. */
#include <stdio.h>

#include "ooc.h"
#include "support.h"

static uint64_t rng;

static void setup(void) { rng = fkm_test_seed() ^ 0x510e527fade682d1ull; }

static fkm__ooc_shape random_shape(void) {
  fkm__ooc_shape s;
  s.b = (int64_t)fkm_test_uniform(&rng, 1, 4);
  s.n = (int64_t)fkm_test_uniform(&rng, 1, 3e6);
  s.d = (int64_t)fkm_test_uniform(&rng, 1, 1100);
  s.k = (int64_t)fkm_test_uniform(&rng, 1, 70000);
  s.dp = (int)((s.d + 15) / 16 * 16);
  s.storage = (size_t)2 << (int)fkm_test_uniform(&rng, 0, 2);
  s.compute = fkm_test_uniform(&rng, 0, 1) < 0.5 ? 2 : 4;
  s.centroid = s.compute == 4 && fkm_test_uniform(&rng, 0, 1) < 0.5 ? 8 : s.compute;
  s.direct = s.storage == s.compute && s.d == s.dp && fkm_test_uniform(&rng, 0, 1) < 0.5;
  s.weights = fkm_test_uniform(&rng, 0, 1) < 0.3;
  s.fit = fkm_test_uniform(&rng, 0, 1) < 0.8;
  s.restarts = s.fit && fkm_test_uniform(&rng, 0, 1) < 0.3;
  return s;
}

START_TEST(chunks_fit_and_are_the_largest) {
  for (int trial = 0; trial < 2000; trial++) {
    fkm__ooc_shape s = random_shape();
    fkm__ooc_plan one, p, more;
    fkm__ooc_plan_bytes(&s, FKM__SPAN_ROWS, &one);
    size_t budget = one.device_bytes + (size_t)fkm_test_uniform(&rng, 0, 2e9);
    ck_assert_int_eq(fkm__ooc_plan_make(&s, budget, &p), 1);
    ck_assert_msg(p.device_bytes <= budget, "plan of %zu bytes over the budget %zu", p.device_bytes,
                  budget);
    ck_assert_int_eq(p.device_bytes,
                     p.fixed_bytes + p.chunk_bytes + (size_t)p.resident * p.resident_chunk_bytes);
    int64_t chunks = s.b * ((s.n + p.chunk - 1) / p.chunk);
    ck_assert(p.resident >= 0 && p.resident <= chunks);
    ck_assert_msg(p.resident == chunks || p.device_bytes + p.resident_chunk_bytes > budget,
                  "%lld resident chunks, but one more fits", (long long)p.resident);
    ck_assert(p.resident_chunk_bytes >= (size_t)p.chunk * (size_t)s.d * s.storage);
    ck_assert_int_eq(p.chunk % FKM__SPAN_ROWS, 0);
    ck_assert(p.chunk >= FKM__SPAN_ROWS);
    ck_assert_int_eq(p.ntiles, (p.chunk + p.tile - 1) / p.tile);
    ck_assert(p.tile % 32 == 0);
    int64_t spans = (s.n + FKM__SPAN_ROWS - 1) / FKM__SPAN_ROWS * FKM__SPAN_ROWS;
    int capped = p.chunk >= spans ||
                 (size_t)(p.chunk + FKM__SPAN_ROWS) * (size_t)s.d * s.storage > fkm__ooc_chunk_cap(budget);
    fkm__ooc_plan_bytes(&s, p.chunk + FKM__SPAN_ROWS, &more);
    ck_assert_msg(capped || more.fixed_bytes + more.chunk_bytes > budget,
                  "chunk %lld is not the largest: %lld more points still fit", (long long)p.chunk,
                  (long long)FKM__SPAN_ROWS);
    ck_assert(p.chunk <= spans);
  }
}
END_TEST

/* Bytes grow with the chunk; staging counts the pinned copies and the labels. */
START_TEST(bytes_add_up) {
  for (int trial = 0; trial < 500; trial++) {
    fkm__ooc_shape s = random_shape();
    fkm__ooc_plan a, b;
    int64_t c = FKM__SPAN_ROWS * (int64_t)fkm_test_uniform(&rng, 1, 64);
    fkm__ooc_plan_bytes(&s, c, &a);
    fkm__ooc_plan_bytes(&s, c + FKM__SPAN_ROWS, &b);
    ck_assert(b.chunk_bytes > a.chunk_bytes);
    ck_assert_int_eq(b.fixed_bytes, a.fixed_bytes);
    size_t raw = (size_t)c * (size_t)s.d * s.storage;
    ck_assert(a.chunk_bytes >= (size_t)a.buffers * raw);
    size_t want = (size_t)a.buffers * ((size_t)c * (size_t)s.d * s.storage +
                                       (s.weights ? (size_t)c * 4 : 0) + (size_t)c * 4);
    ck_assert_int_eq(a.staging_bytes, want);
  }
}
END_TEST

START_TEST(budgets_below_one_span_are_refused) {
  for (int trial = 0; trial < 500; trial++) {
    fkm__ooc_shape s = random_shape();
    fkm__ooc_plan one, p;
    fkm__ooc_plan_bytes(&s, FKM__SPAN_ROWS, &one);
    size_t budget = (size_t)fkm_test_uniform(&rng, 0, (double)one.device_bytes);
    ck_assert_int_eq(fkm__ooc_plan_make(&s, budget, &p), 0);
    ck_assert_int_eq(p.device_bytes, one.device_bytes);
  }
}
END_TEST

/* A batch of N points cut into chunks: lengths cover N exactly, all full but the last. */
START_TEST(chunk_lengths_cover_the_batch) {
  for (int trial = 0; trial < 1000; trial++) {
    int64_t n = (int64_t)fkm_test_uniform(&rng, 1, 1e6);
    int64_t chunk = FKM__SPAN_ROWS * (int64_t)fkm_test_uniform(&rng, 1, 100);
    int64_t chunks = (n + chunk - 1) / chunk, total = 0;
    for (int64_t c = 0; c < chunks; c++) {
      int64_t len = fkm__ooc_chunk_len(n, chunk, c);
      ck_assert(len > 0 && len <= chunk);
      if (c + 1 < chunks) ck_assert_int_eq(len, chunk);
      total += len;
    }
    ck_assert_int_eq(total, n);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("ooc_plan");
  TCase *t = tcase_create("plan");
  tcase_add_checked_fixture(t, setup, NULL);
  tcase_add_test(t, chunks_fit_and_are_the_largest);
  tcase_add_test(t, bytes_add_up);
  tcase_add_test(t, budgets_below_one_span_are_refused);
  tcase_add_test(t, chunk_lengths_cover_the_batch);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
