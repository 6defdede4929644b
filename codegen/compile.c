/* NVRTC compilation of generated source to a cubin for one exact target. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "nvrtc_api.h"

int fkm__compile_options(const fkm__kernel_spec *s, const char *opts[8], char arch_buf[32]) {
  snprintf(arch_buf, 32, "--gpu-architecture=sm_%d%s", s->sm, s->arch_specific ? "a" : "");
  int n = 0;
  opts[n++] = arch_buf;
  opts[n++] = "--std=c++17";
  opts[n++] = "--fmad=true";
  opts[n++] = "--extra-device-vectorization";
  return n;
}

static atomic_size_t compile_calls; /* nvrtcCompileProgram calls of the process */

size_t fkm__nvrtc_calls(void) { return atomic_load_explicit(&compile_calls, memory_order_relaxed); }

/* Stores the program log in ctx and returns its first line's length (for the error detail). */
static size_t keep_log(fkm_ctx *ctx, const fkm__nvrtc_api *nv, nvrtcProgram prog, char **first) {
  size_t size = 0;
  *first = NULL;
  if (nv->nvrtcGetProgramLogSize(prog, &size) != NVRTC_SUCCESS || size == 0) return 0;
  char *log = malloc(size + 1);
  if (!log) return 0;
  nv->nvrtcGetProgramLog(prog, log);
  log[size] = '\0';
  fkm__set_compile_log(ctx, log);
  free(log);
  *first = ctx->compile_log;
  return strcspn(ctx->compile_log, "\n");
}

static fkm_status fetch_cubin(fkm_ctx *ctx, const fkm__nvrtc_api *nv, nvrtcProgram prog,
                              void **cubin, size_t *size) {
  if (nv->nvrtcGetCUBINSize(prog, size) != NVRTC_SUCCESS || *size == 0)
    return fkm__error(ctx, FKM_ERR_COMPILE, "NVRTC produced no cubin");
  *cubin = malloc(*size);
  if (!*cubin) return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for a cubin");
  nv->nvrtcGetCUBIN(prog, *cubin);
  return FKM_OK;
}

fkm_status fkm__compile(fkm_ctx *ctx, const fkm__kernel_spec *s, const char *source, void **cubin,
                        size_t *size) {
  const fkm__nvrtc_api *nv = fkm__nvrtc(ctx);
  if (!nv) return FKM_ERR_NO_NVRTC;
  char name[64], arch[32], desc[256];
  const char *opts[8];
  fkm__entry_name(s, "fkm", name, sizeof name);
  strncat(name, ".cu", sizeof name - strlen(name) - 1);
  int nopts = fkm__compile_options(s, opts, arch);
  nvrtcProgram prog;
  nvrtcResult r = nv->nvrtcCreateProgram(&prog, source, name, 0, NULL, NULL);
  if (r != NVRTC_SUCCESS)
    return fkm__error(ctx, FKM_ERR_COMPILE, "nvrtcCreateProgram failed: %s", nv->nvrtcGetErrorString(r));
  atomic_fetch_add_explicit(&compile_calls, 1, memory_order_relaxed);
  r = nv->nvrtcCompileProgram(prog, nopts, opts);
  fkm_status st = FKM_OK;
  if (r != NVRTC_SUCCESS) {
    char *first;
    size_t len = keep_log(ctx, nv, prog, &first);
    fkm__spec_describe(s, desc, sizeof desc);
    st = fkm__error(ctx, FKM_ERR_COMPILE, "nvrtcCompileProgram failed for %s: %s: %.*s", desc,
                    nv->nvrtcGetErrorString(r), (int)len, first ? first : "");
  } else {
    st = fetch_cubin(ctx, nv, prog, cubin, size);
  }
  nv->nvrtcDestroyProgram(&prog);
  return st;
}
