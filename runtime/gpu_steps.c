/* The stream-ordered steps of a GPU run: layout, init, one Lloyd iteration, final assignment. */
#include <stdlib.h>

#include "comm.h"
#include "gpu_run.h"

static int storage_code(fkm_dtype t) { return (int)t; /* 1 fp16, 2 bf16, 3 fp32, 4 fp64 */ }

fkm_status fkm__run_load_points(fkm__gpu_run *run, int device_points) {
  if (run->ooc) return FKM_OK; /* streamed chunk by chunk */
  int64_t rows = run->b * run->n;
  CUdeviceptr src = (CUdeviceptr)(uintptr_t)run->p->data;
  if (!device_points) {
    size_t bytes = (size_t)(rows * run->d) * fkm__dtype_size(run->p->dtype);
    CUdeviceptr dst = run->raw ? run->raw : run->x;
    FKM_CU_TRY(run->ctx, run->cu, cuMemcpyHtoDAsync(dst, run->p->data, bytes, run->stream));
    if (!run->raw) return FKM_OK;
    src = run->raw;
  } else if (run->x == src) {
    return FKM_OK;
  }
  return fkm__run_convert(run, src, rows);
}

fkm_status fkm__run_convert(fkm__gpu_run *run, CUdeviceptr src, int64_t rows) {
  int code = storage_code(run->p->dtype);
  FKM__LAUNCH(run, run->kern.convert, fkm__row_blocks(rows), 1, 256, 0, &src, &code, &run->x, &rows);
  return FKM_OK;
}

fkm_status fkm__run_load_weights(fkm__gpu_run *run) {
  if (!run->o->sample_weight || run->device_points || run->ooc) return FKM_OK;
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyHtoDAsync(run->w, run->o->sample_weight,
                                                 (size_t)(run->b * run->n) * 4, run->stream));
  return FKM_OK;
}

fkm_status fkm__run_gather(fkm__gpu_run *run) {
  int64_t rows = run->b * run->k;
  FKM__LAUNCH(run, run->kern.gather, fkm__row_blocks(rows), 1, 256, 0, &run->x, &run->idx,
              &run->c32, &run->n, &run->k, &run->b);
  return FKM_OK;
}

fkm_status fkm__run_host_weights(fkm__gpu_run *run, const float **w, float **copy) {
  *copy = NULL;
  *w = run->o->sample_weight;
  if (!*w || !run->device_points) return FKM_OK;
  size_t bytes = (size_t)(run->b * run->n) * 4;
  if (!(*copy = malloc(bytes))) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for the weights");
  *w = *copy;
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyDtoHAsync(*copy, run->w, bytes, run->stream));
  FKM_CU_TRY(run->ctx, run->cu, cuStreamSynchronize(run->stream));
  return FKM_OK;
}

typedef struct rank_pick {
  int64_t rank; /* among the points of positive weight */
  int64_t slot; /* its place in the batch's picks */
} rank_pick;

static int by_rank(const void *a, const void *b) {
  int64_t x = ((const rank_pick *)a)->rank, y = ((const rank_pick *)b)->rank;
  return (x > y) - (x < y);
}

/* One pass over the weights with the picks in rank order (scratch: count entries, never n). */
fkm_status fkm__rank_indices(const float *w, int64_t n, int64_t count, int64_t *out) {
  if (!w || !count) return FKM_OK;
  rank_pick *order = malloc((size_t)count * sizeof *order);
  if (!order) return FKM_ERR_NOMEM;
  for (int64_t j = 0; j < count; j++) order[j] = (rank_pick){out[j], j};
  qsort(order, (size_t)count, sizeof *order, by_rank);
  for (int64_t i = 0, m = 0, j = 0; i < n && j < count; i++) {
    if (!(w[i] > 0.0f)) continue;
    for (; j < count && order[j].rank == m; j++) out[order[j].slot] = i;
    m++;
  }
  free(order);
  return FKM_OK;
}

/* Points of positive weight of batch b on each rank (one rank on one GPU): positive [ranks]. */
static void positive_counts(const fkm__gpu_run *run, const float *w, int64_t b, int64_t *positive) {
  if (run->comm) {
    fkm__dist_positive(run->dist, fkm_comm_size(run->comm), b, positive);
    return;
  }
  const float *wb = w ? w + b * run->n : NULL;
  positive[0] = run->n;
  if (wb) {
    positive[0] = 0;
    for (int64_t i = 0; i < run->n; i++) positive[0] += wb[i] > 0.0f;
  }
}

/* The random init's picks as the CPU engine draws them over the global points: idx [B][K] local
 * indices of the picks this rank holds (owned [B][K] = 1; every pick on one GPU), 0 for the others.
 * Weights are read back from the device when they live there. */
static fkm_status random_picks(fkm__gpu_run *run, uint64_t seed, int64_t *idx,
                               unsigned char *owned) {
  int size = run->comm ? fkm_comm_size(run->comm) : 1;
  int rank = run->comm ? fkm_comm_rank(run->comm) : 0;
  int64_t *positive = malloc((size_t)size * sizeof *positive);
  const float *w = NULL;
  float *copy = NULL;
  fkm_status st = positive ? fkm__run_host_weights(run, &w, &copy) : FKM_ERR_NOMEM;
  for (int64_t b = 0; b < run->b && st == FKM_OK; b++) {
    positive_counts(run, w, b, positive);
    st = fkm__dist_own_picks(seed, b, run->k, positive, size, rank, w ? w + b * run->n : NULL,
                             run->n, idx + b * run->k, owned + b * run->k);
  }
  free(positive);
  free(copy);
  return st == FKM_ERR_NOMEM ? fkm__error(run->ctx, st, "out of memory for the init picks") : st;
}

/* The rows idx [B][K] (host) of the points into c32. */
static fkm_status gather_picks(fkm__gpu_run *run, const int64_t *idx) {
  if (run->ooc) return fkm__ooc_gather_picks(run, idx);
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyHtoDAsync(run->idx, idx, (size_t)(run->b * run->k) * 8, run->stream));
  FKM_CU_TRY(run->ctx, run->cu, cuStreamSynchronize(run->stream)); /* idx is freed next */
  return fkm__run_gather(run);
}

/* The random init: the CPU engine's picks (over the global points on a multi-GPU rank, whose
 * rows the ranks that hold them share), gathered into c32. */
static fkm_status random_init(fkm__gpu_run *run, uint64_t seed) {
  size_t count = (size_t)(run->b * run->k);
  int64_t *idx = malloc(count * sizeof *idx);
  unsigned char *owned = malloc(count);
  fkm_status st = idx && owned ? FKM_OK
                               : fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for the init picks");
  if (st == FKM_OK) st = random_picks(run, seed, idx, owned);
  if (st == FKM_OK) st = gather_picks(run, idx);
  if (run->comm) st = fkm__comm_agree(run->ctx, run->comm, st); /* all share, or none */
  if (st == FKM_OK && run->comm) st = fkm__dist_share_rows(run, owned);
  free(idx);
  free(owned);
  return st;
}

/* Copies [B][K][D] fp32 centroids from the caller (host or device) into c32. */
static fkm_status copy_centroids(fkm__gpu_run *run, const float *src, int device_points) {
  size_t bytes = (size_t)(run->b * run->k * run->d) * 4;
  if (device_points)
    FKM_CU_TRY(run->ctx, run->cu,
               cuMemcpyDtoDAsync(run->c32, (CUdeviceptr)(uintptr_t)src, bytes, run->stream));
  else
    FKM_CU_TRY(run->ctx, run->cu, cuMemcpyHtoDAsync(run->c32, src, bytes, run->stream));
  return FKM_OK;
}

/* c32 = the caller's centroids, scaled to unit length when unit is set. */
static fkm_status take_centroids(fkm__gpu_run *run, const float *c, int device_points, int unit) {
  fkm_status st = copy_centroids(run, c, device_points);
  if (st != FKM_OK || !unit) return st;
  int64_t rows = run->b * run->k;
  FKM__LAUNCH(run, run->kern.normalise, fkm__row_blocks(rows), 1, 256, 0, &run->c32, &rows);
  return FKM_OK;
}

fkm_status fkm__run_init_centroids(fkm__gpu_run *run, uint64_t seed) {
  if (run->o->init == FKM_INIT_RANDOM) return random_init(run, seed);
  if (run->o->init == FKM_INIT_KMEANSPP) return fkm__run_kmeanspp(run, seed);
  return take_centroids(run, run->o->init_centroids, run->device_points,
                        run->o->metric != FKM_METRIC_L2);
}

/* Given centroids for predict: c32 = the caller's, unit length for cosine. */
fkm_status fkm__run_set_centroids(fkm__gpu_run *run, const float *c, int device_points) {
  return take_centroids(run, c, device_points, run->o->metric == FKM_METRIC_COSINE);
}

fkm_status fkm__run_prep_centroids(fkm__gpu_run *run, const fkm__spec_layout *l, CUdeviceptr done) {
  int64_t rows = run->b * run->k;
  int k = (int)run->k;
  int layout = l->cluster > 1 ? FKM__CH_SWIZZLED : l->split ? FKM__CH_PLANES : FKM__CH_ROWS;
  FKM__LAUNCH(run, run->kern.prep, fkm__row_blocks(rows), 1, 256, 0, &run->c32, &run->ch,
              &run->cnorm, &rows, &k, &layout, &done);
  return FKM_OK;
}

fkm_status fkm__run_assign(fkm__gpu_run *run, CUdeviceptr done) {
  int k = (int)run->k;
  const fkm__spec_layout *l = &run->kern.assign_layout;
  fkm_status st = fkm__run_prep_centroids(run, l, done);
  if (st != FKM_OK) return st;
  unsigned blocks = fkm__assign_blocks(run->n, l);
  FKM__LAUNCH(run, run->kern.assign, blocks, (unsigned)run->b, (unsigned)l->threads, l->shared, &run->x,
         &run->ch, &run->cnorm, &run->labels, &run->n, &k, &done);
  return FKM_OK;
}

fkm_status fkm__run_inertia(fkm__gpu_run *run, int accumulate) {
  int k = (int)run->k;
  FKM__LAUNCH(run, run->kern.point_inertia, (unsigned)run->parts, (unsigned)run->b, 256, 0, &run->x,
         &run->w, &run->labels, &run->c32, &run->partial, &run->n, &k);
  FKM__LAUNCH(run, run->kern.sum_partials, (unsigned)run->b, 1, 32, 0, &run->partial, &run->parts,
         &run->inertia, &accumulate);
  return FKM_OK;
}

/* Threads of a tile_hist or scatter block: a warp per 1024 of tile + K (the block's share of
 * counters and labels), at most 8, so many small tiles keep 32 blocks an SM. */
static unsigned sort_threads(const fkm__gpu_run *run) {
  int64_t warps = (run->tile + run->k + 1023) / 1024;
  return (unsigned)(32 * (warps < 8 ? warps : 8));
}

/* Where tile_hist and scatter keep a tile's counters (FKM_COUNTERS_* of templates/update.cu), and
 * their dynamic shared bytes: K ints within 48 KiB; else K 16-bit ones, and scatter's staged tile
 * of 2 ints a point, within the opt-in limit while a tile's counts stay under 2^16; else the
 * tile's row of the global count matrix. Both kernels may take the opt-in limit (set when they
 * are loaded: fkm__run_kernels). */
static int sort_counters(const fkm__gpu_run *run, size_t *hist_bytes, size_t *scatter_bytes) {
  size_t ints = (size_t)run->k * 4, halves = (size_t)(run->k + 1) / 2 * 4;
  size_t staged = halves + (size_t)run->tile * 8;
  *hist_bytes = *scatter_bytes = 0;
  if (ints <= 48 * 1024) return *hist_bytes = *scatter_bytes = ints, FKM__COUNTERS_SHARED;
  if (run->tile < 65536 && staged <= run->g->shared_optin)
    return *hist_bytes = halves, *scatter_bytes = staged, FKM__COUNTERS_PACKED;
  return FKM__COUNTERS_GLOBAL;
}

/* Lanes a cluster of fkm_col_scan (its `spread`): the fewest, up to 4, whose blocks (32 / spread
 * clusters each) number at least the multiprocessors, as whole 128-byte rows read best. */
static int scan_spread(const fkm__gpu_run *run) {
  int spread = 1, sms = run->g->multiprocessors;
  while (spread < 4 && run->b * ((run->k * spread + 31) / 32) < sms) spread *= 2;
  return spread;
}

fkm_status fkm__run_sort(fkm__gpu_run *run, CUdeviceptr done) {
  size_t hist_bytes, scatter_bytes;
  int k = (int)run->k, shared = sort_counters(run, &hist_bytes, &scatter_bytes);
  unsigned threads = sort_threads(run);
  if (shared == FKM__COUNTERS_GLOBAL)
    FKM_CU_TRY(run->ctx, run->cu,
               cuMemsetD32Async(run->tiles, 0, (size_t)(run->b * run->ntiles * run->k), run->stream));
  FKM__LAUNCH(run, run->kern.tile_hist, (unsigned)run->ntiles, (unsigned)run->b, threads, hist_bytes,
         &run->labels, &run->w, &run->tiles, &run->n, &k, &run->tile, &run->ntiles, &shared, &done);
  int spread = scan_spread(run);
  FKM__LAUNCH(run, run->kern.col_scan, (unsigned)((k * spread + 31) / 32), (unsigned)run->b,
              32 * FKM__SCAN_WARPS, 0, &run->tiles, &run->counts, &k, &run->ntiles, &spread, &done);
  FKM__LAUNCH(run, run->kern.k_scan, (unsigned)((run->k + FKM__SCAN_PASS - 1) / FKM__SCAN_PASS),
              (unsigned)run->b, 256, 0, &run->counts, &run->start,
              &run->seg_first, &run->seg_cluster, &run->seg_small, &run->small_max, &run->segs, &k,
              &done);
  FKM__LAUNCH(run, run->kern.scatter, (unsigned)run->ntiles, (unsigned)run->b, threads, scatter_bytes,
         &run->labels, &run->w, &run->tiles, &run->start, &run->sorted, &run->n, &k, &run->tile,
         &run->ntiles, &shared, &done);
  return FKM_OK;
}

/* FKM_EMPTY_FARTHEST: relabels the farthest points into the empty clusters, then sorts again. */
static fkm_status relocate_empty(fkm__gpu_run *run, CUdeviceptr done) {
  int k = (int)run->k;
  FKM__LAUNCH(run, run->kern.relocate, (unsigned)run->b, 1, 256, 0, &run->x, &run->w, &run->labels, &run->counts,
         &run->c32, &run->far, &run->n, &k, &run->state);
  return fkm__run_sort(run, done);
}

fkm_status fkm__run_mark(fkm__gpu_run *run, CUevent *marks, int i) {
  if (marks) FKM_CU_TRY(run->ctx, run->cu, cuEventRecord(marks[i], run->stream));
  return FKM_OK;
}

fkm_status fkm__run_iteration_stats(fkm__gpu_run *run) {
  int64_t points = run->b * run->n, clusters = run->b * run->k;
  FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(run->stats, 0, 16, run->stream));
  FKM__LAUNCH(run, run->kern.iter_stats, fkm__row_blocks(points), 1, 256, 0, &run->labels, &run->prev,
         &run->counts, &run->stats, &points, &clusters);
  return FKM_OK;
}

size_t fkm__reduce_shared(const fkm__gpu_run *run, int with_mean) {
  size_t mean = with_mean ? ((size_t)run->d + 3) / 4 * 16 : 0;
  return mean + FKM__REDUCE_WARPS * FKM__STAGE_BYTES(run->esize);
}

fkm_status fkm__run_accumulate(fkm__gpu_run *v, int64_t b) {
  size_t K = (size_t)v->k, G = FKM__ACC_SLOTS;
  CUdeviceptr acc = v->acc + (size_t)b * K * G * (size_t)v->dp * 8;
  CUdeviceptr accw = v->accw + (size_t)b * K * G * 8, seen = v->seen + (size_t)b * K * 8;
  FKM__LAUNCH(v, v->kern.reduce_chunk, (unsigned)v->k, 1, 256, fkm__reduce_shared(v, 0), &v->x,
              &v->w, &v->sorted, &v->start, &v->counts, &acc, &accw, &seen);
  return FKM_OK;
}

fkm_status fkm__run_finalize_acc(fkm__gpu_run *run, CUdeviceptr stats, float tol, CUevent *marks) {
  int k = (int)run->k;
  FKM__LAUNCH(run, run->kern.finalize_acc, (unsigned)run->k, (unsigned)run->b, 256,
              (size_t)run->d * 4, &run->acc, &run->accw, &run->c32, &run->state, &k, &stats);
  FKM__LAUNCH(run, run->kern.check, 1, 1, 1, 0, &run->state, &tol);
  return fkm__run_mark(run, marks, 2);
}

fkm_status fkm__run_iteration(fkm__gpu_run *run, int with_report, float tol, CUevent *marks) {
  if (run->ooc) return fkm__ooc_iteration(run, with_report, tol, marks);
  if (run->comm) return fkm__dist_iteration(run, with_report, tol, marks);
  CUdeviceptr done = run->state; /* struct fkm_state starts with the flag */
  int k = (int)run->k;
  fkm_status st = fkm__run_mark(run, marks, 0);
  if (st == FKM_OK) st = fkm__run_assign(run, done);
  if (st == FKM_OK) st = fkm__run_mark(run, marks, 1);
  if (st == FKM_OK && with_report) st = fkm__run_inertia(run, 0);
  if (st == FKM_OK) st = fkm__run_sort(run, done);
  if (st == FKM_OK && with_report) st = fkm__run_iteration_stats(run);
  if (st == FKM_OK && run->o->empty == FKM_EMPTY_FARTHEST) st = relocate_empty(run, done);
  if (st != FKM_OK) return st;
  FKM__LAUNCH(run, run->kern.reduce, (unsigned)run->segs, (unsigned)run->b, 256,
              fkm__reduce_shared(run, 1), &run->x, &run->w, &run->sorted, &run->start,
              &run->counts, &run->seg_first, &run->seg_cluster, &run->seg_sum, &run->seg_w,
              &run->seg_arrived, &run->c32, &run->state, &run->n, &k);
  if (run->small_max)
    FKM__LAUNCH(run, run->kern.reduce_small, (unsigned)((run->k + FKM__REDUCE_WARPS - 1) / FKM__REDUCE_WARPS),
                (unsigned)run->b, 32 * FKM__REDUCE_WARPS, FKM__REDUCE_WARPS * (size_t)run->d * 4, &run->x,
                &run->w, &run->sorted, &run->start, &run->counts, &run->seg_small, &run->c32,
                &run->state, &run->n, &k);
  FKM__LAUNCH(run, run->kern.check, 1, 1, 1, 0, &run->state, &tol);
  return fkm__run_mark(run, marks, 2);
}

fkm_status fkm__run_assign_final(fkm__gpu_run *run) {
  if (run->ooc) return fkm__ooc_final(run);
  if (run->comm) return fkm__dist_assign_final(run);
  fkm_status st = fkm__run_assign(run, 0);
  return st == FKM_OK ? fkm__run_inertia(run, 0) : st;
}
