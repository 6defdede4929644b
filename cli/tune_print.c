/* What fkm tune prints: each measured configuration, the winner and the times of the run, and with
 * an exhaustive sweep beside it how the pruned pick and the model's pick compare with its best. Text
 * on stdout, or JSON lines (one object per configuration, then one summary object). */
#include <string.h>

#include "cli.h"

static const fkm_tune_timing *winner(const fkm_tune_report *r) {
  return r->best < r->count && r->best < r->capacity ? &r->timings[r->best] : NULL;
}

static const fkm_tune_timing *model_pick(const fkm_tune_report *r) {
  for (size_t i = 0; i < r->count && i < r->capacity; i++)
    if (r->timings[i].model_pick) return &r->timings[i];
  return NULL;
}

/* The time r measured for config c, or -1 when r did not measure it. */
static double ms_of(const fkm_tune_report *r, const fkm_config *c) {
  for (size_t i = 0; i < r->count && i < r->capacity; i++)
    if (memcmp(&r->timings[i].config, c, sizeof *c) == 0) return r->timings[i].ms;
  return -1.0;
}

/* ---- text ------------------------------------------------------------------------------------- */

static void config_text(const fkm_config *c, char *out, size_t len) {
  snprintf(out, len, "BLOCK_N=%d BLOCK_K=%d BLOCK_D=%d num_warps=%d num_stages=%d", c->BLOCK_N,
           c->BLOCK_K, c->BLOCK_D, c->num_warps, c->num_stages);
}

static void table_text(const fkm_tune_report *r) {
  printf("BLOCK_N BLOCK_K BLOCK_D num_warps num_stages         ms\n");
  for (size_t i = 0; i < r->count && i < r->capacity; i++) {
    const fkm_tune_timing *t = &r->timings[i];
    printf("%7d %7d %7d %9d %10d %10.4f%s%s%s\n", t->config.BLOCK_N, t->config.BLOCK_K,
           t->config.BLOCK_D, t->config.num_warps, t->config.num_stages, t->ms,
           i == r->best ? "  winner" : "", t->model_pick ? "  model" : "",
           t->cached ? "  cached" : "");
  }
}

static void run_text(const cli_tune_shape *s, const fkm_tune_report *r) {
  const fkm_tune_timing *w = winner(r), *m = model_pick(r);
  char c[160];
  printf("tune B=%lld N=%lld D=%lld K=%lld %s %s, %s: %zu of %zu valid configurations\n",
         (long long)s->b, (long long)s->n, (long long)s->d, (long long)s->k,
         cli_compute_dtype_name(s->dtype, s->precision), cli_metric_name(s->metric),
         r->exhaustive ? "exhaustive" : "pruned", r->count, r->space);
  table_text(r);
  config_text(&w->config, c, sizeof c);
  printf("winner: %s: %.4f ms", c, w->ms);
  if (m && m->ms > 0) printf(" (the model's pick: %.4f ms, %.3fx)", m->ms, m->ms / w->ms);
  printf("\ntime: %.1f ms in all (compile %.1f, set-up %.1f, timing %.1f), %zu NVRTC compiles, "
         "record %s\n",
         r->ms_total, r->ms_compile, r->ms_setup, r->ms_measure, r->compiles,
         r->stored ? "stored" : "not stored");
}

static void compare_text(const fkm_tune_report *r, const fkm_tune_report *e) {
  const fkm_tune_timing *best = winner(e), *tuned = winner(r), *m = model_pick(e);
  double tuned_ms = ms_of(e, &tuned->config), model_ms = m ? m->ms : -1.0;
  char c[160];
  config_text(&best->config, c, sizeof c);
  printf("exhaustive best: %s: %.4f ms; sweep of %zu configurations in %.1f ms\n", c, best->ms,
         e->count, e->ms_total);
  printf("tuned pick: %.4f ms in the sweep (%.4f in its run), %.4fx the best; tuning took %.1f "
         "ms\n",
         tuned_ms, tuned->ms, tuned_ms / best->ms, r->ms_total);
  printf("model's pick: %.4f ms in the sweep, %.4fx the best\n", model_ms, model_ms / best->ms);
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static void config_json(cli_json *j, const fkm_config *c) {
  cli_json_int(j, "BLOCK_N", c->BLOCK_N);
  cli_json_int(j, "BLOCK_K", c->BLOCK_K);
  cli_json_int(j, "BLOCK_D", c->BLOCK_D);
  cli_json_int(j, "num_warps", c->num_warps);
  cli_json_int(j, "num_stages", c->num_stages);
}

static void timings_json(const fkm_tune_report *r, const char *run) {
  for (size_t i = 0; i < r->count && i < r->capacity; i++) {
    cli_json j;
    cli_json_begin(&j, stdout);
    cli_json_string(&j, "run", run);
    config_json(&j, &r->timings[i].config);
    cli_json_number(&j, "ms", r->timings[i].ms);
    cli_json_bool(&j, "cached", r->timings[i].cached);
    cli_json_bool(&j, "model_pick", r->timings[i].model_pick);
    cli_json_bool(&j, "winner", i == r->best);
    cli_json_end(&j);
  }
}

static void shape_json(cli_json *j, const cli_tune_shape *s) {
  cli_json_int(j, "B", s->b);
  cli_json_int(j, "N", s->n);
  cli_json_int(j, "D", s->d);
  cli_json_int(j, "K", s->k);
  cli_json_string(j, "dtype", cli_compute_dtype_name(s->dtype, s->precision));
  cli_json_string(j, "metric", cli_metric_name(s->metric));
}

static void run_json(cli_json *j, const fkm_tune_report *r) {
  const fkm_tune_timing *m = model_pick(r);
  cli_json_string(j, "mode", r->exhaustive ? "exhaustive" : "pruned");
  cli_json_uint(j, "measured", r->count);
  cli_json_uint(j, "space", r->space);
  config_json(j, &winner(r)->config);
  cli_json_number(j, "ms_best", winner(r)->ms);
  cli_json_number(j, "ms_model", m ? m->ms : -1.0);
  cli_json_number(j, "ms_compile", r->ms_compile);
  cli_json_number(j, "ms_setup", r->ms_setup);
  cli_json_number(j, "ms_measure", r->ms_measure);
  cli_json_number(j, "ms_total", r->ms_total);
  cli_json_uint(j, "compiles", r->compiles);
  cli_json_bool(j, "stored", r->stored);
}

static void compare_json(cli_json *j, const fkm_tune_report *r, const fkm_tune_report *e) {
  const fkm_tune_timing *best = winner(e), *m = model_pick(e);
  double tuned = ms_of(e, &winner(r)->config), model = m ? m->ms : -1.0;
  cli_json_uint(j, "sweep_size", e->count);
  cli_json_number(j, "sweep_ms_total", e->ms_total);
  cli_json_number(j, "sweep_ms_best", best->ms);
  cli_json_number(j, "tuned_ms_in_sweep", tuned);
  cli_json_number(j, "model_ms_in_sweep", model);
  cli_json_number(j, "tuned_over_best", tuned / best->ms);
  cli_json_number(j, "model_over_best", model / best->ms);
}

void cli_tune_print(const cli_tune_shape *s, const fkm_tune_report *r, const fkm_tune_report *e,
                    int json) {
  if (!json) {
    run_text(s, r);
    if (e) compare_text(r, e);
    return;
  }
  timings_json(r, r->exhaustive ? "exhaustive" : "pruned");
  if (e) timings_json(e, "exhaustive");
  cli_json j;
  cli_json_begin(&j, stdout);
  shape_json(&j, s);
  run_json(&j, r);
  if (e) compare_json(&j, r, e);
  cli_json_end(&j);
}
