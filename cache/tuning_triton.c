/* Triton autotune records (<fn>.autotune.json, Triton 3.3+) to and from fkm tuning records. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuning.h"

/* "torch.float16" → "fp16"...; NULL for dtypes fkm does not compute in. */
static const char *fkm_dtype_of_torch(const char *t) {
  static const char *const map[][2] = {{"torch.float16", "fp16"},
                                       {"torch.bfloat16", "bf16"},
                                       {"torch.float32", "fp32"},
                                       {"torch.float64", "fp64"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(t, map[i][0]) == 0) return map[i][1];
  return NULL;
}

/* The tensor dtype of fkm's compute dtype d (tf32: fp32 tensors, as flash-kmeans' fp32). */
static const char *torch_of_fkm_dtype(const char *d) {
  if (strcmp(d, "bf16") == 0) return "torch.bfloat16";
  if (strcmp(d, "fp32") == 0 || strcmp(d, "tf32") == 0) return "torch.float32";
  if (strcmp(d, "fp64") == 0) return "torch.float64";
  return "torch.float16";
}

/* Applies the autotune key [ints..., dtype strings...] to r: N, K, and D for a third integer;
 * the first tensor dtype. NULL or what is wrong. */
static const char *apply_key(const json_t *key, fkm__tuning_record *r) {
  long long ints[3];
  size_t count = 0, i;
  const char *dtype = NULL;
  const json_t *v;
  if (!json_is_array(key)) return "\"key\" is not a list";
  json_array_foreach(key, i, v) {
    if (json_is_number(v) && (!json_is_integer(v) || json_integer_value(v) < 1 ||
                              json_integer_value(v) > ((json_int_t)1 << 40)))
      return "\"key\" holds a number that is not a positive integer up to 2^40";
    if (json_is_integer(v) && count < 3) ints[count++] = json_integer_value(v);
    if (json_is_string(v) && !dtype) dtype = fkm_dtype_of_torch(json_string_value(v));
  }
  if (count < 2) return "\"key\" lacks the N and K values";
  if (count == 3 && ints[2] > 65536) return "\"key\"'s D is over 65536";
  if (!dtype) return "\"key\" names no floating-point tensor dtype";
  r->n_bucket = fkm__tuning_bucket(ints[0]), r->k_bucket = fkm__tuning_bucket(ints[1]);
  if (count == 3) r->d = (int)ints[2];
  snprintf(r->dtype, sizeof r->dtype, "%s", dtype);
  return NULL;
}

/* obj[name] into *v: an integer in [lo, 65536] (the bounds a stored record is read back with);
 * absent gives fallback, which lo = 1 refuses when it is 0. 0, or -1. */
static int config_field(const json_t *obj, const char *name, int lo, int fallback, int *v) {
  const json_t *x = json_object_get(obj, name);
  json_int_t i = x ? json_integer_value(x) : fallback;
  if ((x && !json_is_integer(x)) || i < lo || i > 65536) return -1;
  *v = (int)i;
  return 0;
}

/* The config of one configs_timings row [config, timings]; NULL or what is wrong. */
static const char *row_config(const json_t *row, fkm_config *c, double *ms) {
  const json_t *cfg = json_array_get(row, 0), *t = json_array_get(row, 1);
  const json_t *kw = json_object_get(cfg, "kwargs");
  const json_t *t0 = json_is_array(t) ? json_array_get(t, 0) : t;
  if (!json_is_object(kw) || !json_is_number(t0) || !(json_number_value(t0) >= 0.0))
    return "a configs_timings row is malformed";
  if (config_field(kw, "BLOCK_N", 1, 0, &c->BLOCK_N) ||
      config_field(kw, "BLOCK_K", 1, 0, &c->BLOCK_K) ||
      config_field(kw, "BLOCK_D", 0, 0, &c->BLOCK_D) ||
      config_field(cfg, "num_warps", 1, 0, &c->num_warps) ||
      config_field(cfg, "num_stages", 1, 0, &c->num_stages) ||
      config_field(cfg, "num_ctas", 1, 1, &c->num_ctas))
    return "a config lacks BLOCK_N, BLOCK_K, num_warps or num_stages, or holds a value out of "
           "[1, 65536] (BLOCK_D from 0)";
  *ms = json_number_value(t0);
  return NULL;
}

/* The fastest row (least first timing) into r->config and r->ms. */
static const char *fastest(const json_t *rows, fkm__tuning_record *r) {
  size_t i;
  const json_t *row;
  int found = 0;
  if (!json_is_array(rows) || json_array_size(rows) == 0) return "\"configs_timings\" is empty";
  json_array_foreach(rows, i, row) {
    fkm_config c;
    double ms;
    const char *bad = row_config(row, &c, &ms);
    if (bad) return bad;
    if (!found || ms < r->ms) r->config = c, r->ms = ms;
    found = 1;
  }
  return NULL;
}

/* The file's name after its last '/'. */
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The metric named by the file's function name (flash-kmeans' _euclid_ and _cosine_assign_kernel,
 * fkm_assign_kernel_<metric> of fkm__triton_autotune_export), or NULL. */
static const char *metric_of_path(const char *path) {
  const char *base = base_name(path);
  if (strstr(base, "cosine")) return "cosine";
  if (strstr(base, "euclid") || strstr(base, "kernel_l2")) return "l2";
  if (strstr(base, "kernel_dot")) return "dot";
  return NULL;
}

fkm_status fkm__triton_autotune_import(const char *path, const fkm__tuning_record *base,
                                       fkm__tuning_record *out, char *why, size_t why_len) {
  void *data;
  size_t size;
  int err = fkm__file_read(path, &data, &size);
  if (err) {
    fkm__path(why, why_len, "%s: %s", path, strerror(err));
    return FKM_ERR_IO;
  }
  json_t *j = json_loadb(data, size, 0, NULL);
  free(data);
  *out = *base;
  const char *bad = !json_is_object(j) ? "not a JSON object"
                                       : apply_key(json_object_get(j, "key"), out);
  if (!bad) bad = fastest(json_object_get(j, "configs_timings"), out);
  json_decref(j);
  if (bad) {
    fkm__path(why, why_len, "%s: %s", path, bad);
    return FKM_ERR_FORMAT;
  }
  const char *metric = metric_of_path(path);
  if (metric) snprintf(out->metric, sizeof out->metric, "%s", metric);
  if (strcmp(out->dtype, "fp32") == 0 && strstr(base_name(path), "_tf32."))
    snprintf(out->dtype, sizeof out->dtype, "tf32");
  return FKM_OK;
}

/* flash-kmeans' key for r: [N, K(, D), x dtype, centroid dtype, x_sq, c_sq, out dtypes]. */
static json_t *export_key(const fkm__tuning_record *r) {
  const char *t = torch_of_fkm_dtype(r->dtype);
  json_t *key = json_pack("[I, I]", (json_int_t)r->n_bucket, (json_int_t)r->k_bucket);
  if (key && r->config.BLOCK_D) json_array_append_new(key, json_integer(r->d));
  json_t *tail = json_pack("[s, s, s, s, s]", t, t, "torch.float32", "torch.float32", "torch.int32");
  if (json_array_extend(key, tail) != 0) json_decref(key), key = NULL;
  json_decref(tail);
  return key;
}

static json_t *export_row(const fkm__tuning_record *r) {
  const fkm_config *c = &r->config;
  json_t *kw = json_pack("{s:i, s:i}", "BLOCK_N", c->BLOCK_N, "BLOCK_K", c->BLOCK_K);
  if (kw && c->BLOCK_D) json_object_set_new(kw, "BLOCK_D", json_integer(c->BLOCK_D));
  return json_pack("[{s:o, s:i, s:i, s:i, s:n, s:n}, [f]]", "kwargs", kw, "num_warps",
                   c->num_warps, "num_ctas", c->num_ctas ? c->num_ctas : 1, "num_stages",
                   c->num_stages, "maxnreg", "pre_hook", r->ms);
}

int fkm__triton_autotune_export(const fkm__tuning_record *r, const char *dir) {
  fkm__cache_key key;
  char folder[FKM__PATH_MAX], path[FKM__PATH_MAX];
  const char *fn = strcmp(r->metric, "cosine") == 0 ? "_cosine_assign_kernel"
                   : strcmp(r->metric, "l2") == 0   ? "_euclid_assign_kernel"
                                                    : "fkm_assign_kernel";
  if (fkm__tuning_key(r, &key) != 0) return ENOMEM;
  if (fkm__path(folder, sizeof folder, "%s/%s", dir, key.hex) != 0 ||
      fkm__path(path, sizeof path, "%s/%s%s%s%s.autotune.json", folder, fn,
                strcmp(fn, "fkm_assign_kernel") == 0 ? "_" : "",
                strcmp(fn, "fkm_assign_kernel") == 0 ? r->metric : "",
                strcmp(r->dtype, "tf32") == 0 ? "_tf32" : "") != 0)
    return ENAMETOOLONG;
  int err = fkm__mkdirs(folder);
  json_t *j = err ? NULL : json_pack("{s:o, s:[o]}", "key", export_key(r), "configs_timings",
                                     export_row(r));
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!err && !text) err = ENOMEM;
  if (!err) err = fkm__file_write_atomic(path, text, strlen(text));
  free(text);
  return err;
}
