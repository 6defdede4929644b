/* fkm tune: tunes the assign kernel for the points of a .npy file, or for random points of a given
 * shape, on the GPU; stores the winner as a tuning record. --compare-exhaustive also measures every
 * valid configuration, to judge the pruned tuning and the model's untuned pick against the best. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TUNE_TIMINGS 512 /* more than the configuration space */

typedef struct tune_args {
  cli_tune_shape shape; /* B, N, D, K, dtype, metric: from the input or --shape */
  const char *input;
  fkm_options opts;     /* k, metric, dtype, precision, device, seed */
  int synthetic, compare, exhaustive, json, quiet;
} tune_args;

/* ---- arguments -------------------------------------------------------------------------------- */

/* A non-negative integer; 0 or -1. */
static int parse_count(const char *s, int64_t *out) {
  return cli_parse_range(s, 0, INT64_MAX, out);
}

/* The index i in [0, count) whose name(i) is s, or -1. */
static int name_index(const char *s, const char *(*name)(int), int count) {
  for (int i = 0; i < count; i++)
    if (strcmp(s, name(i)) == 0) return i;
  return -1;
}

static const char *metric_at(int i) { return cli_metric_name((fkm_metric)i); }
static int set_shape(tune_args *a, const char *v) {
  int64_t x[3];
  if (cli_parse_ints(v, 3, 0, x)) return -1;
  a->shape.n = x[0], a->shape.d = x[1], a->opts.k = x[2], a->synthetic = 1;
  return 0;
}

/* Applies option w with value v (NULL when absent); 0 or CLI_EXIT_USAGE (printed). */
static int apply_value(tune_args *a, const char *w, const char *v) {
  static const char *const known[] = {"-k",       "--batches", "--shape", "--dtype",
                                       "--metric", "--device",  "--seed"};
  int64_t x = 0;
  size_t i = 0, count = sizeof known / sizeof known[0];
  int bad = 1;
  while (i < count && strcmp(w, known[i]) != 0) i++;
  if (i == count) return cli_usage_error("tune: unknown option '%s' (see 'fkm help tune')", w);
  if (!v) return cli_usage_error("tune: option '%s' needs a value", w);
  if (strcmp(w, "-k") == 0) bad = parse_count(v, &a->opts.k);
  else if (strcmp(w, "--batches") == 0) bad = parse_count(v, &a->shape.b) || a->shape.b < 1;
  else if (strcmp(w, "--shape") == 0) bad = set_shape(a, v);
  else if (strcmp(w, "--dtype") == 0)
    bad = cli_parse_compute_dtype(v, &a->opts.dtype, &a->opts.precision);
  else if (strcmp(w, "--metric") == 0) bad = (x = name_index(v, metric_at, 3)) < 0;
  else if (strcmp(w, "--device") == 0) bad = parse_count(v, &x) || x >= 1 << 20;
  else bad = parse_count(v, &x); /* --seed */
  if (bad)
    return cli_usage_error("tune: %s: invalid value '%s' (see 'fkm help tune')", w, v);
  if (strcmp(w, "--metric") == 0) a->opts.metric = (fkm_metric)x;
  if (strcmp(w, "--device") == 0) a->opts.device = (int)x;
  if (strcmp(w, "--seed") == 0) a->opts.seed = (uint64_t)x;
  return 0;
}

static int apply_flag(tune_args *a, const char *w) {
  int *flag = strcmp(w, "--exhaustive") == 0           ? &a->exhaustive
              : strcmp(w, "--compare-exhaustive") == 0 ? &a->compare
              : strcmp(w, "--json") == 0               ? &a->json
              : strcmp(w, "--quiet") == 0              ? &a->quiet
                                                       : NULL;
  if (!flag) return -1;
  *flag = 1;
  return 0;
}

static int parse(int argc, char **argv, tune_args *a) {
  memset(a, 0, sizeof *a);
  fkm_options_init(&a->opts);
  a->shape.b = 1;
  for (int i = 0; i < argc; i++) {
    const char *w = argv[i];
    if (apply_flag(a, w) == 0) continue;
    if (w[0] == '-' && w[1]) {
      int rc = apply_value(a, w, i + 1 < argc ? argv[i + 1] : NULL);
      if (rc) return rc;
      i++;
    } else if (!a->input) {
      a->input = w;
    } else {
      return cli_usage_error("tune: unexpected argument '%s'", w);
    }
  }
  if (!a->input == !a->synthetic)
    return cli_usage_error("tune: give INPUT.npy -k K or --shape N,D,K (see 'fkm help tune')");
  if (a->input && a->shape.b != 1) return cli_usage_error("tune: --batches goes with --shape");
  if (a->opts.k < 1) return cli_usage_error("tune: -k K is required");
  return 0;
}

/* ---- data ------------------------------------------------------------------------------------- */

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* 16 random bits as an fp16 or bf16 value ±(1 + m)·2^-e, e in [1, 9]: finite, in (-1, 1). */
static uint16_t random_half(unsigned r, fkm_dtype t) {
  unsigned sign = (r >> 15) & 1, e = ((r >> 10) & 31) % 9 + 1;
  if (t == FKM_DTYPE_FP16) return (uint16_t)(sign << 15 | (15 - e) << 10 | (r & 1023));
  return (uint16_t)(sign << 15 | (127 - e) << 7 | (r & 127));
}

/* count random values of storage dtype t (fp16, bf16 or fp32) in (-1, 1), from 64-bit draws of
 * a counter-based generator (four 16-bit values or one fp32 per draw); NULL out of memory. */
static void *random_values(uint64_t seed, size_t count, fkm_dtype t) {
  int wide = t == FKM_DTYPE_FP32, per = wide ? 1 : 4;
  void *data = malloc(count * (wide ? 4 : 2));
  for (size_t g = 0; data && g * per < count; g++) {
    uint64_t r = mix(seed ^ (g * 0x2545f4914f6cdd1dull));
    if (wide) ((float *)data)[g] = (float)((double)(r >> 11) * 0x1p-52 - 1.0);
    for (size_t i = g * 4; !wide && i < count && i < g * 4 + 4; i++)
      ((uint16_t *)data)[i] = random_half((unsigned)(r >> (16 * (i % 4))) & 0xffff, t);
  }
  return data;
}

/* The points to tune on: the input's, or random ones of the compute dtype. */
static int load(tune_args *a, cli_points *file, fkm_points *p, void **owned) {
  *owned = NULL;
  if (!a->synthetic) {
    int rc = cli_load_points("tune", a->input, file);
    if (rc) return rc;
    *p = file->points;
    a->shape.b = p->batches, a->shape.n = p->n, a->shape.d = p->d;
    return 0;
  }
  fkm_dtype t = a->opts.dtype == FKM_DTYPE_AUTO ? FKM_DTYPE_FP16 : a->opts.dtype;
  if (t == FKM_DTYPE_FP64) return cli_usage_error("tune: --shape takes fp16, bf16, fp32 or tf32");
  size_t count = (size_t)(a->shape.b * a->shape.n * a->shape.d);
  *owned = random_values(a->opts.seed, count, t);
  if (!*owned) return cli_fail("tune: out of memory for %zu random values", count);
  *p = (fkm_points){*owned, t, a->shape.b, a->shape.n, a->shape.d};
  return 0;
}

/* ---- the runs --------------------------------------------------------------------------------- */

static int tune_once(fkm_ctx *ctx, const fkm_points *p, fkm_options o, int exhaustive,
                     fkm_tune_report *r, fkm_config *best) {
  o.tune = exhaustive ? 2 : 1;
  fkm_status s = fkm_tune_detailed(ctx, p, &o, best, r);
  return s == FKM_OK ? 0 : cli_fail_status(ctx, s, exhaustive ? "tune (exhaustive)" : "tune");
}

static int run(fkm_ctx *ctx, tune_args *a, const fkm_points *p) {
  fkm_tune_timing *pruned = malloc(TUNE_TIMINGS * sizeof *pruned);
  fkm_tune_timing *all = malloc(TUNE_TIMINGS * sizeof *all);
  fkm_tune_report r = {.timings = pruned, .capacity = TUNE_TIMINGS};
  fkm_tune_report e = {.timings = all, .capacity = TUNE_TIMINGS};
  fkm_config best, best_e;
  int rc = pruned && all ? 0 : cli_fail("tune: out of memory");
  a->shape.k = a->opts.k;
  a->shape.dtype = a->opts.dtype == FKM_DTYPE_AUTO ? p->dtype : a->opts.dtype;
  a->shape.precision = a->opts.precision, a->shape.metric = a->opts.metric;
  if (!rc) rc = tune_once(ctx, p, a->opts, a->exhaustive && !a->compare, &r, &best);
  if (!rc && a->compare) rc = tune_once(ctx, p, a->opts, 1, &e, &best_e);
  if (!rc) cli_tune_print(&a->shape, &r, a->compare ? &e : NULL, a->json);
  free(pruned);
  free(all);
  return rc;
}

int cli_cmd_tune(int argc, char **argv) {
  tune_args a;
  if (argc == 1 && strcmp(argv[0], "--help") == 0) return cli_usage(stdout, "tune"), CLI_EXIT_OK;
  int rc = parse(argc, argv, &a);
  if (rc) return rc;
  cli_points file;
  fkm_points p;
  void *owned;
  fkm_ctx *ctx = NULL;
  memset(&file, 0, sizeof file);
  rc = load(&a, &file, &p, &owned);
  if (!rc) rc = cli_ctx_create(&ctx, a.quiet) ? CLI_EXIT_FAIL : 0;
  if (!rc) rc = run(ctx, &a, &p);
  fkm_ctx_free(ctx);
  cli_free_points(&file);
  free(owned);
  return rc;
}
