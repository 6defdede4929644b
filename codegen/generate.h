/* Code generation: kernel spec → self-contained CUDA C, and NVRTC compilation to a cubin. */
#ifndef FKM_GENERATE_H
#define FKM_GENERATE_H

#include "spec.h"

/* Writes the CUDA source of an accepted spec into *source (malloc'ed, caller frees). Same spec →
 * same bytes. Rejected specs return FKM_ERR_REJECTED with the reason in ctx's error detail. */
fkm_status fkm__generate(fkm_ctx *ctx, const fkm__kernel_spec *s, char **source);

/* The mangled-free name of entry point `entry` (e.g. "fkm_assign") of spec: "<entry>_<spec id>". */
void fkm__entry_name(const fkm__kernel_spec *s, const char *entry, char *out, size_t len);

/* NVRTC options used for spec (for the cache key too); returns the count, fills opts[0..count). */
int fkm__compile_options(const fkm__kernel_spec *s, const char *opts[8], char arch_buf[32]);

/* Compiles source for spec's target (sm_XY or sm_XYa) into a cubin (*cubin malloc'ed, caller
 * frees). Failure: FKM_ERR_COMPILE, the whole log in fkm_ctx_compile_log and its first line in
 * the error detail; FKM_ERR_NO_NVRTC when NVRTC is absent. */
fkm_status fkm__compile(fkm_ctx *ctx, const fkm__kernel_spec *s, const char *source, void **cubin,
                        size_t *size);

/* nvrtcCompileProgram calls this process has made, on any context or thread (tests: a warm cache
 * makes none). */
size_t fkm__nvrtc_calls(void);

#endif
