/* Public entry points of the Triton compatibility layer: fkm_triton_inspect,
 * fkm_tuning_export_triton and fkm_tuning_import_triton. */
#include <errno.h>
#include <string.h>

#include "tuning.h"

typedef struct inspect_state {
  fkm_triton_kernel_fn fn;
  void *user;
} inspect_state;

static int report_kernel(const fkm__triton_kernel *k, void *user) {
  const inspect_state *st = user;
  const fkm__triton_meta *m = &k->meta;
  fkm_triton_kernel out = {.dir = k->dir,
                           .name = k->meta_ok ? m->name : "",
                           .hash = m->hash,
                           .num_warps = m->num_warps,
                           .num_ctas = m->num_ctas,
                           .num_stages = m->num_stages,
                           .shared = m->shared,
                           .arch = m->arch,
                           .params = k->params,
                           .hidden_params = m->hidden_params,
                           .param_sizes = k->params >= 0 && k->params <= FKM__MAX_KERNEL_PARAMS
                                              ? k->param_sizes
                                              : NULL,
                           .launchable = k->launchable,
                           .why = k->why};
  return st->fn(&out, st->user);
}

fkm_status fkm_triton_inspect(fkm_ctx *ctx, const char *dir, int sm, fkm_triton_kernel_fn fn,
                              void *user) {
  if (!ctx || !dir || !fn || sm < 0)
    return ctx ? fkm__error(ctx, FKM_ERR_INVALID_ARG, "triton inspect: NULL argument or sm < 0")
               : FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  inspect_state st = {fn, user};
  int err = fkm__triton_scan(dir, sm, report_kernel, &st);
  if (err) return fkm__error(ctx, FKM_ERR_IO, "cannot read Triton cache %s: %s", dir, strerror(err));
  return FKM_OK;
}

typedef struct export_state {
  const char *dir;
  size_t written;
  int err;
} export_state;

static int export_record(const fkm__tuning_record *r, void *user) {
  export_state *st = user;
  st->err = fkm__triton_autotune_export(r, st->dir);
  st->written += st->err == 0;
  return st->err;
}

fkm_status fkm_tuning_export_triton(fkm_ctx *ctx, const char *dir, size_t *written) {
  char root[FKM__PATH_MAX];
  if (!ctx || !dir) return ctx ? fkm__error(ctx, FKM_ERR_INVALID_ARG, "NULL argument") : FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  export_state st = {dir, 0, 0};
  if (written) *written = 0;
  if (!fkm__cache_user_root(root, sizeof root)) return FKM_OK; /* no cache: nothing to export */
  int err = fkm__tuning_scan(root, export_record, &st);
  if (written) *written = st.written;
  if (st.err || err)
    return fkm__error(ctx, FKM_ERR_IO, "export of tuning records to %s: %s", dir,
                      strerror(st.err ? st.err : err));
  return FKM_OK;
}

fkm_status fkm_tuning_import_triton(fkm_ctx *ctx, const char *path, const char *device_name,
                                    int sm, int d, int64_t batches, fkm_config *imported) {
  char root[FKM__PATH_MAX], why[512];
  if (!ctx || !path || !device_name || sm <= 0 || d < 1 || batches < 1)
    return ctx ? fkm__error(ctx, FKM_ERR_INVALID_ARG,
                            "tuning import: needs a path, a device name, sm > 0, D ≥ 1, B ≥ 1")
               : FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  fkm__tuning_record base, r;
  fkm__tuning_query(&base, device_name, sm, "assign", "l2", "fp16", d, 1, 1, batches);
  fkm_status s = fkm__triton_autotune_import(path, &base, &r, why, sizeof why);
  if (s != FKM_OK) return fkm__error(ctx, s, "tuning import: %s", why);
  if (!fkm__cache_user_root(root, sizeof root))
    return fkm__error(ctx, FKM_ERR_IO, "tuning import: the disk cache is disabled");
  int err = fkm__tuning_store(root, &r);
  if (err) return fkm__error(ctx, FKM_ERR_IO, "tuning import into %s: %s", root, strerror(err));
  if (imported) *imported = r.config;
  return FKM_OK;
}
