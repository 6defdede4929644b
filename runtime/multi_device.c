/* fkm_fit over several GPUs of this process (opts->devices): the points split into one shard per
 * device, each fitted by a thread of its own as one rank of an NCCL communicator (gpu_dist.c). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"

/* One device's rank: its context, options, shard and result. */
typedef struct {
  fkm_ctx *ctx;       /* owned, this thread's */
  fkm_options o;
  fkm_points p;       /* the shard */
  fkm_result r;
  float *centroids;   /* owned: ranks > 0 put their (identical) centroids here */
  double inertia;
  fkm_status status;
} rank_job;

/* The ranks start together or not at all: a rank left to run after another returned would wait
 * for it in a collective forever. */
typedef struct gate {
  pthread_mutex_t lock;
  pthread_cond_t opened;
  int state; /* 0 closed, 1 go, -1 abort */
} gate;

typedef struct rank_thread {
  rank_job *job;
  gate *gate;
} rank_thread;

static void *run_rank(void *arg) {
  rank_thread *t = arg;
  pthread_mutex_lock(&t->gate->lock);
  while (t->gate->state == 0) pthread_cond_wait(&t->gate->opened, &t->gate->lock);
  int go = t->gate->state > 0;
  pthread_mutex_unlock(&t->gate->lock);
  t->job->status = go ? fkm_fit(t->job->ctx, &t->job->p, &t->job->o, &t->job->r) : FKM_ERR_NOMEM;
  return NULL;
}

static void open_gate(gate *g, int state) {
  pthread_mutex_lock(&g->lock);
  g->state = state;
  pthread_cond_broadcast(&g->opened);
  pthread_mutex_unlock(&g->lock);
}

/* Runs jobs 1..g-1 on threads and job 0 on this one, once every thread exists; FKM_ERR_NOMEM
 * (nothing run) when a thread cannot start. */
static fkm_status run_ranks(fkm_ctx *ctx, rank_job *jobs, int g) {
  gate gt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  rank_thread t[FKM__PARALLEL_MAX];
  pthread_t th[FKM__PARALLEL_MAX];
  int started = 0;
  for (int i = 0; i < g; i++) t[i] = (rank_thread){&jobs[i], &gt};
  while (started + 1 < g && pthread_create(&th[started], NULL, run_rank, &t[started + 1]) == 0)
    started++;
  open_gate(&gt, started + 1 == g ? 1 : -1);
  if (started + 1 == g) run_rank(&t[0]);
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  if (started + 1 < g)
    return fkm__error(ctx, FKM_ERR_NOMEM, "could not start a thread for each of %d devices", g);
  return FKM_OK;
}

void fkm__span_shard(int64_t n, int g, int r, int64_t *first, int64_t *count) {
  int64_t spans = (n + 511) / 512, per = spans / g, extra = spans % g;
  int64_t s0 = r * per + (r < extra ? r : extra), s1 = s0 + per + (r < extra);
  *first = s0 * 512;
  *count = (s1 * 512 < n ? s1 * 512 : n) - *first;
}

/* Job r's context (the caller's log callback), options, shard and result buffers. */
static fkm_status prepare_job(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                              const fkm_result *r, int g, int rank, fkm_comm *comm, rank_job *j) {
  int64_t first, count;
  fkm__span_shard(p->n, g, rank, &first, &count);
  size_t row = (size_t)p->d * fkm__dtype_size(p->dtype);
  j->o = *o;
  j->o.comm = comm, j->o.device = comm->device, j->o.devices = NULL, j->o.num_devices = 0;
  if (rank > 0) j->o.on_iter = NULL; /* the caller hears rank 0 (whose reports are global) */
  if (o->sample_weight) j->o.sample_weight = o->sample_weight + first;
  j->p = (fkm_points){(const char *)p->data + (size_t)first * row, p->dtype, 1, count, p->d};
  j->r = *r;
  j->r.labels = r->labels ? r->labels + first : NULL;
  if (rank > 0) {
    j->centroids = malloc((size_t)(o->k * p->d) * 4);
    j->r.centroids = j->centroids;
    j->r.inertia = r->inertia ? &j->inertia : NULL;
  }
  if (fkm_ctx_create(&j->ctx) != FKM_OK || (rank > 0 && !j->centroids))
    return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for device %d's rank", comm->device);
  fkm_log_set(j->ctx, ctx->log_fn, ctx->log_user);
  return FKM_OK;
}

/* Communicators of the devices (ncclCommInitAll), wrapped; *made of them exist on return. */
static fkm_status make_comms(fkm_ctx *ctx, const int *devices, int g, fkm_comm **comms, int *made) {
  const fkm__nccl_api *nc = fkm__nccl(ctx);
  fkm__nccl_comm_t *raw = calloc((size_t)g, sizeof *raw);
  fkm_status st = !nc ? FKM_ERR_NO_NCCL
                  : raw ? FKM_OK
                        : fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for the communicators");
  fkm__nccl_result e = st == FKM_OK ? nc->ncclCommInitAll(raw, g, devices) : 0;
  if (e != 0) st = fkm__nccl_error(ctx, e, "ncclCommInitAll");
  *made = 0;
  for (int i = 0; i < g && st == FKM_OK; i++) {
    st = fkm__comm_wrap(ctx, nc, raw[i], devices[i], g, i, &comms[i]);
    if (st == FKM_OK) (*made)++;
  }
  for (int i = *made + 1; st != FKM_OK && e == 0 && raw && i < g; i++)
    nc->ncclCommDestroy(raw[i]); /* never wrapped (a failed wrap destroyed its own) */
  free(raw);
  return st;
}

/* The error of the first rank that failed by itself (else of the first that failed) into ctx, or
 * rank 0's result (the caller's buffers, its timings) into r. */
static fkm_status collect(fkm_ctx *ctx, rank_job *jobs, int g, fkm_result *r) {
  int bad = -1;
  for (int i = 0; i < g; i++)
    if (jobs[i].status != FKM_OK &&
        (bad < 0 || (jobs[bad].status == FKM_ERR_COMM && jobs[i].status != FKM_ERR_COMM)))
      bad = i;
  if (bad >= 0)
    return fkm__error(ctx, jobs[bad].status, "device %d: %s", jobs[bad].o.device,
                      fkm_ctx_last_error(jobs[bad].ctx));
  *r = jobs[0].r;
  return FKM_OK;
}

int fkm__multi_devices_used(const fkm_points *p, const fkm_options *o) {
  int64_t spans = (p->n + 511) / 512;
  return o->num_devices < spans ? o->num_devices : (int)spans;
}

fkm_status fkm__multi_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r) {
  int g = fkm__multi_devices_used(p, o), made = 0;
  if (g > FKM__PARALLEL_MAX)
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "%d devices in one call (at most %d)", g,
                      FKM__PARALLEL_MAX);
  fkm_comm *comms[FKM__PARALLEL_MAX] = {NULL};
  rank_job jobs[FKM__PARALLEL_MAX];
  memset(jobs, 0, sizeof jobs);
  fkm_status st = make_comms(ctx, o->devices, g, comms, &made);
  for (int i = 0; i < g && st == FKM_OK; i++) st = prepare_job(ctx, p, o, r, g, i, comms[i], &jobs[i]);
  if (st == FKM_OK) st = run_ranks(ctx, jobs, g);
  if (st == FKM_OK) st = collect(ctx, jobs, g, r);
  for (int i = 0; i < g; i++) {
    fkm_ctx_free(jobs[i].ctx);
    free(jobs[i].centroids);
  }
  for (int i = 0; i < made; i++) fkm_comm_free(comms[i]);
  return st;
}
