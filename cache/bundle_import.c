/* fkm_cache_import: a bundle's entries and tuning records into the user cache, all or nothing
 * after checking them. */
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "tuning.h"

/* Every payload read and checked; FKM_ERR_FORMAT naming the first bad one. */
static fkm_status check_payloads(fkm_ctx *ctx, const fkm__bundle *b) {
  char why[256];
  for (size_t i = 0; i < b->count; i++) {
    void *cubin = NULL;
    size_t size = 0;
    if (fkm__bundle_read(b, &b->entries[i], &cubin, &size, why, sizeof why) != 0)
      return fkm__error(ctx, FKM_ERR_FORMAT, "import: bundle %s: entry %s: %s", b->path,
                        b->entries[i].meta.hash, why);
    free(cubin);
  }
  return FKM_OK;
}

/* Every tuning record parsed and checked; FKM_ERR_FORMAT naming the first bad one. */
static fkm_status check_tuning(fkm_ctx *ctx, const fkm__bundle *b) {
  size_t i;
  const json_t *j;
  json_array_foreach(b->tuning, i, j) {
    fkm__tuning_record r;
    const char *bad = fkm__tuning_from_json(j, &r);
    if (bad)
      return fkm__error(ctx, FKM_ERR_FORMAT, "import: bundle %s: tuning record %zu: %s", b->path,
                        i, bad);
  }
  return FKM_OK;
}

static fkm_status copy_tuning(fkm_ctx *ctx, const fkm__bundle *b, const char *root) {
  size_t i;
  const json_t *j;
  json_array_foreach(b->tuning, i, j) {
    fkm__tuning_record r;
    int err = fkm__tuning_from_json(j, &r) ? EINVAL : fkm__tuning_store(root, &r);
    if (err)
      return fkm__error(ctx, FKM_ERR_IO, "import: cannot write a tuning record into %s: %s", root,
                        strerror(err));
  }
  return FKM_OK;
}

static fkm_status copy_entries(fkm_ctx *ctx, const fkm__bundle *b, const char *root) {
  char why[256];
  for (size_t i = 0; i < b->count; i++) {
    const fkm__bundle_entry *e = &b->entries[i];
    void *cubin = NULL;
    size_t size = 0;
    if (fkm__bundle_read(b, e, &cubin, &size, why, sizeof why) != 0)
      return fkm__error(ctx, FKM_ERR_FORMAT, "import: bundle %s: entry %s: %s", b->path,
                        e->meta.hash, why);
    int err = fkm__entry_write(root, e->meta.hash, cubin, size, &e->meta);
    free(cubin);
    if (err)
      return fkm__error(ctx, FKM_ERR_IO, "import: cannot write into %s: %s", root, strerror(err));
  }
  return FKM_OK;
}

fkm_status fkm_cache_import(fkm_ctx *ctx, const char *bundle_path) {
  char root[FKM__PATH_MAX], why[512];
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!bundle_path || !bundle_path[0])
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "import: no bundle path");
  if (!fkm__cache_user_root(root, sizeof root))
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "import: the disk cache is disabled");
  fkm__bundle b;
  fkm_status st = fkm__bundle_open(bundle_path, &b, why, sizeof why);
  if (st != FKM_OK)
    fkm__error(ctx, st, "import: %s: %s", bundle_path, why);
  else if (b.bad)
    st = fkm__error(ctx, FKM_ERR_FORMAT, "import: %s: %zu damaged manifest entries (first: %s)",
                    bundle_path, b.bad, b.first_bad);
  if (st == FKM_OK) st = check_payloads(ctx, &b);
  if (st == FKM_OK) st = check_tuning(ctx, &b);
  if (st == FKM_OK) st = copy_entries(ctx, &b, root);
  if (st == FKM_OK) st = copy_tuning(ctx, &b, root);
  if (st == FKM_OK)
    fkm__log(ctx, FKM_LOG_INFO, "imported %zu kernels and %zu tuning records from %s", b.count,
             json_array_size(b.tuning), bundle_path);
  fkm__bundle_close(&b);
  return st;
}
