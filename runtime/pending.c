/* Entry points whose engines arrive with later issues: each says what is missing. */
#include "internal.h"

static fkm_status pending(fkm_ctx *ctx, const char *what) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "%s is not implemented yet (issue 5)", what);
}

fkm_status fkm_tune(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                    fkm_config *best) {
  (void)points, (void)opts, (void)best;
  return pending(ctx, "autotuning");
}

fkm_status fkm_cache_export(fkm_ctx *ctx, const char *bundle_path) {
  (void)bundle_path;
  return pending(ctx, "cache export");
}

fkm_status fkm_cache_import(fkm_ctx *ctx, const char *bundle_path) {
  (void)bundle_path;
  return pending(ctx, "cache import");
}

fkm_status fkm_cache_verify(fkm_ctx *ctx, size_t *bad_entries) {
  (void)bad_entries;
  return pending(ctx, "cache verify");
}

fkm_status fkm_cache_clear(fkm_ctx *ctx) { return pending(ctx, "cache clear"); }
