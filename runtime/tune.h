/* Autotuning of the assign kernel (SPEC §4): the candidates a tuning run measures, ranked by a cost
 * model (tune.c: pure, testable without a GPU), and the run that compiles them in parallel and times
 * them on the device (gpu_tune.c). Only runtime/ and the tests include this header. */
#ifndef FKM_TUNE_H
#define FKM_TUNE_H

#include <pthread.h>
#include <stdatomic.h>

#include "gpu.h"
#include "kernel_cache.h"

/* Candidates a pruned run measures, the model's and the table's picks included. */
#define FKM__TUNE_KEEP 8

/* What is tuned: the assign kernel for these shapes on one device. */
typedef struct fkm__tune_target {
  fkm__kernel_spec base; /* fkm__gpu_assign_base: tile fields zero */
  int64_t n, k, b;
  int multiprocessors;   /* 0 reads as 1 */
  size_t shared_optin;   /* the device's per-block shared-memory limit; 0: the arch's */
  char name[256];        /* the device's name: picks its flash-kmeans table; "": no table */
} fkm__tune_target;

fkm__tune_target fkm__tune_target_of(const struct fkm__gpu *g, const fkm_points *p,
                                     const fkm_options *o);

typedef struct fkm__tune_candidate {
  fkm__kernel_spec spec;
  fkm__spec_layout layout;
  double cost;    /* the model's estimate of one assign pass, in SM clock cycles */
  double score;   /* what ranks (lower first): cost, 5 % less for a cached cubin */
  size_t index;   /* configuration index in the space; outside it fkm__space_size() for the
                     model's pick, + 1 for the table's, + 2 for the run's own (fkm__tune_add_pick) */
  int cached;     /* its cubin was in a cache layer when ranked (pruned runs probe a shortlist) */
  int model_pick; /* the model's pick for the target */
  int table_pick; /* the flash-kmeans table's configuration for the target (fkm__table_spec) */
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

/* Where the model rates the flash-kmeans table's configuration no worse than its own pick by
 * more than this fraction, the default pick may take the table's (fkm__tune_default). 5 %: the
 * cost model's resolution, the margin at which the tuner already treats a cached cubin as the
 * equal of a cheaper one. */
#define FKM__TABLE_MARGIN 0.05

/* The default pick of the assign kernel for t between two inputs: the model's pick `model`
 * (fkm__gpu_model_spec) and the flash-kmeans table's configuration for t->name (fkm__table_spec),
 * each rated by fkm__tune_cost. The table's is taken when its cost is at most the model's times
 * (1 + FKM__TABLE_MARGIN) — except where the model's pick was chosen by measurements of our
 * kernel (fkm__model_measured: the sm_90a wgmma picks, measured on H100, where one warpgroup ran
 * 12–25 % faster than two while the cost model rates both the same), where the table's must cost
 * at most the model's times (1 - FKM__TABLE_MARGIN).
 * Otherwise, and where t has no table entry, the model's. Returns 1 (the table's) or 0 (the
 * model's), with *out and *layout set. Pure. */
int fkm__tune_default(const fkm__tune_target *t, const fkm__kernel_spec *model,
                      fkm__kernel_spec *out, fkm__spec_layout *layout);

/* Entries out must hold: every configuration of the space plus the model's and the table's picks
 * outside it, and the run's own pick (fkm__tune_add_pick). */
size_t fkm__tune_capacity(void);

/* The candidates of a tuning run into out[0..count) (fkm__tune_capacity() entries), best score
 * first, ties in space order; *space (if non-NULL) receives the exhaustive count. Exhaustive: every
 * configuration of the space valid on the target (fkm__config_spec and the device's shared-memory
 * limit) plus the model's pick `model` and the table's configuration for t->name (fkm__table_spec)
 * when they lie outside the space. Pruned: of those, ranked by cost with cached cubins preferred
 * (the 2·FKM__TUNE_KEEP cheapest are probed with cached, which may be NULL), at most
 * FKM__TUNE_KEEP, one per equivalent kernel (same tiles and D chunking) and two per tile shape
 * (BLOCK_N, BLOCK_K, num_warps), the model's pick and the table's always among them. */
size_t fkm__tune_candidates(const fkm__tune_target *t, const fkm__kernel_spec *model,
                            int exhaustive, fkm__tune_cached_fn cached, void *user,
                            fkm__tune_candidate *out, size_t *space);

/* Appends s — the pick a fit would run: the default, or a record's, which may be clustered and so
 * outside the space — to the candidates out[0..count) when it is valid on the target and none of
 * them is the same spec. Returns the new count. */
size_t fkm__tune_add_pick(const fkm__tune_target *t, const fkm__kernel_spec *s,
                          fkm__tune_candidate *out, size_t count);

/* Cubins of kernel specs built on parallel threads (tune_compile.c), each thread on a context of
 * its own (NVRTC is thread-safe, a context is not), through the kernel cache: a spec is looked up
 * in the batch's cache layers (a hit is read, no NVRTC call), else compiled and stored in the user
 * cache. The builds act for the caller's context: they start with its cache stores off when they
 * are, and at the join their NVRTC compiles and damaged entries are added to its statistics, their
 * log messages are replayed through its callback on the joining thread (in spec order, each
 * distinct message once) and a cache found unwritable turns its stores off too. */
#define FKM__COMPILE_THREADS 32

/* What one build logged: records "<level digit><message>\0" back to back (text NULL: none). */
typedef struct fkm__compile_log {
  char *text; /* owned */
  size_t len;
} fkm__compile_log;

typedef struct fkm__compile_batch {
  fkm_ctx *ctx;                    /* the caller's: borrowed until joined, used on its thread */
  fkm__kernel_spec *specs;         /* owned [count]: copies of what is built */
  const int *skip;                 /* borrowed [count] or NULL: non-zero entries are not built */
  size_t count;
  unsigned layers;                 /* FKM__LAYER_* bits looked in before compiling; 0: none */
  fkm__cubin *cubins;              /* owned [count]: data NULL where skipped or failed */
  char (*why)[256];                /* owned [count]: why a build failed, "" otherwise */
  fkm__compile_log *logs;          /* owned [count] when the caller has a log callback, else NULL */
  size_t compiles;                 /* NVRTC compiles made, once joined */
  double ms;                       /* wall time from start to join */
  atomic_size_t next, compiled, damaged;
  atomic_int stores_off;           /* the caller's stores were off, or a build's went off */
  pthread_t threads[FKM__COMPILE_THREADS];
  int started;                     /* threads running; 0: the join builds on the calling thread */
  double t0;
} fkm__compile_batch;

/* Starts building specs[0..count) (copied; skip may be NULL), looking each up in `layers` first.
 * FKM_ERR_NOMEM with detail. */
fkm_status fkm__compile_specs(fkm_ctx *ctx, fkm__compile_batch *b, const fkm__kernel_spec *specs,
                              const int *skip, size_t count, unsigned layers);
/* fkm__compile_specs of the candidates' specs, every cache layer looked in. */
fkm_status fkm__compile_start(fkm_ctx *ctx, fkm__compile_batch *b, const fkm__tune_candidate *cand,
                              const int *skip, size_t count);
/* Waits for every build (or runs them here when no thread started), then hands what the builds
 * did to the caller's context (see above). */
void fkm__compile_join(fkm__compile_batch *b);
/* Releases the cubins, messages and specs (after the join; also after a failed start, or on a
 * zeroed batch). */
void fkm__compile_free(fkm__compile_batch *b);

#endif
