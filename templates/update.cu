/* Counting sort of labels by cluster, stable and deterministic, in four passes over fixed tiles
 * of TILE points (a multiple of 32) per batch:
 *   tile_hist:  tiles [B][T][K] = points of cluster k in tile t (one block per tile);
 *               points of zero weight (w [B][N], NULL: none) are left out of every pass;
 *   col_scan:   tiles → exclusive prefix over t per k (a warp per segment of tiles, one to four
 *               lanes a cluster), counts [B][K] = totals;
 *   k_scan:     start [B][K] = exclusive prefix of counts over k (and the update's segments);
 *   scatter:    sorted [B][N] = point indices grouped by cluster, ascending within a cluster.
 * A tile's row of K counts is contiguous, so the block reads and writes it whole. Counts are
 * integer sums, and the one order-dependent pass (scatter) walks its tile in a single warp, so
 * every pass is deterministic. */

/* The label of point i, or −1 for a point past N or of zero weight (w [N] or NULL): such points
 * join no cluster's run, so a cluster holding only zero-weight points counts as empty. */
__device__ __forceinline__ int fkm_tile_label(const int *labels, const float *w, i64 i, i64 n) {
  return i < n && (!w || w[i] > 0.0f) ? labels[i] : -1;
}

#define FKM_LABELS_AHEAD 16 /* labels a lane loads before it counts or places them */

/* lab[u] = fkm_tile_label of point first + u·stride (u < FKM_LABELS_AHEAD), −1 from end on: one
 * batch of independent loads. */
__device__ __forceinline__ void fkm_tile_labels(int *lab, const int *labels, const float *w,
                                                i64 first, int stride, i64 end, i64 n) {
#pragma unroll
  for (int u = 0; u < FKM_LABELS_AHEAD; ++u) {
    const i64 i = first + (i64)u * stride;
    lab[u] = i < end ? fkm_tile_label(labels, w, i, n) : -1;
  }
}

/* Where a tile's K counters live (the `shared` argument of tile_hist and scatter; sort_counters
 * of runtime/gpu_steps.c picks it): the tile's row of the global matrix, K ints of dynamic shared
 * memory, or K 16-bit ones there, two a word (tiles under 2^16 points). */
#define FKM_COUNTERS_GLOBAL 0
#define FKM_COUNTERS_SHARED 1
#define FKM_COUNTERS_PACKED 2

/* The tile's int counters: in shared memory, else its row of the global matrix. */
__device__ __forceinline__ int *fkm_tile_counters(int *row, int shared) {
  extern __shared__ int fkm_shared_counts[];
  return shared == FKM_COUNTERS_SHARED ? fkm_shared_counts : row;
}

/* The tile's packed 16-bit counters (dynamic shared memory), set to zero by the whole block. */
__device__ __forceinline__ unsigned short *fkm_packed_counters(int k) {
  extern __shared__ int fkm_shared_counts[];
  for (int i = threadIdx.x; i < (k + 1) / 2; i += blockDim.x) fkm_shared_counts[i] = 0;
  __syncthreads();
  return (unsigned short *)fkm_shared_counts;
}

/* Block (t, b) of a multiple of 32 threads up to FKM_THREADS: each thread counts its share of the
 * tile's points into the counters, one shared or global atomic add a point (integer sums: the
 * order does not matter). With shared counters the whole row is written at the end, so the matrix
 * needs no clearing; without, it must be zero on entry. One add per distinct label of 32 points
 * after a __match_any_sync took 76 µs at N = 8M (H200), this 16: MATCH.ANY paced it. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_tile_hist)(const int *__restrict__ labels, const float *__restrict__ w,
                             int *__restrict__ tiles, i64 n, int k, int tile, int ntiles,
                             int shared, const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, t = blockIdx.x;
  int *row = tiles + ((i64)b * ntiles + t) * k;
  const int *lb = labels + (i64)b * n;
  const float *wb = w ? w + (i64)b * n : w;
  int *cnt = fkm_tile_counters(row, shared);
  unsigned short *c16 = shared == FKM_COUNTERS_PACKED ? fkm_packed_counters(k) : NULL;
  if (shared == FKM_COUNTERS_SHARED) {
    for (int c = threadIdx.x; c < k; c += blockDim.x) cnt[c] = 0;
    __syncthreads();
  }
  const i64 first = (i64)t * tile, end = first + tile;
  const int stride = blockDim.x;
  for (i64 s = first + threadIdx.x; s - threadIdx.x < end; s += FKM_LABELS_AHEAD * stride) {
    int lab[FKM_LABELS_AHEAD];
    fkm_tile_labels(lab, lb, wb, s, stride, end, n);
#pragma unroll
    for (int u = 0; u < FKM_LABELS_AHEAD; ++u) {
      if (lab[u] < 0) continue;
      if (c16) /* the label's half of its word: a tile's counts stay below 2^16, so no carry */
        atomicAdd((u32 *)c16 + (lab[u] >> 1), 1u << (16 * (lab[u] & 1)));
      else
        atomicAdd(&cnt[lab[u]], 1);
    }
  }
  if (shared == FKM_COUNTERS_GLOBAL) return;
  __syncthreads();
  for (int c = threadIdx.x; c < k; c += blockDim.x) row[c] = c16 ? (int)c16[c] : cnt[c];
}

#define FKM_SCAN_WARPS 32 /* warps of a fkm_col_scan block: segments of the tiles */
constexpr int fkm_scan_unroll = 4; /* steps a lane loads before it writes their prefixes */

/* Block (c0 / (32 / spread), b) of 32 warps: warp g owns a contiguous segment of the tiles, lane l
 * cluster c = c0 + l % (32 / spread), of whose tiles it takes tile t0 + l / (32 / spread) of each
 * step of `spread` (1, 2 or 4); the column of c becomes its exclusive prefix over t in place
 * (tiles [B][T][K]), and counts[b][c] its total. A spread of 4 gives K = 1024 128 blocks instead
 * of 32 (N = 8M and 2M: 26 → 10 µs, H200), but reads 32-byte pieces of rows: where 32 clusters a
 * block already fill the card it costs more (B = 32, K = 1000 +40 µs, K = 65,536 +95; the host's
 * scan_spread picks). */
extern "C" __global__ void __launch_bounds__(32 * FKM_SCAN_WARPS)
    FKM_ENTRY(fkm_col_scan)(int *__restrict__ tiles, int *__restrict__ counts, int k, int ntiles,
                            int spread, const int *__restrict__ done) {
  if (*done) return;
  __shared__ int seg_total[FKM_SCAN_WARPS][32];
  const int nc = 32 / spread, b = blockIdx.y, lane = threadIdx.x & 31, g = threadIdx.x >> 5;
  const int q = lane / nc, c = blockIdx.x * nc + lane % nc;
  const int seg = (ntiles + FKM_SCAN_WARPS - 1) / FKM_SCAN_WARPS, t0 = g * seg;
  const int t1 = min(ntiles, t0 + seg);
  int *col = tiles + (i64)b * ntiles * k + c;
  int sum = 0;
  if (c < k) {
#pragma unroll 8
    for (int t = t0 + q; t < t1; t += spread) sum += col[(i64)t * k];
  }
  for (int off = nc; off < 32; off <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (q == 0) seg_total[g][lane] = sum;
  __syncthreads();
  int before = 0, total = 0;
  for (int gg = 0; gg < FKM_SCAN_WARPS; ++gg) {
    before += gg < g ? seg_total[gg][lane % nc] : 0;
    total += seg_total[gg][lane % nc];
  }
  for (int t = t0 + q; t - q < t1; t += spread * fkm_scan_unroll) { /* uniform over the warp */
    int v[fkm_scan_unroll];
#pragma unroll
    for (int u = 0; u < fkm_scan_unroll; ++u)
      v[u] = c < k && t + u * spread < t1 ? col[(i64)(t + u * spread) * k] : 0;
#pragma unroll
    for (int u = 0; u < fkm_scan_unroll; ++u) {
      int in = v[u]; /* inclusive prefix of the step's tiles over lanes q' ≤ q */
      for (int off = nc; off < 32; off <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, in, off);
        if (lane >= off) in += y;
      }
      if (c < k && t + u * spread < t1) col[(i64)(t + u * spread) * k] = before + in - v[u];
      before += __shfl_sync(0xffffffffu, in, 32 - nc + lane % nc);
    }
  }
  if (c < k && g == 0 && q == 0) counts[(i64)b * k + c] = total;
}

#define FKM_SCAN_PER 16 /* consecutive clusters a fkm_k_scan thread owns in each pass */

/* Whether a cluster of `count` members is small: summed in one warp (fkm_reduce_small_runs), not in
 * segment blocks; small_max 0: none is. */
__device__ __forceinline__ bool fkm_small_run(int count, int small_max) {
  return count > 0 && count <= small_max;
}

/* Segments of a cluster's run in the reduce's blocks: ⌈count / FKM_SEGMENT⌉, none when small. */
__device__ __forceinline__ int fkm_run_segments(int count, int small_max) {
  return fkm_small_run(count, small_max) ? 0 : (count + FKM_SEGMENT - 1) / FKM_SEGMENT;
}

#define FKM_SCAN_PASS (FKM_THREADS * FKM_SCAN_PER) /* clusters of one fkm_k_scan pass */

/* Slot of entry i of a pass in fkm_k_scan's staging buffer: a word of padding after every
 * FKM_SCAN_PER, so that the threads' runs of FKM_SCAN_PER fall in different banks. */
__device__ __forceinline__ int fkm_scan_slot(int i) { return i + i / FKM_SCAN_PER; }

/* Block-wide copy of n ≤ FKM_SCAN_PASS staged entries to dst[0 .. n), coalesced; barriers before
 * (the entries written) and after (the buffer free again). */
__device__ __forceinline__ void fkm_scan_store(int *dst, const int *stage, int n) {
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += FKM_THREADS) dst[i] = stage[fkm_scan_slot(i)];
  __syncthreads();
}

/* Block (p, b) of FKM_THREADS takes pass p of batch b: clusters c0 = p · FKM_SCAN_PASS on, up to
 * FKM_SCAN_PASS of them, with the carries of the clusters before c0 summed first (each block
 * reads those counts itself: no block waits for another). The pass is staged through shared
 * memory, so that global loads and stores are coalesced, and thread t takes the FKM_SCAN_PER
 * consecutive clusters from c0 + t · FKM_SCAN_PER:
 * start [B][K] = exclusive prefix of counts over k and, when seg_first is not NULL, the reduce's
 * work: seg_first [B][K] = the first segment of each cluster summed in blocks (fkm_run_segments:
 * FKM_SEGMENT members each), seg_cluster [B][segs] = the cluster of each such segment, −1 past the
 * batch's last (segs ≥ the segments of any batch); small [B][K] = the small clusters
 * (fkm_small_run: at most small_max members) in index order, −1 after the last (small_max 0:
 * none, and small may be NULL). Grid (⌈K / FKM_SCAN_PASS⌉, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_k_scan)(const int *__restrict__ counts, int *__restrict__ start,
                          int *__restrict__ seg_first, int *__restrict__ seg_cluster,
                          int *__restrict__ small, int small_max, int segs, int k,
                          const int *__restrict__ done) {
  if (*done) return;
  __shared__ int stage[FKM_SCAN_PASS + FKM_THREADS];
  const int b = blockIdx.y, c0 = blockIdx.x * FKM_SCAN_PASS, mine = threadIdx.x * FKM_SCAN_PER;
  const int *cb = counts + (i64)b * k;
  int carry = 0, seg_carry = 0, small_carry = 0;
  for (int c = threadIdx.x; c < c0; c += FKM_THREADS) {
    const int v = cb[c];
    carry += v, seg_carry += fkm_run_segments(v, small_max), small_carry += fkm_small_run(v, small_max);
  }
  fkm_block_exclusive_scan(carry, &carry);
  fkm_block_exclusive_scan(seg_carry, &seg_carry);
  fkm_block_exclusive_scan(small_carry, &small_carry);
  const int n = min(FKM_SCAN_PASS, k - c0);
  for (int i = threadIdx.x; i < FKM_SCAN_PASS; i += FKM_THREADS)
    stage[fkm_scan_slot(i)] = i < n ? cb[c0 + i] : 0;
  __syncthreads();
  int v[FKM_SCAN_PER], sum = 0, nseg = 0, nsmall = 0;
#pragma unroll
  for (int u = 0; u < FKM_SCAN_PER; ++u) {
    v[u] = stage[fkm_scan_slot(mine + u)];
    sum += v[u], nseg += fkm_run_segments(v[u], small_max);
    nsmall += fkm_small_run(v[u], small_max);
  }
  int total, seg_total, small_total; /* the scans' barriers also end the reads of stage */
  int at = carry + fkm_block_exclusive_scan(sum, &total);
  int seg_at = seg_carry + fkm_block_exclusive_scan(nseg, &seg_total);
  const int small_at = fkm_block_exclusive_scan(nsmall, &small_total);
#pragma unroll
  for (int u = 0; u < FKM_SCAN_PER; ++u) stage[fkm_scan_slot(mine + u)] = at, at += v[u];
  fkm_scan_store(start + (i64)b * k + c0, stage, n);
  if (!seg_first) return;
  int *sc = seg_cluster + (i64)b * segs;
#pragma unroll
  for (int u = 0; u < FKM_SCAN_PER; ++u) {
    const int ns = fkm_run_segments(v[u], small_max);
    stage[fkm_scan_slot(mine + u)] = seg_at;
    for (int q = 0; q < ns; ++q) sc[seg_at + q] = c0 + mine + u;
    seg_at += ns;
  }
  fkm_scan_store(seg_first + (i64)b * k + c0, stage, n);
  if (small_max) {
    int r = small_at;
#pragma unroll
    for (int u = 0; u < FKM_SCAN_PER; ++u)
      if (fkm_small_run(v[u], small_max)) stage[fkm_scan_slot(r++)] = c0 + mine + u;
    fkm_scan_store(small + (i64)b * k + small_carry, stage, small_total);
  }
  if (blockIdx.x != gridDim.x - 1) return; /* the last pass ends the lists */
  for (int q = seg_carry + seg_total + threadIdx.x; q < segs; q += FKM_THREADS) sc[q] = -1;
  if (small_max)
    for (int r = small_carry + small_total + threadIdx.x; r < k; r += FKM_THREADS)
      small[(i64)b * k + r] = -1;
}

/* The whole block stages its tile [first, end) for a packed walk: lab [end − first] = the points'
 * labels (fkm_tile_label), base [end − first] = the place before this tile's points of each one's
 * cluster (start sb + the tile's prefix row; 0 for −1), loaded many at once so that the walk reads
 * only shared memory. */
__device__ __forceinline__ void fkm_stage_tile(int *lab_s, int *base_s, const int *lb,
                                               const float *wb, const int *row, const int *sb,
                                               i64 first, i64 end, i64 n) {
  for (i64 s = first + threadIdx.x; s - threadIdx.x < end; s += FKM_LABELS_AHEAD * blockDim.x) {
    int lab[FKM_LABELS_AHEAD];
    fkm_tile_labels(lab, lb, wb, s, blockDim.x, end, n);
#pragma unroll
    for (int u = 0; u < FKM_LABELS_AHEAD; ++u) {
      const i64 p = s + (i64)u * blockDim.x - first;
      if (p < end - first) lab_s[p] = lab[u], base_s[p] = lab[u] < 0 ? 0 : row[lab[u]] + sb[lab[u]];
    }
  }
  __syncthreads();
}

/* Block (t, b) of a multiple of 32 threads up to FKM_THREADS: the block sets the counters to each
 * cluster's place for this tile (start + the tile's prefix; in shared memory, or added on use to
 * the global row; packed: zero, with the tile staged after them by fkm_stage_tile), then warp 0
 * walks the tile's points in order, 32 at a time, placing each after the earlier points of its
 * cluster. Dynamic shared memory: none (global), K ints (shared), or ⌈K / 2⌉ + 2 · tile ints
 * (packed). Measured and dropped (H200, bench/RESULTS.md session 29): ballots in place of
 * MATCH.ANY (N = 8M 178 → 211 µs at 109 registers), and with shared counters the tile walked in
 * runs by up to 8 warps, each with counters of its own (N = 8M 178 → 158 µs, N = 2M fp32 52 → 63,
 * K = 8192 in blocks of one warp +53): the walk's steps are not what paces it. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_scatter)(const int *__restrict__ labels, const float *__restrict__ w,
                           int *__restrict__ tiles, const int *__restrict__ start,
                           int *__restrict__ sorted, i64 n, int k, int tile, int ntiles, int shared,
                           const int *__restrict__ done) {
  if (*done) return;
  const int b = blockIdx.y, t = blockIdx.x, lane = threadIdx.x;
  int *row = tiles + ((i64)b * ntiles + t) * k;
  const int *lb = labels + (i64)b * n;
  const float *wb = w ? w + (i64)b * n : w;
  const int *sb = start + (i64)b * k;
  int *out = sorted + (i64)b * n;
  int *cnt = fkm_tile_counters(row, shared);
  unsigned short *c16 = shared == FKM_COUNTERS_PACKED ? fkm_packed_counters(k) : NULL;
  const i64 first = (i64)t * tile, end = first + tile;
  int *lab_s = c16 ? (int *)c16 + (k + 1) / 2 : NULL, *base_s = c16 ? lab_s + tile : NULL;
  if (c16) fkm_stage_tile(lab_s, base_s, lb, wb, row, sb, first, end, n);
  if (shared == FKM_COUNTERS_SHARED) {
    for (int c = threadIdx.x; c < k; c += blockDim.x) cnt[c] = row[c] + sb[c];
    __syncthreads();
  }
  if (threadIdx.x >= 32) return;
  for (i64 s = first + lane; s - lane < end; s += FKM_LABELS_AHEAD * 32) {
    int lab[FKM_LABELS_AHEAD], base[FKM_LABELS_AHEAD];
    if (c16) {
#pragma unroll
      for (int u = 0; u < FKM_LABELS_AHEAD; ++u) {
        const i64 p = s + 32 * u - first;
        lab[u] = p < tile ? lab_s[p] : -1, base[u] = p < tile ? base_s[p] : 0;
      }
    } else {
      fkm_tile_labels(lab, lb, wb, s, 32, end, n);
#pragma unroll
      for (int u = 0; u < FKM_LABELS_AHEAD; ++u)
        base[u] = lab[u] < 0 || shared == FKM_COUNTERS_SHARED ? 0 : sb[lab[u]];
    }
    u32 peers[FKM_LABELS_AHEAD]; /* matched before the walk: only the counters chain its steps */
#pragma unroll
    for (int u = 0; u < FKM_LABELS_AHEAD; ++u) peers[u] = __match_any_sync(0xffffffffu, lab[u]);
#pragma unroll
    for (int u = 0; u < FKM_LABELS_AHEAD; ++u) {
      if (s - lane + 32 * u >= end) break;
      const int before = __popc(peers[u] & ((1u << lane) - 1u));
      if (lab[u] >= 0)
        out[base[u] + (c16 ? (int)c16[lab[u]] : cnt[lab[u]]) + before] = (int)(s + 32 * u);
      __syncwarp();
      if (lab[u] >= 0 && lane == __ffs(peers[u]) - 1) {
        if (c16) c16[lab[u]] += (unsigned short)__popc(peers[u]);
        else cnt[lab[u]] += __popc(peers[u]);
      }
      __syncwarp();
    }
  }
}
