/* Counting sort of labels by cluster, stable and deterministic, in three passes over fixed tiles
 * of TILE points (a multiple of 32) per batch:
 *   tile_hist:  tiles [B][K][T] = points of cluster k in tile t (one warp per tile, in order);
 *               points of zero weight (w [B][N], NULL: none) are left out of every pass;
 *   col_scan:   tiles → exclusive prefix over t per k (one block per k), counts [B][K] = totals;
 *   k_scan:     start [B][K] = exclusive prefix of counts over k;
 *   scatter:    sorted [B][N] = point indices grouped by cluster, ascending within a cluster.
 * Integer atomics are not used, so every pass is order-independent. */

/* The label of point i, or −1 for a point past N or of zero weight (w [N] or NULL): such points
 * join no cluster's run, so a cluster holding only zero-weight points counts as empty. */
__device__ __forceinline__ int fkm_tile_label(const int *labels, const float *w, i64 i, i64 n) {
  return i < n && (!w || w[i] > 0.0f) ? labels[i] : -1;
}

/* Counters of one tile's clusters: in shared memory (K ints, dynamic) when shared is set, else the
 * tile's column of the global matrix (entry of cluster c at col[c * ntiles]). */
struct fkm_counters {
  int *base;
  i64 stride;
  __device__ __forceinline__ int &operator[](int c) const { return base[c * stride]; }
};

__device__ __forceinline__ fkm_counters fkm_tile_counters(int *col, int ntiles, int shared) {
  extern __shared__ int fkm_shared_counts[];
  return shared ? fkm_counters{fkm_shared_counts, 1} : fkm_counters{col, ntiles};
}

/* One warp per (tile, batch). With shared counters every entry of the tile's column is written, so
 * the matrix needs no clearing; without, it must be zero on entry. */
extern "C" __global__ void FKM_ENTRY(fkm_tile_hist)(const int *__restrict__ labels,
                                                   const float *__restrict__ w, int *__restrict__ tiles,
                                                   i64 n, int k, int tile, int ntiles, int shared,
                                                   const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, t = blockIdx.x, lane = threadIdx.x;
  int *col = tiles + (i64)b * k * ntiles + t;
  const int *lb = labels + (i64)b * n;
  const float *wb = w ? w + (i64)b * n : w;
  const fkm_counters cnt = fkm_tile_counters(col, ntiles, shared);
  if (shared)
    for (int c = lane; c < k; c += 32) cnt[c] = 0;
  __syncwarp();
  for (int s = 0; s < tile; s += 32) {
    const int lab = fkm_tile_label(lb, wb, (i64)t * tile + s + lane, n);
    const u32 peers = __match_any_sync(0xffffffffu, lab);
    if (lab >= 0 && lane == __ffs(peers) - 1) cnt[lab] += __popc(peers);
    __syncwarp();
  }
  if (shared)
    for (int c = lane; c < k; c += 32) col[(i64)c * ntiles] = cnt[c];
}

/* Block (c, b): exclusive prefix over the tiles of cluster c in place; counts[b][c] = the total. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_col_scan)(int *__restrict__ tiles, int *__restrict__ counts, int k, int ntiles,
                            const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, c = blockIdx.x;
  int *col = tiles + ((i64)b * k + c) * ntiles;
  int carry = 0;
  for (int t0 = 0; t0 < ntiles; t0 += FKM_THREADS) {
    const int t = t0 + threadIdx.x, v = t < ntiles ? col[t] : 0;
    int total;
    const int ex = fkm_block_exclusive_scan(v, &total);
    if (t < ntiles) col[t] = carry + ex;
    carry += total;
  }
  if (threadIdx.x == 0) counts[(i64)b * k + c] = carry;
}

/* One block of FKM_THREADS per batch; chunks of FKM_THREADS clusters with a running carry. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_k_scan)(const int *__restrict__ counts, int *__restrict__ start, int k, const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.x;
  int carry = 0;
  for (int c0 = 0; c0 < k; c0 += FKM_THREADS) {
    const int c = c0 + threadIdx.x, v = c < k ? counts[(i64)b * k + c] : 0;
    int total;
    const int ex = fkm_block_exclusive_scan(v, &total);
    if (c < k) start[(i64)b * k + c] = carry + ex;
    carry += total;
  }
}

extern "C" __global__ void FKM_ENTRY(fkm_scatter)(const int *__restrict__ labels,
                                                 const float *__restrict__ w, int *__restrict__ tiles,
                                                 const int *__restrict__ start, int *__restrict__ sorted,
                                                 i64 n, int k, int tile, int ntiles, int shared,
                                                 const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, t = blockIdx.x, lane = threadIdx.x;
  int *col = tiles + (i64)b * k * ntiles + t;
  const int *lb = labels + (i64)b * n;
  const float *wb = w ? w + (i64)b * n : w;
  const int *sb = start + (i64)b * k;
  int *out = sorted + (i64)b * n;
  const fkm_counters cnt = fkm_tile_counters(col, ntiles, shared);
  if (shared) /* shared counters start at cluster start + the tile's prefix */
    for (int c = lane; c < k; c += 32) cnt[c] = col[(i64)c * ntiles] + sb[c];
  __syncwarp();
  for (int s = 0; s < tile; s += 32) {
    const i64 i = (i64)t * tile + s + lane;
    const int lab = fkm_tile_label(lb, wb, i, n);
    const u32 peers = __match_any_sync(0xffffffffu, lab);
    if (lab >= 0) out[cnt[lab] + (shared ? 0 : sb[lab]) + __popc(peers & ((1u << lane) - 1u))] = (int)i;
    __syncwarp();
    if (lab >= 0 && lane == __ffs(peers) - 1) cnt[lab] += __popc(peers);
    __syncwarp();
  }
}
