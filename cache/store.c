/* The layered cubin store: lookups across override dir, user cache and bundles; user-cache writes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"

/* Counts a damaged entry of layer (its name's first letter) and key met by a lookup; 1 when it is
 * the first time this context meets it, which is then remembered (the last FKM__REPORTED), so that
 * entries a lookup cannot repair (read-only layers) are logged once, not at every lookup; a store
 * into the user cache forgets its key again. */
static int first_damage(fkm_ctx *ctx, const char *layer, const char *key) {
  struct fkm__cache_state *s = fkm__cache_state_of(ctx);
  char id[34];
  snprintf(id, sizeof id, "%c%s", layer[0], key);
  s->stats.damaged++;
  for (int i = 0; i < FKM__REPORTED; i++)
    if (strcmp(s->reported[i], id) == 0) return 0;
  memcpy(s->reported[s->reported_next++ % FKM__REPORTED], id, sizeof id);
  return 1;
}

static int lookup_root(fkm_ctx *ctx, const char *root, const char *layer, const char *key,
                       void **cubin, size_t *size) {
  char why[512];
  fkm__entry_state st = fkm__entry_read(root, key, cubin, size, NULL, why, sizeof why);
  if (st == FKM__ENTRY_DAMAGED && first_damage(ctx, layer, key))
    fkm__log(ctx, FKM_LOG_WARN, "kernel cache: %s entry %s/kernels/%s is damaged (%s): a miss",
             layer, root, key, why);
  return st == FKM__ENTRY_OK;
}

static int lookup_bundles(fkm_ctx *ctx, const char *key, void **cubin, size_t *size) {
  size_t count;
  const fkm__bundle *b = fkm__cache_bundles(ctx, &count);
  char why[512];
  for (size_t i = 0; i < count; i++) {
    const fkm__bundle_entry *e = fkm__bundle_find(&b[i], key);
    if (!e) continue;
    if (fkm__bundle_read(&b[i], e, cubin, size, why, sizeof why) == 0) return 1;
    if (first_damage(ctx, "bundle", key))
      fkm__log(ctx, FKM_LOG_WARN, "kernel bundle %s: entry %s is damaged (%s): a miss", b[i].path,
               key, why);
  }
  return 0;
}

/* The first layer of `layers` holding an intact entry, or 0. */
static unsigned find(fkm_ctx *ctx, const char *key, unsigned layers, void **cubin, size_t *size) {
  char user[FKM__PATH_MAX];
  const char *over = fkm__cache_override_root();
  if ((layers & FKM__LAYER_OVERRIDE) && over && lookup_root(ctx, over, "override", key, cubin, size))
    return FKM__LAYER_OVERRIDE;
  if ((layers & FKM__LAYER_USER) && fkm__cache_user_root(user, sizeof user) &&
      lookup_root(ctx, user, "user", key, cubin, size))
    return FKM__LAYER_USER;
  if ((layers & FKM__LAYER_BUNDLES) && lookup_bundles(ctx, key, cubin, size))
    return FKM__LAYER_BUNDLES;
  return 0;
}

int fkm__cache_lookup(fkm_ctx *ctx, const fkm__cache_key *key, unsigned layers, void **cubin,
                      size_t *size, unsigned *layer) {
  struct fkm__cache_state *s = fkm__cache_state_of(ctx);
  *cubin = NULL;
  if (!s) return 0;
  unsigned hit = find(ctx, key->hex, layers, cubin, size);
  if (layer) *layer = hit;
  return hit != 0;
}

fkm_status fkm__cache_store(fkm_ctx *ctx, const fkm__cache_key *key, const void *cubin,
                            size_t size, const fkm__kernel_meta *meta) {
  struct fkm__cache_state *s = fkm__cache_state_of(ctx);
  char root[FKM__PATH_MAX];
  if (!s) return FKM_ERR_NOMEM;
  if (s->stores_off || !fkm__cache_user_root(root, sizeof root)) return FKM_ERR_IO;
  int err = fkm__entry_write(root, key->hex, cubin, size, meta);
  if (err == ENOMEM) return FKM_ERR_NOMEM;
  if (err) {
    s->stores_off = 1;
    fkm__log(ctx, FKM_LOG_WARN,
             "kernel cache %s is not writable (%s): this context goes on without caching", root,
             strerror(err));
    return FKM_ERR_IO;
  }
  for (int i = 0; i < FKM__REPORTED; i++) /* repaired: its next damage is news again */
    if (s->reported[i][0] == 'u' && strcmp(s->reported[i] + 1, key->hex) == 0)
      s->reported[i][0] = '\0';
  return FKM_OK;
}
