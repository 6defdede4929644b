/* Per-context cache state: the write switch, statistics and the opened bundles. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

struct fkm__cache_state *fkm__cache_state_of(fkm_ctx *ctx) {
  if (!ctx->cache) ctx->cache = calloc(1, sizeof *ctx->cache);
  return ctx->cache;
}

static void close_bundles(struct fkm__cache_state *s) {
  for (size_t i = 0; i < s->bundle_count; i++) fkm__bundle_close(&s->bundles[i]);
  free(s->bundles);
  free(s->bundle_path);
  s->bundles = NULL;
  s->bundle_path = NULL;
  s->bundle_count = 0;
}

void fkm__cache_state_free(struct fkm__cache_state *s) {
  if (!s) return;
  close_bundles(s);
  free(s);
}

/* Opens the bundle at path[0..len) into the next slot; unusable bundles are logged and skipped. */
static void open_one(fkm_ctx *ctx, struct fkm__cache_state *s, const char *path, size_t len) {
  char file[FKM__PATH_MAX], why[512];
  fkm__bundle *b = &s->bundles[s->bundle_count];
  if (fkm__path(file, sizeof file, "%.*s", (int)len, path) != 0) return;
  if (fkm__bundle_open(file, b, why, sizeof why) != FKM_OK) {
    fkm__log(ctx, FKM_LOG_WARN, "kernel bundle %s skipped: %s", file, why);
    fkm__bundle_close(b);
    return;
  }
  if (b->bad)
    fkm__log(ctx, FKM_LOG_WARN, "kernel bundle %s: %zu damaged entries ignored (first: %s)", file,
             b->bad, b->first_bad);
  s->bundle_count++;
}

const fkm__bundle *fkm__cache_bundles(fkm_ctx *ctx, size_t *count) {
  struct fkm__cache_state *s = fkm__cache_state_of(ctx);
  const char *env = getenv("FKM_BUNDLE_PATH");
  *count = 0;
  if (!s || !env || !env[0]) return NULL;
  if (!s->bundle_path || strcmp(s->bundle_path, env) != 0) {
    close_bundles(s);
    size_t slots = 1;
    for (const char *p = env; *p; p++) slots += *p == ':';
    s->bundle_path = strdup(env);
    s->bundles = calloc(slots, sizeof *s->bundles);
    if (!s->bundle_path || !s->bundles) {
      close_bundles(s);
      return NULL;
    }
    for (const char *p = env; *p;) {
      size_t len = strcspn(p, ":");
      if (len) open_one(ctx, s, p, len);
      p += len + (p[len] == ':');
    }
  }
  *count = s->bundle_count;
  return s->bundles;
}
