/* fkm demo: cluster a seeded synthetic data set with known blobs and check the recovery. */
#include <math.h>
#include <stdlib.h>

#include "cli.h"

#define DEMO_OPTIONS (OPT_ENGINE | OPT_SEED | OPT_DEVICE | OPT_JSON | OPT_QUIET)
#define DEMO_N 200000
#define DEMO_D 32
#define DEMO_K 16
#define DEMO_MIN_ARI 0.99

typedef struct demo_state {
  cli_args a;
  cli_blobs blobs;
  fkm_points points; /* the blobs as fit's input (the progress lines read it) */
  float *init;      /* [K][D] farthest-first centroids */
  float *centroids; /* [K][D] */
  int32_t *labels;  /* [N] */
  double inertia;
  fkm_result result;
  double ms_data, ms_seed, ms_total;
  double ari;
  char why[512]; /* why this engine ran */
} demo_state;

/* Data, initial centroids and result buffers. */
static int prepare(demo_state *d) {
  double t0 = cli_now_ms();
  if (cli_blobs_generate(d->a.opts.seed, DEMO_N, DEMO_D, DEMO_K, &d->blobs) != 0)
    return cli_fail("demo: out of memory for the data set");
  double t1 = cli_now_ms();
  d->init = malloc(DEMO_K * DEMO_D * sizeof(float));
  d->centroids = malloc(DEMO_K * DEMO_D * sizeof(float));
  d->labels = malloc(DEMO_N * sizeof(int32_t));
  if (!d->init || !d->centroids || !d->labels ||
      cli_farthest_first(&d->blobs, d->a.opts.seed, d->init))
    return cli_fail("demo: out of memory for the results");
  d->ms_data = t1 - t0;
  d->ms_seed = cli_now_ms() - t1;
  return 0;
}

/* The engine that ran and why (the library's own log line, on stderr, gives the details). */
static void explain_engine(demo_state *d, fkm_ctx *ctx) {
  fkm_runtime_info info;
  if (d->a.opts.engine != FKM_ENGINE_AUTO)
    snprintf(d->why, sizeof d->why, "requested with --engine %s",
             cli_engine_name(d->a.opts.engine));
  else if (d->result.engine == FKM_ENGINE_GPU)
    snprintf(d->why, sizeof d->why, "a CUDA device, the driver and NVRTC are available");
  else if (fkm_runtime_query(ctx, &info) == FKM_OK && info.gpu != FKM_OK)
    snprintf(d->why, sizeof d->why, "the GPU engine is not usable here: %s (%s)",
             fkm_status_name(info.gpu), fkm_status_message(info.gpu));
  else
    snprintf(d->why, sizeof d->why, "the GPU engine declined this problem");
}

static int fit(demo_state *d, fkm_ctx *ctx) {
  fkm_options *o = &d->a.opts;
  d->points = (fkm_points){d->blobs.points, FKM_DTYPE_FP32, 1, DEMO_N, DEMO_D};
  o->k = DEMO_K;
  o->init = FKM_INIT_GIVEN;
  o->init_centroids = d->init;
  o->on_iter = d->a.quiet ? NULL : cli_print_progress;
  o->on_iter_user = &d->points;
  d->result = (fkm_result){.centroids = d->centroids, .labels = d->labels, .inertia = &d->inertia};
  double t0 = cli_now_ms();
  fkm_status s = fkm_fit(ctx, &d->points, o, &d->result);
  d->ms_total = cli_now_ms() - t0;
  if (s != FKM_OK) return cli_fail_status(ctx, s, "demo");
  explain_engine(d, ctx);
  d->ari = cli_adjusted_rand(d->blobs.truth, d->labels, DEMO_N, DEMO_K);
  return 0;
}

static void report_text(const demo_state *d, const cli_summary *s) {
  printf("demo: %d points in %d Gaussian blobs, D=%d, fp32, seed %llu (generated in %.1f ms)\n",
         DEMO_N, DEMO_K, DEMO_D, (unsigned long long)d->a.opts.seed, d->ms_data);
  printf("demo: initial centroids by farthest-first traversal (%.1f ms, in the demo)\n",
         d->ms_seed);
  printf("demo: engine %s: %s\n", cli_engine_name(d->result.engine), d->why);
  cli_summary_text(s);
  printf("demo: recovery: adjusted Rand index %.6f vs the true blobs (needs >= %.2f)\n", d->ari,
         DEMO_MIN_ARI);
}

static void report_json(const demo_state *d, const cli_summary *s, fkm_ctx *ctx) {
  cli_json j;
  cli_summary_json(ctx, s, &j);
  cli_json_string(&j, "engine_reason", d->why);
  cli_json_uint(&j, "seed", d->a.opts.seed);
  cli_json_number(&j, "ms_data", d->ms_data);
  cli_json_number(&j, "ms_seed", d->ms_seed);
  cli_json_number(&j, "adjusted_rand_index", d->ari);
  cli_json_bool(&j, "recovered", d->ari >= DEMO_MIN_ARI);
  cli_json_end(&j);
}

static void report(const demo_state *d, fkm_ctx *ctx) {
  const fkm_result *r = &d->result;
  cli_summary s = {.command = "demo",
                   .engine = r->engine,
                   .device = d->a.opts.device,
                   .points = &d->points,
                   .k = DEMO_K,
                   .dtype = cli_compute_dtype(FKM_DTYPE_AUTO, FKM_DTYPE_FP32, r->engine),
                   .metric = FKM_METRIC_L2,
                   .iterations = r->iterations,
                   .inertia = &d->inertia,
                   .ms_total = d->ms_total,
                   .ms_iterations = r->ms_iterations,
                   .ms_compile = r->ms_compile,
                   .ms_init = r->ms_init};
  if (d->a.json)
    report_json(d, &s, ctx);
  else
    report_text(d, &s);
}

static int run_demo(demo_state *d) {
  fkm_ctx *ctx = NULL;
  int rc = prepare(d);
  if (!rc) rc = cli_ctx_create(&ctx, d->a.quiet);
  if (!rc) rc = fit(d, ctx);
  if (!rc) report(d, ctx);
  fkm_ctx_free(ctx);
  if (!rc && !(d->ari >= DEMO_MIN_ARI))
    rc = cli_fail("demo: the clusters were not recovered (adjusted Rand index %.6f < %.2f)", d->ari,
                  DEMO_MIN_ARI);
  return rc;
}

int cli_cmd_demo(int argc, char **argv) {
  demo_state d = {0};
  int rc = cli_parse_args("demo", argc, argv, DEMO_OPTIONS, 0, &d.a);
  if (!rc && d.a.help) {
    cli_usage(stdout, "demo");
    return CLI_EXIT_OK;
  }
  if (!rc) rc = run_demo(&d);
  cli_blobs_free(&d.blobs);
  free(d.init);
  free(d.centroids);
  free(d.labels);
  return rc;
}
