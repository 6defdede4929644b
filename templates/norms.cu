/* Layout kernels: points and centroids into the compute dtype with rows padded to DP, ‖c‖², and
 * the random-init gather. One warp per row; blocks of FKM_THREADS threads, grid-stride over rows. */
#define FKM_WARPS (FKM_THREADS / 32)

__device__ __forceinline__ i64 fkm_first_row() { return (i64)blockIdx.x * FKM_WARPS + (threadIdx.x >> 5); }
__device__ __forceinline__ i64 fkm_row_stride() { return (i64)gridDim.x * FKM_WARPS; }

/* Squared norm of a D-vector read through load(j), summed in fp32 over a warp. */
template <typename Load> __device__ __forceinline__ float fkm_row_norm2(Load load) {
  float s = 0.0f;
  for (int j = threadIdx.x & 31; j < FKM_D; j += 32) {
    const float v = load(j);
    s = fmaf(v, v, s);
  }
  return fkm_warp_sum(s);
}

/* For a row of src whose fp64 sum of squares overflowed or fell below 2^-1000 (fp64 input at
 * extreme scales): *shift = the power of two that brings its largest |v| into [1, 2), and the
 * return value 1 / ‖row · 2^shift‖ (0 for a zero row), so that the unit row is
 * ldexp(v, *shift) · that (2^shift itself overflows for subnormal rows). The warp's lanes
 * together, as fkm_convert_points. */
__device__ __noinline__ double fkm_extreme_inverse_norm(const void *src, int src_dtype, i64 base,
                                                        int lane, int *shift) {
  double m = 0.0, n2 = 0.0;
  for (int j = lane; j < FKM_D; j += 32) m = fmax(m, fabs(fkm_load_raw(src, src_dtype, base + j)));
  for (int off = 16; off > 0; off >>= 1) m = fmax(m, __shfl_xor_sync(0xffffffffu, m, off));
  *shift = m > 0.0 ? -ilogb(m) : 0;
  for (int j = lane; j < FKM_D; j += 32) {
    const double v = ldexp(fkm_load_raw(src, src_dtype, base + j), *shift);
    n2 += v * v;
  }
  for (int off = 16; off > 0; off >>= 1) n2 += __shfl_xor_sync(0xffffffffu, n2, off);
  return n2 > 0.0 ? 1.0 / sqrt(n2) : 0.0;
}

/* dst [rows][DP] compute dtype from src [rows][D] of storage dtype src_dtype (1 fp16, 2 bf16,
 * 3 fp32, 4 fp64); cosine rows are scaled to unit length in fp64 and then rounded once (a zero row
 * stays zero); pad columns are 0. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_convert_points)(const void *__restrict__ src, int src_dtype, elem_t *__restrict__ dst, i64 rows) {
  const int lane = threadIdx.x & 31;
  for (i64 r = fkm_first_row(); r < rows; r += fkm_row_stride()) {
    const i64 base = r * FKM_D;
    double scale = 1.0;
    int shift = 0; /* extreme rows only */
    if (FKM_NORMALISED_POINTS) {
      double n2 = 0.0;
      for (int j = lane; j < FKM_D; j += 32) {
        const double v = fkm_load_raw(src, src_dtype, base + j);
        n2 += v * v;
      }
      for (int off = 16; off > 0; off >>= 1) n2 += __shfl_xor_sync(0xffffffffu, n2, off);
      scale = n2 > 0.0 ? 1.0 / sqrt(n2) : 0.0;
      if (!(n2 <= 0x1p1000) || n2 < 0x1p-1000) /* warp-uniform: n2 is the warp's sum */
        scale = fkm_extreme_inverse_norm(src, src_dtype, base, lane, &shift);
    }
    for (int j = lane; j < FKM_DP; j += 32) {
      const double v = j < FKM_D ? fkm_load_raw(src, src_dtype, base + j) : 0.0;
      dst[r * FKM_DP + j] = j < FKM_D ? fkm_from_f64((shift ? ldexp(v, shift) : v) * scale)
                                      : fkm_from_f32(0.0f);
    }
  }
}

/* Element offset of centroid row r (= b·k + row), column j in the clustered assign kernel's layout:
 * per batch, DP·size / 128 blocks q of 128-byte row pieces (columns q·128/size ..), each block
 * [kpad / 8][8][128 bytes] with the 16-byte chunks of a row XOR-ed with row mod 8 — the 128-byte
 * swizzle of the kernel's shared tiles, so that a tile's rows of one block copy as one run. */
__device__ __forceinline__ i64 fkm_swizzled_at(i64 r, int j, int k, int kpad) {
  constexpr int epb = 128 / (int)sizeof(elem_t), epc = 16 / (int)sizeof(elem_t);
  const i64 b = r / k, row = r % k;
  const int q = j / epb, chunk = (j % epb) / epc;
  return ((b * (FKM_DP / epb) + q) * kpad + row) * epb + ((chunk ^ (int)(row & 7)) * epc) + j % epc;
}

/* The centroid layouts the assign kernels read (fkm__run_prep_centroids picks one; FKM__CH_* of
 * runtime/gpu_run.h). */
#define FKM_CH_ROWS 0     /* [B·K][DP] */
#define FKM_CH_SWIZZLED 1 /* the clustered kernel's: fkm_swizzled_at, K padded to fkm_kpad(K) */
#define FKM_CH_PLANES 2   /* fp32 for 3×TF32: [B][2][K][DP], hi and lo of fkm_tf32_split */

/* Stores centroid value v (row r = b·k + row, column j) in `layout`. */
__device__ __forceinline__ void fkm_store_centroid(elem_t *ch, elem_t v, i64 r, int j, int k,
                                                   int layout) {
  if (layout == FKM_CH_SWIZZLED) {
    ch[fkm_swizzled_at(r, j, k, (int)fkm_kpad(k))] = v;
    return;
  }
  const i64 at = r * FKM_DP + j;
#if FKM_DTYPE == 3
  if (layout == FKM_CH_PLANES) {
    const i64 hi_at = at + r / k * k * FKM_DP; /* batch r / k starts at 2·k rows */
    u32 hi, lo;
    fkm_tf32_split(v, hi, lo);
    ch[hi_at] = __uint_as_float(hi), ch[hi_at + (i64)k * FKM_DP] = __uint_as_float(lo);
    return;
  }
#endif
  ch[at] = v;
}

/* ch = c32 [rows][D] (rows = B·K) rounded to the compute dtype in `layout` (FKM_CH_*); cnorm
 * [B][fkm_kpad(K)] = the assign kernels' distance offsets: ‖rounded row‖² for l2 (the fp32 row's
 * for 3×TF32), 0 for cosine and dot, +inf on each batch's padding rows (so that no padded column
 * wins, and a tile reads its offsets whole). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_prep_centroids)(const float *__restrict__ c32, elem_t *__restrict__ ch,
                                  float *__restrict__ cnorm, i64 rows, int k, int layout,
                                  const int *__restrict__ done) {
  if (done && *done) return;
  const int lane = threadIdx.x & 31;
  const i64 kp = fkm_kpad(k), pad = kp - k;
  for (i64 r = fkm_first_row(); r < rows; r += fkm_row_stride()) {
    float s = 0.0f;
    for (int j = lane; j < FKM_DP; j += 32) {
      const elem_t v = fkm_from_f32(j < FKM_D ? c32[r * FKM_D + j] : 0.0f);
      fkm_store_centroid(ch, v, r, j, k, layout);
      s = fmaf(fkm_to_f32(v), fkm_to_f32(v), s);
    }
    s = fkm_warp_sum(s);
    if (lane == 0) cnorm[r / k * kp + r % k] = FKM_METRIC == 0 ? s : 0.0f;
  }
  const i64 t0 = (i64)blockIdx.x * blockDim.x + threadIdx.x, step = (i64)gridDim.x * blockDim.x;
  for (i64 p = t0; pad && p < rows / k * pad; p += step) cnorm[p / pad * kp + k + p % pad] = FKM_INF;
}

/* c32 [B][K][D] = rows idx [B][K] (point indices within each batch) of x [B][N][DP]; unit length
 * for cosine and dot. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_gather_init)(const elem_t *__restrict__ x, const i64 *__restrict__ idx,
                               float *__restrict__ c32, i64 n, i64 k, i64 batches) {
  const int lane = threadIdx.x & 31;
  for (i64 r = fkm_first_row(); r < batches * k; r += fkm_row_stride()) {
    const elem_t *row = x + ((r / k) * n + idx[r]) * FKM_DP;
    float scale = 1.0f;
    if (FKM_UNIT_CENTROIDS) {
      const float n2 = fkm_row_norm2([&](int j) { return fkm_to_f32(row[j]); });
      scale = n2 > 0.0f ? rsqrtf(n2) : 0.0f;
    }
    for (int j = lane; j < FKM_D; j += 32) c32[r * FKM_D + j] = fkm_to_f32(row[j]) * scale;
  }
}

/* c32 [rows][D] scaled to unit length in place (given centroids for cosine and dot). */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_normalise_rows)(float *__restrict__ c32, i64 rows) {
  const int lane = threadIdx.x & 31;
  for (i64 r = fkm_first_row(); r < rows; r += fkm_row_stride()) {
    const float n2 = fkm_row_norm2([&](int j) { return c32[r * FKM_D + j]; });
    const float scale = n2 > 0.0f ? rsqrtf(n2) : 0.0f;
    for (int j = lane; j < FKM_D; j += 32) c32[r * FKM_D + j] *= scale;
  }
}
