/* Update and finalize: per-cluster means over the sorted point runs (fixed summation order), the
 * empty-cluster policy (keep), the shift and the convergence flag; inertia of a final assignment. */
#define FKM_GROUPS (FKM_THREADS / 32)

__device__ __forceinline__ double fkm_warp_sum_d(double v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

#define FKM_VEC 4 /* columns per lane and load: 8 bytes of fp16/bf16, 16 of fp32 */
#define FKM_SPAN (32 * FKM_VEC)

/* The 4 elements at p (16-byte aligned for fp32, 8 for 16-bit types) as floats. */
__device__ __forceinline__ void fkm_load4(const elem_t *p, float *out) {
#if FKM_DTYPE == 3
  const float4 v = *(const float4 *)p;
  out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
#else
  const uint2 v = *(const uint2 *)p;
  out[0] = fkm_to_f32((elem_t)(v.x & 0xffffu)), out[1] = fkm_to_f32((elem_t)(v.x >> 16));
  out[2] = fkm_to_f32((elem_t)(v.y & 0xffffu)), out[3] = fkm_to_f32((elem_t)(v.y >> 16));
#endif
}

/* Weight of point i of a batch (wb [N], or NULL: 1). */
__device__ __forceinline__ double fkm_weight(const float *wb, i64 i) { return wb ? (double)wb[i] : 1.0; }

/* Block (c, b) recomputes centroid c of batch b from the run sorted[start .. start+count) of its
 * points (those of positive weight): the mean Σ w·x / Σ w (w [B][N], NULL: every weight 1, when
 * Σ w is the count and the mean that of the points). Each lane owns FKM_VEC columns of a
 * FKM_SPAN-wide slice, the FKM_GROUPS warps stride over the run, partial sums (fp64) meet in a
 * fixed order. Cosine/dot centroids are scaled to unit length. Writes c32 in place and raises
 * state->shift_bits to this centroid's shift. An empty cluster keeps its centroid. Dynamic shared
 * memory: D floats. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_reduce_finalize)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                   const int *__restrict__ sorted,
                                   const int *__restrict__ start, const int *__restrict__ counts,
                                   float *__restrict__ c32, struct fkm_state *state, i64 n, int k) {
  if (state->done) return;
  extern __shared__ float fkm_mean[];
  __shared__ double part[FKM_GROUPS][FKM_SPAN], part_w[FKM_GROUPS];
  __shared__ float scratch[FKM_GROUPS];
  const int b = blockIdx.y, c = blockIdx.x, lane = threadIdx.x & 31, g = threadIdx.x >> 5;
  const int cnt = counts[(i64)b * k + c];
  if (cnt == 0) return;
  const int *run = sorted + (i64)b * n + start[(i64)b * k + c];
  const elem_t *xb = x + (i64)b * n * FKM_DP;
  const float *wb = w ? w + (i64)b * n : w;
  if (lane == 0) { /* Σ w over this warp's share of the run: its length without weights */
    double ws = 0.0;
    if (wb)
      for (int j = g; j < cnt; j += FKM_GROUPS) ws += wb[run[j]];
    else
      ws = g < cnt ? (double)((cnt - g + FKM_GROUPS - 1) / FKM_GROUPS) : 0.0;
    part_w[g] = ws;
  }
  for (int d0 = 0; d0 < FKM_D; d0 += FKM_SPAN) {
    const int d = d0 + lane * FKM_VEC;
    double s[FKM_VEC] = {0.0, 0.0, 0.0, 0.0};
    if (d < FKM_DP) {
#pragma unroll 4
      for (int j = g; j < cnt; j += FKM_GROUPS) {
        float v[FKM_VEC];
        fkm_load4(xb + (i64)run[j] * FKM_DP + d, v);
        const double wj = fkm_weight(wb, run[j]);
#pragma unroll
        for (int e = 0; e < FKM_VEC; ++e) s[e] += wj * v[e];
      }
    }
#pragma unroll
    for (int e = 0; e < FKM_VEC; ++e) part[g][lane * FKM_VEC + e] = s[e];
    __syncthreads();
    for (int e = threadIdx.x; e < FKM_SPAN && d0 + e < FKM_D; e += FKM_THREADS) {
      double t = 0.0, tw = 0.0;
      for (int gg = 0; gg < FKM_GROUPS; ++gg) t += part[gg][e], tw += part_w[gg];
      fkm_mean[d0 + e] = (float)(t / tw);
    }
    __syncthreads();
  }
  float scale = 1.0f;
  if (FKM_UNIT_CENTROIDS) {
    float s = 0.0f;
    for (int d = threadIdx.x; d < FKM_D; d += FKM_THREADS) s = fmaf(fkm_mean[d], fkm_mean[d], s);
    const float n2 = fkm_block_sum(s, scratch);
    scale = n2 > 0.0f ? rsqrtf(n2) : 0.0f;
  }
  float *cb = c32 + ((i64)b * k + c) * FKM_D;
  float s2 = 0.0f;
  for (int d = threadIdx.x; d < FKM_D; d += FKM_THREADS) {
    const float v = fkm_mean[d] * scale, diff = v - cb[d];
    s2 = fmaf(diff, diff, s2);
    cb[d] = v;
  }
  s2 = fkm_block_sum(s2, scratch);
  if (threadIdx.x == 0) atomicMax(&state->shift_bits, __float_as_uint(sqrtf(s2)));
}

/* One thread: closes an iteration (count, shift, flag). tol ≤ 0 never sets the flag. */
extern "C" __global__ void FKM_ENTRY(fkm_check)(struct fkm_state *state, float tol) {
  if (state->done) return;
  const float shift = __uint_as_float(state->shift_bits);
  state->last_shift = shift;
  state->iter += 1;
  state->shift_bits = 0;
  if (shift < tol) state->done = 1;
}

/* partial [B][gridDim.x] = Σ over this block's points of w·‖x − c32[label]‖² (fp64; w [B][N], NULL:
 * 1), one warp per point, fixed order. Grid (blocks, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_point_inertia)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                 const int *__restrict__ labels,
                                 const float *__restrict__ c32, double *__restrict__ partial, i64 n, int k) {
  __shared__ double warp_total[FKM_GROUPS];
  const int b = blockIdx.y, lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  const float *wb = w ? w + (i64)b * n : w;
  double acc = 0.0;
  for (i64 i = (i64)blockIdx.x * FKM_GROUPS + wid; i < n; i += (i64)gridDim.x * FKM_GROUPS) {
    const elem_t *row = x + ((i64)b * n + i) * FKM_DP;
    const float *cr = c32 + ((i64)b * k + labels[(i64)b * n + i]) * FKM_D;
    double s = 0.0;
    for (int d = lane; d < FKM_D; d += 32) {
      const double diff = (double)fkm_to_f32(row[d]) - (double)cr[d];
      s += diff * diff;
    }
    acc += fkm_weight(wb, i) * fkm_warp_sum_d(s);
  }
  if (lane == 0) warp_total[wid] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = 0.0;
    for (int i = 0; i < FKM_GROUPS; ++i) t += warp_total[i];
    partial[(i64)b * gridDim.x + blockIdx.x] = t;
  }
}

/* inertia [B] = Σ partial [B][parts] in index order. Grid B, one thread used. */
extern "C" __global__ void FKM_ENTRY(fkm_sum_partials)(const double *__restrict__ partial, int parts,
                                                      double *__restrict__ inertia) {
  if (threadIdx.x != 0) return;
  double t = 0.0;
  for (int i = 0; i < parts; ++i) t += partial[(i64)blockIdx.x * parts + i];
  inertia[blockIdx.x] = t;
}

/* Better candidate for FKM_EMPTY_FARTHEST: farther first, then the lower point index. */
__device__ __forceinline__ bool fkm_farther(double d, i64 i, double bd, i64 bi) {
  return bi < 0 || d > bd || (d == bd && i < bi);
}

/* Block-wide best (d, i) by fkm_farther; every thread gets it. scratch: FKM_GROUPS pairs. */
__device__ __forceinline__ void fkm_block_farthest(double &d, i64 &i, double *sd, i64 *si) {
  for (int off = 16; off > 0; off >>= 1) {
    const double od = __shfl_xor_sync(0xffffffffu, d, off);
    const i64 oi = __shfl_xor_sync(0xffffffffu, i, off);
    if (oi >= 0 && fkm_farther(od, oi, d, i)) d = od, i = oi;
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sd[threadIdx.x >> 5] = d, si[threadIdx.x >> 5] = i;
  __syncthreads();
  d = sd[0], i = si[0];
  for (int w = 1; w < FKM_GROUPS; ++w)
    if (si[w] >= 0 && fkm_farther(sd[w], si[w], d, i)) d = sd[w], i = si[w];
}

/* Block b applies FKM_EMPTY_FARTHEST to batch b (scikit-learn's rule, as the CPU engine): the
 * clusters still empty, in increasing index, take the points of positive weight (w [B][N], NULL:
 * all) farthest from their old centroid
 * (c32 before the update), farthest first, ties to the lower index; a taken point is relabelled,
 * leaving its old cluster (which, emptied, keeps its centroid if already passed). counts [B][K]
 * are updated alongside; the caller sorts the labels again. dist: [B][N] fp64 scratch. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_relocate)(const elem_t *__restrict__ x, const float *__restrict__ w,
                            int *__restrict__ labels,
                            int *__restrict__ counts, const float *__restrict__ c32,
                            double *__restrict__ dist, i64 n, int k, struct fkm_state *state) {
  if (state->done) return;
  __shared__ int any_empty;
  __shared__ double sd[FKM_GROUPS];
  __shared__ i64 si[FKM_GROUPS];
  const int b = blockIdx.x;
  int *cnt = counts + (i64)b * k, *lb = labels + (i64)b * n;
  double *db = dist + (i64)b * n;
  if (threadIdx.x == 0) any_empty = 0;
  __syncthreads();
  for (int c = threadIdx.x; c < k; c += FKM_THREADS)
    if (cnt[c] == 0) any_empty = 1;
  __syncthreads();
  if (!any_empty) return;
  for (i64 i = threadIdx.x; i < n; i += FKM_THREADS) {
    const elem_t *row = x + ((i64)b * n + i) * FKM_DP;
    const float *cr = c32 + ((i64)b * k + lb[i]) * FKM_D;
    double s = 0.0;
    for (int d = 0; d < FKM_D; ++d) {
      const double diff = (double)fkm_to_f32(row[d]) - (double)cr[d];
      s += diff * diff;
    }
    db[i] = !w || w[(i64)b * n + i] > 0.0f ? s : -1.0; /* −1: never taken */
  }
  __syncthreads();
  double pd = 0.0;
  i64 pi = -1; /* the previous pick: the next one comes strictly after it in farthest order */
  for (int c = 0; c < k; ++c) {
    if (cnt[c] != 0) continue;
    double bd = 0.0;
    i64 bi = -1;
    for (i64 i = threadIdx.x; i < n; i += FKM_THREADS)
      if (db[i] >= 0.0 && (pi < 0 || fkm_farther(pd, pi, db[i], i)) && fkm_farther(db[i], i, bd, bi))
        bd = db[i], bi = i;
    fkm_block_farthest(bd, bi, sd, si);
    if (bi < 0) return;
    if (threadIdx.x == 0) {
      cnt[lb[bi]] -= 1;
      cnt[c] = 1;
      lb[bi] = c;
    }
    pd = bd, pi = bi;
    __syncthreads();
  }
}

/* Per-iteration report counts (only when a callback asks): stats[0] += labels that differ from
 * prev (then prev = labels; prev starts at −1 so the first assignment counts every point),
 * stats[1] += empty clusters. labels/prev [B·N], counts [B·K]. Grid-stride, integer atomics. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_iter_stats)(const int *__restrict__ labels, int *__restrict__ prev,
                              const int *__restrict__ counts, unsigned long long *stats,
                              i64 points, i64 clusters) {
  unsigned long long changed = 0, empty = 0;
  const i64 stride = (i64)gridDim.x * FKM_THREADS;
  for (i64 i = (i64)blockIdx.x * FKM_THREADS + threadIdx.x; i < points; i += stride) {
    changed += labels[i] != prev[i];
    prev[i] = labels[i];
  }
  for (i64 c = (i64)blockIdx.x * FKM_THREADS + threadIdx.x; c < clusters; c += stride)
    empty += counts[c] == 0;
  if (changed) atomicAdd(&stats[0], changed);
  if (empty) atomicAdd(&stats[1], empty);
}
