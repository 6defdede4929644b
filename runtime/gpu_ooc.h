/* State of a streaming (out-of-core) GPU run, shared by gpu_ooc_setup.c and gpu_ooc.c.
 *
 * A chunk is a one-batch view of the run over its points with its batch's centroids, so every
 * kernel is the in-memory engine's; the update adds each chunk into per-cluster partial sums that
 * equal the in-memory reduce's bit for bit (fkm_reduce_chunk), and the inertia sums fixed spans of
 * points in order: results are the in-memory path's, whatever the chunk size.
 *
 * Pipeline per pass: chunk q goes to slot s = q mod buffers. The copy stream waits until slot s's
 * previous chunk was consumed, copies the chunk (from the caller's page-locked memory, or through
 * pinned staging the host fills) and records `copied`; the compute stream (run->stream) waits for
 * it, then converts, assigns, sorts and accumulates the chunk (its inertia, its labels to the host)
 * and records `consumed`: copies run ahead of the compute by up to `buffers` chunks. (A second
 * stream overlapping one chunk's update with the next one's assignment measured 15 % slower on an
 * H100: the update kernels slow the tensor-core kernel beside them.) Labels of the final pass go
 * device → pinned → caller, one chunk behind. Resident chunks (the first ones) skip the copy: a
 * pass computes them while the copies of the first streamed chunks run.
 */
#ifndef FKM_GPU_OOC_H
#define FKM_GPU_OOC_H

#include "gpu_run.h"

struct fkm__ooc {
  fkm__ooc_plan plan;
  int direct;                /* raw chunks are the compute layout (no convert) */
  int pinned, pinned_w;      /* the caller's points / weights are page-locked: no staging */
  int64_t chunks;            /* chunks per batch */
  CUstream copy;             /* owned: host → device copies */
  CUevent copied[FKM__OOC_BUFFERS], consumed[FKM__OOC_BUFFERS], labelled[FKM__OOC_BUFFERS];
  CUdeviceptr block;         /* owned: the streaming workspace */
  /* per slot: raw copy [chunk][D] storage dtype, weights [chunk], compute layout [chunk][DP] (0
   * when direct), labels [chunk] (the update's acc, accw, seen are the run's) */
  CUdeviceptr raw[FKM__OOC_BUFFERS], wraw[FKM__OOC_BUFFERS], xc[FKM__OOC_BUFFERS];
  CUdeviceptr labels[FKM__OOC_BUFFERS];
  /* the first plan.resident chunks, copied once at set-up: points [resident][chunk][D] storage
   * dtype, weights [resident][chunk] (0 without weights) */
  CUdeviceptr resident, resident_w;
  void *stage;               /* owned, pinned host memory holding the three slot arrays below */
  char *stage_points;        /* [buffers][chunk][D] storage dtype; NULL when the points are pinned */
  float *stage_w;            /* [buffers][chunk]; NULL without weights or when they are pinned */
  int32_t *stage_labels;     /* [buffers][chunk] */
  int32_t *labels_out;       /* borrowed: the caller's labels [B][N], NULL when not wanted */
  int want_labels;           /* the final pass delivers labels */
};

/* Device points and weights of global chunk q (batch-major) when it is resident, else slot s's. */
static inline void fkm__ooc_source(const struct fkm__ooc *o, size_t row_bytes, int64_t q, int s,
                                   CUdeviceptr *points, CUdeviceptr *weights) {
  size_t C = (size_t)o->plan.chunk;
  int resident = q < o->plan.resident;
  *points = resident ? o->resident + (size_t)q * fkm__device_aligned(C * row_bytes) : o->raw[s];
  *weights = !o->wraw[s] ? 0
             : resident  ? o->resident_w + (size_t)q * fkm__device_aligned(C * 4)
                         : o->wraw[s];
}

#endif
