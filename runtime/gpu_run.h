/* One GPU fit or predict call: its shapes, kernels and carved-up workspace. */
#ifndef FKM_GPU_RUN_H
#define FKM_GPU_RUN_H

#include "gpu.h"
#include "ooc.h"

/* Mirrors of templates/seed.cu: points per k-means++ chunk (FKM_PP_CHUNK), points a thread of
 * fkm_pp_add_centre (FKM_PP_SPAN), bytes of struct fkm_pp (max_bits, total, winner), blocks an SM
 * keeps of fkm_pp_potential (FKM_PP_POTENTIAL_BLOCKS). */
#define FKM__PP_CHUNK 2048
#define FKM__PP_SPAN 4
#define FKM__PP_BYTES 24
#define FKM__PP_POTENTIAL_BLOCKS 4
#define FKM__SCAN_WARPS 32 /* warps of a fkm_col_scan block: FKM_SCAN_WARPS of update.cu */
#define FKM__SCAN_PASS 4096 /* clusters of a fkm_k_scan block: FKM_SCAN_PASS of update.cu */
/* Shared bytes of a reduce warp's staging ring of element size es: fkm_stage of finalize.cu, 24
 * rows of 128 elements and 24 weights. */
#define FKM__STAGE_BYTES(es) (24 * (128 * (size_t)(es) + 4))
#define FKM__SMALL_RUN 128  /* most members of a cluster summed in one warp: FKM_SMALL_RUN */
#define FKM__SMALL_MAX_D 256 /* widest rows summed so (a warp walks a row's spans one by one) */
#define FKM__REDUCE_WARPS 8   /* warps of a reduce block: FKM_GROUPS of finalize.cu */
/* Centroid layouts of ch (norms.cu's FKM_CH_*): rows, the clustered kernel's swizzle, 3×TF32's
 * hi and lo planes. */
#define FKM__CH_ROWS 0
#define FKM__CH_SWIZZLED 1
#define FKM__CH_PLANES 2
/* Where the counting sort keeps a tile's counters: FKM_COUNTERS_* of templates/update.cu */
#define FKM__COUNTERS_GLOBAL 0
#define FKM__COUNTERS_SHARED 1
#define FKM__COUNTERS_PACKED 2

typedef struct fkm__gpu_kernels {
  CUfunction convert, prep, gather, normalise;        /* norms module */
  CUfunction tile_hist, col_scan, k_scan, scatter;    /* update module */
  CUfunction reduce, reduce_small, check, point_inertia, sum_partials, relocate, iter_stats; /* finalize */
  CUfunction reduce_chunk, finalize_acc; /* finalize: the out-of-core update */
  CUfunction pp_add_centre, pp_chunk_sums, pp_pick, pp_gaps, pp_potential, pp_choose; /* seed (k-means++) */
  CUfunction assign;
  fkm__spec_layout assign_layout;
} fkm__gpu_kernels;

typedef struct fkm__gpu_run {
  fkm_ctx *ctx;
  struct fkm__gpu *g;
  const fkm__cuda_api *cu;
  CUstream stream;
  const fkm_points *p;
  const fkm_options *o;
  int64_t b, n, d, k;
  int dp;                 /* D padded to 16 */
  fkm_dtype dtype;        /* compute dtype */
  size_t esize;           /* bytes per compute element */
  size_t ch_esize;        /* bytes per centroid element of ch (fkm__ch_esize) */
  int fit;                /* 1: fit (sort buffers), 0: predict */
  int tile, ntiles;       /* counting-sort tiles: points per tile, tiles per batch */
  int parts;              /* inertia partial sums per batch: spans of FKM__SPAN_ROWS points */
  int segs;               /* update segments a batch can have (plan_tiles' bound) */
  int small_max;          /* clusters of at most this many members are summed in one warp */
  int trials;             /* k-means++ trials per step (fkm__kmeanspp_trials(K)) */
  int64_t pp_chunks;      /* k-means++ chunks of points per batch */
  int device_points;      /* 1: the caller's buffers are device memory */
  struct fkm__ooc *ooc;   /* owned: set when the points stream through in chunks (gpu_ooc.c) */
  fkm_comm *comm;         /* borrowed (o->comm): this run is one rank of a multi-GPU fit */
  struct fkm__dist *dist; /* borrowed, with comm: the fit's global shape (gpu_dist.c) */
  const fkm_points *spec_points; /* the shape the assign configuration is picked for: p, or a
                                    multi-GPU fit's global shape (so every rank runs the one-GPU
                                    fit's kernel) */
  fkm__gpu_kernels kern;
  CUdeviceptr block;      /* the one workspace allocation */
  /* Views into block (0 when absent). Shapes: x [B][N][DP] compute dtype (or the caller's points),
   * raw [B][N][D] storage dtype, c32 [B][K][D] f32, ch (room for [B][kp][DP] of ch_esize bytes:
   * [B·K][DP] for unclustered kernels, the clustered layout of norms.cu, or [B][2][K][DP] for
   * 3×TF32's planes), cnorm [B][kp] f32 (kp = fkm__kpad_rows(K)), labels/sorted [B][N] i32,
   * tiles [B][T][K] i32,
   * counts/start/seg_first/seg_arrived [B][K] i32, seg_sum [B][segs][D] f64, seg_w [B][segs] f64,
   * seg_cluster [B][segs] i32, seg_small [B][K] i32 (the small clusters, fkm_reduce_small_runs), idx [B][K] i64,
   * partial [B][parts] f64, inertia [B] f64, far [B][N] f64 (farthest policy), prev [B][N] i32
   * and stats [2] u64 (per-iteration reports), state: struct fkm_state; w [B][N] f32 (the sample
   * weights, or the caller's); k-means++: d2 [B][N] f64, picked [B][N] u8, pp_chunk [B][C] u64,
   * pp [B] struct fkm_pp, closer [B][N] u32, cand [B][T] i64, pot [B][T] u64, pp_gap [B][K][TP]
   * f32 (TP = T rounded up to 4), pp_side [B][T] and pp_xside [B][N] struct fkm_pp_side (fp16
   * and bf16 rows: the tensor-core screen's), pp_near [B][N] f64, pp_near_t [B][N] u8 (labels
   * hold the seeding's nearest centres); restarts (n_init > 1): the best so far in best_c32
   * [B][K][D] f32, best_labels [B][N] i32, best_inertia [B] f64; the update by partial sums
   * (out-of-core or multi-GPU: fkm__run_accumulate) acc [B][K][G + 1][DP] f64, accw
   * [B][K][G + 1] f64, seen [B][K] i64. */
  CUdeviceptr x, raw, c32, ch, cnorm, labels, sorted, tiles, counts, start, seg_first, seg_arrived,
      seg_sum, seg_w, seg_cluster, seg_small, idx, partial, inertia,
      far, prev, stats, state, w, d2, picked, pp_chunk, pp, closer, cand, pot, pp_gap, pp_side,
      pp_xside, pp_near, pp_near_t, best_c32, best_labels, best_inertia, acc, accw, seen;
} fkm__gpu_run;

/* Stream-ordered launch of f on run's stream with 1-D blocks; returns from the calling function
 * on failure. The variadic arguments are the kernel's argument addresses. */
#define FKM__LAUNCH(run, f, gx, gy, threads, shared, ...)                                 \
  do {                                                                                    \
    void *args_[] = {__VA_ARGS__};                                                        \
    fkm_status st_ = fkm__launch((run)->ctx, (run)->g, f, gx, gy, threads, shared,        \
                                 (run)->stream, args_);                                   \
    if (st_ != FKM_OK) return st_;                                                        \
  } while (0)

/* Blocks of a warp-per-row kernel (256 threads, 8 rows each) over `rows` rows, capped (the kernels
 * stride over the rest). */
static inline unsigned fkm__row_blocks(int64_t rows) {
  int64_t blocks = (rows + 7) / 8;
  return (unsigned)(blocks < 8192 ? blocks : 8192);
}

/* Fills run's shapes and tiling for these points and options and opens the device (no kernels, no
 * workspace). */
fkm_status fkm__run_prepare(fkm__gpu_run *run, fkm_ctx *ctx, const fkm_points *p,
                            const fkm_options *o, int fit, int device_points, CUstream stream);
/* Bytes of the workspace fkm__run_setup allocates for a prepared run. */
size_t fkm__run_bytes(fkm__gpu_run *run, int device_points);
/* fkm__run_prepare, then resolves every kernel (compiling what is missing) and allocates the
 * workspace. */
fkm_status fkm__run_setup(fkm__gpu_run *run, fkm_ctx *ctx, const fkm_points *p,
                          const fkm_options *o, int fit, int device_points, CUstream stream);
/* Allocates the in-memory workspace of a prepared run whose kernels are resolved. */
fkm_status fkm__run_allocate(fkm__gpu_run *run, int device_points);
void fkm__run_release(fkm__gpu_run *run);
/* Resolves run->kern for run's shapes (gpu_kernels.c). */
fkm_status fkm__run_kernels(fkm__gpu_run *run);

/* rows of the caller's storage dtype at src (device) into x in the compute layout. */
fkm_status fkm__run_convert(fkm__gpu_run *run, CUdeviceptr src, int64_t rows);
/* Points (host or device memory) into x in the compute layout (nothing when streamed). */
fkm_status fkm__run_load_points(fkm__gpu_run *run, int device_points);
/* Sample weights (when given) into w. */
fkm_status fkm__run_load_weights(fkm__gpu_run *run);
/* Initial centroids into c32 per opts with this seed: random picks, k-means++ picks, or the given
 * ones (unit length for cosine and dot). */
fkm_status fkm__run_init_centroids(fkm__gpu_run *run, uint64_t seed);
/* k-means++ picks of every batch into idx [B][K] (gpu_seed.c; the procedure of
 * runtime/init_kmeanspp.c, so the CPU engine's picks). */
fkm_status fkm__run_kmeanspp(fkm__gpu_run *run, uint64_t seed);
/* The indices idx [B][K] of x gathered into c32 (unit length for cosine and dot). */
fkm_status fkm__run_gather(fkm__gpu_run *run);
/* One Lloyd iteration (stream-ordered; kernels skip once the state's flag is set). with_report
 * also leaves the assignment's inertia in `inertia` and its changed/empty counts in `stats`; marks (NULL or 3 events) are recorded before
 * the assignment, after it, and after the update. */
fkm_status fkm__run_iteration(fkm__gpu_run *run, int with_report, float tol, CUevent *marks);
/* Predict: the caller's centroids [B][K][D] fp32 into c32 (unit length for cosine). */
fkm_status fkm__run_set_centroids(fkm__gpu_run *run, const float *c, int device_points);
/* Labels of every point against c32, and the inertia per batch. */
fkm_status fkm__run_assign_final(fkm__gpu_run *run);
/* inertia [B] = Σ w·‖x − c32[label]‖² over the run's points in fixed spans of FKM__SPAN_ROWS,
 * added to inertia's value when accumulate is set (a batch's chunks in order), else from 0. */
fkm_status fkm__run_inertia(fkm__gpu_run *run, int accumulate);
/* ch, cnorm from c32 in the centroid layout the assign kernel of layout l reads (clustered when
 * l->cluster > 1); done as fkm__run_assign's. */
fkm_status fkm__run_prep_centroids(fkm__gpu_run *run, const fkm__spec_layout *l, CUdeviceptr done);
/* ch, cnorm from c32, then labels of x; done = the state's flag, or 0 for an unconditional pass. */
fkm_status fkm__run_assign(fkm__gpu_run *run, CUdeviceptr done);
/* Counting sort of labels into sorted runs per cluster (tiles, counts, start). The per-tile
 * counters live in shared memory when K ints fit the default 48 KiB. */
fkm_status fkm__run_sort(fkm__gpu_run *run, CUdeviceptr done);
/* The sample weights [B][N] in host memory (NULL without weights): the caller's, or a copy of the
 * caller's device ones into *copy (owned by the caller of this function; NULL when not copied). */
fkm_status fkm__run_host_weights(fkm__gpu_run *run, const float **w, float **copy);
/* out [count]: ranks (in any order) among the points of positive weight in w [n] (host) made point
 * indices; nothing to do when w is NULL (every point counts). FKM_ERR_NOMEM (no detail) or FKM_OK. */
fkm_status fkm__rank_indices(const float *w, int64_t n, int64_t count, int64_t *out);
/* Records marks[i] on run's stream (nothing when marks is NULL). */
fkm_status fkm__run_mark(fkm__gpu_run *run, CUevent *marks, int i);
/* Changed labels and empty clusters of this assignment into stats (before the empty policy). */
fkm_status fkm__run_iteration_stats(fkm__gpu_run *run);
/* Dynamic shared bytes of a reduce block: the warps' staging rings (fkm_stage of finalize.cu),
 * after the block's mean of D floats padded to 16 bytes when with_mean (fkm_reduce_segments; not
 * for fkm_reduce_chunk). */
size_t fkm__reduce_shared(const fkm__gpu_run *run, int with_mean);
/* Adds the sorted runs of view v (one batch: x, w, sorted, start, counts of its points, in point
 * order after the points already added) into batch b's acc, accw, seen (fkm_reduce_chunk). */
fkm_status fkm__run_accumulate(fkm__gpu_run *v, int64_t b);
/* The means from acc and accw into c32 (fkm_finalize_acc; empty clusters counted into stats when
 * not 0), the convergence check against tol, and marks[2]. */
fkm_status fkm__run_finalize_acc(fkm__gpu_run *run, CUdeviceptr stats, float tol, CUevent *marks);

/* ---- one rank of a multi-GPU fit (gpu_dist.c) ------------------------------------------------ */
struct fkm__dist;
/* Gathers every rank's shape and options (which must agree: FKM_ERR_INVALID_ARG naming the first
 * that does not), point counts and positive-weight counts of o->sample_weight (device memory read
 * on stream when device is set) into *out (owned; fkm__dist_free), and checks K against the global
 * points. A collective that every rank of o->comm joins, also one that failed before it (its
 * peers then get FKM_ERR_COMM). */
fkm_status fkm__dist_create(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, int device,
                            void *stream, struct fkm__dist **out);
void fkm__dist_free(struct fkm__dist *d);
/* This rank's points described with the global N (borrowed from d). */
const fkm_points *fkm__dist_points(const struct fkm__dist *d);
/* Whether some rank has an iteration callback (then every rank runs reporting iterations, whose
 * collectives differ), and whether some rank streams its shard (set after set-up). */
int fkm__dist_reports(const struct fkm__dist *d);
int fkm__dist_streams(const struct fkm__dist *d);
void fkm__dist_set_streams(struct fkm__dist *d, int any);
/* stats[0] (changed labels) summed over the ranks, stats[1] cleared for fkm_finalize_acc's count of
 * the clusters empty over all ranks (every rank's reporting iterations run it, streaming or not). */
fkm_status fkm__dist_global_stats(fkm__gpu_run *run);
/* What the chain carries: the update's acc, accw, seen; the inertia [B]. */
#define FKM__CHAIN_ACC 1
#define FKM__CHAIN_INERTIA 2
/* Start of a pass that fills `what`: zeroes it (one GPU, or rank 0), or receives it from the rank
 * before (stream-ordered). */
fkm_status fkm__chain_begin(fkm__gpu_run *run, int what);
/* End of that pass: sends `what` to the next rank, then the last rank's acc, accw and inertia are
 * broadcast to all. Nothing on one GPU. */
fkm_status fkm__chain_end(fkm__gpu_run *run, int what);
/* A rank's in-memory Lloyd iteration and final labelled pass. */
fkm_status fkm__dist_iteration(fkm__gpu_run *run, int with_report, float tol, CUevent *marks);
fkm_status fkm__dist_assign_final(fkm__gpu_run *run);
/* positive [size]: each of the size ranks' points of positive weight in batch b (its n without weights). */
void fkm__dist_positive(const struct fkm__dist *d, int size, int64_t b, int64_t *positive);
/* After the picks were gathered into c32: every rank gets every pick's row. */
fkm_status fkm__dist_share_rows(fkm__gpu_run *run, const unsigned char *owned);

/* ---- out-of-core (gpu_ooc.c, gpu_ooc_setup.c) ----------------------------------------------- */
/* Whether a prepared fit or predict of host points must stream: its in-memory workspace exceeds
 * opts->device_memory_budget when set, else the device's free memory less a reserve. *budget gets
 * the bytes the streaming workspace may take. */
int fkm__ooc_wanted(fkm__gpu_run *run, size_t *budget);
/* Plans chunks within budget and allocates the streaming workspace, copy stream, events and (for
 * pageable points) pinned staging; labels_out (host [B][N], may be NULL) receives the final pass's
 * labels. FKM_ERR_DEVICE_MEMORY when one span of points does not fit the budget. */
fkm_status fkm__ooc_setup(fkm__gpu_run *run, size_t budget, int32_t *labels_out);
void fkm__ooc_release(fkm__gpu_run *run);
/* Copies the plan's resident chunks to the device (once, at set-up). */
fkm_status fkm__ooc_upload_resident(fkm__gpu_run *run);
/* Sets (1) or clears (0) whether the final pass delivers labels to labels_out. */
void fkm__ooc_want_labels(fkm__gpu_run *run, int on);
/* The steps of gpu_steps.c for a streaming run: one Lloyd iteration (one pass over the chunks,
 * then the means), the final labelled pass (labels into labels_out, inertia), and the rows idx
 * [B][K] (host) of the points gathered from host memory into c32. */
fkm_status fkm__ooc_iteration(fkm__gpu_run *run, int with_report, float tol, CUevent *marks);
fkm_status fkm__ooc_final(fkm__gpu_run *run);
fkm_status fkm__ooc_gather_picks(fkm__gpu_run *run, const int64_t *idx);

#endif
