/* The NaN/Inf check of host inputs: exponent bits tested on the raw words (no conversion), on
 * several threads for large arrays, so checking gigabytes costs a fraction of a pass over them. */

#include "internal.h"

#define FKM__FINITE_THREADS 16
#define FKM__FINITE_PER_THREAD ((size_t)1 << 24) /* elements below which one thread does it all */

typedef struct finite_job {
  const void *data;
  fkm_dtype t;
  size_t first, end; /* element range [first, end) */
  size_t bad;        /* the first non-finite index in the range, or end */
} finite_job;

/* First index in [i, end) whose exponent bits are all ones under mask, for words of type T. */
#define FKM__FIRST_BAD(T, mask)                              \
  do {                                                       \
    const T *v = (const T *)j->data;                         \
    for (size_t b = i; b < j->end; b += 4096) {              \
      size_t e = b + 4096 < j->end ? b + 4096 : j->end;      \
      int any = 0;                                           \
      for (size_t k = b; k < e; k++) any |= (v[k] & (mask)) == (mask); \
      if (!any) continue;                                    \
      for (size_t k = b; k < e; k++)                         \
        if ((v[k] & (mask)) == (mask)) return k;             \
    }                                                        \
  } while (0)

static size_t first_bad(const finite_job *j) {
  size_t i = j->first;
  switch (j->t) {
  case FKM_DTYPE_FP16: FKM__FIRST_BAD(uint16_t, 0x7c00u); break;
  case FKM_DTYPE_BF16: FKM__FIRST_BAD(uint16_t, 0x7f80u); break;
  case FKM_DTYPE_FP64: FKM__FIRST_BAD(uint64_t, 0x7ff0000000000000ull); break;
  default: FKM__FIRST_BAD(uint32_t, 0x7f800000u); break;
  }
  return j->end;
}
#undef FKM__FIRST_BAD

static void *run_job(void *arg) {
  finite_job *j = arg;
  j->bad = first_bad(j);
  return NULL;
}

/* The lowest non-finite index of data [count], or count. */
static size_t lowest_bad(const void *data, fkm_dtype t, size_t count) {
  finite_job jobs[FKM__FINITE_THREADS];
  size_t threads = fkm__parallel_threads(count, FKM__FINITE_PER_THREAD, FKM__FINITE_THREADS);
  for (size_t i = 0; i < threads; i++)
    jobs[i] = (finite_job){data, t, count * i / threads, count * (i + 1) / threads, 0};
  fkm__parallel_for(run_job, jobs, sizeof jobs[0], threads);
  for (size_t i = 0; i < threads; i++)
    if (jobs[i].bad < jobs[i].end) return jobs[i].bad;
  return count;
}

fkm_status fkm__check_finite(fkm_ctx *ctx, const void *data, fkm_dtype t, size_t count,
                             const char *what) {
  size_t bad = lowest_bad(data, t, count);
  if (bad < count) return fkm__error(ctx, FKM_ERR_NONFINITE, "%s: element %zu is NaN or Inf", what, bad);
  return FKM_OK;
}
