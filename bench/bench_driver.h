/* The CUDA driver for the benchmark programs that make buffers of their own: opened with dlopen
 * (never linked, as fkm does), the functions they call, and a device's primary context (the one
 * fkm's kernels use) retained and made current. Included by one translation unit per program,
 * which sets bench_program (the prefix of its messages) first. */
#ifndef FKM_BENCH_DRIVER_H
#define FKM_BENCH_DRIVER_H

#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>

/* cuda.h's macros give the versioned names (cuMemAlloc_v2...), looked up by those names. */
#define BENCH_DRIVER(X)                                                                           \
  X(cuInit) X(cuDeviceGet) X(cuDeviceGetName) X(cuDevicePrimaryCtxRetain)                         \
  X(cuDevicePrimaryCtxRelease) X(cuCtxSetCurrent) X(cuCtxSynchronize) X(cuMemAlloc) X(cuMemFree)  \
  X(cuMemcpyHtoD) X(cuMemcpyDtoH) X(cuMemsetD32) X(cuMemAllocHost) X(cuMemFreeHost)               \
  X(cuGetErrorName)
#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x)

static struct {
#define BENCH_MEMBER_(name) __typeof__(&name) name;
  BENCH_DRIVER(BENCH_MEMBER_)
#undef BENCH_MEMBER_
} cu;

static const char *bench_program = "bench";

/* Prints "<program>: <what>" on stderr; returns 2 (a benchmark that cannot run). */
static inline int fail(const char *what) {
  fprintf(stderr, "%s: %s\n", bench_program, what);
  return 2;
}

/* 0, or 2 with the failed call, its error name and code on stderr. */
static inline int cu_check(CUresult r, const char *call) {
  const char *name = "?";
  if (r == CUDA_SUCCESS) return 0;
  if (cu.cuGetErrorName) cu.cuGetErrorName(r, &name);
  fprintf(stderr, "%s: %s failed: %s (%d)\n", bench_program, call, name, (int)r);
  return 2;
}

/* Opens libcuda.so.1, resolves every function and makes device's primary context current,
 * retained (*dev, *context: the caller releases it). 0 or 2 with a message. */
static inline int driver_open(int device, CUdevice *dev, CUcontext *context) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return fail("cannot open libcuda.so.1");
#define BENCH_LOAD_(name)                                                                         \
  if (!(cu.name = (__typeof__(cu.name))dlsym(lib, BENCH_STR(name))))                              \
    return fail("libcuda lacks " BENCH_STR(name));
  BENCH_DRIVER(BENCH_LOAD_)
#undef BENCH_LOAD_
  if (cu_check(cu.cuInit(0), "cuInit") || cu_check(cu.cuDeviceGet(dev, device), "cuDeviceGet") ||
      cu_check(cu.cuDevicePrimaryCtxRetain(context, *dev), "cuDevicePrimaryCtxRetain"))
    return 2;
  return cu_check(cu.cuCtxSetCurrent(*context), "cuCtxSetCurrent");
}

#endif
