/* Kernel cubins through the cache: lookup first, NVRTC and a store on a miss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "kernel_cache.h"
#include "nvrtc_api.h"

static fkm_status compile_and_store(fkm_ctx *ctx, const fkm__kernel_spec *s, const char *source,
                                    const fkm__cache_key *key, fkm__cubin *out) {
  fkm_status st = fkm__compile(ctx, s, source, &out->data, &out->size);
  struct fkm__cache_state *cs = fkm__cache_state_of(ctx);
  if (st != FKM_ERR_NO_NVRTC && cs) cs->stats.compiles++;
  if (st != FKM_OK) return st;
  const fkm__nvrtc_api *nv = fkm__nvrtc(ctx); /* opened: the compile succeeded */
  char version[16];
  fkm__kernel_meta m;
  snprintf(version, sizeof version, "%d.%d", nv->major, nv->minor);
  fkm__kernel_meta_make(s, source, version, &m);
  out->stored = fkm__cache_store(ctx, key, out->data, out->size, &m);
  return FKM_OK;
}

/* spec's generated source (*source malloc'ed, caller frees) and cache key. */
static fkm_status source_key(fkm_ctx *ctx, const fkm__kernel_spec *s, char **source,
                             fkm__cache_key *key) {
  char arch[32];
  const char *opts[8];
  *source = NULL;
  fkm_status st = fkm__generate(ctx, s, source);
  if (st != FKM_OK) return st;
  int nopts = fkm__compile_options(s, opts, arch);
  st = fkm__kernel_key(s, fkm_version_string(), *source, opts, nopts, key);
  return st == FKM_OK ? FKM_OK : fkm__error(ctx, st, "out of memory for a kernel cache key");
}

fkm_status fkm__kernel_cubin(fkm_ctx *ctx, const fkm__kernel_spec *s, unsigned layers,
                             fkm__cubin *out) {
  static const char *const layer_names[] = {"", "override", "user", "", "bundle"};
  char *source, desc[256];
  fkm__cache_key key;
  memset(out, 0, sizeof *out);
  out->stored = FKM_ERR_IO;
  fkm_status st = source_key(ctx, s, &source, &key);
  if (st == FKM_OK && fkm__cache_lookup(ctx, &key, layers, &out->data, &out->size, &out->layer)) {
    fkm__spec_describe(s, desc, sizeof desc);
    fkm__log(ctx, FKM_LOG_DEBUG, "kernel %s: from the %s cache (%s)", desc,
             layer_names[out->layer], key.hex);
  } else if (st == FKM_OK) {
    st = compile_and_store(ctx, s, source, &key, out);
  }
  free(source);
  return st;
}

int fkm__kernel_cached(fkm_ctx *ctx, const fkm__kernel_spec *s) {
  char *source;
  fkm__cache_key key;
  void *data = NULL;
  size_t size;
  int hit = source_key(ctx, s, &source, &key) == FKM_OK &&
            fkm__cache_lookup(ctx, &key, FKM__LAYERS_ALL, &data, &size, NULL);
  free(data);
  free(source);
  return hit;
}

size_t fkm__nvrtc_compile_count(const fkm_ctx *ctx) {
  return ctx && ctx->cache ? ctx->cache->stats.compiles : 0;
}
