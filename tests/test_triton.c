/* Triton compatibility on the CPU: tuning records (disk round trip, damage), Triton autotune
 * records (import of Triton 3.3+-style fixtures, export and round trip), and the Triton cache
 * reader (metadata of 3.2/3.3/3.5-style records, hidden parameters, refusals, and parameter
 * counting on NVRTC-built cubins). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "tuning.h"

static char test_dir[256]; /* per test, removed at the end */

static void setup(void) {
  snprintf(test_dir, sizeof test_dir, "/tmp/fkm-triton-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(test_dir));
}

static void teardown(void) { fkm__remove_tree(test_dir); }

static const char *data_path(const char *rel) {
  static char path[1024];
  const char *root = getenv("FKM_TEST_DATA");
  snprintf(path, sizeof path, "%s/triton/%s", root ? root : "tests/data", rel);
  return path;
}

static fkm__tuning_record sample_record(const char *metric, int d, int block_d) {
  fkm__tuning_record r;
  fkm__tuning_query(&r, "NVIDIA H100 80GB HBM3", 90, "assign", metric, "fp16", d, 1000000, 1000,
                    3);
  r.config = (fkm_config){128, 64, block_d, 8, 2, 1};
  r.ms = 1.25;
  return r;
}

static void assert_same_record(const fkm__tuning_record *a, const fkm__tuning_record *b) {
  ck_assert_str_eq(a->device, b->device);
  ck_assert_str_eq(a->kind, b->kind);
  ck_assert_str_eq(a->metric, b->metric);
  ck_assert_str_eq(a->dtype, b->dtype);
  ck_assert_int_eq(a->sm, b->sm);
  ck_assert_int_eq(a->d, b->d);
  ck_assert_int_eq(a->n_bucket, b->n_bucket);
  ck_assert_int_eq(a->k_bucket, b->k_bucket);
  ck_assert_int_eq(a->b_bucket, b->b_bucket);
  ck_assert_mem_eq(&a->config, &b->config, sizeof a->config);
  ck_assert_double_eq_tol(a->ms, b->ms, 1e-9);
}

/* ---- tuning records ------------------------------------------------------------------------- */

START_TEST(buckets_are_powers_of_two) {
  ck_assert_int_eq(fkm__tuning_bucket(0), 1);
  ck_assert_int_eq(fkm__tuning_bucket(1), 1);
  ck_assert_int_eq(fkm__tuning_bucket(1000), 1024);
  ck_assert_int_eq(fkm__tuning_bucket(1024), 1024);
  ck_assert_int_eq(fkm__tuning_bucket(1025), 2048);
}
END_TEST

START_TEST(record_round_trips_on_disk) {
  fkm__tuning_record r = sample_record("l2", 128, 0), back;
  char path[FKM__PATH_MAX], why[256];
  ck_assert_int_eq(fkm__tuning_store(test_dir, &r), 0);
  ck_assert_int_eq(fkm__tuning_path(test_dir, &r, path, sizeof path), 0);
  ck_assert_ptr_nonnull(strstr(path, "/tuning/NVIDIA_H100_80GB_HBM3/"));
  ck_assert_int_eq(fkm__tuning_read(test_dir, &r, &back, why, sizeof why), 1);
  assert_same_record(&r, &back);
  fkm_config c;
  ck_assert_int_eq(fkm__tuning_lookup(test_dir, r.device, 90, "assign", "l2", "fp16", 128, 600000,
                                      1000, 4, &c),
                   1);
  ck_assert_mem_eq(&c, &r.config, sizeof c);
  /* another bucket, dtype or device: no record */
  ck_assert_int_eq(fkm__tuning_lookup(test_dir, r.device, 90, "assign", "l2", "fp16", 128, 2000000,
                                      1000, 4, &c),
                   0);
  ck_assert_int_eq(fkm__tuning_lookup(test_dir, r.device, 90, "assign", "l2", "bf16", 128, 600000,
                                      1000, 4, &c),
                   0);
  ck_assert_int_eq(fkm__tuning_lookup(test_dir, "NVIDIA H200", 90, "assign", "l2", "fp16", 128,
                                      600000, 1000, 4, &c),
                   0);
}
END_TEST

/* Rewrites the stored file of r with `edit` applied to its text. */
static void damage(const fkm__tuning_record *r, const char *from, const char *to) {
  char path[FKM__PATH_MAX];
  void *data;
  size_t size;
  ck_assert_int_eq(fkm__tuning_path(test_dir, r, path, sizeof path), 0);
  ck_assert_int_eq(fkm__file_read(path, &data, &size), 0);
  char *text = data, *at = strstr(text, from), out[8192];
  ck_assert_ptr_nonnull(at);
  snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  ck_assert_int_eq(fkm__file_write_atomic(path, out, strlen(out)), 0);
  free(data);
}

static const char *const damages[][2] = {
    {"\"num_warps\": 8", "\"num_warps\": 4"},      /* config no longer matches its hash */
    {"\"sm\": 90", "\"sm\": 80"},                  /* identity no longer matches the key */
    {"\"schema_version\": 1", "\"schema_version\": 99"},
    {"\"config\"", "\"configuration\""},
    {"{", "["},
};

START_TEST(damaged_record_is_a_miss) {
  fkm__tuning_record r = sample_record("l2", 128, 0), back;
  char why[256];
  ck_assert_int_eq(fkm__tuning_store(test_dir, &r), 0);
  damage(&r, damages[_i][0], damages[_i][1]);
  ck_assert_int_eq(fkm__tuning_read(test_dir, &r, &back, why, sizeof why), 0);
  ck_assert_msg(why[0] != '\0', "damage %d gave no reason", _i);
}
END_TEST

static int count_record(const fkm__tuning_record *r, void *user) {
  (void)r;
  ++*(int *)user;
  return 0;
}

START_TEST(scan_lists_every_record) {
  fkm__tuning_record a = sample_record("l2", 128, 0), b = sample_record("cosine", 2048, 64);
  ck_assert_int_eq(fkm__tuning_store(test_dir, &a), 0);
  ck_assert_int_eq(fkm__tuning_store(test_dir, &b), 0);
  int n = 0;
  ck_assert_int_eq(fkm__tuning_scan(test_dir, count_record, &n), 0);
  ck_assert_int_eq(n, 2);
}
END_TEST

/* ---- Triton autotune records ---------------------------------------------------------------- */

static fkm__tuning_record base_record(void) {
  fkm__tuning_record base;
  fkm__tuning_query(&base, "NVIDIA H100 80GB HBM3", 90, "assign", "dot", "fp32", 128, 1, 1, 1);
  return base;
}

START_TEST(import_picks_the_fastest_config) {
  fkm__tuning_record base = base_record(), r;
  char why[256];
  ck_assert_int_eq(fkm__triton_autotune_import(
                       data_path("autotune/flash/_euclid_assign_kernel.autotune.json"), &base, &r,
                       why, sizeof why),
                   FKM_OK);
  fkm_config want = {128, 64, 0, 4, 2, 1};
  ck_assert_mem_eq(&r.config, &want, sizeof want);
  ck_assert_double_eq_tol(r.ms, 0.268, 1e-12);
  ck_assert_int_eq(r.n_bucket, 262144);
  ck_assert_int_eq(r.k_bucket, 1024);
  ck_assert_int_eq(r.d, 128); /* the two-integer key has no D: the base's */
  ck_assert_str_eq(r.dtype, "fp16");
  ck_assert_str_eq(r.metric, "l2");
  ck_assert_str_eq(r.device, base.device);
}
END_TEST

START_TEST(import_reads_split_d_keys) {
  fkm__tuning_record base = base_record(), r;
  char why[256];
  ck_assert_int_eq(fkm__triton_autotune_import(
                       data_path("autotune/flash/_cosine_assign_kernel_split_d.autotune.json"),
                       &base, &r, why, sizeof why),
                   FKM_OK);
  fkm_config want = {64, 128, 128, 4, 4, 1};
  ck_assert_mem_eq(&r.config, &want, sizeof want);
  ck_assert_int_eq(r.d, 2048);
  ck_assert_int_eq(r.n_bucket, 1048576);
  ck_assert_str_eq(r.dtype, "bf16");
  ck_assert_str_eq(r.metric, "cosine");
}
END_TEST

static const char *const bad_autotune[] = {"empty", "nokey", "int8", "noblockk", "truncated"};

START_TEST(malformed_autotune_records_are_refused) {
  fkm__tuning_record base = base_record(), r;
  char rel[128], why[256] = "";
  snprintf(rel, sizeof rel, "autotune/bad/%s.autotune.json", bad_autotune[_i]);
  ck_assert_int_eq(fkm__triton_autotune_import(data_path(rel), &base, &r, why, sizeof why),
                   FKM_ERR_FORMAT);
  ck_assert_msg(strstr(why, bad_autotune[_i]) && strlen(why) > strlen(data_path(rel)) + 2,
                "no clear reason: '%s'", why);
  ck_assert_int_eq(fkm__triton_autotune_import(data_path("absent.autotune.json"), &base, &r, why,
                                               sizeof why),
                   FKM_ERR_IO);
}
END_TEST

/* The single *.autotune.json below dir/<key>/ of r. */
static void exported_path(const fkm__tuning_record *r, const char *fn, char *out, size_t len) {
  fkm__cache_key key;
  ck_assert_int_eq(fkm__tuning_key(r, &key), 0);
  snprintf(out, len, "%s/export/%s/%s.autotune.json", test_dir, key.hex, fn);
}

static const struct {
  const char *metric, *fn;
  int d, block_d;
} exports[] = {{"l2", "_euclid_assign_kernel", 128, 0},
               {"cosine", "_cosine_assign_kernel", 2048, 64},
               {"dot", "fkm_assign_kernel_dot", 256, 0}};

START_TEST(export_then_import_round_trips) {
  fkm__tuning_record r = sample_record(exports[_i].metric, exports[_i].d, exports[_i].block_d);
  fkm__tuning_record base = r, back;
  char dir[512], path[FKM__PATH_MAX], why[256];
  snprintf(dir, sizeof dir, "%s/export", test_dir);
  ck_assert_int_eq(fkm__triton_autotune_export(&r, dir), 0);
  exported_path(&r, exports[_i].fn, path, sizeof path);
  base.d = 1, base.n_bucket = base.k_bucket = 1, base.config = (fkm_config){0};
  snprintf(base.dtype, sizeof base.dtype, "fp32");
  if (exports[_i].block_d == 0) base.d = r.d; /* small-D keys carry no D */
  ck_assert_int_eq(fkm__triton_autotune_import(path, &base, &back, why, sizeof why), FKM_OK);
  assert_same_record(&r, &back);
}
END_TEST

int main(void) {
  Suite *s = suite_create("triton");
  TCase *t = tcase_create("triton");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, buckets_are_powers_of_two);
  tcase_add_test(t, record_round_trips_on_disk);
  tcase_add_loop_test(t, damaged_record_is_a_miss, 0, (int)(sizeof damages / sizeof damages[0]));
  tcase_add_test(t, scan_lists_every_record);
  tcase_add_test(t, import_picks_the_fastest_config);
  tcase_add_test(t, import_reads_split_d_keys);
  tcase_add_loop_test(t, malformed_autotune_records_are_refused, 0,
                      (int)(sizeof bad_autotune / sizeof bad_autotune[0]));
  tcase_add_loop_test(t, export_then_import_round_trips, 0,
                      (int)(sizeof exports / sizeof exports[0]));
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
