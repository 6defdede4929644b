/* fkm.h: exact Lloyd k-means on NVIDIA GPUs (Flash-KMeans design) with a CPU reference engine.
 *
 * Conventions (see SPEC §5):
 *  - Every fallible call returns fkm_status; FKM_OK is 0. Detail text of the innermost failure is
 *    kept per context (fkm_ctx_last_error).
 *  - Shapes: B independent problems ("batches") of N points of dimension D, row-major, contiguous:
 *    points [B][N][D], centroids [B][K][D] (fp32), labels [B][N] (int32), inertia [B] (fp64).
 *  - Threads: one fkm_ctx per thread. Process-wide state is only the driver/NVRTC function tables,
 *    initialised once and thread-safe.
 *  - The library never prints, exits or aborts on caller-caused conditions; it logs through the
 *    callback set with fkm_log_set.
 */
#ifndef FKM_H
#define FKM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FKM_BUILDING) && defined(__GNUC__)
#define FKM_API __attribute__((visibility("default")))
#else
#define FKM_API
#endif

/* ---- status codes: values are append-only ---------------------------------------------------- */
#define FKM_STATUS_LIST(X)                                                                          \
  X(FKM_OK, 0, "success")                                                                           \
  X(FKM_ERR_INVALID_ARG, 1, "invalid argument")                                                     \
  X(FKM_ERR_NOMEM, 2, "out of host memory")                                                         \
  X(FKM_ERR_UNSUPPORTED, 3, "not supported (yet)")                                                  \
  X(FKM_ERR_NO_DRIVER, 4, "CUDA driver (libcuda.so.1) not found or unusable")                       \
  X(FKM_ERR_NO_NVRTC, 5, "NVRTC (libnvrtc.so) not found or unusable")                               \
  X(FKM_ERR_NO_DEVICE, 6, "no CUDA device")                                                         \
  X(FKM_ERR_CUDA, 7, "CUDA driver call failed")                                                     \
  X(FKM_ERR_COMPILE, 8, "kernel compilation failed")                                                \
  X(FKM_ERR_REJECTED, 9, "kernel configuration rejected")                                           \
  X(FKM_ERR_IO, 10, "file input/output failed")                                                     \
  X(FKM_ERR_FORMAT, 11, "malformed file")                                                           \
  X(FKM_ERR_NONFINITE, 12, "input holds NaN or Inf")                                                \
  X(FKM_ERR_DEVICE_MEMORY, 13, "out of device memory")                                              \
  X(FKM_ERR_CANCELLED, 14, "cancelled by the iteration callback")                                  \
  X(FKM_ERR_NO_NCCL, 15, "NCCL (libnccl.so.2) not found or unusable")                               \
  X(FKM_ERR_COMM, 16, "a collective failed, or another rank failed")

typedef enum fkm_status {
#define FKM_STATUS_ENUM_(name, value, message) name = value,
  FKM_STATUS_LIST(FKM_STATUS_ENUM_)
#undef FKM_STATUS_ENUM_
} fkm_status;

/* Static strings, never NULL ("FKM_UNKNOWN_STATUS" for values outside the list). */
FKM_API const char *fkm_status_name(fkm_status s);
FKM_API const char *fkm_status_message(fkm_status s);

/* Library version: "MAJOR.MINOR.PATCH" (static string) and MAJOR*10000 + MINOR*100 + PATCH. */
FKM_API const char *fkm_version_string(void);
FKM_API unsigned fkm_version(void);

/* ---- enumerations ------------------------------------------------------------------------------ */
/* COSINE: points are scaled to unit length in fp64 from the input values, then rounded once.
 * DOT: predict uses the given centroids as they are (fit scales its initial centroids to unit). */
typedef enum fkm_metric { FKM_METRIC_L2 = 0, FKM_METRIC_COSINE = 1, FKM_METRIC_DOT = 2 } fkm_metric;

/* Element types. FKM_DTYPE_AUTO as a compute dtype means "the input's" (fp64 input computes in fp32
 * on the GPU and in fp64 on the CPU). */
typedef enum fkm_dtype {
  FKM_DTYPE_AUTO = 0,
  FKM_DTYPE_FP16 = 1,
  FKM_DTYPE_BF16 = 2,
  FKM_DTYPE_FP32 = 3,
  FKM_DTYPE_FP64 = 4
} fkm_dtype;

/* RANDOM: K distinct points per batch (with sample weights: among the points of positive weight),
 * from a counter-based generator. KMEANSPP: greedy k-means++ as scikit-learn (2 + ⌊ln K⌋ trials per
 * centre, D²·weight sampling; the exact procedure is in runtime/init_kmeanspp.c); CPU engine only
 * for now. Both pick the same points for the same seed on every engine that runs them. */
typedef enum fkm_init { FKM_INIT_RANDOM = 0, FKM_INIT_KMEANSPP = 1, FKM_INIT_GIVEN = 2 } fkm_init;

/* Empty clusters: KEEP leaves the centroid where it was; FARTHEST re-seeds them, in increasing
 * cluster order, at the points farthest from their (old) centroid, farthest first, ties to the lower
 * point index; a moved point leaves its old cluster's sum (scikit-learn's rule). */
typedef enum fkm_empty_policy { FKM_EMPTY_KEEP = 0, FKM_EMPTY_FARTHEST = 1 } fkm_empty_policy;

typedef enum fkm_engine { FKM_ENGINE_AUTO = 0, FKM_ENGINE_GPU = 1, FKM_ENGINE_CPU = 2 } fkm_engine;

/* fp32 compute: DEFAULT keeps fp32 accuracy (3×TF32); TF32 is the opt-in tensor-core mode
 * flash-kmeans uses (operands rounded to TF32, or on sm_90 truncated to it by the warpgroup MMA). */
typedef enum fkm_precision { FKM_PRECISION_DEFAULT = 0, FKM_PRECISION_TF32 = 1 } fkm_precision;

typedef enum fkm_log_level { FKM_LOG_DEBUG = 0, FKM_LOG_INFO = 1, FKM_LOG_WARN = 2 } fkm_log_level;

/* ---- context ----------------------------------------------------------------------------------- */
typedef struct fkm_ctx fkm_ctx;
typedef struct fkm_comm fkm_comm; /* a group of GPUs fitting together (see "several GPUs") */

/* Creates a context. *out is owned by the caller, released with fkm_ctx_free. Does not touch the
 * GPU: devices are opened lazily by the first GPU call. */
FKM_API fkm_status fkm_ctx_create(fkm_ctx **out);
/* Releases the context and everything it holds (modules, device workspace). NULL is accepted. */
FKM_API void fkm_ctx_free(fkm_ctx *ctx);
/* Detail of the last failure on this context ("" if none). Borrowed until the next call on ctx. */
FKM_API const char *fkm_ctx_last_error(const fkm_ctx *ctx);
/* The NVRTC log of the last failed compile ("" if none). Borrowed until the next call on ctx. */
FKM_API const char *fkm_ctx_compile_log(const fkm_ctx *ctx);

/* Log callback; message is borrowed for the duration of the call. fn = NULL silences the context. */
typedef void (*fkm_log_fn)(fkm_log_level level, const char *message, void *user);
FKM_API void fkm_log_set(fkm_ctx *ctx, fkm_log_fn fn, void *user);

/* ---- what this machine offers -------------------------------------------------------------------- */
typedef struct fkm_runtime_info {
  fkm_status driver;        /* FKM_OK or FKM_ERR_NO_DRIVER */
  int driver_version;       /* e.g. 13000, 0 if no driver */
  fkm_status nvrtc;         /* FKM_OK or FKM_ERR_NO_NVRTC */
  int nvrtc_major, nvrtc_minor;
  char nvrtc_path[256];     /* the library that was opened, "" if none */
  int device_count;         /* 0 if no driver */
  char device_name[256];    /* of options' device index 0, "" if none */
  int sm;                   /* compute capability major*10+minor, 0 if none */
  int multiprocessors;
  size_t device_memory;     /* bytes */
  fkm_status gpu;           /* FKM_OK if a driver and device exist (compiling kernels that no
                               cache layer holds also needs NVRTC), else why not */
} fkm_runtime_info;

/* Fills *info (caller-owned). Never fails for missing pieces: they are reported in the fields. */
FKM_API fkm_status fkm_runtime_query(fkm_ctx *ctx, fkm_runtime_info *info);

/* ---- points ------------------------------------------------------------------------------------ */
/* Describes B×N×D points; data is borrowed for the duration of the call. Host or device memory
 * according to the entry point. dtype is the storage type (FP16, BF16, FP32 or FP64). */
typedef struct fkm_points {
  const void *data;
  fkm_dtype dtype;
  int64_t batches; /* B ≥ 1 */
  int64_t n;       /* N ≥ 1 */
  int64_t d;       /* D ≥ 1 */
} fkm_points;

/* ---- kernel configuration (Triton's vocabulary) -------------------------------------------------- */
/* Zero fields mean "pick one": the tuning record of the shapes on this device when there is one,
 * else the default pick, which weighs two inputs with the tuner's cost model — fkm's own model
 * (shared-memory and register fit over a short list of measured tile shapes) and, on GPUs whose
 * name contains H200, H100, A100 or GB10, flash-kmeans' published per-GPU table entry for (N, K,
 * D, dtype) (its BLOCK_D 0 read as the model's D chunk, fitted to the device's shared memory as
 * flash-kmeans fits it). The table's entry is taken when the cost model rates it at most 5 %
 * costlier than the model's pick; where the model's pick was itself measured with fkm's kernels
 * (on H100: the sm_90a warpgroup-MMA tiles and the fp32 mma.sync tiles) only when rated at least
 * 5 % cheaper. Every other GPU gets the model's pick; no default pick is clustered. num_stages is
 * the depth of the centroid-tile pipeline (1 = none); block = 32·num_warps threads. num_ctas (0 or
 * 1: none) is the size of the thread-block clusters whose blocks share each centroid tile: 2 and 4
 * run on sm_90a's warpgroup kernel with the whole padded row in one BLOCK_D chunk (plus a copy
 * warp a block); other values are rejected. Measured on an H200 at N = 1M, K = 65,536, D = 128
 * (bench/RESULTS.md, 2026-12-04): 128×64 in clusters of two 38.0 ms, of four 43.1, against 34.4
 * for the unclustered default. */
typedef struct fkm_config {
  int BLOCK_N, BLOCK_K, BLOCK_D, num_warps, num_stages, num_ctas;
} fkm_config;

/* ---- per-iteration report ------------------------------------------------------------------------ */
typedef struct fkm_iter_report {
  int iteration;         /* 1-based */
  double shift;          /* max over batches and clusters of ‖c_new − c_old‖₂ */
  double inertia;        /* sum over batches, against the centroids used for this assignment */
  int64_t changed;       /* labels that changed against the previous assignment; -1 when the
                            points stream from host memory (labels are not kept between passes) */
  int64_t empty;         /* empty clusters before the policy was applied */
  double ms;             /* wall time of this iteration */
} fkm_iter_report;

/* Returns 0 to go on, non-zero to stop (fit then returns FKM_ERR_CANCELLED, outputs untouched).
 * With n_init > 1 it sees each restart's iterations in turn (iteration restarts at 1). The report
 * is borrowed for the call. Setting a callback makes the GPU engine read its state every
 * iteration (slower). */
typedef int (*fkm_iter_fn)(const fkm_iter_report *report, void *user);

/* ---- options ------------------------------------------------------------------------------------- */
typedef struct fkm_options {
  int64_t k;                    /* clusters per batch, 1 ≤ K ≤ N */
  fkm_metric metric;            /* default L2 */
  fkm_dtype dtype;              /* compute dtype, default AUTO (the input's) */
  fkm_precision precision;      /* default DEFAULT */
  fkm_init init;                /* default RANDOM */
  const float *init_centroids;  /* [B][K][D] fp32 for INIT_GIVEN; borrowed; host memory for host
                                   entry points, device memory for device entry points */
  uint64_t seed;                /* default 0 */
  int max_iter;                 /* default 300, ≥ 0 (0: only the final assignment) */
  double tol;                   /* default 1e-4; stop when shift < tol; ≤ 0 never stops early */
  int tol_relative;             /* 1: tol × mean per-feature variance (scikit-learn; of the unit
                                   rows for cosine and dot, whose shifts are unit-scale); default 0 */
  fkm_empty_policy empty;       /* default KEEP */
  fkm_engine engine;            /* default AUTO */
  int device;                   /* CUDA device index, default 0 */
  int deterministic;            /* default 1: bitwise-identical results run to run */
  int n_init;                   /* restarts keeping the lowest inertia summed over batches (ties:
                                   the earlier), default 1; restart r > 0 uses the seed
                                   SplitMix64(seed + r), r = 0 the seed itself; > 1 is invalid with
                                   INIT_GIVEN */
  const float *sample_weight;   /* [B][N] or NULL: weighted means and inertia, D²·w k-means++;
                                   finite, ≥ 0, at least K positive per batch; zero-weight points
                                   never seed; a cluster of weight 0 is empty. Borrowed; same
                                   memory kind as the points; fit only (predict ignores it, as it
                                   does init and n_init) */
  size_t device_memory_budget;  /* host entry points (fit, predict): device bytes the call may
                                   use; 0 = the device's free memory less a reserve. When the
                                   in-memory workspace (points included) exceeds it, the points
                                   stream from host memory in chunks (see fkm_fit); the device
                                   entry points ignore it */
  int tune;                     /* 0 (default): tuning records, else the default pick (see
                                   fkm_config); 1: fit first tunes shapes with no record
                                   (model-pruned candidates, see fkm_tune); 2: the same,
                                   exhaustive (every valid configuration). GPU engine only: the
                                   CPU engine ignores it */
  fkm_config config;            /* assign-kernel configuration override; zeros = automatic */
  int check_every;              /* GPU: iterations between convergence-flag reads, default 8 */
  int profile;                  /* GPU: 1 times assign and update separately (slower); default 0 */
  fkm_iter_fn on_iter;          /* optional per-iteration report */
  void *on_iter_user;
  fkm_comm *comm;               /* borrowed; NULL: this call is the whole fit. Set: this process is
                                   one rank of the communicator and passes its shard (see "several
                                   GPUs" below); device must be the comm's */
  const int *devices;           /* borrowed [num_devices]: fkm_fit splits host points over these
                                   GPUs of this process (B = 1; see fkm_fit); NULL or num_devices
                                   ≤ 1: one GPU, opts->device */
  int num_devices;
} fkm_options;

/* Fills *opts (caller-owned) with the defaults above; k is set to 0 and must be set. */
FKM_API void fkm_options_init(fkm_options *opts);

/* ---- results ------------------------------------------------------------------------------------- */
/* Output buffers are owned by the caller and written by fit; host memory for host entry points,
 * device memory for device entry points. labels and inertia may be NULL (not wanted). */
typedef struct fkm_result {
  float *centroids;      /* [B][K][D], required */
  int32_t *labels;       /* [B][N]: nearest returned centroid for every point */
  double *inertia;       /* [B]: sum of (sample-weighted) squared distances to the returned
                            centroids (fp64). With labels and inertia both NULL and one restart,
                            the GPU engine skips the final assignment pass. */
  /* filled by fit (host memory, always): */
  int iterations;        /* Lloyd iterations run (by the kept restart) */
  fkm_engine engine;     /* the engine that ran */
  double ms_compile;     /* kernel compile and load */
  double ms_init;        /* initialisation (all restarts) */
  double ms_iterations;  /* all iterations (all restarts), device time on the GPU */
  double ms_assign;      /* with opts->profile on the GPU: assign time summed over iterations */
  double ms_update;      /* with opts->profile on the GPU: update + finalize time, summed */
} fkm_result;

/* Lloyd k-means on host memory. Picks the engine per opts->engine (AUTO: the GPU when a device,
 * driver and NVRTC exist, else the CPU with one log line saying why). Bad input returns
 * FKM_ERR_INVALID_ARG (or FKM_ERR_NONFINITE: a NaN or Inf, or a finite value that the compute
 * dtype rounds to Inf — |x| ≥ 65520 for fp16 — in the points or given centroids, unless their
 * rows are scaled to unit length first, as under cosine; on any engine but the CPU's — AUTO
 * included, as for fp64 — also |x| ≥ sqrt(FLT_MAX / (5·D)), where the GPU's fp32 distances, norms
 * or shifts could overflow, in points other than cosine's and in given centroids) and writes
 * nothing.
 * Out-of-core: on the GPU, points whose in-memory workspace exceeds opts->device_memory_budget (or
 * the free device memory) stream through the device every iteration in chunks of whole 512-point
 * spans — copied straight from page-locked memory, through pinned staging buffers from pageable
 * memory (e.g. a memory-mapped file), overlapped with the kernels — while the first chunks stay
 * resident when the budget holds them. The results are bitwise those of the in-memory GPU path,
 * whatever the chunk size. k-means++ and the farthest policy are refused there
 * (FKM_ERR_UNSUPPORTED); a budget below one span of points gives FKM_ERR_DEVICE_MEMORY. Host memory
 * beyond the caller's: about three chunks of pinned staging. fkm_predict streams the same way.
 * Several GPUs: with opts->num_devices > 1 (B = 1, engine GPU), the points are split in index order
 * into one shard per device (whole 512-point spans, as even as they go; at most ⌈N / 512⌉ devices
 * are used), each fitted on its device by a thread of this call as one rank of an NCCL
 * communicator (opts->comm semantics below); labels land in place, the centroids and inertia are
 * the one-GPU fit's bit for bit. on_iter hears rank 0 (global reports); the log callback may be
 * called from the ranks' threads. A listed GPU that cannot run is reported (FKM_ERR_NO_DRIVER,
 * ...) before any NCCL use; with engine AUTO the CPU engine runs the fit instead (one log line). */
FKM_API fkm_status fkm_fit(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                           fkm_result *result);

/* Labels (and inertia per batch if non-NULL) of host points against host centroids [B][K][D] fp32,
 * with opts' metric, dtype and engine (opts->k = K, which may exceed N: a few points can be
 * labelled against a large model). */
FKM_API fkm_status fkm_predict(fkm_ctx *ctx, const fkm_points *points, const float *centroids,
                               const fkm_options *opts, int32_t *labels, double *inertia);

/* Device entry points: points, init_centroids, sample_weight and result buffers are device pointers
 * (CUdeviceptr values cast to pointers) on opts->device; stream is a CUstream (NULL = the legacy
 * default stream). Work is stream-ordered; fit synchronises the stream every check_every iterations
 * to read the convergence flag, and once at the end to fill result->iterations. Device inputs are
 * not scanned for NaN, Inf or values the compute dtype rounds to Inf (the host entry points'
 * FKM_ERR_NONFINITE check): the caller owns their range. */
FKM_API fkm_status fkm_fit_device(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                                  fkm_result *result, void *stream);
FKM_API fkm_status fkm_predict_device(fkm_ctx *ctx, const fkm_points *points,
                                      const float *centroids, const fkm_options *opts,
                                      int32_t *labels, double *inertia, void *stream);

/* Device bytes fkm_fit_device allocates for these points (data must be non-NULL but is not read)
 * and options, beside the caller's buffers; freed when it returns. Opens the device. */
FKM_API fkm_status fkm_workspace_size(fkm_ctx *ctx, const fkm_points *points,
                                      const fkm_options *opts, size_t *bytes);

/* ---- tuning, cache and bundles (SPEC §4) ------------------------------------------------------- */
/* Tunes the assign kernel for these host points and options (k, metric, dtype, precision,
 * device) on the GPU, stores the winner as the shapes' tuning record in the user cache and returns
 * it in *best (caller-owned). A record is keyed by (device name, compute capability, kernel kind,
 * metric, compute dtype, D, and N, K, B each rounded up to a power of two); fit, predict and their
 * device forms use the record of their shapes when no opts->config is given, so a tuned bucket
 * never tunes again. opts->tune == 2 measures every valid configuration (exhaustive, slow); any
 * other value the few the model ranks best, with the model's own pick and the flash-kmeans table's
 * configuration for the device (see fkm_config) always among them: candidates are ranked
 * by a cost model (shared-memory and register fit, occupancy, roofline, wave quantisation) with
 * kernels already in a cache layer preferred, compiled on parallel threads, each timed with device
 * events on the real shapes (median of a few passes) and checked against the reference labels;
 * those within 4 % of the fastest are then timed again, interleaved (so that clock drift reaches
 * them alike), and the fastest of them wins. Synchronises the device; allocates a fit's
 * workspace. A cache that cannot take the record is one warning (the winner is still returned).
 * The engine must not be CPU. The space's candidates are unclustered (num_ctas 1); the pick the run
 * would use without tuning (an existing record's, which may be clustered) is always among them,
 * each candidate timed on centroids laid out for its own kernel. */
FKM_API fkm_status fkm_tune(fkm_ctx *ctx, const fkm_points *points, const fkm_options *opts,
                            fkm_config *best);

/* One configuration a tuning run measured. */
typedef struct fkm_tune_timing {
  fkm_config config;
  double ms;      /* median device time of one assignment pass; negative when it did not compile,
                     load, run, or agree with the reference labels. For the finalists (first
                     timings within 4 % of the fastest), their time in the final round, which
                     times them again in interleaved rounds, scaled by the fastest first
                     timing's ratio of first to final time so that every entry is on one clock;
                     the winner is the finalist with the lowest, and no entry is lower */
  int cached;     /* 1: its kernel came from a cache layer (no compile) */
  int model_pick; /* 1: the configuration the model picks without tuning */
} fkm_tune_timing;

/* What a tuning run did. Caller-owned; timings is a caller-owned array of capacity entries (NULL
 * with capacity 0 for none). */
typedef struct fkm_tune_report {
  fkm_tune_timing *timings;
  size_t capacity;
  size_t count;      /* configurations measured, the model's best-ranked first; entries past
                        capacity are not written */
  size_t space;      /* the size of the exhaustive sweep: every valid configuration */
  size_t best;       /* index of the winner in timings */
  int exhaustive;    /* 1: every valid configuration was measured */
  int stored;        /* 1: the winner went into the user cache as a tuning record */
  size_t compiles;   /* NVRTC compiles the run made */
  double ms_compile; /* wall time of compiling (parallel threads, beside the set-up) */
  double ms_setup;   /* wall time of the workspace, upload, initial centroids, reference labels */
  double ms_measure; /* wall time of loading and timing the candidates */
  double ms_total;   /* wall time of the call */
} fkm_tune_report;

/* fkm_tune that also fills *report (may be NULL). */
FKM_API fkm_status fkm_tune_detailed(fkm_ctx *ctx, const fkm_points *points,
                                     const fkm_options *opts, fkm_config *best,
                                     fkm_tune_report *report);
/* Kernel cache. The user cache is $FKM_CACHE_DIR, else $XDG_CACHE_HOME/fkm, else ~/.cache/fkm
 * ($FKM_CACHE_DIR set and empty disables it). Kernel lookups read, first hit wins, the read-only
 * $FKM_CACHE_OVERRIDE_DIR, the user cache, then the bundles of $FKM_BUNDLE_PATH (colon-separated,
 * read in place). A damaged entry is a miss (rebuilt, logged), never a failure; an unwritable cache
 * means no caching and one warning per context. Paths are borrowed for the call. */
/* Writes the intact entries and tuning records of the user cache as one bundle file (temp file +
 * rename: all or nothing). A bundle's tuning records are read in place like its kernels, after
 * the override dir's and the user cache's. */
FKM_API fkm_status fkm_cache_export(fkm_ctx *ctx, const char *bundle_path);
/* Checks a bundle (manifest, every payload hash and tuning record), then copies its entries and
 * tuning records into the user cache. A damaged bundle imports nothing (FKM_ERR_FORMAT). */
FKM_API fkm_status fkm_cache_import(fkm_ctx *ctx, const char *bundle_path);
/* Checks every entry of the user cache; *bad_entries (caller-owned) is the number of damaged or
 * incomplete ones, each also named through the log callback. */
FKM_API fkm_status fkm_cache_verify(fkm_ctx *ctx, size_t *bad_entries);
/* Removes every kernel of the user cache. */
FKM_API fkm_status fkm_cache_clear(fkm_ctx *ctx);

/* One intact entry of the user cache, as fkm_cache_list reports it. The struct and its strings are
 * borrowed for the duration of the callback. */
typedef struct fkm_cache_entry {
  const char *key;    /* 32 lower-case hex digits: the directory kernels/<key> */
  const char *name;   /* the module's primary kernel, e.g. "fkm_assign_h0123456789abcdef" */
  const char *kind;   /* "assign", "norms", "update" or "finalize" */
  const char *metric; /* "l2", "cosine" or "dot" */
  const char *dtype;  /* compute dtype: "fp16", "bf16" or "fp32" */
  int d;              /* feature dimension D */
  const char *arch;   /* target, e.g. "sm_90a" */
  size_t bytes;       /* size of the cubin */
} fkm_cache_entry;

/* Returns 0 to go on, non-zero to stop the listing. */
typedef int (*fkm_cache_entry_fn)(const fkm_cache_entry *entry, void *user);

/* Calls fn for each intact entry of the user cache, in key order (damaged entries are left to
 * fkm_cache_verify). A disabled or empty cache lists nothing. */
FKM_API fkm_status fkm_cache_list(fkm_ctx *ctx, fkm_cache_entry_fn fn, void *user);

/* What fkm_cache_prebuild compiles: comma-separated lists, borrowed for the call. Caller-owned,
 * filled with the defaults by fkm_prebuild_spec_init. */
typedef struct fkm_prebuild_spec {
  const char *archs;   /* required: compute capabilities of the target devices, e.g. "80,90,90a";
                          "90a" is the same device as "90" (the kernels fkm loads on an sm_90
                          device include sm_90a ones) */
  const char *dims;    /* required: feature dimensions D, e.g. "128,1024" */
  const char *dtypes;  /* compute dtypes fp16, bf16, fp32, tf32 (fp32 with FKM_PRECISION_TF32);
                          default "fp16" */
  const char *metrics; /* l2, cosine, dot; default "l2" */
} fkm_prebuild_spec;

FKM_API void fkm_prebuild_spec_init(fkm_prebuild_spec *spec);

/* Compiles with NVRTC, without a GPU, every kernel a fit or predict would load on those devices
 * for those dtypes, metrics and dimensions — the norms, update and finalize kernels and each assign
 * configuration the default pick may take for any N and K (the model's, and the flash-kmeans
 * tables' for the GPU families of each arch) — into the user cache (entries already there are
 * kept). fkm_cache_export then makes a bundle of them. Needs NVRTC and a writable cache. */
FKM_API fkm_status fkm_cache_prebuild(fkm_ctx *ctx, const fkm_prebuild_spec *spec);

/* ---- Triton compatibility (SPEC §4; owner: the Triton reader, cache/triton_*.c, tuning_*.c) ----- */
/* One kernel of a Triton cache directory, as fkm_triton_inspect reports it. The struct and its
 * strings are borrowed for the duration of the callback. */
typedef struct fkm_triton_kernel {
  const char *dir;         /* the kernel's folder, <cache dir>/<hash> */
  const char *name;        /* the kernel ("" when its metadata is unreadable) */
  const char *hash;        /* Triton's hash from the metadata */
  int num_warps, num_ctas, num_stages;
  long long shared;        /* dynamic shared memory bytes */
  int arch;                /* target.arch, e.g. 90 (0 for non-CUDA targets) */
  int params;              /* parameters in the cubin's records, -1 when unreadable */
  int hidden_params;       /* trailing pointers Triton appends (0, 1 from 3.3, 2 from 3.5) */
  const int *param_sizes;  /* bytes of each of the params parameters (NULL when params < 0 or
                              above 256) */
  int launchable;          /* 1: fkm's launcher can launch it (block = 32·num_warps, shared) */
  const char *why;         /* "" when launchable, else the reason it is not */
} fkm_triton_kernel;

/* Returns 0 to go on, non-zero to stop the listing. */
typedef int (*fkm_triton_kernel_fn)(const fkm_triton_kernel *kernel, void *user);

/* Reads a Triton cache directory ($TRITON_CACHE_DIR layout: <hash>/<name>.json + <name>.cubin;
 * never written) and calls fn for each kernel, in folder order, judged for a device of compute
 * capability sm (e.g. 90; 0 leaves target.arch unchecked). dir is borrowed for the call.
 * FKM_ERR_IO when dir cannot be read. */
FKM_API fkm_status fkm_triton_inspect(fkm_ctx *ctx, const char *dir, int sm,
                                      fkm_triton_kernel_fn fn, void *user);

/* Launches kernel `name` of one folder of a Triton cache directory (kernel_dir = <cache dir>/<hash>,
 * as fkm_triton_inspect reports it; read, never written) on device `device`, on stream (a CUstream;
 * NULL = the legacy default stream), the way Triton's launcher does: grid[0..2] programs, block =
 * 32·num_warps threads, the metadata's `shared` dynamic shared-memory bytes (the function's limit
 * raised when that is above 48 KiB).
 * args holds arg_count pointers to the argument values, in order, as cuLaunchKernel takes them:
 * the parameters Triton kept in the compiled signature (tensors as CUdeviceptr values on `device`,
 * non-constexpr scalars with the cubin's sizes, fkm_triton_kernel.param_sizes; tl.constexpr
 * arguments are baked into the cubin and not passed). fkm appends the hidden trailing pointers
 * Triton's launcher adds (global scratch from Triton 3.3, profile scratch from 3.5) as NULL, which
 * is what Triton passes to a kernel whose scratch sizes are zero.
 * Checks before the device is touched: the metadata reads (FKM_ERR_IO when absent, FKM_ERR_FORMAT
 * when malformed); the kernel needs nothing fkm's launcher lacks — a CUDA target with 32-wide warps,
 * num_ctas = 1 and no clusters, no cooperative grid, no PDL, no global or profile scratch
 * (FKM_ERR_UNSUPPORTED naming the feature); the cubin's parameter records read and end in the
 * hidden pointers (FKM_ERR_IO, FKM_ERR_FORMAT); arg_count + hidden = the cubin's parameter count
 * (FKM_ERR_INVALID_ARG). Then on the device: target.arch runs there and `shared` fits
 * (FKM_ERR_UNSUPPORTED). Argument sizes are the caller's to get right.
 * The cubin is loaded into the device's primary context, the one fkm's own kernels use, once per
 * fkm_ctx (keyed by its content) and stays loaded until fkm_ctx_free or until the context opens
 * another device; metadata and cubin are read again at every call. Stream-ordered; never
 * synchronises. Strings, grid and args are borrowed for the call. */
FKM_API fkm_status fkm_triton_launch(fkm_ctx *ctx, const char *kernel_dir, const char *name,
                                     int device, const unsigned grid[3], void **args,
                                     int arg_count, void *stream);

/* Writes every intact tuning record of the user cache (<root>/tuning/) as a Triton autotune record,
 * <dir>/<record key>/<fn>.autotune.json with flash-kmeans' key layout; *written (caller-owned, may
 * be NULL) counts them. dir is borrowed for the call. FKM_ERR_IO when a file cannot be written. */
FKM_API fkm_status fkm_tuning_export_triton(fkm_ctx *ctx, const char *dir, size_t *written);

/* Imports one Triton autotune record (<fn>.autotune.json with "key" and "configs_timings", as
 * Triton 3.3+ writes it) into the user cache's tuning records: the fastest config, for the N, K
 * (and D for split-D keys) and dtype of its key. What Triton does not record is given: the device
 * name and compute capability the timings were measured on, D for keys without it, and the batch
 * count B. The metric follows the function name (…cosine… → cosine, else L2). *imported
 * (caller-owned, may be NULL) receives the config. FKM_ERR_FORMAT for a malformed record, FKM_ERR_IO
 * when it cannot be read or the cache is disabled or unwritable. Strings are borrowed for the call. */
FKM_API fkm_status fkm_tuning_import_triton(fkm_ctx *ctx, const char *path, const char *device_name,
                                            int sm, int d, int64_t batches, fkm_config *imported);

/* ---- several GPUs (NCCL) ------------------------------------------------------------------------
 * A fit over G GPUs — of one process or of several processes on several hosts — runs as G ranks of
 * an NCCL communicator (libnccl.so.2, opened at run time; FKM_NCCL_PATH overrides the name; NVLink
 * multicast is kept off by setting NCCL_NVLS_ENABLE=0 when fkm opens NCCL, which holds unless the
 * process used NCCL before). Each rank calls fkm_fit (host shard) or fkm_fit_device (shard on the
 * comm's device) with opts->comm set and the same B, D, k, dtype, metric, precision, init, n_init,
 * max_iter, tol, seed, empty policy, config and presence of weights — checked: a difference is
 * FKM_ERR_INVALID_ARG on every rank — and the same init_centroids (not checked). on_iter may be
 * set on some ranks only (each gets the global reports). The global points of batch b are the ranks'
 * shards of batch b concatenated in rank order: rank r passes [B][n_r][D], n_r ≥ 1 points per batch
 * (K ≤ Σ n_r). Each rank assigns and sorts its shard; the per-cluster partial sums pass from rank
 * to rank in rank order (so they are formed in the one-GPU order), the last rank's are broadcast,
 * and every rank finalizes the same centroids. Results: centroids and inertia are the global fit's
 * on every rank, bit for bit the one-GPU fit of the concatenated points whatever G (the inertia
 * too when every shard but the last holds a multiple of 512 points); labels are the rank's own
 * points'. k-means++, the farthest policy, tol_relative and tune are refused (FKM_ERR_UNSUPPORTED).
 * fkm_predict is per rank (it ignores comm and devices). A rank whose arguments fail its checks,
 * whose set-up fails or whose callback stops returns that status and the others FKM_ERR_COMM (the
 * ranks agree before their first collective and after every iteration); a collective that fails
 * gives FKM_ERR_COMM. A CUDA or NCCL failure inside an iteration, or a rank that dies, can leave
 * the others waiting in NCCL (NCCL's own timeouts apply). The kernel configuration is picked for
 * the global shape, so every rank runs
 * the one-GPU fit's kernel (tuning records and bundles must be the same on every host). A rank
 * whose shard streams from host memory (out-of-core) works, but its pass runs after the previous
 * rank's (the sums pass through the chunks in order): streamed shards do not scale. */
#define FKM_COMM_ID_BYTES 128
typedef struct fkm_comm_id {
  unsigned char bytes[FKM_COMM_ID_BYTES]; /* an NCCL unique id */
} fkm_comm_id;

/* A fresh NCCL unique id into *id (caller-owned): made by one rank, given to all. FKM_ERR_NO_NCCL
 * where NCCL cannot be opened. */
FKM_API fkm_status fkm_comm_id_create(fkm_ctx *ctx, fkm_comm_id *id);
/* Writes id to path atomically, mode 0600: the file "FKMCOMM1" + the 128 id bytes, written as
 * <path>.tmp.<pid> in the same directory (which must be writable) and renamed over any earlier
 * file. FKM_ERR_IO with the system's reason when it cannot; nothing is left behind then. */
FKM_API fkm_status fkm_comm_id_save(fkm_ctx *ctx, const fkm_comm_id *id, const char *path);
/* Reads an id that fkm_comm_id_save wrote, waiting up to timeout_s ≥ 0 seconds (0: one look) for
 * the file to appear complete. FKM_ERR_IO when it does not appear in time or cannot be read,
 * FKM_ERR_FORMAT when it is not such a file (or is still short at the timeout); *id is written
 * only on success. */
FKM_API fkm_status fkm_comm_id_load(fkm_ctx *ctx, const char *path, double timeout_s,
                                    fkm_comm_id *id);
/* Joins rank `rank` of `size` (0 ≤ rank < size) on CUDA device `device` ≥ 0; every rank passes the
 * same id and size. Blocks until all ranks have joined (NCCL sets no time limit: a rank that never
 * joins keeps the others waiting). *out is owned by the caller (fkm_comm_free); NULL on failure. */
FKM_API fkm_status fkm_comm_create(fkm_ctx *ctx, int device, int size, int rank,
                                   const fkm_comm_id *id, fkm_comm **out);
/* fkm_comm_create with rank and size from the launcher's environment — FKM_RANK/FKM_SIZE, else
 * RANK/WORLD_SIZE (torchrun: the innermost launcher, so `srun … torchrun` works), OMPI_COMM_WORLD_
 * RANK/_SIZE (Open MPI), PMI_RANK/PMI_SIZE (MPICH, Intel MPI), SLURM_PROCID/SLURM_NTASKS — and the
 * id through the file id_path: rank 0 creates
 * and saves it, the others wait for it (up to 60 s; the file must not be left from an earlier run).
 * The first pair with either variable set decides; a pair half set or not a rank below the size
 * is FKM_ERR_INVALID_ARG. Without any of these variables: rank 0 of 1, and id_path may be NULL
 * (more ranks need it). *out is NULL on failure. */
FKM_API fkm_status fkm_comm_from_env(fkm_ctx *ctx, int device, const char *id_path,
                                     fkm_comm **out);
/* Rank, size and device of comm (-1, 0, -1 for NULL). */
FKM_API int fkm_comm_rank(const fkm_comm *comm);
FKM_API int fkm_comm_size(const fkm_comm *comm);
FKM_API int fkm_comm_device(const fkm_comm *comm);
/* Leaves and frees the communicator (NULL accepted). Every rank frees its own; NCCL may wait in
 * it for the other ranks of the same host to free theirs. */
FKM_API void fkm_comm_free(fkm_comm *comm);

#ifdef __cplusplus
}
#endif
#endif /* FKM_H */
