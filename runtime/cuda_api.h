/* The CUDA driver API, opened at run time with dlopen + cuGetProcAddress (never linked).
 * Only runtime/ includes this header. */
#ifndef FKM_CUDA_API_H
#define FKM_CUDA_API_H

#include <cuda.h>

#include "internal.h"

/* Every driver function fkm calls. Names pass through cuda.h's version macros (cuMemAlloc is
 * cuMemAlloc_v2) so each member has the current ABI; lookups use the plain name. */
#define FKM_CU_FUNCTIONS(X)                                                                       \
  X(cuInit) X(cuDriverGetVersion) X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName)             \
  X(cuDeviceGetAttribute) X(cuDeviceTotalMem) X(cuDevicePrimaryCtxRetain)                           \
  X(cuDevicePrimaryCtxRelease) X(cuCtxSetCurrent) X(cuCtxSynchronize) X(cuModuleLoadData)           \
  X(cuModuleUnload) X(cuModuleGetFunction) X(cuFuncSetAttribute) X(cuFuncGetAttribute)              \
  X(cuLaunchKernel) X(cuMemAlloc) X(cuMemFree) X(cuMemGetInfo) X(cuMemcpyHtoDAsync)                 \
  X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync) X(cuMemsetD8Async) X(cuMemsetD32Async)                  \
  X(cuStreamSynchronize) X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord)                        \
  X(cuEventSynchronize) X(cuEventElapsedTime) X(cuGetErrorName) X(cuGetErrorString)                 \
  X(cuMemAllocHost) X(cuMemFreeHost) X(cuStreamCreate) X(cuStreamDestroy) X(cuStreamWaitEvent)    \
  X(cuPointerGetAttributes)

typedef struct fkm__cuda_api {
#define FKM_CU_MEMBER_(name) __typeof__(&name) name;
  FKM_CU_FUNCTIONS(FKM_CU_MEMBER_)
#undef FKM_CU_MEMBER_
} fkm__cuda_api;

/* Opens libcuda.so.1 once per process and calls cuInit(0). Returns the table or NULL with ctx's
 * error set (FKM_ERR_NO_DRIVER, or FKM_ERR_NO_DEVICE when cuInit finds none). */
const fkm__cuda_api *fkm__cuda(fkm_ctx *ctx, fkm_status *status);

/* Turns a failed driver call into FKM_ERR_CUDA (or FKM_ERR_DEVICE_MEMORY) with the error's name,
 * its text and the call. */
fkm_status fkm__cuda_error(fkm_ctx *ctx, CUresult r, const char *call);

#define FKM_CU_TRY(ctx, api, call)                                       \
  do {                                                                   \
    CUresult fkm_r_ = (api)->call;                                       \
    if (fkm_r_ != CUDA_SUCCESS) return fkm__cuda_error(ctx, fkm_r_, #call); \
  } while (0)

#endif
