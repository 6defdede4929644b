/* fkm_runtime_query: what this machine offers (driver, NVRTC, device). */
#include <stdio.h>
#include <string.h>

#include "cuda_api.h"
#include "nvrtc_api.h"

static void query_device(const fkm__cuda_api *cu, fkm_runtime_info *info) {
  CUdevice dev;
  int major = 0, minor = 0;
  if (cu->cuDeviceGetCount(&info->device_count) != CUDA_SUCCESS || info->device_count < 1) return;
  if (cu->cuDeviceGet(&dev, 0) != CUDA_SUCCESS) return;
  cu->cuDeviceGetName(info->device_name, sizeof info->device_name, dev);
  cu->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  cu->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
  cu->cuDeviceGetAttribute(&info->multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
  cu->cuDeviceTotalMem(&info->device_memory, dev);
  info->sm = major * 10 + minor;
}

fkm_status fkm_runtime_query(fkm_ctx *ctx, fkm_runtime_info *info) {
  if (!ctx || !info) return FKM_ERR_INVALID_ARG;
  memset(info, 0, sizeof *info);
  fkm__clear_error(ctx);
  const fkm__cuda_api *cu = fkm__cuda(ctx, &info->driver);
  if (cu) {
    cu->cuDriverGetVersion(&info->driver_version);
    query_device(cu, info);
  } else if (info->driver == FKM_ERR_NO_DEVICE) {
    cu = NULL;
  }
  const fkm__nvrtc_api *nv = fkm__nvrtc(ctx);
  info->nvrtc = nv ? FKM_OK : FKM_ERR_NO_NVRTC;
  if (nv) {
    info->nvrtc_major = nv->major;
    info->nvrtc_minor = nv->minor;
    snprintf(info->nvrtc_path, sizeof info->nvrtc_path, "%s", nv->path);
  }
  fkm__clear_error(ctx);
  info->gpu = fkm__gpu_available(ctx, 0);
  fkm__clear_error(ctx);
  return FKM_OK;
}
