/* GPU engine entry points (placeholder until the kernels land). */
#include "cuda_api.h"
#include "nvrtc_api.h"

fkm_status fkm__gpu_available(fkm_ctx *ctx, int device) {
  fkm_status s;
  const fkm__cuda_api *cu = fkm__cuda(ctx, &s);
  if (!cu) return s;
  int count = 0;
  FKM_CU_TRY(ctx, cu, cuDeviceGetCount(&count));
  if (device >= count)
    return fkm__error(ctx, FKM_ERR_NO_DEVICE, "device %d requested but %d CUDA device(s) found",
                      device, count);
  if (!fkm__nvrtc(ctx)) return FKM_ERR_NO_NVRTC;
  return FKM_OK;
}

fkm_status fkm__gpu_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r,
                        int device, void *stream) {
  (void)p, (void)o, (void)r, (void)device, (void)stream;
  return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "the GPU engine is not implemented yet (issue 3)");
}

fkm_status fkm__gpu_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                            const fkm_options *o, int32_t *labels, double *inertia, int device,
                            void *stream) {
  (void)p, (void)centroids, (void)o, (void)labels, (void)inertia, (void)device, (void)stream;
  return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "the GPU engine is not implemented yet (issue 3)");
}

void fkm__gpu_free(struct fkm__gpu *g) { (void)g; }
