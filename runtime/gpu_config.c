/* What the GPU engine accepts, and the assign-kernel configuration it runs. */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "gpu.h"
#include "tune.h"
#include "tuning.h"

fkm_status fkm__gpu_supports(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o) {
  if (p->d > FKM__MAX_GPU_D)
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "D = %lld exceeds the GPU kernels' limit %d",
                      (long long)p->d, FKM__MAX_GPU_D);
  if (p->n > INT_MAX || o->k > INT_MAX || p->batches > 65535)
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED,
                      "the GPU engine takes N, K < 2^31 and B ≤ 65535 (got N=%lld K=%lld B=%lld)",
                      (long long)p->n, (long long)o->k, (long long)p->batches);
  return FKM_OK;
}

static int pow2_at_least(long long v, int lo, int hi) {
  int r = lo;
  while (r < v && r < hi) r *= 2;
  return r;
}

/* Candidate tiles of the model, best first: 64×64 warp tiles where the points are many (fewer
 * shared-memory bytes per MMA), then smaller tiles. */
static const int mma_tiles[][3] = {{256, 128, 8}, {128, 128, 8}, {128, 64, 4}, {64, 32, 4}};
/* One warpgroup over 256 points first: the exhaustive sweep (bench/tune_spec8.sh, H100, D=128
 * fp16) found 256×64 with 4 warps best on every shape it ran, 12–25 % ahead of 8 warps. */
static const int wgmma_tiles[][3] = {{256, 64, 4}, {256, 64, 8}, {128, 64, 4}, {128, 128, 8}, {64, 64, 4}};
/* D beyond 128 split into 128-column chunks, one block per SM: 128×256 with two warpgroups and a
 * 2-stage pipeline first, the exhaustive sweep's best at D = 1024 (H100, 224 valid configurations:
 * 5.61 ms against 10.0 for the earlier 128×128 with 64-column chunks and two blocks per SM). */
static const int wgmma_wide_tiles[][3] = {{128, 256, 8}, {128, 128, 8}, {128, 64, 4}, {64, 64, 4}};
/* TF32 (4-byte rows) at D ≤ 128: 256×64 with two warpgroups, the whole row in one chunk and one
 * block per SM — the exhaustive sweep's best on H200 (N=2M, K=1024, D=128: 2.36 ms against 2.47
 * for the 16-bit list's two-blocks-per-SM pick; 203 valid configurations). */
static const int wgmma_tf32_tiles[][3] = {{256, 64, 8}, {256, 64, 4}, {128, 64, 4}, {64, 64, 4}};
/* 3×TF32 (spec.c: one m64 tile of points a warpgroup, in registers): two warpgroups over 128
 * points first, so that one folds while the other's MMAs run (H200, N = 2M, K = 1024, D = 128,
 * assign: 4.72–4.74 ms with 2 or 3 stages, 5.54 with 1; one warpgroup over 64 points 5.38–5.45;
 * mma.sync 8.87). */
static const int wgmma_split_tiles[][3] = {{128, 64, 8}, {64, 64, 4}};
/* 3×TF32 beyond 128 columns, in 32-column chunks (16 fragments and 16 next values a thread), which
 * leave registers for 128 × 256 tiles: the longer a step, the less its wait and barrier idle the
 * MMAs (H200, N = 1M, K = 1024, D = 1024: 23.3 ms against 27.6 for 128 × 128 with 64-column
 * chunks, 34.9 for 128 × 64 with 32, 40.7 for mma.sync's 256 × 128). */
static const int wgmma_split_wide_tiles[][3] = {{128, 256, 8}, {128, 128, 8}, {64, 64, 4}};
#define FKM__SPLIT_WIDE_CHUNK 32
/* A candidate list and its length. */
typedef struct tile_list {
  const int (*tiles)[3];
  int count;
} tile_list;
#define FKM__TILES(t) ((tile_list){t, (int)(sizeof(t) / sizeof((t)[0]))})

/* First candidate tile (BLOCK_K no larger than K needs) with the deepest pipeline whose shared
 * memory stays within `budget`. */
static fkm_status first_fit(fkm__kernel_spec *s, fkm__spec_layout *l, tile_list list,
                            long long n, long long k, size_t budget) {
  const int(*tiles)[3] = list.tiles;
  for (int t = 0; t < list.count; t++) {
    if (tiles[t][0] > 128 && n < 4 * tiles[t][0]) continue;
    s->block_n = tiles[t][0], s->num_warps = tiles[t][2];
    s->block_k = tiles[t][1] < pow2_at_least(k, 16, 256) ? tiles[t][1] : pow2_at_least(k, 16, 256);
    for (s->num_stages = 4; s->num_stages >= 1; s->num_stages--)
      if (fkm__spec_validate(s, l, NULL, 0) == FKM_OK && l->shared <= budget) return FKM_OK;
  }
  return FKM_ERR_REJECTED;
}

/* D columns per pipeline step the model takes: the whole padded row up to 128, 64-column chunks
 * beyond. */
static int model_block_d(int d) {
  int dp = fkm__padded_d(d);
  return dp <= 128 ? pow2_at_least(dp, 16, 128) : 64;
}

/* The model's pick. The wgmma kernel waits for its MMAs before folding them, so for D ≤ 128 it
 * wants two blocks per multiprocessor to overlap one block's arg-min with the other's MMAs
 * (measured on H100, D=128: 256×64 tiles with 2 stages or 128×64 with 1, both with 2+ blocks per
 * SM, beat every 1-block configuration; 380 TFLOP/s at N=1M, K=65536), with the deepest pipeline
 * that leaves two blocks (H200, N=1M, K=65,536: 256×64 with 3 stages 33.1–33.4 ms against
 * 33.6–33.8 for 2, same run); beyond 128 the MMAs per arg-min are many and one large block per SM
 * wins. */
static fkm_status model_pick(const struct fkm__gpu *g, fkm__kernel_spec *s, fkm__spec_layout *l,
                             long long n, long long k) {
  int dp = fkm__padded_d(s->d), wg = fkm__spec_uses_wgmma(s), tf32 = wg && s->dtype == FKM_DTYPE_FP32;
  int split = tf32 && fkm__spec_split_tf32(s);
  tile_list list = !wg                 ? FKM__TILES(mma_tiles)
                   : split && dp > 128 ? FKM__TILES(wgmma_split_wide_tiles)
                   : split             ? FKM__TILES(wgmma_split_tiles)
                   : dp > 128          ? FKM__TILES(wgmma_wide_tiles)
                   : tf32              ? FKM__TILES(wgmma_tf32_tiles)
                                       : FKM__TILES(wgmma_tiles);
  s->block_d = !wg || dp <= 128 ? model_block_d(s->d) : split ? FKM__SPLIT_WIDE_CHUNK : 128;
  size_t two_blocks = fkm__two_blocks_shared(g->shared_per_sm, g->shared_reserved);
  if (wg && !tf32 && dp <= 128 && first_fit(s, l, list, n, k, two_blocks) == FKM_OK)
    return FKM_OK;
  return first_fit(s, l, list, n, k, g->shared_optin);
}

/* Measured on H100 (2026-11-25, N = 2M, K = 1024, D = 128): the model's mma.sync pick for fp32
 * (256×128, 8 warps) ran 3×TF32 in 9.57 ms against 9.72 for the table's 128×64 with 4 warps (and
 * TF32 in 4.50 against 5.02). TF32 on sm_90a now takes the warpgroup kernel: 3.09 ms against 4.40
 * for the mma.sync pick on H200 (2026-12-03, same run); so does 3×TF32: 5.12 ms against 9.30 at
 * D = 128 (H200, 2026-12-04, a minute apart), 23.2 against 40.7 at D = 1024 (session 28, same
 * run). */
int fkm__model_measured(const fkm__kernel_spec *s) {
  return fkm__spec_uses_wgmma(s) || (s->sm == 90 && s->dtype == FKM_DTYPE_FP32);
}

fkm__kernel_spec fkm__gpu_assign_base(const struct fkm__gpu *g, const fkm_points *p,
                                      const fkm_options *o) {
  fkm_dtype t = fkm__compute_dtype(p, o, 1);
  fkm__kernel_spec s = fkm__spec_make(FKM_KIND_ASSIGN, o->metric, t,
                                      t == FKM_DTYPE_FP32 ? o->precision : FKM_PRECISION_DEFAULT,
                                      (int)p->d, g->sm);
  /* sm_90a: warpgroup MMA (fp16/bf16, TF32, 3×TF32), while its float arg-min index is exact */
  s.arch_specific = g->sm == 90 && o->k <= FKM__WGMMA_MAX_K;
  return s;
}

fkm_status fkm__config_spec(const fkm__kernel_spec *base, const fkm_config *c,
                            fkm__kernel_spec *out, fkm__spec_layout *layout, char *why,
                            size_t len) {
  *out = *base;
  out->block_n = c->BLOCK_N, out->block_k = c->BLOCK_K, out->block_d = c->BLOCK_D;
  out->num_warps = c->num_warps, out->num_stages = c->num_stages;
  out->num_ctas = c->num_ctas > 1 ? c->num_ctas : 0;
  if (fkm__spec_validate(out, layout, why, len) == FKM_OK) return FKM_OK;
  if (!out->arch_specific || out->num_ctas) return FKM_ERR_REJECTED;
  out->arch_specific = 0; /* e.g. a D chunk under the wgmma kernel's 128-byte rows: mma.sync */
  return fkm__spec_validate(out, layout, why, len);
}

fkm_config fkm__spec_config(const fkm__kernel_spec *s) {
  return (fkm_config){s->block_n, s->block_k, s->block_d, s->num_warps, s->num_stages,
                      s->num_ctas > 1 ? s->num_ctas : 1};
}

fkm_status fkm__gpu_model_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                               const fkm_options *o, fkm__kernel_spec *out,
                               fkm__spec_layout *layout) {
  *out = fkm__gpu_assign_base(g, p, o);
  if (model_pick(g, out, layout, p->n, o->k) == FKM_OK) return FKM_OK;
  out->arch_specific = 0; /* e.g. D under the wgmma kernel's 128-byte chunk rows: mma.sync */
  if (model_pick(g, out, layout, p->n, o->k) == FKM_OK) return FKM_OK;
  return fkm__error(ctx, FKM_ERR_REJECTED, "no assign configuration fits sm_%d for D=%lld", g->sm,
                    (long long)p->d);
}

/* Whether c is a valid spec on base's target within `shared` bytes of shared memory. */
static int fits(const fkm__kernel_spec *base, const fkm_config *c, size_t shared,
                fkm__kernel_spec *out, fkm__spec_layout *l) {
  return fkm__config_spec(base, c, out, l, NULL, 0) == FKM_OK && l->shared <= shared;
}

/* Whether candidate (bn, bk, stages) beats the best so far (*best, NULL: none) as flash-kmeans'
 * _fit_config_to_smem ranks them: more work per block (BLOCK_N·BLOCK_K·num_stages), then the
 * aspect ratio nearer c0's, then the larger BLOCK_N, then the deeper pipeline. */
static int fits_better(const fkm_config *c0, const fkm_config *cand, const fkm_config *best) {
  if (!best) return 1;
  double wc = (double)cand->BLOCK_N * cand->BLOCK_K * cand->num_stages;
  double wb = (double)best->BLOCK_N * best->BLOCK_K * best->num_stages;
  if (wc != wb) return wc > wb;
  double a0 = (double)c0->BLOCK_N / c0->BLOCK_K;
  double ac = fabs((double)cand->BLOCK_N / cand->BLOCK_K - a0);
  double ab = fabs((double)best->BLOCK_N / best->BLOCK_K - a0);
  if (ac != ab) return ac < ab;
  if (cand->BLOCK_N != best->BLOCK_N) return cand->BLOCK_N > best->BLOCK_N;
  return cand->num_stages > best->num_stages;
}

/* c0 fitted to the device: c0 itself when it is valid within `shared` bytes, else the best-ranked
 * (fits_better) of the power-of-two BLOCK_N and BLOCK_K ≥ 16 no larger than c0's and num_stages
 * no deeper that is, with num_warps capped at 4 for tiles of at most 32×32 (flash-kmeans'
 * shared-memory fitting; BLOCK_D and otherwise num_warps kept). 1 with *out and *l set, or 0
 * (nothing fits; *out untouched). */
static int fit_table(const fkm__kernel_spec *base, const fkm_config *c0, size_t shared,
                     fkm__kernel_spec *out, fkm__spec_layout *l) {
  fkm__kernel_spec s;
  fkm__spec_layout sl;
  fkm_config best = *c0, c = *c0;
  int as_is = fits(base, c0, shared, &s, &sl), shrunk = 0;
  for (c.BLOCK_N = c0->BLOCK_N; !as_is && c.BLOCK_N >= 16; c.BLOCK_N /= 2)
    for (c.BLOCK_K = c0->BLOCK_K; c.BLOCK_K >= 16; c.BLOCK_K /= 2)
      for (c.num_stages = c0->num_stages; c.num_stages >= 1; c.num_stages--) {
        c.num_warps = c.BLOCK_N * c.BLOCK_K <= 32 * 32 && c0->num_warps > 4 ? 4 : c0->num_warps;
        if (fits(base, &c, shared, &s, &sl) && fits_better(c0, &c, shrunk ? &best : NULL))
          best = c, shrunk = 1;
      }
  if (!as_is && !(shrunk && fits(base, &best, shared, &s, &sl))) return 0;
  *out = s, *l = sl;
  return 1;
}

int fkm__table_spec(const char *name, const fkm__kernel_spec *base, long long n, long long k,
                    size_t shared, fkm__kernel_spec *out, fkm__spec_layout *layout) {
  fkm_config c;
  if (!name || !*name || !fkm__table_lookup(name, n, k, base->d, base->dtype, &c)) return 0;
  if (!c.BLOCK_D) c.BLOCK_D = model_block_d(base->d); /* "the whole padded row" */
  return fit_table(base, &c, shared ? shared : fkm__sm_shared_limit(base->sm), out, layout);
}

int fkm__config_given(const fkm_config *c) {
  return c->BLOCK_N || c->BLOCK_K || c->BLOCK_D || c->num_warps || c->num_stages;
}

fkm_status fkm__gpu_assign_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                const fkm_options *o, fkm__kernel_spec *out,
                                fkm__spec_layout *layout) {
  if (fkm__config_given(&o->config)) {
    char why[256], desc[256];
    fkm__kernel_spec base = fkm__gpu_assign_base(g, p, o);
    if (fkm__config_spec(&base, &o->config, out, layout, why, sizeof why) == FKM_OK) return FKM_OK;
    fkm__spec_describe(out, desc, sizeof desc);
    return fkm__error(ctx, FKM_ERR_REJECTED, "config %s rejected: %s", desc, why);
  }
  if (fkm__gpu_record_spec(ctx, g, p, o, out, layout)) return FKM_OK;
  return fkm__gpu_default_spec(ctx, g, p, o, out, layout);
}

/* The default pick: the model's, or the flash-kmeans table's (fkm__tune_default). Clusters
 * (num_ctas 2 or 4) are never the default: with the distance offsets read whole, the unclustered
 * 256 × 64 pick ran N = 1M, K = 65,536 in 34.4 ms against 38.0 for 128 × 64 in clusters of two
 * (H200, bench/RESULTS.md, 2026-12-04, session 21). */
fkm_status fkm__gpu_default_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                 const fkm_options *o, fkm__kernel_spec *out,
                                 fkm__spec_layout *layout) {
  fkm__kernel_spec model;
  fkm_status st = fkm__gpu_model_spec(ctx, g, p, o, &model, layout);
  if (st != FKM_OK) return st;
  fkm__tune_target t = fkm__tune_target_of(g, p, o);
  fkm__tune_default(&t, &model, out, layout);
  return FKM_OK;
}
