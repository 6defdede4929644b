/* Opens NCCL at run time: dlopen($FKM_NCCL_PATH or "libnccl.so.2"), then every function with dlsym,
 * so libfkm loads and runs on one GPU (or the CPU) on machines without NCCL. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "nccl_api.h"

static fkm__nccl_api table;
static int loaded;
static char load_detail[512];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static int resolve_all(void *lib, const char *path) {
#define FKM_NCCL_RESOLVE_(ret, name, params)                                                     \
  if (!(*(void **)&table.name = dlsym(lib, #name))) {                                            \
    snprintf(load_detail, sizeof load_detail, "%s lacks %s (NCCL older than 2.7?)", path, #name); \
    return 0;                                                                                    \
  }
  FKM_NCCL_FUNCTIONS(FKM_NCCL_RESOLVE_)
#undef FKM_NCCL_RESOLVE_
  return 1;
}

static void load_nccl(void) {
  const char *path = getenv("FKM_NCCL_PATH");
  if (!path || !*path) path = "libnccl.so.2";
  setenv("NCCL_NVLS_ENABLE", "0", 1); /* NVLink multicast stays off, whatever the caller set */
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(load_detail, sizeof load_detail, "no NCCL: cannot open %s (%s)", path, dlerror());
    return;
  }
  loaded = resolve_all(lib, path);
}

const fkm__nccl_api *fkm__nccl(fkm_ctx *ctx) {
  pthread_once(&load_once, load_nccl);
  if (!loaded) {
    fkm__error(ctx, FKM_ERR_NO_NCCL, "%s", load_detail);
    return NULL;
  }
  return &table;
}

fkm_status fkm__nccl_error(fkm_ctx *ctx, fkm__nccl_result r, const char *call) {
  return fkm__error(ctx, FKM_ERR_COMM, "%s failed: NCCL error %d (%s)", call, r,
                    loaded ? table.ncclGetErrorString(r) : "?");
}
