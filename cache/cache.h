/* The on-disk kernel cache (SPEC §4): keys, kernel metadata, the layered cubin store and bundles.
 * Depends on util (internal.h), Jansson and xxHash only: never cuda.h, never codegen. What a key
 * is made of (the kernel spec, versions, options) is the caller's business: the cache hashes named
 * fields and stores opaque cubins.
 *
 * Layout: <root>/kernels/<key>/{kernel.cubin, kernel.json}. kernel.json is the commit record: the
 * cubin is written first, the json last, each through a temp file + fsync + rename, so a reader
 * (which takes no lock) sees either no entry, an old one or the new one. Anything unreadable,
 * truncated, mismatched or of another schema is a miss, reported once through the log callback. */
#ifndef FKM_CACHE_H
#define FKM_CACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define FKM__CACHE_SCHEMA 1 /* of keys, kernel.json and bundle manifests */
#define FKM__PATH_MAX 4096

/* ---- keys (key.c) -------------------------------------------------------------------------- */
typedef struct fkm__cache_field {
  const char *name, *value;
} fkm__cache_field;

typedef struct fkm__cache_key {
  char hex[33]; /* 32 lower-case hex digits */
} fkm__cache_key;

#define FKM__CACHE_MAX_FIELDS 32

/* XXH3-128 over the fields sorted by name (names unique, count ≤ FKM__CACHE_MAX_FIELDS), each
 * name and value written as a netstring "<decimal length>:<bytes>,". 0, or -1 when out of
 * memory. */
int fkm__cache_key_make(const fkm__cache_field *fields, size_t count, fkm__cache_key *out);
/* Lower-case hex of the XXH3-128 of data (32 digits + NUL). */
void fkm__xxh3_hex(const void *data, size_t len, char out[33]);
/* 1 if s is exactly 32 lower-case hex digits. */
int fkm__is_key_hex(const char *s);

/* ---- kernel metadata (meta.c): kernel.json -------------------------------------------------- */
#define FKM__META_MAX_ENTRIES 16
#define FKM__META_MAX_PARAMS 24

typedef struct fkm__meta_entry {
  char name[64];                         /* the name cuModuleGetFunction takes */
  int param_count;
  int param_sizes[FKM__META_MAX_PARAMS]; /* bytes of each kernel parameter, in order */
} fkm__meta_entry;

/* Triton's launch fields (name, num_warps, num_ctas, num_stages, shared, target, hash) with their
 * meanings, plus ours. */
typedef struct fkm__kernel_meta {
  char name[64];          /* the module's primary kernel */
  int num_warps, num_ctas, num_stages;
  long long shared;       /* dynamic shared memory bytes of the primary kernel */
  int arch;               /* target.arch: compute capability, e.g. 90 (backend "cuda", warp 32) */
  int arch_specific;      /* 1: built for sm_XYa */
  char hash[33];          /* the cache key */
  char kernel_kind[16], metric[16], dtype[16], precision[16];
  int d, block_n, block_k, block_d;
  char nvrtc_version[16]; /* "major.minor" of the NVRTC that built the cubin */
  char fkm_version[24];
  int entry_count;
  fkm__meta_entry entries[FKM__META_MAX_ENTRIES];
  char payload_xxh3[33];  /* of the cubin bytes */
} fkm__kernel_meta;

/* kernel.json of m, schema_version included (new reference; NULL when out of memory). */
json_t *fkm__meta_to_json(const fkm__kernel_meta *m);
/* Fills *m from j. Returns NULL, or a static phrase saying what is wrong (missing or mistyped
 * field, other schema_version, malformed hash). */
const char *fkm__meta_from_json(const json_t *j, fkm__kernel_meta *m);
/* "sm_90a" from arch and arch_specific. */
void fkm__meta_target(const fkm__kernel_meta *m, char out[16]);

/* ---- files (files.c) ----------------------------------------------------------------------- */
/* snprintf into out; 0, or -1 when the result does not fit. */
int fkm__path(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reads a whole regular file. 0 with *data malloc'ed (one NUL byte beyond *size), or an errno
 * (EISDIR for anything but a regular file). */
int fkm__file_read(const char *path, void **data, size_t *size);
/* mkdir -p. 0 or an errno. */
int fkm__mkdirs(const char *dir);
/* Removes path and everything below it; an absent path is fine. 0 or an errno. */
int fkm__remove_tree(const char *path);

/* An atomic file write: a temp file beside `path` (mkstemp), filled with fkm__tmp_write, then
 * fkm__tmp_commit (fsync, rename over path and fsync of the directory; a directory at path fails
 * it with EISDIR and is left as it was) or fkm__tmp_abort (unlinks the temp file). */
typedef struct fkm__tmp_file {
  int fd;
  char tmp[FKM__PATH_MAX], path[FKM__PATH_MAX];
} fkm__tmp_file;
int fkm__tmp_open(fkm__tmp_file *t, const char *path);
int fkm__tmp_write(fkm__tmp_file *t, const void *data, size_t size);
int fkm__tmp_commit(fkm__tmp_file *t);
void fkm__tmp_abort(fkm__tmp_file *t);
/* The three steps for one buffer. 0 or an errno; nothing is left behind on failure. */
int fkm__file_write_atomic(const char *path, const void *data, size_t size);
/* fkm__file_write_atomic and fkm__mkdirs for paths inside a cache root, which fkm owns: a
 * directory where the file goes, or a file where the directory goes (a damaged cache), is removed
 * first, so that the entry can be rebuilt. */
int fkm__cache_file_write(const char *path, const void *data, size_t size);
int fkm__cache_mkdirs(const char *dir);

/* ---- entries of one root (entry.c, scan.c) ------------------------------------------------- */
typedef enum fkm__entry_state {
  FKM__ENTRY_OK = 0,
  FKM__ENTRY_ABSENT,  /* no kernel.json: never written, or a writer has not committed yet */
  FKM__ENTRY_DAMAGED  /* anything else that is not a valid entry */
} fkm__entry_state;

/* Reads and checks <root>/kernels/<key>/: kernel.json (parses, this schema, hash = key) and
 * kernel.cubin (regular, its XXH3-128 = payload_xxh3). On OK, *cubin is malloc'ed (caller frees)
 * unless cubin is NULL, and *meta is filled when meta is non-NULL. On DAMAGED, why says what. Out
 * of memory reads as ABSENT. */
fkm__entry_state fkm__entry_read(const char *root, const char *key, void **cubin, size_t *size,
                                 fkm__kernel_meta *meta, char *why, size_t why_len);
/* Writes <root>/kernels/<key>/ with meta's hash, payload_xxh3 filled in from key and cubin: staged
 * whole in a temp directory of kernels/, then renamed into place, so that concurrent writers of a
 * key leave one writer's entry, never a mix. An intact entry already there is kept (a key names
 * its bytes); a damaged one, or a file in its place, is replaced. 0 or an errno. */
int fkm__entry_write(const char *root, const char *key, const void *cubin, size_t size,
                     const fkm__kernel_meta *meta);
/* Calls fn for each directory of <root>/kernels named like a key, in key order, until fn returns
 * non-zero. A missing kernels directory is an empty cache. 0, or an errno (unreadable directory,
 * out of memory). */
int fkm__cache_scan(const char *root, int (*fn)(const char *key, void *user), void *user);

/* ---- bundles (bundle.c) -------------------------------------------------------------------- */
/* File format: magic "FKMBNDL1", manifest length (u64 little-endian), the manifest JSON
 * {format: "fkm-bundle", schema_version, fkm_version, kernels: [{key, offset, size, payload_xxh3,
 * metadata: <kernel.json>}], tuning: [<tuning record, as tuning/<device>/<key>.json holds it>]},
 * then the cubins; offsets count from the first byte after the manifest. "tuning" may be absent
 * (bundles written before fkm carried tuning records: none). */
#define FKM__BUNDLE_MAGIC "FKMBNDL1"

typedef struct fkm__bundle_entry {
  fkm__kernel_meta meta; /* meta.hash is the key, meta.payload_xxh3 the payload's hash */
  uint64_t offset, size;
} fkm__bundle_entry;

typedef struct fkm__bundle {
  char path[FKM__PATH_MAX];
  uint64_t payload_start, file_size;
  fkm__bundle_entry *entries; /* owned, sorted by key, only entries whose manifest fields check */
  size_t count;
  size_t bad;                 /* manifest entries dropped */
  char first_bad[256];        /* why the first dropped entry was dropped */
  json_t *tuning;             /* owned: the manifest's tuning array (unchecked), or NULL */
} fkm__bundle;

/* Opens path and checks the magic, the manifest and each entry's fields (payloads are checked when
 * read); entries that fail are dropped and counted in b->bad. FKM_OK, FKM_ERR_IO (unreadable) or
 * FKM_ERR_FORMAT (not a bundle of this schema), with the reason in why. Release with
 * fkm__bundle_close (also after a failure). */
fkm_status fkm__bundle_open(const char *path, fkm__bundle *b, char *why, size_t why_len);
void fkm__bundle_close(fkm__bundle *b);
const fkm__bundle_entry *fkm__bundle_find(const fkm__bundle *b, const char *key);
/* Reads entry e's cubin and checks its hash. 0 with *cubin malloc'ed, or -1 with why. */
int fkm__bundle_read(const fkm__bundle *b, const fkm__bundle_entry *e, void **cubin, size_t *size,
                     char *why, size_t why_len);

/* ---- the layered store (roots.c, state.c, store.c) ----------------------------------------- */
/* The user cache root: $FKM_CACHE_DIR, else $XDG_CACHE_HOME/fkm, else $HOME/.cache/fkm. Returns 0
 * with "" when the disk cache is disabled (FKM_CACHE_DIR set and empty) or no root can be named,
 * else 1. */
int fkm__cache_user_root(char *out, size_t len);
/* The read-only override root $FKM_CACHE_OVERRIDE_DIR (NULL when unset or empty). */
const char *fkm__cache_override_root(void);

enum {
  FKM__LAYER_OVERRIDE = 1u, /* $FKM_CACHE_OVERRIDE_DIR, read-only */
  FKM__LAYER_USER = 2u,     /* the user cache */
  FKM__LAYER_BUNDLES = 4u,  /* $FKM_BUNDLE_PATH: colon-separated bundle files, read in place */
  FKM__LAYERS_ALL = 7u
};

typedef struct fkm__cache_stats {
  size_t damaged;  /* damaged entries met by lookups */
  size_t compiles; /* NVRTC compiles run for this context (counted by the runtime) */
} fkm__cache_stats;

#define FKM__REPORTED 16 /* damaged entries a context remembers having logged */

/* Per-context cache state, created on first use (NULL when out of memory) and released by
 * fkm_ctx_free through fkm__cache_state_free (internal.h). */
struct fkm__cache_state {
  int stores_off;          /* a write failed: no more stores for this context (warned once) */
  fkm__cache_stats stats;
  char reported[FKM__REPORTED][34]; /* layer letter + key of the last damaged entries logged */
  unsigned reported_next;  /* the slot the next one takes */
  char *bundle_path;       /* the FKM_BUNDLE_PATH value the bundles below were opened from */
  fkm__bundle *bundles;    /* owned */
  size_t bundle_count;
};
struct fkm__cache_state *fkm__cache_state_of(fkm_ctx *ctx);
/* The bundles of $FKM_BUNDLE_PATH, opened once per context (reopened when the variable changes);
 * unusable ones are skipped with one warning each. */
const fkm__bundle *fkm__cache_bundles(fkm_ctx *ctx, size_t *count);

/* Looks key up in `layers` (FKM__LAYER_* bits), override dir, user cache, then bundles; the first
 * intact entry wins. Returns 1 on a hit with *cubin malloc'ed (caller frees) and *layer (if
 * non-NULL) set, else 0. Damaged entries are misses, each reported through the log callback. */
int fkm__cache_lookup(fkm_ctx *ctx, const fkm__cache_key *key, unsigned layers, void **cubin,
                      size_t *size, unsigned *layer);
/* Stores the entry into the user cache. FKM_OK when written; FKM_ERR_IO when the cache is
 * disabled or not writable (the context's first failure logs one warning and turns its stores off:
 * callers go on without caching). */
fkm_status fkm__cache_store(fkm_ctx *ctx, const fkm__cache_key *key, const void *cubin,
                            size_t size, const fkm__kernel_meta *meta);

#endif
