/* Resolves the kernels of a run: one module per kind (norms, update, finalize, and seed for
 * k-means++) plus the assign kernel of the chosen configuration. Modules that no cache layer holds
 * are compiled together on parallel threads (each takes 0.1–0.8 s of NVRTC: in sequence they
 * would add up), then loaded here. */
#include <stddef.h>

#include "gpu_run.h"
#include "tune.h"

typedef struct {
  const char *entry;
  size_t offset; /* of the CUfunction in fkm__gpu_kernels */
} entry_slot;

#define SLOT(entry, field) {entry, offsetof(fkm__gpu_kernels, field)}

static const entry_slot norms_slots[] = {SLOT("fkm_convert_points", convert),
                                         SLOT("fkm_prep_centroids", prep),
                                         SLOT("fkm_gather_init", gather),
                                         SLOT("fkm_normalise_rows", normalise)};
static const entry_slot update_slots[] = {SLOT("fkm_tile_hist", tile_hist),
                                          SLOT("fkm_col_scan", col_scan),
                                          SLOT("fkm_k_scan", k_scan), SLOT("fkm_scatter", scatter)};
static const entry_slot finalize_slots[] = {
    SLOT("fkm_reduce_segments", reduce), SLOT("fkm_reduce_small_runs", reduce_small),
    SLOT("fkm_check", check),
    SLOT("fkm_point_inertia", point_inertia), SLOT("fkm_sum_partials", sum_partials),
    SLOT("fkm_relocate", relocate), SLOT("fkm_iter_stats", iter_stats),
    SLOT("fkm_reduce_chunk", reduce_chunk), SLOT("fkm_finalize_acc", finalize_acc)};
static const entry_slot seed_slots[] = {
    SLOT("fkm_pp_add_centre", pp_add_centre), SLOT("fkm_pp_chunk_sums", pp_chunk_sums),
    SLOT("fkm_pp_pick", pp_pick), SLOT("fkm_pp_gaps", pp_gaps), SLOT("fkm_pp_potential", pp_potential),
    SLOT("fkm_pp_choose", pp_choose)};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One module of a run: its spec and the entry points it gives run->kern; slots NULL for the
 * assign module, whose one kernel is resolved with run->kern.assign_layout. */
typedef struct run_module {
  fkm__kernel_spec spec;
  const entry_slot *slots;
  size_t count;
} run_module;

#define MAX_MODULES 5 /* norms, update, finalize, seed, assign */

static run_module kind_module(const fkm__gpu_run *run, fkm__kernel_kind kind,
                              const entry_slot *slots, size_t count) {
  run_module m = {fkm__spec_make(kind, run->o->metric, run->dtype, FKM_PRECISION_DEFAULT,
                                 (int)run->d, run->g->sm),
                  slots, count};
  return m;
}

/* The modules run needs into m[0..*count) (≤ MAX_MODULES), the assign module last with its
 * layout in run->kern.assign_layout: norms; update for a fit; finalize; seed for a k-means++
 * fit; assign in the configuration fkm__gpu_assign_spec picks. */
static fkm_status plan(fkm__gpu_run *run, run_module *m, size_t *count) {
  size_t n = 0;
  m[n++] = kind_module(run, FKM_KIND_NORMS, norms_slots, COUNT(norms_slots));
  if (run->fit) m[n++] = kind_module(run, FKM_KIND_UPDATE, update_slots, COUNT(update_slots));
  m[n++] = kind_module(run, FKM_KIND_FINALIZE, finalize_slots, COUNT(finalize_slots));
  if (run->fit && run->o->init == FKM_INIT_KMEANSPP)
    m[n++] = kind_module(run, FKM_KIND_SEED, seed_slots, COUNT(seed_slots));
  m[n] = (run_module){.slots = NULL, .count = 0};
  *count = n + 1;
  return fkm__gpu_assign_spec(run->ctx, run->g, run->spec_points, run->o, &m[n].spec,
                              &run->kern.assign_layout);
}

static int loaded(const struct fkm__gpu *g, const fkm__kernel_spec *s) {
  uint64_t hash = fkm__spec_hash(s);
  for (size_t i = 0; i < g->module_count; i++)
    if (g->modules[i].hash == hash) return 1;
  return 0;
}

/* Loads a cubin the compile threads built; one that failed there, or that the driver refuses
 * here, is left to resolve(), which builds it again on this thread and reports why. */
static void adopt(fkm__gpu_run *run, const fkm__kernel_spec *s, const fkm__cubin *c) {
  if (!c->data || fkm__gpu_adopt(run->ctx, run->g, s, c->data) == FKM_OK) return;
  fkm__log(run->ctx, FKM_LOG_WARN, "a compiled kernel does not load (%s): building it again",
           fkm_ctx_last_error(run->ctx));
  fkm__clear_error(run->ctx);
}

/* Compiles s[0..n) on parallel threads (no cache lookup: the caller found them in no layer;
 * each is stored in the user cache) and loads them into run's context. FKM_ERR_NOMEM, or FKM_OK
 * whatever the builds did. */
static fkm_status build_together(fkm__gpu_run *run, const fkm__kernel_spec *s, size_t n) {
  fkm__compile_batch b;
  fkm_status st = fkm__compile_specs(run->ctx, &b, s, NULL, n, 0);
  if (st != FKM_OK) return st;
  fkm__compile_join(&b); /* its compiles, messages and cache switch now are run->ctx's */
  for (size_t i = 0; i < n; i++) adopt(run, &s[i], &b.cubins[i]);
  fkm__compile_free(&b);
  return FKM_OK;
}

/* Of m[0..count), the modules neither loaded in run's context nor held by a cache layer (looked up
 * here, so a damaged entry is reported once, through run->ctx) are built together and loaded;
 * those a layer holds are left to resolve(), which reads and loads them with no NVRTC call. The
 * wall time goes into g->ms_compile (it is kernel preparation: lookups, compiles, loads). */
static fkm_status build_missing(fkm__gpu_run *run, const run_module *m, size_t count) {
  fkm__kernel_spec missing[MAX_MODULES];
  size_t n = 0;
  double t0 = fkm__now_ms(), before = run->g->ms_compile;
  for (size_t i = 0; i < count; i++)
    if (!loaded(run->g, &m[i].spec) && !fkm__kernel_cached(run->ctx, &m[i].spec))
      missing[n++] = m[i].spec;
  fkm_status st = n ? build_together(run, missing, n) : FKM_OK;
  run->g->ms_compile = before + (fkm__now_ms() - t0);
  return st;
}

/* m's functions into run->kern, its module loaded (and built, when still missing) on first use. */
static fkm_status resolve(fkm__gpu_run *run, const run_module *m) {
  if (!m->slots)
    return fkm__assign_function(run->ctx, run->g, &m->spec, &run->kern.assign_layout,
                                &run->kern.assign);
  for (size_t i = 0; i < m->count; i++) {
    CUfunction *f = (CUfunction *)((char *)&run->kern + m->slots[i].offset);
    fkm_status st = fkm__gpu_function(run->ctx, run->g, &m->spec, m->slots[i].entry, f);
    if (st != FKM_OK) return st;
  }
  return FKM_OK;
}

fkm_status fkm__assign_function(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                                const fkm__spec_layout *layout, CUfunction *out) {
  fkm_status st = fkm__gpu_function(ctx, g, s, "fkm_assign", out);
  return st == FKM_OK ? fkm__allow_shared(ctx, g, *out, layout->shared) : st;
}

/* Lets the counting sort's tile_hist and scatter (where loaded) take dynamic shared memory up to
 * the opt-in limit (sort_counters of gpu_steps.c sizes them per run, up to that limit), and the
 * reduces that stage rows what fkm__reduce_shared gives them. */
static fkm_status allow_wide_shared(fkm__gpu_run *run) {
  CUfunction f[] = {run->kern.tile_hist, run->kern.scatter, run->kern.reduce,
                    run->kern.reduce_chunk};
  size_t bytes[] = {run->g->shared_optin, run->g->shared_optin, fkm__reduce_shared(run, 1),
                    fkm__reduce_shared(run, 0)};
  fkm_status st = FKM_OK;
  for (size_t i = 0; st == FKM_OK && i < sizeof f / sizeof f[0]; i++)
    if (f[i]) st = fkm__allow_shared(run->ctx, run->g, f[i], bytes[i]);
  return st;
}

/* Modules already loaded cost nothing; cached ones are read and loaded with no NVRTC call; the
 * missing ones are compiled together first. */
fkm_status fkm__run_kernels(fkm__gpu_run *run) {
  run_module m[MAX_MODULES];
  size_t count;
  fkm_status st = plan(run, m, &count);
  if (st == FKM_OK) st = build_missing(run, m, count);
  for (size_t i = 0; st == FKM_OK && i < count; i++) st = resolve(run, &m[i]);
  return st == FKM_OK ? allow_wide_shared(run) : st;
}
