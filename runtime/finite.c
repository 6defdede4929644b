/* The NaN/Inf check of host inputs, of values that the compute dtype would round to Inf, and of
 * values whose squares could overflow the GPU's fp32 distances: the raw words' absolute-value bits
 * compared with a limit (no conversion), on several threads for large arrays, so checking
 * gigabytes costs a fraction of a pass over them. */

#include <float.h>
#include <math.h>
#include <string.h>

#include "internal.h"

#define FKM__FINITE_THREADS 16
#define FKM__FINITE_PER_THREAD ((size_t)1 << 24) /* elements below which one thread does it all */

typedef struct finite_job {
  const void *data;
  fkm_dtype t;
  uint64_t limit;    /* absolute-value bits from which an element is bad (limit_bits) */
  size_t first, end; /* element range [first, end) */
  size_t bad;        /* the first bad index in the range, or end */
} finite_job;

/* Absolute-value bits of a type-t element from which it is NaN or Inf, or — when the compute dtype
 * `to` holds a smaller range — from which it rounds (to nearest even) to Inf in `to`: 65520 for
 * fp16, halfway past the largest bf16 (0x7f7f8000 as fp32) for bf16, halfway past FLT_MAX for fp32
 * and for fp64, whose master centroids are fp32 (SPEC §2). AUTO: no compute dtype (unit rows),
 * NaN and Inf only. */
static uint64_t limit_bits(fkm_dtype t, fkm_dtype to) {
  switch (t) {
  case FKM_DTYPE_FP16: return 0x7c00u;
  case FKM_DTYPE_BF16: return to == FKM_DTYPE_FP16 ? 0x4780u /* 65536 */ : 0x7f80u;
  case FKM_DTYPE_FP64:
    return to == FKM_DTYPE_FP16   ? 0x40effe0000000000ull
           : to == FKM_DTYPE_BF16 ? 0x47eff00000000000ull
           : to != FKM_DTYPE_AUTO ? 0x47effffff0000000ull
                                  : 0x7ff0000000000000ull;
  default:
    return to == FKM_DTYPE_FP16 ? 0x477ff000u : to == FKM_DTYPE_BF16 ? 0x7f7f8000u : 0x7f800000u;
  }
}

/* The cap on |x| that keeps the GPU's fp32 sums over d columns finite: with every |x| and |c|
 * below m, ‖c‖² − 2·x·c stays within 3·d·m² and a centroid's squared shift within 4·d·m²; the
 * bound 5·d·m² ≤ FLT_MAX leaves room for rounding the values (bf16 up by 2^-8 of m) and the sums. */
static double square_cap(int64_t d) { return sqrt((double)FLT_MAX / (5.0 * (double)d)); }

/* Absolute-value bits of cap rounded toward zero in type t (fp16 holds nothing near a cap: its
 * largest value is 65504, so its Inf bits). */
static uint64_t cap_bits(fkm_dtype t, double cap) {
  float f = (float)cap;
  if ((double)f > cap) f = nextafterf(f, 0.0f);
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  uint64_t u64;
  memcpy(&u64, &cap, sizeof u64);
  switch (t) {
  case FKM_DTYPE_FP16: return 0x7c00u;
  case FKM_DTYPE_BF16: return u >> 16;
  case FKM_DTYPE_FP64: return u64;
  default: return u;
  }
}

/* First index in [i, end) whose word of type T, sign cleared, is at least the job's limit. */
#define FKM__FIRST_BAD(T)                                                  \
  do {                                                                     \
    const T *v = (const T *)j->data, lim = (T)j->limit, abs = (T) ~(T)0 >> 1; \
    for (size_t b = i; b < j->end; b += 4096) {                            \
      size_t e = b + 4096 < j->end ? b + 4096 : j->end;                    \
      int any = 0;                                                         \
      for (size_t k = b; k < e; k++) any |= (T)(v[k] & abs) >= lim;        \
      if (!any) continue;                                                  \
      for (size_t k = b; k < e; k++)                                       \
        if ((T)(v[k] & abs) >= lim) return k;                              \
    }                                                                      \
  } while (0)

static size_t first_bad(const finite_job *j) {
  size_t i = j->first;
  switch (j->t) {
  case FKM_DTYPE_FP16:
  case FKM_DTYPE_BF16: FKM__FIRST_BAD(uint16_t); break;
  case FKM_DTYPE_FP64: FKM__FIRST_BAD(uint64_t); break;
  default: FKM__FIRST_BAD(uint32_t); break;
  }
  return j->end;
}
#undef FKM__FIRST_BAD

static void *run_job(void *arg) {
  finite_job *j = arg;
  j->bad = first_bad(j);
  return NULL;
}

/* The lowest index of data [count] at or past limit (limit_bits), or count. */
static size_t lowest_bad(const void *data, fkm_dtype t, uint64_t limit, size_t count) {
  finite_job jobs[FKM__FINITE_THREADS];
  size_t threads = fkm__parallel_threads(count, FKM__FINITE_PER_THREAD, FKM__FINITE_THREADS);
  for (size_t i = 0; i < threads; i++)
    jobs[i] = (finite_job){data, t, limit, count * i / threads, count * (i + 1) / threads, 0};
  fkm__parallel_for(run_job, jobs, sizeof jobs[0], threads);
  for (size_t i = 0; i < threads; i++)
    if (jobs[i].bad < jobs[i].end) return jobs[i].bad;
  return count;
}

fkm_status fkm__check_finite(fkm_ctx *ctx, const void *data, fkm_dtype t, size_t count,
                             fkm_dtype compute, int64_t square_d, const char *what) {
  uint64_t limit = limit_bits(t, compute);
  double cap = square_d > 0 ? square_cap(square_d) : INFINITY;
  uint64_t capped_limit = square_d > 0 ? cap_bits(t, cap) : limit;
  int capped = capped_limit < limit;
  if (capped) limit = capped_limit;
  size_t bad = lowest_bad(data, t, limit, count);
  if (bad == count) return FKM_OK;
  double v = fkm__load_element(data, t, bad);
  if (!isfinite(v)) return fkm__error(ctx, FKM_ERR_NONFINITE, "%s: element %zu is NaN or Inf", what, bad);
  if (capped)
    return fkm__error(ctx, FKM_ERR_NONFINITE,
                      "%s: element %zu (%g) is too large for the GPU's fp32 distances over D = %lld "
                      "columns (|x| must stay below %.4g); scale the data or use the CPU engine",
                      what, bad, v, (long long)square_d, cap);
  if (compute == FKM_DTYPE_FP32 || compute == FKM_DTYPE_FP64)
    return fkm__error(ctx, FKM_ERR_NONFINITE,
                      "%s: element %zu (%g) is beyond fp32's range (%g), which the centroids are "
                      "kept in; scale the data",
                      what, bad, v, (double)FLT_MAX);
  return fkm__error(ctx, FKM_ERR_NONFINITE,
                    "%s: element %zu (%g) rounds to Inf in the %s compute dtype; compute in %s",
                    what, bad, v, fkm__dtype_name(compute),
                    compute == FKM_DTYPE_FP16 ? "bf16 or fp32" : "fp32");
}
