/* Run setup: shapes, counting-sort tiling, kernels and the one carved-up workspace allocation. */
#include <string.h>

#include "gpu_run.h"

#define FKM__MAX_TILE_ENTRIES (16ll << 20) /* tile-count matrix bound: 64 MiB of int32 */
#define FKM__STATE_BYTES 16
#define FKM__SORT_MAX_TILE 4096   /* scatter's one-warp walk: 128 steps at most */
#define FKM__SORT_MAX_TILES 2048  /* tiles a batch, so each warp of fkm_col_scan scans few */

static int64_t tiles_of(int64_t n, int tile) { return (n + tile - 1) / tile; }

static int small_runs_on = 1; /* fkm__gpu_small_runs */

void fkm__gpu_small_runs(int on) { small_runs_on = on; }

/* Points per counting-sort tile (a block each; one warp walks it in scatter): halved from 1024
 * while the tiles are too few to fill the device and K stays small against the tile; doubled, up
 * to FKM__SORT_MAX_TILE, while the tiles are more than FKM__SORT_MAX_TILES a batch or the
 * [B][T][K] count matrix outgrows the labels (or 2^20 entries); then doubled while the matrix
 * exceeds its bound. */
static void plan_tiles(fkm__gpu_run *run) {
  int64_t b = run->b, n = run->n, k = run->k, labels = b * n > (1 << 20) ? b * n : (1 << 20);
  run->tile = 1024;
  while (run->tile > 128 && b * tiles_of(n, run->tile) < 4096 && k <= run->tile) run->tile /= 2;
  while (run->tile < FKM__SORT_MAX_TILE &&
         (tiles_of(n, run->tile) > FKM__SORT_MAX_TILES || b * tiles_of(n, run->tile) * k > labels))
    run->tile *= 2;
  while (b * tiles_of(n, run->tile) * k > FKM__MAX_TILE_ENTRIES && run->tile < (1 << 30))
    run->tile *= 2;
  run->ntiles = (int)tiles_of(run->n, run->tile);
  run->parts = (int)((run->n + FKM__SPAN_ROWS - 1) / FKM__SPAN_ROWS);
  /* Warps for the clusters of at most FKM__SMALL_RUN members when clusters average under 32 (many
   * small clusters, each too short for a block), rows up to FKM__SMALL_MAX_D wide. */
  run->small_max = small_runs_on && run->d <= FKM__SMALL_MAX_D && n < 32 * k ? FKM__SMALL_RUN : 0;
  /* A cluster of c members takes ⌈c / S⌉ < c / S + 1 segment blocks of S = fkm__segment_rows
   * members, so a batch takes at most ⌈N / S⌉ + (clusters with blocks): K, or with small_max at
   * most N / (small_max + 1) of them. The reduce's grid is this bound, its spare blocks return at
   * once. */
  int64_t big = run->small_max && n / (run->small_max + 1) < k ? n / (run->small_max + 1) : k;
  int64_t segment = fkm__segment_rows(run->dtype, (int)run->d);
  run->segs = (int)((n + segment - 1) / segment + big);
  run->trials = fkm__kmeanspp_trials(run->k);
  run->pp_chunks = (run->n + FKM__PP_CHUNK - 1) / FKM__PP_CHUNK;
}

/* Whether the caller's points can serve as x as they are. */
static int points_direct(const fkm__gpu_run *run) {
  return run->p->dtype == run->dtype && run->d == run->dp && run->o->metric != FKM_METRIC_COSINE;
}

typedef struct {
  CUdeviceptr *view;
  size_t bytes;
} carve;

static size_t layout(fkm__gpu_run *run, carve *c, size_t *count, int device_points) {
  size_t B = (size_t)run->b, N = (size_t)run->n, K = (size_t)run->k, D = (size_t)run->d;
  int direct = points_direct(run);
  size_t n = 0, total = 0;
  c[n++] = (carve){&run->x, direct && device_points ? 0 : B * N * run->dp * run->esize};
  c[n++] = (carve){&run->raw, direct || device_points ? 0 : B * N * D * fkm__dtype_size(run->p->dtype)};
  c[n++] = (carve){&run->c32, B * K * D * 4};
  c[n++] = (carve){&run->ch, fkm__ch_bytes(run->b, run->k, run->dp, run->ch_esize)};
  c[n++] = (carve){&run->cnorm, fkm__cnorm_bytes(run->b, run->k)};
  c[n++] = (carve){&run->labels, B * N * 4};
  c[n++] = (carve){&run->sorted, run->fit ? B * N * 4 : 0};
  c[n++] = (carve){&run->tiles, run->fit ? B * (size_t)run->ntiles * K * 4 : 0};
  c[n++] = (carve){&run->counts, run->fit ? B * K * 4 : 0};
  c[n++] = (carve){&run->start, run->fit ? B * K * 4 : 0};
  size_t S = (size_t)run->segs, segs = run->fit && !run->o->comm; /* one-GPU update */
  c[n++] = (carve){&run->seg_first, segs ? B * K * 4 : 0};
  c[n++] = (carve){&run->seg_arrived, segs ? B * K * 4 : 0};
  c[n++] = (carve){&run->seg_sum, segs ? B * S * D * 8 : 0};
  c[n++] = (carve){&run->seg_w, segs ? B * S * 8 : 0};
  c[n++] = (carve){&run->seg_cluster, segs ? B * S * 4 : 0};
  c[n++] = (carve){&run->seg_small, segs && run->small_max ? B * K * 4 : 0};
  c[n++] = (carve){&run->idx, run->fit ? B * K * 8 : 0};
  c[n++] = (carve){&run->partial, B * (size_t)run->parts * 8};
  c[n++] = (carve){&run->inertia, B * 8};
  c[n++] = (carve){&run->far, run->fit && run->o->empty == FKM_EMPTY_FARTHEST ? B * N * 8 : 0};
  int reports = run->fit && (run->o->on_iter || run->o->comm); /* ranks report if any rank does */
  c[n++] = (carve){&run->prev, reports ? B * N * 4 : 0};
  c[n++] = (carve){&run->stats, reports ? 16 : 0};
  c[n++] = (carve){&run->state, FKM__STATE_BYTES};
  int weights = run->fit && run->o->sample_weight, pp = run->fit && run->o->init == FKM_INIT_KMEANSPP;
  size_t T = (size_t)run->trials, best = run->fit && run->o->n_init > 1;
  c[n++] = (carve){&run->w, weights && !device_points ? B * N * 4 : 0};
  c[n++] = (carve){&run->d2, pp ? B * N * 8 : 0};
  c[n++] = (carve){&run->picked, pp ? B * N : 0};
  c[n++] = (carve){&run->pp_chunk, pp ? B * (size_t)run->pp_chunks * 8 : 0};
  c[n++] = (carve){&run->pp, pp ? B * FKM__PP_BYTES : 0};
  c[n++] = (carve){&run->closer, pp ? B * N * 4 : 0};
  c[n++] = (carve){&run->cand, pp ? B * T * 8 : 0};
  c[n++] = (carve){&run->pot, pp ? B * T * 8 : 0};
  c[n++] = (carve){&run->pp_gap, pp ? B * K * ((T + 3) & ~(size_t)3) * 4 : 0};
  int screen = pp && run->dtype != FKM_DTYPE_FP32; /* the tensor-core screen's sides */
  c[n++] = (carve){&run->pp_side, screen ? B * T * 8 : 0};
  c[n++] = (carve){&run->pp_xside, screen ? B * N * 8 : 0};
  c[n++] = (carve){&run->pp_near, pp ? B * N * 8 : 0};
  c[n++] = (carve){&run->pp_near_t, pp ? B * N : 0};
  c[n++] = (carve){&run->best_c32, best ? B * K * D * 4 : 0};
  c[n++] = (carve){&run->best_labels, best ? B * N * 4 : 0};
  c[n++] = (carve){&run->best_inertia, best ? B * 8 : 0};
  size_t G = FKM__ACC_SLOTS, acc = run->fit && run->o->comm; /* multi-GPU update */
  c[n++] = (carve){&run->acc, acc ? B * K * G * run->dp * 8 : 0};
  c[n++] = (carve){&run->accw, acc ? B * K * G * 8 : 0};
  c[n++] = (carve){&run->seen, acc ? B * K * 8 : 0};
  for (size_t i = 0; i < n; i++) total += fkm__device_aligned(c[i].bytes);
  *count = n;
  return total;
}

fkm_status fkm__run_allocate(fkm__gpu_run *run, int device_points) {
  carve c[48];
  size_t count, total = layout(run, c, &count, device_points);
  CUresult r = run->cu->cuMemAlloc(&run->block, total);
  if (r != CUDA_SUCCESS) {
    fkm__cuda_error(run->ctx, r, "cuMemAlloc");
    return fkm__error(run->ctx, FKM_ERR_DEVICE_MEMORY, "workspace of %zu bytes", total);
  }
  CUdeviceptr at = run->block;
  for (size_t i = 0; i < count; i++) {
    *c[i].view = c[i].bytes ? at : 0;
    at += fkm__device_aligned(c[i].bytes);
  }
  if (run->seg_arrived) /* fkm_reduce_segments leaves it zero */
    FKM_CU_TRY(run->ctx, run->cu,
               cuMemsetD32Async(run->seg_arrived, 0, (size_t)(run->b * run->k), run->stream));
  if (!run->x) run->x = (CUdeviceptr)(uintptr_t)run->p->data;
  if (run->fit && run->o->sample_weight && device_points)
    run->w = (CUdeviceptr)(uintptr_t)run->o->sample_weight;
  return FKM_OK;
}

size_t fkm__run_bytes(fkm__gpu_run *run, int device_points) {
  carve c[48];
  size_t count;
  return layout(run, c, &count, device_points);
}

fkm_status fkm__run_prepare(fkm__gpu_run *run, fkm_ctx *ctx, const fkm_points *p,
                            const fkm_options *o, int fit, int device_points, CUstream stream) {
  memset(run, 0, sizeof *run);
  run->ctx = ctx;
  run->p = run->spec_points = p;
  run->o = o;
  run->fit = fit;
  run->device_points = device_points;
  run->stream = stream;
  run->b = p->batches, run->n = p->n, run->d = p->d, run->k = o->k;
  run->dp = fkm__padded_d((int)p->d);
  run->dtype = fkm__compute_dtype(p, o, 1);
  run->esize = fkm__dtype_size(run->dtype);
  run->ch_esize = fkm__ch_esize(run->dtype, o->precision);
  fkm_status st = fkm__gpu_open(ctx, o->device, &run->g);
  if (st != FKM_OK) return st;
  run->cu = run->g->cu;
  plan_tiles(run);
  return FKM_OK;
}

fkm_status fkm__run_setup(fkm__gpu_run *run, fkm_ctx *ctx, const fkm_points *p,
                          const fkm_options *o, int fit, int device_points, CUstream stream) {
  fkm_status st = fkm__run_prepare(run, ctx, p, o, fit, device_points, stream);
  if (st == FKM_OK) st = fkm__run_kernels(run);
  return st == FKM_OK ? fkm__run_allocate(run, device_points) : st;
}

void fkm__run_release(fkm__gpu_run *run) {
  if (run->ooc) fkm__ooc_release(run);
  if (run->block) run->cu->cuMemFree(run->block);
  run->block = 0;
}
