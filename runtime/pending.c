/* Entry points whose engines arrive with later issues: each says what is missing. */
#include "internal.h"

fkm_status fkm_tune(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                    fkm_config *best) {
  (void)points, (void)opts, (void)best;
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "autotuning is not implemented yet (issue 5)");
}
