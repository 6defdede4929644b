/* Triton compatibility (SPEC §4): shipped flash-kmeans tables, tuning records in Triton's vocabulary
 * with import/export of Triton autotune records, and a read-only reader of Triton cache
 * directories. Plain C over Jansson and the cache's file helpers: never cuda.h, never codegen. */
#ifndef FKM_TUNING_H
#define FKM_TUNING_H

#include <jansson.h>
#include <stddef.h>

#include "cache.h"

/* ---- shipped tables (table_lookup.c): cache/tables/flash_kmeans_tables.json ----------------- */
/* The assign configuration flash-kmeans' per-GPU tables give for N points, K centroids of dimension
 * D and compute dtype (FP16/BF16 and AUTO are its "half" regime, FP32/FP64 its wide one). The GPU
 * family is the first of H200, H100, A100, GB10 found in the upper-cased device name. Small D
 * (≤ 512) gives BLOCK_D = 0 (the whole padded row in one tile), larger D the split-D table's
 * BLOCK_D. Values are the tables' own, before flash-kmeans' shared-memory fitting. num_ctas = 1.
 * Returns 1 and fills *out, or 0 (other GPU, or an unreadable table) leaving *out untouched. */
int fkm__table_lookup(const char *device_name, long long n, long long k, long long d,
                      fkm_dtype dtype, fkm_config *out);

/* ---- tuning records (tuning_record.c, tuning_store.c) --------------------------------------- */
/* One tuned shape: the winner of a measurement, keyed by (device name, sm, kernel kind, metric,
 * dtype, D, bucketed N, K, B). Names are fkm's ("assign", "l2", "fp16"...). */
typedef struct fkm__tuning_record {
  char device[128];
  int sm;
  char kind[16], metric[16], dtype[16];
  int d;
  long long n_bucket, k_bucket, b_bucket; /* fkm__tuning_bucket of N, K, B */
  fkm_config config;                      /* Triton vocabulary; num_ctas = 1 */
  double ms;                              /* the winner's measured time; 0 if unknown */
} fkm__tuning_record;

#define FKM__TUNING_SCHEMA 1

/* The bucket of a size: the smallest power of two ≥ v (1 for v ≤ 1). */
long long fkm__tuning_bucket(long long v);
/* Fills r's identity (config and ms zeroed) from raw sizes, bucketing N, K and B. */
void fkm__tuning_query(fkm__tuning_record *r, const char *device, int sm, const char *kind,
                       const char *metric, const char *dtype, int d, long long n, long long k,
                       long long b);
/* XXH3-128 key over the identity fields (config and ms excluded). 0, or -1 out of memory. */
int fkm__tuning_key(const fkm__tuning_record *r, fkm__cache_key *out);
/* The record as JSON: identity, config{BLOCK_N..num_ctas}, ms, schema_version, key and
 * payload_xxh3 (of the compact, key-sorted config object). New reference; NULL out of memory. */
json_t *fkm__tuning_to_json(const fkm__tuning_record *r);
/* Fills *r from j; NULL, or a static phrase saying what is wrong (missing field, other schema,
 * key or payload hash not matching the content). */
const char *fkm__tuning_from_json(const json_t *j, fkm__tuning_record *r);

/* <root>/tuning/<device dir>/<key>.json, where the device dir is the name with every character
 * outside [A-Za-z0-9._-] replaced by '_'. 0, or -1 when it does not fit. */
int fkm__tuning_path(const char *root, const fkm__tuning_record *r, char *out, size_t len);
/* Writes r's file (temp file + fsync + rename; directories created). 0 or an errno. */
int fkm__tuning_store(const char *root, const fkm__tuning_record *r);
/* Whether a and b name the same tuned shape (every identity field equal). */
int fkm__tuning_same_identity(const fkm__tuning_record *a, const fkm__tuning_record *b);
/* Reads the record whose identity is query's from root. 1 with *out filled; 0 when absent
 * or damaged (why says what for a damaged one, "" when absent). */
int fkm__tuning_read(const char *root, const fkm__tuning_record *query, fkm__tuning_record *out,
                     char *why, size_t why_len);
/* The tuned config for this shape under root (NULL root: the user cache). 1 with *out filled, or
 * 0 (no record, a damaged one, or no cache). The runtime's config choice reads the layers itself
 * (runtime/gpu_record.c). */
int fkm__tuning_lookup(const char *root, const char *device, int sm, const char *kind,
                       const char *metric, const char *dtype, int d, long long n, long long k,
                       long long b, fkm_config *out);
/* Calls fn for every intact record under <root>/tuning, in directory order, until fn returns
 * non-zero. 0, or an errno when the tuning directory exists but cannot be read. */
int fkm__tuning_scan(const char *root, int (*fn)(const fkm__tuning_record *r, void *user),
                     void *user);

/* ---- Triton autotune records (tuning_triton.c) ---------------------------------------------- */
/* Triton (3.3+) writes <cache dir>/<hash>/<fn>.autotune.json as {"key": [...], "configs_timings":
 * [[{"kwargs": {...}, "num_warps", "num_stages", "num_ctas", "maxnreg", "pre_hook"...}, [ms...]]]}.
 * The key holds the autotune key's argument values (flash-kmeans: N, K, and D for split-D) then
 * the dtype string of every tensor argument ("torch.float16"...), the points first. */

/* Reads one autotune file into *out: the fastest config (least first timing), N, K (and D when the
 * key holds three integers), the dtype of the first tensor and the metric from the function name
 * (…cosine… → cosine, …euclid… → l2). What Triton does not record (device, sm, kind, D for
 * two-integer keys, B, and the metric of other names) comes from base. FKM_OK, FKM_ERR_IO or
 * FKM_ERR_FORMAT with why. */
fkm_status fkm__triton_autotune_import(const char *path, const fkm__tuning_record *base,
                                       fkm__tuning_record *out, char *why, size_t why_len);
/* Writes r as <dir>/<record key>/<fn>.autotune.json in flash-kmeans' key layout (fn
 * _euclid_assign_kernel / _cosine_assign_kernel, fkm_assign_kernel_<metric> otherwise; key
 * [N, K(, D), dtype, dtype, "torch.float32", "torch.float32", "torch.int32"]), the one config
 * with [ms] as its timings. 0 or an errno. */
int fkm__triton_autotune_export(const fkm__tuning_record *r, const char *dir);

/* ---- tuning records in layers (tuning_layers.c) -------------------------------------------- */
/* The intact record with query's identity among bundle b's tuning records: 1 with *out, else 0. */
int fkm__bundle_tuning_read(const fkm__bundle *b, const fkm__tuning_record *query,
                            fkm__tuning_record *out);
/* query's record from the first layer that holds an intact one (SPEC §4): the override dir, the
 * user cache, then the bundles of $FKM_BUNDLE_PATH. 1 with *out, else 0; damaged records met in
 * the directories are logged. */
int fkm__tuning_find(fkm_ctx *ctx, const fkm__tuning_record *query, fkm__tuning_record *out);

/* ---- cubin parameter records (elf_params.c) ------------------------------------------------- */
#define FKM__MAX_KERNEL_PARAMS 256

/* The parameters of kernel `name` in an ELF64 cubin, from its ".nv.info.<name>" section: one
 * EIATTR_KPARAM_INFO record per parameter (ordinal, offset, size in bits 18..31 of its flags).
 * Records are 4-byte headers {format, attribute, u16 value-or-size}, followed by `size` bytes for
 * format EIFMT_SVAL (4). Returns the count (sizes[i] in bytes of parameter i, for i below max),
 * or -1 with why (not an ELF64 cubin, no such section, malformed records, ordinals with gaps). */
int fkm__cubin_params(const void *cubin, size_t size, const char *name, int *sizes, int max,
                      char *why, size_t why_len);

/* ---- Triton cache directories (triton_meta.c, triton_dir.c) --------------------------------- */
/* Metadata of one Triton-compiled kernel (<hash>/<name>.json). Triton 3.2 writes the launch
 * fields (name, num_warps, num_ctas, num_stages, shared, target{backend, arch, warp_size}, hash,
 * cluster_dims); 3.3 adds launch_cooperative_grid, launch_pdl and global_scratch_size (its
 * launcher appends one pointer parameter, the global scratch, to every kernel); 3.5 adds
 * profile_scratch_size (a second appended pointer). Absent flags read as off, absent sizes as 0. */
typedef struct fkm__triton_meta {
  char name[128], hash[72], backend[16];
  int num_warps, num_ctas, num_stages, arch, warp_size;
  long long shared;
  int cluster_dims[3];
  int cooperative, pdl;
  long long global_scratch, profile_scratch; /* bytes per program */
  int hidden_params;                         /* pointers Triton appends: 0, 1 (3.3+) or 2 (3.5+) */
} fkm__triton_meta;

/* Fills *m from j; NULL or a static phrase naming what is missing or mistyped. */
const char *fkm__triton_meta_from_json(const json_t *j, fkm__triton_meta *m);
/* Whether fkm can launch the kernel on a device of compute capability sm (0: not checked): CUDA
 * backend, 32-wide warps, target.arch runnable there (arch ≥ 90 is Triton's sm_XYa, so the same
 * capability only; older archs run on the same major with a minor no larger), one CTA per
 * cluster, no cooperative grid, no PDL, no global or profile scratch. 1, or 0 with why. */
int fkm__triton_launchable(const fkm__triton_meta *m, int sm, char *why, size_t why_len);

/* One kernel of a Triton cache directory as the reader sees it. */
typedef struct fkm__triton_kernel {
  char dir[FKM__PATH_MAX];   /* <cache>/<hash folder> */
  fkm__triton_meta meta;     /* valid when meta_ok */
  int meta_ok;
  int params;                /* parameters in the cubin's records, -1 when unreadable */
  int param_sizes[FKM__MAX_KERNEL_PARAMS]; /* bytes of each, for the first params (≤ the max) */
  int launchable;
  char why[256];             /* "" when launchable, else the first reason it is not */
} fkm__triton_kernel;

/* Reads <dir>/<name>.json and <dir>/<name>.cubin into *k and judges it for a device of
 * compute capability sm (0: arch not checked): metadata, launch features, and the cubin's
 * parameter count against the hidden parameters (the trailing hidden_params must be 8-byte
 * pointers; user_params ≥ 0 also fixes the total). Never fails: what is wrong is in k->why. */
void fkm__triton_kernel_read(const char *dir, const char *name, int sm, int user_params,
                             fkm__triton_kernel *k);
/* fkm__triton_kernel_read that also hands back the cubin it judged, so that what is loaded is what
 * was checked: *cubin (owned by the caller, free()) and *size, or NULL and 0 when the metadata or
 * the cubin is unreadable. */
void fkm__triton_kernel_load(const char *dir, const char *name, int sm, int user_params,
                             fkm__triton_kernel *k, void **cubin, size_t *size);
/* Calls fn for each kernel (<hash>/<name>.json with a sibling <name>.cubin; group and autotune
 * files skipped) of a Triton cache directory, folders and names in sorted order, until fn returns
 * non-zero. Read-only. 0, or an errno when cache_dir cannot be read. */
int fkm__triton_scan(const char *cache_dir, int sm,
                     int (*fn)(const fkm__triton_kernel *k, void *user), void *user);

#endif
