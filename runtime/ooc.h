/* Out-of-core GPU fit and predict (issue 6): host points streamed through the device in chunks of
 * whole inertia spans, when the in-memory workspace exceeds the caller's device-memory budget or
 * the device's free memory (the driver: gpu_ooc.c). This header is the chunk planner's: pure
 * arithmetic, no CUDA. Only runtime/ and the tests include it. */
#ifndef FKM_OOC_H
#define FKM_OOC_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define FKM__SPAN_ROWS 512   /* points per inertia partial: FKM_SPAN_ROWS of templates/finalize.cu */
#define FKM__REDUCE_GROUPS 8 /* warps of the 256-thread reduce kernels: partial sums per cluster */
#define FKM__ACC_SLOTS (FKM__REDUCE_GROUPS + 1) /* acc sums a cluster: the groups, then the total */

/* What the planner needs of a run: shapes and element sizes. */
typedef struct fkm__ooc_shape {
  int64_t b, n, d, k;
  int dp;           /* D padded to 16 */
  size_t storage;   /* bytes per element of the caller's points */
  size_t compute;   /* bytes per element of the compute dtype */
  size_t centroid;  /* bytes per element of the centroids' compute layouts (fkm__ch_esize) */
  int direct;       /* 1: a copied chunk is the compute layout as it is (no convert buffer) */
  int weights;      /* 1: sample weights stream beside the points */
  int fit;          /* 1: fit (sort and accumulate buffers), 0: predict */
  int restarts;     /* 1: n_init > 1 (the best restart's centroids and inertia are kept) */
} fkm__ooc_shape;

/* Device bytes of a plan, by role (each buffer rounded up by fkm__device_aligned). */
typedef struct fkm__ooc_plan {
  int64_t chunk;        /* points per chunk: a multiple of FKM__SPAN_ROWS (a batch's last is
                           shorter) */
  int buffers;          /* chunk copies in flight: device raw buffers and pinned staging buffers */
  int tile;             /* counting-sort tile of a chunk (points) */
  int64_t ntiles;       /* tiles of a full chunk */
  size_t fixed_bytes;   /* centroids, accumulators, counters: independent of the chunk */
  size_t chunk_bytes;   /* raw copies, compute layout, labels, sort buffers, inertia partials */
  int64_t resident;     /* chunks (the first ones, batch-major) kept on the device between passes:
                           what the budget holds beyond the streaming buffers */
  size_t resident_chunk_bytes; /* device bytes of one resident chunk (points, weights) */
  size_t device_bytes;  /* fixed_bytes + chunk_bytes + resident · resident_chunk_bytes */
  size_t staging_bytes; /* pinned host bytes when the caller's points are pageable */
} fkm__ooc_plan;

#define FKM__OOC_ALIGN 256 /* bytes every device buffer of a workspace is rounded up to */

/* bytes rounded up to FKM__OOC_ALIGN. */
static inline size_t fkm__device_aligned(size_t bytes) {
  return (bytes + FKM__OOC_ALIGN - 1) / FKM__OOC_ALIGN * FKM__OOC_ALIGN;
}
#define FKM__OOC_BUFFERS 3 /* chunks in flight: copies run up to two chunks ahead */
/* Largest copy of one raw chunk: long enough that per-chunk launches cost nothing beside it,
 * short enough that the first copy (not overlapped) is a small part of a pass. */
#define FKM__OOC_MAX_CHUNK_BYTES ((size_t)1 << 30)

/* The device bytes of each buffer of a plan with `chunk` points (ntiles from the tile), no chunk
 * resident. */
void fkm__ooc_plan_bytes(const fkm__ooc_shape *s, int64_t chunk, fkm__ooc_plan *p);

/* Raw bytes a chunk may take under budget: an eighth of it (the streaming buffers stay a part of
 * the budget and the rest keeps chunks resident), at most FKM__OOC_MAX_CHUNK_BYTES. */
size_t fkm__ooc_chunk_cap(size_t budget);

/* The largest chunk (a multiple of FKM__SPAN_ROWS, at most the batch rounded up to one, and at
 * most fkm__ooc_chunk_cap(budget) raw bytes, one span at least) whose plan fits budget device
 * bytes, then as many
 * resident chunks as the rest of the budget holds (they are copied once, not every pass). 1 with
 * *p filled, or 0 when even one span does not fit (p then holds the one-span plan). */
int fkm__ooc_plan_make(const fkm__ooc_shape *s, size_t budget, fkm__ooc_plan *p);

/* Points of chunk c of a batch of n points (the last may be shorter). */
static inline int64_t fkm__ooc_chunk_len(int64_t n, int64_t chunk, int64_t c) {
  int64_t left = n - c * chunk;
  return left < chunk ? left : chunk;
}

#endif
