/* CPU reference engine: initialisation, the Lloyd loop, the final assignment and predict (SPEC §2,
 * all arithmetic fp64). Results are computed into scratch and copied to the caller's buffers only
 * once everything has succeeded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* State of one fit. c is the current centroids (those the next assignment uses), labels the latest
 * assignment and prev the one before it. */
typedef struct {
  fkm__cpu_points pts;
  int64_t k;
  double *c, *c_next;     /* [B][K][D] */
  int32_t *labels, *prev; /* [B][N] */
  double *inertia;        /* [B] */
  fkm__cpu_update_ws ws;
  double ms_assign, ms_update; /* wall time summed over iterations */
} fit_state;

/* Labels are int32: K must fit. */
static fkm_status check_k(fkm_ctx *ctx, int64_t k) {
  if (k <= INT32_MAX) return FKM_OK;
  return fkm__error(ctx, FKM_ERR_INVALID_ARG, "CPU engine: k = %lld does not fit int32 labels",
                    (long long)k);
}

static fkm_status state_init(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                             fit_state *st) {
  memset(st, 0, sizeof *st);
  st->k = o->k;
  fkm_status s = fkm__cpu_points_load(ctx, p, o, &st->pts);
  if (s != FKM_OK) return s;
  size_t cent = (size_t)p->batches * (size_t)o->k * (size_t)p->d;
  size_t pts = (size_t)p->batches * (size_t)p->n;
  st->c = fkm__cpu_alloc(ctx, cent, sizeof(double), "centroids");
  st->c_next = fkm__cpu_alloc(ctx, cent, sizeof(double), "centroids");
  st->labels = fkm__cpu_alloc(ctx, pts, sizeof(int32_t), "labels");
  st->prev = fkm__cpu_alloc(ctx, pts, sizeof(int32_t), "labels");
  st->inertia = fkm__cpu_alloc(ctx, (size_t)p->batches, sizeof(double), "inertia");
  if (!st->c || !st->c_next || !st->labels || !st->prev || !st->inertia) return FKM_ERR_NOMEM;
  return fkm__cpu_update_ws_init(ctx, &st->pts, o->k, o->empty, &st->ws);
}

static void state_free(fit_state *st) {
  fkm__cpu_points_free(&st->pts);
  free(st->c);
  free(st->c_next);
  free(st->labels);
  free(st->prev);
  free(st->inertia);
  fkm__cpu_update_ws_free(&st->ws);
}

/* c [B][K][D] = the points picked by fkm__random_init_indices, in pick order, scaled to unit length
 * for cosine and dot (cosine points are unit only up to the rounding to the compute dtype). */
static fkm_status init_random(fkm_ctx *ctx, const fit_state *st, uint64_t seed, double *c) {
  const fkm__cpu_points *pts = &st->pts;
  int64_t *idx = fkm__cpu_alloc(ctx, (size_t)st->k, sizeof(int64_t), "init indices");
  if (!idx) return FKM_ERR_NOMEM;
  size_t row = (size_t)pts->d * sizeof(double);
  for (int64_t b = 0; b < pts->b; b++) {
    if (fkm__random_init_indices(seed, b, pts->n, st->k, idx) != FKM_OK) {
      free(idx);
      return fkm__error(ctx, FKM_ERR_NOMEM, "CPU engine: cannot allocate the random-init set");
    }
    for (int64_t j = 0; j < st->k; j++)
      memcpy(c + (size_t)(b * st->k + j) * (size_t)pts->d,
             pts->x + (size_t)(b * pts->n + idx[j]) * (size_t)pts->d, row);
  }
  free(idx);
  if (pts->metric != FKM_METRIC_L2) fkm__cpu_normalise(c, pts->b * st->k, pts->d);
  return FKM_OK;
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
    fkm__cpu_inertia(pts, st->c, st->k, st->labels, st->inertia);
    rep->inertia = sum(st->inertia, pts->b);
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

/* Rounds the centroids to fp32, runs the final assignment against them (as predict would) and,
 * once all succeeded, writes the result buffers. */
static fkm_status write_result(fkm_ctx *ctx, fit_state *st, fkm_result *r) {
  const fkm__cpu_points *pts = &st->pts;
  size_t cent = (size_t)pts->b * (size_t)st->k * (size_t)pts->d;
  float *out = fkm__cpu_alloc(ctx, cent, sizeof(float), "output centroids");
  if (!out) return FKM_ERR_NOMEM;
  for (size_t i = 0; i < cent; i++) out[i] = (float)st->c[i];
  fkm_status s = assign_fp32(ctx, pts, out, st->k, st->c_next, st->labels, st->inertia);
  if (s == FKM_OK) {
    memcpy(r->centroids, out, cent * sizeof(float));
    if (r->labels) memcpy(r->labels, st->labels, (size_t)(pts->b * pts->n) * sizeof(int32_t));
    if (r->inertia) memcpy(r->inertia, st->inertia, (size_t)pts->b * sizeof(double));
  }
  free(out);
  return s;
}

static fkm_status fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fit_state *st,
                      fkm_result *r) {
  double t0 = fkm__now_ms();
  fkm_status s = state_init(ctx, p, o, st);
  if (s != FKM_OK) return s;
  if (o->init == FKM_INIT_GIVEN)
    widen_centroids(o->init_centroids, p->batches * o->k, p->d, o->metric != FKM_METRIC_L2, st->c);
  else
    s = init_random(ctx, st, o->seed, st->c);
  if (s != FKM_OK) return s;
  double t1 = fkm__now_ms();
  int iterations = 0;
  s = lloyd(ctx, st, o, fkm__absolute_tol(p, o), &iterations);
  double t2 = fkm__now_ms();
  if (s == FKM_OK) s = write_result(ctx, st, r);
  if (s != FKM_OK) return s;
  r->iterations = iterations;
  r->engine = FKM_ENGINE_CPU;
  r->ms_compile = 0.0;
  r->ms_init = t1 - t0;
  r->ms_iterations = t2 - t1;
  r->ms_assign = st->ms_assign;
  r->ms_update = st->ms_update;
  return FKM_OK;
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
