/* Triton compatibility on the CPU: tuning records (disk round trip, damage), Triton autotune
 * records (import of Triton 3.3+-style fixtures, export and round trip), and the Triton cache
 * reader (metadata of 3.2/3.3/3.5-style records, hidden parameters, refusals, and parameter
 * counting on NVRTC-built cubins). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "nvrtc_api.h"
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
  /* device names are folder names below tuning/, never a way out of it */
  snprintf(r.device, sizeof r.device, "..");
  ck_assert_int_eq(fkm__tuning_path(test_dir, &r, path, sizeof path), 0);
  ck_assert_ptr_nonnull(strstr(path, "/tuning/_./"));
  snprintf(r.device, sizeof r.device, "../x/.h");
  ck_assert_int_eq(fkm__tuning_path(test_dir, &r, path, sizeof path), 0);
  ck_assert_ptr_nonnull(strstr(path, "/tuning/_._x_.h/"));
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

static const char *const bad_autotune[] = {"empty",     "nokey",     "int8",    "noblockk",
                                           "truncated", "bigblock",  "wrapblock", "realkey",
                                           "negtime"};

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

/* The file name carries the metric and TF32 (the key's tensor dtype is fp32's). */
static const struct {
  const char *metric, *dtype, *fn;
  int d, block_d;
} exports[] = {{"l2", "fp16", "_euclid_assign_kernel", 128, 0},
               {"cosine", "fp16", "_cosine_assign_kernel", 2048, 64},
               {"dot", "fp16", "fkm_assign_kernel_dot", 256, 0},
               {"l2", "tf32", "_euclid_assign_kernel_tf32", 128, 0},
               {"dot", "tf32", "fkm_assign_kernel_dot_tf32", 256, 0}};

START_TEST(export_then_import_round_trips) {
  fkm__tuning_record r = sample_record(exports[_i].metric, exports[_i].d, exports[_i].block_d);
  snprintf(r.dtype, sizeof r.dtype, "%s", exports[_i].dtype);
  fkm__tuning_record base = r, back;
  snprintf(base.metric, sizeof base.metric, "%s", strcmp(r.metric, "l2") ? "l2" : "cosine");
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


START_TEST(public_export_writes_every_record) {
  char root[512], dir[512], path[FKM__PATH_MAX], why[256];
  snprintf(root, sizeof root, "%s/cache", test_dir);
  snprintf(dir, sizeof dir, "%s/export", test_dir);
  setenv("FKM_CACHE_DIR", root, 1);
  fkm__tuning_record a = sample_record("l2", 128, 0), b = sample_record("cosine", 2048, 64), back;
  ck_assert_int_eq(fkm__tuning_store(root, &a), 0);
  ck_assert_int_eq(fkm__tuning_store(root, &b), 0);
  fkm_ctx *ctx;
  size_t written = 99;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_int_eq(fkm_tuning_export_triton(ctx, dir, &written), FKM_OK);
  ck_assert_uint_eq(written, 2);
  exported_path(&b, "_cosine_assign_kernel", path, sizeof path);
  ck_assert_int_eq(fkm__triton_autotune_import(path, &a, &back, why, sizeof why), FKM_OK);
  ck_assert_int_eq(back.config.BLOCK_D, 64);
  ck_assert_int_eq(back.d, 2048);
  setenv("FKM_CACHE_DIR", "", 1); /* disabled cache: nothing to export */
  ck_assert_int_eq(fkm_tuning_export_triton(ctx, dir, &written), FKM_OK);
  ck_assert_uint_eq(written, 0);
  unsetenv("FKM_CACHE_DIR");
  fkm_ctx_free(ctx);
}
END_TEST

START_TEST(public_import_stores_a_record) {
  char root[512];
  snprintf(root, sizeof root, "%s/cache", test_dir);
  setenv("FKM_CACHE_DIR", root, 1);
  fkm_ctx *ctx;
  fkm_config c;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  const char *rec = data_path("autotune/flash/_cosine_assign_kernel_split_d.autotune.json");
  ck_assert_int_eq(fkm_tuning_import_triton(ctx, rec, "NVIDIA H200", 90, 1, 2, &c), FKM_OK);
  ck_assert_int_eq(c.BLOCK_D, 128);
  ck_assert_int_eq(fkm__tuning_lookup(root, "NVIDIA H200", 90, "assign", "cosine", "bf16", 2048,
                                      1000000, 3000, 2, &c),
                   1);
  ck_assert_int_eq(c.BLOCK_N, 64);
  rec = data_path("autotune/bad/int8.autotune.json");
  ck_assert_int_eq(fkm_tuning_import_triton(ctx, rec, "NVIDIA H200", 90, 128, 1, &c),
                   FKM_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "dtype"));
  ck_assert_int_eq(fkm_tuning_import_triton(ctx, rec, "NVIDIA H200", 0, 128, 1, &c),
                   FKM_ERR_INVALID_ARG);
  unsetenv("FKM_CACHE_DIR");
  fkm_ctx_free(ctx);
}
END_TEST

/* ---- Triton cache directories --------------------------------------------------------------- */

static json_t *load_json(const char *path) {
  json_t *j = json_load_file(path, 0, NULL);
  ck_assert_msg(j != NULL, "cannot load %s", path);
  return j;
}

static const struct {
  const char *folder;
  int hidden;
} versions[] = {{"v32", 0}, {"v33", 1}, {"v35", 2}};

START_TEST(metadata_of_each_triton_version) {
  char rel[128], why[256];
  snprintf(rel, sizeof rel, "cache/%s/_euclid_assign_kernel.json", versions[_i].folder);
  json_t *j = load_json(data_path(rel));
  fkm__triton_meta m;
  ck_assert_ptr_null(fkm__triton_meta_from_json(j, &m));
  json_decref(j);
  ck_assert_str_eq(m.name, "_euclid_assign_kernel");
  ck_assert_str_eq(m.backend, "cuda");
  ck_assert_int_eq(m.num_warps, 4);
  ck_assert_int_eq(m.num_ctas, 1);
  ck_assert_int_eq(m.num_stages, 2);
  ck_assert_int_eq(m.shared, 49152);
  ck_assert_int_eq(m.arch, 90);
  ck_assert_int_eq(m.warp_size, 32);
  ck_assert_int_eq(strlen(m.hash), 64);
  ck_assert_int_eq(m.hidden_params, versions[_i].hidden);
  ck_assert_int_eq(fkm__triton_launchable(&m, 90, why, sizeof why), 1);
  ck_assert_str_eq(why, "");
  ck_assert_int_eq(fkm__triton_launchable(&m, 0, why, sizeof why), 1);
  ck_assert_int_eq(fkm__triton_launchable(&m, 80, why, sizeof why), 0);
  ck_assert_int_eq(fkm__triton_launchable(&m, 100, why, sizeof why), 0);
}
END_TEST

START_TEST(arch_rules) {
  fkm__triton_meta m = {.backend = "cuda", .warp_size = 32, .num_warps = 4, .num_ctas = 1,
                        .cluster_dims = {1, 1, 1}};
  char why[256];
  m.arch = 80;
  ck_assert_int_eq(fkm__triton_launchable(&m, 86, why, sizeof why), 1); /* same major, newer minor */
  ck_assert_int_eq(fkm__triton_launchable(&m, 90, why, sizeof why), 0);
  m.arch = 86;
  ck_assert_int_eq(fkm__triton_launchable(&m, 80, why, sizeof why), 0);
  m.arch = 90;
  ck_assert_int_eq(fkm__triton_launchable(&m, 90, why, sizeof why), 1);
  ck_assert_int_eq(fkm__triton_launchable(&m, 100, why, sizeof why), 0); /* sm_90a */
  ck_assert_ptr_nonnull(strstr(why, "sm_100"));
}
END_TEST

START_TEST(unreadable_metadata_is_reported) {
  json_t *j = load_json(data_path("cache/nohash/_euclid_assign_kernel.json"));
  fkm__triton_meta m;
  const char *bad = fkm__triton_meta_from_json(j, &m);
  ck_assert_ptr_nonnull(bad);
  ck_assert_ptr_nonnull(strstr(bad, "hash"));
  json_decref(j);
}
END_TEST

/* NVRTC cubin of source (for sm_90); caller frees. */
static void *compile_source(const char *source, size_t *size) {
  fkm_ctx *ctx;
  void *cubin;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_NORMS, FKM_METRIC_L2, FKM_DTYPE_FP16,
                                      FKM_PRECISION_DEFAULT, 64, 90);
  ck_assert_msg(fkm__compile(ctx, &s, source, &cubin, size) == FKM_OK, "%s",
                fkm_ctx_last_error(ctx));
  fkm_ctx_free(ctx);
  return cubin;
}

static const struct {
  int sm, arch_specific;
} assign_targets[] = {{80, 0}, {90, 1}};

/* fkm_assign(x, c, cnorm, labels, i64 n, int k, done): 7 parameters, in both kernel variants. */
START_TEST(counts_the_parameters_of_fkm_assign) {
  fkm_ctx *ctx;
  char *src, name[64], why[256];
  void *cubin;
  size_t size;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, FKM_DTYPE_FP16,
                                      FKM_PRECISION_DEFAULT, 128, assign_targets[_i].sm);
  s.block_n = 128, s.block_k = 64, s.block_d = 128, s.num_warps = 4, s.num_stages = 2;
  s.arch_specific = assign_targets[_i].arch_specific;
  ck_assert_int_eq(fkm__generate(ctx, &s, &src), FKM_OK);
  ck_assert_msg(fkm__compile(ctx, &s, src, &cubin, &size) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  fkm__entry_name(&s, "fkm_assign", name, sizeof name);
  int sizes[FKM__MAX_KERNEL_PARAMS], want[] = {8, 8, 8, 8, 8, 4, 8};
  ck_assert_int_eq(fkm__cubin_params(cubin, size, name, sizes, FKM__MAX_KERNEL_PARAMS, why,
                                     sizeof why),
                   7);
  ck_assert_mem_eq(sizes, want, sizeof want);
  ck_assert_int_eq(fkm__cubin_params(cubin, size, "no_such_kernel", sizes, 8, why, sizeof why), -1);
  ck_assert_ptr_nonnull(strstr(why, "no_such_kernel"));
  ck_assert_int_eq(fkm__cubin_params(cubin, 100, name, sizes, 8, why, sizeof why), -1);
  ck_assert_int_eq(fkm__cubin_params(src, strlen(src), name, sizes, 8, why, sizeof why), -1);
  ck_assert_ptr_nonnull(strstr(why, "ELF"));
  free(src), free(cubin);
  fkm_ctx_free(ctx);
}
END_TEST

/* Stand-ins for Triton's compiled assign kernel: 8 user parameters, then the hidden pointers
 * Triton 3.3 (global scratch) and 3.5 (+ profile scratch) append. */
#define USER_PARAMS                                                                                \
  "const void *x, const void *c, const float *xsq, const float *csq, int *out, int n, int k, "     \
  "int stride"
static const char *const kernel_sources[] = {
    "extern \"C\" __global__ void _euclid_assign_kernel(" USER_PARAMS ") {}",
    "extern \"C\" __global__ void _euclid_assign_kernel(" USER_PARAMS ", void *gs) {}",
    "extern \"C\" __global__ void _euclid_assign_kernel(" USER_PARAMS ", void *gs, void *ps) {}"};

static const struct {
  const char *folder;
  int source;     /* index into kernel_sources */
  int launchable;
  const char *why; /* a phrase of the reason */
  int params;
} cache_cases[] = {
    {"arch80", 2, 0, "arch 80", 10},
    {"coop", 2, 0, "cooperative", 10},
    {"ctas", 2, 0, "num_ctas > 1", 10},
    {"gscratch", 2, 0, "scratch", 10},
    {"hip", 2, 0, "CUDA kernels only", 10},
    {"mismatch", 1, 0, "hidden scratch pointer", 9},
    {"nohash", 2, 0, "hash", -1},
    {"pdl", 2, 0, "launch_pdl", 10},
    {"pscratch", 2, 0, "scratch", 10},
    {"v32", 0, 1, "", 8},
    {"v33", 1, 1, "", 9},
    {"v35", 2, 1, "", 10},
};
#define CACHE_CASES (sizeof cache_cases / sizeof cache_cases[0])

/* <test_dir>/triton: each fixture folder's json files plus the NVRTC cubin of its stand-in. */
static void make_triton_cache(void) {
  size_t sizes[3];
  void *cubins[3];
  for (int i = 0; i < 3; i++) cubins[i] = compile_source(kernel_sources[i], &sizes[i]);
  for (size_t c = 0; c < CACHE_CASES; c++) {
    char dir[512], path[1024], rel[256];
    snprintf(dir, sizeof dir, "%s/triton/%s", test_dir, cache_cases[c].folder);
    ck_assert_int_eq(fkm__mkdirs(dir), 0);
    const char *files[] = {"_euclid_assign_kernel.json", "__grp___euclid_assign_kernel.json"};
    for (int f = 0; f < 2; f++) {
      void *data;
      size_t size;
      snprintf(rel, sizeof rel, "cache/%s/%s", cache_cases[c].folder, files[f]);
      ck_assert_int_eq(fkm__file_read(data_path(rel), &data, &size), 0);
      snprintf(path, sizeof path, "%s/%s", dir, files[f]);
      ck_assert_int_eq(fkm__file_write_atomic(path, data, size), 0);
      free(data);
    }
    snprintf(path, sizeof path, "%s/_euclid_assign_kernel.cubin", dir);
    int s = cache_cases[c].source;
    ck_assert_int_eq(fkm__file_write_atomic(path, cubins[s], sizes[s]), 0);
  }
  for (int i = 0; i < 3; i++) free(cubins[i]);
}

/* Truncated and corrupted cubins never crash the reader (run under the sanitizers too). */
START_TEST(damaged_cubins_are_refused_safely) {
  size_t size;
  unsigned char *cubin = compile_source(kernel_sources[2], &size);
  int sizes[FKM__MAX_KERNEL_PARAMS];
  char why[256];
  ck_assert_int_eq(fkm__cubin_params(cubin, size, "_euclid_assign_kernel", sizes, 4, why,
                                     sizeof why),
                   10);
  for (size_t cut = 0; cut < size; cut += size / 97 + 1)
    fkm__cubin_params(cubin, cut, "_euclid_assign_kernel", sizes, 4, why, sizeof why);
  uint64_t state = fkm_test_seed();
  unsigned char *copy = malloc(size);
  for (int round = 0; round < 200; round++) {
    memcpy(copy, cubin, size);
    for (int f = 0; f < 8; f++) copy[(size_t)fkm_test_uniform(&state, 0, (double)size)] ^= 0xff;
    fkm__cubin_params(copy, size, "_euclid_assign_kernel", sizes, FKM__MAX_KERNEL_PARAMS, why,
                      sizeof why);
  }
  free(copy), free(cubin);
}
END_TEST

typedef struct seen {
  size_t count;
  int ok[CACHE_CASES];
} seen;

static int check_kernel(const fkm__triton_kernel *k, void *user) {
  seen *s = user;
  ck_assert_uint_lt(s->count, CACHE_CASES);
  size_t c = s->count++;
  ck_assert_msg(strstr(k->dir, cache_cases[c].folder) != NULL, "order: %s", k->dir);
  ck_assert_msg(k->launchable == cache_cases[c].launchable, "%s: launchable %d (%s)",
                cache_cases[c].folder, k->launchable, k->why);
  ck_assert_msg(strstr(k->why, cache_cases[c].why) != NULL, "%s: why '%s'", cache_cases[c].folder,
                k->why);
  ck_assert_msg(k->params == cache_cases[c].params, "%s: %d parameters", cache_cases[c].folder,
                k->params);
  s->ok[c] = 1;
  return 0;
}

START_TEST(reads_a_triton_cache_directory) {
  char dir[512];
  make_triton_cache();
  snprintf(dir, sizeof dir, "%s/triton", test_dir);
  seen s = {0};
  ck_assert_int_eq(fkm__triton_scan(dir, 90, check_kernel, &s), 0);
  ck_assert_uint_eq(s.count, CACHE_CASES);
  /* the caller's count of user parameters fixes the total */
  fkm__triton_kernel k;
  snprintf(dir, sizeof dir, "%s/triton/v35", test_dir);
  fkm__triton_kernel_read(dir, "_euclid_assign_kernel", 90, 8, &k);
  ck_assert_int_eq(k.launchable, 1);
  fkm__triton_kernel_read(dir, "_euclid_assign_kernel", 90, 9, &k);
  ck_assert_int_eq(k.launchable, 0);
  ck_assert_ptr_nonnull(strstr(k.why, "expected 9 + 2 hidden"));
  ck_assert_int_eq(fkm__triton_scan("/nonexistent/triton", 90, check_kernel, &s), ENOENT);
}
END_TEST

/* ---- launching Triton kernels (refusals happen before any driver call) ----------------------- */

static fkm_status launch_fixture(fkm_ctx *ctx, const char *folder, int arg_count) {
  static unsigned long long ptr;
  static int value;
  void *args[9] = {&ptr, &ptr, &ptr, &ptr, &ptr, &value, &value, &value, &value};
  char dir[512];
  const unsigned grid[3] = {1, 1, 1};
  snprintf(dir, sizeof dir, "%s/triton/%s", test_dir, folder);
  return fkm_triton_launch(ctx, dir, "_euclid_assign_kernel", 0, grid, args, arg_count, NULL);
}

static const struct {
  const char *folder;
  int args;
  fkm_status status;
  const char *why; /* a phrase of the detail */
} launch_refusals[] = {
    {"coop", 8, FKM_ERR_UNSUPPORTED, "cooperative"},
    {"ctas", 8, FKM_ERR_UNSUPPORTED, "num_ctas > 1"},
    {"gscratch", 8, FKM_ERR_UNSUPPORTED, "scratch"},
    {"hip", 8, FKM_ERR_UNSUPPORTED, "CUDA kernels only"},
    {"pdl", 8, FKM_ERR_UNSUPPORTED, "launch_pdl"},
    {"pscratch", 8, FKM_ERR_UNSUPPORTED, "scratch"},
    {"mismatch", 8, FKM_ERR_FORMAT, "hidden scratch pointer"},
    {"nohash", 8, FKM_ERR_FORMAT, "hash"},
    {"absent", 8, FKM_ERR_IO, "unreadable"},
    {"v35", 7, FKM_ERR_INVALID_ARG, "7 arguments given"},
    {"v33", 9, FKM_ERR_INVALID_ARG, "so it takes 8"},
    {"v32", 9, FKM_ERR_INVALID_ARG, "the cubin has 8 parameters"},
};

START_TEST(launch_refuses_what_it_cannot_launch) {
  fkm_ctx *ctx;
  make_triton_cache();
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_status s = launch_fixture(ctx, launch_refusals[_i].folder, launch_refusals[_i].args);
  const char *detail = fkm_ctx_last_error(ctx);
  ck_assert_msg(s == launch_refusals[_i].status, "%s: %s (%s)", launch_refusals[_i].folder,
                fkm_status_name(s), detail);
  ck_assert_msg(strstr(detail, launch_refusals[_i].why) && strstr(detail, launch_refusals[_i].folder),
                "%s: detail '%s'", launch_refusals[_i].folder, detail);
  fkm_ctx_free(ctx);
}
END_TEST

START_TEST(launch_checks_its_arguments) {
  fkm_ctx *ctx;
  void *args[1] = {NULL};
  const unsigned grid[3] = {1, 1, 1}, flat[3] = {4, 0, 1};
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_int_eq(fkm_triton_launch(NULL, "d", "k", 0, grid, args, 1, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_triton_launch(ctx, NULL, "k", 0, grid, args, 1, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_triton_launch(ctx, "d", "k", 0, NULL, args, 1, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_triton_launch(ctx, "d", "k", 0, flat, args, 1, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_triton_launch(ctx, "d", "k", 0, grid, NULL, 1, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_triton_launch(ctx, "d", "k", -1, grid, args, 1, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_triton_launch(ctx, "d", "k", 0, grid, args, -1, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "grid"));
  fkm_ctx_free(ctx);
}
END_TEST

/* Kernels that pass every check without a device reach it: launched where a device of their arch
 * is (the stand-ins have empty bodies), refused for the arch on other devices, or no driver. */
static const struct {
  const char *folder;
  int args;
} launch_reaches_device[] = {{"v32", 8}, {"v33", 8}, {"v35", 8}, {"arch80", 8}};

START_TEST(launch_reaches_the_device) {
  fkm_ctx *ctx;
  make_triton_cache();
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_status s = launch_fixture(ctx, launch_reaches_device[_i].folder, launch_reaches_device[_i].args);
  const char *detail = fkm_ctx_last_error(ctx);
  ck_assert_msg(s == FKM_OK || s == FKM_ERR_NO_DRIVER || s == FKM_ERR_NO_DEVICE ||
                    (s == FKM_ERR_UNSUPPORTED && strstr(detail, "built for arch")),
                "%s: %s (%s)", launch_reaches_device[_i].folder, fkm_status_name(s), detail);
  fkm_ctx_free(ctx);
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
  tcase_add_test(t, public_export_writes_every_record);
  tcase_add_test(t, public_import_stores_a_record);
  tcase_add_loop_test(t, metadata_of_each_triton_version, 0,
                      (int)(sizeof versions / sizeof versions[0]));
  tcase_add_test(t, arch_rules);
  tcase_add_test(t, unreadable_metadata_is_reported);
  tcase_add_test(t, launch_checks_its_arguments);
  if (fkm_test_nvrtc_usable()) {
    tcase_add_loop_test(t, counts_the_parameters_of_fkm_assign, 0,
                        (int)(sizeof assign_targets / sizeof assign_targets[0]));
    tcase_add_test(t, reads_a_triton_cache_directory);
    tcase_add_test(t, damaged_cubins_are_refused_safely);
    tcase_add_loop_test(t, launch_refuses_what_it_cannot_launch, 0,
                        (int)(sizeof launch_refusals / sizeof launch_refusals[0]));
    tcase_add_loop_test(t, launch_reaches_the_device, 0,
                        (int)(sizeof launch_reaches_device / sizeof launch_reaches_device[0]));
  } else {
    fprintf(stderr, "NVRTC absent: cubin parameter tests skipped\n");
  }
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
