/* Helpers shared by the test suites: seeded data, reference checks, suite running. */
#ifndef FKM_TEST_SUPPORT_H
#define FKM_TEST_SUPPORT_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "fkm.h"

/* Fresh seed per run (time and pid) unless FKM_TEST_SEED is set; printed once to stderr. */
uint64_t fkm_test_seed(void);
/* Uniform in [lo, hi) from a per-test generator state. */
double fkm_test_uniform(uint64_t *state, double lo, double hi);
/* B×N×D fp32 points around K well-separated centres (never all zero); caller frees. */
float *fkm_test_blobs(uint64_t *state, int64_t b, int64_t n, int64_t d, int64_t k, double spread);
/* Uniform random fp32 values in [-1, 1); caller frees. */
float *fkm_test_random(uint64_t *state, size_t count);
/* Generates and compiles every spec of specs[0..count) with NVRTC on `threads` threads; returns
 * how many failed (each failure printed with its spec and the NVRTC log's first lines). */
struct fkm__kernel_spec;
size_t fkm_test_compile_all(const struct fkm__kernel_spec *specs, size_t count, int threads);

/* Whether NVRTC loads here (suites skip their compiling tests where it does not). */
int fkm_test_nvrtc_usable(void);

/* What fkm_test_capture_warnings saw: the warnings counted, the last one kept. */
typedef struct fkm_test_log_capture {
  int warnings;
  char last[1024];
} fkm_test_log_capture;
/* Log callback (fkm_log_set) whose user is an fkm_test_log_capture; ignores other levels. */
void fkm_test_capture_warnings(fkm_log_level level, const char *message, void *user);

/* Whether the GPU engine can run here (driver and device); prints why not. GPU suites exit 77
 * (skipped) when it cannot. */
int fkm_test_gpu_usable(void);

/* Outputs of one fkm_fit, poisoned before the call (centroids NaN, labels -1, inertia NaN, result
 * fields -1 / AUTO) so an unwritten element shows. Owned; release with fkm_test_fit_free. */
typedef struct fkm_test_fit {
  fkm_status status;
  char err[2048];  /* fkm_ctx_last_error after the call */
  float *c;        /* [B][K][D] */
  int32_t *labels; /* [B][N] */
  double *inertia; /* [B] */
  fkm_result r;
} fkm_test_fit;

/* Runs fkm_fit on a fresh context; never asserts on the status. */
fkm_test_fit fkm_test_run_fit(const fkm_points *p, const fkm_options *o);
void fkm_test_fit_free(fkm_test_fit *f);

/* Runs the suite without forking when no_fork (GPU suites), returns the process exit code. */
int fkm_test_run(Suite *s, int no_fork);

#endif
