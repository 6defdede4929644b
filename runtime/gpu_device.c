/* Device selection, primary context and the per-context module store. */
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "gpu.h"
#include "kernel_cache.h"

static fkm_status describe_device(fkm_ctx *ctx, struct fkm__gpu *g) {
  const fkm__cuda_api *cu = g->cu;
  int major = 0, minor = 0, optin = 0, per_sm = 0, reserved = 0;
  FKM_CU_TRY(ctx, cu, cuDeviceGetName(g->name, sizeof g->name, g->dev));
  FKM_CU_TRY(ctx, cu, cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, g->dev));
  FKM_CU_TRY(ctx, cu, cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, g->dev));
  FKM_CU_TRY(ctx, cu, cuDeviceGetAttribute(&g->multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, g->dev));
  FKM_CU_TRY(ctx, cu, cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, g->dev));
  FKM_CU_TRY(ctx, cu, cuDeviceGetAttribute(&per_sm, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, g->dev));
  FKM_CU_TRY(ctx, cu, cuDeviceGetAttribute(&reserved, CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK, g->dev));
  g->sm = major * 10 + minor;
  g->shared_optin = (size_t)optin;
  g->shared_per_sm = (size_t)per_sm, g->shared_reserved = (size_t)reserved;
  return FKM_OK;
}

void fkm__gpu_shared_of_limit(struct fkm__gpu *g, size_t optin) {
  g->shared_optin = optin, g->shared_reserved = FKM__SHARED_RESERVED;
  g->shared_per_sm = optin + FKM__SHARED_RESERVED;
}

static fkm_status open_device(fkm_ctx *ctx, int device, struct fkm__gpu *g) {
  fkm_status s = fkm__gpu_available(ctx, device);
  if (s != FKM_OK) return s;
  g->cu = fkm__cuda(ctx, &s);
  g->device = device;
  FKM_CU_TRY(ctx, g->cu, cuDeviceGet(&g->dev, device));
  FKM_CU_TRY(ctx, g->cu, cuDevicePrimaryCtxRetain(&g->context, g->dev));
  return describe_device(ctx, g);
}

fkm_status fkm__gpu_open(fkm_ctx *ctx, int device, struct fkm__gpu **out) {
  if (ctx->gpu && ctx->gpu->device != device) {
    fkm__gpu_free(ctx->gpu);
    ctx->gpu = NULL;
  }
  if (!ctx->gpu) {
    struct fkm__gpu *g = calloc(1, sizeof *g);
    if (!g) return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory opening the GPU");
    fkm_status s = open_device(ctx, device, g);
    if (s != FKM_OK) {
      if (g->context) g->cu->cuDevicePrimaryCtxRelease(g->dev);
      free(g);
      return s;
    }
    ctx->gpu = g;
  }
  *out = ctx->gpu;
  FKM_CU_TRY(ctx, ctx->gpu->cu, cuCtxSetCurrent(ctx->gpu->context));
  return FKM_OK;
}

void fkm__gpu_free(struct fkm__gpu *g) {
  if (!g) return;
  g->cu->cuCtxSetCurrent(g->context);
  for (size_t i = 0; i < g->module_count; i++) g->cu->cuModuleUnload(g->modules[i].module);
  free(g->modules);
  g->cu->cuDevicePrimaryCtxRelease(g->dev);
  free(g);
}

static fkm_status remember_module(fkm_ctx *ctx, struct fkm__gpu *g, uint64_t hash, CUmodule m) {
  if (g->module_count == g->module_cap) {
    size_t cap = g->module_cap ? 2 * g->module_cap : 16;
    fkm__module *grown = realloc(g->modules, cap * sizeof *grown);
    if (!grown) return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for the module table");
    g->modules = grown;
    g->module_cap = cap;
  }
  g->modules[g->module_count++] = (fkm__module){hash, m};
  return FKM_OK;
}

/* The cubin comes from the kernel cache when it holds it (no NVRTC call), else from NVRTC; a cached
 * cubin the driver refuses (e.g. built by a newer toolkit) is rebuilt once. */
static fkm_status build_module(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                               CUmodule *out) {
  double t0 = fkm__now_ms();
  fkm__cubin c;
  CUresult r = CUDA_SUCCESS;
  fkm_status st = fkm__kernel_cubin(ctx, s, FKM__LAYERS_ALL, &c);
  if (st == FKM_OK && (r = g->cu->cuModuleLoadData(out, c.data)) != CUDA_SUCCESS && c.layer) {
    fkm__log(ctx, FKM_LOG_WARN, "a cached kernel does not load (CUDA error %d): rebuilding it", (int)r);
    free(c.data);
    st = fkm__kernel_cubin(ctx, s, 0, &c);
    if (st == FKM_OK) r = g->cu->cuModuleLoadData(out, c.data);
  }
  if (st == FKM_OK && r != CUDA_SUCCESS) st = fkm__cuda_error(ctx, r, "cuModuleLoadData");
  free(c.data);
  g->ms_compile += fkm__now_ms() - t0;
  return st == FKM_OK ? remember_module(ctx, g, fkm__spec_hash(s), *out) : st;
}

static CUmodule find_module(const struct fkm__gpu *g, uint64_t hash) {
  for (size_t i = 0; i < g->module_count; i++)
    if (g->modules[i].hash == hash) return g->modules[i].module;
  return NULL;
}

fkm_status fkm__gpu_module(fkm_ctx *ctx, struct fkm__gpu *g, uint64_t key, const void *image,
                           CUmodule *out) {
  *out = find_module(g, key);
  if (*out) return FKM_OK;
  double t0 = fkm__now_ms();
  CUresult r = g->cu->cuModuleLoadData(out, image);
  g->ms_compile += fkm__now_ms() - t0;
  if (r != CUDA_SUCCESS) return fkm__cuda_error(ctx, r, "cuModuleLoadData");
  fkm_status st = remember_module(ctx, g, key, *out);
  if (st != FKM_OK) g->cu->cuModuleUnload(*out);
  return st;
}

fkm_status fkm__gpu_adopt(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                          const void *cubin) {
  CUmodule m;
  return fkm__gpu_module(ctx, g, fkm__spec_hash(s), cubin, &m);
}

fkm_status fkm__gpu_function(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                             const char *entry, CUfunction *out) {
  CUmodule m = find_module(g, fkm__spec_hash(s));
  if (!m) {
    fkm_status st = build_module(ctx, g, s, &m);
    if (st != FKM_OK) return st;
  }
  char name[96];
  fkm__entry_name(s, entry, name, sizeof name);
  CUresult r = g->cu->cuModuleGetFunction(out, m, name);
  return r == CUDA_SUCCESS ? FKM_OK : fkm__cuda_error(ctx, r, "cuModuleGetFunction");
}

fkm_status fkm__allow_shared(fkm_ctx *ctx, const struct fkm__gpu *g, CUfunction f, size_t bytes) {
  if (bytes <= FKM__SHARED_WITHOUT_OPT_IN) return FKM_OK;
  CUresult r =
      g->cu->cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)bytes);
  return r == CUDA_SUCCESS ? FKM_OK : fkm__cuda_error(ctx, r, "cuFuncSetAttribute");
}

fkm_status fkm__launch_grid(fkm_ctx *ctx, const struct fkm__gpu *g, CUfunction f,
                            const unsigned grid[3], unsigned threads, size_t shared,
                            CUstream stream, void **args) {
  CUresult r = g->cu->cuLaunchKernel(f, grid[0], grid[1], grid[2], threads, 1, 1, (unsigned)shared,
                                     stream, args, NULL);
  return r == CUDA_SUCCESS ? FKM_OK : fkm__cuda_error(ctx, r, "cuLaunchKernel");
}

fkm_status fkm__launch(fkm_ctx *ctx, const struct fkm__gpu *g, CUfunction f, unsigned gx,
                       unsigned gy, unsigned threads, size_t shared, CUstream stream, void **args) {
  const unsigned grid[3] = {gx, gy, 1};
  return fkm__launch_grid(ctx, g, f, grid, threads, shared, stream, args);
}
