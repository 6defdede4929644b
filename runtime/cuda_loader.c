/* Opens the CUDA driver at run time: dlopen("libcuda.so.1"), then every function through
 * cuGetProcAddress, so libfkm loads and runs its CPU engine on machines with no driver. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "cuda_api.h"

typedef CUresult (*get_proc_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

static fkm__cuda_api table;
static fkm_status load_status = FKM_ERR_NO_DRIVER;
static char load_detail[512];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static int resolve_all(get_proc_fn get) {
#define FKM_CU_RESOLVE_(name)                                                                 \
  if (get(#name, (void **)&table.name, CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, NULL) !=    \
          CUDA_SUCCESS ||                                                                     \
      !table.name) {                                                                          \
    snprintf(load_detail, sizeof load_detail,                                                 \
             "the CUDA driver lacks %s (driver too old for CUDA %d?)", #name, CUDA_VERSION);  \
    return 0;                                                                                 \
  }
  FKM_CU_FUNCTIONS(FKM_CU_RESOLVE_)
#undef FKM_CU_RESOLVE_
  return 1;
}

static void load_driver(void) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(load_detail, sizeof load_detail, "no CUDA driver: cannot open libcuda.so.1 (%s)",
             dlerror());
    return;
  }
  get_proc_fn get = (get_proc_fn)dlsym(lib, "cuGetProcAddress_v2");
  if (!get) {
    snprintf(load_detail, sizeof load_detail,
             "the CUDA driver is too old: libcuda.so.1 has no cuGetProcAddress_v2 (need CUDA 12+)");
    return;
  }
  if (!resolve_all(get)) return;
  CUresult r = table.cuInit(0);
  if (r == CUDA_ERROR_NO_DEVICE) {
    load_status = FKM_ERR_NO_DEVICE;
    snprintf(load_detail, sizeof load_detail, "the CUDA driver found no device (cuInit)");
    return;
  }
  if (r != CUDA_SUCCESS) {
    snprintf(load_detail, sizeof load_detail, "cuInit(0) failed with CUresult %d", (int)r);
    return;
  }
  load_status = FKM_OK;
}

const fkm__cuda_api *fkm__cuda(fkm_ctx *ctx, fkm_status *status) {
  pthread_once(&load_once, load_driver);
  *status = load_status;
  if (load_status != FKM_OK) {
    fkm__error(ctx, load_status, "%s", load_detail);
    return NULL;
  }
  return &table;
}

fkm_status fkm__cuda_error(fkm_ctx *ctx, CUresult r, const char *call) {
  const char *name = "?", *text = "?";
  table.cuGetErrorName(r, &name);
  table.cuGetErrorString(r, &text);
  fkm_status s = r == CUDA_ERROR_OUT_OF_MEMORY ? FKM_ERR_DEVICE_MEMORY : FKM_ERR_CUDA;
  return fkm__error(ctx, s, "%s failed: %s (%s)", call, name, text);
}
