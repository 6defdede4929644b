/* What the GPU engine accepts, and the assign-kernel configuration it runs. */
#include <limits.h>
#include <stdio.h>

#include "gpu.h"

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
static const int wgmma_tiles[][3] = {{256, 64, 8}, {128, 64, 4}, {128, 128, 8}, {64, 64, 4}};
/* D split into chunks: the point tile streams with the centroids, square tiles reuse both. */
static const int wgmma_wide_tiles[][3] = {{128, 128, 8}, {128, 64, 4}, {64, 64, 4}};
#define FKM__TILE_COUNT(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* First candidate tile (BLOCK_K no larger than K needs) with the deepest pipeline whose shared
 * memory stays within `budget`. */
static fkm_status first_fit(fkm__kernel_spec *s, fkm__spec_layout *l, const int (*tiles)[3],
                            int count, long long n, long long k, size_t budget) {
  for (int t = 0; t < count; t++) {
    if (tiles[t][0] > 128 && n < 4 * tiles[t][0]) continue;
    s->block_n = tiles[t][0], s->num_warps = tiles[t][2];
    s->block_k = tiles[t][1] < pow2_at_least(k, 16, 256) ? tiles[t][1] : pow2_at_least(k, 16, 256);
    for (s->num_stages = 4; s->num_stages >= 1; s->num_stages--)
      if (fkm__spec_validate(s, l, NULL, 0) == FKM_OK && l->shared <= budget) return FKM_OK;
  }
  return FKM_ERR_REJECTED;
}

/* The model's pick. The wgmma kernel waits for its MMAs before folding them, so it wants two
 * blocks per multiprocessor to overlap one block's arg-min with the other's MMAs (measured on
 * H100, D=128: 256×64 tiles with 2 stages or 128×64 with 1, both with 2+ blocks per SM, beat
 * every 1-block configuration; 380 TFLOP/s at N=1M, K=65536). */
static fkm_status model_pick(const struct fkm__gpu *g, fkm__kernel_spec *s, fkm__spec_layout *l,
                             long long n, long long k) {
  int dp = fkm__padded_d(s->d), wg = fkm__spec_uses_wgmma(s);
  const int(*tiles)[3] = !wg ? mma_tiles : dp > 128 ? wgmma_wide_tiles : wgmma_tiles;
  int count = !wg ? FKM__TILE_COUNT(mma_tiles)
              : dp > 128 ? FKM__TILE_COUNT(wgmma_wide_tiles)
                         : FKM__TILE_COUNT(wgmma_tiles);
  s->block_d = dp <= 128 ? pow2_at_least(dp, 16, 128) : 64;
  if (wg && first_fit(s, l, tiles, count, n, k, g->shared_optin / 2 - 1024) == FKM_OK) return FKM_OK;
  return first_fit(s, l, tiles, count, n, k, g->shared_optin);
}

fkm_status fkm__gpu_assign_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                const fkm_options *o, fkm__kernel_spec *out,
                                fkm__spec_layout *layout) {
  fkm_dtype t = fkm__compute_dtype(p, o, 1);
  *out = fkm__spec_make(FKM_KIND_ASSIGN, o->metric, t,
                        t == FKM_DTYPE_FP32 ? o->precision : FKM_PRECISION_DEFAULT, (int)p->d, g->sm);
  out->arch_specific = g->sm == 90 && t != FKM_DTYPE_FP32; /* sm_90a: warpgroup MMA */
  const fkm_config *c = &o->config;
  if (c->BLOCK_N || c->BLOCK_K || c->BLOCK_D || c->num_warps || c->num_stages) {
    out->block_n = c->BLOCK_N, out->block_k = c->BLOCK_K, out->block_d = c->BLOCK_D;
    out->num_warps = c->num_warps, out->num_stages = c->num_stages;
    char why[256], desc[256];
    if (c->num_ctas > 1)
      return fkm__error(ctx, FKM_ERR_REJECTED, "config: num_ctas > 1 is not supported");
    if (fkm__spec_validate(out, layout, why, sizeof why) != FKM_OK) {
      fkm__spec_describe(out, desc, sizeof desc);
      return fkm__error(ctx, FKM_ERR_REJECTED, "config %s rejected: %s", desc, why);
    }
    return FKM_OK;
  }
  if (model_pick(g, out, layout, p->n, o->k) == FKM_OK) return FKM_OK;
  out->arch_specific = 0; /* e.g. D below the wgmma kernel's 64-column chunk: mma.sync */
  if (model_pick(g, out, layout, p->n, o->k) == FKM_OK) return FKM_OK;
  return fkm__error(ctx, FKM_ERR_REJECTED, "no assign configuration fits sm_%d for D=%lld", g->sm,
                    (long long)p->d);
}
