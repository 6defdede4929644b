/* GPU engine internals: device context, kernel modules, workspace, launches. Only runtime/. */
#ifndef FKM_GPU_H
#define FKM_GPU_H

#include "cuda_api.h"
#include "spec.h"

/* One loaded module, keyed by its spec hash (fkm__gpu_module: or a content hash). */
typedef struct fkm__module {
  uint64_t hash;
  CUmodule module;
} fkm__module;

struct fkm__gpu {
  const fkm__cuda_api *cu;
  int device;
  CUdevice dev;
  CUcontext context;        /* primary context, retained */
  int sm, multiprocessors;
  size_t shared_optin;      /* max dynamic shared memory per block */
  size_t shared_per_sm;     /* shared memory of a multiprocessor */
  size_t shared_reserved;   /* of it, what the driver reserves for each resident block */
  char name[256];
  fkm__module *modules;     /* owned, loaded modules of this context */
  size_t module_count, module_cap;
  double ms_compile;        /* compile + load time accumulated by the running call */
};

/* Sets g's shared-memory sizes for a target described by its per-block opt-in limit, not queried
 * from a device: on every arch fkm knows a multiprocessor holds that limit plus the driver's
 * 1 KiB reservation for one block. */
void fkm__gpu_shared_of_limit(struct fkm__gpu *g, size_t optin);

/* Opens (once per context) the device opts->device and makes its primary context current. */
fkm_status fkm__gpu_open(fkm_ctx *ctx, int device, struct fkm__gpu **out);

/* Whether GPU runs set up from now on may sum small clusters one to a warp
 * (fkm_reduce_small_runs), as they do by default; off, every cluster is summed in segment
 * blocks. For tests that compare the two bit for bit; not thread-safe. */
void fkm__gpu_small_runs(int on);

/* The function `entry` of spec, compiling and loading its module on first use. */
fkm_status fkm__gpu_function(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                             const char *entry, CUfunction *out);

/* The assign-kernel spec for these shapes: opts->config when given (validated), else the tuning
 * record of these shapes on g (gpu_record.c) when its config is valid, else the default pick
 * (fkm__gpu_default_spec). */
fkm_status fkm__gpu_assign_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                const fkm_options *o, fkm__kernel_spec *out,
                                fkm__spec_layout *layout);
/* Largest K the warpgroup-MMA assign kernel takes: it carries the arg-min index as a float,
 * relative to a tile's columns, which must stay below 2^24 in magnitude to be exact. */
#define FKM__WGMMA_MAX_K ((1 << 24) - FKM__KPAD_ROWS)
/* The assign spec of these shapes with its tile fields zero: compute dtype and precision resolved,
 * target g->sm, sm_90a (warpgroup MMA: fp16/bf16, TF32 and 3×TF32) on sm_90 when
 * K ≤ FKM__WGMMA_MAX_K. */
fkm__kernel_spec fkm__gpu_assign_base(const struct fkm__gpu *g, const fkm_points *p,
                                      const fkm_options *o);
/* The spec configuration c means on base's target: the warpgroup-MMA kernel where it takes c, else
 * the mma.sync one. FKM_OK with *layout filled, or FKM_ERR_REJECTED with why (num_ctas > 1, or the
 * spec validation's reason). Sets no error detail. */
fkm_status fkm__config_spec(const fkm__kernel_spec *base, const fkm_config *c,
                            fkm__kernel_spec *out, fkm__spec_layout *layout, char *why,
                            size_t len);
/* Whether c names a configuration (any tile field non-zero); zeros mean "pick one". */
int fkm__config_given(const fkm_config *c);
/* The Triton-vocabulary configuration of an assign spec (num_ctas = 1). */
fkm_config fkm__spec_config(const fkm__kernel_spec *s);
/* The model's pick for these shapes (neither opts->config nor records consulted): shared-memory
 * and register fit on g, first of a short list of measured tile shapes. */
fkm_status fkm__gpu_model_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                               const fkm_options *o, fkm__kernel_spec *out,
                               fkm__spec_layout *layout);
/* Whether model pick s was chosen by measurements of our kernel on its arch, so that the cost
 * model alone does not overrule it: the sm_90a wgmma picks (their tile order — 256×64 with one
 * warpgroup first, the best of an exhaustive sweep on H100 — and their two-blocks-per-SM
 * shared-memory budget were measured on H100; the cost model does not see either effect) and the
 * sm_90 fp32 mma.sync picks (timed against the table's on H100). */
int fkm__model_measured(const fkm__kernel_spec *s);
/* The default pick (neither opts->config nor records consulted): of two inputs, the model's pick
 * and flash-kmeans' per-GPU table entry for g->name (fkm__table_spec; GPUs matched by name as the
 * tables do: H200, H100, A100, GB10), as fkm__tune_default's cost-model rule decides — the
 * table's where the model rates it at most FKM__TABLE_MARGIN worse than its own pick, or, where
 * that pick is measured (fkm__model_measured), at least FKM__TABLE_MARGIN better; else the
 * model's. Every other GPU, and a device without a name, gets the model's pick. */
fkm_status fkm__gpu_default_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                 const fkm_options *o, fkm__kernel_spec *out,
                                 fkm__spec_layout *layout);

/* flash-kmeans' table configuration (fkm__table_lookup: the GPU family matched by name, the
 * table's regime by base's compute dtype and D) for N points and K centroids, as our kernel: a
 * table BLOCK_D of 0 ("the whole padded row") takes the model's BLOCK_D, and a configuration that
 * is not valid within `shared` bytes (0: the arch's limit) is fitted as flash-kmeans fits its
 * configs to shared memory (BLOCK_N, BLOCK_K, num_stages shrunk, most work per block kept). 1 with
 * *out and *layout set (validated by fkm__config_spec), or 0: no name, no table entry, or nothing
 * fits. Pure: the table is embedded. */
int fkm__table_spec(const char *name, const fkm__kernel_spec *base, long long n, long long k,
                    size_t shared, fkm__kernel_spec *out, fkm__spec_layout *layout);

/* Tuning records of the GPU engine (gpu_record.c), keyed by (g->name, g->sm, "assign", metric,
 * compute dtype — "tf32" for fp32 with FKM_PRECISION_TF32 —, D, bucketed N, K, B). Reads the
 * layers override dir ($FKM_CACHE_OVERRIDE_DIR) then the user cache, first record wins; a damaged
 * record, or one whose config is invalid on g, is skipped with one warning through the log
 * callback. Returns 1 with *out and *layout set, or 0 (no usable record; no error). Devices
 * without a name (g->name "", e.g. the offline prebuild) have no records. */
int fkm__gpu_record_spec(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                         const fkm_options *o, fkm__kernel_spec *out, fkm__spec_layout *layout);
/* Writes c (measured at ms per assign pass) as the record of these shapes into the user cache.
 * FKM_OK, or FKM_ERR_IO with detail when the cache is disabled or not writable. */
fkm_status fkm__gpu_record_store(fkm_ctx *ctx, const struct fkm__gpu *g, const fkm_points *p,
                                 const fkm_options *o, const fkm_config *c, double ms);

/* Loads cubin (spec's module, built elsewhere, e.g. by a compile thread; borrowed) into g's module
 * store, unless spec's module is there already. */
fkm_status fkm__gpu_adopt(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                          const void *cubin);
/* The assign kernel of spec (compiled and loaded on first use) with its dynamic shared-memory limit
 * raised to layout->shared. */
fkm_status fkm__assign_function(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                                const fkm__spec_layout *layout, CUfunction *out);

/* The module of image (a cubin, borrowed) kept under key in g's module store (keys: the spec hash
 * of fkm's kernels, a domain-separated content hash for others), loaded on first use; it stays
 * loaded until g is freed. */
fkm_status fkm__gpu_module(fkm_ctx *ctx, struct fkm__gpu *g, uint64_t key, const void *image,
                           CUmodule *out);

/* Dynamic shared bytes a launch may take without raising the function's limit. */
#define FKM__SHARED_WITHOUT_OPT_IN (48 * 1024)
/* Raises f's dynamic shared-memory limit to bytes when they are above the default. */
fkm_status fkm__allow_shared(fkm_ctx *ctx, const struct fkm__gpu *g, CUfunction f, size_t bytes);

/* Kernel launch on stream with 1-D block; args as cuLaunchKernel takes them. */
fkm_status fkm__launch(fkm_ctx *ctx, const struct fkm__gpu *g, CUfunction f, unsigned gx,
                       unsigned gy, unsigned threads, size_t shared, CUstream stream, void **args);
/* The same with a 3-D grid (grid[0..2]). */
fkm_status fkm__launch_grid(fkm_ctx *ctx, const struct fkm__gpu *g, CUfunction f,
                            const unsigned grid[3], unsigned threads, size_t shared,
                            CUstream stream, void **args);

#endif
