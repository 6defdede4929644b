/* Opens NVRTC at run time so libfkm needs no toolkit unless it compiles kernels. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrtc_api.h"

static fkm__nvrtc_api table;
static int loaded;
static char load_detail[768];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void *open_first(const char *const *names, size_t count) {
  for (size_t i = 0; i < count; i++) {
    void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      snprintf(table.path, sizeof table.path, "%s", names[i]);
      return lib;
    }
  }
  return NULL;
}

static void *open_library(void) {
  const char *env = getenv("FKM_NVRTC_PATH");
  if (env) {
    void *lib = open_first(&env, 1);
    if (!lib)
      snprintf(load_detail, sizeof load_detail, "no NVRTC: cannot open FKM_NVRTC_PATH=%s (%s)", env,
               dlerror());
    return lib;
  }
  static const char *const names[] = {
      "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "/usr/local/cuda/lib64/libnvrtc.so.13",
      "/usr/local/cuda/lib64/libnvrtc.so.12", "/usr/local/cuda/lib64/libnvrtc.so"};
  void *lib = open_first(names, sizeof names / sizeof names[0]);
  if (!lib)
    snprintf(load_detail, sizeof load_detail,
             "no NVRTC: cannot open libnvrtc.so.13/.12/.11.2 (install the CUDA toolkit's NVRTC or "
             "set FKM_NVRTC_PATH)");
  return lib;
}

static void load_nvrtc(void) {
  void *lib = open_library();
  if (!lib) return;
#define FKM_NVRTC_RESOLVE_(name)                                                               \
  if (!(table.name = (__typeof__(table.name))dlsym(lib, #name))) {                             \
    snprintf(load_detail, sizeof load_detail, "no NVRTC: %s lacks %s", table.path, #name);     \
    return;                                                                                    \
  }
  FKM_NVRTC_FUNCTIONS(FKM_NVRTC_RESOLVE_)
#undef FKM_NVRTC_RESOLVE_
  if (table.nvrtcVersion(&table.major, &table.minor) != NVRTC_SUCCESS) {
    snprintf(load_detail, sizeof load_detail, "no NVRTC: nvrtcVersion failed in %s", table.path);
    return;
  }
  loaded = 1;
}

const fkm__nvrtc_api *fkm__nvrtc(fkm_ctx *ctx) {
  pthread_once(&load_once, load_nvrtc);
  if (!loaded) {
    fkm__error(ctx, FKM_ERR_NO_NVRTC, "%s", load_detail);
    return NULL;
  }
  return &table;
}
