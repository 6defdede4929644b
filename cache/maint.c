/* Maintenance of the user cache: list, verify, clear. */
#include <stdio.h>
#include <string.h>

#include "cache.h"

typedef struct walk {
  fkm_ctx *ctx;
  const char *root;
  fkm_cache_entry_fn fn;
  void *user;
  size_t bad;
} walk;

static int list_one(const char *key, void *user) {
  walk *w = user;
  fkm__kernel_meta m;
  size_t size = 0;
  char why[512], target[16];
  if (fkm__entry_read(w->root, key, NULL, &size, &m, why, sizeof why) != FKM__ENTRY_OK) return 0;
  fkm__meta_target(&m, target);
  fkm_cache_entry e = {key, m.name, m.kernel_kind, m.metric, m.dtype, m.d, target, size};
  return w->fn(&e, w->user);
}

static int verify_one(const char *key, void *user) {
  walk *w = user;
  char why[512] = "no kernel.json (an interrupted write)";
  if (fkm__entry_read(w->root, key, NULL, NULL, NULL, why, sizeof why) == FKM__ENTRY_OK) return 0;
  w->bad++;
  fkm__log(w->ctx, FKM_LOG_WARN, "kernel cache entry %s/kernels/%s: %s", w->root, key, why);
  return 0;
}

/* Runs fn over the user cache; a disabled cache is an empty one. */
static fkm_status walk_cache(fkm_ctx *ctx, walk *w, char *root, int (*fn)(const char *, void *)) {
  fkm__clear_error(ctx);
  if (!fkm__cache_user_root(root, FKM__PATH_MAX)) return FKM_OK;
  w->ctx = ctx, w->root = root;
  int err = fkm__cache_scan(root, fn, w);
  return err ? fkm__error(ctx, FKM_ERR_IO, "cannot read %s/kernels: %s", root, strerror(err))
             : FKM_OK;
}

fkm_status fkm_cache_list(fkm_ctx *ctx, fkm_cache_entry_fn fn, void *user) {
  char root[FKM__PATH_MAX];
  if (!ctx || !fn) return FKM_ERR_INVALID_ARG;
  walk w = {ctx, root, fn, user, 0};
  return walk_cache(ctx, &w, root, list_one);
}

fkm_status fkm_cache_verify(fkm_ctx *ctx, size_t *bad_entries) {
  char root[FKM__PATH_MAX];
  if (!ctx || !bad_entries) return FKM_ERR_INVALID_ARG;
  walk w = {ctx, root, NULL, NULL, 0};
  fkm_status st = walk_cache(ctx, &w, root, verify_one);
  *bad_entries = w.bad;
  return st;
}

fkm_status fkm_cache_clear(fkm_ctx *ctx) {
  char root[FKM__PATH_MAX], dir[FKM__PATH_MAX];
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!fkm__cache_user_root(root, sizeof root)) return FKM_OK;
  if (fkm__path(dir, sizeof dir, "%s/kernels", root) != 0)
    return fkm__error(ctx, FKM_ERR_IO, "cache root path too long");
  int err = fkm__remove_tree(dir);
  return err ? fkm__error(ctx, FKM_ERR_IO, "cannot remove %s: %s", dir, strerror(err)) : FKM_OK;
}
