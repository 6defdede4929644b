/* One rank of a multi-GPU fit (fkm_options.comm): the fit's global shape, the chain that carries
 * the update's partial sums and the inertia from rank to rank in rank order, the in-memory Lloyd
 * iteration and final pass of a rank, and the random init's picks over the global points.
 *
 * Why a chain and not an all-reduce: the one-GPU update adds each cluster's members, in point
 * order, into FKM__REDUCE_GROUPS fp64 sums (fkm_reduce_chunk); floating-point addition is not
 * associative, so the sums are bitwise the one-GPU ones only when rank r continues the sums rank
 * r - 1 left. Only that accumulation is serial: every rank assigns and sorts its shard at once,
 * then each in turn adds its shard (a pass over its points' rows, against the assignment's
 * K·N·D work) and passes acc on; the last rank's sums are broadcast and every rank finalizes. */
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "gpu_run.h"

struct fkm__dist {
  fkm_points global;  /* this rank's points with n = Σ n_r: the shape the kernels are picked for */
  int64_t *n;         /* [size]: points per batch of each rank */
  int64_t *positive;  /* [size][B]: points of positive weight of each rank (n_r without weights) */
  int reports;        /* some rank has an iteration callback: every rank runs reporting iterations */
  int streams;        /* some rank streams its shard from host memory (fkm__dist_set_streams) */
};

void fkm__dist_free(struct fkm__dist *d) {
  if (!d) return;
  free(d->n);
  free(d->positive);
  free(d);
}

/* What every rank must share, as gathered: H_STATUS is this rank's own state (0: ready), H_REPORT
 * whether it has an iteration callback; the others must equal rank 0's. */
enum { H_STATUS, H_REPORT, H_B, H_D, H_K, H_DTYPE, H_METRIC, H_PRECISION, H_INIT, H_N_INIT,
       H_MAX_ITER, H_TOL, H_SEED, H_EMPTY, H_WEIGHTS, H_BLOCK_N, H_BLOCK_K, H_BLOCK_D, H_WARPS,
       H_STAGES, H_CTAS, H_COUNT };
static const char *const header_names[H_COUNT] = {
    "status", "on_iter", "B", "D", "k", "dtype", "metric", "precision", "init", "n_init",
    "max_iter", "tol", "seed", "empty", "sample_weight", "BLOCK_N", "BLOCK_K", "BLOCK_D",
    "num_warps", "num_stages", "num_ctas"};

static void own_header(const fkm_points *p, const fkm_options *o, fkm_status st, int64_t *h) {
  int64_t tol;
  memcpy(&tol, &o->tol, 8);
  const fkm_config *c = &o->config;
  int64_t v[H_COUNT] = {st != FKM_OK, o->on_iter != NULL, p->batches, p->d, o->k,
                        fkm__compute_dtype(p, o, 1), o->metric, o->precision, o->init, o->n_init,
                        o->max_iter, tol, (int64_t)o->seed, o->empty, o->sample_weight != NULL,
                        c->BLOCK_N, c->BLOCK_K, c->BLOCK_D, c->num_warps, c->num_stages, c->num_ctas};
  memcpy(h, v, sizeof v);
}

/* The gathered headers all [size][H_COUNT]: a failed rank's own status stands; the others get
 * FKM_ERR_COMM naming it, or FKM_ERR_INVALID_ARG naming the first option a rank gives differently
 * from rank 0. */
static fkm_status check_headers(fkm_ctx *ctx, const int64_t *all, int size, int rank,
                                fkm_status mine, struct fkm__dist *d) {
  if (mine != FKM_OK) return mine;
  for (int r = 0; r < size; r++)
    if (all[r * H_COUNT + H_STATUS])
      return fkm__error(ctx, FKM_ERR_COMM, "rank %d of %d failed before the fit began", r, size);
  for (int r = 1; r < size; r++)
    for (int f = H_B; f < H_COUNT; f++)
      if (all[r * H_COUNT + f] != all[f])
        return fkm__error(ctx, FKM_ERR_INVALID_ARG,
                          "options: ranks must agree, but %s differs between rank 0 and rank %d "
                          "(this is rank %d)",
                          header_names[f], r, rank);
  for (int r = 0; r < size; r++) d->reports |= all[r * H_COUNT + H_REPORT] != 0;
  return FKM_OK;
}

/* The positive-weight counts of each batch (host weights w or NULL) into mine [B]. */
static void own_counts(const fkm_points *p, const float *w, int64_t *mine) {
  for (int64_t b = 0; b < p->batches; b++) {
    int64_t m = p->n;
    if (w) {
      m = 0;
      for (int64_t i = b * p->n; i < (b + 1) * p->n; i++) m += w[i] > 0.0f;
    }
    mine[b] = m;
  }
}

/* Splits all [size][1 + B] (n_r, then the positive counts) into d and checks K ≤ the positive
 * points of every batch. */
static fkm_status take_counts(fkm_ctx *ctx, struct fkm__dist *d, const int64_t *all, int size,
                              int64_t batches, int64_t k) {
  d->global.n = 0;
  for (int r = 0; r < size; r++) {
    d->n[r] = all[r * (1 + batches)];
    d->global.n += d->n[r];
    for (int64_t b = 0; b < batches; b++)
      d->positive[r * batches + b] = all[r * (1 + batches) + 1 + b];
  }
  for (int64_t b = 0; b < batches; b++) {
    int64_t m = 0;
    for (int r = 0; r < size; r++) m += d->positive[r * batches + b];
    if (m < k)
      return fkm__error(ctx, FKM_ERR_INVALID_ARG,
                        "options: k = %lld exceeds the %lld points (of positive weight) of batch "
                        "%lld over all ranks",
                        (long long)k, (long long)m, (long long)b);
  }
  return FKM_OK;
}

/* The sample weights [B][N] on the host: the caller's, or a copy (*copy, owned) of device ones read
 * on the caller's stream. */
static fkm_status weights_on_host(fkm_ctx *ctx, const fkm_comm *c, const fkm_points *p,
                                  const fkm_options *o, int device, CUstream stream,
                                  const float **w, float **copy) {
  size_t bytes = (size_t)(p->batches * p->n) * 4;
  *w = o->sample_weight, *copy = NULL;
  if (!*w || !device) return FKM_OK;
  if (!(*copy = malloc(bytes))) return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for the weights");
  *w = *copy;
  FKM_CU_TRY(ctx, c->cu, cuCtxSetCurrent(c->context));
  FKM_CU_TRY(ctx, c->cu, cuMemcpyDtoHAsync(*copy, (CUdeviceptr)(uintptr_t)o->sample_weight, bytes, stream));
  FKM_CU_TRY(ctx, c->cu, cuStreamSynchronize(stream));
  return FKM_OK;
}

/* This rank's allocations and counts (mine [1 + B]: n_r, then the positive counts). */
static fkm_status own_part(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, int device,
                           void *stream, struct fkm__dist *d, int64_t *mine) {
  const float *host_w = NULL;
  float *copy = NULL;
  if (!d || !d->n || !d->positive || !mine)
    return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for the ranks' counts");
  fkm_status st = weights_on_host(ctx, o->comm, p, o, device, (CUstream)stream, &host_w, &copy);
  if (st == FKM_OK) {
    d->global = *p;
    mine[0] = p->n;
    own_counts(p, host_w, mine + 1);
  }
  free(copy);
  return st;
}

fkm_status fkm__dist_create(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, int device,
                            void *stream, struct fkm__dist **out) {
  fkm_comm *c = o->comm;
  size_t per_rank = 1 + (size_t)p->batches, size = (size_t)c->size;
  struct fkm__dist *d = calloc(1, sizeof *d);
  int64_t *mine = malloc(per_rank * 8), *all = malloc(per_rank * 8 * size);
  int64_t header[H_COUNT], *headers = malloc(sizeof header * size);
  if (d) d->n = malloc(size * 8), d->positive = malloc((size_t)p->batches * 8 * size);
  fkm_status st = all && headers ? own_part(ctx, p, o, device, stream, d, mine)
                                 : fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for the ranks' counts");
  own_header(p, o, st, header);
  if (headers) { /* a rank that failed above still joins, so that its peers learn it */
    fkm_status g = fkm__comm_allgather_i64(ctx, c, header, H_COUNT, headers, (CUstream)stream,
                                           "gathering the ranks' options");
    st = g != FKM_OK ? g : check_headers(ctx, headers, c->size, c->rank, st, d);
  }
  if (st == FKM_OK)
    st = fkm__comm_allgather_i64(ctx, c, mine, per_rank, all, (CUstream)stream,
                                 "gathering the ranks' shapes");
  if (st == FKM_OK) st = take_counts(ctx, d, all, c->size, p->batches, o->k);
  free(mine), free(all), free(headers);
  if (st != FKM_OK) fkm__dist_free(d);
  else *out = d;
  return st;
}

const fkm_points *fkm__dist_points(const struct fkm__dist *d) { return &d->global; }
int fkm__dist_reports(const struct fkm__dist *d) { return d->reports; }
int fkm__dist_streams(const struct fkm__dist *d) { return d->streams; }
void fkm__dist_set_streams(struct fkm__dist *d, int any) { d->streams = any; }

/* ---- the chain ---------------------------------------------------------------------------------- */

static void *dptr(CUdeviceptr p) { return (void *)(uintptr_t)p; }

typedef struct {
  CUdeviceptr buf;
  size_t count;
  int type;
} chain_buf;

/* The buffers `what` names, in a fixed order; returns their count. */
static int chain_bufs(const fkm__gpu_run *run, int what, chain_buf *out) {
  size_t BK = (size_t)(run->b * run->k), G = FKM__ACC_SLOTS;
  int n = 0;
  if (what & FKM__CHAIN_ACC) {
    out[n++] = (chain_buf){run->acc, BK * G * (size_t)run->dp, FKM__NCCL_FLOAT64};
    out[n++] = (chain_buf){run->accw, BK * G, FKM__NCCL_FLOAT64};
    out[n++] = (chain_buf){run->seen, BK, FKM__NCCL_INT64};
  }
  if (what & FKM__CHAIN_INERTIA) out[n++] = (chain_buf){run->inertia, (size_t)run->b, FKM__NCCL_FLOAT64};
  return n;
}

fkm_status fkm__chain_begin(fkm__gpu_run *run, int what) {
  chain_buf bufs[4];
  int n = chain_bufs(run, what, bufs);
  fkm_comm *c = run->comm;
  if (!c || c->rank == 0) {
    for (int i = 0; i < n; i++)
      FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(bufs[i].buf, 0, bufs[i].count * 8, run->stream));
    return FKM_OK;
  }
  FKM_NCCL_TRY(run->ctx, c->nc, ncclGroupStart());
  for (int i = 0; i < n; i++)
    c->nc->ncclRecv(dptr(bufs[i].buf), bufs[i].count, bufs[i].type, c->rank - 1, c->nccl, run->stream);
  FKM_NCCL_TRY(run->ctx, c->nc, ncclGroupEnd());
  return FKM_OK;
}

fkm_status fkm__chain_end(fkm__gpu_run *run, int what) {
  chain_buf bufs[4];
  int n = chain_bufs(run, what, bufs), last = run->comm ? run->comm->size - 1 : 0;
  fkm_comm *c = run->comm;
  if (!c || c->size == 1) return FKM_OK;
  if (c->rank < last) {
    FKM_NCCL_TRY(run->ctx, c->nc, ncclGroupStart());
    for (int i = 0; i < n; i++)
      c->nc->ncclSend(dptr(bufs[i].buf), bufs[i].count, bufs[i].type, c->rank + 1, c->nccl, run->stream);
    FKM_NCCL_TRY(run->ctx, c->nc, ncclGroupEnd());
  }
  FKM_NCCL_TRY(run->ctx, c->nc, ncclGroupStart());
  for (int i = 0; i < n; i++) /* seen is not needed past the last rank */
    if (bufs[i].buf != run->seen)
      c->nc->ncclBroadcast(dptr(bufs[i].buf), dptr(bufs[i].buf), bufs[i].count, bufs[i].type, last,
                           c->nccl, run->stream);
  FKM_NCCL_TRY(run->ctx, c->nc, ncclGroupEnd());
  return FKM_OK;
}

fkm_status fkm__dist_global_stats(fkm__gpu_run *run) {
  fkm_comm *c = run->comm;
  FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(run->stats + 8, 0, 8, run->stream));
  FKM_NCCL_TRY(run->ctx, c->nc, ncclAllReduce(dptr(run->stats), dptr(run->stats), 1, FKM__NCCL_UINT64,
                                              FKM__NCCL_SUM, c->nccl, run->stream));
  return FKM_OK;
}

/* ---- a rank's in-memory steps ------------------------------------------------------------------ */

/* Every batch's sorted runs added into acc (one-batch views of the run). */
static fkm_status accumulate_batches(fkm__gpu_run *run) {
  fkm_status st = FKM_OK;
  size_t N = (size_t)run->n, K = (size_t)run->k;
  for (int64_t b = 0; b < run->b && st == FKM_OK; b++) {
    fkm__gpu_run v = *run;
    v.b = 1;
    v.x = run->x + (size_t)b * N * (size_t)run->dp * run->esize;
    v.w = run->w ? run->w + (size_t)b * N * 4 : 0;
    v.sorted = run->sorted + (size_t)b * N * 4;
    v.start = run->start + (size_t)b * K * 4;
    v.counts = run->counts + (size_t)b * K * 4;
    st = fkm__run_accumulate(&v, b);
  }
  return st;
}

fkm_status fkm__dist_iteration(fkm__gpu_run *run, int with_report, float tol, CUevent *marks) {
  CUdeviceptr done = run->state, stats = with_report ? run->stats : 0;
  int what = FKM__CHAIN_ACC | (with_report ? FKM__CHAIN_INERTIA : 0);
  fkm_status st = fkm__run_mark(run, marks, 0);
  if (st == FKM_OK) st = fkm__run_assign(run, done);
  if (st == FKM_OK) st = fkm__run_mark(run, marks, 1);
  if (st == FKM_OK) st = fkm__run_sort(run, done);
  if (st == FKM_OK && with_report) st = fkm__run_iteration_stats(run);
  if (st == FKM_OK && with_report) st = fkm__dist_global_stats(run);
  if (st == FKM_OK) st = fkm__chain_begin(run, what);
  if (st == FKM_OK && with_report) st = fkm__run_inertia(run, 1);
  if (st == FKM_OK) st = accumulate_batches(run);
  if (st == FKM_OK) st = fkm__chain_end(run, what);
  if (st != FKM_OK) return st;
  return fkm__run_finalize_acc(run, stats, tol, marks);
}

fkm_status fkm__dist_assign_final(fkm__gpu_run *run) {
  fkm_status st = fkm__run_assign(run, 0);
  if (st == FKM_OK) st = fkm__chain_begin(run, FKM__CHAIN_INERTIA);
  if (st == FKM_OK) st = fkm__run_inertia(run, 1);
  return st == FKM_OK ? fkm__chain_end(run, FKM__CHAIN_INERTIA) : st;
}

/* ---- random init over the global points ------------------------------------------------------- */

fkm_status fkm__dist_own_picks(uint64_t seed, int64_t b, int64_t k, const int64_t *positive,
                               int size, int rank, const float *w, int64_t n, int64_t *pick,
                               unsigned char *owned) {
  int64_t m = 0, before = 0, count = 0;
  for (int r = 0; r < size; r++) m += positive[r];
  for (int r = 0; r < rank; r++) before += positive[r];
  int64_t *local = malloc((size_t)k * sizeof *local);
  if (!local || fkm__random_init_indices(seed, b, m, k, pick) != FKM_OK) {
    free(local);
    return FKM_ERR_NOMEM;
  }
  for (int64_t j = 0; j < k; j++) {
    owned[j] = pick[j] >= before && pick[j] < before + positive[rank];
    if (owned[j]) local[count++] = pick[j] - before;
  }
  fkm_status st = fkm__rank_indices(w, n, count, local);
  for (int64_t j = 0, i = 0; j < k; j++) pick[j] = owned[j] ? local[i++] : 0;
  free(local);
  return st;
}

void fkm__dist_positive(const struct fkm__dist *d, int size, int64_t b, int64_t *positive) {
  for (int r = 0; r < size; r++) positive[r] = d->positive[r * d->global.batches + b];
}

/* c32 rows this rank does not own zeroed (host round trip: init only), then the rows of every rank
 * combined by an integer sum of their bit patterns (each row is non-zero on one rank at most, so
 * the sum is exact and every rank gets every pick's row bit for bit). */
fkm_status fkm__dist_share_rows(fkm__gpu_run *run, const unsigned char *owned) {
  size_t rows = (size_t)(run->b * run->k), D = (size_t)run->d, bytes = rows * D * 4;
  float *c = malloc(bytes);
  if (!c) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for the init rows");
  CUresult r = run->cu->cuMemcpyDtoHAsync(c, run->c32, bytes, run->stream);
  if (r == CUDA_SUCCESS) r = run->cu->cuStreamSynchronize(run->stream);
  for (size_t j = 0; j < rows && r == CUDA_SUCCESS; j++)
    if (!owned[j]) memset(c + j * D, 0, D * 4);
  if (r == CUDA_SUCCESS) r = run->cu->cuMemcpyHtoDAsync(run->c32, c, bytes, run->stream);
  if (r == CUDA_SUCCESS) r = run->cu->cuStreamSynchronize(run->stream);
  free(c);
  if (r != CUDA_SUCCESS) return fkm__cuda_error(run->ctx, r, "sharing the init rows");
  fkm_comm *cm = run->comm;
  FKM_NCCL_TRY(run->ctx, cm->nc, ncclAllReduce(dptr(run->c32), dptr(run->c32), rows * D, FKM__NCCL_UINT32,
                                               FKM__NCCL_SUM, cm->nccl, run->stream));
  return FKM_OK;
}
