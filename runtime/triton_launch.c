/* fkm_triton_launch: a kernel of a Triton cache directory launched through fkm's launcher, in the
 * device's primary context beside fkm's own kernels. Everything that needs no device is checked
 * before the device is opened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "gpu.h"
#include "tuning.h"

#define MODULE_KEY_SEED 0x54726974u       /* separates Triton cubins' keys from fkm's spec hashes */

static fkm_status refuse(fkm_ctx *ctx, fkm_status s, const char *dir, const char *name,
                         const char *why) {
  return fkm__error(ctx, s, "triton launch of %s/%s: %s", dir, name, why);
}

/* Status of a kernel whose metadata did not read: FKM_ERR_IO when the file cannot be read, else
 * FKM_ERR_FORMAT. */
static fkm_status meta_status(const char *dir, const char *name) {
  char path[FKM__PATH_MAX];
  int readable = fkm__path(path, sizeof path, "%s/%s.json", dir, name) == 0 &&
                 access(path, R_OK) == 0;
  return readable ? FKM_ERR_FORMAT : FKM_ERR_IO;
}

/* The checks that need no device, in order: metadata, launch features, the cubin and its parameter
 * records, then arg_count + hidden = the cubin's parameter count. FKM_OK with *cubin (owned by the
 * caller) and *k filled, else the refusal with detail and *cubin NULL. */
static fkm_status check_kernel(fkm_ctx *ctx, const char *dir, const char *name, int arg_count,
                               fkm__triton_kernel *k, void **cubin, size_t *size) {
  char why[256];
  fkm__triton_kernel_load(dir, name, 0, -1, k, cubin, size);
  fkm_status s = FKM_OK;
  if (!k->meta_ok) s = refuse(ctx, meta_status(dir, name), dir, name, k->why);
  else if (!fkm__triton_launchable(&k->meta, 0, why, sizeof why))
    s = refuse(ctx, FKM_ERR_UNSUPPORTED, dir, name, why);
  else if (!*cubin) s = refuse(ctx, FKM_ERR_IO, dir, name, k->why);
  else if (!k->launchable) s = refuse(ctx, FKM_ERR_FORMAT, dir, name, k->why);
  else if (k->params != arg_count + k->meta.hidden_params) {
    snprintf(why, sizeof why, "%d arguments given; the cubin has %d parameters, of which the last "
             "%d are hidden scratch pointers fkm appends, so it takes %d", arg_count, k->params,
             k->meta.hidden_params, k->params - k->meta.hidden_params);
    s = refuse(ctx, FKM_ERR_INVALID_ARG, dir, name, why);
  }
  if (s != FKM_OK) free(*cubin), *cubin = NULL;
  return s;
}

/* What only the device can answer: target.arch runs on it and `shared` fits. */
static fkm_status check_device(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm__triton_kernel *k,
                               const char *name) {
  char why[256];
  if (!fkm__triton_launchable(&k->meta, g->sm, why, sizeof why))
    return refuse(ctx, FKM_ERR_UNSUPPORTED, k->dir, name, why);
  if (k->meta.shared > (long long)g->shared_optin) {
    snprintf(why, sizeof why, "needs %lld bytes of shared memory, the device allows %zu per block",
             k->meta.shared, g->shared_optin);
    return refuse(ctx, FKM_ERR_UNSUPPORTED, k->dir, name, why);
  }
  return FKM_OK;
}

/* The kernel's function in g's module store, its dynamic shared-memory limit raised to `shared`
 * when that is above the default, as Triton's loader does. */
static fkm_status triton_function(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__triton_kernel *k,
                                  const void *cubin, size_t size, CUfunction *f) {
  CUmodule m;
  fkm_status s = fkm__gpu_module(ctx, g, XXH3_64bits_withSeed(cubin, size, MODULE_KEY_SEED), cubin,
                                 &m);
  if (s != FKM_OK) return s;
  FKM_CU_TRY(ctx, g->cu, cuModuleGetFunction(f, m, k->meta.name));
  return fkm__allow_shared(ctx, g, *f, k->meta.shared);
}

/* Opens the device, checks it, and launches with the user's arguments followed by NULL for each
 * hidden scratch pointer (valid: check_kernel refused kernels with non-zero scratch sizes). */
static fkm_status launch(fkm_ctx *ctx, const fkm__triton_kernel *k, const char *name,
                         const void *cubin, size_t size, int device, const unsigned grid[3],
                         void **args, int arg_count, void *stream) {
  struct fkm__gpu *g;
  CUfunction f;
  fkm_status s = fkm__gpu_open(ctx, device, &g);
  if (s == FKM_OK) s = check_device(ctx, g, k, name);
  if (s == FKM_OK) s = triton_function(ctx, g, k, cubin, size, &f);
  if (s != FKM_OK) return s;
  void *all[FKM__MAX_KERNEL_PARAMS];
  CUdeviceptr scratch[2] = {0, 0};
  for (int i = 0; i < arg_count; i++) all[i] = args[i];
  for (int i = 0; i < k->meta.hidden_params; i++) all[arg_count + i] = &scratch[i];
  return fkm__launch_grid(ctx, g, f, grid, 32u * (unsigned)k->meta.num_warps,
                          (size_t)k->meta.shared, (CUstream)stream, all);
}

fkm_status fkm_triton_launch(fkm_ctx *ctx, const char *kernel_dir, const char *name, int device,
                             const unsigned grid[3], void **args, int arg_count, void *stream) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!kernel_dir || !name || !grid || !grid[0] || !grid[1] || !grid[2] || device < 0 ||
      arg_count < 0 || arg_count > FKM__MAX_KERNEL_PARAMS || (arg_count > 0 && !args))
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "triton launch: needs a kernel folder, a name, a "
                      "grid of three non-zero sizes, device ≥ 0 and 0..%d arguments",
                      FKM__MAX_KERNEL_PARAMS);
  fkm__triton_kernel *k = malloc(sizeof *k);
  if (!k) return fkm__error(ctx, FKM_ERR_NOMEM, "triton launch: out of host memory");
  void *cubin;
  size_t size;
  fkm_status s = check_kernel(ctx, kernel_dir, name, arg_count, k, &cubin, &size);
  if (s == FKM_OK) s = launch(ctx, k, name, cubin, size, device, grid, args, arg_count, stream);
  free(cubin);
  free(k);
  return s;
}
