/* Context lifetime, error detail and logging. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

fkm_status fkm_ctx_create(fkm_ctx **out) {
  if (!out) return FKM_ERR_INVALID_ARG;
  *out = calloc(1, sizeof(fkm_ctx));
  return *out ? FKM_OK : FKM_ERR_NOMEM;
}

void fkm_ctx_free(fkm_ctx *ctx) {
  if (!ctx) return;
  fkm__gpu_free(ctx->gpu);
  fkm__cache_state_free(ctx->cache);
  free(ctx->compile_log);
  free(ctx);
}

const char *fkm_ctx_last_error(const fkm_ctx *ctx) { return ctx ? ctx->err : ""; }

const char *fkm_ctx_compile_log(const fkm_ctx *ctx) {
  return ctx && ctx->compile_log ? ctx->compile_log : "";
}

void fkm_log_set(fkm_ctx *ctx, fkm_log_fn fn, void *user) {
  if (!ctx) return;
  ctx->log_fn = fn;
  ctx->log_user = user;
}

void fkm__clear_error(fkm_ctx *ctx) {
  if (ctx) ctx->err[0] = '\0';
}

fkm_status fkm__error(fkm_ctx *ctx, fkm_status s, const char *fmt, ...) {
  if (!ctx || ctx->err[0] != '\0') return s;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
  va_end(ap);
  return s;
}

void fkm__set_compile_log(fkm_ctx *ctx, const char *log) {
  free(ctx->compile_log);
  ctx->compile_log = log ? strdup(log) : NULL;
}

void fkm__log(fkm_ctx *ctx, fkm_log_level level, const char *fmt, ...) {
  if (!ctx || !ctx->log_fn) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  ctx->log_fn(level, buf, ctx->log_user);
}

double fkm__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
