/* NVRTC, opened at run time with dlopen (never linked). Only codegen/ includes this header. */
#ifndef FKM_NVRTC_API_H
#define FKM_NVRTC_API_H

#include <nvrtc.h>

#include "internal.h"

#define FKM_NVRTC_FUNCTIONS(X)                                                                   \
  X(nvrtcVersion) X(nvrtcCreateProgram) X(nvrtcDestroyProgram) X(nvrtcCompileProgram)            \
  X(nvrtcGetProgramLogSize) X(nvrtcGetProgramLog) X(nvrtcGetCUBINSize) X(nvrtcGetCUBIN)          \
  X(nvrtcGetErrorString)

typedef struct fkm__nvrtc_api {
#define FKM_NVRTC_MEMBER_(name) __typeof__(&name) name;
  FKM_NVRTC_FUNCTIONS(FKM_NVRTC_MEMBER_)
#undef FKM_NVRTC_MEMBER_
  int major, minor;
  char path[256]; /* the library that was opened */
} fkm__nvrtc_api;

/* Opens NVRTC once per process: $FKM_NVRTC_PATH if set (and only it), else libnvrtc.so.13, .12,
 * .11, then the toolkit's lib64. Returns the table, or NULL with FKM_ERR_NO_NVRTC and detail. */
const fkm__nvrtc_api *fkm__nvrtc(fkm_ctx *ctx);

#endif
