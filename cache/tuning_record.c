/* Tuning records: identity, key and JSON form (schema FKM__TUNING_SCHEMA). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuning.h"

long long fkm__tuning_bucket(long long v) {
  long long b = 1;
  while (b < v && b < (1LL << 62)) b *= 2;
  return b;
}

void fkm__tuning_query(fkm__tuning_record *r, const char *device, int sm, const char *kind,
                       const char *metric, const char *dtype, int d, long long n, long long k,
                       long long b) {
  memset(r, 0, sizeof *r);
  snprintf(r->device, sizeof r->device, "%s", device);
  snprintf(r->kind, sizeof r->kind, "%s", kind);
  snprintf(r->metric, sizeof r->metric, "%s", metric);
  snprintf(r->dtype, sizeof r->dtype, "%s", dtype);
  r->sm = sm, r->d = d;
  r->n_bucket = fkm__tuning_bucket(n), r->k_bucket = fkm__tuning_bucket(k);
  r->b_bucket = fkm__tuning_bucket(b);
}

int fkm__tuning_key(const fkm__tuning_record *r, fkm__cache_key *out) {
  char schema[16], sm[16], d[16], n[24], k[24], b[24];
  snprintf(schema, sizeof schema, "%d", FKM__TUNING_SCHEMA);
  snprintf(sm, sizeof sm, "%d", r->sm);
  snprintf(d, sizeof d, "%d", r->d);
  snprintf(n, sizeof n, "%lld", r->n_bucket);
  snprintf(k, sizeof k, "%lld", r->k_bucket);
  snprintf(b, sizeof b, "%lld", r->b_bucket);
  const fkm__cache_field f[] = {{"tuning_schema", schema}, {"device", r->device}, {"sm", sm},
                                {"kernel_kind", r->kind},  {"metric", r->metric}, {"dtype", r->dtype},
                                {"d", d},                  {"n_bucket", n},       {"k_bucket", k},
                                {"b_bucket", b}};
  return fkm__cache_key_make(f, sizeof f / sizeof f[0], out);
}

static json_t *config_to_json(const fkm_config *c) {
  return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "BLOCK_N", c->BLOCK_N, "BLOCK_K", c->BLOCK_K,
                   "BLOCK_D", c->BLOCK_D, "num_warps", c->num_warps, "num_stages", c->num_stages,
                   "num_ctas", c->num_ctas);
}

/* XXH3-128 hex of the compact, key-sorted text of config object c; -1 out of memory. */
static int config_hash(const json_t *c, char out[33]) {
  char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) return -1;
  fkm__xxh3_hex(text, strlen(text), out);
  free(text);
  return 0;
}

json_t *fkm__tuning_to_json(const fkm__tuning_record *r) {
  fkm__cache_key key;
  char payload[33];
  json_t *c = config_to_json(&r->config);
  if (!c || fkm__tuning_key(r, &key) != 0 || config_hash(c, payload) != 0) {
    json_decref(c);
    return NULL;
  }
  return json_pack("{s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:o, s:f, s:s}",
                   "format", "fkm-tuning", "schema_version", FKM__TUNING_SCHEMA, "key", key.hex,
                   "device", r->device, "sm", r->sm, "kernel_kind", r->kind, "metric", r->metric,
                   "dtype", r->dtype, "d", r->d, "n_bucket", (json_int_t)r->n_bucket, "k_bucket",
                   (json_int_t)r->k_bucket, "b_bucket", (json_int_t)r->b_bucket, "config", c, "ms",
                   r->ms, "payload_xxh3", payload);
}

static const char *config_from_json(const json_t *c, fkm_config *out) {
  json_int_t v[6];
  if (json_unpack((json_t *)c, "{s:I, s:I, s:I, s:I, s:I, s:I}", "BLOCK_N", &v[0], "BLOCK_K",
                  &v[1], "BLOCK_D", &v[2], "num_warps", &v[3], "num_stages", &v[4], "num_ctas",
                  &v[5]) != 0)
    return "config lacks a field";
  for (int i = 0; i < 6; i++)
    if (v[i] < 0 || v[i] > 65536) return "config field out of range";
  *out = (fkm_config){(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5]};
  return NULL;
}

/* Checks the stored key and payload hash against the content just read into *r. */
static const char *check_hashes(const json_t *j, const fkm__tuning_record *r) {
  fkm__cache_key key;
  char payload[33];
  const char *stored_key = json_string_value(json_object_get(j, "key"));
  const char *stored_payload = json_string_value(json_object_get(j, "payload_xxh3"));
  if (!stored_key || !stored_payload) return "key or payload_xxh3 missing";
  if (fkm__tuning_key(r, &key) != 0 || config_hash(json_object_get(j, "config"), payload) != 0)
    return "out of memory";
  if (strcmp(key.hex, stored_key) != 0) return "key does not match the record's identity";
  if (strcmp(payload, stored_payload) != 0) return "payload_xxh3 does not match the config";
  return NULL;
}

const char *fkm__tuning_from_json(const json_t *j, fkm__tuning_record *r) {
  const char *dev, *kind, *metric, *dtype;
  json_int_t schema, sm, d, n, k, b;
  json_t *c;
  double ms;
  memset(r, 0, sizeof *r);
  if (json_unpack((json_t *)j, "{s:I, s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:F}",
                  "schema_version", &schema, "device", &dev, "sm", &sm, "kernel_kind", &kind,
                  "metric", &metric, "dtype", &dtype, "d", &d, "n_bucket", &n, "k_bucket", &k,
                  "b_bucket", &b, "config", &c, "ms", &ms) != 0)
    return "a field is missing or mistyped";
  if (schema != FKM__TUNING_SCHEMA) return "other schema_version";
  if (strlen(dev) >= sizeof r->device || strlen(kind) >= sizeof r->kind ||
      strlen(metric) >= sizeof r->metric || strlen(dtype) >= sizeof r->dtype)
    return "a string field is too long";
  fkm__tuning_query(r, dev, (int)sm, kind, metric, dtype, (int)d, n, k, b);
  r->ms = ms;
  const char *bad = config_from_json(c, &r->config);
  return bad ? bad : check_hashes(j, r);
}
