/* kernel.json: kernel metadata with Triton's launch field names, plus fkm's own fields. */
#include <stdio.h>
#include <string.h>

#include "cache.h"

static json_t *params_to_json(const fkm__kernel_meta *m) {
  json_t *params = json_array();
  for (int i = 0; params && i < m->entry_count; i++) {
    const fkm__meta_entry *e = &m->entries[i];
    json_t *sizes = json_array();
    for (int p = 0; sizes && p < e->param_count; p++)
      json_array_append_new(sizes, json_integer(e->param_sizes[p]));
    if (json_array_append_new(params, json_pack("{s:s, s:o}", "name", e->name, "sizes", sizes))) {
      json_decref(params);
      return NULL;
    }
  }
  return params;
}

json_t *fkm__meta_to_json(const fkm__kernel_meta *m) {
  return json_pack(
      "{s:i, s:s, s:i, s:i, s:i, s:I, s:{s:s, s:i, s:i}, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, "
      "s:i, s:b, s:s, s:s, s:o, s:s}",
      "schema_version", FKM__CACHE_SCHEMA, "name", m->name, "num_warps", m->num_warps, "num_ctas",
      m->num_ctas, "num_stages", m->num_stages, "shared", (json_int_t)m->shared, "target",
      "backend", "cuda", "arch", m->arch, "warp_size", 32, "hash", m->hash, "kernel_kind",
      m->kernel_kind, "metric", m->metric, "dtype", m->dtype, "precision", m->precision, "d",
      m->d, "BLOCK_N", m->block_n, "BLOCK_K", m->block_k, "BLOCK_D", m->block_d, "arch_specific",
      m->arch_specific, "nvrtc_version", m->nvrtc_version, "fkm_version", m->fkm_version,
      "params", params_to_json(m), "payload_xxh3", m->payload_xxh3);
}

/* Each getter returns NULL or what is wrong with member `key` of j. */
static const char *get_int(const json_t *j, const char *key, int *out) {
  const json_t *v = json_object_get(j, key);
  if (!json_is_integer(v)) return "a field is missing or not an integer";
  json_int_t i = json_integer_value(v);
  if (i < -2147483647 || i > 2147483647) return "an integer field is out of range";
  *out = (int)i;
  return NULL;
}

static const char *get_str(const json_t *j, const char *key, char *out, size_t len) {
  const json_t *v = json_object_get(j, key);
  if (!json_is_string(v)) return "a field is missing or not a string";
  if (fkm__path(out, len, "%s", json_string_value(v)) != 0) return "a string field is too long";
  return NULL;
}

static const char *get_entry(const json_t *j, fkm__meta_entry *e) {
  const json_t *sizes = json_object_get(j, "sizes");
  const char *why = get_str(j, "name", e->name, sizeof e->name);
  if (why) return why;
  if (!json_is_array(sizes) || json_array_size(sizes) > FKM__META_MAX_PARAMS)
    return "params: sizes missing or too many";
  e->param_count = (int)json_array_size(sizes);
  for (int p = 0; p < e->param_count; p++) {
    const json_t *s = json_array_get(sizes, (size_t)p);
    if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) > 4096)
      return "params: a size is not a small integer";
    e->param_sizes[p] = (int)json_integer_value(s);
  }
  return NULL;
}

static const char *get_params(const json_t *j, fkm__kernel_meta *m) {
  const json_t *params = json_object_get(j, "params");
  if (!json_is_array(params) || json_array_size(params) > FKM__META_MAX_ENTRIES)
    return "params missing or too many";
  m->entry_count = (int)json_array_size(params);
  for (int i = 0; i < m->entry_count; i++) {
    const char *why = get_entry(json_array_get(params, (size_t)i), &m->entries[i]);
    if (why) return why;
  }
  return NULL;
}

static const char *get_target(const json_t *j, fkm__kernel_meta *m) {
  const json_t *t = json_object_get(j, "target"), *backend = json_object_get(t, "backend");
  int warp = 0;
  if (!json_is_object(t) || !json_is_string(backend) ||
      strcmp(json_string_value(backend), "cuda") != 0)
    return "target is not {backend: cuda, ...}";
  if (get_int(t, "arch", &m->arch) || get_int(t, "warp_size", &warp) || warp != 32)
    return "target lacks arch or warp_size 32";
  return NULL;
}

static const char *get_fields(const json_t *j, fkm__kernel_meta *m) {
  long long shared = 0;
  const json_t *sh = json_object_get(j, "shared"), *a = json_object_get(j, "arch_specific");
  if (!json_is_integer(sh) || (shared = json_integer_value(sh)) < 0) return "bad shared";
  if (!json_is_boolean(a)) return "bad arch_specific";
  m->shared = shared;
  m->arch_specific = json_is_true(a);
  const char *why = NULL;
  if (!why) why = get_str(j, "name", m->name, sizeof m->name);
  if (!why) why = get_int(j, "num_warps", &m->num_warps);
  if (!why) why = get_int(j, "num_ctas", &m->num_ctas);
  if (!why) why = get_int(j, "num_stages", &m->num_stages);
  if (!why) why = get_str(j, "kernel_kind", m->kernel_kind, sizeof m->kernel_kind);
  if (!why) why = get_str(j, "metric", m->metric, sizeof m->metric);
  if (!why) why = get_str(j, "dtype", m->dtype, sizeof m->dtype);
  if (!why) why = get_str(j, "precision", m->precision, sizeof m->precision);
  if (!why) why = get_int(j, "d", &m->d);
  if (!why) why = get_int(j, "BLOCK_N", &m->block_n);
  if (!why) why = get_int(j, "BLOCK_K", &m->block_k);
  if (!why) why = get_int(j, "BLOCK_D", &m->block_d);
  if (!why) why = get_str(j, "nvrtc_version", m->nvrtc_version, sizeof m->nvrtc_version);
  if (!why) why = get_str(j, "fkm_version", m->fkm_version, sizeof m->fkm_version);
  return why;
}

const char *fkm__meta_from_json(const json_t *j, fkm__kernel_meta *m) {
  int schema = 0;
  memset(m, 0, sizeof *m);
  if (!json_is_object(j)) return "not a JSON object";
  if (get_int(j, "schema_version", &schema)) return "no schema_version";
  if (schema != FKM__CACHE_SCHEMA) return "another schema_version";
  const char *why = get_fields(j, m);
  if (!why) why = get_target(j, m);
  if (!why) why = get_params(j, m);
  if (!why && (get_str(j, "hash", m->hash, sizeof m->hash) || !fkm__is_key_hex(m->hash)))
    why = "hash is not 32 lower-case hex digits";
  if (!why && (get_str(j, "payload_xxh3", m->payload_xxh3, sizeof m->payload_xxh3) ||
               !fkm__is_key_hex(m->payload_xxh3)))
    why = "payload_xxh3 is not 32 lower-case hex digits";
  return why;
}

void fkm__meta_target(const fkm__kernel_meta *m, char out[16]) {
  snprintf(out, 16, "sm_%d%s", m->arch, m->arch_specific ? "a" : "");
}
