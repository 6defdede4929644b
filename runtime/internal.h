/* Internal declarations shared across the library (symbols prefixed fkm__). Not installed. */
#ifndef FKM_INTERNAL_H
#define FKM_INTERNAL_H

#include "fkm.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define FKM__ERR_LEN 2048

struct fkm__gpu; /* GPU engine state of a context (runtime/gpu_*.c) */
struct fkm__cache_state; /* kernel-cache state of a context (cache/) */

struct fkm_ctx {
  char err[FKM__ERR_LEN];  /* detail of the innermost failure */
  char *compile_log;       /* owned; NVRTC log of the last failed compile, or NULL */
  fkm_log_fn log_fn;
  void *log_user;
  struct fkm__gpu *gpu;    /* owned; created on the first GPU call */
  struct fkm__cache_state *cache; /* owned; created on the first cache use */
};

/* Records detail text for status s (the first error recorded since fkm__clear_error wins, so the
 * innermost failure's text survives while callers unwind) and returns s. */
fkm_status fkm__error(fkm_ctx *ctx, fkm_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fkm__clear_error(fkm_ctx *ctx);
/* Replaces the stored compile log with a copy of log (NULL clears). */
void fkm__set_compile_log(fkm_ctx *ctx, const char *log);
void fkm__log(fkm_ctx *ctx, fkm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Bytes of one element of a storage dtype (0 for AUTO). */
size_t fkm__dtype_size(fkm_dtype t);
const char *fkm__dtype_name(fkm_dtype t);
const char *fkm__metric_name(fkm_metric m);

/* Host conversions (round to nearest even). */
float fkm__half_to_float(uint16_t h);
uint16_t fkm__float_to_half(float f);
float fkm__bf16_to_float(uint16_t h);
uint16_t fkm__float_to_bf16(float f);
/* Element i of a host array of storage dtype t, as double. */
double fkm__load_element(const void *data, fkm_dtype t, size_t i);
/* Host threads for work units when each thread should take at least per_thread of them: at most
 * the cores and cap (≤ FKM__PARALLEL_MAX), at least 1 (parallel.c). */
#define FKM__PARALLEL_MAX 16
size_t fkm__parallel_threads(size_t work, size_t per_thread, size_t cap);
/* Runs fn on jobs[0 .. count) (each `size` bytes, count ≤ FKM__PARALLEL_MAX): job 0 on the calling
 * thread, the others on threads of their own (on the caller's where a thread does not start);
 * returns when all are done. */
void fkm__parallel_for(void *(*fn)(void *), void *jobs, size_t size, size_t count);
/* memcpy of host memory, split over up to 8 threads when large (host_copy.c). */
void fkm__parallel_copy(void *dst, const void *src, size_t bytes);
/* FKM_ERR_NONFINITE naming `what` and the lowest index when data [count] of type t (host memory)
 * holds a NaN or Inf, or a value that compute dtype `compute` rounds to Inf (e.g. |x| ≥ 65520 for
 * fp16; AUTO: NaN and Inf only), or — square_d > 0 — |x| from sqrt(FLT_MAX / (5·square_d)) on,
 * where the GPU's fp32 distances over square_d columns could overflow. finite.c: bit compares,
 * several threads for large arrays. */
fkm_status fkm__check_finite(fkm_ctx *ctx, const void *data, fkm_dtype t, size_t count,
                             fkm_dtype compute, int64_t square_d, const char *what);
/* x rounded to what compute dtype t can hold (identity for FP32 input to FP64 etc.). */
double fkm__round_to_dtype(double x, fkm_dtype t);

/* The compute dtype an engine uses for these points and options (AUTO resolved). gpu = 1 maps
 * FP64 to FP32. */
fkm_dtype fkm__compute_dtype(const fkm_points *p, const fkm_options *o, int gpu);

/* Checks points, options and result for fit (result may be NULL for predict checks) and returns
 * FKM_OK or FKM_ERR_INVALID_ARG / FKM_ERR_UNSUPPORTED with detail. host = 1: the buffers are host
 * memory and are scanned for NaN/Inf (FKM_ERR_NONFINITE). */
fkm_status fkm__check_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                          const fkm_result *r, int host);
/* Checks the points' description and the options (not the values). */
fkm_status fkm__check_shapes(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o);
/* Checks host points and options for fkm_tune (the GPU engine: not CPU, no fp64 compute). */
fkm_status fkm__check_tune(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o);
fkm_status fkm__check_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                              const fkm_options *o, const int32_t *labels, int host);

/* Counter-based random init: writes K distinct point indices in [0, N) for batch b, in pick order.
 * Depends only on (seed, b, N, K): both engines use it, so they pick the same points. */
fkm_status fkm__random_init_indices(uint64_t seed, int64_t b, int64_t n, int64_t k, int64_t *out);
/* SplitMix64 of a counter: the generator behind the picks. */
uint64_t fkm__mix64(uint64_t x);
/* The top 53 bits of counter `counter` of stream (seed, b) — the stream the random init's Floyd
 * draws read (its draw i is counter i) — as an integer in [0, 2⁵³). */
uint64_t fkm__uniform53(uint64_t seed, int64_t b, uint64_t counter);
/* fkm__uniform53 × 2⁻⁵³: uniform in [0, 1). */
double fkm__uniform01(uint64_t seed, int64_t b, uint64_t counter);
/* Local trials per k-means++ step: 2 + ⌊ln K⌋ (scikit-learn's n_local_trials). The candidate of
 * trial t at step s (0 = the first centre, one trial) is drawn with counter s·T + t; the whole
 * procedure is written out in runtime/init_kmeanspp.c. */
int fkm__kmeanspp_trials(int64_t k);
/* k-means++ quantisation (the procedure in runtime/init_kmeanspp.c): the scale σ for the largest
 * term max_term > 0 of N terms, a term v ≥ 0 as ⌊v · 2^σ⌋, and the pick target ⌊m · total / 2⁵³⌋
 * for a 53-bit uniform m. */
int fkm__kmeanspp_sigma(double max_term, int64_t n);
uint64_t fkm__kmeanspp_quantise(double v, int sigma);
uint64_t fkm__kmeanspp_target(uint64_t m, uint64_t total);
/* Seed of restart r of n_init: seed itself for r = 0 (so n_init = 1 is a plain fit), else
 * fkm__mix64(seed + r). */
uint64_t fkm__restart_seed(uint64_t seed, int r);

/* Tolerance in absolute units: tol, or tol × mean per-feature variance when tol_relative. */
double fkm__absolute_tol(const fkm_points *p, const fkm_options *o);

/* CPU reference engine (runtime/cpu_*.c): arguments already checked. */
fkm_status fkm__cpu_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r);
fkm_status fkm__cpu_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                            const fkm_options *o, int32_t *labels, double *inertia);

/* Every rank of comm calls this with its own status (a collective, on the comm's device): FKM_OK on
 * every rank when all are FKM_OK; otherwise a failed rank returns its own status and the others
 * FKM_ERR_COMM naming the lowest failed rank (comm.c). */
fkm_status fkm__comm_agree(fkm_ctx *ctx, fkm_comm *comm, fkm_status mine);
/* The same, and when all are FKM_OK, *any = whether some rank's flag is non-zero. */
fkm_status fkm__comm_agree_any(fkm_ctx *ctx, fkm_comm *comm, fkm_status mine, int flag, int *any);
/* fkm_fit over opts->devices (num_devices > 1, B = 1, host points; multi_device.c). */
fkm_status fkm__multi_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r);
/* How many of o->devices a fit of p over them uses: one per 512-point span at most. */
int fkm__multi_devices_used(const fkm_points *p, const fkm_options *o);

/* GPU engine (runtime/gpu_*.c): arguments already checked. device = 1: buffers are device memory. */
fkm_status fkm__gpu_available(fkm_ctx *ctx, int device);
fkm_status fkm__gpu_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r,
                        int device, void *stream);
fkm_status fkm__gpu_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                            const fkm_options *o, int32_t *labels, double *inertia, int device,
                            void *stream);
/* Bytes of the workspace fkm__gpu_fit allocates for device points p and options o. */
fkm_status fkm__gpu_workspace_size(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                                   size_t *bytes);
/* Tunes the assign kernel for p (host memory, or device memory when device) and o on o->device
 * (runtime/gpu_tune.c): exhaustive when o->tune == 2, else pruned; stores the winner as the
 * shapes' tuning record and returns it in *best; report (may be NULL) as fkm_tune_report says. */
fkm_status fkm__gpu_tune(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, int device,
                         fkm_config *best, fkm_tune_report *report);
/* fit with o->tune: when the shapes have neither a given config nor a usable tuning record, tunes
 * them and writes the winner into *config (else leaves it as it is). A failed tuning is one
 * warning, not an error: the fit goes on with the model's pick. */
void fkm__gpu_tune_missing(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                           fkm_config *config);
void fkm__gpu_free(struct fkm__gpu *g);
void fkm__cache_state_free(struct fkm__cache_state *s);
/* FKM_OK, or FKM_ERR_UNSUPPORTED naming what of p and o the GPU engine does not take. */
fkm_status fkm__gpu_supports(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o);

/* Milliseconds from a monotonic clock. */
double fkm__now_ms(void);

/* Rows per batch of the workspace's compute-dtype centroids ch and distance offsets cnorm: K
 * rounded up to FKM__KPAD_ROWS (the largest BLOCK_K), so that an assign kernel's tiles never leave
 * their batch's rows. The generator hands the same constant to the kernels (FKM_KPAD_ROWS). */
#define FKM__KPAD_ROWS 256
static inline int64_t fkm__kpad_rows(int64_t k) {
  return (k + FKM__KPAD_ROWS - 1) / FKM__KPAD_ROWS * FKM__KPAD_ROWS;
}
/* Bytes a centroid element takes in ch: the compute dtype's, twice for fp32 at default precision
 * (the 3×TF32 warpgroup kernel reads TF32 hi and lo planes; the room is there whichever kernel
 * runs, as tuning tries both). */
static inline size_t fkm__ch_esize(fkm_dtype compute, fkm_precision precision) {
  size_t e = fkm__dtype_size(compute);
  return compute == FKM_DTYPE_FP32 && precision == FKM_PRECISION_DEFAULT ? 2 * e : e;
}
/* Bytes of ch [B][fkm__kpad_rows(K)][DP] (esize bytes an element) for B batches of k. */
static inline size_t fkm__ch_bytes(int64_t b, int64_t k, int64_t dp, size_t esize) {
  return (size_t)b * (size_t)fkm__kpad_rows(k) * (size_t)dp * esize;
}
/* Bytes of cnorm [B][fkm__kpad_rows(K)] f32. */
static inline size_t fkm__cnorm_bytes(int64_t b, int64_t k) {
  return (size_t)b * (size_t)fkm__kpad_rows(k) * 4;
}

#endif
