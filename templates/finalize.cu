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

/* The 4 elements at p (16-byte aligned for fp32, 8 for 16-bit types), loaded as they are stored
 * (fkm_raw4) and then widened to floats. */
#if FKM_DTYPE == 3
typedef float4 fkm_raw4;
#else
typedef uint2 fkm_raw4;
#endif

__device__ __forceinline__ fkm_raw4 fkm_load_raw4(const elem_t *p) { return *(const fkm_raw4 *)p; }

__device__ __forceinline__ void fkm_widen4(fkm_raw4 v, float *out) {
#if FKM_DTYPE == 3
  out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
#else
  out[0] = fkm_to_f32((elem_t)(v.x & 0xffffu)), out[1] = fkm_to_f32((elem_t)(v.x >> 16));
  out[2] = fkm_to_f32((elem_t)(v.y & 0xffffu)), out[3] = fkm_to_f32((elem_t)(v.y >> 16));
#endif
}

/* Weight of point i of a batch (wb [N], or NULL: 1). */
__device__ __forceinline__ double fkm_weight(const float *wb, i64 i) { return wb ? (double)wb[i] : 1.0; }

/* Σ w over members j0, j0 + FKM_GROUPS, ... below cnt when every weight is 1: their number. */
__device__ __forceinline__ double fkm_member_count(int j0, int cnt) {
  return j0 < cnt ? (double)((cnt - j0 + FKM_GROUPS - 1) / FKM_GROUPS) : 0.0;
}

#define FKM_ROWS_IN_FLIGHT 8 /* rows a warp loads (or stages) before it adds them */
#define FKM_STAGES 3 /* batches of FKM_ROWS_IN_FLIGHT rows in a warp's staging ring */
#define FKM_STAGE_ROWS (FKM_STAGES * FKM_ROWS_IN_FLIGHT)
#define FKM_GROUP_BATCHES (32 / FKM_ROWS_IN_FLIGHT) /* batches of 32 members (an index register) */

/* A warp's staging ring in shared memory (fkm_add_members): each batch's row spans and weights
 * land there by cp.async, so that two batches are on their way while one is added and no register
 * holds a row in flight. 12 KiB a warp for fp32, 6 for 16-bit types (FKM__STAGE_BYTES of
 * runtime/gpu_run.h). */
struct fkm_stage {
  elem_t row[FKM_STAGE_ROWS][FKM_SPAN];
  float w[FKM_STAGE_ROWS];
};

/* This thread's FKM_VEC elements at src to shared address dst, asynchronously. */
__device__ __forceinline__ void fkm_cp_span(u32 dst, const elem_t *src) {
#if FKM_DTYPE == 3
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src));
#else
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(dst), "l"(src));
#endif
}
/* The 4-byte word at src to shared address dst, asynchronously. */
__device__ __forceinline__ void fkm_cp_word(u32 dst, const float *src) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(src));
}

/* Row index of member j0 + (32·group + lane)·FKM_GROUPS of a run of cnt (0 past it): lane l of a
 * group's register holds its member l. */
__device__ __forceinline__ int fkm_member_row(const int *__restrict__ run, int j0, int cnt,
                                              int group, int lane) {
  const int at = j0 + (group * 32 + lane) * FKM_GROUPS;
  return at < cnt ? run[at] : 0;
}

/* Copies batch bt of a warp's `members` (member i's row in lane i % 32 of rows, the register of
 * its group) into ring slot bt % FKM_STAGES: the span at column d of each row (live lanes) and,
 * weights given, each member's weight; one commit group, empty past the last batch. */
__device__ __forceinline__ void fkm_stage_batch(fkm_stage *st, const elem_t *__restrict__ x,
                                                const float *__restrict__ w, int rows, int bt,
                                                int members, int d, bool live) {
  const int lane = threadIdx.x & 31, slot0 = bt % FKM_STAGES * FKM_ROWS_IN_FLIGHT;
#pragma unroll
  for (int u = 0; u < FKM_ROWS_IN_FLIGHT; ++u) {
    const int i = bt * FKM_ROWS_IN_FLIGHT + u;
    const i64 r = __shfl_sync(0xffffffffu, rows, i & 31);
    if (live && i < members)
      fkm_cp_span(fkm_smem(&st->row[slot0 + u][lane * FKM_VEC]), x + r * FKM_DP + d);
    if (w && lane == u && i < members) fkm_cp_word(fkm_smem(&st->w[slot0 + u]), w + r);
  }
  fkm_commit();
}

/* s[0..FKM_VEC) += w·(the row's FKM_VEC elements in raw, widened): the one fp64 accumulation of
 * a member's columns in every reduce, so that their sums agree bit for bit. */
__device__ __forceinline__ void fkm_add_row(double *s, double w, fkm_raw4 raw) {
  float v[FKM_VEC];
  fkm_widen4(raw, v);
#pragma unroll
  for (int e = 0; e < FKM_VEC; ++e) s[e] += w * v[e];
}

/* s[0..FKM_VEC) += w·x[run[j]][d .. d + FKM_VEC) over the run's members j = j0, j0 + FKM_GROUPS, ...
 * below cnt, in order (x [N][DP], w [N] or NULL: 1), and ws += w over the same members when
 * add_w is set. The one accumulation of the in-memory and the streamed reduce, so their sums agree
 * bit for bit. Called by the whole warp (live: whether this lane's columns exist) with its staging
 * ring st: the lanes hold 32 members' row indices a register (this group's and the next), and the
 * batches of FKM_ROWS_IN_FLIGHT rows stream through the ring two ahead of the one being added.
 * Against rows loaded into registers eight at a time with the next eight prefetched to L2 (L2 then
 * 89–93 % busy), H200 (bench/RESULTS.md, session 30): update N = 2M fp32 0.402 → 0.380 ms (the
 * reduce 326 → 310 µs, L2 57 % busy), N = 8M 0.844 → 0.827; but B = 32, N = 74,256 (runs of ~74
 * members: two batches a warp) 0.476 → 0.542 and D = 1024 0.738 → 0.905, where a choice of path
 * by run length and width would keep the registers. */
__device__ __forceinline__ void fkm_add_members(const elem_t *__restrict__ x,
                                                const float *__restrict__ w,
                                                const int *__restrict__ run, int j0, int cnt, int d,
                                                bool live, double *s, bool add_w, double &ws,
                                                fkm_stage *st) {
  const int lane = threadIdx.x & 31;
  const int members = j0 < cnt ? (cnt - j0 + FKM_GROUPS - 1) / FKM_GROUPS : 0;
  const int batches = (members + FKM_ROWS_IN_FLIGHT - 1) / FKM_ROWS_IN_FLIGHT;
  int rows = fkm_member_row(run, j0, cnt, 0, lane), next = fkm_member_row(run, j0, cnt, 1, lane);
#pragma unroll
  for (int bt = 0; bt < FKM_STAGES - 1; ++bt) /* the first batches lie in group 0 */
    fkm_stage_batch(st, x, w, rows, bt, members, d, live);
  for (int bt = 0; bt < batches; ++bt) {
    const int ahead = bt + FKM_STAGES - 1;
    fkm_stage_batch(st, x, w, ahead / FKM_GROUP_BATCHES == bt / FKM_GROUP_BATCHES ? rows : next,
                    ahead, members, d, live);
    fkm_wait<FKM_STAGES - 1>();
    __syncwarp(); /* the weights other lanes copied are in */
    const int slot0 = bt % FKM_STAGES * FKM_ROWS_IN_FLIGHT;
#pragma unroll
    for (int u = 0; u < FKM_ROWS_IN_FLIGHT; ++u) {
      if (bt * FKM_ROWS_IN_FLIGHT + u >= members) break;
      const double wj = w ? st->w[slot0 + u] : 1.0;
      if (add_w) ws += wj;
      if (live) fkm_add_row(s, wj, *(const fkm_raw4 *)&st->row[slot0 + u][lane * FKM_VEC]);
    }
    __syncwarp(); /* the slot is free for the batch FKM_STAGES on */
    if (bt % FKM_GROUP_BATCHES == FKM_GROUP_BATCHES - 1)
      rows = next, next = fkm_member_row(run, j0, cnt, bt / FKM_GROUP_BATCHES + 2, lane);
  }
}

/* Thread t's part of a block sum over a centroid's columns d = t, t + FKM_THREADS, ... (fmaf
 * chains in that order): of mean² (its squared norm), and of (mean·scale − cb)² (its shift). */
__device__ __forceinline__ float fkm_norm_part(const float *mean, int t) {
  float s = 0.0f;
  for (int d = t; d < FKM_D; d += FKM_THREADS) s = fmaf(mean[d], mean[d], s);
  return s;
}
__device__ __forceinline__ float fkm_shift_part(const float *mean, float scale, const float *cb, int t) {
  float s = 0.0f;
  for (int d = t; d < FKM_D; d += FKM_THREADS) {
    const float diff = __fmul_rn(mean[d], scale) - cb[d];
    s = fmaf(diff, diff, s);
  }
  return s;
}

/* fkm_block_sum of the FKM_THREADS values part(t), formed by one warp bit for bit: lane l takes
 * threads l, l + 32, ..., each 32 summed in fkm_warp_sum's tree, their sums in the second tree
 * (lanes past FKM_GROUPS adding 0). */
template <typename Part>
__device__ __forceinline__ float fkm_warp_block_sum(Part part) {
  const int lane = threadIdx.x & 31;
  float mine = 0.0f;
#pragma unroll
  for (int g = 0; g < FKM_GROUPS; ++g) {
    const float s = fkm_warp_sum(part(lane + 32 * g));
    if (lane == g) mine = s;
  }
  return fkm_warp_sum(mine);
}

/* Writes mean [D] (shared) as centroid cb [D] (unit length for cosine/dot) and raises
 * state->shift_bits to its shift; whole block (scratch: FKM_GROUPS floats of shared memory), or
 * one warp (scratch NULL) with the same bits. */
__device__ __forceinline__ void fkm_commit_mean(const float *mean, float *cb, float *scratch,
                                                struct fkm_state *state) {
  const bool warp = scratch == NULL;
  const int first = warp ? threadIdx.x & 31 : threadIdx.x, step = warp ? 32 : FKM_THREADS;
  float scale = 1.0f;
  if (FKM_UNIT_CENTROIDS) {
    const float n2 = warp ? fkm_warp_block_sum([&](int t) { return fkm_norm_part(mean, t); })
                          : fkm_block_sum(fkm_norm_part(mean, threadIdx.x), scratch);
    scale = n2 > 0.0f ? rsqrtf(n2) : 0.0f;
  }
  const float s2 =
      warp ? fkm_warp_block_sum([&](int t) { return fkm_shift_part(mean, scale, cb, t); })
           : fkm_block_sum(fkm_shift_part(mean, scale, cb, threadIdx.x), scratch);
  if (warp) __syncwarp();
  for (int d = first; d < FKM_D; d += step) cb[d] = __fmul_rn(mean[d], scale);
  if (first == 0) atomicMax(&state->shift_bits, __float_as_uint(sqrtf(s2)));
}

/* Σ slot[g·stride] over the FKM_GROUPS warp slots, in order from +0.0. */
__device__ __forceinline__ double fkm_slots_sum(const double *slot, int stride) {
  double t = 0.0;
  for (int gg = 0; gg < FKM_GROUPS; ++gg) t += slot[gg * stride];
  return t;
}

#define FKM_PART_STRIDE ((int)(sizeof(fkm_stage) / sizeof(double))) /* a warp's ring, in doubles */

/* The block's FKM_GROUPS staging rings in dynamic shared memory, after its first `floats`
 * floats. */
__device__ __forceinline__ fkm_stage *fkm_stages(int floats) {
  extern __shared__ __align__(16) float fkm_dynamic[];
  return (fkm_stage *)(fkm_dynamic + ((floats + 3) & ~3));
}

/* Warp g adds the members j0, j0 + FKM_GROUPS, ... below end of run to its slot ac [DP] and, lane 0,
 * their weights to *aw (the weights' count without weights); st: the warp's staging ring. */
__device__ __forceinline__ void fkm_add_piece(const elem_t *__restrict__ x, const float *__restrict__ w,
                                              const int *__restrict__ run, int j0, int end,
                                              double *ac, double *aw, fkm_stage *st) {
  const int lane = threadIdx.x & 31;
  double ws = *aw;
  for (int d0 = 0; d0 < FKM_DP; d0 += FKM_SPAN) {
    const int d = d0 + lane * FKM_VEC;
    const bool live = d < FKM_DP;
    double s[FKM_VEC] = {0.0, 0.0, 0.0, 0.0};
    if (live) {
#pragma unroll
      for (int e = 0; e < FKM_VEC; ++e) s[e] = ac[d + e];
    }
    fkm_add_members(x, w, run, j0, end, d, live, s, w && d0 == 0, ws, st);
    if (live) {
#pragma unroll
      for (int e = 0; e < FKM_VEC; ++e) ac[d + e] = s[e];
    }
  }
  if (lane == 0) *aw = w ? ws : ws + fkm_member_count(j0, end);
}

/* The block closes a segment: its slots ac [0 .. FKM_GROUPS)[DP] (aw [0 .. FKM_GROUPS)) met in
 * order are added to the closed segments' total, row FKM_GROUPS of ac (aw [FKM_GROUPS]), and
 * cleared. */
__device__ __forceinline__ void fkm_close_segment(double *ac, double *aw) {
  __syncthreads();
  for (int d = threadIdx.x; d < FKM_DP; d += FKM_THREADS) {
    ac[FKM_GROUPS * FKM_DP + d] += fkm_slots_sum(ac + d, FKM_DP);
    for (int gg = 0; gg < FKM_GROUPS; ++gg) ac[gg * FKM_DP + d] = 0.0;
  }
  if (threadIdx.x == 0) {
    aw[FKM_GROUPS] += fkm_slots_sum(aw, 1);
    for (int gg = 0; gg < FKM_GROUPS; ++gg) aw[gg] = 0.0;
  }
  __syncthreads();
}

/* The block's segment sums part [FKM_GROUPS][FKM_PART_STRIDE] (columns d0 ..) met in order: the
 * cluster's mean when it has this one segment (mean [D], shared), else row of seg_sum [.][D]. */
__device__ __forceinline__ void fkm_segment_span(const double *part, double tw, int d0,
                                                 bool alone, float *mean, double *row) {
  for (int e = threadIdx.x; e < FKM_SPAN && d0 + e < FKM_D; e += FKM_THREADS) {
    const double t = fkm_slots_sum(part + e, FKM_PART_STRIDE);
    if (alone) mean[d0 + e] = (float)(t / tw);
    else row[d0 + e] = t;
  }
}

#define FKM_ROWS_AHEAD 8 /* segment rows the closing block loads before it adds them */

/* t + rows[0] + rows[stride] + ... + rows[(n − 1)·stride], added in that order (fkm_finalize_acc's
 * order over closed segments); FKM_ROWS_AHEAD loads in flight, the rows read past L1. */
__device__ __forceinline__ double fkm_rows_sum(double t, const double *rows, int stride, int n) {
  int r = 0;
  for (; r + FKM_ROWS_AHEAD <= n; r += FKM_ROWS_AHEAD) {
    double v[FKM_ROWS_AHEAD];
#pragma unroll
    for (int i = 0; i < FKM_ROWS_AHEAD; ++i) v[i] = __ldcg(rows + (i64)(r + i) * stride);
#pragma unroll
    for (int i = 0; i < FKM_ROWS_AHEAD; ++i) t += v[i];
  }
  for (; r < n; ++r) t += __ldcg(rows + (i64)r * stride);
  return t;
}

/* Whether this block is the last of its cluster's nseg segment blocks to finish (counter
 * arrived, left at 0 for the next iteration): its segments' rows are then all written. */
__device__ __forceinline__ bool fkm_last_segment(int *arrived, int nseg, int *flag) {
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    *flag = atomicAdd(arrived, 1) == nseg - 1;
    if (*flag) *arrived = 0;
  }
  __syncthreads();
  __threadfence();
  return *flag;
}

/* A small run in the order one warp walks it (fkm_reduce_small): place f holds a member's row
 * index, its weight (1 without weights) and whether it is its slot's last member. */
struct fkm_small_order {
  int row[FKM_SMALL_RUN];
  float w[FKM_SMALL_RUN];
  unsigned char last[FKM_SMALL_RUN];
};

/* Place of member j when a run of cnt = FKM_GROUPS·q + rem members is walked slot by slot (slot g
 * holds members g, g + FKM_GROUPS, ...: q + 1 of them for g < rem, q after). */
__device__ __forceinline__ int fkm_slot_place(int j, int q, int rem) {
  const int g = j % FKM_GROUPS, i = j / FKM_GROUPS;
  return (g < rem ? g * (q + 1) : rem * (q + 1) + (g - rem) * q) + i;
}

/* One warp sums a small cluster of cnt ≤ FKM_SMALL_RUN members: member j goes to slot
 * j mod FKM_GROUPS, each slot adds its members in order from +0.0 (fp64), and the slots meet in
 * order, as a segment block of fkm_reduce_segments adds them (its empty slots add +0.0, which
 * changes no sum begun at +0.0; without weights each slot's weight sum is its member count, as
 * fkm_member_count gives it); then the mean goes to mean [D] (shared) and on through
 * fkm_commit_mean. The lanes first lay the run out in walking order in ord (shared, the warp's
 * own) and send its rows and the old centroid towards L2; the walk then loads FKM_ROWS_IN_FLIGHT
 * rows at a time, so a run costs ⌈cnt / FKM_ROWS_IN_FLIGHT⌉ waits a span. x [N][DP], w [N] or
 * NULL, run: the cluster's sorted members. */
__device__ __forceinline__ void fkm_reduce_small(const elem_t *__restrict__ x,
                                                 const float *__restrict__ w,
                                                 const int *__restrict__ run, int cnt, float *mean,
                                                 float *cb, struct fkm_state *state,
                                                 struct fkm_small_order *ord) {
  const int lane = threadIdx.x & 31, q = cnt / FKM_GROUPS, rem = cnt % FKM_GROUPS;
  for (int l = lane * 32; l < FKM_D; l += 32 * 32) /* the centroid its shift reads, on its way too */
    asm volatile("prefetch.global.L2 [%0];" ::"l"(cb + l));
  for (int j = lane; j < cnt; j += 32) {
    const int r = run[j], f = fkm_slot_place(j, q, rem);
    ord->row[f] = r, ord->w[f] = w ? w[r] : 1.0f, ord->last[f] = j + FKM_GROUPS >= cnt;
    for (int l = 0; l < FKM_DP; l += 128 / (int)sizeof(elem_t))
      asm volatile("prefetch.global.L2 [%0];" ::"l"(x + (i64)r * FKM_DP + l));
  }
  __syncwarp();
  double tw = 0.0;
  for (int d0 = 0; d0 < FKM_D; d0 += FKM_SPAN) {
    const int d = d0 + lane * FKM_VEC;
    const bool live = d < FKM_DP;
    double tot[FKM_VEC] = {0.0, 0.0, 0.0, 0.0}, sum[FKM_VEC] = {0.0, 0.0, 0.0, 0.0}, ws = 0.0;
    for (int f = 0; f < cnt; f += FKM_ROWS_IN_FLIGHT) {
      fkm_raw4 raw[FKM_ROWS_IN_FLIGHT];
#pragma unroll
      for (int u = 0; u < FKM_ROWS_IN_FLIGHT; ++u)
        if (live && f + u < cnt) raw[u] = fkm_load_raw4(x + (i64)ord->row[f + u] * FKM_DP + d);
#pragma unroll
      for (int u = 0; u < FKM_ROWS_IN_FLIGHT; ++u) {
        if (f + u >= cnt) break;
        const double wm = ord->w[f + u];
        ws += wm;
        if (live) fkm_add_row(sum, wm, raw[u]);
        if (!ord->last[f + u]) continue; /* the slot's last member: it meets the others */
#pragma unroll
        for (int e = 0; e < FKM_VEC; ++e) tot[e] += sum[e], sum[e] = 0.0;
        if (d0 == 0) tw += ws;
        ws = 0.0;
      }
    }
#pragma unroll
    for (int e = 0; e < FKM_VEC; ++e)
      if (d + e < FKM_D) mean[d + e] = (float)(tot[e] / tw);
  }
  __syncwarp();
  fkm_commit_mean(mean, cb, NULL, state);
}

/* fkm_reduce_segments waits on row loads, so it wants warps. With 16-bit rows wider than 128
 * columns the compiler took 79 registers (3 blocks an SM); bounded to 4 blocks it holds 64, with
 * 24 bytes of stack since rows are staged (session 30; a suspect in D = 1024's slower update). At
 * D ≤ 128 it takes 47–48 and the staging rings set the blocks: 4 for 16-bit rows, 2 for fp32. */
#if FKM_DTYPE != 3 && FKM_D > 128
#define FKM_SEGMENT_BOUNDS __launch_bounds__(FKM_THREADS, 4)
#else
#define FKM_SEGMENT_BOUNDS __launch_bounds__(FKM_THREADS)
#endif

/* Block (s, b) sums segment s of batch b: members [q·FKM_SEGMENT, (q+1)·FKM_SEGMENT) ∩ [0, count)
 * of cluster c's run sorted[start .. start+count) (s = seg_first[c] + q), the points of positive
 * weight. Member j goes to warp j mod FKM_GROUPS, each warp adds its members in order (fp64), and
 * the warps meet in order. A cluster of one segment takes that sum; else the segment's sum goes to
 * seg_sum [B][S][D] and seg_w [B][S], and the cluster's last block to finish adds its segments' rows
 * in order from +0.0. The block then writes the mean Σ w·x / Σ w (w [B][N], NULL: 1) as the
 * centroid in c32 (unit length for cosine/dot) and raises state->shift_bits to its shift. An empty
 * cluster keeps its centroid. Grid (S, B), S at least the segments of any batch; seg_cluster
 * [B][S] (fkm_k_scan) names segment s's cluster, −1 past a batch's segments, whose blocks return
 * (small clusters have none: fkm_reduce_small_runs sums them). arrived [B][K]: zero on entry, left
 * zero. Dynamic shared memory: D floats (padded to 16 bytes), then FKM_GROUPS staging rings; each
 * warp's ring also holds its row of the span's sums once its members are added. */
extern "C" __global__ void FKM_SEGMENT_BOUNDS
    FKM_ENTRY(fkm_reduce_segments)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                   const int *__restrict__ sorted, const int *__restrict__ start,
                                   const int *__restrict__ counts, const int *__restrict__ seg_first,
                                   const int *__restrict__ seg_cluster,
                                   double *seg_sum, double *seg_w, int *__restrict__ arrived,
                                   float *__restrict__ c32, struct fkm_state *state, i64 n, int k) {
  if (state->done) return;
  extern __shared__ float fkm_mean[];
  __shared__ double part_w[FKM_GROUPS];
  __shared__ float scratch[FKM_GROUPS];
  __shared__ int last;
  const int b = blockIdx.y, s = blockIdx.x, lane = threadIdx.x & 31, g = threadIdx.x >> 5;
  fkm_stage *stage = fkm_stages(FKM_D);
  double *part = (double *)stage; /* warp g's sums of a span: row g, FKM_PART_STRIDE apart */
  const int *cb = counts + (i64)b * k, *fb = seg_first + (i64)b * k;
  const int c = seg_cluster[(i64)b * gridDim.x + s];
  if (c < 0) return;
  const int nseg = (cb[c] + FKM_SEGMENT - 1) / FKM_SEGMENT;
  const int j0 = (s - fb[c]) * FKM_SEGMENT, len = min(FKM_SEGMENT, cb[c] - j0);
  const int *run = sorted + (i64)b * n + start[(i64)b * k + c] + j0;
  const elem_t *xb = x + (i64)b * n * FKM_DP;
  const float *wb = w ? w + (i64)b * n : w;
  const i64 row = (i64)b * gridDim.x + s;
  double ws = 0.0; /* Σ w over this warp's members (weights given) */
  for (int d0 = 0; d0 < FKM_D; d0 += FKM_SPAN) {
    const int d = d0 + lane * FKM_VEC;
    double sum[FKM_VEC] = {0.0, 0.0, 0.0, 0.0};
    fkm_add_members(xb, wb, run, g, len, d, d < FKM_DP, sum, wb && d0 == 0, ws, &stage[g]);
    if (lane == 0 && d0 == 0) part_w[g] = wb ? ws : fkm_member_count(g, len);
#pragma unroll
    for (int e = 0; e < FKM_VEC; ++e) part[g * FKM_PART_STRIDE + lane * FKM_VEC + e] = sum[e];
    __syncthreads();
    const double tw = fkm_slots_sum(part_w, 1);
    fkm_segment_span(part, tw, d0, nseg == 1, fkm_mean, seg_sum + row * FKM_D);
    if (nseg > 1 && threadIdx.x == 0 && d0 == 0) seg_w[row] = tw;
    __syncthreads();
  }
  if (nseg > 1) {
    if (!fkm_last_segment(arrived + (i64)b * k + c, nseg, &last)) return;
    const i64 first = (i64)b * gridDim.x + fb[c];
    const double tw = fkm_rows_sum(0.0, seg_w + first, 1, nseg);
    for (int e = threadIdx.x; e < FKM_D; e += FKM_THREADS)
      fkm_mean[e] = (float)(fkm_rows_sum(0.0, seg_sum + first * FKM_D + e, FKM_D, nseg) / tw);
    __syncthreads();
  }
  fkm_commit_mean(fkm_mean, c32 + ((i64)b * k + c) * FKM_D, scratch, state);
}

/* Blocks an SM of fkm_reduce_small_runs that its registers allow: it waits on loads, so it wants
 * warps; 16-bit rows fit 4, fp32 rows 3 (64 and 80 registers, one word spilled at entry). */
#define FKM_SMALL_BLOCKS (FKM_DTYPE == 3 ? 3 : 4)

/* Block (q, b): warp g sums small cluster small[b][q·FKM_GROUPS + g] of batch b (fkm_k_scan's
 * list, −1 past its last: the warp returns) by fkm_reduce_small, whose sums, mean and shift are
 * bit for bit those of a one-segment block of fkm_reduce_segments. Grid (⌈K / FKM_GROUPS⌉, B).
 * Dynamic shared memory: FKM_GROUPS · D floats. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS, FKM_SMALL_BLOCKS)
    FKM_ENTRY(fkm_reduce_small_runs)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                     const int *__restrict__ sorted, const int *__restrict__ start,
                                     const int *__restrict__ counts, const int *__restrict__ small,
                                     float *__restrict__ c32, struct fkm_state *state, i64 n, int k) {
  if (state->done) return;
  extern __shared__ float fkm_means[];
  __shared__ struct fkm_small_order order[FKM_GROUPS];
  const int b = blockIdx.y, g = threadIdx.x >> 5, r = blockIdx.x * FKM_GROUPS + g;
  const int c = r < k ? small[(i64)b * k + r] : -1;
  if (c < 0) return;
  fkm_reduce_small(x + (i64)b * n * FKM_DP, w ? w + (i64)b * n : w,
                   sorted + (i64)b * n + start[(i64)b * k + c], counts[(i64)b * k + c],
                   fkm_means + g * FKM_D, c32 + ((i64)b * k + c) * FKM_D, state, &order[g]);
}

/* Out-of-core update, step 1 of 2 (a batch's points arrive in chunks, in index order): block c adds
 * the chunk's run of cluster c (sorted: chunk-local point indices grouped by cluster, start/counts
 * [K]) to acc [K][FKM_GROUPS + 1][DP] and accw [K][FKM_GROUPS + 1] (fp64), seen [K] holding the
 * members of the chunks before. Member r of the batch's whole run (r = seen + its place in this
 * chunk's run) lies in segment r / FKM_SEGMENT and goes to warp r mod FKM_GROUPS: slots
 * 0 .. FKM_GROUPS − 1 hold the warps' sums of the open segment, each added in order; when a
 * segment closes its slots meet in order and are added to slot FKM_GROUPS, the closed segments'
 * total, and cleared. Once every chunk is in, fkm_finalize_acc forms bit for bit the sums of
 * fkm_reduce_segments, whatever the chunking. x [n][DP], w [n] (NULL: weights 1) are the chunk's;
 * the rest the batch's. Grid K; dynamic shared memory: FKM_GROUPS staging rings. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_reduce_chunk)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                const int *__restrict__ sorted, const int *__restrict__ start,
                                const int *__restrict__ counts, double *__restrict__ acc,
                                double *__restrict__ accw, i64 *__restrict__ seen) {
  const int c = blockIdx.x, g = threadIdx.x >> 5;
  const int cnt = counts[c];
  if (cnt == 0) return;
  const int *run = sorted + start[c];
  const i64 before = seen[c];
  double *ac = acc + (i64)c * (FKM_GROUPS + 1) * FKM_DP, *aw = accw + (i64)c * (FKM_GROUPS + 1);
  fkm_stage *stage = fkm_stages(0);
  for (int a = 0; a < cnt;) {
    const i64 r = before + a;
    const int e = (int)min((i64)cnt, a + FKM_SEGMENT - r % FKM_SEGMENT);
    const int j0 = a + (int)((g - r % FKM_GROUPS + FKM_GROUPS) % FKM_GROUPS);
    fkm_add_piece(x, w, run, j0, e, ac + g * FKM_DP, aw + g, &stage[g]);
    if ((before + e) % FKM_SEGMENT == 0) fkm_close_segment(ac, aw);
    a = e;
  }
  __syncthreads();
  if (threadIdx.x == 0) seen[c] = before + cnt;
}

/* Out-of-core update, step 2: block (c, b) forms centroid c of batch b from acc [B][K][G + 1][DP]
 * and accw [B][K][G + 1] as fkm_reduce_segments does from the segments' sums: the closed segments'
 * total plus the open segment's slots met in order (+0.0 when it is empty, which changes no sum
 * begun at +0.0); a cluster of Σw = 0 is empty and keeps its centroid, and is counted into
 * stats[1] when stats is not NULL. Dynamic shared memory: D floats. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_finalize_acc)(const double *__restrict__ acc, const double *__restrict__ accw,
                                float *__restrict__ c32, struct fkm_state *state, int k,
                                unsigned long long *stats) {
  if (state->done) return;
  extern __shared__ float fkm_mean[];
  __shared__ float scratch[FKM_GROUPS];
  const i64 bc = (i64)blockIdx.y * k + blockIdx.x;
  const double *ab = acc + bc * (FKM_GROUPS + 1) * FKM_DP, *wb = accw + bc * (FKM_GROUPS + 1);
  const double tw = wb[FKM_GROUPS] + fkm_slots_sum(wb, 1);
  if (tw == 0.0) {
    if (stats && threadIdx.x == 0) atomicAdd(&stats[1], 1ull);
    return;
  }
  for (int e = threadIdx.x; e < FKM_D; e += FKM_THREADS)
    fkm_mean[e] = (float)((ab[FKM_GROUPS * FKM_DP + e] + fkm_slots_sum(ab + e, FKM_DP)) / tw);
  __syncthreads();
  fkm_commit_mean(fkm_mean, c32 + bc * FKM_D, scratch, state);
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

#define FKM_SPAN_ROWS 512 /* points per inertia partial: FKM__SPAN_ROWS of runtime/gpu_run.h */

/* partial [B][gridDim.x]: entry s = Σ over the points of span s, [s·512, s·512 + 512) ∩ [0, n), of
 * w·‖x − c32[label]‖² (fp64; w [B][N], NULL: 1); warp g takes the span's points g, g + G, ... in
 * order, one lane per column stride, and the warps meet in order. Spans are fixed in the point
 * index, so a batch cut into chunks of whole spans gives the same partials. Grid (⌈n/512⌉, B). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_point_inertia)(const elem_t *__restrict__ x, const float *__restrict__ w,
                                 const int *__restrict__ labels,
                                 const float *__restrict__ c32, double *__restrict__ partial, i64 n, int k) {
  __shared__ double warp_total[FKM_GROUPS];
  const int b = blockIdx.y, lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  const float *wb = w ? w + (i64)b * n : w;
  const i64 first = (i64)blockIdx.x * FKM_SPAN_ROWS;
  const i64 end = first + FKM_SPAN_ROWS < n ? first + FKM_SPAN_ROWS : n;
  double acc = 0.0;
  for (i64 i = first + wid; i < end; i += FKM_GROUPS) {
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

/* inertia [B] = Σ partial [B][parts] in index order, added to inertia's value when accumulate is
 * set (a batch summed chunk after chunk), else to 0. Grid B, one thread used. */
extern "C" __global__ void FKM_ENTRY(fkm_sum_partials)(const double *__restrict__ partial, int parts,
                                                      double *__restrict__ inertia, int accumulate) {
  if (threadIdx.x != 0) return;
  double t = accumulate ? inertia[blockIdx.x] : 0.0;
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
