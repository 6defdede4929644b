/* fkm run INPUT.npy -k K [...]: cluster a .npy file, write centroids and labels. */
#include <stdlib.h>

#include "cli.h"

#define RUN_OPTIONS                                                                         \
  (OPT_K | OPT_ITERS | OPT_TOL | OPT_METRIC | OPT_DTYPE | OPT_INIT | OPT_INIT_CENTROIDS |   \
   OPT_SEED | OPT_ENGINE | OPT_EMPTY | OPT_DEVICE | OPT_CENTROIDS | OPT_LABELS | OPT_JSON | \
   OPT_QUIET | OPT_N_INIT | OPT_SAMPLE_WEIGHT | OPT_TOL_RELATIVE | OPT_DEVICE_MEMORY | \
   OPT_DEVICES)

typedef struct run_state {
  cli_args a;
  cli_points in;
  cli_centroids init;  /* --init-centroids, when given */
  cli_weights weights; /* --sample-weight, when given */
  float *centroids;    /* [B][K][D] */
  int32_t *labels;     /* [B][N], only when --labels is given */
  double *inertia;     /* [B] */
  fkm_result result;
  double ms_total;
} run_state;

/* Command-line consistency that needs no file: K from somewhere, init and its centroids agree,
 * restarts only with an init that draws. */
static int check_usage(const cli_args *a) {
  if (!a->input) return cli_usage_error("run: missing INPUT.npy (see 'fkm help run')");
  if (a->init_centroids && (a->given & OPT_INIT) && a->opts.init != FKM_INIT_GIVEN)
    return cli_usage_error("run: --init-centroids needs --init given (or no --init)");
  if (!a->init_centroids && a->opts.init == FKM_INIT_GIVEN)
    return cli_usage_error("run: --init given needs --init-centroids C.npy");
  if (!a->init_centroids && !(a->given & OPT_K))
    return cli_usage_error("run: -k K is required (see 'fkm help run')");
  if (a->init_centroids && a->opts.n_init > 1)
    return cli_usage_error(
        "run: --n-init %d would repeat one fit from the given centroids; drop "
        "--n-init or --init-centroids",
        a->opts.n_init);
  return 0;
}

/* Loads --init-centroids (its K must agree with -k when both are given). */
static int load_init(run_state *r) {
  fkm_options *o = &r->a.opts;
  int rc = cli_load_centroids("run", r->a.init_centroids, &r->in, &r->init);
  if (rc) return rc;
  if ((r->a.given & OPT_K) && o->k != r->init.k)
    return cli_fail("run: -k %lld but %s holds %lld centroids", (long long)o->k,
                    r->a.init_centroids, (long long)r->init.k);
  o->k = r->init.k;
  o->init = FKM_INIT_GIVEN;
  o->init_centroids = r->init.data;
  return 0;
}

static void describe_outputs(const run_state *r, cli_output out[2]) {
  const fkm_points *p = &r->in.points;
  int r3 = r->in.file.rank == 3;
  out[0] = (cli_output){r->a.centroids_out, NPY_F4, 2 + r3, {0}, r->centroids};
  out[1] = (cli_output){r->a.labels_out, NPY_I4, 1 + r3, {0}, r->labels};
  int64_t cshape[3] = {p->batches, r->a.opts.k, p->d}, lshape[2] = {p->batches, p->n};
  for (int i = 0; i < 2 + r3; i++) out[0].shape[i] = cshape[i + !r3];
  for (int i = 0; i < 1 + r3; i++) out[1].shape[i] = lshape[i + !r3];
}

/* Loads everything, checks K and the outputs, allocates the result buffers. */
static int prepare(run_state *r) {
  const fkm_points *p = &r->in.points;
  cli_output out[2];
  int rc = cli_load_points("run", r->a.input, &r->in);
  if (!rc && r->a.init_centroids) rc = load_init(r);
  if (!rc && r->a.sample_weight)
    rc = cli_load_weights("run", r->a.sample_weight, &r->in, &r->weights);
  if (rc) return rc;
  r->a.opts.sample_weight = r->weights.data;
  if (r->a.opts.k < 1 || r->a.opts.k > p->n)
    return cli_fail("run: K = %lld must be in [1, N = %lld]", (long long)r->a.opts.k,
                    (long long)p->n);
  describe_outputs(r, out);
  rc = cli_check_outputs("run", &r->a, out, 2);
  if (rc) return rc;
  r->centroids = calloc((size_t)(p->batches * r->a.opts.k * p->d), sizeof(float));
  r->labels = r->a.labels_out ? calloc((size_t)(p->batches * p->n), sizeof(int32_t)) : NULL;
  r->inertia = calloc((size_t)p->batches, sizeof(double));
  if (!r->centroids || !r->inertia || (r->a.labels_out && !r->labels))
    return cli_fail("run: out of memory for the results");
  return 0;
}

static int fit(run_state *r, fkm_ctx *ctx) {
  fkm_options *o = &r->a.opts;
  o->on_iter = r->a.quiet ? NULL : cli_print_progress;
  o->on_iter_user = (void *)&r->in.points;
  r->result = (fkm_result){.centroids = r->centroids, .labels = r->labels, .inertia = r->inertia};
  double t0 = cli_now_ms();
  fkm_status s = fkm_fit(ctx, &r->in.points, o, &r->result);
  r->ms_total = cli_now_ms() - t0;
  return s == FKM_OK ? 0 : cli_fail_status(ctx, s, "run");
}

static void report(const run_state *r, fkm_ctx *ctx) {
  const fkm_result *res = &r->result;
  cli_summary s = {.command = "run",
                   .engine = res->engine,
                   .device = r->a.opts.device,
                   .points = &r->in.points,
                   .k = r->a.opts.k,
                   .dtype = cli_compute_dtype(r->a.opts.dtype, r->in.points.dtype, res->engine),
                   .metric = r->a.opts.metric,
                   .iterations = res->iterations,
                   .inertia = r->inertia,
                   .ms_total = r->ms_total,
                   .ms_iterations = res->ms_iterations,
                   .ms_compile = res->ms_compile,
                   .ms_init = res->ms_init};
  cli_json j;
  if (!r->a.json) {
    cli_summary_text(&s);
    return;
  }
  cli_summary_json(ctx, &s, &j);
  cli_json_int(&j, "n_init", r->a.opts.n_init);
  cli_json_bool(&j, "sample_weight", r->a.sample_weight != NULL);
  cli_json_bool(&j, "tol_relative", r->a.opts.tol_relative);
  cli_json_end(&j);
}

static int fit_and_save(run_state *r) {
  fkm_ctx *ctx = NULL;
  cli_output out[2];
  int rc = cli_ctx_create(&ctx, r->a.quiet);
  if (!rc) rc = fit(r, ctx);
  describe_outputs(r, out);
  if (!rc) rc = cli_save_outputs("run", out, 2);
  if (!rc) report(r, ctx);
  fkm_ctx_free(ctx);
  return rc;
}

int cli_cmd_run(int argc, char **argv) {
  run_state r = {0};
  int rc = cli_parse_args("run", argc, argv, RUN_OPTIONS, 1, &r.a);
  if (!rc && r.a.help) {
    cli_usage(stdout, "run");
    return CLI_EXIT_OK;
  }
  if (!rc) rc = check_usage(&r.a);
  if (!rc) rc = prepare(&r);
  if (!rc) rc = fit_and_save(&r);
  free(r.centroids);
  free(r.labels);
  free(r.inertia);
  cli_free_centroids(&r.init);
  cli_free_weights(&r.weights);
  cli_free_points(&r.in);
  return rc;
}
