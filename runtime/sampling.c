/* Counter-based random picks shared by every engine, so CPU and GPU start from the same points. */
#include "internal.h"

#include <stdlib.h>

uint64_t fkm__mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* 64 random bits: counter c of stream (seed, b). */
static uint64_t stream_bits(uint64_t seed, int64_t b, uint64_t c) {
  return fkm__mix64(fkm__mix64(seed ^ fkm__mix64((uint64_t)b)) + c);
}

/* Uniform integer in [0, bound) from counter c of stream (seed, b). */
static uint64_t uniform_below(uint64_t seed, int64_t b, uint64_t c, uint64_t bound) {
  return (uint64_t)(((unsigned __int128)stream_bits(seed, b, c) * bound) >> 64);
}

uint64_t fkm__uniform53(uint64_t seed, int64_t b, uint64_t counter) {
  return stream_bits(seed, b, counter) >> 11;
}

double fkm__uniform01(uint64_t seed, int64_t b, uint64_t counter) {
  return (double)fkm__uniform53(seed, b, counter) * 0x1p-53;
}

uint64_t fkm__restart_seed(uint64_t seed, int r) {
  return r == 0 ? seed : fkm__mix64(seed + (uint64_t)r);
}

/* Open-addressing set of point indices; capacity a power of two ≥ 2K. */
typedef struct {
  int64_t *slot;
  uint64_t mask;
} index_set;

static int set_insert(index_set *s, int64_t v) { /* 1 if inserted, 0 if present */
  uint64_t h = fkm__mix64((uint64_t)v) & s->mask;
  while (s->slot[h] >= 0) {
    if (s->slot[h] == v) return 0;
    h = (h + 1) & s->mask;
  }
  s->slot[h] = v;
  return 1;
}

/* Floyd's sampling: for j = N−K … N−1 draw t in [0, j]; take t, or j if t was taken. */
fkm_status fkm__random_init_indices(uint64_t seed, int64_t b, int64_t n, int64_t k, int64_t *out) {
  uint64_t cap = 16;
  while (cap < 2 * (uint64_t)k) cap <<= 1;
  index_set s = {malloc(cap * sizeof(int64_t)), cap - 1};
  if (!s.slot) return FKM_ERR_NOMEM;
  for (uint64_t i = 0; i < cap; i++) s.slot[i] = -1;
  for (int64_t i = 0, j = n - k; j < n; i++, j++) {
    int64_t t = (int64_t)uniform_below(seed, b, (uint64_t)i, (uint64_t)j + 1);
    out[i] = set_insert(&s, t) ? t : j;
    if (out[i] == j) set_insert(&s, j);
  }
  free(s.slot);
  return FKM_OK;
}
