/* Tuning records looked up through the cache's layers: override dir, user cache, bundles. */
#include "tuning.h"

int fkm__bundle_tuning_read(const fkm__bundle *b, const fkm__tuning_record *query,
                            fkm__tuning_record *out) {
  size_t i;
  const json_t *j;
  json_array_foreach(b->tuning, i, j) {
    fkm__tuning_record r;
    if (!fkm__tuning_from_json(j, &r) && fkm__tuning_same_identity(query, &r)) {
      *out = r;
      return 1;
    }
  }
  return 0;
}

int fkm__tuning_find(fkm_ctx *ctx, const fkm__tuning_record *query, fkm__tuning_record *out) {
  char user[FKM__PATH_MAX], why[FKM__PATH_MAX + 128];
  const char *roots[2] = {fkm__cache_override_root(),
                          fkm__cache_user_root(user, sizeof user) ? user : NULL};
  for (int i = 0; i < 2; i++) {
    if (!roots[i]) continue;
    if (fkm__tuning_read(roots[i], query, out, why, sizeof why)) return 1;
    if (why[0]) fkm__log(ctx, FKM_LOG_WARN, "tuning record %s: a miss", why);
  }
  size_t count = 0;
  const fkm__bundle *bundles = fkm__cache_bundles(ctx, &count);
  for (size_t i = 0; i < count; i++)
    if (fkm__bundle_tuning_read(&bundles[i], query, out)) return 1;
  return 0;
}
