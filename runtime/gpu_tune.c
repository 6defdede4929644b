/* One tuning run on the device: the ranked candidates are built on parallel threads while a fit's
 * run is set up here (workspace, points, initial centroids, reference labels); then each candidate
 * is timed with events on the real shapes and its labels checked against the reference; the
 * finalists (within a few percent of the fastest) are timed again, interleaved, and the fastest
 * stored as the shapes' tuning record. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_run.h"
#include "tune.h"

#define FKM__TUNE_REPS 15        /* most timed passes per candidate, the first included */
#define FKM__TUNE_MIN_REPS 3
#define FKM__TUNE_BUDGET_MS 60.0 /* device time the timed passes of one candidate aim at */
#define FKM__TUNE_CUTOFF 1.3     /* a first pass this much slower than the best so far ends it */
/* The final round: candidates within FKM__TUNE_CLOSE of the fastest first-round median differ by
 * about the noise of one round (clock and thermal drift between candidates timed apart: 3 % seen
 * on an H100), so they are timed again in interleaved rounds, each visiting every finalist in
 * turn, until about FKM__TUNE_FINAL_MS of device time is spent. Rounds come in mirrored pairs
 * (ABC then CBA) so that a drift linear in time reaches every finalist alike. */
#define FKM__TUNE_CLOSE 0.04
#define FKM__TUNE_FINALISTS 4    /* most finalists of a pruned run; an exhaustive run twice that */
#define FKM__TUNE_ROUNDS 6       /* most rounds (even); a visit is up to FKM__TUNE_REPS passes */
#define FKM__TUNE_FINAL_MS 300.0

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
  size_t best, finalists;    /* the winner; candidates timed again in the final round */
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

/* Opens the device, ranks the candidates, adds the set-up's pick when the ranking left it out (it
 * may be clustered, which the space does not span) and marks it: the set-up loads it. */
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
  ts->count = fkm__tune_add_pick(&t, &setup, ts->cand, ts->count);
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

/* One unconditional pass of assign kernel f (layout l) over the run's points and the centroids as
 * fkm__run_prep_centroids laid them out for l (whole: every block; else the first cluster of
 * blocks only, a warm-up that loads the kernel): the argument list of fkm__run_assign's, done = 0.
 * Stream-ordered. A clustered kernel reads the centroids in another layout than an unclustered
 * one, so each candidate's passes follow a preparation for its own layout (untimed). */
static fkm_status launch_assign(fkm__gpu_run *run, CUfunction f, const fkm__spec_layout *l,
                                int whole) {
  int k = (int)run->k;
  CUdeviceptr done = 0;
  unsigned blocks = whole ? fkm__assign_blocks(run->n, l) : (unsigned)l->cluster;
  void *args[] = {&run->x, &run->ch, &run->cnorm, &run->labels, &run->n, &k, &done};
  return fkm__launch(run->ctx, run->g, f, blocks, whole ? (unsigned)run->b : 1,
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

/* Times candidate i: the centroids laid out for its kernel, a warm-up of one cluster of blocks
 * (lazy loading), one timed pass that ends a clearly slower candidate, then more up to the time
 * budget, their median; the labels of its last pass are checked either way. */
static fkm_status measure_one(tune_state *ts, size_t i, double *ms) {
  const fkm__spec_layout *l = &ts->cand[i].layout;
  CUfunction f;
  double t[FKM__TUNE_REPS];
  fkm_status st = candidate_function(ts, i, &f);
  if (st == FKM_OK) st = fkm__run_prep_centroids(&ts->run, l, 0);
  if (st == FKM_OK) st = launch_assign(&ts->run, f, l, 0);
  if (st == FKM_OK) st = passes(ts, f, l, 1, t);
  if (st != FKM_OK) return st;
  *ms = t[0];
  if (ts->best_ms > 0 && t[0] > FKM__TUNE_CUTOFF * ts->best_ms) return check_labels(ts);
  int count = pass_count(t[0]);
  st = passes(ts, f, l, count - 1, t + 1);
  if (st != FKM_OK) return st;
  *ms = median(t, count);
  return check_labels(ts);
}

/* A candidate of the final round: its index, kernel and the median pass time of each round's
 * visit. */
typedef struct finalist {
  size_t i;
  CUfunction f;
  double visit_ms[FKM__TUNE_ROUNDS];
} finalist;

/* The finalists' indices into fin[].i (at most cap): measured candidates whose first-round median
 * is within FKM__TUNE_CLOSE of the fastest's, fastest first. Returns how many. */
static size_t pick_finalists(const tune_state *ts, finalist *fin, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < ts->count; i++) {
    double ms = ts->ms[i];
    if (ms <= 0 || ms > (1.0 + FKM__TUNE_CLOSE) * ts->best_ms) continue;
    if (n == cap && ms >= ts->ms[fin[cap - 1].i]) continue;
    size_t j = n < cap ? n++ : cap - 1; /* a full list drops its slowest */
    for (; j > 0 && ts->ms[fin[j - 1].i] > ms; j--) fin[j].i = fin[j - 1].i;
    fin[j].i = i;
  }
  return n;
}

/* Rounds (even), and passes per visit, that spend about FKM__TUNE_FINAL_MS of device time on
 * `count` finalists of about ms a pass: at least one mirrored pair of rounds of one pass, at most
 * FKM__TUNE_ROUNDS rounds of FKM__TUNE_REPS. */
static void final_plan(double ms, size_t count, int *rounds, int *visit) {
  double each = FKM__TUNE_FINAL_MS / (fmax(ms, 1e-3) * (double)count);
  *rounds = each < 2 ? 2 : each > FKM__TUNE_ROUNDS ? FKM__TUNE_ROUNDS : (int)each / 2 * 2;
  double v = floor(each / *rounds);
  *visit = v < 1 ? 1 : v > FKM__TUNE_REPS ? FKM__TUNE_REPS : (int)v;
}

/* The finalists' kernels (loaded in the first round: lookups only). */
static fkm_status finalist_functions(tune_state *ts, finalist *fin, size_t count) {
  for (size_t j = 0; j < count; j++) {
    const fkm__tune_candidate *c = &ts->cand[fin[j].i];
    fkm_status st = fkm__assign_function(ts->ctx, ts->g, &c->spec, &c->layout, &fin[j].f);
    if (st != FKM_OK) return st;
  }
  return FKM_OK;
}

/* Round r visits every finalist once, each visit `visit` passes back to back: pair q = r / 2 in
 * the order q, q + 1, … (mod count), forward in its first round and backward in its second, so
 * that a linear drift adds the same to every finalist over a pair, and no finalist always runs
 * right after the same other one. Each visit first lays the centroids out for its kernel. */
static fkm_status time_rounds(tune_state *ts, finalist *fin, size_t count, int rounds, int visit) {
  double t[FKM__TUNE_REPS];
  for (int r = 0; r < rounds; r++)
    for (size_t j = 0; j < count; j++) {
      size_t at = r % 2 ? count - 1 - j : j;
      finalist *x = &fin[((size_t)r / 2 + at) % count];
      const fkm__spec_layout *l = &ts->cand[x->i].layout;
      fkm_status st = fkm__run_prep_centroids(&ts->run, l, 0);
      if (st == FKM_OK) st = passes(ts, x->f, l, visit, t);
      if (st != FKM_OK) return st;
      x->visit_ms[r] = median(t, visit);
    }
  return FKM_OK;
}

/* A finalist's final time: per mirrored pair of rounds the mean of its two visits (a linear
 * drift adds the same to every finalist), then the median over the pairs (an outlying pair, e.g.
 * a clock change, does not count). */
static double final_ms(finalist *x, int rounds) {
  double pair[FKM__TUNE_ROUNDS / 2];
  for (int q = 0; q < rounds / 2; q++)
    pair[q] = 0.5 * (x->visit_ms[2 * q] + x->visit_ms[2 * q + 1]);
  return median(pair, rounds / 2);
}

/* The winner: the lowest ms of all measured candidates. */
static void pick_best(tune_state *ts) {
  ts->best_ms = -1.0;
  for (size_t i = 0; i < ts->count; i++)
    if (ts->ms[i] > 0 && (ts->best_ms <= 0 || ts->ms[i] < ts->best_ms))
      ts->best = i, ts->best_ms = ts->ms[i];
}

/* The finalists' final_ms scaled onto the first round's clock as their ms (final_round), then the
 * winner. fin[0] is the first round's fastest. */
static void take_final(tune_state *ts, finalist *fin, size_t count, int rounds) {
  double lead = final_ms(&fin[0], rounds), scale = lead > 0 ? ts->best_ms / lead : 1.0;
  for (size_t j = 0; j < count; j++) {
    ts->ms[fin[j].i] = final_ms(&fin[j], rounds) * scale;
    fkm__log(ts->ctx, FKM_LOG_DEBUG, "tune: finalist %zu: %.4f ms", fin[j].i, ts->ms[fin[j].i]);
  }
  ts->finalists = count;
  pick_best(ts);
}

/* Times the finalists again (FKM__TUNE_CLOSE), takes each one's final_ms on the first round's
 * clock as its ms — scaled by the first-round fastest's first-round / final ms, so that a clock
 * that changed between the rounds (boost, heat) shifts no finalist against the candidates timed
 * once — and picks the winner anew: the fastest finalist, whose ms is then at most the first
 * round's fastest time. With fewer than two finalists nothing changes; a final round that fails
 * leaves the first round's times (one warning). */
static void final_round(tune_state *ts) {
  finalist fin[2 * FKM__TUNE_FINALISTS];
  size_t cap = ts->o.tune == 2 ? 2 * FKM__TUNE_FINALISTS : FKM__TUNE_FINALISTS;
  size_t count = pick_finalists(ts, fin, cap);
  int rounds, visit;
  if (count < 2) return;
  final_plan(ts->best_ms, count, &rounds, &visit);
  fkm_status st = finalist_functions(ts, fin, count);
  if (st == FKM_OK) st = time_rounds(ts, fin, count, rounds, visit);
  if (st != FKM_OK) {
    fkm__log(ts->ctx, FKM_LOG_WARN, "tune: the final round failed, first-round times stand: %s",
             fkm_ctx_last_error(ts->ctx));
    fkm__clear_error(ts->ctx);
    return;
  }
  take_final(ts, fin, count, rounds);
  fkm__log(ts->ctx, FKM_LOG_DEBUG, "tune: %zu finalists timed again in %d rounds of %d passes",
           count, rounds, visit);
}

/* The first round (every candidate in rank order, measure_one), then the final round. */
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
  final_round(ts);
  ts->ms_measure = fkm__now_ms() - t0;
}

/* Builds (threads) beside the set-up (here), then measures. */
static fkm_status build_and_measure(tune_state *ts) {
  fkm_status st = fkm__compile_start(ts->ctx, &ts->batch, ts->cand, ts->skip, ts->count);
  if (st != FKM_OK) return st;
  st = set_up(ts);
  fkm__compile_join(&ts->batch); /* its compiles now count as ts->ctx's */
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
           "configurations measured (%zu timed again), %zu compiles, %.0f ms in all (compile "
           "%.0f, set-up %.0f, timing %.0f)",
           fkm__dtype_name(ts->run.dtype), fkm__metric_name(ts->o.metric), (long long)ts->p->d,
           (long long)ts->p->n, (long long)ts->o.k, (long long)ts->p->batches, ts->g->name,
           c->BLOCK_N, c->BLOCK_K, c->BLOCK_D, c->num_warps, c->num_stages, ts->best_ms,
           model_ms(ts), ts->count, ts->space, ts->finalists, compiles, ms, ts->batch.ms,
           ts->ms_setup, ts->ms_measure);
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
