/* FlashAssign in fp32 with FFMA (the default fp32 accuracy). A block owns BLOCK_N points and walks
 * the centroids in BLOCK_K tiles, D in CHUNK-wide slices staged transposed in shared memory
 * (with one chunk the point tile is loaded once). Threads form a (THREADS/16) × 16 grid; thread
 * (ty, tx) owns rows ty + i·TY and columns tx + j·16 of the tile, keeps a running (distance,
 * index) per row and reduces it across its 16 lanes. Same distance rules as the mma kernel. */
#define BN FKM_BLOCK_N
#define BK FKM_BLOCK_K
#define CH FKM_CHUNK
#define NCH FKM_D_CHUNKS
#define TY (FKM_THREADS / 16)
#define RM (BN / TY)
#define RN (BK / 16)
#define XS_ROW (BN + 1)
#define CS_ROW (BK + 1)

/* dst[d][r] = src[r][col0 + d] (transposed), zero outside valid rows and D. */
template <int ROWS, int STRIDE>
__device__ __forceinline__ void fkm_stage(float *dst, const float *src, i64 valid_rows, int col0) {
  for (int v = threadIdx.x; v < ROWS * CH; v += FKM_THREADS) {
    const int r = v / CH, d = v % CH, col = col0 + d;
    dst[d * STRIDE + r] = (r < valid_rows && col < FKM_D) ? src[(i64)r * FKM_DP + col] : 0.0f;
  }
}

__device__ __forceinline__ void fkm_better(float &v, int &i, float ov, int oi) {
  if (ov < v || (ov == v && oi < i)) v = ov, i = oi;
}

/* Shapes and grid as the mma kernel: x [B][N][DP], c [B][K][DP] fp32, cnorm [B][K], labels [B][N]. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_assign)(const float *__restrict__ x, const float *__restrict__ c,
                          const float *__restrict__ cnorm, int *__restrict__ labels, i64 n, int k,
                          const int *__restrict__ done) {
  if (done && *done) return;
  extern __shared__ __align__(16) unsigned char fkm_shared[];
  float *xs = (float *)fkm_shared;
  float *cs = xs + CH * XS_ROW;
  const int b = blockIdx.y, tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
  const i64 n0 = (i64)blockIdx.x * BN;
  const float *xb = x + ((i64)b * n + n0) * FKM_DP;
  const float *cb = c + (i64)b * k * FKM_DP;
  const float *nb = cnorm + (i64)b * k;
  float best[RM];
  int bidx[RM];
#pragma unroll
  for (int i = 0; i < RM; ++i) best[i] = FKM_INF, bidx[i] = 0x7fffffff;
  if (NCH == 1) fkm_stage<BN, XS_ROW>(xs, xb, n - n0, 0);

  for (int k0 = 0; k0 < k; k0 += BK) {
    float acc[RM][RN];
#pragma unroll
    for (int i = 0; i < RM; ++i)
#pragma unroll
      for (int j = 0; j < RN; ++j) acc[i][j] = 0.0f;
    for (int ch = 0; ch < NCH; ++ch) {
      __syncthreads();
      if (NCH > 1) fkm_stage<BN, XS_ROW>(xs, xb, n - n0, ch * CH);
      fkm_stage<BK, CS_ROW>(cs, cb + (i64)k0 * FKM_DP, k - k0, ch * CH);
      __syncthreads();
#pragma unroll 4
      for (int d = 0; d < CH; ++d) {
        float a[RM], bv[RN];
#pragma unroll
        for (int i = 0; i < RM; ++i) a[i] = xs[d * XS_ROW + ty + i * TY];
#pragma unroll
        for (int j = 0; j < RN; ++j) bv[j] = cs[d * CS_ROW + tx + j * 16];
#pragma unroll
        for (int i = 0; i < RM; ++i)
#pragma unroll
          for (int j = 0; j < RN; ++j) acc[i][j] = fmaf(a[i], bv[j], acc[i][j]);
      }
    }
#pragma unroll
    for (int j = 0; j < RN; ++j) {
      const int col = k0 + tx + j * 16;
      if (col >= k) continue;
      const float cn = FKM_METRIC == 0 ? nb[col] : 0.0f;
#pragma unroll
      for (int i = 0; i < RM; ++i) {
        const float dist = FKM_METRIC == 0 ? fmaf(-2.0f, acc[i][j], cn) : -acc[i][j];
        if (dist < best[i]) best[i] = dist, bidx[i] = col;
      }
    }
  }
#pragma unroll
  for (int i = 0; i < RM; ++i) {
    float v = best[i];
    int id = bidx[i];
#pragma unroll
    for (int off = 1; off < 16; off <<= 1)
      fkm_better(v, id, __shfl_xor_sync(0xffffffffu, v, off), __shfl_xor_sync(0xffffffffu, id, off));
    const i64 row = n0 + ty + i * TY;
    if (tx == 0 && row < n) labels[(i64)b * n + row] = id;
  }
}
