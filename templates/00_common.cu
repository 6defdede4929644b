/* Common definitions of every generated kernel. The generator prepends #defines for the spec:
 * FKM_SPEC_ID, FKM_METRIC (0 l2, 1 cosine, 2 dot), FKM_DTYPE (1 fp16, 2 bf16, 3 fp32), FKM_D,
 * FKM_DP (D padded to 16), FKM_THREADS, FKM_KPAD_ROWS, FKM_SEGMENT (members of a cluster's
 * sorted run that one reduce block sums, a multiple of its 8 warps: fkm__segment_rows) and the
 * assign tile constants.
 * Self-contained: no headers; conversions and tensor-core instructions come from inline PTX, no
 * header is included. */
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;

#define FKM_CAT2(a, b) a##_##b
#define FKM_CAT(a, b) FKM_CAT2(a, b)
#define FKM_ENTRY(name) FKM_CAT(name, FKM_SPEC_ID)
#define FKM_INF __int_as_float(0x7f800000)
#define FKM_NORMALISED_POINTS (FKM_METRIC == 1)
#define FKM_UNIT_CENTROIDS (FKM_METRIC != 0)
/* Most members of a cluster that the reduce sums in one warp (fkm_reduce_small_runs; the host
 * picks the bound, up to this): FKM__SMALL_RUN of runtime/gpu_run.h. */
#define FKM_SMALL_RUN 128

/* The bits of f rounded to TF32 (nearest, ties away; the low 13 mantissa bits zero). */
__device__ __forceinline__ u32 fkm_tf32(float f) {
  u32 r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
  return r;
}

/* 3×TF32's split of f (the mma.sync and warpgroup kernels' operands, the centroid planes):
 * hi = tf32(f), lo = tf32(f − hi), as bits. */
__device__ __forceinline__ void fkm_tf32_split(float f, u32 &hi, u32 &lo) {
  hi = fkm_tf32(f);
  lo = fkm_tf32(f - __uint_as_float(hi));
}

/* Rows per batch of the padded centroid layouts (the distance offsets cnorm, and ch for clustered
 * assign kernels): K rounded up to FKM_KPAD_ROWS, the host's fkm__kpad_rows. */
__device__ __forceinline__ i64 fkm_kpad(i64 k) {
  return (k + FKM_KPAD_ROWS - 1) / FKM_KPAD_ROWS * FKM_KPAD_ROWS;
}

#if FKM_DTYPE == 3
typedef float elem_t;
__device__ __forceinline__ float fkm_to_f32(elem_t v) { return v; }
__device__ __forceinline__ elem_t fkm_from_f32(float f) { return f; }
#else
typedef u16 elem_t;
#if FKM_DTYPE == 1
__device__ __forceinline__ float fkm_to_f32(elem_t v) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v));
  return f;
}
__device__ __forceinline__ elem_t fkm_from_f32(float f) {
  u16 h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
#else
__device__ __forceinline__ float fkm_to_f32(elem_t v) { return __uint_as_float((u32)v << 16); }
__device__ __forceinline__ elem_t fkm_from_f32(float f) {
  u16 h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
#endif
#endif

/* Correctly rounded double → compute dtype: round-to-odd to fp32 keeps enough bits that the
 * final round-to-nearest-even to fp16/bf16 equals direct rounding (no double rounding). */
__device__ __forceinline__ elem_t fkm_from_f64(double v) {
#if FKM_DTYPE == 3
  return (float)v;
#else
  float f;
  asm("cvt.rz.f32.f64 %0, %1;" : "=f"(f) : "d"(v));
  if ((double)f != v) f = __uint_as_float(__float_as_uint(f) | 1u);
  return fkm_from_f32(f);
#endif
}

/* Loop state shared by the kernels of one fit, in device memory. */
struct fkm_state {
  int done;        /* 1 once converged: every loop kernel returns at once */
  int iter;        /* iterations completed */
  u32 shift_bits;  /* max shift of the running iteration, as float bits (non-negative) */
  float last_shift;
};

__device__ __forceinline__ float fkm_warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

/* Sum over a block of FKM_THREADS threads in a fixed tree order; every thread gets the result.
 * scratch: FKM_THREADS / 32 floats of shared memory. */
__device__ __forceinline__ float fkm_block_sum(float v, float *scratch) {
  v = fkm_warp_sum(v);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float t = lane < FKM_THREADS / 32 ? scratch[lane] : 0.0f;
  return fkm_warp_sum(t);
}

/* Exclusive scan of a block's FKM_THREADS values of an integer type T (int, unsigned long long) in
 * thread order; *total gets their sum. Every thread of the block calls it (two barriers); each T
 * has its own FKM_THREADS / 32 warp totals in shared memory. */
template <typename T>
__device__ __forceinline__ T fkm_block_exclusive_scan(T v, T *total) {
  __shared__ T warp_total[FKM_THREADS / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  T incl = v;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const T o = __shfl_up_sync(0xffffffffu, incl, off);
    if (lane >= off) incl += o;
  }
  __syncthreads();
  if (lane == 31) warp_total[warp] = incl;
  __syncthreads();
  T before = 0, sum = 0;
  for (int w = 0; w < FKM_THREADS / 32; ++w) {
    before += w < warp ? warp_total[w] : (T)0;
    sum += warp_total[w];
  }
  *total = sum;
  return before + incl - v;
}

#if FKM_DTYPE != 3
/* d += a·b for one m16n8k16 tile of fp16/bf16 operands (fragments as the PTX ISA lays them out),
 * fp32 accumulation (sm_80+). */
__device__ __forceinline__ void fkm_mma16816(float *d, const u32 *a, const u32 *b) {
#if FKM_DTYPE == 1
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
#endif
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif

/* Arg-min merge: (ov, oi) replaces (v, i) when nearer, or as near with a lower index. */
__device__ __forceinline__ void fkm_better(float &v, int &i, float ov, int oi) {
  if (ov < v || (ov == v && oi < i)) v = ov, i = oi;
}

/* Element i of raw input of storage dtype t (1 fp16, 2 bf16, 3 fp32, 4 fp64), exactly. */
__device__ __forceinline__ double fkm_load_raw(const void *p, int t, i64 i) {
  if (t == 1) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(((const u16 *)p)[i]));
    return f;
  }
  if (t == 2) return __uint_as_float((u32)((const u16 *)p)[i] << 16);
  if (t == 3) return ((const float *)p)[i];
  return ((const double *)p)[i];
}
