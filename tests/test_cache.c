/* Kernel cache: pinned keys, store/lookup, every damaged-entry case, concurrent writers, unwritable
 * and disabled caches, layers, bundles (export, import, read in place) and an offline prebuild.
 * No GPU needed; the NVRTC cases are skipped where NVRTC is absent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "generate.h"
#include "gpu.h"
#include "kernel_cache.h"
#include "nvrtc_api.h"
#include "support.h"
#include "tuning.h"

/* ---- fixtures ------------------------------------------------------------------------------- */

static char test_dir[256]; /* per test, removed at the end */

/* A fresh temp dir as the user cache; no override, no bundles. */
static void setup(void) {
  snprintf(test_dir, sizeof test_dir, "/tmp/fkm-cache-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(test_dir));
  char root[512];
  snprintf(root, sizeof root, "%s/user", test_dir);
  setenv("FKM_CACHE_DIR", root, 1);
  unsetenv("FKM_CACHE_OVERRIDE_DIR");
  unsetenv("FKM_BUNDLE_PATH");
}

static void teardown(void) { fkm__remove_tree(test_dir); }

static const char *user_root(void) { return getenv("FKM_CACHE_DIR"); }

static fkm_ctx *new_ctx(fkm_test_log_capture *c) {
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  if (c) {
    memset(c, 0, sizeof *c);
    fkm_log_set(ctx, fkm_test_capture_warnings, c);
  }
  return ctx;
}

/* A key from a number, and a payload that depends on it (len bytes, never all zero). */
static fkm__cache_key key_of(int i) {
  char v[16];
  snprintf(v, sizeof v, "%d", i);
  fkm__cache_field f = {"test", v};
  fkm__cache_key k;
  ck_assert_int_eq(fkm__cache_key_make(&f, 1, &k), 0);
  return k;
}

static unsigned char *payload_of(int i, size_t len) {
  unsigned char *p = malloc(len);
  for (size_t j = 0; j < len; j++) p[j] = (unsigned char)(i * 131 + j * 7 + 1);
  return p;
}

static size_t payload_len(int i) { return 1000 + (size_t)(i % 7) * 613; }

static fkm__kernel_meta fake_meta(int i) {
  fkm__kernel_meta m;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "fkm_assign_h%016x", i);
  m.num_warps = 4, m.num_ctas = 1, m.num_stages = 2, m.shared = 40960;
  m.arch = 90, m.arch_specific = 1;
  snprintf(m.kernel_kind, sizeof m.kernel_kind, "assign");
  snprintf(m.metric, sizeof m.metric, "l2");
  snprintf(m.dtype, sizeof m.dtype, "fp16");
  snprintf(m.precision, sizeof m.precision, "default");
  m.d = 128, m.block_n = 128, m.block_k = 64, m.block_d = 128;
  snprintf(m.nvrtc_version, sizeof m.nvrtc_version, "13.0");
  snprintf(m.fkm_version, sizeof m.fkm_version, "0.1.0");
  m.entry_count = 1;
  memcpy(m.entries[0].name, m.name, sizeof m.name);
  m.entries[0].param_count = 3;
  m.entries[0].param_sizes[0] = 8, m.entries[0].param_sizes[1] = 8, m.entries[0].param_sizes[2] = 4;
  return m;
}

static void store_fake(fkm_ctx *ctx, int i) {
  fkm__cache_key k = key_of(i);
  fkm__kernel_meta m = fake_meta(i);
  unsigned char *p = payload_of(i, payload_len(i));
  ck_assert_int_eq(fkm__cache_store(ctx, &k, p, payload_len(i), &m), FKM_OK);
  free(p);
}

/* 1 if key i is found intact in `layers` with its payload. */
static int finds(fkm_ctx *ctx, int i, unsigned layers) {
  fkm__cache_key k = key_of(i);
  void *cubin = NULL;
  size_t size = 0;
  if (!fkm__cache_lookup(ctx, &k, layers, &cubin, &size, NULL)) return 0;
  unsigned char *want = payload_of(i, payload_len(i));
  int same = size == payload_len(i) && memcmp(cubin, want, size) == 0;
  free(want);
  free(cubin);
  return same;
}

static void entry_path(int i, const char *file, char *out, size_t len) {
  snprintf(out, len, "%s/kernels/%s/%s", user_root(), key_of(i).hex, file);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

static int count_entry(const fkm_cache_entry *e, void *user) {
  (void)e;
  (*(size_t *)user)++;
  return 0;
}

static size_t list_count(fkm_ctx *ctx) {
  size_t n = 0;
  ck_assert_int_eq(fkm_cache_list(ctx, count_entry, &n), FKM_OK);
  return n;
}

/* ---- keys ----------------------------------------------------------------------------------- */

static fkm__kernel_spec golden_spec(void) {
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, FKM_METRIC_L2, FKM_DTYPE_FP16,
                                      FKM_PRECISION_DEFAULT, 128, 90);
  s.block_n = 128, s.block_k = 64, s.block_d = 128, s.num_warps = 4, s.num_stages = 2;
  s.arch_specific = 1;
  return s;
}

static const char *const golden_options[] = {"--gpu-architecture=sm_90a", "--std=c++17",
                                              "--fmad=true"};

static fkm__cache_key golden_key_of(const fkm__kernel_spec *s, const char *version,
                                    const char *source) {
  fkm__cache_key k;
  ck_assert_int_eq(fkm__kernel_key(s, version, source, golden_options, 3, &k), FKM_OK);
  return k;
}

/* The key of one fixed spec with fixed versions, source and options: it changes only when the key
 * definition (fields, encoding, schema) changes, which must then be deliberate. */
START_TEST(golden_key) {
  fkm__kernel_spec s = golden_spec();
  fkm__cache_key k = golden_key_of(&s, "0.1.0", "/* fixed source */\n");
  ck_assert_str_eq(k.hex, "1f30700828eb3a09e24082b493268276");
  ck_assert(fkm__is_key_hex(k.hex));
  fkm__cache_field f[] = {{"b", "2"}, {"a", "1"}};
  fkm__cache_field g[] = {{"a", "1"}, {"b", "2"}};
  fkm__cache_key kf, kg;
  ck_assert_int_eq(fkm__cache_key_make(f, 2, &kf), 0);
  ck_assert_int_eq(fkm__cache_key_make(g, 2, &kg), 0);
  ck_assert_str_eq(kf.hex, kg.hex); /* sorted: field order does not matter */
  ck_assert_str_eq(kf.hex, "fe84a599cedebfb3d2552f3f806a2e5b");
  fkm__cache_field h[] = {{"a", "12"}, {"b", ""}}; /* length prefixes: no "a1" + "2b" collision */
  fkm__cache_key kh;
  ck_assert_int_eq(fkm__cache_key_make(h, 2, &kh), 0);
  ck_assert_str_ne(kf.hex, kh.hex);
}
END_TEST

/* Every input of the key changes it. */
START_TEST(key_covers_every_input) {
  fkm__kernel_spec base = golden_spec();
  const char *src = "/* fixed source */\n";
  char seen[32][33];
  int n = 0;
  fkm__kernel_spec v[12];
  for (int i = 0; i < 12; i++) v[i] = base;
  v[0].kind = FKM_KIND_NORMS, v[1].metric = FKM_METRIC_DOT, v[2].dtype = FKM_DTYPE_BF16;
  v[3].precision = FKM_PRECISION_TF32, v[4].d = 127, v[5].block_n = 64, v[6].block_k = 32;
  v[7].block_d = 64, v[8].num_warps = 8, v[9].num_stages = 3, v[10].sm = 100;
  v[11].arch_specific = 0;
  snprintf(seen[n++], 33, "%s", golden_key_of(&base, "0.1.0", src).hex);
  for (int i = 0; i < 12; i++) snprintf(seen[n++], 33, "%s", golden_key_of(&v[i], "0.1.0", src).hex);
  snprintf(seen[n++], 33, "%s", golden_key_of(&base, "0.1.1", src).hex);
  snprintf(seen[n++], 33, "%s", golden_key_of(&base, "0.1.0", "/* other source */\n").hex);
  fkm__cache_key k;
  ck_assert_int_eq(fkm__kernel_key(&base, "0.1.0", src, golden_options, 2, &k), FKM_OK);
  snprintf(seen[n++], 33, "%s", k.hex);
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) ck_assert_msg(strcmp(seen[i], seen[j]) != 0, "keys %d, %d", i, j);
}
END_TEST

/* ---- store and lookup ----------------------------------------------------------------------- */

START_TEST(store_then_lookup) {
  fkm_test_log_capture c;
  fkm_ctx *ctx = new_ctx(&c);
  ck_assert(!finds(ctx, 1, FKM__LAYERS_ALL));
  store_fake(ctx, 1);
  unsigned layer = 0;
  void *cubin;
  size_t size;
  fkm__cache_key k = key_of(1);
  ck_assert(fkm__cache_lookup(ctx, &k, FKM__LAYERS_ALL, &cubin, &size, &layer));
  ck_assert_uint_eq(layer, FKM__LAYER_USER);
  free(cubin);
  ck_assert(finds(ctx, 1, FKM__LAYER_USER));
  ck_assert(!finds(ctx, 1, FKM__LAYER_OVERRIDE | FKM__LAYER_BUNDLES));
  /* kernel.json holds the metadata, the key and the payload hash */
  fkm__kernel_meta m, want = fake_meta(1);
  char why[256];
  ck_assert_int_eq(fkm__entry_read(user_root(), k.hex, NULL, NULL, &m, why, sizeof why), FKM__ENTRY_OK);
  ck_assert_str_eq(m.hash, k.hex);
  ck_assert_str_eq(m.name, want.name);
  ck_assert_int_eq(m.num_stages, 2);
  ck_assert_int_eq(m.shared, 40960);
  ck_assert_int_eq(m.entries[0].param_sizes[2], 4);
  ck_assert_int_eq(c.warnings, 0);
  ck_assert_uint_eq(list_count(ctx), 1);
  fkm_ctx_free(ctx);
}
END_TEST

/* Triton's launch fields are there under their names. */
START_TEST(metadata_uses_triton_fields) {
  fkm_ctx *ctx = new_ctx(NULL);
  store_fake(ctx, 2);
  char path[1024];
  entry_path(2, "kernel.json", path, sizeof path);
  json_error_t err;
  json_t *j = json_load_file(path, 0, &err);
  ck_assert_ptr_nonnull(j);
  const char *fields[] = {"name", "num_warps", "num_ctas", "num_stages", "shared", "target", "hash",
                          "schema_version", "kernel_kind", "metric", "dtype", "d", "BLOCK_N",
                          "BLOCK_K", "BLOCK_D", "nvrtc_version", "arch_specific", "params",
                          "payload_xxh3"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    ck_assert_msg(json_object_get(j, fields[i]) != NULL, "no %s", fields[i]);
  json_t *t = json_object_get(j, "target");
  ck_assert_str_eq(json_string_value(json_object_get(t, "backend")), "cuda");
  ck_assert_int_eq(json_integer_value(json_object_get(t, "arch")), 90);
  ck_assert_int_eq(json_integer_value(json_object_get(t, "warp_size")), 32);
  ck_assert_int_eq(json_integer_value(json_object_get(j, "num_ctas")), 1);
  json_decref(j);
  fkm_ctx_free(ctx);
}
END_TEST

/* ---- damaged entries ------------------------------------------------------------------------ */

enum { TRUNCATED_CUBIN, BAD_JSON, EMPTY_JSON, OTHER_SCHEMA, HASH_MISMATCH, MISSING_CUBIN,
       DIR_FOR_CUBIN, DIR_FOR_JSON, FOREIGN_HASH, FIFO_FOR_JSON, FILE_FOR_ENTRY, DAMAGE_COUNT };

static void damage(int how, int i) {
  char cubin[1024], meta[1024];
  entry_path(i, "kernel.cubin", cubin, sizeof cubin);
  entry_path(i, "kernel.json", meta, sizeof meta);
  switch (how) {
    case TRUNCATED_CUBIN:
      ck_assert_int_eq(truncate(cubin, (off_t)payload_len(i) / 2), 0);
      break;
    case BAD_JSON:
      write_text(meta, "{\"schema_version\": 1, \"name\": ");
      break;
    case EMPTY_JSON:
      write_text(meta, "");
      break;
    case OTHER_SCHEMA:
    case FOREIGN_HASH: {
      json_t *j = json_load_file(meta, 0, NULL);
      ck_assert_ptr_nonnull(j);
      if (how == OTHER_SCHEMA)
        json_object_set_new(j, "schema_version", json_integer(FKM__CACHE_SCHEMA + 1));
      else
        json_object_set_new(j, "hash", json_string(key_of(i + 1).hex));
      ck_assert_int_eq(json_dump_file(j, meta, 0), 0);
      json_decref(j);
      break;
    }
    case HASH_MISMATCH: {
      int fd = open(cubin, O_WRONLY);
      ck_assert_int_ge(fd, 0);
      ck_assert_int_eq(pwrite(fd, "\xff\x00", 2, 100), 2); /* same size, other bytes */
      close(fd);
      break;
    }
    case MISSING_CUBIN:
      ck_assert_int_eq(unlink(cubin), 0);
      break;
    case FIFO_FOR_JSON: /* must not block a reader */
      ck_assert_int_eq(unlink(meta), 0);
      ck_assert_int_eq(mkfifo(meta, 0644), 0);
      break;
    case FILE_FOR_ENTRY: {
      char dir[1024];
      snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(meta, '/') - meta), meta);
      ck_assert_int_eq(fkm__remove_tree(dir), 0);
      write_text(dir, "x");
      break;
    }
    case DIR_FOR_CUBIN:
    case DIR_FOR_JSON: {
      const char *p = how == DIR_FOR_CUBIN ? cubin : meta;
      char inner[1100];
      ck_assert_int_eq(unlink(p), 0);
      ck_assert_int_eq(mkdir(p, 0755), 0);
      snprintf(inner, sizeof inner, "%s/stray", p);
      write_text(inner, "x");
      break;
    }
  }
}

/* Each damage is a miss reported once through the log, and the next store repairs the entry. */
START_TEST(damaged_entry_is_a_logged_miss_then_repaired) {
  int how = _i;
  fkm_test_log_capture c;
  fkm_ctx *ctx = new_ctx(&c);
  store_fake(ctx, 10 + how);
  damage(how, 10 + how);
  ck_assert(!finds(ctx, 10 + how, FKM__LAYERS_ALL));
  ck_assert_int_eq(c.warnings, 1);
  ck_assert_msg(strstr(c.last, key_of(10 + how).hex) != NULL, "the warning names the entry");
  ck_assert(!finds(ctx, 10 + how, FKM__LAYERS_ALL)); /* met again: not logged again */
  ck_assert_int_eq(c.warnings, 1);
  size_t bad = 0;
  ck_assert_int_eq(fkm_cache_verify(ctx, &bad), FKM_OK);
  ck_assert_uint_eq(bad, 1);
  ck_assert_uint_eq(list_count(ctx), 0);
  store_fake(ctx, 10 + how);
  ck_assert(finds(ctx, 10 + how, FKM__LAYERS_ALL));
  ck_assert_int_eq(fkm_cache_verify(ctx, &bad), FKM_OK);
  ck_assert_uint_eq(bad, 0);
  int before = c.warnings;
  damage(how, 10 + how); /* damaged again after the repair: logged again */
  ck_assert(!finds(ctx, 10 + how, FKM__LAYERS_ALL));
  ck_assert_int_eq(c.warnings, before + 1);
  fkm_ctx_free(ctx);
}
END_TEST

/* A cubin without its kernel.json (a writer that stopped before committing) is a silent miss. */
START_TEST(uncommitted_entry_is_a_silent_miss) {
  fkm_test_log_capture c;
  fkm_ctx *ctx = new_ctx(&c);
  store_fake(ctx, 3);
  char meta[1024];
  entry_path(3, "kernel.json", meta, sizeof meta);
  ck_assert_int_eq(unlink(meta), 0);
  ck_assert(!finds(ctx, 3, FKM__LAYERS_ALL));
  ck_assert_int_eq(c.warnings, 0);
  fkm_ctx_free(ctx);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------------------------- */

enum { WRITERS = 8, SHARED_KEYS = 24, OWN_KEYS = 12 };

/* One writer process: the shared keys (same payloads in every process) and its own. */
static int writer(int w) {
  fkm_ctx *ctx;
  if (fkm_ctx_create(&ctx) != FKM_OK) return 1;
  int bad = 0;
  for (int r = 0; r < 3; r++)
    for (int i = 0; i < SHARED_KEYS + OWN_KEYS; i++) {
      int id = i < SHARED_KEYS ? 1000 + (i + w * 5) % SHARED_KEYS : 2000 + w * 100 + i;
      fkm__cache_key k = key_of(id);
      fkm__kernel_meta m = fake_meta(id);
      unsigned char *p = payload_of(id, payload_len(id));
      bad |= fkm__cache_store(ctx, &k, p, payload_len(id), &m) != FKM_OK;
      free(p);
      void *cubin = NULL;
      size_t size = 0;
      /* readers never see a torn entry: a hit is always the whole payload */
      if (fkm__cache_lookup(ctx, &k, FKM__LAYER_USER, &cubin, &size, NULL)) {
        unsigned char *want = payload_of(id, payload_len(id));
        bad |= size != payload_len(id) || memcmp(cubin, want, size) != 0;
        free(want);
      } else {
        bad = 1;
      }
      free(cubin);
    }
  bad |= ctx->cache->stats.damaged != 0;
  fkm_ctx_free(ctx);
  return bad;
}

/* Names starting ".tmp" in the directory path (writers' leftovers). */
static int temps_in(const char *path) {
  int n = 0;
  DIR *d = opendir(path);
  ck_assert_ptr_nonnull(d);
  for (struct dirent *f; (f = readdir(d)) != NULL;) n += strncmp(f->d_name, ".tmp", 4) == 0;
  closedir(d);
  return n;
}

/* Counts leftover temp files in each listed entry's directory. */
static int count_temps(const fkm_cache_entry *e, void *user) {
  char path[1024];
  snprintf(path, sizeof path, "%s/kernels/%s", user_root(), e->key);
  *(int *)user += temps_in(path);
  return 0;
}

/* Runs fn(w) in WRITERS processes at once, w = 0..WRITERS-1; each must return 0. Then a fresh
 * context, in *c's capture, finds the cache intact with `entries` entries. */
static fkm_ctx *run_writers(int (*fn)(int w), size_t entries, fkm_test_log_capture *c) {
  pid_t pids[WRITERS];
  for (int w = 0; w < WRITERS; w++) {
    pids[w] = fork();
    ck_assert_int_ge(pids[w], 0);
    if (pids[w] == 0) _exit(fn(w));
  }
  for (int w = 0; w < WRITERS; w++) {
    int status = 0;
    ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d failed", w);
  }
  fkm_ctx *ctx = new_ctx(c);
  size_t bad = 1;
  ck_assert_int_eq(fkm_cache_verify(ctx, &bad), FKM_OK);
  ck_assert_uint_eq(bad, 0);
  ck_assert_uint_eq(list_count(ctx), entries);
  return ctx;
}

START_TEST(eight_processes_fill_one_cache) {
  fkm_test_log_capture c;
  fkm_ctx *ctx = run_writers(writer, SHARED_KEYS + WRITERS * OWN_KEYS, &c);
  for (int i = 0; i < SHARED_KEYS; i++) ck_assert(finds(ctx, 1000 + i, FKM__LAYER_USER));
  for (int w = 0; w < WRITERS; w++)
    for (int i = SHARED_KEYS; i < SHARED_KEYS + OWN_KEYS; i++)
      ck_assert(finds(ctx, 2000 + w * 100 + i, FKM__LAYER_USER));
  int temps = 0;
  ck_assert_int_eq(fkm_cache_list(ctx, count_temps, &temps), FKM_OK);
  ck_assert_int_eq(temps, 0);
  ck_assert_int_eq(c.warnings, 0);
  fkm_ctx_free(ctx);
}
END_TEST

enum { RIVAL_KEYS = 4, RIVAL_ROUNDS = 40 };

/* The payload writer w stores under rival key i: the same key, other bytes in every writer. */
static int rival_payload_id(int i, int w) { return 3000 + i + 100 * w; }

/* Whether the hit (cubin, size) of rival key i is one writer's payload, whole. */
static int is_a_rival_payload(int i, const void *cubin, size_t size) {
  int whole = 0;
  for (int v = 0; v < WRITERS && !whole; v++) {
    int id = rival_payload_id(i, v);
    unsigned char *want = payload_of(id, payload_len(id));
    whole = size == payload_len(id) && memcmp(cubin, want, size) == 0;
    free(want);
  }
  return whole;
}

/* One rival process: stores its own bytes under the rival keys, round after round (as a writer
 * that found the entry damaged would), and looks each key up after. 0 when every lookup hit one
 * writer's whole payload and none met a damaged entry. */
static int rival(int w) {
  fkm_ctx *ctx;
  if (fkm_ctx_create(&ctx) != FKM_OK) return 1;
  int bad = 0;
  for (int r = 0; r < RIVAL_ROUNDS; r++)
    for (int i = 0; i < RIVAL_KEYS; i++) {
      int id = rival_payload_id(i, w);
      fkm__cache_key k = key_of(3000 + i);
      fkm__kernel_meta m = fake_meta(3000 + i);
      unsigned char *p = payload_of(id, payload_len(id));
      bad |= fkm__cache_store(ctx, &k, p, payload_len(id), &m) != FKM_OK;
      free(p);
      void *cubin = NULL;
      size_t size = 0;
      bad |= !fkm__cache_lookup(ctx, &k, FKM__LAYER_USER, &cubin, &size, NULL) ||
             !is_a_rival_payload(i, cubin, size);
      free(cubin);
    }
  bad |= ctx->cache->stats.damaged != 0;
  fkm_ctx_free(ctx);
  return bad;
}

/* Writers of one key with different bytes (two NVRTC builds, say) leave one writer's entry whole:
 * never one's kernel.json beside another's cubin. */
START_TEST(rival_writers_leave_one_whole_entry) {
  fkm_test_log_capture c;
  fkm_ctx *ctx = run_writers(rival, RIVAL_KEYS, &c);
  char kernels[1024];
  snprintf(kernels, sizeof kernels, "%s/kernels", user_root());
  ck_assert_int_eq(temps_in(kernels), 0);
  ck_assert_int_eq(c.warnings, 0);
  fkm_ctx_free(ctx);
}
END_TEST

/* ---- unwritable and disabled caches ------------------------------------------------------------ */

/* Roots that cannot be created even by root: below a regular file, and inside /proc. */
static void unwritable_root(int which) {
  char root[512];
  if (which == 0) {
    snprintf(root, sizeof root, "%s/file", test_dir);
    write_text(root, "a regular file");
    snprintf(root, sizeof root, "%s/file/cache", test_dir);
  } else {
    snprintf(root, sizeof root, "/proc/fkm-cache-test");
  }
  setenv("FKM_CACHE_DIR", root, 1);
}

START_TEST(unwritable_root_warns_once_and_goes_on) {
  unwritable_root(_i);
  fkm_test_log_capture c;
  fkm_ctx *ctx = new_ctx(&c);
  for (int i = 0; i < 3; i++) {
    fkm__cache_key k = key_of(i);
    fkm__kernel_meta m = fake_meta(i);
    unsigned char *p = payload_of(i, payload_len(i));
    ck_assert_int_eq(fkm__cache_store(ctx, &k, p, payload_len(i), &m), FKM_ERR_IO);
    free(p);
    ck_assert(!finds(ctx, i, FKM__LAYERS_ALL));
  }
  ck_assert_int_eq(c.warnings, 1);
  ck_assert_ptr_nonnull(strstr(c.last, "not writable"));
  size_t bad = 7;
  ck_assert_int_eq(fkm_cache_verify(ctx, &bad), FKM_OK);
  ck_assert_uint_eq(bad, 0);
  ck_assert_uint_eq(list_count(ctx), 0);
  fkm_ctx_free(ctx);
}
END_TEST

/* Kernels still come out right, compiled every time, with the one warning. */
START_TEST(unwritable_root_still_compiles_correct_cubins) {
  unwritable_root(0);
  fkm_test_log_capture c;
  fkm_ctx *ctx = new_ctx(&c);
  for (int kind = FKM_KIND_NORMS; kind <= FKM_KIND_UPDATE; kind++) {
    fkm__kernel_spec s = fkm__spec_make(kind, FKM_METRIC_L2, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 64, 80);
    fkm__cubin got;
    char *src;
    void *direct;
    size_t size;
    ck_assert_int_eq(fkm__kernel_cubin(ctx, &s, FKM__LAYERS_ALL, &got), FKM_OK);
    ck_assert_uint_eq(got.layer, 0);
    ck_assert_int_eq(got.stored, FKM_ERR_IO);
    ck_assert_int_eq(fkm__generate(ctx, &s, &src), FKM_OK);
    ck_assert_int_eq(fkm__compile(ctx, &s, src, &direct, &size), FKM_OK);
    ck_assert_uint_eq(size, got.size);
    ck_assert_int_eq(memcmp(direct, got.data, size), 0);
    free(src), free(direct), free(got.data);
  }
  ck_assert_int_eq(c.warnings, 1);
  ck_assert_uint_eq(fkm__nvrtc_compile_count(ctx), 2);
  fkm_ctx_free(ctx);
}
END_TEST

START_TEST(empty_cache_dir_disables_the_cache) {
  char home[512];
  snprintf(home, sizeof home, "%s/home", test_dir);
  mkdir(home, 0755);
  setenv("FKM_CACHE_DIR", "", 1);
  setenv("HOME", home, 1);
  setenv("XDG_CACHE_HOME", home, 1);
  char root[64] = "x";
  ck_assert_int_eq(fkm__cache_user_root(root, sizeof root), 0);
  ck_assert_str_eq(root, "");
  fkm_test_log_capture c;
  fkm_ctx *ctx = new_ctx(&c);
  fkm__cache_key k = key_of(5);
  fkm__kernel_meta m = fake_meta(5);
  unsigned char *p = payload_of(5, payload_len(5));
  ck_assert_int_eq(fkm__cache_store(ctx, &k, p, payload_len(5), &m), FKM_ERR_IO);
  free(p);
  ck_assert(!finds(ctx, 5, FKM__LAYERS_ALL));
  ck_assert_int_eq(c.warnings, 0); /* disabled on purpose: nothing to warn about */
  ck_assert_uint_eq(list_count(ctx), 0);
  char bundle[512];
  snprintf(bundle, sizeof bundle, "%s/b.fkmb", test_dir);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_ERR_UNSUPPORTED);
  ck_assert_int_eq(rmdir(home), 0); /* still empty: nothing was written anywhere */
  fkm_ctx_free(ctx);
}
END_TEST

START_TEST(root_follows_the_environment) {
  char root[512];
  setenv("FKM_CACHE_DIR", "/a/b", 1);
  ck_assert_int_eq(fkm__cache_user_root(root, sizeof root), 1);
  ck_assert_str_eq(root, "/a/b");
  unsetenv("FKM_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/x", 1);
  ck_assert_int_eq(fkm__cache_user_root(root, sizeof root), 1);
  ck_assert_str_eq(root, "/x/fkm");
  setenv("XDG_CACHE_HOME", "", 1);
  setenv("HOME", "/h", 1);
  ck_assert_int_eq(fkm__cache_user_root(root, sizeof root), 1);
  ck_assert_str_eq(root, "/h/.cache/fkm");
}
END_TEST

/* ---- layers ----------------------------------------------------------------------------------- */

/* The override dir wins over the user cache; a damaged override entry falls through to it. */
START_TEST(override_layer_comes_first) {
  char over[512];
  snprintf(over, sizeof over, "%s/override", test_dir);
  fkm_test_log_capture c;
  fkm_ctx *ctx = new_ctx(&c);
  store_fake(ctx, 7);
  setenv("FKM_CACHE_DIR", over, 1); /* write the override dir's entry through the store */
  store_fake(ctx, 7);
  setenv("FKM_CACHE_DIR", "", 1);
  setenv("FKM_CACHE_OVERRIDE_DIR", over, 1);
  fkm__cache_key k = key_of(7);
  void *cubin;
  size_t size;
  unsigned layer = 0;
  ck_assert(fkm__cache_lookup(ctx, &k, FKM__LAYERS_ALL, &cubin, &size, &layer));
  ck_assert_uint_eq(layer, FKM__LAYER_OVERRIDE);
  free(cubin);
  char user[512];
  snprintf(user, sizeof user, "%s/user", test_dir);
  setenv("FKM_CACHE_DIR", user, 1);
  char meta[1024];
  snprintf(meta, sizeof meta, "%s/kernels/%s/kernel.json", over, k.hex);
  write_text(meta, "garbage");
  ck_assert(fkm__cache_lookup(ctx, &k, FKM__LAYERS_ALL, &cubin, &size, &layer));
  ck_assert_uint_eq(layer, FKM__LAYER_USER);
  ck_assert_int_eq(c.warnings, 1);
  free(cubin);
  fkm_ctx_free(ctx);
}
END_TEST

/* ---- bundles ---------------------------------------------------------------------------------- */

static void bundle_path(char *out, size_t len) { snprintf(out, len, "%s/kernels.fkmb", test_dir); }

static void use_fresh_root(const char *name) {
  char root[512];
  snprintf(root, sizeof root, "%s/%s", test_dir, name);
  setenv("FKM_CACHE_DIR", root, 1);
}

START_TEST(export_then_import_into_a_fresh_cache) {
  char bundle[512];
  bundle_path(bundle, sizeof bundle);
  fkm_ctx *ctx = new_ctx(NULL);
  for (int i = 0; i < 5; i++) store_fake(ctx, 100 + i);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_OK);
  use_fresh_root("imported");
  ck_assert_uint_eq(list_count(ctx), 0);
  ck_assert_int_eq(fkm_cache_import(ctx, bundle), FKM_OK);
  ck_assert_uint_eq(list_count(ctx), 5);
  for (int i = 0; i < 5; i++) ck_assert(finds(ctx, 100 + i, FKM__LAYER_USER));
  size_t bad = 1;
  ck_assert_int_eq(fkm_cache_verify(ctx, &bad), FKM_OK);
  ck_assert_uint_eq(bad, 0);
  ck_assert_int_eq(fkm_cache_clear(ctx), FKM_OK);
  ck_assert_uint_eq(list_count(ctx), 0);
  fkm_ctx_free(ctx);
}
END_TEST

/* A directory where the bundle or an atomic write should go is refused and left whole: its file
 * stays, and no temp file is left beside it. */
START_TEST(a_directory_in_the_way_is_left_whole) {
  char dir[512], inner[600];
  snprintf(dir, sizeof dir, "%s/out", test_dir);
  snprintf(inner, sizeof inner, "%s/keep.txt", dir);
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  write_text(inner, "keep");
  fkm_ctx *ctx = new_ctx(NULL);
  store_fake(ctx, 300);
  ck_assert_int_eq(fkm_cache_export(ctx, dir), FKM_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "is a directory"));
  ck_assert_int_eq(fkm__file_write_atomic(dir, "x", 1), EISDIR);
  void *data = NULL;
  size_t size = 0;
  ck_assert_int_eq(fkm__file_read(inner, &data, &size), 0);
  ck_assert(size == 4 && memcmp(data, "keep", 4) == 0);
  free(data);
  DIR *d = opendir(test_dir);
  ck_assert_ptr_nonnull(d);
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    ck_assert_msg(strncmp(e->d_name, ".tmp-", 5) != 0, "temp file %s left", e->d_name);
  closedir(d);
  fkm_ctx_free(ctx);
}
END_TEST

/* A tuning record of the user cache. */
static fkm__tuning_record tuned(int d) {
  fkm__tuning_record r;
  fkm__tuning_query(&r, "NVIDIA H100 80GB HBM3", 90, "assign", "l2", "fp16", d, 1 << 20, 1024, 1);
  r.config = (fkm_config){128, 64, 0, 8, 3, 1};
  r.ms = 0.5 + d;
  return r;
}

/* A bundle carries the user cache's tuning records: read in place through FKM_BUNDLE_PATH (after
 * the user cache), imported into a fresh cache; one damaged record makes the import refuse the
 * bundle whole. */
START_TEST(bundles_carry_tuning_records) {
  char bundle[512], root[512], why[256], *text = NULL;
  bundle_path(bundle, sizeof bundle);
  fkm_ctx *ctx = new_ctx(NULL);
  fkm__tuning_record a = tuned(64), b = tuned(128), got;
  ck_assert_int_eq(fkm__tuning_store(user_root(), &a), 0);
  ck_assert_int_eq(fkm__tuning_store(user_root(), &b), 0);
  store_fake(ctx, 400);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_OK);
  use_fresh_root("in-place");
  ck_assert(!fkm__tuning_find(ctx, &b, &got));
  setenv("FKM_BUNDLE_PATH", bundle, 1);
  ck_assert(fkm__tuning_find(ctx, &b, &got));
  ck_assert_mem_eq(&got.config, &b.config, sizeof got.config);
  ck_assert_double_eq(got.ms, b.ms);
  unsetenv("FKM_BUNDLE_PATH");
  use_fresh_root("imported");
  ck_assert_int_eq(fkm_cache_import(ctx, bundle), FKM_OK);
  snprintf(root, sizeof root, "%s", user_root());
  ck_assert_int_eq(fkm__tuning_read(root, &a, &got, why, sizeof why), 1);
  ck_assert_int_eq(got.config.num_stages, 3);
  void *data;
  size_t size;
  ck_assert_int_eq(fkm__file_read(bundle, &data, &size), 0);
  text = data;
  char *tuning = strstr(text + 16, "\"tuning\":["); /* past the magic and the length */
  char *stages = tuning ? strstr(tuning, "\"num_stages\":3") : NULL;
  ck_assert_ptr_nonnull(stages);
  stages[13] = '4'; /* the config no longer matches the record's payload_xxh3 */
  write_bytes(bundle, text, size);
  free(data);
  use_fresh_root("refused");
  ck_assert_int_eq(fkm_cache_import(ctx, bundle), FKM_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "tuning record"));
  ck_assert_uint_eq(list_count(ctx), 0);
  snprintf(root, sizeof root, "%s", user_root());
  ck_assert_int_eq(fkm__tuning_read(root, &b, &got, why, sizeof why), 0);
  fkm_ctx_free(ctx);
}
END_TEST

/* Bundles of FKM_BUNDLE_PATH are read in place, after the user cache. */
START_TEST(bundles_are_read_in_place) {
  char bundle[512], paths[1200];
  bundle_path(bundle, sizeof bundle);
  fkm_ctx *ctx = new_ctx(NULL);
  store_fake(ctx, 200);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_OK);
  setenv("FKM_CACHE_DIR", "", 1);
  ck_assert(!finds(ctx, 200, FKM__LAYERS_ALL));
  snprintf(paths, sizeof paths, "%s/missing.fkmb::%s", test_dir, bundle);
  setenv("FKM_BUNDLE_PATH", paths, 1);
  fkm_test_log_capture c;
  fkm_ctx *ctx2 = new_ctx(&c);
  fkm__cache_key k = key_of(200);
  void *cubin;
  size_t size;
  unsigned layer = 0;
  ck_assert(fkm__cache_lookup(ctx2, &k, FKM__LAYERS_ALL, &cubin, &size, &layer));
  ck_assert_uint_eq(layer, FKM__LAYER_BUNDLES);
  free(cubin);
  ck_assert(finds(ctx2, 200, FKM__LAYERS_ALL));
  ck_assert_int_eq(c.warnings, 1); /* the missing bundle, once */
  fkm_ctx_free(ctx2);
  fkm_ctx_free(ctx);
}
END_TEST

/* Flips one byte at offset `from_end` bytes before the end of path. */
static void flip_byte(const char *path, off_t from_end) {
  int fd = open(path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  off_t at = lseek(fd, 0, SEEK_END) - from_end;
  unsigned char b;
  ck_assert_int_eq(pread(fd, &b, 1, at), 1);
  b ^= 0x5a;
  ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
  close(fd);
}

/* A damaged bundle imports nothing; read in place, its damaged entry is a logged miss. */
START_TEST(damaged_bundle_imports_nothing) {
  char bundle[512];
  bundle_path(bundle, sizeof bundle);
  fkm_ctx *ctx = new_ctx(NULL);
  for (int i = 0; i < 3; i++) store_fake(ctx, 300 + i);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_OK);
  flip_byte(bundle, 10); /* inside the last payload */
  use_fresh_root("imported");
  ck_assert_int_eq(fkm_cache_import(ctx, bundle), FKM_ERR_FORMAT);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "payload hash"));
  ck_assert_uint_eq(list_count(ctx), 0);
  setenv("FKM_CACHE_DIR", "", 1);
  setenv("FKM_BUNDLE_PATH", bundle, 1);
  fkm_test_log_capture c;
  fkm_ctx *ctx2 = new_ctx(&c);
  int found = 0;
  for (int i = 0; i < 3; i++) found += finds(ctx2, 300 + i, FKM__LAYERS_ALL);
  ck_assert_int_eq(found, 2);
  ck_assert_int_eq(c.warnings, 1);
  fkm_ctx_free(ctx2);
  fkm_ctx_free(ctx);
}
END_TEST

START_TEST(not_a_bundle_is_refused) {
  char path[512];
  snprintf(path, sizeof path, "%s/text.fkmb", test_dir);
  fkm_ctx *ctx = new_ctx(NULL);
  write_text(path, "FKMBNDL1 but then nothing useful");
  ck_assert_int_eq(fkm_cache_import(ctx, path), FKM_ERR_FORMAT);
  write_text(path, "");
  ck_assert_int_eq(fkm_cache_import(ctx, path), FKM_ERR_FORMAT);
  write_bytes(path, "FKMBNDL1\x05\x00\x00\x00\x00\x00\x00\x00{}[]x", 21);
  ck_assert_int_eq(fkm_cache_import(ctx, path), FKM_ERR_FORMAT); /* not JSON */
  write_bytes(path, "FKMBNDL1\x02\x00\x00\x00\x00\x00\x00\x00{}", 18);
  ck_assert_int_eq(fkm_cache_import(ctx, path), FKM_ERR_FORMAT); /* not a manifest */
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "fkm-bundle"));
  snprintf(path, sizeof path, "%s/missing.fkmb", test_dir);
  ck_assert_int_eq(fkm_cache_import(ctx, path), FKM_ERR_IO);
  ck_assert_int_eq(fkm_cache_import(ctx, test_dir), FKM_ERR_IO); /* a directory */
  fkm_ctx_free(ctx);
}
END_TEST

/* A truncated bundle (a copy that stopped early) is refused whole. */
START_TEST(truncated_bundle_is_refused) {
  char bundle[512];
  bundle_path(bundle, sizeof bundle);
  fkm_ctx *ctx = new_ctx(NULL);
  for (int i = 0; i < 3; i++) store_fake(ctx, 400 + i);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_OK);
  struct stat st;
  ck_assert_int_eq(stat(bundle, &st), 0);
  ck_assert_int_eq(truncate(bundle, st.st_size - 100), 0);
  use_fresh_root("imported");
  ck_assert_int_eq(fkm_cache_import(ctx, bundle), FKM_ERR_FORMAT);
  ck_assert_uint_eq(list_count(ctx), 0);
  fkm_ctx_free(ctx);
}
END_TEST

/* ---- the runtime side: metadata from real specs, the compile counter, prebuild ------------------ */

/* Every entry point of every kind has its parameters sized. */
START_TEST(source_entries_have_sizes) {
  fkm_ctx *ctx = new_ctx(NULL);
  for (int kind = 0; kind < FKM__KIND_COUNT; kind++) {
    fkm__kernel_spec s = kind == FKM_KIND_ASSIGN ? golden_spec()
                                                 : fkm__spec_make(kind, FKM_METRIC_COSINE, FKM_DTYPE_BF16,
                                                                  FKM_PRECISION_DEFAULT, 96, 80);
    char *src = NULL;
    ck_assert_int_eq(fkm__generate(ctx, &s, &src), FKM_OK);
    fkm__kernel_meta m;
    fkm__kernel_meta_make(&s, src, "13.0", &m);
    int globals = 0;
    for (const char *p = strstr(src, "__global__"); p; p = strstr(p + 1, "__global__")) globals++;
    ck_assert_int_eq(m.entry_count, globals);
    ck_assert_int_ge(m.entry_count, 1);
    ck_assert_str_eq(m.name, m.entries[0].name);
    for (int e = 0; e < m.entry_count; e++) {
      ck_assert_int_gt(m.entries[e].param_count, 1);
      for (int p = 0; p < m.entries[e].param_count; p++)
        ck_assert_msg(m.entries[e].param_sizes[p] == 4 || m.entries[e].param_sizes[p] == 8,
                      "%s parameter %d", m.entries[e].name, p);
    }
    fkm__kernel_meta back;
    snprintf(m.hash, sizeof m.hash, "%s", key_of(kind).hex);
    snprintf(m.payload_xxh3, sizeof m.payload_xxh3, "%s", key_of(kind + 10).hex);
    json_t *j = fkm__meta_to_json(&m);
    ck_assert_ptr_null(fkm__meta_from_json(j, &back));
    ck_assert_int_eq(memcmp(&back, &m, sizeof m), 0);
    json_decref(j);
    free(src);
  }
  fkm_ctx_free(ctx);
}
END_TEST

/* A second context finds what the first compiled: zero NVRTC calls on the warm path. */
START_TEST(warm_cache_makes_no_compiles) {
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_NORMS, FKM_METRIC_L2, FKM_DTYPE_FP16,
                                      FKM_PRECISION_DEFAULT, 64, 86);
  fkm_ctx *cold = new_ctx(NULL), *warm = new_ctx(NULL);
  fkm__cubin a, b;
  ck_assert_int_eq(fkm__kernel_cubin(cold, &s, FKM__LAYERS_ALL, &a), FKM_OK);
  ck_assert_uint_eq(a.layer, 0);
  ck_assert_int_eq(a.stored, FKM_OK);
  ck_assert_uint_eq(fkm__nvrtc_compile_count(cold), 1);
  ck_assert_int_eq(fkm__kernel_cubin(warm, &s, FKM__LAYERS_ALL, &b), FKM_OK);
  ck_assert_uint_eq(b.layer, FKM__LAYER_USER);
  ck_assert_uint_eq(fkm__nvrtc_compile_count(warm), 0);
  ck_assert_uint_eq(a.size, b.size);
  ck_assert_int_eq(memcmp(a.data, b.data, a.size), 0);
  free(a.data), free(b.data);
  fkm_ctx_free(cold);
  fkm_ctx_free(warm);
}
END_TEST

typedef struct listed {
  size_t count, norms, assign;
  int bad_arch;
} listed;

static int tally(const fkm_cache_entry *e, void *user) {
  listed *l = user;
  l->count++;
  l->norms += strcmp(e->kind, "norms") == 0;
  l->assign += strcmp(e->kind, "assign") == 0;
  l->bad_arch |= strcmp(e->arch, "sm_80") != 0 || e->d != 64 || strcmp(e->dtype, "fp16") != 0 ||
                 e->bytes == 0 || strlen(e->key) != 32;
  return 0;
}

/* The whole offline path on this GPU-less machine: prebuild, export, import into a fresh cache,
 * list, verify, then the bundle read in place serves a kernel with no compile. */
START_TEST(prebuilt_bundle_round_trip) {
  char bundle[512];
  bundle_path(bundle, sizeof bundle);
  fkm_ctx *ctx = new_ctx(NULL);
  fkm_prebuild_spec spec;
  fkm_prebuild_spec_init(&spec);
  spec.archs = "80";
  spec.dims = "64";
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_OK);
  listed before = {0, 0, 0, 0};
  ck_assert_int_eq(fkm_cache_list(ctx, tally, &before), FKM_OK);
  ck_assert_uint_eq(before.norms, 1);
  ck_assert_uint_ge(before.assign, 2);
  ck_assert_uint_eq(before.count, before.assign + 4); /* norms, update, finalize, seed */
  ck_assert_int_eq(before.bad_arch, 0);
  size_t compiled = fkm__nvrtc_compile_count(ctx);
  ck_assert_uint_eq(compiled, before.count);
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_OK); /* again: all cached */
  ck_assert_uint_eq(fkm__nvrtc_compile_count(ctx), compiled);
  /* an A100's default pick may be flash-kmeans' table entry: it is in the cache too */
  struct fkm__gpu a100;
  memset(&a100, 0, sizeof a100);
  a100.sm = 80;
  fkm__gpu_shared_of_limit(&a100, fkm__sm_shared_limit(80));
  fkm_options o;
  fkm_options_init(&o);
  o.k = 1024;
  fkm_points shape = {NULL, FKM_DTYPE_FP16, 1, 65536, 64};
  fkm__kernel_spec base = fkm__gpu_assign_base(&a100, &shape, &o), table;
  fkm__spec_layout layout;
  ck_assert(fkm__table_spec("NVIDIA A100-SXM4-80GB", &base, shape.n, o.k, a100.shared_optin,
                            &table, &layout));
  fkm__cubin tc;
  ck_assert_int_eq(fkm__kernel_cubin(ctx, &table, FKM__LAYERS_ALL, &tc), FKM_OK);
  ck_assert_uint_eq(fkm__nvrtc_compile_count(ctx), compiled);
  free(tc.data);
  ck_assert_int_eq(fkm_cache_export(ctx, bundle), FKM_OK);
  use_fresh_root("imported");
  ck_assert_int_eq(fkm_cache_import(ctx, bundle), FKM_OK);
  listed after = {0, 0, 0, 0};
  ck_assert_int_eq(fkm_cache_list(ctx, tally, &after), FKM_OK);
  ck_assert_uint_eq(after.count, before.count);
  size_t bad = 1;
  ck_assert_int_eq(fkm_cache_verify(ctx, &bad), FKM_OK);
  ck_assert_uint_eq(bad, 0);
  setenv("FKM_CACHE_DIR", "", 1);
  setenv("FKM_BUNDLE_PATH", bundle, 1);
  fkm_ctx *deploy = new_ctx(NULL);
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_FINALIZE, FKM_METRIC_L2, FKM_DTYPE_FP16,
                                      FKM_PRECISION_DEFAULT, 64, 80);
  fkm__cubin c;
  ck_assert_int_eq(fkm__kernel_cubin(deploy, &s, FKM__LAYERS_ALL, &c), FKM_OK);
  ck_assert_uint_eq(c.layer, FKM__LAYER_BUNDLES);
  ck_assert_uint_eq(fkm__nvrtc_compile_count(deploy), 0);
  free(c.data);
  fkm_ctx_free(deploy);
  fkm_ctx_free(ctx);
}
END_TEST

START_TEST(prebuild_rejects_bad_lists) {
  fkm_ctx *ctx = new_ctx(NULL);
  fkm_prebuild_spec spec;
  fkm_prebuild_spec_init(&spec);
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_ERR_INVALID_ARG); /* no archs */
  spec.archs = "80,75", spec.dims = "64";
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "'75'"));
  spec.archs = "90a", spec.dims = "64,0";
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_ERR_INVALID_ARG);
  spec.dims = "64", spec.dtypes = "fp16,int8";
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_ERR_INVALID_ARG);
  spec.dtypes = "fp16", spec.metrics = "l2,";
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_ERR_INVALID_ARG);
  spec.metrics = "l2";
  setenv("FKM_CACHE_DIR", "", 1);
  ck_assert_int_eq(fkm_cache_prebuild(ctx, &spec), FKM_ERR_UNSUPPORTED);
  fkm_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cache");
  TCase *t = tcase_create("cache");
  tcase_set_timeout(t, 600);
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, golden_key);
  tcase_add_test(t, key_covers_every_input);
  tcase_add_test(t, store_then_lookup);
  tcase_add_test(t, metadata_uses_triton_fields);
  tcase_add_loop_test(t, damaged_entry_is_a_logged_miss_then_repaired, 0, DAMAGE_COUNT);
  tcase_add_test(t, uncommitted_entry_is_a_silent_miss);
  tcase_add_test(t, eight_processes_fill_one_cache);
  tcase_add_test(t, rival_writers_leave_one_whole_entry);
  tcase_add_loop_test(t, unwritable_root_warns_once_and_goes_on, 0, 2);
  tcase_add_test(t, empty_cache_dir_disables_the_cache);
  tcase_add_test(t, root_follows_the_environment);
  tcase_add_test(t, override_layer_comes_first);
  tcase_add_test(t, export_then_import_into_a_fresh_cache);
  tcase_add_test(t, bundles_are_read_in_place);
  tcase_add_test(t, damaged_bundle_imports_nothing);
  tcase_add_test(t, not_a_bundle_is_refused);
  tcase_add_test(t, a_directory_in_the_way_is_left_whole);
  tcase_add_test(t, bundles_carry_tuning_records);
  tcase_add_test(t, truncated_bundle_is_refused);
  tcase_add_test(t, source_entries_have_sizes);
  tcase_add_test(t, prebuild_rejects_bad_lists);
  if (fkm_test_nvrtc_usable()) {
    tcase_add_test(t, unwritable_root_still_compiles_correct_cubins);
    tcase_add_test(t, warm_cache_makes_no_compiles);
    tcase_add_test(t, prebuilt_bundle_round_trip);
  } else {
    fprintf(stderr, "NVRTC absent: compile and prebuild tests skipped\n");
  }
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
