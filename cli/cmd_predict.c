/* fkm predict INPUT.npy --init-centroids C.npy --labels OUT.npy: nearest given centroid. */
#include <stdlib.h>

#include "cli.h"

#define PREDICT_OPTIONS                                                                         \
  (OPT_K | OPT_METRIC | OPT_DTYPE | OPT_INIT_CENTROIDS | OPT_ENGINE | OPT_DEVICE | OPT_LABELS | \
   OPT_JSON | OPT_QUIET | OPT_DEVICE_MEMORY)

typedef struct predict_state {
  cli_args a;
  cli_points in;
  cli_centroids c;
  int32_t *labels; /* [B][N] */
  double *inertia; /* [B] */
  double ms_total;
} predict_state;

static int check_usage(const cli_args *a) {
  if (!a->input) return cli_usage_error("predict: missing INPUT.npy (see 'fkm help predict')");
  if (!a->init_centroids) return cli_usage_error("predict: --init-centroids C.npy is required");
  if (!a->labels_out) return cli_usage_error("predict: --labels OUT.npy is required");
  return 0;
}

static void describe_output(const predict_state *p, cli_output *out) {
  const fkm_points *pt = &p->in.points;
  int r3 = p->in.file.rank == 3;
  *out =
      (cli_output){p->a.labels_out, NPY_I4, 1 + r3, {r3 ? pt->batches : pt->n, pt->n}, p->labels};
}

/* Loads points and centroids (K from the file, -k must agree), checks the output, allocates. */
static int prepare(predict_state *p) {
  cli_output out;
  int rc = cli_load_points("predict", p->a.input, &p->in);
  if (!rc) rc = cli_load_centroids("predict", p->a.init_centroids, &p->in, &p->c);
  if (rc) return rc;
  if ((p->a.given & OPT_K) && p->a.opts.k != p->c.k)
    return cli_fail("predict: -k %lld but %s holds %lld centroids", (long long)p->a.opts.k,
                    p->a.init_centroids, (long long)p->c.k);
  p->a.opts.k = p->c.k;
  describe_output(p, &out);
  rc = cli_check_outputs("predict", &p->a, &out, 1);
  if (rc) return rc;
  p->labels = calloc((size_t)(p->in.points.batches * p->in.points.n), sizeof(int32_t));
  p->inertia = calloc((size_t)p->in.points.batches, sizeof(double));
  if (!p->labels || !p->inertia) return cli_fail("predict: out of memory for the results");
  return 0;
}

/* fkm_predict does not report its engine: AUTO ran on the GPU when the GPU engine is usable
 * (and fp64 compute was not asked for), as fkm_predict documents. */
static fkm_engine engine_used(fkm_ctx *ctx, const fkm_options *o) {
  fkm_runtime_info info;
  if (o->engine != FKM_ENGINE_AUTO) return o->engine;
  if (o->dtype == FKM_DTYPE_FP64 || fkm_runtime_query(ctx, &info) != FKM_OK) return FKM_ENGINE_CPU;
  return info.gpu == FKM_OK ? FKM_ENGINE_GPU : FKM_ENGINE_CPU;
}

static void report(const predict_state *p, fkm_ctx *ctx) {
  fkm_engine engine = engine_used(ctx, &p->a.opts);
  cli_summary s = {.command = "predict",
                   .engine = engine,
                   .device = p->a.opts.device,
                   .points = &p->in.points,
                   .k = p->c.k,
                   .dtype = cli_compute_dtype(p->a.opts.dtype, p->in.points.dtype, engine),
                   .metric = p->a.opts.metric,
                   .inertia = p->inertia,
                   .ms_total = p->ms_total};
  cli_json j;
  if (!p->a.json) {
    cli_summary_text(&s);
    return;
  }
  cli_summary_json(ctx, &s, &j);
  cli_json_end(&j);
}

static int predict_and_save(predict_state *p) {
  fkm_ctx *ctx = NULL;
  cli_output out;
  int rc = cli_ctx_create(&ctx, p->a.quiet);
  if (!rc) {
    double t0 = cli_now_ms();
    fkm_status s = fkm_predict(ctx, &p->in.points, p->c.data, &p->a.opts, p->labels, p->inertia);
    p->ms_total = cli_now_ms() - t0;
    if (s != FKM_OK) rc = cli_fail_status(ctx, s, "predict");
  }
  describe_output(p, &out);
  if (!rc) rc = cli_save_outputs("predict", &out, 1);
  if (!rc) report(p, ctx);
  fkm_ctx_free(ctx);
  return rc;
}

int cli_cmd_predict(int argc, char **argv) {
  predict_state p = {0};
  int rc = cli_parse_args("predict", argc, argv, PREDICT_OPTIONS, 1, &p.a);
  if (!rc && p.a.help) {
    cli_usage(stdout, "predict");
    return CLI_EXIT_OK;
  }
  if (!rc) rc = check_usage(&p.a);
  if (!rc) rc = prepare(&p);
  if (!rc) rc = predict_and_save(&p);
  free(p.labels);
  free(p.inertia);
  cli_free_centroids(&p.c);
  cli_free_points(&p.in);
  return rc;
}
