/* GPU engine entry points: availability, fit (Lloyd loop on the device) and predict. */
#include <stdlib.h>

#include "gpu_run.h"

fkm_status fkm__gpu_available(fkm_ctx *ctx, int device) {
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  if (!cu) return s;
  int count = 0;
  FKM_CU_TRY(ctx, cu, cuDeviceGetCount(&count));
  if (device >= count)
    return fkm__error(ctx, FKM_ERR_NO_DEVICE, "device %d requested but %d CUDA device(s) found",
                      device, count);
  return FKM_OK; /* NVRTC is needed only for kernels that no cache layer holds */
}

/* Host mirror of struct fkm_state (templates/00_common.cu). */
typedef struct {
  int done, iter;
  unsigned shift_bits;
  float last_shift;
} host_state;

static fkm_status read_state(fkm__gpu_run *run, host_state *hs) {
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyDtoHAsync(hs, run->state, sizeof *hs, run->stream));
  FKM_CU_TRY(run->ctx, run->cu, cuStreamSynchronize(run->stream));
  return FKM_OK;
}

/* Whether this rank or another streams its points, so that labels are not kept between passes. */
static int labels_streamed(const fkm__gpu_run *run) {
  return run->ooc || (run->dist && fkm__dist_streams(run->dist));
}

/* Calls opts->on_iter for the iteration just finished; FKM_ERR_CANCELLED if it asks to stop. */
static fkm_status report(fkm__gpu_run *run, const host_state *hs, double ms) {
  double *inertia = malloc((size_t)run->b * sizeof *inertia);
  unsigned long long stats[2] = {0, 0};
  if (!inertia) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for a report");
  CUresult r = run->cu->cuMemcpyDtoHAsync(inertia, run->inertia, (size_t)run->b * 8, run->stream);
  if (r == CUDA_SUCCESS) r = run->cu->cuMemcpyDtoHAsync(stats, run->stats, sizeof stats, run->stream);
  if (r == CUDA_SUCCESS) r = run->cu->cuStreamSynchronize(run->stream);
  int64_t changed = labels_streamed(run) ? -1 : (int64_t)stats[0]; /* streamed: labels are not kept */
  fkm_iter_report rep = {hs->iter, hs->last_shift, 0.0, changed, (int64_t)stats[1], ms};
  for (int64_t b = 0; b < run->b; b++) rep.inertia += inertia[b];
  free(inertia);
  if (r != CUDA_SUCCESS) return fkm__cuda_error(run->ctx, r, "reading the iteration report");
  if (run->o->on_iter(&rep, run->o->on_iter_user))
    return fkm__error(run->ctx, FKM_ERR_CANCELLED, "stopped by the iteration callback at %d", hs->iter);
  return FKM_OK;
}

/* Profiling marks of one iteration (3 events), and the assign/update time they add up. */
typedef struct {
  CUevent ev[3];
  double ms_assign, ms_update;
} profile_marks;

static fkm_status profile_add(fkm__gpu_run *run, profile_marks *pm) {
  float a = 0.0f, u = 0.0f;
  if (run->cu->cuEventSynchronize(pm->ev[2]) != CUDA_SUCCESS ||
      run->cu->cuEventElapsedTime(&a, pm->ev[0], pm->ev[1]) != CUDA_SUCCESS ||
      run->cu->cuEventElapsedTime(&u, pm->ev[1], pm->ev[2]) != CUDA_SUCCESS)
    return fkm__error(run->ctx, FKM_ERR_CUDA, "reading the profiling events failed");
  pm->ms_assign += a, pm->ms_update += u;
  return FKM_OK;
}

/* Launches iterations check_every at a time (one at a time with a callback, profiling, streaming or
 * several GPUs), reading the device's flag between groups; kernels of iterations past convergence
 * return at once. The ranks of several GPUs issue the same collectives: they run the same
 * iterations (identical flags, one at a time whether they stream or not) and agree after each on
 * whether to go on (a callback may stop one rank, a failure end one). */
static fkm_status iterate(fkm__gpu_run *run, float tol, int *iterations, profile_marks *pm) {
  const fkm_options *o = run->o;
  /* a streamed iteration copies every point: never run one past convergence */
  int every = o->on_iter || pm || run->ooc || run->comm ? 1 : (o->check_every > 0 ? o->check_every : 8);
  int ran = 0, reports = run->dist ? fkm__dist_reports(run->dist) : o->on_iter != NULL;
  host_state hs = {0, 0, 0, 0.0f};
  FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(run->state, 0, sizeof hs, run->stream));
  if (run->prev)
    FKM_CU_TRY(run->ctx, run->cu,
               cuMemsetD32Async(run->prev, 0xffffffffu, (size_t)(run->b * run->n), run->stream));
  while (ran < o->max_iter && !hs.done) {
    double t0 = fkm__now_ms();
    int batch = o->max_iter - ran < every ? o->max_iter - ran : every;
    fkm_status st = FKM_OK;
    for (int i = 0; i < batch && st == FKM_OK; i++)
      st = fkm__run_iteration(run, reports, tol, pm ? pm->ev : NULL);
    ran += batch;
    if (st == FKM_OK) st = read_state(run, &hs);
    if (st == FKM_OK && pm && !hs.done) st = profile_add(run, pm);
    if (st == FKM_OK && o->on_iter) st = report(run, &hs, fkm__now_ms() - t0);
    if (run->comm) st = fkm__comm_agree(run->ctx, run->comm, st);
    if (st != FKM_OK) return st;
  }
  *iterations = hs.iter;
  return FKM_OK;
}

static fkm_status create_events(fkm__gpu_run *run, CUevent *ev, int count) {
  for (int i = 0; i < count; i++) {
    CUresult r = run->cu->cuEventCreate(&ev[i], CU_EVENT_DEFAULT);
    if (r != CUDA_SUCCESS) return fkm__cuda_error(run->ctx, r, "cuEventCreate");
  }
  return FKM_OK;
}

static void destroy_events(fkm__gpu_run *run, CUevent *ev, int count) {
  for (int i = 0; i < count; i++)
    if (ev[i]) run->cu->cuEventDestroy(ev[i]);
}

/* Runs the Lloyd loop, adding its event times to r's and setting r->iterations. */
static fkm_status timed_iterate(fkm__gpu_run *run, float tol, fkm_result *r) {
  CUevent ev[2] = {0, 0};
  profile_marks pm = {{0, 0, 0}, 0.0, 0.0};
  int profile = run->o->profile;
  fkm_status st = create_events(run, ev, 2);
  if (st == FKM_OK && profile) st = create_events(run, pm.ev, 3);
  if (st == FKM_OK && run->cu->cuEventRecord(ev[0], run->stream) != CUDA_SUCCESS)
    st = fkm__error(run->ctx, FKM_ERR_CUDA, "cuEventRecord failed");
  if (st == FKM_OK) st = iterate(run, tol, &r->iterations, profile ? &pm : NULL);
  float elapsed = 0.0f;
  if (st == FKM_OK && (run->cu->cuEventRecord(ev[1], run->stream) != CUDA_SUCCESS ||
                       run->cu->cuEventSynchronize(ev[1]) != CUDA_SUCCESS ||
                       run->cu->cuEventElapsedTime(&elapsed, ev[0], ev[1]) != CUDA_SUCCESS))
    st = fkm__error(run->ctx, FKM_ERR_CUDA, "timing the iterations with events failed");
  destroy_events(run, ev, 2);
  destroy_events(run, pm.ev, 3);
  r->ms_iterations += elapsed;
  r->ms_assign += pm.ms_assign;
  r->ms_update += pm.ms_update;
  return st;
}

/* Copies a device buffer to the caller's host or device buffer (skipped when dst is NULL). */
static fkm_status deliver(fkm__gpu_run *run, void *dst, CUdeviceptr src, size_t bytes,
                          int device_out) {
  if (!dst) return FKM_OK;
  if (device_out)
    FKM_CU_TRY(run->ctx, run->cu,
               cuMemcpyDtoDAsync((CUdeviceptr)(uintptr_t)dst, src, bytes, run->stream));
  else
    FKM_CU_TRY(run->ctx, run->cu, cuMemcpyDtoHAsync(dst, src, bytes, run->stream));
  return FKM_OK;
}

/* The results from c32/labels/inertia, or from the best restart's buffers when restarts ran. */
static fkm_status deliver_all(fkm__gpu_run *run, float *centroids, int32_t *labels,
                              double *inertia, int device_out) {
  size_t B = (size_t)run->b;
  int best = run->best_c32 != 0;
  fkm_status st = deliver(run, centroids, best ? run->best_c32 : run->c32,
                          B * (size_t)(run->k * run->d) * 4, device_out);
  if (st == FKM_OK && !run->ooc) /* streamed: the final pass delivered them */
    st = deliver(run, labels, best ? run->best_labels : run->labels, B * (size_t)run->n * 4, device_out);
  if (st == FKM_OK)
    st = deliver(run, inertia, best ? run->best_inertia : run->inertia, B * 8, device_out);
  if (st == FKM_OK && run->cu->cuStreamSynchronize(run->stream) != CUDA_SUCCESS)
    st = fkm__error(run->ctx, FKM_ERR_CUDA, "cuStreamSynchronize after the results failed");
  return st;
}

/* The absolute tolerance (fkm__absolute_tol); for device points with tol_relative the points are
 * read back once to compute their per-feature variance. */
static fkm_status absolute_tol(fkm__gpu_run *run, float *tol) {
  const fkm_points *p = run->p;
  if (!run->device_points || !run->o->tol_relative || run->o->tol <= 0) {
    *tol = (float)fkm__absolute_tol(p, run->o);
    return FKM_OK;
  }
  size_t bytes = (size_t)(p->batches * p->n * p->d) * fkm__dtype_size(p->dtype);
  void *host = malloc(bytes);
  if (!host) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory reading the points back");
  CUresult e = run->cu->cuMemcpyDtoHAsync(host, (CUdeviceptr)(uintptr_t)p->data, bytes, run->stream);
  if (e == CUDA_SUCCESS) e = run->cu->cuStreamSynchronize(run->stream);
  fkm_points copy = {host, p->dtype, p->batches, p->n, p->d};
  if (e == CUDA_SUCCESS) *tol = (float)fkm__absolute_tol(&copy, run->o);
  free(host);
  return e == CUDA_SUCCESS ? FKM_OK : fkm__cuda_error(run->ctx, e, "reading the points back for tol_relative");
}

/* Whether anything reads the final assignment: labels, inertia, the restarts' comparison, or the
 * other ranks (every rank runs the same collectives). A fit that asks for centroids alone skips
 * that pass: out of core it is one more stream of every point through the device. */
static int wants_final_pass(const fkm__gpu_run *run, const fkm_result *r) {
  return r->labels || r->inertia || run->o->n_init > 1 || run->comm;
}

/* One restart with this seed: initial centroids, the Lloyd loop and (when wanted) the final
 * assignment (labels and inertia per batch left in the run's buffers); times added to r. */
static fkm_status run_restart(fkm__gpu_run *run, uint64_t seed, float tol, fkm_result *r) {
  double t0 = fkm__now_ms();
  fkm_status st = fkm__run_init_centroids(run, seed);
  if (st == FKM_OK && run->cu->cuStreamSynchronize(run->stream) != CUDA_SUCCESS)
    st = fkm__error(run->ctx, FKM_ERR_CUDA, "cuStreamSynchronize after init failed");
  r->ms_init += fkm__now_ms() - t0;
  if (st == FKM_OK) st = timed_iterate(run, tol, r);
  return st == FKM_OK && wants_final_pass(run, r) ? fkm__run_assign_final(run) : st;
}

/* Σ over batches of the restart's inertia (summed in batch order, as the CPU engine does). */
static fkm_status total_inertia(fkm__gpu_run *run, double *total) {
  size_t B = (size_t)run->b;
  double *v = malloc(B * sizeof *v);
  if (!v) return fkm__error(run->ctx, FKM_ERR_NOMEM, "out of memory for the restart inertia");
  CUresult e = run->cu->cuMemcpyDtoHAsync(v, run->inertia, B * 8, run->stream);
  if (e == CUDA_SUCCESS) e = run->cu->cuStreamSynchronize(run->stream);
  *total = 0.0;
  for (size_t b = 0; b < B; b++) *total += v[b];
  free(v);
  return e == CUDA_SUCCESS ? FKM_OK : fkm__cuda_error(run->ctx, e, "reading the restart inertia");
}

/* Copies the restart just run into the best buffers. */
static fkm_status keep_restart(fkm__gpu_run *run) {
  size_t B = (size_t)run->b;
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyDtoDAsync(run->best_c32, run->c32,
                                                 B * (size_t)(run->k * run->d) * 4, run->stream));
  if (run->best_labels)
    FKM_CU_TRY(run->ctx, run->cu, cuMemcpyDtoDAsync(run->best_labels, run->labels,
                                                   B * (size_t)run->n * 4, run->stream));
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyDtoDAsync(run->best_inertia, run->inertia, B * 8, run->stream));
  return FKM_OK;
}

/* Streamed restarts label no points on the way; the winner's centroids label them at the end (the
 * same labels and inertia its own final pass found). Where some rank of several streams, every
 * rank runs this pass (its inertia passes from rank to rank). */
static fkm_status relabel_best(fkm__gpu_run *run) {
  size_t B = (size_t)run->b;
  FKM_CU_TRY(run->ctx, run->cu, cuMemcpyDtoDAsync(run->c32, run->best_c32,
                                                 B * (size_t)(run->k * run->d) * 4, run->stream));
  if (run->ooc) fkm__ooc_want_labels(run, 1);
  fkm_status st = fkm__run_assign_final(run);
  return st == FKM_OK ? keep_restart(run) : st;
}

/* n_init restarts: restart r uses fkm__restart_seed(seed, r); the lowest total inertia wins, ties
 * to the earlier restart (the CPU engine's rule); r->iterations are the winner's. */
static fkm_status run_restarts(fkm__gpu_run *run, fkm_result *r) {
  double best = 0.0;
  int best_iterations = 0;
  float tol = 0.0f;
  fkm_status st = absolute_tol(run, &tol);
  if (run->ooc && run->o->n_init > 1) fkm__ooc_want_labels(run, 0);
  for (int i = 0; i < run->o->n_init && st == FKM_OK; i++) {
    double total = 0.0;
    st = run_restart(run, fkm__restart_seed(run->o->seed, i), tol, r);
    if (st == FKM_OK && run->o->n_init > 1) st = total_inertia(run, &total);
    if (st == FKM_OK && run->o->n_init > 1 && (i == 0 || total < best)) {
      best = total, best_iterations = r->iterations;
      st = keep_restart(run);
    }
  }
  if (run->o->n_init > 1) r->iterations = best_iterations;
  if (st == FKM_OK && labels_streamed(run) && run->o->n_init > 1) st = relabel_best(run);
  return st;
}

static fkm_status fit_steps(fkm__gpu_run *run, fkm_result *r, int device) {
  double t0 = fkm__now_ms();
  fkm_status st = fkm__run_load_points(run, device);
  if (st == FKM_OK) st = fkm__run_load_weights(run);
  r->ms_init = fkm__now_ms() - t0;
  r->ms_iterations = r->ms_assign = r->ms_update = 0.0;
  if (st == FKM_OK) st = run_restarts(run, r);
  if (st == FKM_OK) st = deliver_all(run, r->centroids, r->labels, r->inertia, device);
  return st;
}

/* fkm__run_setup, streaming the points from host memory (gpu_ooc.c) when their in-memory
 * workspace does not fit (labels_out: where a streamed final pass puts the labels); a multi-GPU
 * rank (dist not NULL) runs the kernels picked for the global shape. */
static fkm_status setup(fkm__gpu_run *run, fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                        int fit, int device, void *stream, int32_t *labels_out,
                        struct fkm__dist *dist) {
  size_t budget = 0;
  fkm_status st = fkm__run_prepare(run, ctx, p, o, fit, device, (CUstream)stream);
  if (st == FKM_OK && dist) {
    run->comm = o->comm, run->dist = dist;
    run->spec_points = fkm__dist_points(dist);
  }
  if (st == FKM_OK) st = fkm__run_kernels(run);
  if (st != FKM_OK) return st;
  if (!device && fkm__ooc_wanted(run, &budget)) return fkm__ooc_setup(run, budget, labels_out);
  return fkm__run_allocate(run, device);
}

/* A multi-GPU rank's start: the ranks agree that every one passed its checks, then gather the
 * global shape (*dist). */
static fkm_status rank_start(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, int device,
                             void *stream, fkm_status checked, struct fkm__dist **dist) {
  fkm_status st = fkm__comm_agree(ctx, o->comm, checked);
  return st == FKM_OK ? fkm__dist_create(ctx, p, o, device, stream, dist) : st;
}

/* Every rank set up, or all stop; every rank learns whether some rank streams. */
static fkm_status set_up_together(fkm__gpu_run *run, fkm_status st, struct fkm__dist *dist) {
  int any = 0;
  st = fkm__comm_agree_any(run->ctx, run->o->comm, st, st == FKM_OK && run->ooc, &any);
  if (st == FKM_OK) fkm__dist_set_streams(dist, any);
  return st;
}

fkm_status fkm__gpu_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r,
                        int device, void *stream) {
  fkm_status st = fkm__gpu_supports(ctx, p, o);
  struct fkm__dist *dist = NULL;
  if (o->comm) st = rank_start(ctx, p, o, device, stream, st, &dist);
  if (st != FKM_OK) return st;
  fkm__gpu_run run;
  fkm_result out = *r;
  double c0 = ctx->gpu ? ctx->gpu->ms_compile : 0.0;
  st = setup(&run, ctx, p, o, 1, device, stream, r->labels, dist);
  if (o->comm) st = set_up_together(&run, st, dist);
  out.ms_compile = run.g ? run.g->ms_compile - c0 : 0.0;
  if (st == FKM_OK) st = fit_steps(&run, &out, device);
  if (run.cu) fkm__run_release(&run);
  fkm__dist_free(dist);
  if (st != FKM_OK) return st;
  out.engine = FKM_ENGINE_GPU;
  *r = out;
  return FKM_OK;
}

fkm_status fkm__gpu_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                            const fkm_options *o, int32_t *labels, double *inertia, int device,
                            void *stream) {
  fkm_status st = fkm__gpu_supports(ctx, p, o);
  if (st != FKM_OK) return st;
  fkm__gpu_run run;
  st = setup(&run, ctx, p, o, 0, device, stream, labels, NULL);
  if (st == FKM_OK) st = fkm__run_load_points(&run, device);
  if (st == FKM_OK) st = fkm__run_set_centroids(&run, centroids, device);
  if (st == FKM_OK) st = fkm__run_assign_final(&run);
  if (st == FKM_OK) st = deliver_all(&run, NULL, labels, inertia, device);
  if (run.cu) fkm__run_release(&run);
  return st;
}

fkm_status fkm__gpu_workspace_size(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                                   size_t *bytes) {
  fkm_status st = fkm__gpu_supports(ctx, p, o);
  fkm__gpu_run run;
  if (st == FKM_OK) st = fkm__run_prepare(&run, ctx, p, o, 1, 1, NULL);
  if (st == FKM_OK) *bytes = fkm__run_bytes(&run, 1);
  return st;
}
