/* Streaming (out-of-core) runs: when to stream, and the workspace, streams, events and pinned
 * staging of one (gpu_ooc.h). */
#include <stdlib.h>

#include "gpu_ooc.h"

/* Device memory left to other users of the device when fit sizes itself by the free memory. */
#define FKM__OOC_RESERVE ((size_t)512 << 20)

int fkm__ooc_wanted(fkm__gpu_run *run, size_t *budget) {
  size_t need = fkm__run_bytes(run, 0), free_bytes = 0, total = 0;
  *budget = run->o->device_memory_budget;
  if (*budget) return need > *budget;
  if (run->cu->cuMemGetInfo(&free_bytes, &total) != CUDA_SUCCESS) return 0;
  *budget = free_bytes > 2 * FKM__OOC_RESERVE ? free_bytes - FKM__OOC_RESERVE : free_bytes / 2;
  return need > *budget;
}

/* The memory type of address a: 0 for memory the driver does not know (pageable host memory),
 * which cuPointerGetAttributes reports without failing. */
static unsigned memory_type(const fkm__cuda_api *cu, CUdeviceptr a) {
  CUmemorytype type = 0;
  CUpointer_attribute what = CU_POINTER_ATTRIBUTE_MEMORY_TYPE;
  void *out = &type;
  return cu->cuPointerGetAttributes(1, &what, &out, a) == CUDA_SUCCESS ? (unsigned)type : 0;
}

/* Whether the bytes at p (host memory) are page-locked for the device: its first and last byte. */
static int page_locked(const fkm__cuda_api *cu, const void *p, size_t bytes) {
  if (!p || !bytes) return 0;
  CUdeviceptr a = (CUdeviceptr)(uintptr_t)p;
  return memory_type(cu, a) == CU_MEMORYTYPE_HOST && memory_type(cu, a + bytes - 1) == CU_MEMORYTYPE_HOST;
}

static fkm__ooc_shape shape_of(const fkm__gpu_run *run, int direct) {
  const fkm_options *o = run->o;
  fkm__ooc_shape s = {run->b, run->n, run->d, run->k, run->dp, fkm__dtype_size(run->p->dtype),
                      run->esize, run->ch_esize, direct, run->fit && o->sample_weight != NULL,
                      run->fit, run->fit && o->n_init > 1};
  return s;
}

/* The next buffer of `bytes` at *at (aligned as the planner counts); 0 for none. */
static CUdeviceptr take(CUdeviceptr *at, size_t bytes) {
  if (!bytes) return 0;
  CUdeviceptr p = *at;
  *at += fkm__device_aligned(bytes);
  return p;
}

/* Carves the fixed buffers (the planner's fixed_bytes, in its order) into run's views. */
static void carve_fixed(fkm__gpu_run *run, CUdeviceptr *at) {
  size_t B = (size_t)run->b, K = (size_t)run->k, D = (size_t)run->d, DP = (size_t)run->dp;
  size_t G = FKM__ACC_SLOTS;
  run->c32 = take(at, B * K * D * 4);
  run->ch = take(at, fkm__ch_bytes(run->b, run->k, run->dp, run->ch_esize));
  run->cnorm = take(at, fkm__cnorm_bytes(run->b, run->k));
  run->inertia = take(at, B * 8);
  run->state = take(at, 16);
  run->stats = take(at, 16);
  if (run->fit) {
    run->acc = take(at, B * K * G * DP * 8);
    run->accw = take(at, B * K * G * 8);
    run->seen = take(at, B * K * 8);
    run->counts = take(at, K * 4);
    run->start = take(at, K * 4);
    run->idx = take(at, K * 8);
  }
  if (run->fit && run->o->n_init > 1) {
    run->best_c32 = take(at, B * K * D * 4);
    run->best_inertia = take(at, B * 8);
  }
}

/* Carves the chunk-sized buffers (the planner's chunk_bytes, in its order). */
static void carve_chunk(fkm__gpu_run *run, struct fkm__ooc *o, CUdeviceptr *at) {
  size_t C = (size_t)o->plan.chunk, K = (size_t)run->k;
  int nb = o->plan.buffers;
  for (int s = 0; s < nb; s++) o->raw[s] = take(at, C * (size_t)run->d * fkm__dtype_size(run->p->dtype));
  for (int s = 0; s < nb; s++) o->labels[s] = take(at, C * 4);
  run->partial = take(at, (C + FKM__SPAN_ROWS - 1) / FKM__SPAN_ROWS * 8);
  if (run->fit && run->o->sample_weight)
    for (int s = 0; s < nb; s++) o->wraw[s] = take(at, C * 4);
  for (int s = 0; s < nb && !o->direct; s++) o->xc[s] = take(at, C * (size_t)run->dp * run->esize);
  if (run->fit) {
    run->sorted = take(at, C * 4);
    run->tiles = take(at, (size_t)o->plan.ntiles * K * 4);
  }
}

/* Carves the resident chunks: all points, then all weights (the planner's resident bytes). */
static void carve_resident(fkm__gpu_run *run, struct fkm__ooc *o, CUdeviceptr *at) {
  size_t C = (size_t)o->plan.chunk, R = (size_t)o->plan.resident;
  size_t row = (size_t)run->d * fkm__dtype_size(run->p->dtype);
  o->resident = take(at, R * fkm__device_aligned(C * row));
  o->resident_w = o->wraw[0] ? take(at, R * fkm__device_aligned(C * 4)) : 0;
}

/* idx [K] = 0, 1, ..., K − 1: the gather of init rows staged in chunk order. */
static fkm_status upload_identity(fkm__gpu_run *run) {
  int64_t *v = malloc((size_t)run->k * sizeof *v);
  if (!v) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for the init indices");
  for (int64_t j = 0; j < run->k; j++) v[j] = j;
  CUresult r = run->cu->cuMemcpyHtoDAsync(run->idx, v, (size_t)run->k * 8, run->stream);
  if (r == CUDA_SUCCESS) r = run->cu->cuStreamSynchronize(run->stream);
  free(v);
  return r == CUDA_SUCCESS ? FKM_OK : fkm__cuda_error(run->ctx, r, "uploading the init indices");
}

static fkm_status allocate_device(fkm__gpu_run *run, struct fkm__ooc *o) {
  CUresult r = run->cu->cuMemAlloc(&o->block, o->plan.device_bytes);
  if (r != CUDA_SUCCESS) {
    fkm__cuda_error(run->ctx, r, "cuMemAlloc");
    return fkm__error(run->ctx, FKM_ERR_DEVICE_MEMORY, "streaming workspace of %zu bytes",
                      o->plan.device_bytes);
  }
  CUdeviceptr at = o->block;
  carve_fixed(run, &at);
  carve_chunk(run, o, &at);
  carve_resident(run, o, &at);
  return run->fit ? upload_identity(run) : FKM_OK;
}

static fkm_status create_sync(fkm__gpu_run *run, struct fkm__ooc *o) {
  FKM_CU_TRY(run->ctx, run->cu, cuStreamCreate(&o->copy, CU_STREAM_NON_BLOCKING));
  CUevent *all[] = {o->copied, o->consumed, o->labelled};
  for (int e = 0; e < 3; e++)
    for (int s = 0; s < o->plan.buffers; s++)
      FKM_CU_TRY(run->ctx, run->cu, cuEventCreate(&all[e][s], CU_EVENT_DISABLE_TIMING));
  return FKM_OK;
}

/* Pinned staging for what is not page-locked already: points, weights, and the labels. */
static fkm_status allocate_staging(fkm__gpu_run *run, struct fkm__ooc *o) {
  size_t C = (size_t)o->plan.chunk, nb = (size_t)o->plan.buffers;
  size_t row = (size_t)run->d * fkm__dtype_size(run->p->dtype), wbytes = 0;
  size_t pbytes = o->pinned ? 0 : nb * C * row;
  if (run->fit && run->o->sample_weight && !o->pinned_w) wbytes = nb * C * 4;
  FKM_CU_TRY(run->ctx, run->cu, cuMemAllocHost(&o->stage, pbytes + wbytes + nb * C * 4));
  char *at = o->stage;
  o->stage_points = pbytes ? at : NULL;
  o->stage_w = wbytes ? (float *)(at + pbytes) : NULL;
  o->stage_labels = (int32_t *)(at + pbytes + wbytes);
  return FKM_OK;
}

/* What streaming refuses: k-means++ (K passes over the points) and the farthest policy. */
static fkm_status check_supported(fkm__gpu_run *run, size_t budget) {
  const char *what = run->fit && run->o->init == FKM_INIT_KMEANSPP ? "k-means++ init"
                     : run->fit && run->o->empty == FKM_EMPTY_FARTHEST ? "the farthest empty-cluster policy"
                                                                       : NULL;
  if (!what) return FKM_OK;
  return fkm__error(run->ctx, FKM_ERR_UNSUPPORTED,
                    "%s is not supported when the points stream from host memory (the in-memory "
                    "fit needs %zu device bytes, the budget is %zu): use random or given init and "
                    "the keep policy, or a larger device_memory_budget",
                    what, fkm__run_bytes(run, 0), budget);
}

fkm_status fkm__ooc_setup(fkm__gpu_run *run, size_t budget, int32_t *labels_out) {
  fkm_status st = check_supported(run, budget);
  if (st != FKM_OK) return st;
  struct fkm__ooc *o = calloc(1, sizeof *o);
  if (!o) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for a streaming run");
  run->ooc = o;
  o->direct = run->p->dtype == run->dtype && run->d == run->dp && run->o->metric != FKM_METRIC_COSINE;
  fkm__ooc_shape shape = shape_of(run, o->direct);
  if (!fkm__ooc_plan_make(&shape, budget, &o->plan))
    return fkm__error(run->ctx, FKM_ERR_DEVICE_MEMORY,
                      "a device memory budget of %zu bytes is below the %zu bytes a streaming run "
                      "of chunks of %d points needs",
                      budget, o->plan.device_bytes, FKM__SPAN_ROWS);
  o->chunks = (run->n + o->plan.chunk - 1) / o->plan.chunk;
  o->labels_out = labels_out;
  o->want_labels = labels_out != NULL;
  size_t points = (size_t)(run->b * run->n * run->d) * fkm__dtype_size(run->p->dtype);
  o->pinned = page_locked(run->cu, run->p->data, points);
  o->pinned_w = page_locked(run->cu, run->o->sample_weight, (size_t)(run->b * run->n) * 4);
  st = allocate_device(run, o);
  if (st == FKM_OK) st = create_sync(run, o);
  if (st == FKM_OK) st = allocate_staging(run, o);
  if (st == FKM_OK) st = fkm__ooc_upload_resident(run);
  if (st == FKM_OK)
    fkm__log(run->ctx, FKM_LOG_INFO,
             "streaming %lld points from %s host memory in chunks of %lld, %lld of %lld chunks "
             "resident (%zu device bytes)",
             (long long)(run->b * run->n), o->pinned ? "page-locked" : "pageable",
             (long long)o->plan.chunk, (long long)o->plan.resident,
             (long long)(run->b * o->chunks), o->plan.device_bytes);
  return st;
}

void fkm__ooc_want_labels(fkm__gpu_run *run, int on) {
  run->ooc->want_labels = on && run->ooc->labels_out != NULL;
}

void fkm__ooc_release(fkm__gpu_run *run) {
  struct fkm__ooc *o = run->ooc;
  const fkm__cuda_api *cu = run->cu;
  CUevent *all[] = {o->copied, o->consumed, o->labelled};
  if (o->copy) cu->cuStreamSynchronize(o->copy);
  cu->cuStreamSynchronize(run->stream);
  for (int e = 0; e < 3; e++)
    for (int s = 0; s < FKM__OOC_BUFFERS; s++)
      if (all[e][s]) cu->cuEventDestroy(all[e][s]);
  if (o->copy) cu->cuStreamDestroy(o->copy);
  if (o->stage) cu->cuMemFreeHost(o->stage);
  if (o->block) cu->cuMemFree(o->block);
  free(o);
  run->ooc = NULL;
}
