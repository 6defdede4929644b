/* Kernel specifications: what is compile-time in a generated kernel, its validation and naming.
 * Run-time values (B, N, K, pointers) are never part of a spec, so new shapes never recompile. */
#ifndef FKM_SPEC_H
#define FKM_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef enum fkm__kernel_kind {
  FKM_KIND_ASSIGN = 0,   /* fused distance + running arg-min (FlashAssign) */
  FKM_KIND_NORMS = 1,    /* point conversion, centroid conversion + ‖c‖², init gather */
  FKM_KIND_UPDATE = 2,   /* counting sort of labels: tile histogram, scans, stable scatter */
  FKM_KIND_FINALIZE = 3, /* segmented means, empty-cluster policy, shift, flag, inertia */
  FKM_KIND_SEED = 4      /* k-means++ seeding steps */
} fkm__kernel_kind;
#define FKM__KIND_COUNT 5

typedef struct fkm__kernel_spec {
  fkm__kernel_kind kind;
  fkm_metric metric;
  fkm_dtype dtype;        /* compute dtype: FP16, BF16 or FP32 */
  fkm_precision precision;
  int d;                  /* feature dimension D ≥ 1 (padded to 16 inside the kernels) */
  int block_n, block_k, block_d, num_warps, num_stages; /* assign only; 0 for the other kinds */
  int num_ctas;           /* assign: CTAs of a cluster sharing each centroid tile (0 or 1: none) */
  int sm;                 /* target compute capability, e.g. 90 */
  int arch_specific;      /* 1: sm_XYa */
} fkm__kernel_spec;

/* Padded row length of points and centroids in the kernels' layout. */
static inline int fkm__padded_d(int d) { return (d + 15) / 16 * 16; }

/* Largest D the GPU kernels take (the finalize kernel keeps one centroid in shared memory). */
#define FKM__MAX_GPU_D 12288

/* Fills spec's tile fields for kinds other than assign (zeros) and returns spec. */
fkm__kernel_spec fkm__spec_make(fkm__kernel_kind kind, fkm_metric metric, fkm_dtype dtype,
                                fkm_precision precision, int d, int sm);

/* Whether fp32 runs 3×TF32 (default precision: each operand split into TF32 hi and lo, three
 * products summed) rather than TF32. */
int fkm__spec_split_tf32(const fkm__kernel_spec *s);

/* Members of a cluster's sorted run that one block of the update's reduce sums (FKM_SEGMENT of
 * the update and finalize kernels, and the runtime's bound on their segments): about 512 KiB of
 * rows, 512 to 2048 members. H200 (bench/RESULTS.md, session 29): 2048 members made N = 8M,
 * D = 128 fp16's update 6 % faster than 512; at D = 1024, 512 are 17 % faster than 2048. */
int fkm__segment_rows(fkm_dtype dtype, int d);

/* Whether the assign kernel for this spec uses Hopper warpgroup MMAs (sm_90a: fp16/bf16, TF32 and
 * 3×TF32) rather than mma.sync (every other case). */
int fkm__spec_uses_wgmma(const fkm__kernel_spec *s);

/* Derived launch geometry of an accepted spec. */
typedef struct fkm__spec_layout {
  int threads;        /* 32·num_warps, and one copy warp with clusters */
  int block_n_rows;   /* assign: points per block (BLOCK_N) */
  int cluster;        /* assign: blocks of a cluster (1: none); the grid is a multiple of it */
  int warps_m, warps_n; /* assign: warp (or warpgroup) grid over the BLOCK_N × BLOCK_K tile */
  int chunk;          /* assign: D columns per pipeline step */
  int d_chunks;       /* assign: steps per centroid tile */
  size_t shared;      /* dynamic shared memory bytes */
  int alone;          /* assign: 1 when a second such block cannot share a multiprocessor */
  int split;          /* assign: 1 when it reads the centroids as TF32 hi and lo planes (3×TF32
                       * warpgroup kernel; fkm__run_prep_centroids) */
  int regs_estimate;  /* accumulator + bookkeeping registers per thread */
} fkm__spec_layout;

/* Blocks of the assign grid over n points: whole clusters of blocks. */
static inline unsigned fkm__assign_blocks(int64_t n, const fkm__spec_layout *l) {
  int64_t blocks = (n + l->block_n_rows - 1) / l->block_n_rows;
  return (unsigned)((blocks + l->cluster - 1) / l->cluster * l->cluster);
}

/* Validates spec against its target (tile bounds, shared memory, registers). On rejection returns
 * FKM_ERR_REJECTED and writes a one-line reason into why (if non-NULL). */
fkm_status fkm__spec_validate(const fkm__kernel_spec *s, fkm__spec_layout *layout, char *why,
                              size_t why_len);

/* Shared-memory bytes per block the target allows (opt-in maximum). */
size_t fkm__sm_shared_limit(int sm);

/* Shared bytes the driver reserves for each resident block, on every arch fkm knows; a
 * multiprocessor holds the opt-in maximum plus one such reservation. */
#define FKM__SHARED_RESERVED 1024

/* Shared bytes a block may take so that two fit on a multiprocessor of per_sm bytes that reserves
 * `reserved` bytes for each (sm_90: 113 KiB of 228). */
static inline size_t fkm__two_blocks_shared(size_t per_sm, size_t reserved) {
  return per_sm / 2 - reserved;
}

/* 64-bit id of the spec (XXH3 over its canonical encoding), and its lower-case hex "h%016llx". */
uint64_t fkm__spec_hash(const fkm__kernel_spec *s);
void fkm__spec_id(const fkm__kernel_spec *s, char out[18]);

/* Human-readable one-line description, e.g. for logs and errors. */
void fkm__spec_describe(const fkm__kernel_spec *s, char *out, size_t len);

#endif
