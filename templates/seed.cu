/* Greedy k-means++ seeding on the device, step by step as runtime/init_kmeanspp.c states the
 * procedure, so that the picks are the CPU engine's: distances in fp64 with one rounding per
 * operation in index order (explicit _rn intrinsics: no contraction into FMAs), quantised terms
 * summed as 64-bit integers (any order gives the same sums). An fp32 distance with a proven error
 * bound settles most (point, candidate) pairs first: a pair whose fp64 distance is certainly no
 * nearer than D²_i needs no fp64 distance, as min(D²_i, ·) is D²_i either way. Per batch b (grid.y):
 *   x [B][N][DP] compute dtype, w [B][N] fp32 or NULL (every weight 1), d2 [B][N] fp64,
 *   picked [B][N] u8, chunk [B][C] u64 (C = ⌈N / FKM_PP_CHUNK⌉), pp [B] (max term, Q, winner),
 *   cand [B][T] i64 and pot [B][T] u64 (T = trials per step), idx [B][K] i64 (the picks),
 *   closer [B][N] u32 (bit t: trial t's candidate is nearer than D²_i; cleared as D² takes it). */
typedef unsigned long long u64;

#define FKM_PP_ITEMS 8
#define FKM_PP_CHUNK (FKM_THREADS * FKM_PP_ITEMS)

struct fkm_pp {
  u64 max_bits; /* largest term of the step, as the bits of a non-negative double */
  u64 total;    /* Q: Σ of the quantised terms */
  u64 winner;   /* the trial whose candidate the step picked */
};

__device__ __forceinline__ u64 fkm_mix64(u64 x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* fkm__uniform53: the top 53 bits of counter c of stream (seed, b). */
__device__ __forceinline__ u64 fkm_uniform53(u64 seed, i64 b, u64 c) {
  return fkm_mix64(fkm_mix64(seed ^ fkm_mix64((u64)b)) + c) >> 11;
}

__device__ __forceinline__ int fkm_pp_sigma(double max_term, i64 n) {
  int l = 0;
  while ((1ll << l) < n) l++;
  return 62 - l - ilogb(max_term);
}

/* ⌊v · 2^σ⌋; 0 for every term when the step's largest term is 0. */
__device__ __forceinline__ u64 fkm_pp_quantise(double v, double max_term, int sigma) {
  return max_term > 0.0 ? (u64)ldexp(v, sigma) : 0ull;
}

/* w_i as a double, with −0 read as +0 (so that terms stay non-negative doubles). */
__device__ __forceinline__ double fkm_pp_weight(const float *w, i64 i) {
  return !w ? 1.0 : w[i] > 0.0f ? (double)w[i] : 0.0;
}

/* term_i: the weight before the first centre, else w_i · D²_i. */
__device__ __forceinline__ double fkm_pp_term(const float *w, const double *d2, i64 i, int first) {
  return first ? fkm_pp_weight(w, i) : __dmul_rn(fkm_pp_weight(w, i), d2[i]);
}

/* ‖a − c‖² in fp64, explicit differences in index order; DP columns (the zero pad adds 0). */
__device__ __forceinline__ double fkm_pp_sqdist(const elem_t *a, const elem_t *c) {
  double s = 0.0;
  for (int j = 0; j < FKM_DP; ++j) {
    const double diff = __dsub_rn((double)fkm_to_f32(a[j]), (double)fkm_to_f32(c[j]));
    s = __dadd_rn(s, __dmul_rn(diff, diff));
  }
  return s;
}

__device__ __forceinline__ u64 fkm_warp_sum_u64(u64 v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

/* The step's largest term into pp[b].max_bits (which the caller zeroed): first = 1 before any
 * centre (the terms are the weights); otherwise centre `step` (idx[b][step]) joins: D²_i =
 * ‖x_i − x_c‖² for step 0; after it, min(D²_i, ‖x_i − x_c‖²) for the points whose closer bit of
 * the winning trial is set (for every other point the centre is no nearer than D²_i, which stays).
 * Grid (⌈N / FKM_THREADS⌉, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_add_centre)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                 double *__restrict__ d2, const i64 *__restrict__ idx,
                                 struct fkm_pp *pp, u32 *__restrict__ closer, i64 n, i64 k,
                                 int first, i64 step) {
  __shared__ u64 block_max;
  const int b = blockIdx.y;
  const i64 i = (i64)blockIdx.x * FKM_THREADS + threadIdx.x;
  const float *wb = w ? w + (i64)b * n : w;
  double *db = d2 + (i64)b * n;
  if (threadIdx.x == 0) block_max = 0ull;
  __syncthreads();
  if (i < n) {
    const u32 bits = first || step == 0 ? 0u : closer[(i64)b * n + i];
    if (!first && (step == 0 || (bits >> pp[b].winner & 1u))) {
      const elem_t *xb = x + (i64)b * n * FKM_DP;
      const double dist = fkm_pp_sqdist(xb + i * FKM_DP, xb + idx[(i64)b * k + step] * FKM_DP);
      db[i] = step == 0 || dist < db[i] ? dist : db[i];
    }
    if (bits) closer[(i64)b * n + i] = 0u;
    atomicMax(&block_max, (u64)__double_as_longlong(fkm_pp_term(wb, db, i, first)));
  }
  __syncthreads();
  if (threadIdx.x == 0) atomicMax(&pp[b].max_bits, block_max);
}

/* q(term) of the FKM_PP_ITEMS consecutive points of this thread within chunk c, summed. */
__device__ __forceinline__ u64 fkm_pp_thread_sum(const float *wb, const double *db, i64 first_point,
                                                 i64 n, int first, double max_term, int sigma) {
  u64 s = 0;
  for (int e = 0; e < FKM_PP_ITEMS; ++e) {
    const i64 i = first_point + e;
    if (i < n) s += fkm_pp_quantise(fkm_pp_term(wb, db, i, first), max_term, sigma);
  }
  return s;
}

/* chunk[b][c] = Σ q(term_i) over chunk c; pp[b].total += it (the caller zeroed it). Grid (C, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_chunk_sums)(const float *__restrict__ w, const double *__restrict__ d2,
                                 struct fkm_pp *pp, u64 *__restrict__ chunk, i64 n, int first) {
  __shared__ u64 warp_sum[FKM_THREADS / 32];
  const int b = blockIdx.y, chunks = gridDim.x;
  const double max_term = __longlong_as_double((long long)pp[b].max_bits);
  const int sigma = max_term > 0.0 ? fkm_pp_sigma(max_term, n) : 0;
  const i64 p0 = (i64)blockIdx.x * FKM_PP_CHUNK + (i64)threadIdx.x * FKM_PP_ITEMS;
  const u64 s = fkm_warp_sum_u64(
      fkm_pp_thread_sum(w ? w + (i64)b * n : w, d2 + (i64)b * n, p0, n, first, max_term, sigma));
  if ((threadIdx.x & 31) == 0) warp_sum[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x != 0) return;
  u64 t = 0;
  for (int i = 0; i < FKM_THREADS / 32; ++i) t += warp_sum[i];
  chunk[(i64)b * chunks + blockIdx.x] = t;
  atomicAdd(&pp[b].total, t);
}

/* The chunk holding the first point whose prefix exceeds target: every thread gets its index and
 * the sum of the chunks before it. */
__device__ __forceinline__ i64 fkm_pp_find_chunk(const u64 *chunk, i64 chunks, u64 target, u64 *base) {
  __shared__ i64 found;
  __shared__ u64 found_base;
  u64 carry = 0;
  if (threadIdx.x == 0) found = -1;
  for (i64 c0 = 0; c0 < chunks; c0 += FKM_THREADS) {
    const i64 c = c0 + threadIdx.x;
    const u64 v = c < chunks ? chunk[c] : 0ull;
    u64 total;
    const u64 before = carry + fkm_block_exclusive_scan<u64>(v, &total);
    if (v > 0 && before <= target && target < before + v) found = c, found_base = before;
    carry += total;
    __syncthreads();
    if (found >= 0) break;
  }
  *base = found_base;
  return found;
}

/* The lowest-index point of positive weight not picked yet (the rule for Q = 0). */
__device__ __forceinline__ i64 fkm_pp_first_unpicked(const float *wb, const unsigned char *pb, i64 n) {
  __shared__ int any;
  __shared__ i64 lowest;
  for (i64 i0 = 0; i0 < n; i0 += FKM_THREADS) {
    if (threadIdx.x == 0) any = 0, lowest = n;
    __syncthreads();
    const i64 i = i0 + threadIdx.x;
    if (i < n && fkm_pp_weight(wb, i) > 0.0 && !pb[i]) any = 1, atomicMin((long long *)&lowest, i);
    __syncthreads();
    if (any) return lowest;
    __syncthreads();
  }
  return 0;
}

/* Block (t, b): the candidate of trial t at this step, cand[b][t], for the 53-bit uniform of
 * counter step · trials + t: the first point whose prefix of q exceeds ⌊m · Q / 2⁵³⌋. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_pick)(const float *__restrict__ w, const double *__restrict__ d2,
                           const unsigned char *__restrict__ picked, const struct fkm_pp *pp,
                           const u64 *__restrict__ chunk, i64 *__restrict__ cand, i64 n,
                           i64 chunks, int first, u64 seed, i64 step, int trials) {
  const int b = blockIdx.y, t = blockIdx.x;
  const float *wb = w ? w + (i64)b * n : w;
  const u64 q_total = pp[b].total, m = fkm_uniform53(seed, b, (u64)(step * trials + t));
  if (q_total == 0) {
    const i64 i = fkm_pp_first_unpicked(wb, picked + (i64)b * n, n);
    if (threadIdx.x == 0) cand[(i64)b * trials + t] = i;
    return;
  }
  const u64 target = (__umul64hi(m, q_total) << 11) | ((m * q_total) >> 53);
  u64 base;
  const i64 c = fkm_pp_find_chunk(chunk + (i64)b * chunks, chunks, target, &base);
  const double max_term = __longlong_as_double((long long)pp[b].max_bits);
  const int sigma = fkm_pp_sigma(max_term, n);
  const double *db = d2 + (i64)b * n;
  const i64 p0 = c * FKM_PP_CHUNK + (i64)threadIdx.x * FKM_PP_ITEMS;
  u64 total, prefix = base + fkm_block_exclusive_scan<u64>(
                                 fkm_pp_thread_sum(wb, db, p0, n, first, max_term, sigma), &total);
  for (int e = 0; e < FKM_PP_ITEMS && p0 + e < n; ++e) {
    const u64 q = fkm_pp_quantise(fkm_pp_term(wb, db, p0 + e, first), max_term, sigma);
    if (prefix <= target && target < prefix + q) cand[(i64)b * trials + t] = p0 + e;
    prefix += q;
  }
}

/* Whether the fp32 distance a (the fp32 values of the row and the candidate, their differences
 * and fmaf steps in any order) proves the fp64 distance fkm_pp_sqdist ≥ di. Over DP non-negative
 * terms a lies within T·(1 ± u)^(DP+2) of the exact distance T (u = 2^-24) plus what underflow
 * loses (under 2^-149 a step), and fp64 lies within T·(1 ± 2^-53)^(DP+2); the margin is 4× the
 * first-order fp32 bound, and an infinite a proves nothing. */
__device__ __forceinline__ bool fkm_pp_settled(float a, double di) {
  return a < FKM_INF && (double)a * (1.0 - (FKM_DP + 8) * 0x1p-22) > di + FKM_DP * 0x1p-126;
}

/* a [Q] = the fp32 squared distances from a point row (elem_t, shared) to Q candidate rows
 * (fp32, shared, [Q][DP]). */
template <int Q>
__device__ __forceinline__ void fkm_pp_filter(const elem_t *row, const float *cs, float *a) {
#pragma unroll
  for (int q = 0; q < Q; ++q) a[q] = 0.0f;
  for (int j = 0; j < FKM_DP; j += 8) {
    float xf[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) xf[e] = fkm_to_f32(row[j + e]);
#pragma unroll
    for (int q = 0; q < Q; ++q) {
      const float4 c0 = *(const float4 *)(cs + q * FKM_DP + j), c1 = *(const float4 *)(cs + q * FKM_DP + j + 4);
      const float cv[8] = {c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w};
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const float d = xf[e] - cv[e];
        a[q] = fmaf(d, d, a[q]);
      }
    }
  }
}

/* Trials tq … tq + Q − 1 of the group for this thread's point (valid: r < rows): the settled pairs
 * add q(w_i · D²_i) to acc (summed over the warp first); the others join the queue for fp64 (one
 * shared atomic a warp). Every thread of the block calls it. */
template <int Q>
__device__ __forceinline__ void fkm_pp_screen(const elem_t *row, const float *cs, int tq, bool valid,
                                              double di, double wi, double max_term, int sigma,
                                              int r, u64 *acc, u32 *queue, int *queued) {
  float a[Q];
  if (valid) fkm_pp_filter<Q>(row, cs + tq * FKM_DP, a);
#pragma unroll
  for (int q = 0; q < Q; ++q) {
    const bool settled = valid && fkm_pp_settled(a[q], di), push = valid && !settled;
    const u32 pushing = __ballot_sync(0xffffffffu, push), lane = threadIdx.x & 31;
    int base = 0;
    if (lane == 0 && pushing) base = atomicAdd(queued, __popc(pushing));
    base = __shfl_sync(0xffffffffu, base, 0);
    if (push) queue[base + __popc(pushing & ((1u << lane) - 1u))] = (u32)r << 5 | (u32)(tq + q);
    const u64 sum = fkm_warp_sum_u64(settled ? fkm_pp_quantise(__dmul_rn(wi, di), max_term, sigma) : 0ull);
    if (lane == 0 && sum) atomicAdd(&acc[tq + q], sum);
  }
}

/* Block (tile, b, group): pot[b][t] += Σ q(w_i · min(D²_i, ‖x_i − x_cand_t‖²)) over a tile of
 * `tile` ≤ FKM_THREADS points (one a thread) and the `group` trials of grid.z (the caller zeroed
 * pot), and closer bit t (trials ≤ 32) for the pairs nearer than D²_i. Dynamic shared memory: the group's
 * candidate rows in fp32, the tile's point rows (each padded by 16 bytes, which keeps the threads
 * of a quarter warp on distinct banks), one u64 per trial, then the fp64 queue (tile · group u32). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_potential)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                const double *__restrict__ d2, const struct fkm_pp *pp,
                                const i64 *__restrict__ cand, u64 *__restrict__ pot,
                                u32 *__restrict__ closer, i64 n, int trials, int tile, int group) {
  extern __shared__ __align__(16) unsigned char fkm_pp_smem[];
  __shared__ int queued;
  const int b = blockIdx.y, t0 = blockIdx.z * group;
  const int g = trials - t0 < group ? trials - t0 : group, row_bytes = FKM_DP * (int)sizeof(elem_t);
  const i64 i0 = (i64)blockIdx.x * tile;
  const int rows = n - i0 < tile ? (int)(n - i0) : tile;
  float *cs = (float *)fkm_pp_smem;
  unsigned char *xs = fkm_pp_smem + (size_t)group * FKM_DP * 4;
  u64 *acc = (u64 *)(xs + (size_t)tile * (row_bytes + 16));
  u32 *queue = (u32 *)(acc + group);
  const elem_t *xb = x + (i64)b * n * FKM_DP;
  const i64 *cb = cand + (i64)b * trials + t0;
  for (int v = threadIdx.x; v < g * FKM_DP; v += FKM_THREADS)
    cs[v] = fkm_to_f32(xb[cb[v / FKM_DP] * FKM_DP + v % FKM_DP]);
  const int vecs = row_bytes / 16;
  for (int v = threadIdx.x; v < rows * vecs; v += FKM_THREADS)
    *(uint4 *)(xs + (size_t)(v / vecs) * (row_bytes + 16) + (size_t)(v % vecs) * 16) =
        ((const uint4 *)(xb + (i0 + v / vecs) * FKM_DP))[v % vecs];
  for (int t = threadIdx.x; t < g; t += FKM_THREADS) acc[t] = 0ull;
  if (threadIdx.x == 0) queued = 0;
  __syncthreads();
  const double max_term = __longlong_as_double((long long)pp[b].max_bits);
  const int sigma = max_term > 0.0 ? fkm_pp_sigma(max_term, n) : 0;
  const float *wb = w ? w + (i64)b * n : w;
  const double *db = d2 + (i64)b * n;
  const int r = threadIdx.x;
  const bool valid = r < rows;
  const double di = valid ? db[i0 + r] : 0.0, wi = valid ? fkm_pp_weight(wb, i0 + r) : 0.0;
  const elem_t *row = (const elem_t *)(xs + (size_t)(valid ? r : 0) * (row_bytes + 16));
  int t = 0;
#define FKM_PP_SCREEN(Q) fkm_pp_screen<Q>(row, cs, t, valid, di, wi, max_term, sigma, r, acc, queue, &queued)
  for (; t + 4 <= g; t += 4) FKM_PP_SCREEN(4);
  if (g - t == 3) FKM_PP_SCREEN(3);
  if (g - t == 2) FKM_PP_SCREEN(2);
  if (g - t == 1) FKM_PP_SCREEN(1);
#undef FKM_PP_SCREEN
  __syncthreads();
  for (int e = threadIdx.x; e < queued; e += FKM_THREADS) {
    const int qr = (int)(queue[e] >> 5), qt = (int)(queue[e] & 31u);
    const elem_t *qrow = (const elem_t *)(xs + (size_t)qr * (row_bytes + 16));
    const double dist = fkm_pp_sqdist(qrow, xb + cb[qt] * FKM_DP), dq = db[i0 + qr];
    if (dist < dq) atomicOr(&closer[(i64)b * n + i0 + qr], 1u << (t0 + qt));
    const double term = __dmul_rn(fkm_pp_weight(wb, i0 + qr), dist < dq ? dist : dq);
    atomicAdd(&acc[qt], fkm_pp_quantise(term, max_term, sigma));
  }
  __syncthreads();
  for (int t2 = threadIdx.x; t2 < g; t2 += FKM_THREADS) atomicAdd(&pot[(i64)b * trials + t0 + t2], acc[t2]);
}

/* Block b, one thread: the step's winner (lowest potential, ties to the earlier trial; the one
 * trial of step 0) becomes idx[b][step]; resets pp[b] and pot[b] for the next step. */
extern "C" __global__ void FKM_ENTRY(fkm_pp_choose)(const i64 *__restrict__ cand, u64 *__restrict__ pot,
                                                   struct fkm_pp *pp, unsigned char *__restrict__ picked,
                                                   i64 *__restrict__ idx, i64 n, i64 k, i64 step,
                                                   int trials, int step_trials) {
  if (threadIdx.x != 0) return;
  const int b = blockIdx.x;
  int best = 0;
  for (int t = 1; t < step_trials; ++t)
    if (pot[(i64)b * trials + t] < pot[(i64)b * trials + best]) best = t;
  const i64 c = cand[(i64)b * trials + best];
  idx[(i64)b * k + step] = c;
  pp[b].winner = (u64)best;
  picked[(i64)b * n + c] = 1;
  for (int t = 0; t < trials; ++t) pot[(i64)b * trials + t] = 0ull;
  pp[b].max_bits = 0ull;
  pp[b].total = 0ull;
}
