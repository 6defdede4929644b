/* Tuning candidates built on parallel threads: NVRTC is thread-safe, a context is not, so each
 * thread has its own; cubins go through the kernel cache so that they persist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tune.h"

/* Builds candidate i on ctx (the thread's own). */
static void build_one(fkm__compile_batch *b, size_t i, fkm_ctx *ctx) {
  if (b->skip && b->skip[i]) return;
  fkm_status st = fkm__kernel_cubin(ctx, &b->cand[i].spec, FKM__LAYERS_ALL, &b->cubins[i]);
  if (st != FKM_OK) {
    snprintf(b->why[i], sizeof b->why[i], "%s: %s", fkm_status_name(st),
             fkm_ctx_last_error(ctx));
    free(b->cubins[i].data);
    b->cubins[i].data = NULL;
  }
  fkm__clear_error(ctx);
}

static void *build_all(void *arg) {
  fkm__compile_batch *b = arg;
  fkm_ctx *ctx;
  if (fkm_ctx_create(&ctx) != FKM_OK) return NULL; /* the other threads, or the join, go on */
  for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->count;) build_one(b, i, ctx);
  atomic_fetch_add(&b->compiled, fkm__nvrtc_compile_count(ctx));
  fkm_ctx_free(ctx);
  return NULL;
}

static int thread_count(size_t count) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  size_t n = cores > 0 ? (size_t)cores : 1;
  if (n > count) n = count;
  return n > FKM__COMPILE_THREADS ? FKM__COMPILE_THREADS : (int)n;
}

fkm_status fkm__compile_start(fkm_ctx *ctx, fkm__compile_batch *b, const fkm__tune_candidate *cand,
                              const int *skip, size_t count) {
  memset(b, 0, sizeof *b);
  b->cand = cand, b->skip = skip, b->count = count;
  b->cubins = calloc(count ? count : 1, sizeof *b->cubins);
  b->why = calloc(count ? count : 1, sizeof *b->why);
  if (!b->cubins || !b->why) {
    fkm__compile_free(b);
    return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for %zu tuning candidates", count);
  }
  atomic_init(&b->next, 0);
  atomic_init(&b->compiled, 0);
  b->t0 = fkm__now_ms();
  int want = thread_count(count);
  while (b->started < want && pthread_create(&b->threads[b->started], NULL, build_all, b) == 0)
    b->started++;
  return FKM_OK;
}

void fkm__compile_join(fkm__compile_batch *b) {
  for (int t = 0; t < b->started; t++) pthread_join(b->threads[t], NULL);
  if (atomic_load(&b->next) < b->count) build_all(b); /* no thread started, or none had a context */
  b->started = 0;
  b->compiles = atomic_load(&b->compiled);
  b->ms = fkm__now_ms() - b->t0;
}

void fkm__compile_free(fkm__compile_batch *b) {
  for (size_t i = 0; b->cubins && i < b->count; i++) free(b->cubins[i].data);
  free(b->cubins);
  free(b->why);
  b->cubins = NULL;
  b->why = NULL;
}
