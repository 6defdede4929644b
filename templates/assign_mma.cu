/* FlashAssign on tensor cores with mma.sync: fp16/bf16 (m16n8k16) or fp32 (m16n8k8 TF32; the
 * default precision splits each operand into two TF32 terms and sums three products, 3×TF32,
 * which keeps fp32 accuracy), fp32 accumulate.
 * A block owns BLOCK_N points of one batch and streams the centroids through shared memory in
 * BLOCK_K × CHUNK tiles with a NUM_STAGES-deep cp.async pipeline (steps = centroid tiles × D chunks;
 * with one chunk the point tile is loaded once and stays on chip). Warps split the BLOCK_N × BLOCK_K
 * tile WARPS_M × WARPS_N; each keeps a running (distance, index) per row in registers; only labels
 * leave the chip. Distance: l2 ‖c‖² − 2·x·c, cosine/dot −x·c; ties go to the lower index and
 * centroid columns ≥ K never win. */
#define BN FKM_BLOCK_N
#define BK FKM_BLOCK_K
#define CH FKM_CHUNK
#define NCH FKM_D_CHUNKS
#define NS FKM_NUM_STAGES
#define WM FKM_WARPS_M
#define WN FKM_WARPS_N
#define WTM (BN / WM)
#define WTN (BK / WN)
#define MF (WTM / 16)
#define NF (WTN / 8)
#define EV (16 / (int)sizeof(elem_t))  /* elements per 16 bytes */
#define KSTEP (2 * EV)                  /* elements per MMA k-step: 32 bytes */
/* k-steps unrolled per chunk: all for fp16/bf16; 4 for fp32, whose 3×TF32 or TF32 steps are
 * long enough to hide the loop, and whose full unrolls took NVRTC about 3× longer to compile. */
constexpr int fkm_kk_unroll = FKM_DTYPE == 3 ? 4 : CH / KSTEP;
#define SROW (CH + EV)                  /* 16-byte row pad keeps ldmatrix conflict-free */
#define FKM_3XTF32 (FKM_DTYPE == 3 && FKM_PRECISION == 0)
#define XRES (NCH == 1)
#define XBUFS (XRES ? 1 : NS)

/* rows × CH tile of a [rows][DP] matrix starting at column col0 into dst [rows][SROW]; rows at or
 * beyond valid_rows and columns at or beyond DP are zero-filled. */
template <int ROWS>
__device__ __forceinline__ void fkm_load_tile(elem_t *dst, const elem_t *src, i64 valid_rows,
                                              int col0) {
  const int vpr = CH / EV;
  for (int v = threadIdx.x; v < ROWS * vpr; v += FKM_THREADS) {
    const int r = v / vpr, col = col0 + (v % vpr) * EV;
    const bool ok = r < valid_rows && col < FKM_DP;
    fkm_cp16(fkm_smem(dst + r * SROW + (v % vpr) * EV), ok ? src + (i64)r * FKM_DP + col : src,
             ok ? 16 : 0);
  }
}

__device__ __forceinline__ void fkm_ldsm4(u32 *r, u32 addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void fkm_ldsm2(u32 *r, u32 addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(addr));
}

#if FKM_DTYPE == 3
__device__ __forceinline__ void fkm_mma_tf32(float *d, const u32 *a, const u32 *b) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
/* Splits fp32 bit patterns v[0..n) into TF32 high parts (in place) and low parts (lo). */
template <int N> __device__ __forceinline__ void fkm_split(u32 *v, u32 *lo) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
    const float f = __uint_as_float(v[i]);
    if (FKM_3XTF32)
      fkm_tf32_split(f, v[i], lo[i]);
    else
      v[i] = fkm_tf32(f);
  }
}
#endif

/* d += a·b for one 16×8 tile; fp32 operands arrive as raw bits and are rounded (and split) here. */
__device__ __forceinline__ void fkm_mma(float *d, const u32 *a_in, const u32 *b_in) {
#if FKM_DTYPE == 3
  u32 a[4] = {a_in[0], a_in[1], a_in[2], a_in[3]}, b[2] = {b_in[0], b_in[1]}, alo[4], blo[2];
  fkm_split<4>(a, alo);
  fkm_split<2>(b, blo);
  if (FKM_3XTF32) {
    fkm_mma_tf32(d, alo, b);
    fkm_mma_tf32(d, a, blo);
  }
  fkm_mma_tf32(d, a, b);
#else
  fkm_mma16816(d, a_in, b_in);
#endif
}

/* acc += x_tile[warp rows] · c_tile[warp cols]ᵀ over one CH-wide chunk. */
__device__ __forceinline__ void fkm_mma_chunk(float (*acc)[NF][4], const elem_t *xs,
                                              const elem_t *cs, int wm, int wn, int lane) {
#pragma unroll fkm_kk_unroll
  for (int kk = 0; kk < CH / KSTEP; ++kk) {
    u32 a[MF][4], b[NF][2];
#pragma unroll
    for (int mf = 0; mf < MF; ++mf)
      fkm_ldsm4(a[mf], fkm_smem(xs + (wm * WTM + mf * 16 + (lane & 15)) * SROW + kk * KSTEP +
                                (lane >> 4) * EV));
#pragma unroll
    for (int nf = 0; nf + 1 < NF; nf += 2) { /* two 8-column fragments per ldmatrix.x4 */
      u32 r[4];
      fkm_ldsm4(r, fkm_smem(cs + (wn * WTN + (nf + (lane >> 4)) * 8 + (lane & 7)) * SROW +
                            kk * KSTEP + ((lane >> 3) & 1) * EV));
      b[nf][0] = r[0], b[nf][1] = r[1], b[nf + 1][0] = r[2], b[nf + 1][1] = r[3];
    }
    if (NF & 1)
      fkm_ldsm2(b[NF - 1], fkm_smem(cs + (wn * WTN + (NF - 1) * 8 + (lane & 7)) * SROW +
                                    kk * KSTEP + ((lane >> 3) & 1) * EV));
#pragma unroll
    for (int mf = 0; mf < MF; ++mf)
#pragma unroll
      for (int nf = 0; nf < NF; ++nf) fkm_mma(acc[mf][nf], a[mf], b[nf]);
  }
}

/* The distance offsets of the columns this thread folds in centroid tile k0 (norms.cu,
 * fkm_prep_centroids: ‖c‖² for l2, 0 for cosine and dot, +inf on the padding past K, so padded
 * columns never win; FKM_KPAD_ROWS-padded per batch, so a tile reads them with no bounds test).
 * Loaded before the tile's last MMAs, to hide the latency. */
__device__ __forceinline__ void fkm_tile_norms(float (*cn)[2], const float *cnorm, int k0, int wn,
                                               int lane) {
#pragma unroll
  for (int nf = 0; nf < NF; ++nf)
#pragma unroll
    for (int j = 0; j < 2; ++j) cn[nf][j] = cnorm[k0 + wn * WTN + nf * 8 + (lane & 3) * 2 + j];
}

/* Folds one finished BLOCK_N × BLOCK_K tile of dot products into the running arg-min. Columns a
 * thread visits increase, so strict '<' keeps the lowest index among equal distances. */
__device__ __forceinline__ void fkm_fold(float (*acc)[NF][4], float (*best)[2], int (*bidx)[2],
                                         const float (*cn)[2], int k0, int wn, int lane) {
#pragma unroll
  for (int nf = 0; nf < NF; ++nf)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int col = k0 + wn * WTN + nf * 8 + (lane & 3) * 2 + j;
#pragma unroll
      for (int mf = 0; mf < MF; ++mf)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const float s = acc[mf][nf][h * 2 + j];
          const float dist = FKM_METRIC == 0 ? fmaf(-2.0f, s, cn[nf][j]) : (cn[nf][j] == FKM_INF ? FKM_INF : -s);
          if (dist < best[mf][h]) best[mf][h] = dist, bidx[mf][h] = col;
        }
    }
}

/* x [B][N][DP], c [B][K][DP] compute dtype; cnorm [B][kpad] fp32 (the distance offsets: ‖c‖² of
 * the rounded centroids for l2, fkm_tile_norms);
 * labels [B][N]. Grid (ceil(N / BLOCK_N), B). done: skip when non-NULL and set. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_assign)(const elem_t *__restrict__ x, const elem_t *__restrict__ c,
                          const float *__restrict__ cnorm, int *__restrict__ labels, i64 n, int k,
                          const int *__restrict__ done) {
  if (done && *done) return;
  extern __shared__ __align__(16) unsigned char fkm_shared[];
  elem_t *cs = (elem_t *)fkm_shared;
  elem_t *xs = cs + NS * BK * SROW;
  float *red_v = (float *)(xs + XBUFS * BN * SROW);
  int *red_i = (int *)(red_v + WN * BN);
  const int b = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm = warp / WN, wn = warp % WN;
  const i64 n0 = (i64)blockIdx.x * BN;
  const elem_t *xb = x + ((i64)b * n + n0) * FKM_DP;
  const elem_t *cb = c + (i64)b * k * FKM_DP;
  const float *nb = cnorm + (i64)b * fkm_kpad(k);
  const int steps = (k + BK - 1) / BK * NCH;

  float best[MF][2], acc[MF][NF][4];
  int bidx[MF][2];
#pragma unroll
  for (int mf = 0; mf < MF; ++mf) best[mf][0] = best[mf][1] = FKM_INF, bidx[mf][0] = bidx[mf][1] = 0;

  if (XRES) fkm_load_tile<BN>(xs, xb, n - n0, 0);
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) {
    if (s < steps) {
      fkm_load_tile<BK>(cs + s * BK * SROW, cb + (i64)(s / NCH) * BK * FKM_DP, k - (s / NCH) * BK, (s % NCH) * CH);
      if (!XRES) fkm_load_tile<BN>(xs + s * BN * SROW, xb, n - n0, (s % NCH) * CH);
    }
    fkm_commit();
  }
  for (int s = 0; s < steps; ++s) {
    const int ld = NS == 1 ? s : s + NS - 1;
    if (NS > 1) {
      fkm_wait<(NS > 1 ? NS - 2 : 0)>();
      __syncthreads();
    }
    if (ld < steps) {
      fkm_load_tile<BK>(cs + (ld % NS) * BK * SROW, cb + (i64)(ld / NCH) * BK * FKM_DP, k - (ld / NCH) * BK, (ld % NCH) * CH);
      if (!XRES) fkm_load_tile<BN>(xs + (ld % NS) * BN * SROW, xb, n - n0, (ld % NCH) * CH);
    }
    fkm_commit();
    if (NS == 1) {
      fkm_wait<0>();
      __syncthreads();
    }
    if (s % NCH == 0) {
#pragma unroll
      for (int mf = 0; mf < MF; ++mf)
#pragma unroll
        for (int nf = 0; nf < NF; ++nf) acc[mf][nf][0] = acc[mf][nf][1] = acc[mf][nf][2] = acc[mf][nf][3] = 0.0f;
    }
    float cn[NF][2];
    if (s % NCH == NCH - 1) fkm_tile_norms(cn, nb, (s / NCH) * BK, wn, lane);
    fkm_mma_chunk(acc, xs + (XRES ? 0 : s % NS) * BN * SROW, cs + (s % NS) * BK * SROW, wm, wn, lane);
    if (s % NCH == NCH - 1) fkm_fold(acc, best, bidx, cn, (s / NCH) * BK, wn, lane);
    if (NS == 1) __syncthreads();
  }

#pragma unroll
  for (int mf = 0; mf < MF; ++mf)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float v = best[mf][h];
      int i = bidx[mf][h];
#pragma unroll
      for (int off = 1; off < 4; off <<= 1)
        fkm_better(v, i, __shfl_xor_sync(0xffffffffu, v, off), __shfl_xor_sync(0xffffffffu, i, off));
      if ((lane & 3) == 0) {
        const int row = wm * WTM + mf * 16 + h * 8 + (lane >> 2);
        red_v[wn * BN + row] = v;
        red_i[wn * BN + row] = i;
      }
    }
  __syncthreads();
  for (int row = threadIdx.x; row < BN; row += FKM_THREADS) {
    float v = red_v[row];
    int i = red_i[row];
    for (int w = 1; w < WN; ++w) fkm_better(v, i, red_v[w * BN + row], red_i[w * BN + row]);
    if (n0 + row < n) labels[(i64)b * n + n0 + row] = i;
  }
}
