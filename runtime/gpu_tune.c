/* One tuning run on the device: the ranked candidates are built on parallel threads while a fit's
 * run is set up here (workspace, points, initial centroids, reference labels); then each candidate
 * is timed with events on the real shapes, its labels checked against the reference, and the
 * fastest stored as the shapes' tuning record. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_run.h"
#include "tune.h"

#define FKM__TUNE_REPS 15        /* most timed passes per candidate, the first included */
#define FKM__TUNE_MIN_REPS 3
#define FKM__TUNE_BUDGET_MS 60.0 /* device time the timed passes of one candidate aim at */
#define FKM__TUNE_CUTOFF 1.3     /* a first pass this much slower than the best so far ends it */

typedef struct tune_state {
  fkm_ctx *ctx;
  const fkm_points *p;
  fkm_options o;             /* the caller's, without config, init choices and reports */
  int device_points;
  struct fkm__gpu *g;
  fkm__tune_candidate *cand; /* owned [fkm__tune_capacity()], count used */
  size_t count, space;
  int *skip;                 /* owned [count]: the candidate the set-up loads itself */
  int setup_cached;          /* that candidate's cubin was in a cache layer */
  fkm__compile_batch batch;
  fkm__gpu_run run;
  int32_t *ref, *got;        /* owned [B][N]: the set-up's labels, a candidate's labels */
  CUevent ev[FKM__TUNE_REPS + 1];
  double *ms;                /* owned [count]: median ms, < 0 where the candidate failed */
  size_t best;
  double best_ms, ms_setup, ms_measure;
  char first_failure[512];
} tune_state;

/* The caller's options as the tuning run uses them: no given config (the set-up takes the record
 * or the model's pick: the reference), random init, no weights, restarts or reports. */
static fkm_options tuning_options(const fkm_options *opts) {
  fkm_options o = *opts;
  memset(&o.config, 0, sizeof o.config);
  o.init = FKM_INIT_RANDOM, o.init_centroids = NULL, o.n_init = 1, o.sample_weight = NULL;
  o.empty = FKM_EMPTY_KEEP, o.on_iter = NULL, o.profile = 0;
  return o;
}

static int probe_cache(const fkm__kernel_spec *s, void *ctx) { return fkm__kernel_cached(ctx, s); }

/* Opens the device, ranks the candidates and marks the one the set-up loads. */
static fkm_status rank(tune_state *ts) {
  fkm__kernel_spec model, setup;
  fkm__spec_layout l;
  fkm_status st = fkm__gpu_supports(ts->ctx, ts->p, &ts->o);
  if (st == FKM_OK) st = fkm__gpu_open(ts->ctx, ts->o.device, &ts->g);
  if (st == FKM_OK) st = fkm__gpu_model_spec(ts->ctx, ts->g, ts->p, &ts->o, &model, &l);
  if (st == FKM_OK) st = fkm__gpu_assign_spec(ts->ctx, ts->g, ts->p, &ts->o, &setup, &l);
  if (st != FKM_OK) return st;
  size_t cap = fkm__tune_capacity();
  ts->cand = malloc(cap * sizeof *ts->cand);
  ts->skip = calloc(cap, sizeof *ts->skip);
  ts->ms = malloc(cap * sizeof *ts->ms);
  if (!ts->cand || !ts->skip || !ts->ms)
    return fkm__error(ts->ctx, FKM_ERR_NOMEM, "out of memory for the tuning candidates");
  fkm__tune_target t = fkm__tune_target_of(ts->g, ts->p, &ts->o);
  ts->count = fkm__tune_candidates(&t, &model, ts->o.tune == 2, probe_cache, ts->ctx, ts->cand,
                                   &ts->space);
  for (size_t i = 0; i < ts->count; i++)
    ts->skip[i] = fkm__spec_hash(&ts->cand[i].spec) == fkm__spec_hash(&setup);
  ts->setup_cached = fkm__kernel_cached(ts->ctx, &setup);
  return ts->count ? FKM_OK
                   : fkm__error(ts->ctx, FKM_ERR_REJECTED, "tune: no assign configuration fits");
}

static fkm_status create_events(tune_state *ts) {
  for (int i = 0; i <= FKM__TUNE_REPS; i++)
    FKM_CU_TRY(ts->ctx, ts->run.cu, cuEventCreate(&ts->ev[i], CU_EVENT_DEFAULT));
  return FKM_OK;
}

/* A fit's run with the reference configuration, its labels copied into ref. */
static fkm_status set_up(tune_state *ts) {
  double t0 = fkm__now_ms();
  size_t labels = (size_t)(ts->p->batches * ts->p->n);
  fkm__gpu_run *run = &ts->run;
  ts->ref = malloc(labels * sizeof *ts->ref);
  ts->got = malloc(labels * sizeof *ts->got);
  if (!ts->ref || !ts->got) return fkm__error(ts->ctx, FKM_ERR_NOMEM, "out of memory for labels");
  fkm_status st = fkm__run_setup(run, ts->ctx, ts->p, &ts->o, 1, ts->device_points, NULL);
  if (st == FKM_OK) st = create_events(ts);
  if (st == FKM_OK) st = fkm__run_load_points(run, ts->device_points);
  if (st == FKM_OK) st = fkm__run_init_centroids(run, ts->o.seed);
  if (st == FKM_OK) st = fkm__run_assign_final(run);
  if (st != FKM_OK) return st;
  FKM_CU_TRY(ts->ctx, run->cu, cuMemcpyDtoHAsync(ts->ref, run->labels, labels * 4, run->stream));
  FKM_CU_TRY(ts->ctx, run->cu, cuStreamSynchronize(run->stream));
  ts->ms_setup = fkm__now_ms() - t0;
  return FKM_OK;
}

/* One unconditional pass of assign kernel f (layout l) over the run's points and prepared
 * centroids (whole: every block; else the first block only, a warm-up that loads the kernel): the
 * argument list of gpu_steps.c's assign(), done = 0. Stream-ordered. */
static fkm_status launch_assign(fkm__gpu_run *run, CUfunction f, const fkm__spec_layout *l,
                                int whole) {
  int k = (int)run->k;
  CUdeviceptr done = 0;
  unsigned blocks = (unsigned)((run->n + l->block_n_rows - 1) / l->block_n_rows);
  void *args[] = {&run->x, &run->ch, &run->cnorm, &run->labels, &run->n, &k, &done};
  return fkm__launch(run->ctx, run->g, f, whole ? blocks : 1, whole ? (unsigned)run->b : 1,
                     (unsigned)l->threads, l->shared, run->stream, args);
}

/* Times of `count` back-to-back passes into t[0..count) (count ≤ FKM__TUNE_REPS), an event
 * between each two. */
static fkm_status passes(tune_state *ts, CUfunction f, const fkm__spec_layout *l, int count,
                         double *t) {
  const fkm__cuda_api *cu = ts->run.cu;
  for (int i = 0; i < count; i++) {
    FKM_CU_TRY(ts->ctx, cu, cuEventRecord(ts->ev[i], ts->run.stream));
    fkm_status st = launch_assign(&ts->run, f, l, 1);
    if (st != FKM_OK) return st;
  }
  FKM_CU_TRY(ts->ctx, cu, cuEventRecord(ts->ev[count], ts->run.stream));
  FKM_CU_TRY(ts->ctx, cu, cuEventSynchronize(ts->ev[count]));
  for (int i = 0; i < count; i++) {
    float ms;
    FKM_CU_TRY(ts->ctx, cu, cuEventElapsedTime(&ms, ts->ev[i], ts->ev[i + 1]));
    t[i] = ms;
  }
  return FKM_OK;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *t, int count) {
  qsort(t, (size_t)count, sizeof t[0], by_value);
  return count % 2 ? t[count / 2] : 0.5 * (t[count / 2 - 1] + t[count / 2]);
}

/* The labels of the last pass against the reference: a few may differ (near-ties summed in
 * another order), more mean a kernel that does not compute the assignment. */
static fkm_status check_labels(tune_state *ts) {
  size_t count = (size_t)(ts->p->batches * ts->p->n), differ = 0;
  fkm__gpu_run *run = &ts->run;
  FKM_CU_TRY(ts->ctx, run->cu, cuMemcpyDtoHAsync(ts->got, run->labels, count * 4, run->stream));
  FKM_CU_TRY(ts->ctx, run->cu, cuStreamSynchronize(run->stream));
  for (size_t i = 0; i < count; i++) differ += ts->got[i] != ts->ref[i];
  if (differ > 16 + count / 1000)
    return fkm__error(ts->ctx, FKM_ERR_REJECTED,
                      "%zu of %zu labels differ from the reference configuration's", differ, count);
  return FKM_OK;
}

/* Candidate i's function: its cubin from the compile threads, else (not built there, or refused
 * by the driver) built and loaded here. */
static fkm_status candidate_function(tune_state *ts, size_t i, CUfunction *f) {
  const fkm__cubin *c = &ts->batch.cubins[i];
  if (!c->data && ts->batch.why[i][0])
    return fkm__error(ts->ctx, FKM_ERR_COMPILE, "%s", ts->batch.why[i]);
  if (c->data && fkm__gpu_adopt(ts->ctx, ts->g, &ts->cand[i].spec, c->data) != FKM_OK) {
    fkm__log(ts->ctx, FKM_LOG_WARN, "tune: a built kernel does not load (%s): rebuilding it",
             fkm_ctx_last_error(ts->ctx));
    fkm__clear_error(ts->ctx);
  }
  return fkm__assign_function(ts->ctx, ts->g, &ts->cand[i].spec, &ts->cand[i].layout, f);
}

/* Passes that fill the time budget after a first pass of first_ms, within the bounds. */
static int pass_count(double first_ms) {
  double want = ceil(FKM__TUNE_BUDGET_MS / fmax(first_ms, 1e-3));
  return want < FKM__TUNE_MIN_REPS ? FKM__TUNE_MIN_REPS
         : want > FKM__TUNE_REPS   ? FKM__TUNE_REPS
                                   : (int)want;
}

/* Times candidate i: a one-block warm-up (lazy loading), one timed pass that ends a clearly slower
 * candidate, then more up to the time budget, their median, and the labels check. */
static fkm_status measure_one(tune_state *ts, size_t i, double *ms) {
  const fkm__spec_layout *l = &ts->cand[i].layout;
  CUfunction f;
  double t[FKM__TUNE_REPS];
  fkm_status st = candidate_function(ts, i, &f);
  if (st == FKM_OK) st = launch_assign(&ts->run, f, l, 0);
  if (st == FKM_OK) st = passes(ts, f, l, 1, t);
  if (st != FKM_OK) return st;
  *ms = t[0];
  if (ts->best_ms > 0 && t[0] > FKM__TUNE_CUTOFF * ts->best_ms) return FKM_OK;
  int count = pass_count(t[0]);
  st = passes(ts, f, l, count - 1, t + 1);
  if (st != FKM_OK) return st;
  *ms = median(t, count);
  return check_labels(ts);
}

static void measure(tune_state *ts) {
  char desc[256];
  double t0 = fkm__now_ms();
  for (size_t i = 0; i < ts->count; i++) {
    double ms = -1.0;
    fkm__spec_describe(&ts->cand[i].spec, desc, sizeof desc);
    if (measure_one(ts, i, &ms) != FKM_OK) {
      fkm__log(ts->ctx, FKM_LOG_WARN, "tune: %s skipped: %s", desc, fkm_ctx_last_error(ts->ctx));
      if (!ts->first_failure[0])
        snprintf(ts->first_failure, sizeof ts->first_failure, "%s", fkm_ctx_last_error(ts->ctx));
      fkm__clear_error(ts->ctx);
      ms = -1.0;
    }
    fkm__log(ts->ctx, FKM_LOG_DEBUG, "tune: %s: %.4f ms", desc, ms);
    ts->ms[i] = ms;
    if (ms > 0 && (ts->best_ms <= 0 || ms < ts->best_ms)) ts->best = i, ts->best_ms = ms;
  }
  ts->ms_measure = fkm__now_ms() - t0;
}

/* Builds (threads) beside the set-up (here), then measures. */
static fkm_status build_and_measure(tune_state *ts) {
  fkm_status st = fkm__compile_start(ts->ctx, &ts->batch, ts->cand, ts->skip, ts->count);
  if (st != FKM_OK) return st;
  st = set_up(ts);
  fkm__compile_join(&ts->batch);
  struct fkm__cache_state *cs = fkm__cache_state_of(ts->ctx);
  if (cs) cs->stats.compiles += ts->batch.compiles;
  if (st != FKM_OK) return st;
  measure(ts);
  if (ts->best_ms > 0) return FKM_OK;
  return fkm__error(ts->ctx, FKM_ERR_REJECTED, "tune: no candidate configuration ran (%s)",
                    ts->first_failure);
}

static int stored_winner(tune_state *ts, const fkm_config *c) {
  if (fkm__gpu_record_store(ts->ctx, ts->g, ts->p, &ts->o, c, ts->best_ms) == FKM_OK) return 1;
  fkm__log(ts->ctx, FKM_LOG_WARN, "tune: the winner is not kept as a tuning record: %s",
           fkm_ctx_last_error(ts->ctx));
  fkm__clear_error(ts->ctx);
  return 0;
}

static void fill_report(const tune_state *ts, fkm_tune_report *r) {
  for (size_t i = 0; i < ts->count && i < r->capacity; i++) {
    int cached = ts->skip[i] ? ts->setup_cached : ts->batch.cubins[i].layer != 0;
    r->timings[i] = (fkm_tune_timing){fkm__spec_config(&ts->cand[i].spec), ts->ms[i], cached,
                                      ts->cand[i].model_pick};
  }
  r->count = ts->count, r->space = ts->space, r->best = ts->best;
  r->exhaustive = ts->o.tune == 2;
  r->ms_compile = ts->batch.ms, r->ms_setup = ts->ms_setup, r->ms_measure = ts->ms_measure;
}

static double model_ms(const tune_state *ts) {
  for (size_t i = 0; i < ts->count; i++)
    if (ts->cand[i].model_pick) return ts->ms[i];
  return -1.0;
}

static void log_summary(const tune_state *ts, const fkm_config *c, size_t compiles, double ms) {
  fkm__log(ts->ctx, FKM_LOG_INFO,
           "tuned %s %s D=%lld N=%lld K=%lld B=%lld on %s: BLOCK_N=%d BLOCK_K=%d BLOCK_D=%d "
           "num_warps=%d num_stages=%d at %.4f ms (the model's pick: %.4f ms); %zu of %zu "
           "configurations measured, %zu compiles, %.0f ms in all (compile %.0f, set-up %.0f, "
           "timing %.0f)",
           fkm__dtype_name(ts->run.dtype), fkm__metric_name(ts->o.metric), (long long)ts->p->d,
           (long long)ts->p->n, (long long)ts->o.k, (long long)ts->p->batches, ts->g->name,
           c->BLOCK_N, c->BLOCK_K, c->BLOCK_D, c->num_warps, c->num_stages, ts->best_ms,
           model_ms(ts), ts->count, ts->space, compiles, ms, ts->batch.ms, ts->ms_setup,
           ts->ms_measure);
}

static void release(tune_state *ts) {
  if (ts->run.cu) {
    for (int i = 0; i <= FKM__TUNE_REPS; i++)
      if (ts->ev[i]) ts->run.cu->cuEventDestroy(ts->ev[i]);
    fkm__run_release(&ts->run);
  }
  fkm__compile_free(&ts->batch);
  free(ts->cand);
  free(ts->skip);
  free(ts->ms);
  free(ts->ref);
  free(ts->got);
}

fkm_status fkm__gpu_tune(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, int device,
                         fkm_config *best, fkm_tune_report *report) {
  double t0 = fkm__now_ms();
  size_t compiles0 = fkm__nvrtc_compile_count(ctx);
  tune_state *ts = calloc(1, sizeof *ts);
  if (!ts) return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for a tuning run");
  ts->ctx = ctx, ts->p = p, ts->o = tuning_options(o), ts->device_points = device;
  fkm_status st = rank(ts);
  if (st == FKM_OK) st = build_and_measure(ts);
  if (st == FKM_OK) {
    *best = fkm__spec_config(&ts->cand[ts->best].spec);
    int stored = stored_winner(ts, best);
    size_t compiles = fkm__nvrtc_compile_count(ctx) - compiles0;
    double ms = fkm__now_ms() - t0;
    log_summary(ts, best, compiles, ms);
    if (report) {
      fill_report(ts, report);
      report->stored = stored, report->compiles = compiles, report->ms_total = ms;
    }
  }
  release(ts);
  free(ts);
  return st;
}

void fkm__gpu_tune_missing(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                           fkm_config *config) {
  struct fkm__gpu *g;
  fkm__kernel_spec s;
  fkm__spec_layout l;
  if (fkm__config_given(&o->config)) return;
  if (fkm__gpu_supports(ctx, p, o) != FKM_OK || fkm__gpu_open(ctx, o->device, &g) != FKM_OK) {
    fkm__clear_error(ctx); /* the fit meets and reports it */
    return;
  }
  if (fkm__gpu_record_spec(ctx, g, p, o, &s, &l)) return;
  fkm_config tuned;
  if (fkm__gpu_tune(ctx, p, o, 0, &tuned, NULL) == FKM_OK) {
    *config = tuned;
    return;
  }
  fkm__log(ctx, FKM_LOG_WARN, "tuning failed, the fit goes on with the model's pick: %s",
           fkm_ctx_last_error(ctx));
  fkm__clear_error(ctx);
}
