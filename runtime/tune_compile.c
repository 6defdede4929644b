/* Kernel specs (tuning candidates, a run's missing modules) built on parallel threads: NVRTC is
 * thread-safe, a context is not, so each thread has its own; cubins go through the kernel cache so
 * that they persist, and what the threads' contexts saw is handed to the caller's at the join. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tune.h"

/* A thread context's log callback: appends the record "<level digit><message>\0" to the log of
 * the build it was set for (user). A record that finds no memory is dropped. */
static void keep_message(fkm_log_level level, const char *message, void *user) {
  fkm__compile_log *log = user;
  size_t len = strlen(message) + 2;
  char *grown = realloc(log->text, log->len + len);
  if (!grown) return;
  grown[log->len] = (char)('0' + (int)level);
  memcpy(grown + log->len + 1, message, len - 1);
  log->text = grown;
  log->len += len;
}

/* Builds spec i on ctx (the thread's own). */
static void build_one(fkm__compile_batch *b, size_t i, fkm_ctx *ctx) {
  if (b->skip && b->skip[i]) return;
  if (b->logs) fkm_log_set(ctx, keep_message, &b->logs[i]);
  fkm_status st = fkm__kernel_cubin(ctx, &b->specs[i], b->layers, &b->cubins[i]);
  if (st != FKM_OK) {
    snprintf(b->why[i], sizeof b->why[i], "%s: %s", fkm_status_name(st),
             fkm_ctx_last_error(ctx));
    free(b->cubins[i].data);
    b->cubins[i].data = NULL;
  }
  fkm__clear_error(ctx);
}

/* A thread's context, its cache stores off when the batch's are. NULL when out of memory. */
static fkm_ctx *thread_context(fkm__compile_batch *b) {
  fkm_ctx *ctx;
  if (fkm_ctx_create(&ctx) != FKM_OK) return NULL;
  struct fkm__cache_state *cs = atomic_load(&b->stores_off) ? fkm__cache_state_of(ctx) : NULL;
  if (cs) cs->stores_off = 1;
  return ctx;
}

/* ctx's statistics and cache switch into the batch's; frees ctx. */
static void thread_done(fkm__compile_batch *b, fkm_ctx *ctx) {
  const struct fkm__cache_state *cs = ctx->cache;
  if (cs) {
    atomic_fetch_add(&b->compiled, cs->stats.compiles);
    atomic_fetch_add(&b->damaged, cs->stats.damaged);
    if (cs->stores_off) atomic_store(&b->stores_off, 1);
  }
  fkm_ctx_free(ctx);
}

static void *build_all(void *arg) {
  fkm__compile_batch *b = arg;
  fkm_ctx *ctx = thread_context(b);
  if (!ctx) return NULL; /* the other threads, or the join, go on */
  for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->count;) build_one(b, i, ctx);
  thread_done(b, ctx);
  return NULL;
}

static int thread_count(size_t count) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  size_t n = cores > 0 ? (size_t)cores : 1;
  if (n > count) n = count;
  return n > FKM__COMPILE_THREADS ? FKM__COMPILE_THREADS : (int)n;
}

/* The batch's arrays for count specs (a copy of specs); 0, or -1 when out of memory. */
static int allocate(fkm__compile_batch *b, const fkm__kernel_spec *specs, size_t count) {
  size_t slots = count ? count : 1;
  b->specs = malloc(slots * sizeof *b->specs);
  b->cubins = calloc(slots, sizeof *b->cubins);
  b->why = calloc(slots, sizeof *b->why);
  b->logs = b->ctx->log_fn ? calloc(slots, sizeof *b->logs) : NULL;
  if (!b->specs || !b->cubins || !b->why || (b->ctx->log_fn && !b->logs)) return -1;
  if (count) memcpy(b->specs, specs, count * sizeof *specs);
  return 0;
}

fkm_status fkm__compile_specs(fkm_ctx *ctx, fkm__compile_batch *b, const fkm__kernel_spec *specs,
                              const int *skip, size_t count, unsigned layers) {
  memset(b, 0, sizeof *b);
  b->ctx = ctx, b->skip = skip, b->count = count, b->layers = layers;
  if (allocate(b, specs, count) != 0) {
    fkm__compile_free(b);
    return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for %zu kernel builds", count);
  }
  const struct fkm__cache_state *cs = fkm__cache_state_of(ctx);
  atomic_init(&b->next, 0);
  atomic_init(&b->compiled, 0);
  atomic_init(&b->damaged, 0);
  atomic_init(&b->stores_off, cs && cs->stores_off);
  b->t0 = fkm__now_ms();
  int want = thread_count(count);
  while (b->started < want && pthread_create(&b->threads[b->started], NULL, build_all, b) == 0)
    b->started++;
  return FKM_OK;
}

fkm_status fkm__compile_start(fkm_ctx *ctx, fkm__compile_batch *b, const fkm__tune_candidate *cand,
                              const int *skip, size_t count) {
  fkm__kernel_spec *specs = malloc((count ? count : 1) * sizeof *specs);
  if (!specs) {
    memset(b, 0, sizeof *b);
    return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for %zu tuning candidates", count);
  }
  for (size_t i = 0; i < count; i++) specs[i] = cand[i].spec;
  fkm_status st = fkm__compile_specs(ctx, b, specs, skip, count, FKM__LAYERS_ALL);
  free(specs);
  return st;
}

/* Whether the record rec is among the records of text[0..len). */
static int has_record(const char *text, size_t len, const char *rec) {
  for (const char *r = text; text && r < text + len; r += strlen(r) + 1)
    if (strcmp(r, rec) == 0) return 1;
  return 0;
}

/* Build i's messages through the caller's callback, but those an earlier build, or build i
 * earlier, logged the same (e.g. every thread's "cache not writable"). */
static void replay(fkm__compile_batch *b, size_t i) {
  const fkm__compile_log *log = &b->logs[i];
  for (const char *r = log->text; log->text && r < log->text + log->len; r += strlen(r) + 1) {
    int seen = has_record(log->text, (size_t)(r - log->text), r);
    for (size_t j = 0; j < i && !seen; j++) seen = has_record(b->logs[j].text, b->logs[j].len, r);
    if (!seen) fkm__log(b->ctx, (fkm_log_level)(r[0] - '0'), "%s", r + 1);
  }
}

/* What the builds did, into the caller's context (tune.h). */
static void hand_over(fkm__compile_batch *b) {
  struct fkm__cache_state *cs = fkm__cache_state_of(b->ctx);
  if (cs) {
    cs->stats.compiles += b->compiles;
    cs->stats.damaged += atomic_load(&b->damaged);
    if (atomic_load(&b->stores_off)) cs->stores_off = 1;
  }
  for (size_t i = 0; b->logs && i < b->count; i++) replay(b, i);
}

void fkm__compile_join(fkm__compile_batch *b) {
  for (int t = 0; t < b->started; t++) pthread_join(b->threads[t], NULL);
  if (atomic_load(&b->next) < b->count) build_all(b); /* no thread started, or none had a context */
  b->started = 0;
  b->compiles = atomic_load(&b->compiled);
  b->ms = fkm__now_ms() - b->t0;
  hand_over(b);
}

void fkm__compile_free(fkm__compile_batch *b) {
  for (size_t i = 0; b->cubins && i < b->count; i++) free(b->cubins[i].data);
  for (size_t i = 0; b->logs && i < b->count; i++) free(b->logs[i].text);
  free(b->cubins);
  free(b->why);
  free(b->logs);
  free(b->specs);
  b->cubins = NULL;
  b->why = NULL;
  b->logs = NULL;
  b->specs = NULL;
}
