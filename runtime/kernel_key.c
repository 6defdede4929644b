/* Cache keys of kernel specs. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "kernel_cache.h"

const char *fkm__kind_name(fkm__kernel_kind kind) {
  static const char *const names[] = {"assign", "norms", "update", "finalize", "seed"};
  return (unsigned)kind < FKM__KIND_COUNT ? names[kind] : "?";
}

/* The options as one value: their netstrings, in order. 0, or -1 when they do not fit. */
static int join_options(const char *const *options, int count, char *out, size_t len) {
  size_t at = 0;
  out[0] = '\0';
  for (int i = 0; i < count; i++) {
    int n = snprintf(out + at, len - at, "%zu:%s,", strlen(options[i]), options[i]);
    if (n < 0 || (size_t)n >= len - at) return -1;
    at += (size_t)n;
  }
  return 0;
}

fkm_status fkm__kernel_key(const fkm__kernel_spec *s, const char *fkm_version, const char *source,
                           const char *const *options, int option_count, fkm__cache_key *out) {
  char nums[8][16], tmpl[33], target[16], opts[1024], schema[8];
  const int values[8] = {s->d,         s->block_n,    s->block_k, s->block_d,
                         s->num_warps, s->num_stages, s->sm,      s->arch_specific};
  for (int i = 0; i < 8; i++) snprintf(nums[i], sizeof nums[i], "%d", values[i]);
  snprintf(schema, sizeof schema, "%d", FKM__CACHE_SCHEMA);
  snprintf(target, sizeof target, "sm_%d%s", s->sm, s->arch_specific ? "a" : "");
  fkm__xxh3_hex(source, strlen(source), tmpl);
  int fits = join_options(options, option_count, opts, sizeof opts);
  assert(fits == 0); /* the options are a handful of short flags */
  (void)fits;
  const fkm__cache_field fields[] = {
      {"schema_version", schema},
      {"fkm_version", fkm_version},
      {"template_xxh3", tmpl},
      {"kind", fkm__kind_name(s->kind)},
      {"metric", fkm__metric_name(s->metric)},
      {"dtype", fkm__dtype_name(s->dtype)},
      {"precision", s->precision == FKM_PRECISION_TF32 ? "tf32" : "default"},
      {"d", nums[0]},
      {"BLOCK_N", nums[1]},
      {"BLOCK_K", nums[2]},
      {"BLOCK_D", nums[3]},
      {"num_warps", nums[4]},
      {"num_stages", nums[5]},
      {"sm", nums[6]},
      {"arch_specific", nums[7]},
      {"target", target},
      {"compile_options", opts}};
  return fkm__cache_key_make(fields, sizeof fields / sizeof fields[0], out) == 0 ? FKM_OK
                                                                                  : FKM_ERR_NOMEM;
}
