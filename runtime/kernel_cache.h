/* The kernel cache as the runtime uses it: cache keys and metadata of kernel specs, and cubins that
 * come from the cache layers or from NVRTC (then stored). Only runtime/ includes this header. */
#ifndef FKM_KERNEL_CACHE_H
#define FKM_KERNEL_CACHE_H

#include "cache.h"
#include "spec.h"

/* "assign", "norms", "update" or "finalize". */
const char *fkm__kind_name(fkm__kernel_kind kind);

/* The cache key of spec's module (SPEC §4): schema version, fkm version, template hash (XXH3-128
 * of the generated source, which is the templates specialised by the spec), every field of the
 * spec, the target sm_XY[a] and the NVRTC options. The NVRTC version is not an input: a key must
 * be computable where NVRTC is absent (a deployment that runs from a bundle); it is recorded in the
 * metadata instead. FKM_OK or FKM_ERR_NOMEM. */
fkm_status fkm__kernel_key(const fkm__kernel_spec *s, const char *fkm_version, const char *source,
                           const char *const *options, int option_count, fkm__cache_key *out);

/* The metadata of spec's module built from source by NVRTC nvrtc_version ("major.minor"), without
 * the fields the store fills (hash, payload_xxh3). name, num_warps and shared describe the primary
 * kernel: the assign kernel, or for the other kinds the first entry point with the module's
 * nominal block and 0 bytes (their launches size shared memory at run time). */
void fkm__kernel_meta_make(const fkm__kernel_spec *s, const char *source, const char *nvrtc_version,
                           fkm__kernel_meta *m);

/* Entry points of generated source — each "FKM_ENTRY(name)(parameters)" — with their parameter
 * sizes in bytes (pointers 8; i64, double 8; int, float 4; 0 for a type not in that list). Returns
 * how many were written into out[0..max). */
int fkm__source_entries(const fkm__kernel_spec *s, const char *source, fkm__meta_entry *out,
                        int max);

/* A module's cubin. */
typedef struct fkm__cubin {
  void *data;        /* owned (free) */
  size_t size;
  unsigned layer;    /* the FKM__LAYER_* it came from; 0: compiled now */
  fkm_status stored; /* compiled now: FKM_OK when it went into the user cache */
} fkm__cubin;

/* spec's cubin from the first cache layer in `layers` (FKM__LAYER_* bits; 0 forces a rebuild) that
 * holds it intact — no NVRTC call — else generated, compiled with NVRTC and stored in the user
 * cache (a store that fails is not an error). */
fkm_status fkm__kernel_cubin(fkm_ctx *ctx, const fkm__kernel_spec *s, unsigned layers,
                             fkm__cubin *out);

/* Whether spec's cubin is intact in a cache layer (a lookup, never a compile). */
int fkm__kernel_cached(fkm_ctx *ctx, const fkm__kernel_spec *s);

/* NVRTC compiles this context has run (for tests: a warm cache makes none). */
size_t fkm__nvrtc_compile_count(const fkm_ctx *ctx);

#endif
