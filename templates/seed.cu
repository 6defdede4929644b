/* Greedy k-means++ seeding on the device, step by step as runtime/init_kmeanspp.c states the
 * procedure, so that the picks are the CPU engine's: distances in fp64 with one rounding per
 * operation in index order (explicit _rn intrinsics: no contraction into FMAs), quantised terms
 * summed as 64-bit integers (any order gives the same sums).
 *
 * Pruning keeps it exact and cheap: every point remembers the centre that sets its D² (owner);
 * when ‖x_cand − x_owner‖² ≥ 4·D²_i (with a 1e-9 margin for rounding), the triangle inequality
 * puts the candidate at least D_i away, so min(D²_i, ‖x_i − x_cand‖²) = D²_i without computing it.
 * Potentials are then Q − Σ over the points a candidate brings closer of the drop in their
 * quantised term, an exact integer identity.
 *
 * Per batch b (grid.y, or grid.z where noted): x [B][N][DP] compute dtype, w [B][N] fp32 or NULL
 * (every weight 1), d2 [B][N] fp64, owner [B][N] i32 (step of the closest centre), picked [B][N]
 * u8, chunk [B][C] u64 (C = ⌈N / FKM_PP_CHUNK⌉), pp [B] (max term, Q, winning trial),
 * cand [B][T] i64, drop [B][T] u64 (T = trials per step), cc [B][T][K] f64 (candidate–centre
 * squared distances), idx [B][K] i64 (the picks). */
typedef unsigned long long u64;

#define FKM_PP_ITEMS 8
#define FKM_PP_CHUNK (FKM_THREADS * FKM_PP_ITEMS)

struct fkm_pp {
  u64 max_bits; /* largest term of the step, as the bits of a non-negative double */
  u64 total;    /* Q: Σ of the quantised terms */
  i64 winner;   /* trial that won the last step */
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

/* Exclusive prefix of v over the block in thread order; *total gets the block's sum. */
__device__ __forceinline__ u64 fkm_block_exclusive_u64(u64 v, u64 *total) {
  __shared__ u64 warp_total[FKM_THREADS / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  u64 incl = v;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const u64 o = __shfl_up_sync(0xffffffffu, incl, off);
    if (lane >= off) incl += o;
  }
  __syncthreads();
  if (lane == 31) warp_total[warp] = incl;
  __syncthreads();
  u64 before = 0, sum = 0;
  for (int w = 0; w < FKM_THREADS / 32; ++w) {
    before += w < warp ? warp_total[w] : 0ull;
    sum += warp_total[w];
  }
  *total = sum;
  return before + incl - v;
}

/* Whether the candidate/centre distance cc (squared) proves ‖x_i − x_cand‖² ≥ D²_i. */
__device__ __forceinline__ bool fkm_pp_pruned(double cc, double d2i) { return cc >= 4.0 * d2i * (1.0 + 1e-9); }

/* The step's largest term into pp[b].max_bits (which the caller zeroed): first = 1 before any
 * centre (the terms are the weights); otherwise centre `step` (idx[b][step], the winning trial
 * pp[b].winner of cc) joins: D²_i = ‖x_i − x_c‖² for step 0, min(D²_i, ‖x_i − x_c‖²) after,
 * owner following. Grid (⌈N / FKM_THREADS⌉, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_add_centre)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                 double *__restrict__ d2, int *__restrict__ owner,
                                 const i64 *__restrict__ idx, const double *__restrict__ cc,
                                 struct fkm_pp *pp, i64 n, i64 k, int trials, int first, i64 step) {
  __shared__ u64 block_max;
  const int b = blockIdx.y;
  const i64 i = (i64)blockIdx.x * FKM_THREADS + threadIdx.x;
  const float *wb = w ? w + (i64)b * n : w;
  double *db = d2 + (i64)b * n;
  if (threadIdx.x == 0) block_max = 0ull;
  __syncthreads();
  if (i < n) {
    if (!first) {
      const elem_t *xb = x + (i64)b * n * FKM_DP;
      int *ob = owner + (i64)b * n;
      const double *ccw = cc + ((i64)b * trials + pp[b].winner) * k;
      if (step == 0 || !fkm_pp_pruned(ccw[ob[i]], db[i])) {
        const double dist = fkm_pp_sqdist(xb + i * FKM_DP, xb + idx[(i64)b * k + step] * FKM_DP);
        if (step == 0 || dist < db[i]) db[i] = dist, ob[i] = (int)step;
      }
    }
    atomicMax(&block_max, (u64)__double_as_longlong(fkm_pp_term(wb, db, i, first)));
  }
  __syncthreads();
  if (threadIdx.x == 0) atomicMax(&pp[b].max_bits, block_max);
}

/* cc[b][t][j] = ‖x_cand_t − x_idx_j‖² for the centres j < step. Grid (⌈step / FKM_THREADS⌉, T, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_centre_dists)(const elem_t *__restrict__ x, const i64 *__restrict__ idx,
                                   const i64 *__restrict__ cand, double *__restrict__ cc, i64 n,
                                   i64 k, int trials, i64 step) {
  const int t = blockIdx.y, b = blockIdx.z;
  const i64 j = (i64)blockIdx.x * FKM_THREADS + threadIdx.x;
  if (j >= step) return;
  const elem_t *xb = x + (i64)b * n * FKM_DP;
  cc[((i64)b * trials + t) * k + j] =
      fkm_pp_sqdist(xb + cand[(i64)b * trials + t] * FKM_DP, xb + idx[(i64)b * k + j] * FKM_DP);
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
    const u64 before = carry + fkm_block_exclusive_u64(v, &total);
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
  u64 total, prefix = base + fkm_block_exclusive_u64(
                                 fkm_pp_thread_sum(wb, db, p0, n, first, max_term, sigma), &total);
  for (int e = 0; e < FKM_PP_ITEMS && p0 + e < n; ++e) {
    const u64 q = fkm_pp_quantise(fkm_pp_term(wb, db, p0 + e, first), max_term, sigma);
    if (prefix <= target && target < prefix + q) cand[(i64)b * trials + t] = p0 + e;
    prefix += q;
  }
}

/* drop[b][t] += Σ_i q(term_i) − q(w_i · min(D²_i, ‖x_i − x_cand_t‖²)), so that trial t's potential
 * is Q − drop (the caller zeroed drop); pruned pairs drop nothing. Grid (⌈N / FKM_THREADS⌉, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_potential)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                const double *__restrict__ d2, const int *__restrict__ owner,
                                const struct fkm_pp *pp, const i64 *__restrict__ cand,
                                const double *__restrict__ cc, u64 *__restrict__ drop, i64 n,
                                i64 k, int trials) {
  extern __shared__ u64 fkm_pp_acc[]; /* [trials] */
  const int b = blockIdx.y;
  const i64 i = (i64)blockIdx.x * FKM_THREADS + threadIdx.x;
  for (int t = threadIdx.x; t < trials; t += FKM_THREADS) fkm_pp_acc[t] = 0ull;
  __syncthreads();
  const double max_term = __longlong_as_double((long long)pp[b].max_bits);
  if (i < n && max_term > 0.0) {
    const int sigma = fkm_pp_sigma(max_term, n);
    const float *wb = w ? w + (i64)b * n : w;
    const double di = d2[(i64)b * n + i], wi = fkm_pp_weight(wb, i);
    const int a = owner[(i64)b * n + i];
    const elem_t *xb = x + (i64)b * n * FKM_DP;
    const u64 q_term = fkm_pp_quantise(__dmul_rn(wi, di), max_term, sigma);
    for (int t = 0; t < trials; ++t) {
      if (fkm_pp_pruned(cc[((i64)b * trials + t) * k + a], di)) continue;
      const double dist = fkm_pp_sqdist(xb + i * FKM_DP, xb + cand[(i64)b * trials + t] * FKM_DP);
      if (dist >= di) continue;
      const u64 q = q_term - fkm_pp_quantise(__dmul_rn(wi, dist), max_term, sigma);
      if (q) atomicAdd(&fkm_pp_acc[t], q);
    }
  }
  __syncthreads();
  for (int t = threadIdx.x; t < trials; t += FKM_THREADS)
    if (fkm_pp_acc[t]) atomicAdd(&drop[(i64)b * trials + t], fkm_pp_acc[t]);
}

/* Block b, one thread: the step's winner (lowest potential Q − drop, i.e. the largest drop, ties
 * to the earlier trial; the one trial of step 0) becomes idx[b][step] and pp[b].winner; resets
 * the step's sums and drop[b] for the next step. */
extern "C" __global__ void FKM_ENTRY(fkm_pp_choose)(const i64 *__restrict__ cand, u64 *__restrict__ drop,
                                                   struct fkm_pp *pp, unsigned char *__restrict__ picked,
                                                   i64 *__restrict__ idx, i64 n, i64 k, i64 step,
                                                   int trials, int step_trials) {
  if (threadIdx.x != 0) return;
  const int b = blockIdx.x;
  int best = 0;
  for (int t = 1; t < step_trials; ++t)
    if (drop[(i64)b * trials + t] > drop[(i64)b * trials + best]) best = t;
  const i64 c = cand[(i64)b * trials + best];
  idx[(i64)b * k + step] = c;
  picked[(i64)b * n + c] = 1;
  for (int t = 0; t < trials; ++t) drop[(i64)b * trials + t] = 0ull;
  pp[b].max_bits = 0ull;
  pp[b].total = 0ull;
  pp[b].winner = best;
}
