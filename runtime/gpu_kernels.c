/* Resolves the kernels of a run: one module per kind (norms, update, finalize, and seed for
 * k-means++) plus the assign kernel of the chosen configuration. */
#include <stddef.h>

#include "gpu_run.h"

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
    SLOT("fkm_reduce_finalize", reduce), SLOT("fkm_check", check),
    SLOT("fkm_point_inertia", point_inertia), SLOT("fkm_sum_partials", sum_partials),
    SLOT("fkm_relocate", relocate), SLOT("fkm_iter_stats", iter_stats)};
static const entry_slot seed_slots[] = {
    SLOT("fkm_pp_add_centre", pp_add_centre), SLOT("fkm_pp_chunk_sums", pp_chunk_sums),
    SLOT("fkm_pp_pick", pp_pick), SLOT("fkm_pp_potential", pp_potential),
    SLOT("fkm_pp_choose", pp_choose)};

static fkm_status resolve_kind(fkm__gpu_run *run, fkm__kernel_kind kind, const entry_slot *slots,
                               size_t count) {
  fkm__kernel_spec s = fkm__spec_make(kind, run->o->metric, run->dtype, FKM_PRECISION_DEFAULT,
                                      (int)run->d, run->g->sm);
  for (size_t i = 0; i < count; i++) {
    CUfunction *f = (CUfunction *)((char *)&run->kern + slots[i].offset);
    fkm_status st = fkm__gpu_function(run->ctx, run->g, &s, slots[i].entry, f);
    if (st != FKM_OK) return st;
  }
  return FKM_OK;
}

fkm_status fkm__assign_function(fkm_ctx *ctx, struct fkm__gpu *g, const fkm__kernel_spec *s,
                                const fkm__spec_layout *layout, CUfunction *out) {
  fkm_status st = fkm__gpu_function(ctx, g, s, "fkm_assign", out);
  if (st != FKM_OK) return st;
  if (layout->shared > 48 * 1024)
    FKM_CU_TRY(ctx, g->cu,
               cuFuncSetAttribute(*out, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                  (int)layout->shared));
  return FKM_OK;
}

static fkm_status resolve_assign(fkm__gpu_run *run) {
  fkm__kernel_spec s;
  fkm_status st = fkm__gpu_assign_spec(run->ctx, run->g, run->p, run->o, &s, &run->kern.assign_layout);
  return st == FKM_OK ? fkm__assign_function(run->ctx, run->g, &s, &run->kern.assign_layout,
                                             &run->kern.assign)
                      : st;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

fkm_status fkm__run_kernels(fkm__gpu_run *run) {
  fkm_status st = resolve_kind(run, FKM_KIND_NORMS, norms_slots, COUNT(norms_slots));
  if (st == FKM_OK && run->fit) st = resolve_kind(run, FKM_KIND_UPDATE, update_slots, COUNT(update_slots));
  if (st == FKM_OK) st = resolve_kind(run, FKM_KIND_FINALIZE, finalize_slots, COUNT(finalize_slots));
  if (st == FKM_OK && run->fit && run->o->init == FKM_INIT_KMEANSPP)
    st = resolve_kind(run, FKM_KIND_SEED, seed_slots, COUNT(seed_slots));
  if (st == FKM_OK) st = resolve_assign(run);
  return st;
}
