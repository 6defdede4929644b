/* The out-of-core chunk planner: device and pinned bytes of a chunk size, and the largest chunk
 * within a budget. Pure arithmetic (tested without a GPU). */
#include "ooc.h"

/* Counting-sort tile of a chunk: 1024 points, doubled while the [T][K] count matrix would take
 * more than 16 bytes per point. */
static int chunk_tile(int64_t k) {
  int tile = 1024;
  while (tile < (1 << 24) && k * 4 > 16 * (int64_t)tile) tile *= 2;
  return tile;
}

static size_t fixed_bytes(const fkm__ooc_shape *s) {
  size_t B = (size_t)s->b, K = (size_t)s->k, D = (size_t)s->d, DP = (size_t)s->dp;
  size_t G = FKM__ACC_SLOTS;
  size_t t = fkm__device_aligned(B * K * D * 4) +
             fkm__device_aligned(fkm__ch_bytes(s->b, s->k, s->dp, s->centroid)) +
             fkm__device_aligned(fkm__cnorm_bytes(s->b, s->k)) + fkm__device_aligned(B * 8) +
             2 * fkm__device_aligned(16);
  if (s->fit)
    t += fkm__device_aligned(B * K * G * DP * 8) + fkm__device_aligned(B * K * G * 8) +
         fkm__device_aligned(B * K * 8) + 2 * fkm__device_aligned(K * 4) + fkm__device_aligned(K * 8);
  if (s->restarts) t += fkm__device_aligned(B * K * D * 4) + fkm__device_aligned(B * 8);
  return t;
}

void fkm__ooc_plan_bytes(const fkm__ooc_shape *s, int64_t chunk, fkm__ooc_plan *p) {
  size_t C = (size_t)chunk, D = (size_t)s->d, K = (size_t)s->k, nb = FKM__OOC_BUFFERS;
  p->chunk = chunk;
  p->buffers = FKM__OOC_BUFFERS;
  p->tile = chunk_tile(s->k);
  p->ntiles = (chunk + p->tile - 1) / p->tile;
  size_t t = nb * fkm__device_aligned(C * D * s->storage) + nb * fkm__device_aligned(C * 4) +
             fkm__device_aligned((C + FKM__SPAN_ROWS - 1) / FKM__SPAN_ROWS * 8);
  if (s->weights) t += nb * fkm__device_aligned(C * 4);
  if (!s->direct) t += nb * fkm__device_aligned(C * (size_t)s->dp * s->compute);
  if (s->fit) t += fkm__device_aligned(C * 4) + fkm__device_aligned((size_t)p->ntiles * K * 4);
  p->fixed_bytes = fixed_bytes(s);
  p->chunk_bytes = t;
  p->resident = 0;
  p->resident_chunk_bytes =
      fkm__device_aligned(C * D * s->storage) + (s->weights ? fkm__device_aligned(C * 4) : 0);
  p->device_bytes = p->fixed_bytes + t;
  p->staging_bytes = nb * (C * D * s->storage + (s->weights ? C * 4 : 0)) + nb * C * 4;
}

size_t fkm__ooc_chunk_cap(size_t budget) {
  return budget / 8 < FKM__OOC_MAX_CHUNK_BYTES ? budget / 8 : FKM__OOC_MAX_CHUNK_BYTES;
}

int fkm__ooc_plan_make(const fkm__ooc_shape *s, size_t budget, fkm__ooc_plan *p) {
  int64_t span = FKM__SPAN_ROWS;
  int64_t most = (s->n + span - 1) / span * span;
  int64_t cap = (int64_t)(fkm__ooc_chunk_cap(budget) / ((size_t)s->d * s->storage)) / span * span;
  if (cap < span) cap = span;
  if (most > cap) most = cap;
  fkm__ooc_plan_bytes(s, span, p);
  if (p->device_bytes > budget) return 0;
  int64_t lo = 1, hi = most / span; /* spans per chunk: lo fits; find the largest that does */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    fkm__ooc_plan_bytes(s, mid * span, p);
    if (p->device_bytes <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  fkm__ooc_plan_bytes(s, lo * span, p);
  int64_t chunks = s->b * ((s->n + p->chunk - 1) / p->chunk);
  int64_t fit = (int64_t)((budget - p->device_bytes) / p->resident_chunk_bytes);
  p->resident = fit < chunks ? fit : chunks;
  p->device_bytes += (size_t)p->resident * p->resident_chunk_bytes;
  return 1;
}
