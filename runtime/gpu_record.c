/* Tuning records as the GPU engine reads and writes them (SPEC §4): the record of a shape on a
 * device, looked up through the override dir, the user cache and the bundles, and the winner of a
 * tuning run stored into the user cache. */
#include <stdio.h>
#include <string.h>

#include "gpu.h"
#include "tuning.h"

/* The identity of the record for these shapes on g (config and ms zero). */
static void record_query(const struct fkm__gpu *g, const fkm_points *p, const fkm_options *o,
                         fkm__tuning_record *q) {
  fkm__kernel_spec base = fkm__gpu_assign_base(g, p, o);
  const char *dtype = base.precision == FKM_PRECISION_TF32 ? "tf32" : fkm__dtype_name(base.dtype);
  fkm__tuning_query(q, g->name, g->sm, "assign", fkm__metric_name(o->metric), dtype, (int)p->d,
                    p->n, o->k, p->batches);
}

int fkm__gpu_record_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                         const fkm_options *o, fkm__kernel_spec *out, fkm__spec_layout *layout) {
  fkm__tuning_record q, r;
  if (!g->name[0]) return 0;
  record_query(g, p, o, &q);
  if (!fkm__tuning_find(ctx, &q, &r)) return 0;
  char why[256] = "";
  fkm__kernel_spec base = fkm__gpu_assign_base(g, p, o);
  fkm_status st = fkm__config_spec(&base, &r.config, out, layout, why, sizeof why);
  if (st == FKM_OK && g->shared_optin && layout->shared > g->shared_optin) {
    snprintf(why, sizeof why, "needs %zu bytes of shared memory, the device allows %zu",
             layout->shared, g->shared_optin);
    st = FKM_ERR_REJECTED;
  }
  if (st == FKM_OK) return 1;
  fkm__log(ctx, FKM_LOG_WARN,
           "tuning record for %s D=%d N~%lld K~%lld B~%lld ignored: BLOCK_N=%d BLOCK_K=%d "
           "BLOCK_D=%d num_warps=%d num_stages=%d num_ctas=%d: %s",
           q.dtype, q.d, q.n_bucket, q.k_bucket, q.b_bucket, r.config.BLOCK_N, r.config.BLOCK_K,
           r.config.BLOCK_D, r.config.num_warps, r.config.num_stages, r.config.num_ctas, why);
  return 0;
}

fkm_status fkm__gpu_record_store(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                 const fkm_options *o, const fkm_config *c, double ms) {
  char root[FKM__PATH_MAX];
  fkm__tuning_record r;
  if (!fkm__cache_user_root(root, sizeof root))
    return fkm__error(ctx, FKM_ERR_IO, "the disk cache is disabled (FKM_CACHE_DIR is empty)");
  record_query(g, p, o, &r);
  r.config = *c;
  r.ms = ms;
  int err = fkm__tuning_store(root, &r);
  if (err)
    return fkm__error(ctx, FKM_ERR_IO, "cannot write a tuning record under %s/tuning: %s", root,
                      strerror(err));
  return FKM_OK;
}
