/* One GPU fit or predict call: its shapes, kernels and carved-up workspace. */
#ifndef FKM_GPU_RUN_H
#define FKM_GPU_RUN_H

#include "gpu.h"

typedef struct fkm__gpu_kernels {
  CUfunction convert, prep, gather, normalise;        /* norms module */
  CUfunction tile_hist, col_scan, k_scan, scatter;    /* update module */
  CUfunction reduce, check, point_inertia, sum_partials, relocate, iter_stats; /* finalize */
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
  int fit;                /* 1: fit (sort buffers), 0: predict */
  int tile, ntiles;       /* counting-sort tiles: points per tile, tiles per batch */
  int parts;              /* inertia partial sums per batch */
  fkm__gpu_kernels kern;
  CUdeviceptr block;      /* the one workspace allocation */
  /* Views into block (0 when absent). Shapes: x [B][N][DP] compute dtype (or the caller's points),
   * raw [B][N][D] storage dtype, c32 [B][K][D] f32, ch [B][K][DP], cnorm [B][K] f32,
   * labels/sorted [B][N] i32, tiles [B][K][T] i32, counts/start [B][K] i32, idx [B][K] i64,
   * partial [B][parts] f64, inertia [B] f64, far [B][N] f64 (farthest policy), prev [B][N] i32
   * and stats [2] u64 (per-iteration reports), state: struct fkm_state. */
  CUdeviceptr x, raw, c32, ch, cnorm, labels, sorted, tiles, counts, start, idx, partial, inertia,
      far, prev, stats, state;
} fkm__gpu_run;

/* Resolves every kernel (compiling what is missing) and allocates the workspace. */
fkm_status fkm__run_setup(fkm__gpu_run *run, fkm_ctx *ctx, const fkm_points *p,
                          const fkm_options *o, int fit, int device_points, CUstream stream);
void fkm__run_release(fkm__gpu_run *run);
/* Resolves run->kern for run's shapes (gpu_kernels.c). */
fkm_status fkm__run_kernels(fkm__gpu_run *run);

/* Points (host or device memory) into x in the compute layout. */
fkm_status fkm__run_load_points(fkm__gpu_run *run, int device_points);
/* Initial centroids into c32 per opts: random picks, or the given ones (unit length for cosine
 * and dot). */
fkm_status fkm__run_init_centroids(fkm__gpu_run *run, int device_points);
/* One Lloyd iteration (stream-ordered; kernels skip once the state's flag is set). with_report
 * also leaves the assignment's inertia in `inertia` and its changed/empty counts in `stats`; marks (NULL or 3 events) are recorded before
 * the assignment, after it, and after the update. */
fkm_status fkm__run_iteration(fkm__gpu_run *run, int with_report, float tol, CUevent *marks);
/* Predict: the caller's centroids [B][K][D] fp32 into c32 (unit length for cosine). */
fkm_status fkm__run_set_centroids(fkm__gpu_run *run, const float *c, int device_points);
/* Labels of every point against c32, and the inertia per batch. */
fkm_status fkm__run_assign_final(fkm__gpu_run *run);
fkm_status fkm__run_inertia(fkm__gpu_run *run);

#endif
