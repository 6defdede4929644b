/* Tuning candidates: the valid configurations of the space on a target, a cost model of the assign
 * kernel, and the ranking a pruned run keeps. Pure: no device, no files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space.h"
#include "tune.h"

fkm__tune_target fkm__tune_target_of(const struct fkm__gpu *g, const fkm_points *p,
                                     const fkm_options *o) {
  fkm__tune_target t = {fkm__gpu_assign_base(g, p, o), p->n, o->k, p->batches,
                        g->multiprocessors, g->shared_optin, ""};
  snprintf(t.name, sizeof t.name, "%s", g->name);
  return t;
}

/* ---- the cost model ----------------------------------------------------------------------- */

/* Per-SM rates per clock (relative figures: the ranking needs their ratios) and resources. */
typedef struct sm_rates {
  double mma;    /* tensor-core FLOP of this kernel's kind and dtype */
  double smem;   /* shared-memory bytes */
  double l2;     /* L2 bytes, the SM's share */
  double dram;   /* DRAM bytes, the SM's share */
  double issue;  /* thread instructions (4 schedulers × 32 lanes) */
  int threads;   /* resident threads */
  size_t shared; /* shared memory */
} sm_rates;

#define FKM__LOAD_LATENCY 700.0 /* clocks from a tile's cp.async to its use */
#define FKM__STEP_OVERHEAD 40.0 /* clocks of barriers and pipeline bookkeeping per tile step */
#define FKM__REGS_PER_SM 65536.0

static int consumer_part(int sm) { return sm == 86 || sm == 89 || sm == 120 || sm == 121; }

static size_t shared_limit(const fkm__tune_target *t) {
  return t->shared_optin ? t->shared_optin : fkm__sm_shared_limit(t->base.sm);
}

static sm_rates rates_of(const fkm__tune_target *t, const fkm__kernel_spec *s) {
  int consumer = consumer_part(s->sm);
  double half = fkm__spec_uses_wgmma(s) ? 4096.0 : consumer ? 512.0 : 2048.0;
  double mma = s->dtype != FKM_DTYPE_FP32                    ? half
               : s->precision == FKM_PRECISION_TF32 ? half / 2.0
                                                            : half / 6.0; /* 3×TF32 */
  return (sm_rates){mma, 128.0, consumer ? 24.0 : 32.0, consumer ? 4.0 : 13.0, 128.0,
                    consumer ? 1536 : 2048, shared_limit(t) + 1024};
}

/* Blocks of this configuration resident per SM (≥ 1). */
static double occupancy(const sm_rates *r, const fkm__spec_layout *l) {
  double regs = ceil((l->regs_estimate + 16) / 8.0) * 8.0; /* + addresses and loop state */
  double by_regs = floor(FKM__REGS_PER_SM / (fmin(regs, 255.0) * l->threads));
  double by_shared = floor((double)r->shared / (double)(l->shared + 1024));
  double by_threads = floor((double)r->threads / l->threads);
  double occ = fmin(fmin(by_regs, by_shared), fmin(by_threads, 32.0));
  return occ < 1.0 ? 1.0 : occ;
}

/* Bytes and work of one block over all of K. */
typedef struct block_work {
  double flops, smem, l2, dram, epilogue, steps;
} block_work;

static block_work work_of(const fkm__tune_target *t, const fkm__kernel_spec *s,
                          const fkm__spec_layout *l) {
  double e = s->dtype == FKM_DTYPE_FP32 ? 4.0 : 2.0, bn = s->block_n, bk = s->block_k;
  double ktiles = ceil((double)t->k / bk), kpad = ktiles * bk;
  double dwork = (double)l->d_chunks * l->chunk, chunked = l->d_chunks > 1;
  int wg = fkm__spec_uses_wgmma(s);
  double a_reads = wg ? 1.0 : l->warps_n, b_reads = l->warps_m; /* warps reading each operand */
  block_work w;
  w.flops = 2.0 * bn * kpad * dwork;
  double points = (chunked ? ktiles : 1.0) * bn * dwork * e; /* again each tile when chunked */
  /* 3×TF32 warpgroup kernel (l->split): the points from L2 into registers, hi and lo centroid
   * planes that three MMAs a k-step read (hi twice) in every warpgroup */
  w.smem = l->split ? ktiles * dwork * e * bk * (3.0 * b_reads + 2.0)
                    : ktiles * dwork * e * (bn * a_reads + bk * (b_reads + 1.0)) + points;
  w.l2 = (l->split ? 2.0 : 1.0) * ktiles * bk * dwork * e + points;
  w.dram = bn * (fkm__padded_d(s->d) * e + 4.0);
  w.epilogue = 4.0 * bn * kpad; /* per distance: scale, add the norm, compare, select */
  w.steps = ktiles * l->d_chunks;
  return w;
}

double fkm__tune_cost(const fkm__tune_target *t, const fkm__kernel_spec *s,
                      const fkm__spec_layout *l) {
  sm_rates r = rates_of(t, s);
  block_work w = work_of(t, s, l);
  double sms = t->multiprocessors > 0 ? t->multiprocessors : 1;
  double blocks = ceil((double)t->n / s->block_n) * (double)t->b;
  double per_sm = ceil(blocks / sms), occ = occupancy(&r, l);
  double resident = fmin(occ, per_sm);
  double warps_needed = fkm__spec_uses_wgmma(s) ? 4.0 : 8.0; /* to keep the tensor cores busy */
  double eff = fmin(1.0, resident * s->num_warps / warps_needed);
  double busy = fmax(fmax(w.flops / r.mma / eff, w.smem / r.smem), fmax(w.l2 / r.l2, w.dram / r.dram));
  double step = busy / w.steps;
  double exposed = fmax(0.0, FKM__LOAD_LATENCY - (s->num_stages - 1) * step) + FKM__STEP_OVERHEAD;
  double epilogue = w.epilogue / r.issue / fmin(resident, 2.0); /* overlaps another block's MMAs */
  double latency = (w.steps * exposed + FKM__LOAD_LATENCY) / resident;
  return per_sm * (busy + epilogue + latency);
}

/* ---- the default pick ---------------------------------------------------------------------- */

/* The table's configuration for t (fkm__table_spec within the device's shared memory); 0: none. */
static int table_of(const fkm__tune_target *t, fkm__kernel_spec *out, fkm__spec_layout *l) {
  return fkm__table_spec(t->name, &t->base, t->n, t->k, shared_limit(t), out, l);
}

int fkm__tune_default(const fkm__tune_target *t, const fkm__kernel_spec *model,
                      fkm__kernel_spec *out, fkm__spec_layout *layout) {
  fkm__kernel_spec table;
  fkm__spec_layout tl;
  *out = *model;
  fkm_status st = fkm__spec_validate(out, layout, NULL, 0);
  if (st != FKM_OK || !table_of(t, &table, &tl)) return 0;
  double model_cost = fkm__tune_cost(t, out, layout), table_cost = fkm__tune_cost(t, &table, &tl);
  double bound = fkm__model_measured(model) ? 1.0 - FKM__TABLE_MARGIN : 1.0 + FKM__TABLE_MARGIN;
  if (!(table_cost <= model_cost * bound)) return 0;
  *out = table, *layout = tl;
  return 1;
}

/* ---- the candidates ------------------------------------------------------------------------ */

size_t fkm__tune_capacity(void) { return fkm__space_size() + 3; }

/* The candidate for spec when it is valid on the target; 0 otherwise. */
static int make_candidate(const fkm__tune_target *t, const fkm__kernel_spec *s, size_t index,
                          fkm__tune_candidate *c) {
  memset(c, 0, sizeof *c);
  c->spec = *s;
  if (fkm__spec_validate(&c->spec, &c->layout, NULL, 0) != FKM_OK) return 0;
  if (c->layout.shared > shared_limit(t)) return 0;
  c->cost = c->score = fkm__tune_cost(t, &c->spec, &c->layout);
  c->index = index;
  return 1;
}

/* The model's pick as a configuration maps it (fkm__config_spec), when that is valid on the
 * target; else the pick itself. */
static fkm__kernel_spec canonical(const fkm__tune_target *t, const fkm__kernel_spec *model) {
  fkm_config c = fkm__spec_config(model);
  fkm__kernel_spec s;
  fkm__spec_layout l;
  if (fkm__config_spec(&t->base, &c, &s, &l, NULL, 0) == FKM_OK && l.shared <= shared_limit(t))
    return s;
  return *model;
}

/* Every valid configuration of the space, then the model's pick and the table's configuration
 * where they lie outside. */
static size_t enumerate(const fkm__tune_target *t, const fkm__kernel_spec *model,
                        fkm__tune_candidate *out) {
  fkm__kernel_spec pick = canonical(t, model), table, s = t->base;
  fkm__spec_layout table_layout;
  int has_table = table_of(t, &table, &table_layout);
  uint64_t pick_hash = fkm__spec_hash(&pick), table_hash = has_table ? fkm__spec_hash(&table) : 0;
  size_t count = 0, size = fkm__space_size();
  int found = 0, table_found = !has_table;
  for (size_t i = 0; i < size; i++) {
    fkm__space_apply(i, &s);
    fkm__kernel_spec mapped;
    fkm__spec_layout l;
    fkm_config c = fkm__spec_config(&s);
    if (fkm__config_spec(&t->base, &c, &mapped, &l, NULL, 0) != FKM_OK) continue;
    if (!make_candidate(t, &mapped, i, &out[count])) continue;
    out[count].model_pick = fkm__spec_hash(&mapped) == pick_hash;
    out[count].table_pick = has_table && fkm__spec_hash(&mapped) == table_hash;
    found |= out[count].model_pick, table_found |= out[count].table_pick;
    count++;
  }
  if (!found && make_candidate(t, &pick, size, &out[count])) {
    out[count].table_pick = has_table && fkm__spec_hash(&pick) == table_hash;
    table_found |= out[count].table_pick;
    out[count++].model_pick = 1;
  }
  if (!table_found && make_candidate(t, &table, size + 1, &out[count])) out[count++].table_pick = 1;
  return count;
}

static int by_score(const void *pa, const void *pb) {
  const fkm__tune_candidate *a = pa, *b = pb;
  if (a->score != b->score) return a->score < b->score ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* Probes the cheapest `probe` candidates (sorted by cost) and lowers the score of cached ones. */
static void prefer_cached(fkm__tune_candidate *c, size_t count, size_t probe,
                          fkm__tune_cached_fn cached, void *user) {
  for (size_t i = 0; i < count && i < probe && cached; i++) {
    c[i].cached = cached(&c[i].spec, user) != 0;
    if (c[i].cached) c[i].score = c[i].cost * 0.95;
  }
  qsort(c, count, sizeof *c, by_score);
}

static int same_kernel(const fkm__tune_candidate *a, const fkm__tune_candidate *b) {
  return a->spec.block_n == b->spec.block_n && a->spec.block_k == b->spec.block_k &&
         a->spec.num_warps == b->spec.num_warps && a->spec.num_stages == b->spec.num_stages &&
         a->spec.arch_specific == b->spec.arch_specific && a->layout.chunk == b->layout.chunk &&
         a->layout.d_chunks == b->layout.d_chunks && a->layout.cluster == b->layout.cluster;
}

static int same_tile(const fkm__tune_candidate *a, const fkm__tune_candidate *b) {
  return a->spec.block_n == b->spec.block_n && a->spec.block_k == b->spec.block_k &&
         a->spec.num_warps == b->spec.num_warps;
}

/* Whether ranked candidate c may join kept[0..count): no equivalent kernel there, and fewer than
 * two of its tile shape. */
static int admissible(const fkm__tune_candidate *kept, size_t count, const fkm__tune_candidate *c) {
  int tiles = 0;
  for (size_t i = 0; i < count; i++) {
    if (same_kernel(&kept[i], c)) return 0;
    tiles += same_tile(&kept[i], c);
  }
  return tiles < 2;
}

static int required(const fkm__tune_candidate *c) { return c->model_pick || c->table_pick; }
_Static_assert(FKM__TUNE_KEEP > 2, "a pruned run keeps room beside the two required picks");

/* Keeps the best admissible candidates of ranked c[0..count) in place, with the model's pick and
 * the table's: one not admitted takes the place of the worst kept candidate that is neither.
 * Returns how many. */
static size_t prune(fkm__tune_candidate *c, size_t count) {
  fkm__tune_candidate kept[FKM__TUNE_KEEP];
  size_t n = 0, must[2], m = 0;
  int admitted[2] = {0, 0};
  for (size_t i = 0; i < count; i++) {
    int admit = n < FKM__TUNE_KEEP && admissible(kept, n, &c[i]);
    if (admit) kept[n++] = c[i];
    if (required(&c[i]) && m < 2) admitted[m] = admit, must[m++] = i;
  }
  for (size_t j = 0; j < m; j++) {
    if (admitted[j]) continue;
    if (n == FKM__TUNE_KEEP) {
      size_t drop = n - 1;
      while (required(&kept[drop])) drop--; /* at most two are: FKM__TUNE_KEEP > 2 */
      memmove(&kept[drop], &kept[drop + 1], (n - drop - 1) * sizeof *kept);
      n--;
    }
    kept[n++] = c[must[j]];
  }
  qsort(kept, n, sizeof *kept, by_score);
  memcpy(c, kept, n * sizeof *kept);
  return n;
}

size_t fkm__tune_candidates(const fkm__tune_target *t, const fkm__kernel_spec *model,
                            int exhaustive, fkm__tune_cached_fn cached, void *user,
                            fkm__tune_candidate *out, size_t *space) {
  size_t count = enumerate(t, model, out);
  if (space) *space = count;
  qsort(out, count, sizeof *out, by_score);
  if (exhaustive) return count;
  prefer_cached(out, count, 2 * FKM__TUNE_KEEP, cached, user);
  return prune(out, count);
}

size_t fkm__tune_add_pick(const fkm__tune_target *t, const fkm__kernel_spec *s,
                          fkm__tune_candidate *out, size_t count) {
  uint64_t hash = fkm__spec_hash(s);
  for (size_t i = 0; i < count; i++)
    if (fkm__spec_hash(&out[i].spec) == hash) return count;
  return count + (size_t)make_candidate(t, s, fkm__space_size() + 2, &out[count]);
}
