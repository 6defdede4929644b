/* What a fit or predict did: the --json object and the human-readable lines. */
#include "cli.h"

fkm_dtype cli_compute_dtype(fkm_dtype requested, fkm_dtype input, fkm_engine engine) {
  fkm_dtype t = requested == FKM_DTYPE_AUTO ? input : requested;
  return engine == FKM_ENGINE_GPU && requested == FKM_DTYPE_AUTO && t == FKM_DTYPE_FP64
             ? FKM_DTYPE_FP32
             : t;
}

/* "cpu", or the CUDA device's name (index 0 is the one fkm_runtime_query describes). */
static void device_name(fkm_ctx *ctx, const cli_summary *s, char *buf, size_t len) {
  fkm_runtime_info info;
  if (s->engine != FKM_ENGINE_GPU)
    snprintf(buf, len, "cpu");
  else if (s->device == 0 && fkm_runtime_query(ctx, &info) == FKM_OK && info.device_name[0])
    snprintf(buf, len, "%s", info.device_name);
  else
    snprintf(buf, len, "cuda:%d", s->device);
}

static double ms_per_iter(const cli_summary *s) {
  return s->iterations > 0 ? s->ms_iterations / s->iterations : 0.0;
}

void cli_summary_json(fkm_ctx *ctx, const cli_summary *s, cli_json *j) {
  char device[256];
  device_name(ctx, s, device, sizeof device);
  cli_json_begin(j, stdout);
  cli_json_string(j, "command", s->command);
  cli_json_string(j, "version", fkm_version_string());
  cli_json_string(j, "engine", cli_engine_name(s->engine));
  cli_json_string(j, "device", device);
  cli_json_int(j, "B", s->points->batches);
  cli_json_int(j, "N", s->points->n);
  cli_json_int(j, "D", s->points->d);
  cli_json_int(j, "K", s->k);
  cli_json_string(j, "dtype", cli_dtype_name(s->dtype));
  cli_json_string(j, "input_dtype", cli_dtype_name(s->points->dtype));
  cli_json_string(j, "metric", cli_metric_name(s->metric));
  cli_json_int(j, "iterations", s->iterations);
  cli_json_numbers(j, "inertia", s->inertia, s->points->batches);
  cli_json_number(j, "ms_total", s->ms_total);
  cli_json_number(j, "ms_per_iter", ms_per_iter(s));
  cli_json_number(j, "ms_compile", s->ms_compile);
  cli_json_number(j, "ms_init", s->ms_init);
}

void cli_summary_text(const cli_summary *s) {
  double inertia = 0.0;
  for (int64_t b = 0; b < s->points->batches; b++) inertia += s->inertia[b];
  printf("%s: B=%lld N=%lld D=%lld K=%lld, %s, %s, engine %s\n", s->command,
         (long long)s->points->batches, (long long)s->points->n, (long long)s->points->d,
         (long long)s->k, cli_dtype_name(s->dtype), cli_metric_name(s->metric),
         cli_engine_name(s->engine));
  printf(
      "%s: %d iterations, inertia %.6e, %.1f ms total (init %.1f ms, compile %.1f ms, "
      "%.3f ms/iter)\n",
      s->command, s->iterations, inertia, s->ms_total, s->ms_init, s->ms_compile, ms_per_iter(s));
}
