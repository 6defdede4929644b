/* The rule engine over the embedded flash-kmeans tables. The JSON is parsed per lookup (a lookup
 * runs once per fit), so the library keeps no process-wide table state. */
#include <ctype.h>
#include <string.h>

#include "tuning.h"

extern const struct {
  const char *name, *text;
} fkm__tables[]; /* generated/fkm_tables.c, NULL-terminated */

static const char *table_text(const char *name) {
  for (size_t i = 0; fkm__tables[i].name; i++)
    if (strcmp(fkm__tables[i].name, name) == 0) return fkm__tables[i].text;
  return NULL;
}

/* Whether integer member `key` of rule, if present, is ≤ v (lower) or ≥ v (upper). */
static int bound_ok(const json_t *rule, const char *key, long long v, int is_min) {
  const json_t *b = json_object_get(rule, key);
  if (!b) return 1;
  long long x = json_integer_value(b);
  return is_min ? v >= x : v <= x;
}

static int rule_matches(const json_t *rule, long long n, long long k, long long d, int half) {
  const char *dt = json_string_value(json_object_get(rule, "dtype"));
  if (dt && strcmp(dt, half ? "half" : "wide") != 0) return 0;
  return bound_ok(rule, "d_min", d, 1) && bound_ok(rule, "d_max", d, 0) &&
         bound_ok(rule, "k_min", k, 1) && bound_ok(rule, "k_max", k, 0) &&
         bound_ok(rule, "n_min", n, 1) && bound_ok(rule, "n_max", n, 0);
}

static int field(const json_t *rule, const char *key) {
  return (int)json_integer_value(json_object_get(rule, key));
}

/* First matching rule of `rules` into *out; 1 if one matched with positive tiles. */
static int first_rule(const json_t *rules, long long n, long long k, long long d, int half,
                      fkm_config *out) {
  size_t i;
  const json_t *r;
  json_array_foreach(rules, i, r) {
    if (!rule_matches(r, n, k, d, half)) continue;
    fkm_config c = {field(r, "BLOCK_N"), field(r, "BLOCK_K"), field(r, "BLOCK_D"),
                    field(r, "num_warps"), field(r, "num_stages"), 1};
    if (c.BLOCK_N <= 0 || c.BLOCK_K <= 0 || c.num_warps <= 0 || c.num_stages <= 0) return 0;
    *out = c;
    return 1;
  }
  return 0;
}

/* The first family whose "match" is a substring of the upper-cased name. */
static const json_t *family_of(const json_t *tables, const char *device_name) {
  char upper[256];
  size_t i = 0;
  for (; device_name[i] && i + 1 < sizeof upper; i++)
    upper[i] = (char)toupper((unsigned char)device_name[i]);
  upper[i] = '\0';
  const json_t *f;
  json_array_foreach(json_object_get(tables, "families"), i, f) {
    const char *m = json_string_value(json_object_get(f, "match"));
    if (m && *m && strstr(upper, m)) return f;
  }
  return NULL;
}

int fkm__table_lookup(const char *device_name, long long n, long long k, long long d,
                      fkm_dtype dtype, fkm_config *out) {
  const char *text = table_text("flash_kmeans_tables.json");
  if (!device_name || !text) return 0;
  json_t *tables = json_loads(text, 0, NULL);
  const json_t *fam = tables ? family_of(tables, device_name) : NULL;
  int found = 0;
  if (fam) {
    long long small_max = json_integer_value(json_object_get(tables, "small_d_max"));
    int half = dtype != FKM_DTYPE_FP32 && dtype != FKM_DTYPE_FP64;
    const json_t *rules = json_object_get(fam, d <= small_max ? "small_d" : "split_d");
    found = first_rule(rules, n, k, d, half, out);
  }
  json_decref(tables);
  return found;
}
