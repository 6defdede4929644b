/* Counting sort of labels by cluster, stable and deterministic, in three passes over fixed tiles
 * of TILE points (a multiple of 32) per batch:
 *   tile_hist:  tiles [B][T][K] = points of cluster k in tile t (one warp per tile, in order);
 *   col_scan:   tiles → exclusive prefix over t per k, counts [B][K] = totals;
 *   k_scan:     start [B][K] = exclusive prefix of counts over k;
 *   scatter:    sorted [B][N] = point indices grouped by cluster, ascending within a cluster.
 * Integer atomics are not used, so every pass is order-independent. */

/* Labels of 32 consecutive points: peers = lanes with the same label, rank = peers below me. */
__device__ __forceinline__ int fkm_tile_label(const int *labels, i64 i, i64 n) {
  return i < n ? labels[i] : -1;
}

extern "C" __global__ void FKM_ENTRY(fkm_tile_hist)(const int *__restrict__ labels, int *__restrict__ tiles,
                                                   i64 n, int k, int tile, int ntiles, const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, t = blockIdx.x, lane = threadIdx.x;
  int *row = tiles + ((i64)b * ntiles + t) * k;
  const int *lb = labels + (i64)b * n;
  for (int s = 0; s < tile; s += 32) {
    const int lab = fkm_tile_label(lb, (i64)t * tile + s + lane, n);
    const u32 peers = __match_any_sync(0xffffffffu, lab);
    if (lab >= 0 && lane == __ffs(peers) - 1) row[lab] += __popc(peers);
    __syncwarp();
  }
}

extern "C" __global__ void FKM_ENTRY(fkm_col_scan)(int *__restrict__ tiles, int *__restrict__ counts, int k,
                                                  int ntiles, const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= k) return;
  int run = 0;
  for (int t = 0; t < ntiles; ++t) {
    int *p = tiles + ((i64)b * ntiles + t) * k + c;
    const int v = *p;
    *p = run;
    run += v;
  }
  counts[(i64)b * k + c] = run;
}

/* One block of FKM_THREADS per batch; chunks of FKM_THREADS clusters with a running carry. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_k_scan)(const int *__restrict__ counts, int *__restrict__ start, int k, const int *__restrict__ done) {
  if (*done) return;
  __shared__ int warp_total[FKM_THREADS / 32];
  const int b = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int carry = 0;
  for (int c0 = 0; c0 < k; c0 += FKM_THREADS) {
    const int c = c0 + threadIdx.x;
    const int v = c < k ? counts[(i64)b * k + c] : 0;
    int incl = v;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const int o = __shfl_up_sync(0xffffffffu, incl, off);
      if (lane >= off) incl += o;
    }
    __syncthreads();
    if (lane == 31) warp_total[warp] = incl;
    __syncthreads();
    int before = carry;
    for (int w = 0; w < warp; ++w) before += warp_total[w];
    if (c < k) start[(i64)b * k + c] = before + incl - v;
    for (int w = 0; w < FKM_THREADS / 32; ++w) carry += warp_total[w];
  }
}

extern "C" __global__ void FKM_ENTRY(fkm_scatter)(const int *__restrict__ labels, int *__restrict__ tiles,
                                                 const int *__restrict__ start, int *__restrict__ sorted,
                                                 i64 n, int k, int tile, int ntiles, const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, t = blockIdx.x, lane = threadIdx.x;
  int *row = tiles + ((i64)b * ntiles + t) * k;
  const int *lb = labels + (i64)b * n;
  const int *sb = start + (i64)b * k;
  int *out = sorted + (i64)b * n;
  for (int s = 0; s < tile; s += 32) {
    const i64 i = (i64)t * tile + s + lane;
    const int lab = fkm_tile_label(lb, i, n);
    const u32 peers = __match_any_sync(0xffffffffu, lab);
    if (lab >= 0) {
      const int base = sb[lab] + row[lab];
      out[base + __popc(peers & ((1u << lane) - 1u))] = (int)i;
    }
    __syncwarp();
    if (lab >= 0 && lane == __ffs(peers) - 1) row[lab] += __popc(peers);
    __syncwarp();
  }
}
