/* Public entry points: check arguments, pick the engine, dispatch. */
#include "internal.h"

/* AUTO goes to the CPU engine: one log line with the reason the GPU could not run, then the
 * error text cleared. */
static void cpu_instead(fkm_ctx *ctx) {
  fkm__log(ctx, FKM_LOG_INFO, "using the CPU engine: %s", ctx->err);
  fkm__clear_error(ctx);
}

/* Resolves AUTO: the GPU when a driver and device exist and the options suit it, else the CPU with
 * one log line. An explicit GPU request that cannot run is an error. */
static fkm_status pick_engine(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o,
                              fkm_engine *out) {
  if (o->engine == FKM_ENGINE_CPU) {
    *out = FKM_ENGINE_CPU;
    return FKM_OK;
  }
  fkm_status s = fkm__gpu_available(ctx, o->device);
  if (s == FKM_OK && o->dtype == FKM_DTYPE_FP64)
    s = fkm__error(ctx, FKM_ERR_UNSUPPORTED, "the GPU engine does not compute in fp64");
  if (s == FKM_OK) s = fkm__gpu_supports(ctx, p, o);
  if (s == FKM_OK) {
    *out = FKM_ENGINE_GPU;
    return FKM_OK;
  }
  if (o->engine == FKM_ENGINE_GPU) return s;
  cpu_instead(ctx);
  *out = FKM_ENGINE_CPU;
  return FKM_OK;
}

/* AUTO picked the GPU but a kernel had to be compiled and NVRTC is absent: the CPU engine runs,
 * with one log line saying why (the GPU call wrote nothing). */
static int fall_back_to_cpu(fkm_ctx *ctx, const fkm_options *o, fkm_status s) {
  if (o->engine != FKM_ENGINE_AUTO || s != FKM_ERR_NO_NVRTC) return 0;
  cpu_instead(ctx);
  return 1;
}

/* One rank of a multi-GPU fit (opts->comm): its checks, then the GPU engine, whose first step is
 * the ranks' agreement; a rank failing here joins that agreement with its error. */
static fkm_status fit_rank(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                           fkm_result *result, int host, void *stream) {
  fkm_status s = fkm__check_fit(ctx, points, opts, result, host);
  if (s == FKM_OK) s = fkm__gpu_available(ctx, opts->device);
  if (s != FKM_OK) return fkm__comm_agree(ctx, opts->comm, s);
  return fkm__gpu_fit(ctx, points, opts, result, !host, stream);
}

/* A fit split over opts->devices. Each GPU it uses is checked first, so that a missing driver or
 * device is said as such (FKM_ERR_NO_DRIVER, ...) rather than as an NCCL failure; with AUTO the CPU
 * engine then runs the whole fit, after one log line. The devices' ranks check their shards'
 * values; the CPU engine checks all of them. */
static fkm_status fit_devices(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                              fkm_result *result) {
  fkm_status s = fkm__check_fit(ctx, points, opts, result, 0);
  if (s != FKM_OK) return s;
  for (int i = 0; s == FKM_OK && i < fkm__multi_devices_used(points, opts); i++)
    s = fkm__gpu_available(ctx, opts->devices[i]);
  if (s == FKM_OK) return fkm__multi_fit(ctx, points, opts, result);
  if (opts->engine != FKM_ENGINE_AUTO) return s;
  cpu_instead(ctx);
  fkm_options o = *opts;
  o.devices = NULL, o.num_devices = 0;
  s = fkm__check_fit(ctx, points, &o, result, 1);
  return s == FKM_OK ? fkm__cpu_fit(ctx, points, &o, result) : s;
}

fkm_status fkm_fit(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                   fkm_result *result) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (opts && opts->comm) return fit_rank(ctx, points, opts, result, 1, NULL);
  if (opts && opts->num_devices > 1) return fit_devices(ctx, points, opts, result);
  fkm_status s = fkm__check_fit(ctx, points, opts, result, 1);
  fkm_engine engine = FKM_ENGINE_CPU;
  if (s == FKM_OK) s = pick_engine(ctx, points, opts, &engine);
  if (s != FKM_OK) return s;
  if (engine == FKM_ENGINE_GPU) {
    fkm_options o = *opts;
    if (opts->tune) fkm__gpu_tune_missing(ctx, points, opts, &o.config);
    s = fkm__gpu_fit(ctx, points, &o, result, 0, NULL);
    if (!fall_back_to_cpu(ctx, opts, s)) return s;
  }
  return fkm__cpu_fit(ctx, points, opts, result);
}

fkm_status fkm_tune(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                    fkm_config *best) {
  return fkm_tune_detailed(ctx, points, opts, best, NULL);
}

fkm_status fkm_tune_detailed(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                             fkm_config *best, fkm_tune_report *report) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!best) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "tune: best is NULL");
  if (report && report->capacity && !report->timings)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "tune: report->timings is NULL, capacity %zu",
                      report->capacity);
  fkm_status s = fkm__check_tune(ctx, points, opts);
  if (s == FKM_OK) s = fkm__gpu_available(ctx, opts->device);
  if (s == FKM_OK) s = fkm__gpu_supports(ctx, points, opts);
  return s == FKM_OK ? fkm__gpu_tune(ctx, points, opts, 0, best, report) : s;
}

/* opts without what only fit reads (init, n_init, sample_weight), so that predict's engine choice
 * does not depend on them. */
static fkm_options predict_options(const fkm_options *opts) {
  fkm_options o = *opts; /* predict is per rank: each labels its own points */
  o.comm = NULL;
  o.devices = NULL;
  o.num_devices = 0;
  o.init = FKM_INIT_RANDOM;
  o.init_centroids = NULL;
  o.n_init = 1;
  o.sample_weight = NULL;
  return o;
}

fkm_status fkm_predict(fkm_ctx *ctx, const fkm_points *points, const float *centroids,
                       const fkm_options *opts, int32_t *labels, double *inertia) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  fkm_status s = fkm__check_predict(ctx, points, centroids, opts, labels, 1);
  if (s != FKM_OK) return s;
  fkm_options o = predict_options(opts);
  fkm_engine engine = FKM_ENGINE_CPU;
  s = pick_engine(ctx, points, &o, &engine);
  if (s != FKM_OK) return s;
  if (engine == FKM_ENGINE_GPU) {
    s = fkm__gpu_predict(ctx, points, centroids, &o, labels, inertia, 0, NULL);
    if (!fall_back_to_cpu(ctx, &o, s)) return s;
  }
  return fkm__cpu_predict(ctx, points, centroids, &o, labels, inertia);
}

static fkm_status require_gpu_engine(fkm_ctx *ctx, const fkm_options *o) {
  if (o->engine == FKM_ENGINE_CPU)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "device entry points run on the GPU engine only");
  return fkm__gpu_available(ctx, o->device);
}

fkm_status fkm_fit_device(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                          fkm_result *result, void *stream) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (opts && opts->comm) return fit_rank(ctx, points, opts, result, 0, stream);
  fkm_status s = fkm__check_fit(ctx, points, opts, result, 0);
  if (s == FKM_OK && opts->num_devices > 1)
    s = fkm__error(ctx, FKM_ERR_INVALID_ARG,
                   "fit_device: devices splits host points; give each device's rank opts->comm");
  if (s == FKM_OK) s = require_gpu_engine(ctx, opts);
  if (s != FKM_OK) return s;
  return fkm__gpu_fit(ctx, points, opts, result, 1, stream);
}

fkm_status fkm_workspace_size(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                              size_t *bytes) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  fkm_status s = bytes ? fkm__check_shapes(ctx, points, opts)
                       : fkm__error(ctx, FKM_ERR_INVALID_ARG, "workspace_size: bytes is NULL");
  if (s == FKM_OK) s = require_gpu_engine(ctx, opts);
  return s == FKM_OK ? fkm__gpu_workspace_size(ctx, points, opts, bytes) : s;
}

fkm_status fkm_predict_device(fkm_ctx *ctx, const fkm_points *points, const float *centroids,
                              const fkm_options *opts, int32_t *labels, double *inertia,
                              void *stream) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  fkm_status s = fkm__check_predict(ctx, points, centroids, opts, labels, 0);
  if (s == FKM_OK) s = require_gpu_engine(ctx, opts);
  if (s != FKM_OK) return s;
  fkm_options o = predict_options(opts);
  return fkm__gpu_predict(ctx, points, centroids, &o, labels, inertia, 1, stream);
}
