/* Where the cache layers live, from the environment (SPEC §4). */
#include <stdlib.h>

#include "cache.h"

int fkm__cache_user_root(char *out, size_t len) {
  const char *fkm = getenv("FKM_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
             *home = getenv("HOME");
  int ok = 0;
  if (fkm)
    ok = fkm[0] && fkm__path(out, len, "%s", fkm) == 0;
  else if (xdg && xdg[0])
    ok = fkm__path(out, len, "%s/fkm", xdg) == 0;
  else if (home && home[0])
    ok = fkm__path(out, len, "%s/.cache/fkm", home) == 0;
  if (!ok && len) out[0] = '\0';
  return ok;
}

const char *fkm__cache_override_root(void) {
  const char *dir = getenv("FKM_CACHE_OVERRIDE_DIR");
  return dir && dir[0] ? dir : NULL;
}
