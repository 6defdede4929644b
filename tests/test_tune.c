/* Tuning on the CPU: the candidates of pruned and exhaustive runs (valid on the target, the model's
 * pick and the flash-kmeans table's among them, bounded, deterministic, cached cubins first among
 * equals), the cost model's response to the shapes, the default pick between the model's and the
 * table's configuration (SPEC §8's shapes on an H100 included), tuning records in the assign-kernel
 * choice (a record changes the pick, the override dir wins, invalid and damaged records are ignored
 * with a warning), the parallel compile of candidates through the kernel cache (where NVRTC is
 * installed), and fkm_tune's argument checks. Devices are described by hand: no GPU is needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "generate.h"
#include "nvrtc_api.h"
#include "space.h"
#include "support.h"
#include "tune.h"
#include "tuning.h"

static const char h100[] = "NVIDIA H100 80GB HBM3";

typedef struct target_case {
  const char *name;
  int sm, multiprocessors;
  size_t shared_optin;
  fkm_dtype dtype;
  fkm_precision precision;
  int64_t b, n, d, k;
} target_case;

static const target_case targets[] = {
    {h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 128, 1024},
    {h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 1024, 1024},
    {h100, 90, 132, 232448, FKM_DTYPE_BF16, FKM_PRECISION_DEFAULT, 1, 100000, 32, 10},
    {h100, 90, 132, 232448, FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, 8, 65536, 128, 100},
    {"NVIDIA A100-SXM4-80GB", 80, 108, 166912, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 4, 5000, 96,
     300},
    {"NVIDIA GeForce RTX 3090", 86, 82, 101376, FKM_DTYPE_FP32, FKM_PRECISION_TF32, 1, 300000, 64,
     4096},
    /* the table's 128×32 tiles fitted to 99 KiB (2 stages → 1); D=16: its BLOCK_D 16 (the model's
     * for the whole row) lies outside the space */
    {"NVIDIA GB10", 121, 48, 101376, FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, 1, 1 << 20, 128, 1024},
    {h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 16, 1024},
};
#define TARGETS ((int)(sizeof targets / sizeof targets[0]))

typedef struct tune_case {
  struct fkm__gpu g;
  fkm_points p;
  fkm_options o;
  fkm__tune_target t;
  fkm__kernel_spec model;
  fkm__tune_candidate *c; /* owned [fkm__tune_capacity()] */
} tune_case;

static void make_case(const target_case *tc, tune_case *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->g.name, sizeof out->g.name, "%s", tc->name);
  out->g.sm = tc->sm, out->g.multiprocessors = tc->multiprocessors;
  fkm__gpu_shared_of_limit(&out->g, tc->shared_optin);
  out->p = (fkm_points){NULL, tc->dtype, tc->b, tc->n, tc->d};
  fkm_options_init(&out->o);
  out->o.k = tc->k, out->o.dtype = tc->dtype, out->o.precision = tc->precision;
  out->t = fkm__tune_target_of(&out->g, &out->p, &out->o);
  fkm__spec_layout l;
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_msg(fkm__gpu_model_spec(ctx, &out->g, &out->p, &out->o, &out->model, &l) == FKM_OK,
                "%s", fkm_ctx_last_error(ctx));
  fkm_ctx_free(ctx);
  out->c = malloc(fkm__tune_capacity() * sizeof *out->c);
  ck_assert_ptr_nonnull(out->c);
}

static int same_config(const fkm__kernel_spec *a, const fkm__kernel_spec *b) {
  fkm_config x = fkm__spec_config(a), y = fkm__spec_config(b);
  return memcmp(&x, &y, sizeof x) == 0;
}

/* Every candidate is the target's assign kernel, valid, within the device's shared memory, and no
 * two are the same kernel. */
static void assert_valid(const tune_case *tc, const fkm__tune_candidate *c, size_t count) {
  for (size_t i = 0; i < count; i++) {
    fkm__spec_layout l;
    char why[256];
    ck_assert_msg(fkm__spec_validate(&c[i].spec, &l, why, sizeof why) == FKM_OK, "%s", why);
    ck_assert_uint_le(l.shared, tc->g.shared_optin);
    ck_assert_int_eq(c[i].spec.kind, FKM_KIND_ASSIGN);
    ck_assert_int_eq(c[i].spec.dtype, tc->t.base.dtype);
    ck_assert_int_eq(c[i].spec.precision, tc->t.base.precision);
    ck_assert_int_eq(c[i].spec.d, tc->p.d);
    ck_assert_int_eq(c[i].spec.sm, tc->g.sm);
    ck_assert(c[i].cost > 0 && c[i].cost < 1e30);
    for (size_t j = 0; j < i; j++)
      ck_assert_uint_ne(fkm__spec_hash(&c[i].spec), fkm__spec_hash(&c[j].spec));
  }
}

/* The table's configuration for tc's shapes (fkm__table_spec on its device); 0 when none. */
static int table_config(const tune_case *tc, fkm__kernel_spec *out) {
  fkm__spec_layout l;
  return fkm__table_spec(tc->g.name, &tc->t.base, tc->p.n, tc->o.k, tc->g.shared_optin, out, &l);
}

/* How many candidates carry the table flag; each must be the table's configuration. */
static size_t table_picks(const tune_case *tc, const fkm__tune_candidate *c, size_t count) {
  fkm__kernel_spec table;
  int has = table_config(tc, &table);
  size_t picks = 0;
  for (size_t i = 0; i < count; i++)
    if (c[i].table_pick) {
      ck_assert_msg(has && same_config(&c[i].spec, &table), "flagged pick is not the table's");
      picks++;
    }
  return picks;
}

static size_t model_picks(const tune_case *tc, const fkm__tune_candidate *c, size_t count) {
  size_t picks = 0;
  for (size_t i = 0; i < count; i++)
    if (c[i].model_pick) {
      ck_assert_msg(same_config(&c[i].spec, &tc->model), "flagged pick is not the model's");
      picks++;
    }
  return picks;
}

START_TEST(pruned_candidates_are_valid_bounded_and_hold_the_model_pick) {
  tune_case tc;
  make_case(&targets[_i], &tc);
  size_t space, count = fkm__tune_candidates(&tc.t, &tc.model, 0, NULL, NULL, tc.c, &space);
  ck_assert_uint_ge(count, 1);
  ck_assert_uint_le(count, FKM__TUNE_KEEP);
  if (space > 4 * FKM__TUNE_KEEP) ck_assert_uint_eq(count, FKM__TUNE_KEEP);
  assert_valid(&tc, tc.c, count);
  ck_assert_uint_eq(model_picks(&tc, tc.c, count), 1);
  fkm__kernel_spec table;
  ck_assert_uint_eq(table_picks(&tc, tc.c, count), (size_t)table_config(&tc, &table));
  for (size_t i = 1; i < count; i++) ck_assert(tc.c[i - 1].score <= tc.c[i].score);
  fkm__tune_candidate *again = malloc(fkm__tune_capacity() * sizeof *again);
  ck_assert_uint_eq(fkm__tune_candidates(&tc.t, &tc.model, 0, NULL, NULL, again, NULL), count);
  for (size_t i = 0; i < count; i++) {
    ck_assert_uint_eq(fkm__spec_hash(&again[i].spec), fkm__spec_hash(&tc.c[i].spec));
    ck_assert_double_eq(again[i].cost, tc.c[i].cost);
  }
  free(again);
  free(tc.c);
}
END_TEST

/* The valid configurations of the space, counted here without the tuner. */
static size_t count_valid(const tune_case *tc, int *model_inside, int *table_inside) {
  size_t n = 0;
  fkm__kernel_spec table;
  int has_table = table_config(tc, &table);
  *model_inside = 0, *table_inside = !has_table || same_config(&table, &tc->model);
  for (size_t i = 0; i < fkm__space_size(); i++) {
    fkm__kernel_spec s = tc->t.base, mapped;
    fkm__spec_layout l;
    fkm__space_apply(i, &s);
    fkm_config c = fkm__spec_config(&s);
    if (fkm__config_spec(&tc->t.base, &c, &mapped, &l, NULL, 0) != FKM_OK ||
        l.shared > tc->g.shared_optin)
      continue;
    n++;
    *model_inside |= same_config(&mapped, &tc->model);
    *table_inside |= has_table && same_config(&mapped, &table);
  }
  return n;
}

START_TEST(exhaustive_is_every_valid_configuration) {
  tune_case tc;
  make_case(&targets[_i], &tc);
  int inside, table_inside;
  size_t want = count_valid(&tc, &inside, &table_inside) + !inside + !table_inside, space;
  size_t count = fkm__tune_candidates(&tc.t, &tc.model, 1, NULL, NULL, tc.c, &space);
  ck_assert_uint_eq(count, want);
  ck_assert_uint_eq(space, want);
  ck_assert_uint_gt(count, FKM__TUNE_KEEP);
  assert_valid(&tc, tc.c, count);
  ck_assert_uint_eq(model_picks(&tc, tc.c, count), 1);
  fkm__kernel_spec table;
  ck_assert_uint_eq(table_picks(&tc, tc.c, count), (size_t)table_config(&tc, &table));
  fkm__tune_candidate *pruned = malloc(fkm__tune_capacity() * sizeof *pruned);
  size_t kept = fkm__tune_candidates(&tc.t, &tc.model, 0, NULL, NULL, pruned, NULL);
  for (size_t i = 0; i < kept; i++) {
    int found = 0;
    for (size_t j = 0; j < count; j++)
      found |= fkm__spec_hash(&pruned[i].spec) == fkm__spec_hash(&tc.c[j].spec);
    ck_assert_msg(found, "pruned candidate %zu is not in the exhaustive list", i);
  }
  free(pruned);
  free(tc.c);
}
END_TEST

static int block_d_128_cached(const fkm__kernel_spec *s, void *calls) {
  ++*(int *)calls;
  return s->block_d == 128;
}

static int one_cached(const fkm__kernel_spec *s, void *hash) {
  return fkm__spec_hash(s) == *(const uint64_t *)hash;
}

/* D = 16: BLOCK_D 32, 64 and 128 give the same kernel tiles, so the same cost. Unprobed, the
 * lowest BLOCK_D of an equivalent triple ranks; with BLOCK_D=128 cubins cached, that one does
 * instead (and its twins are left out). A cached but expensive configuration stays out. */
START_TEST(cached_cubins_rank_first_among_equals) {
  target_case small = targets[0];
  small.d = 16;
  tune_case tc;
  make_case(&small, &tc);
  size_t count = fkm__tune_candidates(&tc.t, &tc.model, 0, NULL, NULL, tc.c, NULL);
  fkm__tune_candidate top = tc.c[0];
  ck_assert_int_eq(top.spec.block_d, 32);
  ck_assert_int_eq(top.cached, 0);
  int calls = 0;
  ck_assert_uint_eq(fkm__tune_candidates(&tc.t, &tc.model, 0, block_d_128_cached, &calls, tc.c,
                                         NULL),
                    count);
  ck_assert_int_eq(calls, 2 * FKM__TUNE_KEEP);
  ck_assert_int_eq(tc.c[0].spec.block_d, 128);
  ck_assert_int_eq(tc.c[0].cached, 1);
  ck_assert_double_eq(tc.c[0].cost, top.cost);
  ck_assert(tc.c[0].score < top.score);
  for (size_t i = 0; i < count; i++)
    ck_assert(!(tc.c[i].spec.block_d == 32 && tc.c[i].spec.block_n == top.spec.block_n &&
                tc.c[i].spec.block_k == top.spec.block_k &&
                tc.c[i].spec.num_warps == top.spec.num_warps &&
                tc.c[i].spec.num_stages == top.spec.num_stages));
  size_t all = fkm__tune_candidates(&tc.t, &tc.model, 1, NULL, NULL, tc.c, NULL);
  fkm__tune_candidate worst = tc.c[all - 1];
  uint64_t hash = fkm__spec_hash(&worst.spec);
  ck_assert_uint_eq(fkm__tune_candidates(&tc.t, &tc.model, 0, one_cached, &hash, tc.c, NULL),
                    count);
  for (size_t i = 0; i < count; i++) ck_assert_uint_ne(fkm__spec_hash(&tc.c[i].spec), hash);
  free(tc.c);
}
END_TEST

/* More points or centroids cost proportionally more; one block past a full wave costs a wave. */
START_TEST(cost_model_follows_the_shapes) {
  tune_case tc;
  make_case(&targets[0], &tc);
  fkm__spec_layout l;
  ck_assert_int_eq(fkm__spec_validate(&tc.model, &l, NULL, 0), FKM_OK);
  double base = fkm__tune_cost(&tc.t, &tc.model, &l);
  fkm__tune_target t = tc.t;
  t.n *= 2;
  double ratio = fkm__tune_cost(&t, &tc.model, &l) / base;
  ck_assert_msg(ratio > 1.8 && ratio < 2.2, "2N: %g", ratio);
  t = tc.t;
  t.k *= 2;
  ratio = fkm__tune_cost(&t, &tc.model, &l) / base;
  ck_assert_msg(ratio > 1.8 && ratio < 2.2, "2K: %g", ratio);
  t = tc.t;
  t.n = (int64_t)t.multiprocessors * tc.model.block_n;
  double full = fkm__tune_cost(&t, &tc.model, &l);
  t.n += 1;
  ratio = fkm__tune_cost(&t, &tc.model, &l) / full;
  ck_assert_msg(ratio > 1.5, "one block past a wave: %g", ratio);
  free(tc.c);
}
END_TEST

/* ---- records in the assign-kernel choice ------------------------------------------------------ */

static char test_dir[256], user_root[300], override_root[300];

static void setup_dirs(void) {
  snprintf(test_dir, sizeof test_dir, "/tmp/fkm-tune-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(test_dir));
  snprintf(user_root, sizeof user_root, "%s/user", test_dir);
  snprintf(override_root, sizeof override_root, "%s/override", test_dir);
  setenv("FKM_CACHE_DIR", user_root, 1);
  unsetenv("FKM_CACHE_OVERRIDE_DIR");
  unsetenv("FKM_BUNDLE_PATH");
}

static void teardown_dirs(void) {
  fkm__remove_tree(test_dir);
  unsetenv("FKM_CACHE_OVERRIDE_DIR");
}

/* The config fkm__gpu_assign_spec picks for tc's shapes with N points. */
static fkm_config picked(fkm_ctx *ctx, const tune_case *tc, int64_t n, fkm__kernel_spec *spec) {
  fkm_points p = tc->p;
  fkm__spec_layout l;
  p.n = n;
  ck_assert_msg(fkm__gpu_assign_spec(ctx, &tc->g, &p, &tc->o, spec, &l) == FKM_OK, "%s",
                fkm_ctx_last_error(ctx));
  return fkm__spec_config(spec);
}

static void assert_config(fkm_config got, fkm_config want) {
  ck_assert_msg(memcmp(&got, &want, sizeof got) == 0,
                "picked %d/%d/%d/%d/%d, expected %d/%d/%d/%d/%d", got.BLOCK_N, got.BLOCK_K,
                got.BLOCK_D, got.num_warps, got.num_stages, want.BLOCK_N, want.BLOCK_K,
                want.BLOCK_D, want.num_warps, want.num_stages);
}

/* Writes c as the record of tc's shapes under root (the user cache through the runtime's store,
 * another root directly). */
static void write_record(fkm_ctx *ctx, const tune_case *tc, const char *root, fkm_config c) {
  if (!root) {
    ck_assert_msg(fkm__gpu_record_store(ctx, &tc->g, &tc->p, &tc->o, &c, 1.5) == FKM_OK, "%s",
                  fkm_ctx_last_error(ctx));
    return;
  }
  fkm__tuning_record r;
  fkm__tuning_query(&r, tc->g.name, tc->g.sm, "assign", "l2", "fp16", (int)tc->p.d, tc->p.n,
                    tc->o.k, tc->p.batches);
  r.config = c;
  ck_assert_int_eq(fkm__tuning_store(root, &r), 0);
}

/* ---- the default pick: the model's or the flash-kmeans table's ------------------------------ */

static const char a100[] = "NVIDIA A100-SXM4-80GB";

/* fkm__tune_default for tc's shapes into *out; 1 when it took the table's configuration. */
static int default_pick(const tune_case *tc, fkm__kernel_spec *out) {
  fkm__spec_layout l;
  return fkm__tune_default(&tc->t, &tc->model, out, &l);
}

static double cost_of(const tune_case *tc, const fkm__kernel_spec *s) {
  fkm__spec_layout l;
  ck_assert_int_eq(fkm__spec_validate(s, &l, NULL, 0), FKM_OK);
  return fkm__tune_cost(&tc->t, s, &l);
}

/* A100, N=65536 K=1000 D=128 fp16: the table's entry (128×64, 4 warps, 2 stages; its BLOCK_D 0
 * becomes the model's 128) differs from the model's pick and is rated within the margin, so the
 * default takes it; an A800 (no table) with the same resources keeps the model's pick. */
START_TEST(a_table_gpu_takes_the_table_config) {
  target_case a = {a100, 80, 108, 166912, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 65536, 128,
                   1000};
  tune_case tc, other;
  make_case(&a, &tc);
  fkm__kernel_spec table, pick;
  ck_assert(table_config(&tc, &table));
  assert_config(fkm__spec_config(&table), (fkm_config){128, 64, 128, 4, 2, 1});
  ck_assert(!same_config(&table, &tc.model));
  ck_assert(!fkm__model_measured(&tc.model));
  ck_assert(cost_of(&tc, &table) <= cost_of(&tc, &tc.model) * (1 + FKM__TABLE_MARGIN));
  ck_assert_int_eq(default_pick(&tc, &pick), 1);
  assert_config(fkm__spec_config(&pick), fkm__spec_config(&table));
  a.name = "NVIDIA A800-SXM4-80GB";
  make_case(&a, &other);
  assert_config(fkm__spec_config(&other.model), fkm__spec_config(&tc.model));
  ck_assert_int_eq(table_config(&other, &table), 0);
  ck_assert_int_eq(default_pick(&other, &pick), 0);
  assert_config(fkm__spec_config(&pick), fkm__spec_config(&other.model));
  free(tc.c);
  free(other.c);
}
END_TEST

/* A100, N=1M K=1000 D=1024: the split-D table's 64×32 tiles with 32-column chunks are rated far
 * above the model's pick, which stays. */
START_TEST(a_table_config_rated_worse_is_not_taken) {
  target_case a = {a100, 80, 108, 166912, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 1024,
                   1000};
  tune_case tc;
  make_case(&a, &tc);
  fkm__kernel_spec table, pick;
  ck_assert(table_config(&tc, &table));
  assert_config(fkm__spec_config(&table), (fkm_config){64, 32, 32, 4, 2, 1});
  ck_assert(cost_of(&tc, &table) > cost_of(&tc, &tc.model) * (1 + FKM__TABLE_MARGIN));
  ck_assert_int_eq(default_pick(&tc, &pick), 0);
  assert_config(fkm__spec_config(&pick), fkm__spec_config(&tc.model));
  free(tc.c);
}
END_TEST

/* SPEC §8's shapes on an H100 and which input the default takes. Every pick there was measured:
 * fp16/bf16 run the wgmma kernel (256×64, one warpgroup), TF32 the wgmma kernel (256×64, two
 * warpgroups; the exhaustive sweep's best on H200), 3×TF32 the wgmma kernel with the points in
 * registers (128×64, two warpgroups; the table's mma.sync entry is rated 1.95 times its cost).
 * The table must be rated more than the margin cheaper to replace them, and is not on any of these
 * shapes — yet on three the plain rule would have taken it: rated 0.999 and 0.986 of the model's
 * cost at K=8192 and K=65536, and 1.025 for bf16. */
typedef struct spec8_case {
  target_case shape;
  int table;        /* 1: the default is the table's configuration */
  double ratio_max; /* the table's cost over the model's is at most this (0: not checked) */
} spec8_case;

static const spec8_case spec8[] = {
    {{h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 32, 74256, 128, 1000}, 0, 0},
    {{h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 8388608, 128, 1024}, 0, 0},
    {{h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 128, 8192}, 0, 1.0},
    {{h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 8, 65536, 128, 100}, 0, 0},
    {{h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 128, 65536}, 0,
     1.0},
    {{h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 1024, 1024}, 0, 0},
    {{h100, 90, 132, 232448, FKM_DTYPE_BF16, FKM_PRECISION_DEFAULT, 1, 4194304, 128, 4096}, 0,
     1 + FKM__TABLE_MARGIN},
    {{h100, 90, 132, 232448, FKM_DTYPE_FP32, FKM_PRECISION_TF32, 1, 2097152, 128, 1024}, 0, 0},
    {{h100, 90, 132, 232448, FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, 1, 2097152, 128, 1024}, 0, 0},
};

START_TEST(spec8_shapes_on_h100) {
  const spec8_case *c = &spec8[_i];
  tune_case tc;
  make_case(&c->shape, &tc);
  fkm__kernel_spec table, pick;
  ck_assert(table_config(&tc, &table));
  double ratio = cost_of(&tc, &table) / cost_of(&tc, &tc.model);
  ck_assert(fkm__model_measured(&tc.model));
  if (c->shape.dtype != FKM_DTYPE_FP32) { /* 256×64 one warpgroup; wide D: 128×256, two */
    ck_assert_int_eq(tc.model.block_n, c->shape.d <= 128 ? 256 : 128);
    ck_assert_int_eq(tc.model.block_k, c->shape.d <= 128 ? 64 : 256);
    ck_assert_int_eq(tc.model.num_warps, c->shape.d <= 128 ? 4 : 8);
  }
  if (c->shape.precision == FKM_PRECISION_TF32) { /* wgmma 256×64, two warpgroups, 3 stages */
    ck_assert(fkm__spec_uses_wgmma(&tc.model));
    ck_assert_int_eq(tc.model.block_n, 256);
    ck_assert_int_eq(tc.model.block_k, 64);
    ck_assert_int_eq(tc.model.num_warps, 8);
    ck_assert_int_eq(tc.model.num_stages, 3);
  }
  if (fkm__spec_split_tf32(&tc.model)) { /* 3×TF32 on wgmma: 128×64, two warpgroups, 3 stages */
    ck_assert(fkm__spec_uses_wgmma(&tc.model));
    ck_assert_int_eq(tc.model.block_n, 128);
    ck_assert_int_eq(tc.model.block_k, 64);
    ck_assert_int_eq(tc.model.num_warps, 8);
    ck_assert_int_eq(tc.model.num_stages, 3);
  }
  if (c->ratio_max > 0) ck_assert_msg(ratio <= c->ratio_max, "table/model cost %g", ratio);
  ck_assert_msg(default_pick(&tc, &pick) == c->table, "shape %d: table/model cost %g", _i, ratio);
  assert_config(fkm__spec_config(&pick), fkm__spec_config(c->table ? &table : &tc.model));
  free(tc.c);
}
END_TEST

/* fp32 at default precision beyond D = 128 (H200, 2026-12-04: 1.75–2.0 × faster per iteration
 * than mma.sync's 256×128 pick at D = 192–1024): the wgmma kernel in 32-column chunks with
 * 128×256 tiles, 3 stages, which the default takes over the table's mma.sync entries. */
START_TEST(wide_fp32_takes_three_tf32_in_chunks) {
  static const target_case shapes[] = {
      {h100, 90, 132, 232448, FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, 1, 1 << 20, 1024, 1024},
      {"NVIDIA H200", 90, 132, 232448, FKM_DTYPE_FP32, FKM_PRECISION_DEFAULT, 1, 1 << 20, 384,
       1024}};
  for (int i = 0; i < 2; i++) {
    tune_case tc;
    make_case(&shapes[i], &tc);
    fkm__kernel_spec pick;
    ck_assert(fkm__spec_uses_wgmma(&tc.model) && fkm__spec_split_tf32(&tc.model));
    assert_config(fkm__spec_config(&tc.model), (fkm_config){128, 256, 32, 8, 3, 1});
    ck_assert_int_eq(default_pick(&tc, &pick), 0);
    assert_config(fkm__spec_config(&pick), fkm__spec_config(&tc.model));
    free(tc.c);
  }
}
END_TEST

/* H100, B=32 N=74256 K=1000: the table's 128×64 single-stage tiles rank far below the pruned
 * run's eight, yet the run measures them. */
START_TEST(a_pruned_run_measures_the_table_config) {
  tune_case tc;
  make_case(&spec8[0].shape, &tc);
  fkm__kernel_spec table;
  ck_assert(table_config(&tc, &table));
  size_t all = fkm__tune_candidates(&tc.t, &tc.model, 1, NULL, NULL, tc.c, NULL), rank = all;
  for (size_t i = 0; i < all; i++)
    if (same_config(&tc.c[i].spec, &table)) rank = i;
  ck_assert_uint_lt(rank, all);
  ck_assert_uint_ge(rank, 2 * FKM__TUNE_KEEP); /* out of reach of the ranking alone */
  size_t count = fkm__tune_candidates(&tc.t, &tc.model, 0, NULL, NULL, tc.c, NULL), found = 0;
  ck_assert_uint_eq(count, FKM__TUNE_KEEP);
  for (size_t i = 0; i < count; i++)
    found += same_config(&tc.c[i].spec, &table) && tc.c[i].table_pick;
  ck_assert_uint_eq(found, 1);
  ck_assert_uint_eq(model_picks(&tc, tc.c, count), 1);
  free(tc.c);
}
END_TEST

/* Through the runtime's choice: with no record, an A100 gets the table's configuration for these
 * shapes; a record of them still wins. */
START_TEST(the_default_pick_takes_the_table_below_records) {
  target_case a = {a100, 80, 108, 166912, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 65536, 128,
                   1000};
  tune_case tc;
  make_case(&a, &tc);
  fkm_ctx *ctx;
  fkm__kernel_spec s, table;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert(table_config(&tc, &table));
  assert_config(picked(ctx, &tc, tc.p.n, &s), fkm__spec_config(&table));
  fkm_config tuned = {64, 64, 64, 4, 3, 1};
  write_record(ctx, &tc, NULL, tuned);
  assert_config(picked(ctx, &tc, tc.p.n, &s), tuned);
  fkm_ctx_free(ctx);
  free(tc.c);
}
END_TEST

START_TEST(a_record_changes_the_pick) {
  tune_case tc;
  make_case(&targets[0], &tc);
  fkm_ctx *ctx;
  fkm__kernel_spec s;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_config model = fkm__spec_config(&tc.model), tuned = {128, 128, 128, 4, 2, 1};
  ck_assert(memcmp(&model, &tuned, sizeof model) != 0);
  assert_config(picked(ctx, &tc, tc.p.n, &s), model);
  write_record(ctx, &tc, NULL, tuned);
  assert_config(picked(ctx, &tc, tc.p.n, &s), tuned);
  ck_assert_int_eq(s.arch_specific, 1);
  assert_config(picked(ctx, &tc, tc.p.n * 3 / 4, &s), tuned); /* same N bucket */
  assert_config(picked(ctx, &tc, tc.p.n + 1, &s), model);     /* the next one */
  tune_case other = tc;
  snprintf(other.g.name, sizeof other.g.name, "NVIDIA H100 NVL");
  assert_config(picked(ctx, &other, tc.p.n, &s), model);
  tc.o.config = (fkm_config){64, 64, 128, 4, 1, 1}; /* a given config beats the record */
  assert_config(picked(ctx, &tc, tc.p.n, &s), tc.o.config);
  memset(&tc.o.config, 0, sizeof tc.o.config);
  fkm_config narrow = {128, 64, 32, 4, 2, 1}; /* a 32-column chunk: the mma.sync kernel */
  write_record(ctx, &tc, override_root, narrow);
  setenv("FKM_CACHE_OVERRIDE_DIR", override_root, 1);
  assert_config(picked(ctx, &tc, tc.p.n, &s), narrow);
  ck_assert_int_eq(s.arch_specific, 0);
  fkm_ctx_free(ctx);
  free(tc.c);
}
END_TEST

static const fkm_config invalid_configs[] = {
    {512, 64, 128, 8, 2, 1}, /* BLOCK_N above the bound */
    {256, 64, 128, 8, 9, 1}, /* too many stages */
    {256, 64, 128, 8, 2, 3}, /* clusters of three */
    {256, 256, 128, 8, 4, 1} /* more shared memory than the device has */
};

START_TEST(an_invalid_record_is_ignored) {
  tune_case tc;
  make_case(&targets[0], &tc);
  fkm_ctx *ctx;
  fkm__kernel_spec s;
  fkm_test_log_capture log = {0, ""};
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_log_set(ctx, fkm_test_capture_warnings, &log);
  write_record(ctx, &tc, user_root, invalid_configs[_i]);
  assert_config(picked(ctx, &tc, tc.p.n, &s), fkm__spec_config(&tc.model));
  ck_assert_int_eq(log.warnings, 1);
  ck_assert_msg(strstr(log.last, "ignored") != NULL, "%s", log.last);
  ck_assert_str_eq(fkm_ctx_last_error(ctx), "");
  fkm_ctx_free(ctx);
  free(tc.c);
}
END_TEST

/* Through the runtime's choice on an H100 and an H200: no default pick is clustered (16-bit points
 * with K ≥ 32768 took clusters of two until the unclustered kernel read its distance offsets
 * whole), 16-bit points at K = 65,536 and 32,768 take the same tiles as at K = 8192, and the
 * H200's pick at N = 1M, K = 65,536 is the configuration measured there (256 × 64, one warpgroup,
 * 3 stages, two blocks an SM: 33.1–33.4 ms against 33.6–33.8 for 2 stages and, earlier, 38.0 for
 * 128 × 64 in clusters of two). */
START_TEST(large_k_keeps_plain_blocks) {
  static const target_case shapes[] = {
      {h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 128, 65536},
      {h100, 90, 132, 232448, FKM_DTYPE_BF16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 64, 32768},
      {h100, 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 128, 8192},
      {h100, 90, 132, 232448, FKM_DTYPE_FP32, FKM_PRECISION_TF32, 1, 1 << 20, 128, 65536},
      {"NVIDIA H200", 90, 132, 232448, FKM_DTYPE_FP16, FKM_PRECISION_DEFAULT, 1, 1 << 20, 128, 65536}};
  fkm_config got[5];
  for (int i = 0; i < 5; i++) {
    tune_case tc;
    make_case(&shapes[i], &tc);
    fkm_ctx *ctx;
    fkm__kernel_spec s;
    ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
    got[i] = picked(ctx, &tc, tc.p.n, &s);
    ck_assert_int_eq(got[i].num_ctas, 1);
    fkm_ctx_free(ctx);
    free(tc.c);
  }
  ck_assert_int_eq(got[0].BLOCK_N, got[2].BLOCK_N);
  ck_assert_int_eq(got[0].BLOCK_K, got[2].BLOCK_K);
  ck_assert_int_eq(got[0].num_warps, got[2].num_warps);
  assert_config(got[4], (fkm_config){256, 64, 128, 4, 3, 1});
}
END_TEST

START_TEST(a_damaged_record_is_a_miss) {
  tune_case tc;
  make_case(&targets[0], &tc);
  fkm_ctx *ctx;
  fkm__kernel_spec s;
  fkm_test_log_capture log = {0, ""};
  char path[FKM__PATH_MAX];
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  fkm_log_set(ctx, fkm_test_capture_warnings, &log);
  write_record(ctx, &tc, NULL, (fkm_config){128, 128, 128, 4, 2, 1});
  fkm__tuning_record q;
  fkm__tuning_query(&q, tc.g.name, 90, "assign", "l2", "fp16", (int)tc.p.d, tc.p.n, tc.o.k, 1);
  ck_assert_int_eq(fkm__tuning_path(user_root, &q, path, sizeof path), 0);
  ck_assert_int_eq(truncate(path, 40), 0);
  assert_config(picked(ctx, &tc, tc.p.n, &s), fkm__spec_config(&tc.model));
  ck_assert_int_eq(log.warnings, 1);
  ck_assert_msg(strstr(log.last, "a miss") != NULL, "%s", log.last);
  setenv("FKM_CACHE_DIR", "", 1); /* disabled: nothing to store into */
  fkm_config c = {128, 128, 128, 4, 2, 1};
  ck_assert_int_eq(fkm__gpu_record_store(ctx, &tc.g, &tc.p, &tc.o, &c, 1.0), FKM_ERR_IO);
  fkm_ctx_free(ctx);
  free(tc.c);
}
END_TEST

/* ---- the parallel compile of candidates ------------------------------------------------------- */

/* Three small sm_80 candidates: the first batch compiles the two not skipped (counted per thread
 * context and process-wide) and stores them; the second finds all three in the user cache. */
START_TEST(candidates_compile_in_parallel_through_the_cache) {
  target_case small = {"NVIDIA A100-SXM4-80GB", 80, 108, 166912, FKM_DTYPE_FP16,
                       FKM_PRECISION_DEFAULT, 1, 4096, 16, 16};
  tune_case tc;
  make_case(&small, &tc);
  size_t count = fkm__tune_candidates(&tc.t, &tc.model, 0, NULL, NULL, tc.c, NULL);
  ck_assert_uint_ge(count, 3);
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  int skip[3] = {0, 1, 0};
  fkm__compile_batch b;
  size_t calls = fkm__nvrtc_calls();
  ck_assert_int_eq(fkm__compile_start(ctx, &b, tc.c, skip, 3), FKM_OK);
  fkm__compile_join(&b);
  ck_assert_msg(b.cubins[0].data && b.cubins[2].data, "%s %s", b.why[0], b.why[2]);
  ck_assert_ptr_null(b.cubins[1].data);
  ck_assert_uint_eq(b.cubins[0].layer, 0);
  ck_assert_uint_eq(b.compiles, 2);
  ck_assert_uint_eq(fkm__nvrtc_calls() - calls, 2);
  fkm__compile_free(&b);
  calls = fkm__nvrtc_calls();
  ck_assert_int_eq(fkm__compile_start(ctx, &b, tc.c, NULL, 3), FKM_OK);
  fkm__compile_join(&b);
  ck_assert_uint_eq(b.compiles, 1); /* the one skipped before */
  ck_assert_uint_eq(b.cubins[0].layer, FKM__LAYER_USER);
  ck_assert_uint_eq(b.cubins[2].layer, FKM__LAYER_USER);
  ck_assert_uint_eq(fkm__nvrtc_calls() - calls, 1);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(fkm__kernel_cached(ctx, &tc.c[i].spec), 1);
  fkm__compile_free(&b);
  fkm_ctx_free(ctx);
  free(tc.c);
}
END_TEST

/* ---- fkm_tune's argument checks --------------------------------------------------------------- */

START_TEST(tune_refuses_bad_arguments) {
  float x[64 * 4];
  for (int i = 0; i < 64 * 4; i++) x[i] = (float)(i % 7) - 3.0f;
  fkm_points p = {x, FKM_DTYPE_FP32, 1, 64, 4};
  fkm_options o;
  fkm_options_init(&o);
  o.k = 5;
  fkm_config best;
  fkm_ctx *ctx;
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  ck_assert_int_eq(fkm_tune(NULL, &p, &o, &best), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_tune(ctx, &p, &o, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_tune(ctx, NULL, &o, &best), FKM_ERR_INVALID_ARG);
  o.engine = FKM_ENGINE_CPU;
  ck_assert_int_eq(fkm_tune(ctx, &p, &o, &best), FKM_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(fkm_ctx_last_error(ctx), "GPU"));
  o.engine = FKM_ENGINE_AUTO, o.tune = 7;
  ck_assert_int_eq(fkm_tune(ctx, &p, &o, &best), FKM_ERR_INVALID_ARG);
  o.tune = 0, o.dtype = FKM_DTYPE_FP64;
  ck_assert_int_eq(fkm_tune(ctx, &p, &o, &best), FKM_ERR_UNSUPPORTED);
  o.dtype = FKM_DTYPE_AUTO;
  fkm_tune_report r = {.timings = NULL, .capacity = 4};
  ck_assert_int_eq(fkm_tune_detailed(ctx, &p, &o, &best, &r), FKM_ERR_INVALID_ARG);
  x[9] = 1.0f / 0.0f;
  ck_assert_int_eq(fkm_tune(ctx, &p, &o, &best), FKM_ERR_NONFINITE);
  fkm_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tune");
  TCase *t = tcase_create("candidates");
  tcase_add_loop_test(t, pruned_candidates_are_valid_bounded_and_hold_the_model_pick, 0, TARGETS);
  tcase_add_loop_test(t, exhaustive_is_every_valid_configuration, 0, TARGETS);
  tcase_add_test(t, cached_cubins_rank_first_among_equals);
  tcase_add_test(t, cost_model_follows_the_shapes);
  tcase_add_test(t, tune_refuses_bad_arguments);
  suite_add_tcase(s, t);
  TCase *d = tcase_create("default pick");
  tcase_add_test(d, a_table_gpu_takes_the_table_config);
  tcase_add_test(d, a_table_config_rated_worse_is_not_taken);
  tcase_add_loop_test(d, spec8_shapes_on_h100, 0, (int)(sizeof spec8 / sizeof spec8[0]));
  tcase_add_test(d, a_pruned_run_measures_the_table_config);
  tcase_add_test(d, wide_fp32_takes_three_tf32_in_chunks);
  suite_add_tcase(s, d);
  TCase *r = tcase_create("records");
  tcase_add_checked_fixture(r, setup_dirs, teardown_dirs);
  tcase_add_test(r, a_record_changes_the_pick);
  tcase_add_test(r, the_default_pick_takes_the_table_below_records);
  tcase_add_loop_test(r, an_invalid_record_is_ignored, 0,
                      (int)(sizeof invalid_configs / sizeof invalid_configs[0]));
  tcase_add_test(r, a_damaged_record_is_a_miss);
  tcase_add_test(r, large_k_keeps_plain_blocks);
  if (fkm_test_nvrtc_usable()) {
    tcase_set_timeout(r, 600);
    tcase_add_test(r, candidates_compile_in_parallel_through_the_cache);
  }
  suite_add_tcase(s, r);
  return fkm_test_run(s, 0);
}
