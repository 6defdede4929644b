/* CPU reference engine (placeholder). */
#include "internal.h"

fkm_status fkm__cpu_fit(fkm_ctx *ctx, const fkm_points *p, const fkm_options *o, fkm_result *r) {
  (void)p, (void)o, (void)r;
  return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "CPU engine pending");
}

fkm_status fkm__cpu_predict(fkm_ctx *ctx, const fkm_points *p, const float *centroids,
                            const fkm_options *o, int32_t *labels, double *inertia) {
  (void)p, (void)centroids, (void)o, (void)labels, (void)inertia;
  return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "CPU engine pending");
}
