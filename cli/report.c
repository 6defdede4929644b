/* Messages on stderr: the one-line errors, library log lines, per-iteration progress; timing. */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Prints "fkm: " + the formatted text as exactly one line. */
static void print_line(const char *fmt, va_list ap) {
  char buf[4096];
  vsnprintf(buf, sizeof buf, fmt, ap);
  for (char *p = buf; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  fprintf(stderr, "fkm: %s\n", buf);
}

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_line(fmt, ap);
  va_end(ap);
  return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  print_line(fmt, ap);
  va_end(ap);
  return CLI_EXIT_USAGE;
}

int cli_fail_status(fkm_ctx *ctx, fkm_status s, const char *what) {
  const char *detail = ctx ? fkm_ctx_last_error(ctx) : "";
  return cli_fail("%s: %s: %s", what, fkm_status_name(s),
                  detail[0] ? detail : fkm_status_message(s));
}

static void log_line(fkm_log_level level, const char *message, void *user) {
  (void)user;
  if (level != FKM_LOG_DEBUG)
    fprintf(stderr, "fkm [%s] %s\n", level == FKM_LOG_WARN ? "warn" : "info", message);
}

int cli_ctx_create(fkm_ctx **ctx, int quiet) {
  fkm_status s = fkm_ctx_create(ctx);
  if (s != FKM_OK) return cli_fail_status(NULL, s, "cannot create a context");
  fkm_log_set(*ctx, quiet ? NULL : log_line, NULL);
  return 0;
}

/* A count, or "-" where the engine does not report it (negative). */
static const char *count_text(int64_t v, char *buf, size_t len) {
  if (v < 0) return "-";
  snprintf(buf, len, "%lld", (long long)v);
  return buf;
}

/* Bytes per element of a storage dtype. */
static size_t storage_bytes(fkm_dtype t) {
  return t == FKM_DTYPE_FP64 ? 8 : t == FKM_DTYPE_FP32 ? 4 : 2;
}

int cli_print_progress(const fkm_iter_report *r, void *user) {
  const fkm_points *p = user;
  char changed[32], empty[32];
  double points = (double)(p->batches * p->n), seconds = r->ms > 0.0 ? r->ms * 1e-3 : 1e-9;
  double bytes = points * (double)p->d * (double)storage_bytes(p->dtype);
  fprintf(stderr,
          "iter %d  shift %.1e  inertia %.2e  changed %s  empty %s  %.1f ms  %.3g Gpoints/s  "
          "%.3g GB/s\n",
          r->iteration, r->shift, r->inertia, count_text(r->changed, changed, sizeof changed),
          count_text(r->empty, empty, sizeof empty), r->ms, points / seconds * 1e-9,
          bytes / seconds * 1e-9);
  return 0;
}

double cli_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}
