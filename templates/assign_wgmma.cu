/* FlashAssign on Hopper warpgroup MMA (sm_90a; fp16/bf16 in, or fp32 read as TF32 — the MMA
 * ignores the low 13 mantissa bits, i.e. truncates, as Triton's tf32 dots do; fp32 accumulate).
 * Same contract and tiling as assign_mma.cu: a block owns BLOCK_N points and streams the
 * centroids in BLOCK_K × CHUNK tiles through a NUM_STAGES-deep cp.async pipeline (with one chunk the
 * point tile stays on chip). Tiles sit in shared memory K-major in the 128-byte swizzle layout
 * (blocks of 128-byte rows — 64 16-bit or 32 fp32 columns —, 16-byte chunks XOR-ed with row mod
 * 8, 1024-byte aligned), one MMA k-step per 32 bytes of a row (k16, or k8 for TF32),
 * read by wgmma through descriptors. Each warpgroup owns WG_M m64 tiles of
 * rows and all BLOCK_K columns, so every warp holds whole rows: the arg-min needs only quad
 * shuffles. The generator emits fkm_wgmma() for N = BLOCK_K. (Committing each m64 tile's MMAs
 * as a group of their own, to fold one tile while the next tiles' MMAs run, measured 1–2 % slower
 * on H200 at D = 128: two blocks per SM already overlap one's fold with the other's MMAs.) */
#define BN FKM_BLOCK_N
#define BK FKM_BLOCK_K
#define CH FKM_CHUNK
#define NCH FKM_D_CHUNKS
#define NS FKM_NUM_STAGES
#define NWG (FKM_THREADS / 128)
#define WG_M (BN / 64 / NWG)
#define XRES (NCH == 1)
#define XBUFS (XRES ? 1 : NS)
#define SW_ATOM 1024 /* bytes of 8 swizzled 128-byte rows */
#define ES ((int)sizeof(elem_t))
#define EPB (128 / ES) /* elements per 128-byte row block */
#define EPC (16 / ES)  /* elements per 16-byte chunk */
#define KS (32 / ES)   /* elements per MMA k-step */

/* rows × CH tile of a [rows][DP] matrix from column col0 into the swizzled layout at shared address
 * dst; rows at or beyond valid_rows and columns at or beyond DP are zero-filled. 8 consecutive
 * threads read one row's 128 contiguous bytes and write 8 distinct bank groups. */
template <int ROWS>
__device__ __forceinline__ void fkm_load_tile(u32 dst, const elem_t *src, i64 valid_rows, int col0) {
  for (int v = threadIdx.x; v < ROWS * CH / EPC; v += FKM_THREADS) {
    const int j = v & 7, rest = v >> 3, r = rest % ROWS, kb = rest / ROWS;
    const int col = col0 + kb * EPB + j * EPC;
    const bool ok = r < valid_rows && col < FKM_DP;
    fkm_cp16(dst + kb * ROWS * 128 + (r >> 3) * SW_ATOM + (r & 7) * 128 + ((j ^ (r & 7)) << 4),
             ok ? src + (i64)r * FKM_DP + col : src, ok ? 16 : 0);
  }
}

/* Descriptor of a K-major 128-byte-swizzled operand at shared address addr: 8-row groups
 * SW_ATOM bytes apart (the leading offset is unused in this mode). */
__device__ __forceinline__ unsigned long long fkm_desc(u32 addr) {
  return (unsigned long long)((addr & 0x3ffff) >> 4) | (1ull << 16) |
         ((unsigned long long)(SW_ATOM >> 4) << 32) | (1ull << 62);
}

/* Shared address of k-step kk (32 bytes of columns) of a tile with `rows` rows, from row r0. */
__device__ __forceinline__ u32 fkm_operand(u32 tile, int rows, int r0, int kk) {
  return tile + (kk >> 2) * rows * 128 + (r0 >> 3) * SW_ATOM + (kk & 3) * 32;
}

/* ‖c‖² of the columns this thread folds in centroid tile k0 (l2 only; +inf past K so padded
 * columns never win). Loaded before the tile's MMAs are waited for, to hide the latency. */
__device__ __forceinline__ void fkm_tile_norms(float (*cn)[2], const float *cnorm, int k0, int k,
                                               int lane) {
#pragma unroll
  for (int j = 0; j < BK / 8; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int col = k0 + j * 8 + (lane & 3) * 2 + e;
      cn[j][e] = col < k ? (FKM_METRIC == 0 ? cnorm[col] : 0.0f) : FKM_INF;
    }
}

/* Folds a finished 64 × BLOCK_K accumulator into the running arg-min of this thread's two rows.
 * Columns visited increase, so strict '<' keeps the lowest index among equal distances. */
__device__ __forceinline__ void fkm_fold(const float *acc, float *best, int *bidx,
                                         const float (*cn)[2], int k0, int lane) {
#pragma unroll
  for (int j = 0; j < BK / 8; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int col = k0 + j * 8 + (lane & 3) * 2 + e;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float s = acc[j * 4 + h * 2 + e];
        const float dist = FKM_METRIC == 0 ? fmaf(-2.0f, s, cn[j][e]) : (cn[j][e] == FKM_INF ? FKM_INF : -s);
        if (dist < best[h]) best[h] = dist, bidx[h] = col;
      }
    }
}

/* Shapes and grid as the mma kernel: x [B][N][DP], c [B][K][DP], cnorm [B][K], labels [B][N]. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_assign)(const elem_t *__restrict__ x, const elem_t *__restrict__ c,
                          const float *__restrict__ cnorm, int *__restrict__ labels, i64 n, int k,
                          const int *__restrict__ done) {
  if (done && *done) return;
  extern __shared__ __align__(128) unsigned char fkm_shared[];
  const u32 cs = (fkm_smem(fkm_shared) + SW_ATOM - 1) & ~(u32)(SW_ATOM - 1);
  const u32 xs = cs + NS * BK * CH * ES;
  const int b = blockIdx.y, lane = threadIdx.x & 31, wg = threadIdx.x >> 7, wq = (threadIdx.x >> 5) & 3;
  const i64 n0 = (i64)blockIdx.x * BN;
  const elem_t *xb = x + ((i64)b * n + n0) * FKM_DP;
  const elem_t *cb = c + (i64)b * k * FKM_DP;
  const float *nb = cnorm + (i64)b * k;
  const int steps = (k + BK - 1) / BK * NCH;

  float acc[WG_M][BK / 2], best[WG_M][2];
  int bidx[WG_M][2];
#pragma unroll
  for (int m = 0; m < WG_M; ++m) best[m][0] = best[m][1] = FKM_INF, bidx[m][0] = bidx[m][1] = 0x7fffffff;

  if (XRES) fkm_load_tile<BN>(xs, xb, n - n0, 0);
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) {
    if (s < steps) {
      fkm_load_tile<BK>(cs + s * BK * CH * ES, cb + (i64)(s / NCH) * BK * FKM_DP, k - (s / NCH) * BK, (s % NCH) * CH);
      if (!XRES) fkm_load_tile<BN>(xs + s * BN * CH * ES, xb, n - n0, (s % NCH) * CH);
    }
    fkm_commit();
  }
  for (int s = 0; s < steps; ++s) {
    const int ld = NS == 1 ? s : s + NS - 1;
    if (NS > 1) {
      fkm_wait<(NS > 1 ? NS - 2 : 0)>();
      asm volatile("fence.proxy.async.shared::cta;");
      __syncthreads();
    }
    if (ld < steps) {
      fkm_load_tile<BK>(cs + (ld % NS) * BK * CH * ES, cb + (i64)(ld / NCH) * BK * FKM_DP, k - (ld / NCH) * BK, (ld % NCH) * CH);
      if (!XRES) fkm_load_tile<BN>(xs + (ld % NS) * BN * CH * ES, xb, n - n0, (ld % NCH) * CH);
    }
    fkm_commit();
    if (NS == 1) {
      fkm_wait<0>();
      asm volatile("fence.proxy.async.shared::cta;");
      __syncthreads();
    }
    const u32 cbase = cs + (s % NS) * BK * CH * ES;
    const u32 xbase = xs + (XRES ? 0 : s % NS) * BN * CH * ES;
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < CH / KS; ++kk)
#pragma unroll
      for (int m = 0; m < WG_M; ++m)
        fkm_wgmma(acc[m], fkm_desc(fkm_operand(xbase, BN, (wg * WG_M + m) * 64, kk)),
                  fkm_desc(fkm_operand(cbase, BK, 0, kk)), (s % NCH != 0 || kk != 0) ? 1 : 0);
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    float cn[BK / 8][2];
    if (s % NCH == NCH - 1) fkm_tile_norms(cn, nb, (s / NCH) * BK, k, lane);
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    if (s % NCH == NCH - 1)
#pragma unroll
      for (int m = 0; m < WG_M; ++m) fkm_fold(acc[m], best[m], bidx[m], cn, (s / NCH) * BK, lane);
    if (NS == 1) __syncthreads();
  }

#pragma unroll
  for (int m = 0; m < WG_M; ++m)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float v = best[m][h];
      int i = bidx[m][h];
#pragma unroll
      for (int off = 1; off < 4; off <<= 1)
        fkm_better(v, i, __shfl_xor_sync(0xffffffffu, v, off), __shfl_xor_sync(0xffffffffu, i, off));
      const i64 row = n0 + (wg * WG_M + m) * 64 + wq * 16 + h * 8 + (lane >> 2);
      if ((lane & 3) == 0 && row < n) labels[(i64)b * n + row] = i;
    }
}
