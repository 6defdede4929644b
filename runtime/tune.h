/* Autotuning of the assign kernel (SPEC §4): the candidates a tuning run measures, ranked by a cost
 * model (tune.c: pure, testable without a GPU), and the run that compiles them in parallel and times
 * them on the device (gpu_tune.c). Only runtime/ and the tests include this header. */
#ifndef FKM_TUNE_H
#define FKM_TUNE_H

#include <pthread.h>
#include <stdatomic.h>

#include "gpu.h"
#include "kernel_cache.h"

/* Candidates a pruned run measures, the model's pick included. */
#define FKM__TUNE_KEEP 8

/* What is tuned: the assign kernel for these shapes on one device. */
typedef struct fkm__tune_target {
  fkm__kernel_spec base; /* fkm__gpu_assign_base: tile fields zero */
  int64_t n, k, b;
  int multiprocessors;   /* 0 reads as 1 */
  size_t shared_optin;   /* the device's per-block shared-memory limit; 0: the arch's */
} fkm__tune_target;

fkm__tune_target fkm__tune_target_of(const struct fkm__gpu *g, const fkm_points *p,
                                     const fkm_options *o);

typedef struct fkm__tune_candidate {
  fkm__kernel_spec spec;
  fkm__spec_layout layout;
  double cost;    /* the model's estimate of one assign pass, in SM clock cycles */
  double score;   /* what ranks (lower first): cost, 5 % less for a cached cubin */
  size_t index;   /* configuration index in the space; fkm__space_size() for a model pick outside */
  int cached;     /* its cubin was in a cache layer when ranked (pruned runs probe a shortlist) */
  int model_pick; /* the model's pick for the target */
} fkm__tune_candidate;

/* Whether spec's cubin is in a cache layer (then it needs no compile). */
typedef int (*fkm__tune_cached_fn)(const fkm__kernel_spec *s, void *user);

/* The model's cost of one assign pass of spec (layout: its fkm__spec_validate layout) over the
 * target's shapes: per block the larger of tensor-core, shared-memory, L2 and DRAM time at the
 * SM's rates, plus the arg-min epilogue and the exposed load latency of a num_stages-deep pipeline,
 * with occupancy from shared memory, registers and threads per SM, and the blocks
 * ceil(N / BLOCK_N)·B quantised over the multiprocessors. Positive and finite. */
double fkm__tune_cost(const fkm__tune_target *t, const fkm__kernel_spec *s,
                      const fkm__spec_layout *l);

/* Entries out must hold: every configuration of the space plus a model pick outside it. */
size_t fkm__tune_capacity(void);

/* The candidates of a tuning run into out[0..count) (fkm__tune_capacity() entries), best score
 * first, ties in space order; *space (if non-NULL) receives the exhaustive count. Exhaustive: every
 * configuration of the space valid on the target (fkm__config_spec and the device's shared-memory
 * limit) plus the model's pick `model` when it lies outside the space. Pruned: of those, ranked by
 * cost with cached cubins preferred (the 2·FKM__TUNE_KEEP cheapest are probed with cached, which
 * may be NULL), at most FKM__TUNE_KEEP, one per equivalent kernel (same tiles and D chunking) and
 * two per tile shape (BLOCK_N, BLOCK_K, num_warps), the model's pick always among them. */
size_t fkm__tune_candidates(const fkm__tune_target *t, const fkm__kernel_spec *model,
                            int exhaustive, fkm__tune_cached_fn cached, void *user,
                            fkm__tune_candidate *out, size_t *space);

/* Cubins of candidates built on parallel threads (tune_compile.c), each thread on a context of its
 * own, through the kernel cache (a cached cubin is read, a missing one compiled and stored). */
#define FKM__COMPILE_THREADS 32
typedef struct fkm__compile_batch {
  const fkm__tune_candidate *cand; /* borrowed [count] until joined */
  const int *skip;                 /* borrowed [count] or NULL: non-zero entries are not built */
  size_t count;
  fkm__cubin *cubins;              /* owned [count]: data NULL where skipped or failed */
  char (*why)[256];                /* owned [count]: why a build failed, "" otherwise */
  size_t compiles;                 /* NVRTC compiles made, once joined */
  double ms;                       /* wall time from start to join */
  atomic_size_t next, compiled;
  pthread_t threads[FKM__COMPILE_THREADS];
  int started;                     /* threads running; 0: the join builds on the calling thread */
  double t0;
} fkm__compile_batch;

/* Starts building cand[0..count) (skip may be NULL). FKM_ERR_NOMEM with detail. */
fkm_status fkm__compile_start(fkm_ctx *ctx, fkm__compile_batch *b, const fkm__tune_candidate *cand,
                              const int *skip, size_t count);
/* Waits for every build (or runs them here when no thread started). */
void fkm__compile_join(fkm__compile_batch *b);
/* Releases the cubins and messages (after the join). */
void fkm__compile_free(fkm__compile_batch *b);

#endif
