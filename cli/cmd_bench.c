/* fkm bench: per-iteration time of fit on SPEC §8's shapes (or given ones) with random uniform
 * points in [-1, 1): a warm-up fit of 2 iterations (compiles), a timed fit of --iters iterations
 * with tol off (ms/iter = the iterations' device time / their count), then a fit of 3 iterations
 * with profiling for the assign/update split. The timed fit's labels are checked against an fp64
 * scan of its centroids on a sample (bench_check.c). Each shape is held against its floor at the
 * card's rates given by --peak-tflops and --copy-tbps (bench_floor.c; SPEC §8's H100 anchors by
 * default). A markdown table on stdout; with --json FILE one object a shape per line. Exit 0 when
 * every shape ran and passed its check. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_check.h"
#include "bench_floor.h"
#include "npy.h"
#include "cli.h"

#define BENCH_MAX_SHAPES 16

typedef struct bench_shape {
  char name[48];
  int64_t b, n, k, d;
  fkm_dtype dtype;
  fkm_precision precision;
  double flash_ms; /* SPEC §8: flash-kmeans on an H100 80GB HBM3, 2026-11-25; 0 when unknown */
} bench_shape;

static const bench_shape spec8[] = {
    {"b32_n74k_k1000", 32, 74256, 1000, 128, FKM_DTYPE_FP16, 0, 3.16},
    {"n8m_k1024", 1, 8388608, 1024, 128, FKM_DTYPE_FP16, 0, 8.09},
    {"n1m_k8192", 1, 1048576, 8192, 128, FKM_DTYPE_FP16, 0, 6.41},
    {"b8_n65k_k100", 8, 65536, 100, 128, FKM_DTYPE_FP16, 0, 0.72},
    {"n1m_k65536", 1, 1048576, 65536, 128, FKM_DTYPE_FP16, 0, 48.6},
    {"n1m_k1024_d1024", 1, 1048576, 1024, 1024, FKM_DTYPE_FP16, 0, 9.35},
    {"n4m_k4096_bf16", 1, 4194304, 4096, 128, FKM_DTYPE_BF16, 0, 12.4},
    {"n2m_k1024_fp32", 1, 2097152, 1024, 128, FKM_DTYPE_FP32, 0, 3.67},
    {"n2m_k1024_tf32", 1, 2097152, 1024, 128, FKM_DTYPE_FP32, FKM_PRECISION_TF32, 3.67},
};
#define SPEC8_COUNT ((int)(sizeof spec8 / sizeof spec8[0]))

typedef struct bench_args {
  bench_shape shapes[BENCH_MAX_SHAPES];
  int count;
  int64_t iters, sample;
  fkm_engine engine;
  int device;
  fkm_config config;
  double peak_tflops, copy_tbps; /* the card's measured dense fp16 rate and copy bandwidth */
  const char *json;
} bench_args;

/* ---- arguments ------------------------------------------------------------------------------- */

/* --only NAME[,NAME...]: SPEC §8 shapes by name, appended in the order given. */
static int add_named(bench_args *a, const char *list) {
  char buf[512];
  if (strlen(list) >= sizeof buf) return -1;
  strcpy(buf, list);
  for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
    int i = 0;
    while (i < SPEC8_COUNT && strcmp(t, spec8[i].name) != 0) i++;
    if (i == SPEC8_COUNT || a->count == BENCH_MAX_SHAPES) return -1;
    a->shapes[a->count++] = spec8[i];
  }
  return 0;
}

/* --shape B,N,K,D,DTYPE (fp16, bf16, fp32 or tf32), K ≤ N, at most 10^12 values of points. */
static int add_shape(bench_args *a, const char *v) {
  int64_t x[4];
  const char *dt = strrchr(v, ',');
  char head[96];
  if (!dt || (size_t)(dt - v) >= sizeof head || a->count == BENCH_MAX_SHAPES) return -1;
  memcpy(head, v, (size_t)(dt - v)), head[dt - v] = '\0', dt++;
  if (cli_parse_ints(head, 4, 0, x)) return -1;
  bench_shape *s = &a->shapes[a->count];
  memset(s, 0, sizeof *s);
  if (cli_parse_compute_dtype(dt, &s->dtype, &s->precision) || x[2] > x[1] ||
      (double)x[0] * x[1] * x[3] > 1e12)
    return -1;
  s->b = x[0], s->n = x[1], s->k = x[2], s->d = x[3];
  snprintf(s->name, sizeof s->name, "b%lld_n%lld_k%lld_d%lld_%s", (long long)x[0], (long long)x[1],
           (long long)x[2], (long long)x[3], dt);
  a->count++;
  return 0;
}

static int set_config(fkm_config *c, const char *v) {
  int64_t x[6];
  if (cli_parse_ints(v, 6, 1, x)) return -1;
  *c = (fkm_config){(int)x[0], (int)x[1], (int)x[2], (int)x[3], (int)x[4], (int)x[5]};
  return 0;
}

/* Applies option w with value v; 0 or CLI_EXIT_USAGE (printed). */
static int apply(bench_args *a, const char *w, const char *given) {
  int64_t x = 0;
  int bad = 1;
  const char *v = given ? given : ""; /* what a missing value is first parsed as, then refused */
  if (strcmp(w, "--iters") == 0) bad = cli_parse_range(v, 1, 100000, &a->iters);
  else if (strcmp(w, "--sample") == 0) bad = cli_parse_range(v, 1, INT64_MAX, &a->sample);
  else if (strcmp(w, "--only") == 0) bad = add_named(a, v);
  else if (strcmp(w, "--shape") == 0) bad = add_shape(a, v);
  else if (strcmp(w, "--config") == 0) bad = set_config(&a->config, v);
  else if (strcmp(w, "--engine") == 0) bad = cli_parse_engine(v, &a->engine);
  else if (strcmp(w, "--device") == 0) bad = cli_parse_range(v, 0, 1 << 20, &x), a->device = (int)x;
  else if (strcmp(w, "--peak-tflops") == 0) bad = cli_parse_positive(v, &a->peak_tflops);
  else if (strcmp(w, "--copy-tbps") == 0) bad = cli_parse_positive(v, &a->copy_tbps);
  else if (strcmp(w, "--json") == 0) bad = 0, a->json = v;
  else return cli_usage_error("bench: unknown option '%s' (see 'fkm help bench')", w);
  if (!given) return cli_usage_error("bench: option '%s' needs a value (see 'fkm help bench')", w);
  return bad ? cli_usage_error("bench: %s: invalid value '%s' (see 'fkm help bench')", w, v) : 0;
}

/* Options as "--name value" or "--name=value"; 0, CLI_EXIT_USAGE (printed), or -1 for --help
 * or -h anywhere. */
static int parse(int argc, char **argv, bench_args *a) {
  char name[64];
  memset(a, 0, sizeof *a);
  a->iters = 10, a->sample = 256, a->engine = FKM_ENGINE_GPU;
  a->peak_tflops = BENCH_H100_FP16_TFLOPS, a->copy_tbps = BENCH_H100_COPY_TBPS;
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return -1;
  for (int i = 0; i < argc; i++) {
    const char *w = argv[i], *eq = strncmp(w, "--", 2) == 0 ? strchr(w, '=') : NULL;
    if (eq && (size_t)(eq - w) >= sizeof name) eq = NULL; /* no such option: refused whole */
    if (eq) snprintf(name, sizeof name, "%.*s", (int)(eq - w), w);
    const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
    int rc = apply(a, eq ? name : w, v);
    if (rc) return rc;
  }
  if (a->count == 0) memcpy(a->shapes, spec8, sizeof spec8), a->count = SPEC8_COUNT;
  return 0;
}

/* ---- one shape ------------------------------------------------------------------------------- */

/* count values uniform in [-1, 1) from a 64-bit LCG (bench/flash_kmeans_side_by_side.py draws its
 * own: only the distribution is shared); NULL out of memory. */
static float *random_points(size_t count, uint64_t seed) {
  float *x = malloc(count * sizeof(float));
  if (!x) return NULL;
  for (size_t i = 0; i < count; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (float)((double)(seed >> 11) * 0x1p-53 * 2.0 - 1.0);
  }
  return x;
}

typedef struct bench_run {
  double ms, ms_assign, ms_update, ms_compile, ms_init;
  fkm_engine engine;
  bench_check check;
} bench_run;

/* The three fits of shape s on points p into *r; 0 or CLI_EXIT_FAIL (printed). */
static int time_shape(fkm_ctx *ctx, const bench_args *a, const bench_shape *s,
                      const fkm_points *p, bench_run *r) {
  size_t nc = (size_t)(s->b * s->k * s->d), nl = (size_t)(s->b * s->n);
  fkm_result res = {.centroids = malloc(nc * sizeof(float)),
                    .labels = malloc(nl * sizeof(int32_t))};
  fkm_options o;
  fkm_options_init(&o);
  o.k = s->k, o.dtype = s->dtype, o.precision = s->precision, o.engine = a->engine;
  o.device = a->device, o.config = a->config, o.tol = 0.0, o.max_iter = 2, o.check_every = 1000;
  fkm_status st = res.centroids && res.labels ? fkm_fit(ctx, p, &o, &res) : FKM_ERR_NOMEM;
  double compile = res.ms_compile;
  o.max_iter = (int)a->iters;
  if (st == FKM_OK) st = fkm_fit(ctx, p, &o, &res);
  if (st == FKM_OK) {
    r->ms = res.ms_iterations / res.iterations, r->ms_init = res.ms_init, r->engine = res.engine;
    r->ms_compile = compile;
    bench_check_labels(p->data, res.centroids, res.labels, s->b, s->n, s->k, s->d,
                       bench_unit_roundoff(s->dtype, s->precision, s->d), a->sample, &r->check);
    o.max_iter = 3, o.profile = 1;
    st = fkm_fit(ctx, p, &o, &res);
  }
  r->ms_assign = st == FKM_OK ? res.ms_assign / res.iterations : 0.0;
  r->ms_update = st == FKM_OK ? res.ms_update / res.iterations : 0.0;
  free(res.centroids), free(res.labels);
  return st == FKM_OK ? 0 : cli_fail_status(ctx, st, s->name);
}

/* A run's times against its shape's floor f at the card's dense fp16 rate peak_tflops. */
typedef struct bench_rate {
  double tflops, pct_peak; /* the whole iteration */
  double assign_pct_peak;  /* the assign alone; 0 when it was not profiled (CPU engine) */
  bench_floor floor;
} bench_rate;

static bench_rate rate_of(const bench_args *a, const bench_shape *s, const bench_run *r) {
  bench_rate q;
  bench_floor_of(s->b, s->n, s->k, s->d, s->dtype == FKM_DTYPE_FP32 ? 4 : 2, a->peak_tflops,
                 a->copy_tbps, &q.floor);
  q.tflops = q.floor.flops / (r->ms * 1e9);
  q.pct_peak = 100.0 * q.tflops / a->peak_tflops;
  q.assign_pct_peak = r->ms_assign > 0 ? 100.0 * q.floor.flops / (r->ms_assign * 1e9) /
                                             a->peak_tflops : 0.0;
  return q;
}

static void print_row(const bench_shape *s, const bench_run *r, const bench_rate *q) {
  char flash[32] = "—", speedup[32] = "—", assign[32] = "—";
  if (s->flash_ms > 0)
    snprintf(flash, sizeof flash, "%.2f", s->flash_ms),
        snprintf(speedup, sizeof speedup, "%.2fx", s->flash_ms / r->ms);
  if (q->assign_pct_peak > 0) snprintf(assign, sizeof assign, "%.1f", q->assign_pct_peak);
  printf("| %s | %lld | %lld | %lld | %lld | %s | %.3f | %.3f | %.3f | %.1f | %.1f / %s | %.3f | "
         "%.2f | %s | %s | %lld/%lld %s |\n",
         s->name, (long long)s->b, (long long)s->n, (long long)s->k, (long long)s->d,
         cli_compute_dtype_name(s->dtype, s->precision), r->ms, r->ms_assign, r->ms_update,
         q->tflops, q->pct_peak, assign, q->floor.ms, r->ms / q->floor.ms, flash, speedup,
         (long long)(r->check.checked - r->check.wrong), (long long)r->check.checked,
         r->check.wrong ? "FAIL" : "ok");
  fflush(stdout);
}

static void write_json(FILE *f, const bench_args *a, const bench_shape *s, const bench_run *r,
                       const bench_rate *q) {
  cli_json j;
  cli_json_begin(&j, f);
  cli_json_string(&j, "shape", s->name);
  cli_json_int(&j, "b", s->b), cli_json_int(&j, "n", s->n);
  cli_json_int(&j, "k", s->k), cli_json_int(&j, "d", s->d);
  cli_json_string(&j, "dtype", cli_compute_dtype_name(s->dtype, s->precision));
  cli_json_string(&j, "engine", cli_engine_name(r->engine));
  cli_json_number(&j, "ms_per_iter", r->ms);
  cli_json_number(&j, "ms_assign", r->ms_assign), cli_json_number(&j, "ms_update", r->ms_update);
  cli_json_number(&j, "tflops", q->tflops);
  cli_json_number(&j, "peak_tflops", a->peak_tflops);
  cli_json_number(&j, "copy_tbps", a->copy_tbps);
  cli_json_number(&j, "pct_peak", q->pct_peak);
  cli_json_number(&j, "assign_pct_peak", q->assign_pct_peak);
  cli_json_number(&j, "bytes", q->floor.bytes), cli_json_number(&j, "floor_ms", q->floor.ms);
  cli_json_number(&j, "ms_compile", r->ms_compile), cli_json_number(&j, "ms_init", r->ms_init);
  cli_json_int(&j, "checked", r->check.checked), cli_json_int(&j, "wrong", r->check.wrong);
  cli_json_number(&j, "worst", r->check.worst);
  cli_json_end(&j);
}

/* One shape: its row (and JSON line). 0; CLI_EXIT_FAIL when a fit failed (printed); -1 when it
 * ran but its check failed (printed). */
static int run_shape(fkm_ctx *ctx, const bench_args *a, const bench_shape *s, FILE *json) {
  float *x = random_points((size_t)(s->b * s->n * s->d), 42);
  if (!x) return cli_fail("bench: %s: out of host memory", s->name);
  fkm_points p = {x, FKM_DTYPE_FP32, s->b, s->n, s->d};
  bench_run r;
  int rc = time_shape(ctx, a, s, &p, &r);
  free(x);
  if (rc) return rc;
  bench_rate q = rate_of(a, s, &r);
  print_row(s, &r, &q);
  if (json) write_json(json, a, s, &r, &q);
  if (!r.check.wrong) return 0;
  cli_fail("bench: %s: %lld of %lld sampled labels are not the nearest centroid", s->name,
           (long long)r.check.wrong, (long long)r.check.checked);
  return -1;
}

/* --json's lines go to a temp file beside path (its name into tmp [tmp_len]); NULL when it cannot
 * be made (printed). */
static FILE *open_json(const char *path, char *tmp, size_t tmp_len) {
  char err[512];
  int fd = -1;
  FILE *f = NULL;
  if (npy_check_writable(path, err, sizeof err) == NPY_OK &&
      npy_open_temp(path, tmp, tmp_len, &fd, err, sizeof err) == NPY_OK && !(f = fdopen(fd, "w")))
    snprintf(err, sizeof err, "%s", strerror(errno)), close(fd), npy_discard(tmp);
  if (!f) cli_fail("bench: %s: %s", path, err);
  return f;
}

/* Closes the temp file and renames it onto path when it holds a row (a run that failed part way
 * keeps the rows before), else removes it, so an existing file is never emptied by a run that
 * measured nothing; 0 or CLI_EXIT_FAIL (printed). */
static int close_json(FILE *f, const char *tmp, const char *path, int rows) {
  char err[512];
  int bad = fclose(f) != 0;
  if (bad || rows == 0) {
    npy_discard(tmp);
    return bad ? cli_fail("bench: %s: cannot write: %s", path, strerror(errno)) : 0;
  }
  return npy_commit(tmp, path, err, sizeof err) == NPY_OK ? 0
                                                          : cli_fail("bench: %s: %s", path, err);
}

int cli_cmd_bench(int argc, char **argv) {
  bench_args a;
  char tmp[4096 + 32];
  int rc = parse(argc, argv, &a);
  if (rc < 0) return cli_usage(stdout, "bench"), CLI_EXIT_OK;
  if (rc) return rc;
  if (a.json && strlen(a.json) > 4096) return cli_usage_error("bench: --json: the path is too long");
  FILE *json = a.json ? open_json(a.json, tmp, sizeof tmp) : NULL;
  if (a.json && !json) return CLI_EXIT_FAIL;
  fkm_ctx *ctx;
  if ((rc = cli_ctx_create(&ctx, 1)) != 0) return json ? close_json(json, tmp, a.json, 0), rc : rc;
  printf("| shape | B | N | K | D | dtype | ms/iter | assign ms | update ms | TFLOP/s | "
         "%% of %g TFLOP/s (iteration / assign) | floor ms (%g TB/s) | × floor | "
         "flash-kmeans ms (SPEC §8, H100) | speed-up | labels checked |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
         a.peak_tflops, a.copy_tbps);
  int wrong = 0, rows = 0; /* a fit that fails stops the run; a failed check does not */
  for (int i = 0; rc == 0 && i < a.count; i++) {
    rc = run_shape(ctx, &a, &a.shapes[i], json);
    rows += rc <= 0;
    if (rc < 0) wrong = 1, rc = 0;
  }
  fkm_ctx_free(ctx);
  if (json && close_json(json, tmp, a.json, rows)) rc = CLI_EXIT_FAIL;
  return rc || wrong ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
