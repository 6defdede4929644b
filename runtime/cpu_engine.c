/* CPU reference engine: the restarts, the Lloyd loop, the final assignment and predict (SPEC §2,
 * all arithmetic fp64). Results are computed into scratch and copied to the caller's buffers only
 * once everything has succeeded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* The outcome of one restart, as fit would write it. */
typedef struct {
  float *c;         /* [B][K][D] */
  int32_t *labels;  /* [B][N] */
  double *inertia;  /* [B] */
  double total;     /* Σ inertia over batches: what restarts compare */
  int iterations;
} fit_output;

/* State of one fit. c is the current centroids (those the next assignment uses), labels the latest
 * assignment and prev the one before it. best holds the lowest-inertia restart so far and cand
 * (allocated for n_init > 1 only) the one being run after the first. */
typedef struct {
  fkm__cpu_points pts;
  int64_t k;
  double *c, *c_next;     /* [B][K][D] */
  int32_t *labels, *prev; /* [B][N] */
  double *iter_inertia;   /* [B]: for the iteration report */
  fkm__cpu_update_ws ws;
  fit_output best, cand;
  double ms_init, ms_iterations; /* wall time summed over restarts */
  double ms_assign, ms_update;   /* wall time summed over iterations of every restart */
} fit_state;

/* Labels are int32: K must fit. */
static fkm_status check_k(fkm_ctx *ctx, int64_t k) {
  if (k <= INT32_MAX) return FKM_OK;
  return fkm__error(ctx, FKM_ERR_INVALID_ARG, "CPU engine: k = %lld does not fit int32 labels",
                    (long long)k);
}

static fkm_status output_init(fkm_ctx *ctx, const fkm_points *p, int64_t k, fit_output *out) {
  out->c = fkm__cpu_alloc(ctx, (size_t)p->batches * (size_t)k * (size_t)p->d, sizeof(float),
                          "output centroids");
  out->labels = fkm__cpu_alloc(ctx, (size_t)p->batches * (size_t)p->n, sizeof(int32_t), "labels");
  out->inertia = fkm__cpu_alloc(ctx, (size_t)p->batches, sizeof(double), "inertia");
  return out->c && out->labels && out->inertia ? FKM_OK : FKM_ERR_NOMEM;
}

static void output_free(fit_output *out) {
  free(out->c);
  free(out->labels);
  free(out->inertia);
}

static fkm_status state_init(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                             fit_state *st) {
  memset(st, 0, sizeof *st);
  st->k = o->k;
  fkm_status s = fkm__cpu_points_load(ctx, p, o, &st->pts);
  if (s == FKM_OK) s = fkm__cpu_weights_load(ctx, o, &st->pts);
  if (s != FKM_OK) return s;
  size_t cent = (size_t)p->batches * (size_t)o->k * (size_t)p->d;
  size_t pts = (size_t)p->batches * (size_t)p->n;
  st->c = fkm__cpu_alloc(ctx, cent, sizeof(double), "centroids");
  st->c_next = fkm__cpu_alloc(ctx, cent, sizeof(double), "centroids");
  st->labels = fkm__cpu_alloc(ctx, pts, sizeof(int32_t), "labels");
  st->prev = fkm__cpu_alloc(ctx, pts, sizeof(int32_t), "labels");
  st->iter_inertia = fkm__cpu_alloc(ctx, (size_t)p->batches, sizeof(double), "inertia");
  if (!st->c || !st->c_next || !st->labels || !st->prev || !st->iter_inertia) return FKM_ERR_NOMEM;
  s = output_init(ctx, p, o->k, &st->best);
  if (s == FKM_OK && o->n_init > 1) s = output_init(ctx, p, o->k, &st->cand);
  if (s != FKM_OK) return s;
  return fkm__cpu_update_ws_init(ctx, &st->pts, o->k, o->empty, &st->ws);
}

static void state_free(fit_state *st) {
  fkm__cpu_points_free(&st->pts);
  free(st->c);
  free(st->c_next);
  free(st->labels);
  free(st->prev);
  free(st->iter_inertia);
  output_free(&st->best);
  output_free(&st->cand);
  fkm__cpu_update_ws_free(&st->ws);
}

/* c [rows][d] = f widened to fp64, L2-normalised per row when unit is set. */
static void widen_centroids(const float *f, int64_t rows, int64_t d, int unit, double *c) {
  for (size_t i = 0; i < (size_t)rows * (size_t)d; i++) c[i] = f[i];
  if (unit) fkm__cpu_normalise(c, rows, d);
}

static int64_t count_changed(const int32_t *a, const int32_t *b, int64_t count) {
  int64_t changed = 0;
  for (int64_t i = 0; i < count; i++) changed += a[i] != b[i];
  return changed;
}

/* max over rows of ‖a_r − b_r‖₂, a and b [rows][d]. */
static double max_shift(const double *a, const double *b, int64_t rows, int64_t d) {
  double worst = 0.0;
  for (int64_t r = 0; r < rows; r++)
    worst =
        fmax(worst, sqrt(fkm__cpu_sqdist(a + (size_t)r * (size_t)d, b + (size_t)r * (size_t)d, d)));
  return worst;
}

static double sum(const double *v, int64_t count) {
  double s = 0.0;
  for (int64_t i = 0; i < count; i++) s += v[i];
  return s;
}

static void swap_centroids(fit_state *st) {
  double *t = st->c;
  st->c = st->c_next;
  st->c_next = t;
}

static void swap_labels(fit_state *st) {
  int32_t *t = st->labels;
  st->labels = st->prev;
  st->prev = t;
}

/* One Lloyd iteration (it is 1-based): assign against st->c, update into st->c, fill *rep. */
static fkm_status lloyd_step(fkm_ctx *ctx, fit_state *st, const fkm_options *o, int it,
                             fkm_iter_report *rep) {
  const fkm__cpu_points *pts = &st->pts;
  double t0 = fkm__now_ms();
  swap_labels(st);
  fkm_status s = fkm__cpu_assign(ctx, pts, st->c, st->k, st->labels);
  if (s != FKM_OK) return s;
  int64_t total = pts->b * pts->n;
  rep->iteration = it;
  rep->changed = it == 1 ? total : count_changed(st->labels, st->prev, total);
  rep->inertia = 0.0;
  if (o->on_iter) {
    fkm__cpu_inertia(pts, st->c, st->k, st->labels, st->iter_inertia);
    rep->inertia = sum(st->iter_inertia, pts->b);
  }
  double t1 = fkm__now_ms();
  fkm__cpu_update(pts, st->labels, st->c, st->c_next, st->k, o->empty, &st->ws, &rep->empty);
  rep->shift = max_shift(st->c, st->c_next, pts->b * st->k, pts->d);
  swap_centroids(st);
  double t2 = fkm__now_ms();
  st->ms_assign += t1 - t0;
  st->ms_update += t2 - t1;
  rep->ms = t2 - t0;
  return FKM_OK;
}

/* Runs up to o->max_iter iterations; *iterations receives the number run. */
static fkm_status lloyd(fkm_ctx *ctx, fit_state *st, const fkm_options *o, double tol_abs,
                        int *iterations) {
  *iterations = 0;
  for (int it = 1; it <= o->max_iter; it++) {
    fkm_iter_report rep;
    fkm_status s = lloyd_step(ctx, st, o, it, &rep);
    if (s != FKM_OK) return s;
    *iterations = it;
    if (o->on_iter && o->on_iter(&rep, o->on_iter_user) != 0)
      return fkm__error(ctx, FKM_ERR_CANCELLED,
                        "fit cancelled by the iteration callback after "
                        "iteration %d",
                        it);
    if (rep.shift < tol_abs) break;
  }
  return FKM_OK;
}

/* Labels [B][N] and inertia [B] of pts against the fp32 centroids f [B][k][D] as predict takes
 * them: widened into the scratch c [B][k][D], normalised for cosine only (dot uses them as they
 * are). */
static fkm_status assign_fp32(fkm_ctx *ctx, const fkm__cpu_points *pts, const float *f, int64_t k,
                              double *c, int32_t *labels, double *inertia) {
  widen_centroids(f, pts->b * k, pts->d, pts->metric == FKM_METRIC_COSINE, c);
  fkm_status s = fkm__cpu_assign(ctx, pts, c, k, labels);
  if (s == FKM_OK) fkm__cpu_inertia(pts, c, k, labels, inertia);
  return s;
}

/* Rounds the centroids to fp32 and runs the final assignment against them (as predict would) into
 * out. */
static fkm_status finish_restart(fkm_ctx *ctx, fit_state *st, int iterations, fit_output *out) {
  const fkm__cpu_points *pts = &st->pts;
  size_t cent = (size_t)pts->b * (size_t)st->k * (size_t)pts->d;
  for (size_t i = 0; i < cent; i++) out->c[i] = (float)st->c[i];
  fkm_status s = assign_fp32(ctx, pts, out->c, st->k, st->c_next, out->labels, out->inertia);
  out->total = sum(out->inertia, pts->b);
  out->iterations = iterations;
  return s;
}

/* One restart with this seed: initial centroids, Lloyd iterations, final assignment into out. */
static fkm_status run_restart(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                              uint64_t seed, fit_state *st, fit_output *out) {
  double t0 = fkm__now_ms();
  fkm_status s = FKM_OK;
  if (o->init == FKM_INIT_GIVEN)
    widen_centroids(o->init_centroids, p->batches * o->k, p->d, o->metric != FKM_METRIC_L2, st->c);
  else
    s = fkm__cpu_init_picks(ctx, &st->pts, st->k, o->init, seed, st->c);
  double t1 = fkm__now_ms();
  int iterations = 0;
  if (s == FKM_OK) s = lloyd(ctx, st, o, fkm__absolute_tol(p, o), &iterations);
  double t2 = fkm__now_ms();
  st->ms_init += t1 - t0;
  st->ms_iterations += t2 - t1;
  return s == FKM_OK ? finish_restart(ctx, st, iterations, out) : s;
}

static void swap_outputs(fit_state *st) {
  fit_output t = st->best;
  st->best = st->cand;
  st->cand = t;
}

/* Restart r runs with fkm__restart_seed(seed, r); the lowest total inertia wins, ties to the
 * earlier restart. */
static fkm_status run_restarts(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                               fit_state *st) {
  fkm_status s = run_restart(ctx, p, o, o->seed, st, &st->best);
  for (int r = 1; r < o->n_init && s == FKM_OK; r++) {
    s = run_restart(ctx, p, o, fkm__restart_seed(o->seed, r), st, &st->cand);
    if (s == FKM_OK && st->cand.total < st->best.total) swap_outputs(st);
  }
  return s;
}

static void write_result(const fit_state *st, fkm_result *r) {
  const fkm__cpu_points *pts = &st->pts;
  memcpy(r->centroids, st->best.c, (size_t)(pts->b * st->k * pts->d) * sizeof(float));
  if (r->labels) memcpy(r->labels, st->best.labels, (size_t)(pts->b * pts->n) * sizeof(int32_t));
  if (r->inertia) memcpy(r->inertia, st->best.inertia, (size_t)pts->b * sizeof(double));
  r->iterations = st->best.iterations;
  r->engine = FKM_ENGINE_CPU;
  r->ms_compile = 0.0;
  r->ms_init = st->ms_init;
  r->ms_iterations = st->ms_iterations;
  r->ms_assign = st->ms_assign;
  r->ms_update = st->ms_update;
}

static fkm_status fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fit_state *st,
                      fkm_result *r) {
  double t0 = fkm__now_ms();
  fkm_status s = state_init(ctx, p, o, st);
  st->ms_init = fkm__now_ms() - t0;
  if (s == FKM_OK) s = run_restarts(ctx, p, o, st);
  if (s == FKM_OK) write_result(st, r);
  return s;
}

fkm_status fkm__cpu_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r) {
  fkm_status s = check_k(ctx, o->k);
  if (s != FKM_OK) return s;
  fit_state st;
  s = fit(ctx, p, o, &st, r);
  state_free(&st);
  return s;
}

fkm_status fkm__cpu_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                            const fkm_options *o, int32_t *labels, double *inertia) {
  fkm_status s = check_k(ctx, o->k);
  if (s != FKM_OK) return s;
  size_t count = (size_t)p->batches * (size_t)p->n;
  fkm__cpu_points pts = {0};
  double *c = NULL, *in = NULL;
  int32_t *lab = NULL;
  s = fkm__cpu_points_load(ctx, p, o, &pts);
  if (s == FKM_OK) {
    c = fkm__cpu_alloc(ctx, (size_t)p->batches * (size_t)o->k * (size_t)p->d, sizeof(double),
                       "centroids");
    lab = fkm__cpu_alloc(ctx, count, sizeof(int32_t), "labels");
    in = fkm__cpu_alloc(ctx, (size_t)p->batches, sizeof(double), "inertia");
    s = c && lab && in ? assign_fp32(ctx, &pts, centroids, o->k, c, lab, in) : FKM_ERR_NOMEM;
  }
  if (s == FKM_OK) {
    memcpy(labels, lab, count * sizeof(int32_t));
    if (inertia) memcpy(inertia, in, (size_t)p->batches * sizeof(double));
  }
  fkm__cpu_points_free(&pts);
  free(c);
  free(lab);
  free(in);
  return s;
}
