/* Streaming (out-of-core) passes: one Lloyd iteration, the final labelled pass and the random init
 * of a run whose points stay in host memory (gpu_ooc.h). */
#include <stdlib.h>
#include <string.h>

#include "gpu_ooc.h"

/* What a pass does with each chunk after assigning it. */
enum { PASS_UPDATE = 1, PASS_INERTIA = 2, PASS_LABELS = 4 };

static size_t row_bytes(const fkm__gpu_run *run) {
  return (size_t)run->d * fkm__dtype_size(run->p->dtype);
}

/* Global chunk q (batch-major; len points) in slot s as a one-batch run with its batch's centroids;
 * *raw gets its points as copied (resident or the slot's). */
static fkm__gpu_run chunk_view(const fkm__gpu_run *run, int64_t q, int s, int64_t len,
                               CUdeviceptr *raw) {
  const struct fkm__ooc *o = run->ooc;
  fkm__gpu_run v = *run;
  size_t K = (size_t)run->k, b = (size_t)(q / o->chunks);
  fkm__ooc_source(o, row_bytes(run), q, s, raw, &v.w);
  v.b = 1, v.n = len;
  v.x = o->direct ? *raw : o->xc[s];
  v.labels = o->labels[s];
  v.c32 = run->c32 + b * K * (size_t)run->d * 4;
  v.ch = run->ch + fkm__ch_bytes((int64_t)b, run->k, run->dp, run->ch_esize);
  v.cnorm = run->cnorm + fkm__cnorm_bytes((int64_t)b, run->k);
  v.inertia = run->inertia + b * 8;
  v.parts = (int)((len + FKM__SPAN_ROWS - 1) / FKM__SPAN_ROWS);
  v.tile = o->plan.tile;
  v.ntiles = (int)((len + o->plan.tile - 1) / o->plan.tile);
  return v;
}

/* host [bytes] into dst on the copy stream: directly from page-locked memory, else through the
 * pinned slot `stage` once its previous copy has left (the host waits for that). */
static fkm_status copy_in(fkm__gpu_run *run, CUdeviceptr dst, const void *host, size_t bytes,
                          void *stage, int s) {
  struct fkm__ooc *o = run->ooc;
  if (stage) {
    FKM_CU_TRY(run->ctx, run->cu, cuEventSynchronize(o->copied[s]));
    fkm__parallel_copy(stage, host, bytes);
    host = stage;
  }
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyHtoDAsync(dst, host, bytes, o->copy));
  return FKM_OK;
}

/* Copies global chunk q (len points, and their weights) to its device place (resident, or slot s
 * once the slot is free), staged through slot s's pinned buffers. */
static fkm_status issue_copy(fkm__gpu_run *run, int64_t q, int s, int64_t len) {
  struct fkm__ooc *o = run->ooc;
  int64_t b = q / o->chunks, c = q % o->chunks;
  size_t row = row_bytes(run), first = (size_t)(b * run->n + c * o->plan.chunk);
  CUdeviceptr points, weights;
  fkm__ooc_source(o, row, q, s, &points, &weights);
  FKM_CU_TRY(run->ctx, run->cu, cuStreamWaitEvent(o->copy, o->consumed[s], 0));
  void *stage = o->stage_points ? o->stage_points + (size_t)s * (size_t)o->plan.chunk * row : NULL;
  fkm_status st = copy_in(run, points, (const char *)run->p->data + first * row,
                          (size_t)len * row, stage, s);
  if (st == FKM_OK && weights) {
    float *wstage = o->stage_w ? o->stage_w + (size_t)s * (size_t)o->plan.chunk : NULL;
    st = copy_in(run, weights, run->o->sample_weight + first, (size_t)len * 4, wstage, s);
  }
  if (st == FKM_OK) FKM_CU_TRY(run->ctx, run->cu, cuEventRecord(o->copied[s], o->copy));
  return st;
}

fkm_status fkm__ooc_upload_resident(fkm__gpu_run *run) {
  struct fkm__ooc *o = run->ooc;
  fkm_status st = FKM_OK;
  for (int64_t q = 0; q < o->plan.resident && st == FKM_OK; q++)
    st = issue_copy(run, q, (int)(q % o->plan.buffers),
                    fkm__ooc_chunk_len(run->n, o->plan.chunk, q % o->chunks));
  if (st == FKM_OK) FKM_CU_TRY(run->ctx, run->cu, cuStreamSynchronize(o->copy));
  return st;
}

/* Labels of the chunk into its pinned slot, on the view's stream. */
static fkm_status labels_out(fkm__gpu_run *v, int s, int64_t len) {
  struct fkm__ooc *o = v->ooc;
  int32_t *slot = o->stage_labels + (size_t)s * (size_t)o->plan.chunk;
  FKM_CU_TRY(v->ctx, v->cu, cuMemcpyDtoHAsync(slot, v->labels, (size_t)len * 4, v->stream));
  FKM_CU_TRY(v->ctx, v->cu, cuEventRecord(o->labelled[s], v->stream));
  return FKM_OK;
}

/* The compute stream's work on global chunk q in slot s, after its copy (none when resident):
 * convert, assign, then (per mode) inertia, sort and accumulate, labels out; then the slot is free
 * for a copy. */
static fkm_status run_chunk(fkm__gpu_run *run, int64_t q, int s, int64_t len, int mode) {
  struct fkm__ooc *o = run->ooc;
  CUdeviceptr raw;
  fkm__gpu_run v = chunk_view(run, q, s, len, &raw);
  if (q >= o->plan.resident)
    FKM_CU_TRY(run->ctx, run->cu, cuStreamWaitEvent(run->stream, o->copied[s], 0));
  fkm_status st = o->direct ? FKM_OK : fkm__run_convert(&v, raw, len);
  if (st == FKM_OK) st = fkm__run_assign(&v, 0);
  if (st == FKM_OK && (mode & PASS_INERTIA)) st = fkm__run_inertia(&v, 1);
  if (st == FKM_OK && (mode & PASS_UPDATE)) st = fkm__run_sort(&v, run->state);
  if (st == FKM_OK && (mode & PASS_UPDATE)) st = fkm__run_accumulate(&v, q / o->chunks);
  if (st == FKM_OK && (mode & PASS_LABELS)) st = labels_out(&v, s, len);
  if (st == FKM_OK) FKM_CU_TRY(run->ctx, run->cu, cuEventRecord(o->consumed[s], run->stream));
  return st;
}

/* Hands the labels of an earlier chunk (q-th of the pass: batch b, chunk c, slot s) to the caller. */
static fkm_status deliver_labels(fkm__gpu_run *run, int64_t q) {
  struct fkm__ooc *o = run->ooc;
  int64_t b = q / o->chunks, c = q % o->chunks, len = fkm__ooc_chunk_len(run->n, o->plan.chunk, c);
  int s = (int)(q % o->plan.buffers);
  FKM_CU_TRY(run->ctx, run->cu, cuEventSynchronize(o->labelled[s]));
  memcpy(o->labels_out + b * run->n + c * o->plan.chunk,
         o->stage_labels + (size_t)s * (size_t)o->plan.chunk, (size_t)len * 4);
  return FKM_OK;
}

/* Every chunk of every batch, in order, through copy and compute. */
static fkm_status pass(fkm__gpu_run *run, int mode) {
  struct fkm__ooc *o = run->ooc;
  fkm_status st = FKM_OK;
  int64_t total = run->b * o->chunks;
  for (int64_t q = 0; q < total && st == FKM_OK; q++) {
    int64_t len = fkm__ooc_chunk_len(run->n, o->plan.chunk, q % o->chunks);
    int s = (int)(q % o->plan.buffers);
    if (q >= o->plan.resident) st = issue_copy(run, q, s, len);
    if (st == FKM_OK) st = run_chunk(run, q, s, len, mode);
    if (st == FKM_OK && (mode & PASS_LABELS) && q > 0) st = deliver_labels(run, q - 1);
  }
  if (st == FKM_OK && (mode & PASS_LABELS)) st = deliver_labels(run, total - 1);
  return st;
}

/* One pass in `mode` between the chain's ends (the accumulators and inertia zeroed, or on a
 * multi-GPU rank taken from the rank before and passed on; gpu_dist.c). */
static fkm_status chained_pass(fkm__gpu_run *run, int mode) {
  int what = (mode & PASS_UPDATE ? FKM__CHAIN_ACC : 0) | (mode & PASS_INERTIA ? FKM__CHAIN_INERTIA : 0);
  fkm_status st = fkm__chain_begin(run, what);
  if (st == FKM_OK) st = pass(run, mode);
  return st == FKM_OK ? fkm__chain_end(run, what) : st;
}

fkm_status fkm__ooc_iteration(fkm__gpu_run *run, int with_report, float tol, CUevent *marks) {
  CUdeviceptr stats = with_report ? run->stats : 0; /* changed labels stay 0: labels are not kept */
  fkm_status st = fkm__run_mark(run, marks, 0);
  if (st == FKM_OK && with_report)
    FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(run->stats, 0, 16, run->stream));
  if (st == FKM_OK && with_report && run->comm) st = fkm__dist_global_stats(run); /* as in-memory ranks */
  if (st == FKM_OK) st = chained_pass(run, PASS_UPDATE | (with_report ? PASS_INERTIA : 0));
  if (st == FKM_OK) st = fkm__run_mark(run, marks, 1);
  return st == FKM_OK ? fkm__run_finalize_acc(run, stats, tol, marks) : st;
}

fkm_status fkm__ooc_final(fkm__gpu_run *run) {
  return chained_pass(run, PASS_INERTIA | (run->ooc->want_labels ? PASS_LABELS : 0));
}

/* Rows idx[j0 .. j0 + m) of batch b (host points) into c32 rows j0.. of the batch, through slot 0:
 * copied, converted as every chunk is, and gathered (unit length for cosine and dot). */
static fkm_status gather_rows(fkm__gpu_run *run, const int64_t *idx, int64_t b, int64_t j0,
                              int64_t m) {
  struct fkm__ooc *o = run->ooc;
  size_t row = row_bytes(run);
  char *rows = o->stage_points ? o->stage_points : malloc((size_t)m * row);
  if (!rows) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for the init rows");
  for (int64_t j = 0; j < m; j++)
    memcpy(rows + (size_t)j * row, (const char *)run->p->data + (size_t)(b * run->n + idx[j0 + j]) * row, row);
  CUresult r = run->cu->cuMemcpyHtoDAsync(o->raw[0], rows, (size_t)m * row, run->stream);
  if (r == CUDA_SUCCESS) r = run->cu->cuStreamSynchronize(run->stream);
  if (rows != o->stage_points) free(rows);
  if (r != CUDA_SUCCESS) return fkm__cuda_error(run->ctx, r, "copying the init rows");
  CUdeviceptr raw;
  fkm__gpu_run v = chunk_view(run, b * o->chunks, 0, m, &raw); /* batch b's centroids */
  v.x = o->direct ? o->raw[0] : o->xc[0];                      /* the rows, in slot 0 */
  v.k = m;
  v.c32 += (size_t)j0 * (size_t)run->d * 4;
  fkm_status st = o->direct ? FKM_OK : fkm__run_convert(&v, o->raw[0], m);
  return st == FKM_OK ? fkm__run_gather(&v) : st;
}

fkm_status fkm__ooc_gather_picks(fkm__gpu_run *run, const int64_t *idx) {
  struct fkm__ooc *o = run->ooc;
  FKM_CU_TRY(run->ctx, run->cu, cuStreamSynchronize(o->copy)); /* slot 0 and its staging free */
  fkm_status st = FKM_OK;
  for (int64_t b = 0; b < run->b && st == FKM_OK; b++)
    for (int64_t j0 = 0; j0 < run->k && st == FKM_OK; j0 += o->plan.chunk) {
      int64_t m = run->k - j0 < o->plan.chunk ? run->k - j0 : o->plan.chunk;
      st = gather_rows(run, idx + b * run->k, b, j0, m);
    }
  return st;
}
