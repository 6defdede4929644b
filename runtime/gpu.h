/* GPU engine internals: device context, kernel modules, workspace, launches. Only runtime/. */
#ifndef FKM_GPU_H
#define FKM_GPU_H

#include "cuda_api.h"
#include "spec.h"

/* One compiled and loaded module, keyed by its spec hash. */
typedef struct fkm__module {
  uint64_t hash;
  CUmodule module;
} fkm__module;

struct fkm__gpu {
  const fkm__cuda_api *cu;
  int device;
  CUdevice dev;
  CUcontext context;        /* primary context, retained */
  int sm, multiprocessors;
  size_t shared_optin;      /* max dynamic shared memory per block */
  char name[256];
  fkm__module *modules;     /* owned, loaded modules of this context */
  size_t module_count, module_cap;
  double ms_compile;        /* compile + load time accumulated by the running call */
};

/* Opens (once per context) the device opts->device and makes its primary context current. */
fkm_status fkm__gpu_open(fkm_ctx *ctx, int device, struct fkm__gpu **out);

/* The function `entry` of spec, compiling and loading its module on first use. */
fkm_status fkm__gpu_function(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                             const char *entry, CUfunction *out);

/* The assign-kernel spec for these shapes: opts->config when given (validated), else the model's
 * pick for the target. */
fkm_status fkm__gpu_assign_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                const fkm_options *o, fkm__kernel_spec *out,
                                fkm__spec_layout *layout);

/* Kernel launch on stream with 1-D block; args as cuLaunchKernel takes them. */
fkm_status fkm__launch(fkm_ctx *ctx, const struct fkm__gpu *g, CUfunction f, unsigned gx,
                       unsigned gy, unsigned threads, size_t shared, CUstream stream, void **args);

#endif
