/* Greedy k-means++ seeding on the device, step by step as runtime/init_kmeanspp.c states the
 * procedure, so that the picks are the CPU engine's: distances in fp64 with one rounding per
 * operation in index order (explicit _rn intrinsics: no contraction into FMAs), quantised terms
 * summed as 64-bit integers (any order gives the same sums). Most (point, candidate) pairs are
 * settled without an fp64 distance, as min(D²_i, ·) is D²_i for any distance certainly no nearer:
 * first by the triangle inequality through the gap from the candidate to the point's closest
 * centre (no read of the point's row), then by a tensor-core (fp16/bf16) or fp32 (fp32 rows)
 * distance with a proven error bound.
 * Per batch b (grid.y unless said):
 *   x [B][N][DP] compute dtype, w [B][N] fp32 or NULL (every weight 1), d2 [B][N] fp64,
 *   labels [B][N] i32 (the step of the centre D²_i is the distance to), picked [B][N] u8,
 *   chunk [B][C] u64 (C = ⌈N / FKM_PP_CHUNK⌉), pp [B] (max term, Q, winner), cand [B][T] i64 and
 *   pot [B][T] u64 (T = trials per step: what each candidate takes from Q), gap [B][K][TP] f32
 *   (TP = T rounded up to 4), side [B][T] struct fkm_pp_side, idx [B][K] i64 (the picks),
 *   closer [B][N] u32 (bit t: trial t's candidate is nearer than D²_i; cleared as D² takes it),
 *   near [B][N] f64 and near_t [B][N] u8: the fp64 distance of the first closer pair found of a
 *   point this step, and its trial (valid where closer is not 0), so that the winner's D² update
 *   mostly needs no distance again; xside [B][N] struct fkm_pp_side: the rows' sides of the
 *   tensor-core screen, set once. */
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

/* 62 − ⌈log2 n⌉ − ⌊log2 max_term⌋ (n ≥ 1). */
__device__ __forceinline__ int fkm_pp_sigma(double max_term, i64 n) {
  return 62 - (64 - __clzll(n - 1)) - ilogb(max_term);
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

/* Elements of one 16-byte vector of a row (FKM_PP_PER of them) as fp32. */
#define FKM_PP_PER (16 / (int)sizeof(elem_t))
__device__ __forceinline__ void fkm_pp_unpack(uint4 q, float *v) {
  const u32 u[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int e = 0; e < 4; ++e) {
#if FKM_DTYPE == 3
    v[e] = __uint_as_float(u[e]);
#else
    v[2 * e] = fkm_to_f32((elem_t)(u[e] & 0xffffu));
    v[2 * e + 1] = fkm_to_f32((elem_t)(u[e] >> 16));
#endif
  }
}

/* Elements j … j + 7 of a row (j a multiple of 8) as fp32. Rows hold DP (a multiple of 16)
 * elements from a 16-byte aligned base, as the assign kernels' 16-byte copies need too. */
__device__ __forceinline__ void fkm_pp_load8(const elem_t *row, int j, float *v) {
  const uint4 *p = (const uint4 *)(row + j);
#pragma unroll
  for (int h = 0; h < 8 / FKM_PP_PER; ++h) fkm_pp_unpack(p[h], v + h * FKM_PP_PER);
}

/* 16-byte loads of each operand fkm_pp_sqdist issues before it sums what they bring: one thread's
 * distance waits for a memory round trip every 4 vectors instead of every one. */
#define FKM_PP_VECS 4

/* ‖a − c‖² in fp64, explicit differences in index order; DP columns (the zero pad adds 0). */
__device__ __forceinline__ double fkm_pp_sqdist(const elem_t *a, const elem_t *c) {
  double s = 0.0;
  for (int j0 = 0; j0 < FKM_DP; j0 += FKM_PP_VECS * FKM_PP_PER) {
    uint4 av[FKM_PP_VECS], cv[FKM_PP_VECS];
#pragma unroll
    for (int u = 0; u < FKM_PP_VECS; ++u)
      if (j0 + u * FKM_PP_PER < FKM_DP) {
        av[u] = ((const uint4 *)(a + j0))[u];
        cv[u] = ((const uint4 *)(c + j0))[u];
      }
#pragma unroll
    for (int u = 0; u < FKM_PP_VECS; ++u)
      if (j0 + u * FKM_PP_PER < FKM_DP) {
        float ae[FKM_PP_PER], ce[FKM_PP_PER];
        fkm_pp_unpack(av[u], ae);
        fkm_pp_unpack(cv[u], ce);
#pragma unroll
        for (int e = 0; e < FKM_PP_PER; ++e) {
          const double diff = __dsub_rn((double)ae[e], (double)ce[e]);
          s = __dadd_rn(s, __dmul_rn(diff, diff));
        }
      }
  }
  return s;
}

__device__ __forceinline__ u64 fkm_warp_sum_u64(u64 v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__device__ __forceinline__ u64 fkm_warp_max_u64(u64 v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const u64 o = __shfl_xor_sync(0xffffffffu, v, off);
    v = o > v ? o : v;
  }
  return v;
}

#define FKM_PP_SPAN 4 /* points a thread of fkm_pp_add_centre: their loads in flight together */

/* One side of the tensor-core screen's bound (see fkm_pp_mma_settled) from the fp32 ‖·‖² sq:
 * a = sq·(1 − (DP + 4)·2^-23) rounded down (−∞ when sq is not finite) and r, for a point
 * FKM_PP_POINT_SCALE·√sq rounded up (err's (DP + 16)·2^-21), for a candidate √sq or more
 * (fkm_pp_candidate_side). */
struct fkm_pp_side {
  float a, r;
};

#define FKM_PP_POINT_SCALE ((FKM_DP + 16) * 0x1p-21f)

/* A point's side from its fp32 ‖·‖² sq. */
__device__ __forceinline__ fkm_pp_side fkm_pp_point_side(float sq) {
  fkm_pp_side v;
  v.a = sq < FKM_INF ? __fmul_rd(sq, 1.0f - (FKM_DP + 4) * 0x1p-23f) : -FKM_INF;
  v.r = __fmul_ru(FKM_PP_POINT_SCALE, __fsqrt_ru(sq));
  return v;
}

/* A candidate's side from its row's: the same a, and r / scale rounded up, which is at least √sq
 * (r ≥ scale·√sq), so that the screen's bound holds with no second norm of the row. */
__device__ __forceinline__ fkm_pp_side fkm_pp_candidate_side(fkm_pp_side row) {
  fkm_pp_side v = {row.a, __fdiv_ru(row.r, FKM_PP_POINT_SCALE)};
  return v;
}

/* The fp32 ‖a‖² (fmaf steps in index order; the tensor-core screen's bound allows any order). */
__device__ __forceinline__ float fkm_pp_sqnorm_f32(const elem_t *a) {
  float s = 0.0f;
  for (int j = 0; j < FKM_DP; j += 8) {
    float v[8];
    fkm_pp_load8(a, j, v);
#pragma unroll
    for (int e = 0; e < 8; ++e) s = fmaf(v[e], v[e], s);
  }
  return s;
}

/* The step's largest term into pp[b].max_bits (which the caller zeroed): first = 1 before any
 * centre (the terms are the weights; for fp16/bf16 rows xside [B][N] takes the rows' sides,
 * fkm_pp_point_side of fkm_pp_sqnorm_f32); otherwise centre `step` (idx[b][step]) joins:
 * D²_i = ‖x_i − x_c‖² for step 0; after it, min(D²_i, ‖x_i − x_c‖²) for the points whose closer
 * bit of the winning trial is set (for every other point the centre is no nearer than D²_i, which
 * stays), the distance taken from near where near_t holds the winner; labels_i = the centre's
 * step where D²_i takes its distance. Block x covers points FKM_PP_SPAN · FKM_THREADS · x
 * onwards, a thread every FKM_THREADS-th of them. Grid (⌈N / (FKM_PP_SPAN · FKM_THREADS)⌉, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_add_centre)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                 double *__restrict__ d2, int *__restrict__ labels,
                                 fkm_pp_side *__restrict__ xside, const i64 *__restrict__ idx,
                                 struct fkm_pp *pp, u32 *__restrict__ closer,
                                 const double *__restrict__ near,
                                 const unsigned char *__restrict__ near_t, i64 n, i64 k, int first,
                                 i64 step) {
  __shared__ u64 block_max;
  const int b = blockIdx.y;
  const i64 i0 = (i64)blockIdx.x * FKM_PP_SPAN * FKM_THREADS + threadIdx.x;
  const float *wb = w ? w + (i64)b * n : w;
  double *db = d2 + (i64)b * n;
  u32 *cl = closer + (i64)b * n;
  if (threadIdx.x == 0) block_max = 0ull;
  const bool update = !first && step > 0;
  u32 bits[FKM_PP_SPAN];
#pragma unroll
  for (int r = 0; r < FKM_PP_SPAN; ++r) {
    const i64 i = i0 + r * FKM_THREADS;
    bits[r] = update && i < n ? cl[i] : 0u;
  }
  const int winner_t = update ? (int)pp[b].winner : 0;
  const u32 winner = update ? 1u << winner_t : 0u;
  u64 term = 0ull; /* the bits of a non-negative double order as the values do */
#pragma unroll
  for (int r = 0; r < FKM_PP_SPAN; ++r) {
    const i64 i = i0 + r * FKM_THREADS;
    if (i >= n) break;
    const elem_t *xb = x + (i64)b * n * FKM_DP, *row = xb + i * FKM_DP;
#if FKM_DTYPE != 3
    if (first) xside[(i64)b * n + i] = fkm_pp_point_side(fkm_pp_sqnorm_f32(row));
#endif
    if (!first && (step == 0 || (bits[r] & winner))) {
      const i64 bi = (i64)b * n + i;
      const elem_t *centre = xb + idx[(i64)b * k + step] * FKM_DP;
      const double dist = step > 0 && near_t[bi] == winner_t
                              ? near[bi]
                              : fkm_pp_sqdist(row, centre);
      if (step == 0 || dist < db[i]) db[i] = dist, labels[(i64)b * n + i] = (int)step;
    }
    if (bits[r]) cl[i] = 0u;
    const u64 t = (u64)__double_as_longlong(fkm_pp_term(wb, db, i, first));
    term = t > term ? t : term;
  }
  term = fkm_warp_max_u64(term);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) atomicMax(&block_max, term);
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

/* The triangle inequality's test. With l the centre D²_i is the distance to, ‖x_i − x_c‖ ≥
 * ‖x_c − x_l‖ − ‖x_i − x_l‖, so a gap ‖x_c − x_l‖ ≥ (1 + ρ)·‖x_i − x_l‖ makes ‖x_i − x_c‖ ≥
 * ρ·‖x_i − x_l‖. Each fp64 distance of fkm_pp_sqdist lies within (1 ± γ) of the exact one, γ =
 * γ_(DP+2) (non-negative terms; fp64 neither overflows nor underflows on fp32 differences), so
 * ρ² = (1 + γ)/(1 − γ) is enough for the computed distance to be no nearer than D²_i; in computed
 * values the gap test is gap ≥ 4·D²_i·(1 + 3γ + u) to first order, and the scale below gives 16×
 * that margin (2^-49 against 2^-53). The test never reads the point's row. */
#define FKM_PP_GAP_SCALE (4.0 * (1.0 + (FKM_DP + 8) * 0x1p-49))

/* The fp32 squared distance of two rows (the screen's a). */
__device__ __forceinline__ float fkm_pp_sqdist_f32(const elem_t *a, const elem_t *c) {
  float s = 0.0f;
  for (int j = 0; j < FKM_DP; j += 8) {
    float av[8], cv[8];
    fkm_pp_load8(a, j, av);
    fkm_pp_load8(c, j, cv);
#pragma unroll
    for (int e = 0; e < 8; ++e) s = fmaf(av[e] - cv[e], av[e] - cv[e], s);
  }
  return s;
}

/* ‖a − c‖² in fp64 by a warp (lane l: columns 8l … 8l + 7 of each 256, then a shuffle tree), for
 * every lane. The order differs from fkm_pp_sqdist's, not the bound the gap test uses: each term
 * still passes through fewer than DP + 2 roundings. */
__device__ __forceinline__ double fkm_pp_sqdist_warp(const elem_t *a, const elem_t *c) {
  double s = 0.0;
  for (int j = 8 * (threadIdx.x & 31); j < FKM_DP; j += 256) {
    float av[8], cv[8];
    fkm_pp_load8(a, j, av);
    fkm_pp_load8(c, j, cv);
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const double diff = __dsub_rn((double)av[e], (double)cv[e]);
      s = __dadd_rn(s, __dmul_rn(diff, diff));
    }
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) s = __dadd_rn(s, __shfl_xor_sync(0xffffffffu, s, off));
  return s;
}

/* Pair (j, t) (a warp): gap[b][j][t] = ‖x_cand_t − x_centre_j‖² (fkm_pp_sqdist_warp) rounded
 * down to fp32, for the `step` centres picked so far and the step's trials; for fp16/bf16 rows the
 * warps of j = 0 also write side[b][t], the candidate's fkm_pp_candidate_side of its row's xside.
 * Grid (⌈step · trials / (FKM_THREADS / 32)⌉, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_pp_gaps)(const elem_t *__restrict__ x, const fkm_pp_side *__restrict__ xside,
                           const i64 *__restrict__ idx, const i64 *__restrict__ cand,
                           float *__restrict__ gap, fkm_pp_side *__restrict__ side, i64 n, i64 k,
                           int trials, i64 step) {
  const int b = blockIdx.y, lane = threadIdx.x & 31;
  const i64 g = ((i64)blockIdx.x * FKM_THREADS + threadIdx.x) >> 5, j = g / trials;
  const int t = (int)(g % trials);
  if (j >= step) return;
  const i64 ci = cand[(i64)b * trials + t];
  const elem_t *xb = x + (i64)b * n * FKM_DP;
  const double d = fkm_pp_sqdist_warp(xb + ci * FKM_DP, xb + idx[(i64)b * k + j] * FKM_DP);
  if (lane == 0) gap[((i64)b * k + j) * ((trials + 3) & ~3) + t] = __double2float_rd(d);
#if FKM_DTYPE != 3
  if (j == 0 && lane == 0)
    side[(i64)b * trials + t] = fkm_pp_candidate_side(xside[(i64)b * n + ci]);
#endif
}

/* A warp's queue of the pairs its screen leaves to the fp64 distance, in shared memory: entries
 * row << 5 | trial (row: the point's place among the warp's 32); count is the same in every lane. */
struct fkm_pp_warp_queue {
  u32 *pairs;
  int count;
};

/* Appends v where push holds. Every lane of the warp calls it. */
__device__ __forceinline__ void fkm_pp_push(bool push, u32 v, fkm_pp_warp_queue &q) {
  const u32 pushing = __ballot_sync(0xffffffffu, push), lane = threadIdx.x & 31;
  if (push) q.pairs[q.count + __popc(pushing & ((1u << lane) - 1u))] = v;
  q.count += __popc(pushing);
}

#if FKM_DTYPE != 3
#define FKM_PP_NT 4 /* n8 tiles of candidates in the tensor-core screen: trials ≤ 32 */

/* The tensor-core screen proves the fp64 distance fkm_pp_sqdist ≥ D²_i from a dot product (fp16/bf16
 * operands, fp32 accumulation) and the fp32 ‖x‖² and ‖c‖² (any order). The products are exact in
 * fp32 (bf16 ones may underflow: under 2^-126 each); each k16 MMA adds 16 of them and the
 * accumulator, aligned to the largest and truncated to fp32 (the behaviour measured on NVIDIA
 * tensor cores), so the dot is within (1.2·DP + 17)·2^-23·Σ|x_j c_j| of exact, and Σ|x_j c_j| ≤
 * ‖x‖‖c‖; the fp32 norms are within (DP + 4)·2^-23 relative. So the exact distance is at least
 *   lower = a_x + a_c − 2·dot − 2·err,  a = ‖·‖²·(1 − (DP + 4)·2^-23),
 *   err = (DP + 16)·2^-21·√(‖x‖²‖c‖²) + DP·2^-120 (4× the dot's bound, and what underflow loses),
 * each term rounded toward the safe side (the _rd/_ru intrinsics), so the fp32 lower is below the
 * real one. The fp64 distance is within (DP + 8)·2^-52 relative of exact, so lower > D²_i·(1 +
 * 2^-23) proves it ≥ D²_i. Anything not finite proves nothing (−∞ terms, NaN comparisons). */

/* D²_i·(1 + 2^-23), rounded up to fp32 (+∞ past the fp32 range: proves nothing). */
__device__ __forceinline__ float fkm_pp_threshold(double di) {
  return __fmul_ru(__double2float_ru(di), 1.0f + 0x1p-23f);
}

__device__ __forceinline__ bool fkm_pp_mma_settled(float dot, fkm_pp_side x, fkm_pp_side c, float thr) {
  const float err = __fmaf_ru(x.r, c.r, FKM_DP * 0x1p-120f);
  const float lower = __fmaf_rd(-2.0f, err, __fmaf_rd(-2.0f, dot, __fadd_rd(x.a, c.a)));
  return fabsf(dot) < FKM_INF && lower > thr;
}

/* 32-column steps of one pass of the screen with NT n8 tiles: a pass issues all its row loads
 * before its MMAs, so that a warp keeps 2 × passes × 16 bytes a lane in flight (fewer with more
 * tiles, whose accumulators take the registers). */
template <int NT> struct fkm_pp_passes {
  static constexpr int value = NT <= 2 ? 4 : 2;
};

/* 16 bytes of a row, or zeros where !live. Cached in L1: the pairs the screen leaves to the fp64
 * distance read their rows again soon after. */
__device__ __forceinline__ uint4 fkm_pp_ld16(const elem_t *p, bool live) {
  uint4 v = {0u, 0u, 0u, 0u};
  if (live) v = *(const uint4 *)p;
  return v;
}

/* 8 bytes of a row, or zeros where !live. */
__device__ __forceinline__ uint2 fkm_pp_ld8(const elem_t *p, bool live) {
  uint2 v = {0u, 0u};
  if (live) v = *(const uint2 *)p;
  return v;
}

/* Columns j … j + 31 of fkm_pp_mma_tile: a0, a1 hold this thread's 8 of rows g and g + 8. */
template <int NT>
__device__ __forceinline__ void fkm_pp_mma_k32(uint4 a0, uint4 a1, const elem_t *const *c, int j,
                                               float (*dot)[4]) {
  const int q = threadIdx.x & 3;
  const u32 lo[4] = {a0.x, a1.x, a0.y, a1.y}, hi[4] = {a0.z, a1.z, a0.w, a1.w};
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const uint4 bv = *(const uint4 *)(c[t] + j + 8 * q);
    const u32 blo[2] = {bv.x, bv.y}, bhi[2] = {bv.z, bv.w};
    fkm_mma16816(dot[t], lo, blo);
    fkm_mma16816(dot[t], hi, bhi);
  }
}

/* One warp, one m16 tile: dot[t] (the m16n8 accumulator layout: rows g, g + 8 of lane 4g + q,
 * columns 2q, 2q + 1) += rows r0 (row g) and r1 (row g + 8) against c[t] (candidate 8t + g) for
 * the NT n8 tiles. A row not live is read as zeros (no memory traffic; its pairs are not asked
 * about). Both operands take the columns in the same permuted order, which a dot product does not
 * see: of each 32 columns, thread q holds 8 consecutive ones (4 of a last 16). */
template <int NT>
__device__ __forceinline__ void fkm_pp_mma_tile(const elem_t *r0, const elem_t *r1, bool live0,
                                                bool live1, const elem_t *const *c, float (*dot)[4]) {
  constexpr int full = FKM_DP / 32 * 32, passes = fkm_pp_passes<NT>::value;
  const int q = threadIdx.x & 3;
  for (int j0 = 0; j0 < full; j0 += 32 * passes) {
    uint4 a0[passes], a1[passes];
#pragma unroll
    for (int u = 0; u < passes; ++u) {
      const bool in = j0 + 32 * u < full;
      a0[u] = fkm_pp_ld16(r0 + j0 + 32 * u + 8 * q, live0 && in);
      a1[u] = fkm_pp_ld16(r1 + j0 + 32 * u + 8 * q, live1 && in);
    }
#pragma unroll
    for (int u = 0; u < passes; ++u)
      if (j0 + 32 * u < full) fkm_pp_mma_k32<NT>(a0[u], a1[u], c, j0 + 32 * u, dot);
  }
  if (full < FKM_DP) {
    const uint2 a0 = fkm_pp_ld8(r0 + full + 4 * q, live0), a1 = fkm_pp_ld8(r1 + full + 4 * q, live1);
    const u32 a[4] = {a0.x, a1.x, a0.y, a1.y};
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const uint2 bv = *(const uint2 *)(c[t] + full + 4 * q);
      const u32 bb[2] = {bv.x, bv.y};
      fkm_mma16816(dot[t], a, bb);
    }
  }
}

/* Appends the pairs of pend to the warp's queue (bit 4t + e: accumulator element e of n8 tile t,
 * i.e. row la or lb by e >> 1 and candidate 8t + 2q + (e & 1)). Every lane of the warp calls it. */
__device__ __forceinline__ void fkm_pp_push_pairs(u32 pend, int row_a, int row_b,
                                                  fkm_pp_warp_queue &queue) {
  if (!__any_sync(0xffffffffu, pend != 0u)) return;
  const int lane = threadIdx.x & 31, q = lane & 3, count = __popc(pend);
  int upto = count; /* inclusive prefix of the warp's counts */
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const int o = __shfl_up_sync(0xffffffffu, upto, off);
    if (lane >= off) upto += o;
  }
  int at = queue.count + upto - count;
  queue.count += __shfl_sync(0xffffffffu, upto, 31);
  for (; pend; pend &= pend - 1u) {
    const int bit = __ffs(pend) - 1, row = bit & 2 ? row_b : row_a;
    queue.pairs[at++] = (u32)row << 5 | (u32)(8 * (bit >> 2) + 2 * q + (bit & 1));
  }
}

/* The warp's 32 points (lane l: point i0w + l, unsettled trials in mask) through the tensor-core
 * screen, 16 at a time; pairs it cannot settle join the queue. Reads no row whose pairs the gap
 * test settled all, and skips a half of only such rows. db, xsb: the batch's D² and rows' sides;
 * c[t]: this lane's candidate row of n8 tile t; cs [trials]: the candidates' sides. */
template <int NT>
__device__ __forceinline__ void fkm_pp_tensor_screen(const elem_t *xb, const double *db,
                                                     const fkm_pp_side *xsb, i64 n, i64 i0w,
                                                     u32 mask, const elem_t *const *c, int trials,
                                                     const fkm_pp_side *cs, fkm_pp_warp_queue &queue) {
  const int lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
  for (int h = 0; h < 2; ++h) {
    const int la = h * 16 + g, lb = la + 8;
    const u32 ma = __shfl_sync(0xffffffffu, mask, la), mb = __shfl_sync(0xffffffffu, mask, lb);
    if (!__any_sync(0xffffffffu, (ma | mb) != 0u)) continue;
    const i64 ia = i0w + la < n ? i0w + la : n - 1, ib = i0w + lb < n ? i0w + lb : n - 1;
    float dot[NT][4] = {};
    fkm_pp_mma_tile<NT>(xb + ia * FKM_DP, xb + ib * FKM_DP, ma != 0u, mb != 0u, c, dot);
    const fkm_pp_side none = {0.0f, 0.0f}, xs[2] = {ma ? xsb[ia] : none, mb ? xsb[ib] : none};
    const float thr[2] = {fkm_pp_threshold(ma ? db[ia] : 0.0), fkm_pp_threshold(mb ? db[ib] : 0.0)};
    u32 pend = 0u;
#pragma unroll
    for (int t = 0; t < NT; ++t)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int ct = 8 * t + 2 * q + (e & 1), second = e >> 1;
        if (ct < trials && ((second ? mb : ma) >> ct & 1u) &&
            !fkm_pp_mma_settled(dot[t][e], xs[second], cs[ct], thr[second]))
          pend |= 1u << (4 * t + e);
      }
    fkm_pp_push_pairs(pend, la, lb, queue);
  }
}

#endif

/* The trials the gap test leaves unsettled for a point (bit t), from its D²_i and the row of gap
 * for its centre l: gap_lt (rounded down) ≥ FKM_PP_GAP_SCALE · D²_i (rounded up) settles. */
__device__ __forceinline__ u32 fkm_pp_gap_mask(const float *gap, int l, double di, i64 k, int b,
                                               int trials) {
  const int tp = (trials + 3) & ~3;
  const float bound = __double2float_ru(__dmul_rn(di, FKM_PP_GAP_SCALE));
  const float4 *row = (const float4 *)(gap + ((i64)b * k + l) * tp);
  u32 mask = 0u;
  for (int t4 = 0; t4 < tp / 4; ++t4) {
    const float4 v = row[t4];
    const float g[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (4 * t4 + e < trials && !(g[e] >= bound)) mask |= 1u << (4 * t4 + e);
  }
  return mask;
}

/* What a step of fkm_pp_potential reads and writes, for one batch. */
struct fkm_pp_step {
  const elem_t *xb;       /* [N][DP] */
  const double *db;       /* [N] D² */
  const float *wb;        /* [N] weights or NULL */
  const fkm_pp_side *xsb; /* [N] the rows' sides */
  const int *lb;          /* [N] the step of each point's nearest centre */
  const i64 *cb;          /* [T] the candidates */
  u32 *closer;            /* [N] */
  double *near;           /* [N] */
  unsigned char *near_t;  /* [N] */
  double max_term;
  int sigma;
};

/* The warp's queued pairs, a lane each: the fp64 distance (after the fp32 screen for fp32 rows);
 * where it is nearer than D²_i, sets closer bit t, adds q(w·D²_i) − q(w·dist) to taken[t] and,
 * for the point's first such pair, keeps dist and t in near and near_t. */
__device__ __forceinline__ void fkm_pp_exact_pairs(const fkm_pp_warp_queue &queue,
                                                   const fkm_pp_step &s, i64 i0w, u64 *taken) {
  for (int e = threadIdx.x & 31; e < queue.count; e += 32) {
    const int t = (int)(queue.pairs[e] & 31u);
    const i64 p = i0w + (queue.pairs[e] >> 5);
    const elem_t *row = s.xb + p * FKM_DP, *cr = s.xb + s.cb[t] * FKM_DP;
    const double dp = s.db[p];
#if FKM_DTYPE == 3
    if (fkm_pp_settled(fkm_pp_sqdist_f32(row, cr), dp)) continue;
#endif
    const double dist = fkm_pp_sqdist(row, cr);
    if (!(dist < dp)) continue;
    if (atomicOr(&s.closer[p], 1u << t) == 0u) s.near[p] = dist, s.near_t[p] = (unsigned char)t;
    const double wp = fkm_pp_weight(s.wb, p);
    atomicAdd(&taken[t], fkm_pp_quantise(__dmul_rn(wp, dp), s.max_term, s.sigma) -
                             fkm_pp_quantise(__dmul_rn(wp, dist), s.max_term, s.sigma));
  }
}

/* The warp's tiles of 32 points (tile w of the batch's ⌈N / 32⌉ for every w ≡ this warp's rank in
 * the grid): the gap test, the screen (NT n8 tiles of candidates; unused for fp32 rows), then the
 * fp64 distances of what is left. No block barrier: a warp with slow pairs holds back no other. */
template <int NT>
__device__ void fkm_pp_potential_tiles(const fkm_pp_step &s, const float *gap,
                                       const fkm_pp_side *cs, i64 n, i64 k, int trials, u32 *queue,
                                       u64 *taken) {
  constexpr int warps = FKM_THREADS / 32;
  const int b = blockIdx.y, lane = threadIdx.x & 31;
  fkm_pp_warp_queue q = {queue + (threadIdx.x >> 5) * 32 * trials, 0};
#if FKM_DTYPE != 3
  const elem_t *c[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const int ct = 8 * t + (lane >> 2);
    c[t] = s.xb + s.cb[ct < trials ? ct : trials - 1] * FKM_DP;
  }
#endif
  const i64 stride = (i64)gridDim.x * warps;
  for (i64 tile = (i64)blockIdx.x * warps + (threadIdx.x >> 5); tile * 32 < n; tile += stride) {
    const i64 i0w = tile * 32, i = i0w + lane;
    const u32 mask = i < n ? fkm_pp_gap_mask(gap, s.lb[i], s.db[i], k, b, trials) : 0u;
    q.count = 0;
#if FKM_DTYPE == 3
    for (int t = 0; t < trials; ++t) fkm_pp_push(mask >> t & 1u, (u32)lane << 5 | (u32)t, q);
#else
    fkm_pp_tensor_screen<NT>(s.xb, s.db, s.xsb, n, i0w, mask, c, trials, cs, q);
#endif
    __syncwarp();
    fkm_pp_exact_pairs(q, s, i0w, taken);
    __syncwarp();
  }
}

/* Blocks an SM keeps of fkm_pp_potential: 4 × 8 warps hide the latency of its row loads (64
 * registers a thread; measured 4–6 % faster than 3 blocks of 80). */
#define FKM_PP_POTENTIAL_BLOCKS 4

/* Block (x, b): the step's potentials as what the candidates take away. The potential of trial t
 * is Σ_i q(w_i · min(D²_i, ‖x_i − x_cand_t‖²)) = Q − Σ over the points nearer to the candidate
 * than D²_i of q(w_i·D²_i) − q(w_i·‖x_i − x_cand_t‖²); this kernel adds that second sum to
 * pot[b][t] (the caller zeroed it) and sets closer bit t (trials ≤ 32) of those points. A pair the
 * gap test settles costs no read of the row; the others pass a screen (tensor cores for
 * fp16/bf16, fp32 FMAs for fp32) and what it cannot settle gets the fp64 distance. Persistent:
 * any grid (x) covers every point. Dynamic shared memory: the warps' queues, FKM_THREADS · trials
 * u32. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS, FKM_PP_POTENTIAL_BLOCKS)
    FKM_ENTRY(fkm_pp_potential)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                const double *__restrict__ d2, const int *__restrict__ labels,
                                const fkm_pp_side *__restrict__ xside, const float *__restrict__ gap,
                                const fkm_pp_side *__restrict__ side, const struct fkm_pp *pp,
                                const i64 *__restrict__ cand, u64 *__restrict__ pot,
                                u32 *__restrict__ closer, double *__restrict__ near,
                                unsigned char *__restrict__ near_t, i64 n, i64 k, int trials) {
  extern __shared__ u32 fkm_pp_queue[];
  __shared__ u64 taken[32];
  const int b = blockIdx.y;
  const i64 bn = (i64)b * n;
  if (threadIdx.x < 32) taken[threadIdx.x] = 0ull;
  __syncthreads();
  fkm_pp_step s = {x + bn * FKM_DP, d2 + bn, w ? w + bn : w, xside + bn, labels + bn,
                   cand + (i64)b * trials, closer + bn, near + bn, near_t + bn,
                   __longlong_as_double((long long)pp[b].max_bits), 0};
  s.sigma = s.max_term > 0.0 ? fkm_pp_sigma(s.max_term, n) : 0;
  const fkm_pp_side *cs = side + (i64)b * trials;
#if FKM_DTYPE == 3
  fkm_pp_potential_tiles<1>(s, gap, cs, n, k, trials, fkm_pp_queue, taken);
#else
  switch ((trials + 7) >> 3) {
  case 1: fkm_pp_potential_tiles<1>(s, gap, cs, n, k, trials, fkm_pp_queue, taken); break;
  case 2: fkm_pp_potential_tiles<2>(s, gap, cs, n, k, trials, fkm_pp_queue, taken); break;
  case 3: fkm_pp_potential_tiles<3>(s, gap, cs, n, k, trials, fkm_pp_queue, taken); break;
  default: fkm_pp_potential_tiles<FKM_PP_NT>(s, gap, cs, n, k, trials, fkm_pp_queue, taken);
  }
#endif
  __syncthreads();
  if (threadIdx.x < trials && taken[threadIdx.x])
    atomicAdd(&pot[(i64)b * trials + threadIdx.x], taken[threadIdx.x]);
}

/* Block b, one thread: the step's winner (lowest potential, ties to the earlier trial; the one
 * trial of step 0) becomes idx[b][step]; resets pp[b] and pot[b] for the next step. */
extern "C" __global__ void FKM_ENTRY(fkm_pp_choose)(const i64 *__restrict__ cand, u64 *__restrict__ pot,
                                                   struct fkm_pp *pp, unsigned char *__restrict__ picked,
                                                   i64 *__restrict__ idx, i64 n, i64 k, i64 step,
                                                   int trials, int step_trials) {
  if (threadIdx.x != 0) return;
  const int b = blockIdx.x;
  const u64 *taken = pot + (i64)b * trials;
  int best = 0; /* the lowest potential Q − taken is the most taken */
  for (int t = 1; t < step_trials; ++t)
    if (taken[t] > taken[best]) best = t;
  const i64 c = cand[(i64)b * trials + best];
  idx[(i64)b * k + step] = c;
  pp[b].winner = (u64)best;
  picked[(i64)b * n + c] = 1;
  for (int t = 0; t < trials; ++t) pot[(i64)b * trials + t] = 0ull;
  pp[b].max_bits = 0ull;
  pp[b].total = 0ull;
}
