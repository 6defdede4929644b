/* Cache keys: XXH3-128 over a canonical encoding of named fields. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cache.h"

static int by_name(const void *a, const void *b) {
  return strcmp(((const fkm__cache_field *)a)->name, ((const fkm__cache_field *)b)->name);
}

/* Appends the netstring of s at out (NULL: only counts); returns its length. */
static size_t put_netstring(char *out, const char *s) {
  char len[24];
  size_t n = strlen(s), m = (size_t)snprintf(len, sizeof len, "%zu:", n);
  if (out) {
    memcpy(out, len, m);
    memcpy(out + m, s, n);
    out[m + n] = ',';
  }
  return m + n + 1;
}

static void canonical_hex(XXH128_hash_t h, char out[33]) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

int fkm__cache_key_make(const fkm__cache_field *fields, size_t count, fkm__cache_key *out) {
  assert(count <= FKM__CACHE_MAX_FIELDS);
  fkm__cache_field sorted[FKM__CACHE_MAX_FIELDS];
  memcpy(sorted, fields, count * sizeof *fields);
  qsort(sorted, count, sizeof *sorted, by_name);
  size_t total = 0;
  for (size_t i = 0; i < count; i++)
    total += put_netstring(NULL, sorted[i].name) + put_netstring(NULL, sorted[i].value);
  char *buf = malloc(total + 1);
  if (!buf) return -1;
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    assert(i == 0 || strcmp(sorted[i - 1].name, sorted[i].name) != 0);
    at += put_netstring(buf + at, sorted[i].name);
    at += put_netstring(buf + at, sorted[i].value);
  }
  canonical_hex(XXH3_128bits(buf, total), out->hex);
  free(buf);
  return 0;
}

void fkm__xxh3_hex(const void *data, size_t len, char out[33]) {
  canonical_hex(XXH3_128bits(data, len), out);
}

int fkm__is_key_hex(const char *s) {
  for (int i = 0; i < 32; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return s[32] == '\0';
}
