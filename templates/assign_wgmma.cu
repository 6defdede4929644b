/* FlashAssign on Hopper warpgroup MMA (sm_90a; fp16/bf16 in, fp32 accumulate).
 * Same contract and tiling as assign_mma.cu: a block owns BLOCK_N points and streams the
 * centroids in BLOCK_K × CHUNK tiles through a NUM_STAGES-deep cp.async pipeline (with one chunk the
 * point tile stays on chip). Tiles sit in shared memory as 8×8 core matrices (8 rows × 16 bytes,
 * no swizzle), K-major, read by wgmma through descriptors. Each warpgroup owns WG_M m64 tiles of
 * rows and all BLOCK_K columns, so every warp holds whole rows: the arg-min needs only quad
 * shuffles. The generator emits fkm_wgmma() for N = BLOCK_K. */
#define BN FKM_BLOCK_N
#define BK FKM_BLOCK_K
#define CH FKM_CHUNK
#define NCH FKM_D_CHUNKS
#define NS FKM_NUM_STAGES
#define NWG (FKM_THREADS / 128)
#define WG_M (BN / 64 / NWG)
#define XRES (NCH == 1)
#define XBUFS (XRES ? 1 : NS)
#define CM_SBO (CH * 16) /* bytes between core matrices adjacent in rows */
#define CM_LBO 128       /* bytes between core matrices adjacent in K */

__device__ __forceinline__ u32 fkm_smem(const void *p) {
  u32 r;
  asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(p));
  return r;
}
__device__ __forceinline__ void fkm_cp16(u32 dst, const void *src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void fkm_commit() { asm volatile("cp.async.commit_group;"); }
template <int N> __device__ __forceinline__ void fkm_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

/* rows × CH tile of a [rows][DP] matrix from column col0 into core-matrix layout at dst; rows at or
 * beyond valid_rows and columns at or beyond DP are zero-filled. Thread pairs read 32 contiguous
 * bytes of a row. */
template <int ROWS>
__device__ __forceinline__ void fkm_load_tile(unsigned char *dst, const elem_t *src, i64 valid_rows,
                                              int col0) {
  for (int v = threadIdx.x; v < ROWS * CH / 8; v += FKM_THREADS) {
    const int lo = v & 1, r8 = (v >> 1) & 7, rest = v >> 4;
    const int c8 = (rest % (CH / 16)) * 2 + lo, r = (rest / (CH / 16)) * 8 + r8;
    const int col = col0 + c8 * 8;
    const bool ok = r < valid_rows && col < FKM_DP;
    fkm_cp16(fkm_smem(dst + (r >> 3) * CM_SBO + c8 * CM_LBO + r8 * 16),
             ok ? src + (i64)r * FKM_DP + col : src, ok ? 16 : 0);
  }
}

/* Descriptor of the core-matrix tile starting at smem byte address addr (no swizzle). */
__device__ __forceinline__ unsigned long long fkm_desc(u32 addr) {
  return (unsigned long long)((addr & 0x3ffff) >> 4) | ((unsigned long long)(CM_LBO >> 4) << 16) |
         ((unsigned long long)(CM_SBO >> 4) << 32);
}

__device__ __forceinline__ void fkm_better(float &v, int &i, float ov, int oi) {
  if (ov < v || (ov == v && oi < i)) v = ov, i = oi;
}

/* Folds a finished 64 × BLOCK_K accumulator into the running arg-min of this thread's two rows. */
__device__ __forceinline__ void fkm_fold(const float *acc, float *best, int *bidx,
                                         const float *cnorm, int k0, int k, int lane) {
#pragma unroll
  for (int j = 0; j < BK / 8; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int col = k0 + j * 8 + (lane & 3) * 2 + e;
      if (col >= k) continue;
      const float cn = FKM_METRIC == 0 ? cnorm[col] : 0.0f;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float s = acc[j * 4 + h * 2 + e];
        const float dist = FKM_METRIC == 0 ? fmaf(-2.0f, s, cn) : -s;
        if (dist < best[h]) best[h] = dist, bidx[h] = col;
      }
    }
}

/* Shapes and grid as the mma kernel: x [B][N][DP], c [B][K][DP], cnorm [B][K], labels [B][N]. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS, 1)
    FKM_ENTRY(fkm_assign)(const elem_t *__restrict__ x, const elem_t *__restrict__ c,
                          const float *__restrict__ cnorm, int *__restrict__ labels, i64 n, int k,
                          const int *__restrict__ done) {
  if (done && *done) return;
  extern __shared__ __align__(128) unsigned char fkm_shared[];
  unsigned char *cs = fkm_shared;
  unsigned char *xs = cs + NS * BK * CH * 2;
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
      fkm_load_tile<BK>(cs + s * BK * CH * 2, cb + (i64)(s / NCH) * BK * FKM_DP, k - (s / NCH) * BK, (s % NCH) * CH);
      if (!XRES) fkm_load_tile<BN>(xs + s * BN * CH * 2, xb, n - n0, (s % NCH) * CH);
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
      fkm_load_tile<BK>(cs + (ld % NS) * BK * CH * 2, cb + (i64)(ld / NCH) * BK * FKM_DP, k - (ld / NCH) * BK, (ld % NCH) * CH);
      if (!XRES) fkm_load_tile<BN>(xs + (ld % NS) * BN * CH * 2, xb, n - n0, (ld % NCH) * CH);
    }
    fkm_commit();
    if (NS == 1) {
      fkm_wait<0>();
      asm volatile("fence.proxy.async.shared::cta;");
      __syncthreads();
    }
    const u32 cbase = fkm_smem(cs + (s % NS) * BK * CH * 2);
    const u32 xbase = fkm_smem(xs + (XRES ? 0 : s % NS) * BN * CH * 2);
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < CH / 16; ++kk)
#pragma unroll
      for (int m = 0; m < WG_M; ++m)
        fkm_wgmma(acc[m], fkm_desc(xbase + ((wg * WG_M + m) * 64 / 8) * CM_SBO + kk * 2 * CM_LBO),
                  fkm_desc(cbase + kk * 2 * CM_LBO), (s % NCH != 0 || kk != 0) ? 1 : 0);
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    if (s % NCH == NCH - 1)
#pragma unroll
      for (int m = 0; m < WG_M; ++m) fkm_fold(acc[m], best[m], bidx[m], nb, (s / NCH) * BK, k, lane);
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
