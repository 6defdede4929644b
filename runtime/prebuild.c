/* fkm_cache_prebuild: offline compiles, with no GPU, of what the GPU engine loads on chosen devices. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "kernel_cache.h"

#define MAX_ITEMS 32

typedef struct prebuild_lists {
  int sm[MAX_ITEMS], dims[MAX_ITEMS];
  fkm_dtype dtype[MAX_ITEMS];
  fkm_precision precision[MAX_ITEMS];
  fkm_metric metric[MAX_ITEMS];
  int n_sm, n_dims, n_dtypes, n_metrics;
} prebuild_lists;

typedef struct prebuild_job {
  fkm_ctx *ctx;
  uint64_t *done; /* spec hashes handled so far */
  size_t n_done, cap_done;
  size_t compiled, cached;
} prebuild_job;

void fkm_prebuild_spec_init(fkm_prebuild_spec *spec) {
  if (!spec) return;
  memset(spec, 0, sizeof *spec);
  spec->dtypes = "fp16";
  spec->metrics = "l2";
}

/* ---- the lists ----------------------------------------------------------------------------- */

/* Parses one token into slot i of the lists; 0 or -1 when it is not a valid value. */
typedef int (*token_fn)(const char *token, prebuild_lists *l, int i);

static int arch_token(const char *t, prebuild_lists *l, int i) {
  char *end;
  errno = 0;
  long sm = strtol(t, &end, 10);
  if (end == t || errno || (*end && strcmp(end, "a") != 0) || sm < 80 || sm > 999) return -1;
  l->sm[i] = (int)sm;
  return 0;
}

static int dim_token(const char *t, prebuild_lists *l, int i) {
  char *end;
  errno = 0;
  long d = strtol(t, &end, 10);
  if (end == t || errno || *end || d < 1 || d > FKM__MAX_GPU_D) return -1;
  l->dims[i] = (int)d;
  return 0;
}

static int dtype_token(const char *t, prebuild_lists *l, int i) {
  static const char *const names[] = {"fp16", "bf16", "fp32", "tf32"};
  static const fkm_dtype types[] = {FKM_DTYPE_FP16, FKM_DTYPE_BF16, FKM_DTYPE_FP32, FKM_DTYPE_FP32};
  for (int k = 0; k < 4; k++) {
    if (strcmp(t, names[k]) != 0) continue;
    l->dtype[i] = types[k];
    l->precision[i] = k == 3 ? FKM_PRECISION_TF32 : FKM_PRECISION_DEFAULT;
    return 0;
  }
  return -1;
}

static int metric_token(const char *t, prebuild_lists *l, int i) {
  for (int m = FKM_METRIC_L2; m <= FKM_METRIC_DOT; m++) {
    if (strcmp(t, fkm__metric_name((fkm_metric)m)) != 0) continue;
    l->metric[i] = (fkm_metric)m;
    return 0;
  }
  return -1;
}

/* Splits a comma-separated list into *count items (at least one, at most MAX_ITEMS). */
static fkm_status parse_list(fkm_ctx *ctx, const char *what, const char *list, token_fn fn,
                             prebuild_lists *l, int *count) {
  char token[64];
  *count = 0;
  if (!list || !list[0]) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "prebuild: no %s given", what);
  for (const char *p = list;; p++) {
    size_t len = strcspn(p, ",");
    if (len >= sizeof token || *count == MAX_ITEMS)
      return fkm__error(ctx, FKM_ERR_INVALID_ARG, "prebuild: %s: item too long or too many", what);
    memcpy(token, p, len);
    token[len] = '\0';
    if (fn(token, l, *count) != 0)
      return fkm__error(ctx, FKM_ERR_INVALID_ARG, "prebuild: %s: '%s' is not valid", what, token);
    (*count)++;
    p += len;
    if (!*p) return FKM_OK;
  }
}

static fkm_status parse_lists(fkm_ctx *ctx, const fkm_prebuild_spec *spec, prebuild_lists *l) {
  fkm_status st = parse_list(ctx, "archs (compute capabilities >= 80, e.g. 80,90,90a)",
                             spec->archs, arch_token, l, &l->n_sm);
  if (st == FKM_OK)
    st = parse_list(ctx, "dims (D in [1, 12288])", spec->dims, dim_token, l, &l->n_dims);
  if (st == FKM_OK)
    st = parse_list(ctx, "dtypes (fp16, bf16, fp32, tf32)", spec->dtypes, dtype_token, l,
                    &l->n_dtypes);
  if (st == FKM_OK)
    st = parse_list(ctx, "metrics (l2, cosine, dot)", spec->metrics, metric_token, l,
                    &l->n_metrics);
  return st;
}

/* ---- the kernels --------------------------------------------------------------------------- */

/* 1 if spec was handled before, else records it. -1 when out of memory. */
static int seen(prebuild_job *job, const fkm__kernel_spec *s) {
  uint64_t h = fkm__spec_hash(s);
  for (size_t i = 0; i < job->n_done; i++)
    if (job->done[i] == h) return 1;
  if (job->n_done == job->cap_done) {
    size_t cap = job->cap_done ? 2 * job->cap_done : 64;
    uint64_t *grown = realloc(job->done, cap * sizeof *grown);
    if (!grown) return -1;
    job->done = grown, job->cap_done = cap;
  }
  job->done[job->n_done++] = h;
  return 0;
}

/* Puts spec's cubin into the user cache (compiling it unless it is there already). */
static fkm_status ensure(prebuild_job *job, const fkm__kernel_spec *s) {
  int was = seen(job, s);
  if (was) return was < 0 ? fkm__error(job->ctx, FKM_ERR_NOMEM, "prebuild: out of memory") : FKM_OK;
  fkm__cubin c;
  fkm_status st = fkm__kernel_cubin(job->ctx, s, FKM__LAYER_USER, &c);
  free(c.data);
  if (st != FKM_OK) return st;
  if (c.layer) {
    job->cached++;
    return FKM_OK;
  }
  if (c.stored != FKM_OK)
    return fkm__error(job->ctx, FKM_ERR_IO,
                      "prebuild: cannot store kernels in the user cache (disabled or not writable; "
                      "see the context's first warning)");
  job->compiled++;
  return FKM_OK;
}

/* The flash-kmeans table families (the names fkm__table_lookup matches) whose GPUs have
 * compute capability sm: on such a device the default pick may be the table's configuration. */
static const char *const table_families[][2] = {{"A100", "80"}, {"H100", "90"}, {"H200", "90"},
                                                {"GB10", "121"}};

/* The table configurations of the families of g->sm for these shapes (all of them, whatever the
 * cost model would decide on the real device: its multiprocessor count is unknown here). */
static fkm_status ensure_tables(prebuild_job *job, const struct fkm__gpu *g, const fkm_points *p,
                                const fkm_options *o) {
  fkm__kernel_spec base = fkm__gpu_assign_base(g, p, o), s;
  fkm__spec_layout l;
  for (size_t f = 0; f < sizeof table_families / sizeof table_families[0]; f++) {
    if (atoi(table_families[f][1]) != g->sm) continue;
    if (!fkm__table_spec(table_families[f][0], &base, p->n, o->k, g->shared_optin, &s, &l)) continue;
    fkm_status st = ensure(job, &s);
    if (st != FKM_OK) return st;
  }
  return FKM_OK;
}

/* Every assign configuration the default pick may take on a device of g's kind — the model's and
 * the flash-kmeans tables' — over N and K from 1 to 2^30 (the choices change at powers of two). */
static fkm_status ensure_assign(prebuild_job *job, const struct fkm__gpu *g, fkm_dtype t,
                                fkm_precision prec, fkm_metric metric, int d) {
  fkm_options o;
  fkm_options_init(&o);
  o.metric = metric, o.dtype = t, o.precision = prec;
  fkm_points p = {NULL, t, 1, 1, d};
  int picked = 0;
  for (int64_t n = 1; n <= (INT64_C(1) << 30); n *= 2) {
    for (o.k = 1; o.k <= n; o.k *= 2) {
      fkm__kernel_spec s;
      fkm__spec_layout l;
      p.n = n;
      if (fkm__gpu_assign_spec(job->ctx, g, &p, &o, &s, &l) != FKM_OK) {
        fkm__clear_error(job->ctx); /* a shape no configuration fits is no failure here */
        continue;
      }
      picked = 1;
      fkm_status st = ensure(job, &s);
      if (st == FKM_OK) st = ensure_tables(job, g, &p, &o);
      if (st != FKM_OK) return st;
    }
  }
  return picked ? FKM_OK
                : fkm__error(job->ctx, FKM_ERR_REJECTED,
                             "prebuild: no assign configuration fits sm_%d for D=%d", g->sm, d);
}

static fkm_status ensure_device(prebuild_job *job, int sm, const prebuild_lists *l) {
  static const fkm__kernel_kind kinds[] = {FKM_KIND_NORMS, FKM_KIND_UPDATE, FKM_KIND_FINALIZE,
                                           FKM_KIND_SEED};
  struct fkm__gpu g;
  memset(&g, 0, sizeof g);
  g.sm = sm;
  fkm__gpu_shared_of_limit(&g, fkm__sm_shared_limit(sm));
  fkm_status st = FKM_OK;
  for (int t = 0; t < l->n_dtypes && st == FKM_OK; t++)
    for (int m = 0; m < l->n_metrics && st == FKM_OK; m++)
      for (int i = 0; i < l->n_dims && st == FKM_OK; i++) {
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && st == FKM_OK; k++) {
          fkm__kernel_spec s = fkm__spec_make(kinds[k], l->metric[m], l->dtype[t],
                                              FKM_PRECISION_DEFAULT, l->dims[i], sm);
          st = ensure(job, &s);
        }
        if (st == FKM_OK)
          st = ensure_assign(job, &g, l->dtype[t], l->precision[t], l->metric[m], l->dims[i]);
      }
  return st;
}

fkm_status fkm_cache_prebuild(fkm_ctx *ctx, const fkm_prebuild_spec *spec) {
  char root[FKM__PATH_MAX];
  prebuild_lists l;
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!spec) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "prebuild: no spec");
  fkm_status st = parse_lists(ctx, spec, &l);
  if (st != FKM_OK) return st;
  if (!fkm__cache_user_root(root, sizeof root))
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "prebuild: the disk cache is disabled");
  prebuild_job job = {ctx, NULL, 0, 0, 0, 0};
  for (int i = 0; i < l.n_sm && st == FKM_OK; i++) st = ensure_device(&job, l.sm[i], &l);
  if (st == FKM_OK)
    fkm__log(ctx, FKM_LOG_INFO, "prebuild into %s: %zu kernels, %zu compiled, %zu already cached",
             root, job.n_done, job.compiled, job.cached);
  free(job.done);
  return st;
}
