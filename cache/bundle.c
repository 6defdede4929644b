/* Reading bundles in place: header and manifest checks, entry lookup, checked payload reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"

#define MAX_MANIFEST (256u << 20)

static fkm_status fail(fkm_status st, char *why, size_t len, const char *fmt, const char *detail) {
  snprintf(why, len, fmt, detail);
  return st;
}

static int pread_all(int fd, void *buf, size_t size, uint64_t at) {
  char *p = buf;
  while (size > 0) {
    ssize_t r = pread(fd, p, size, (off_t)at);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r, at += (uint64_t)r, size -= (size_t)r;
  }
  return 0;
}

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* The manifest JSON of the open bundle fd (new reference), or NULL with why. */
static json_t *read_manifest(int fd, fkm__bundle *b, char *why, size_t len) {
  unsigned char head[16];
  if (b->file_size < 16 || pread_all(fd, head, 16, 0) != 0 || memcmp(head, FKM__BUNDLE_MAGIC, 8)) {
    fail(0, why, len, "%s", "not an fkm bundle (no FKMBNDL1 header)");
    return NULL;
  }
  uint64_t mlen = le64(head + 8);
  if (mlen > MAX_MANIFEST || mlen > b->file_size - 16) {
    fail(0, why, len, "%s", "truncated: the manifest runs past the end of the file");
    return NULL;
  }
  char *text = malloc(mlen + 1);
  json_error_t jerr;
  json_t *j = NULL;
  if (!text)
    fail(0, why, len, "%s", "out of memory for the manifest");
  else if (pread_all(fd, text, mlen, 16) != 0)
    fail(0, why, len, "%s", "cannot read the manifest");
  else if (!(j = json_loadb(text, mlen, JSON_REJECT_DUPLICATES, &jerr)))
    fail(0, why, len, "the manifest is not valid JSON: %s", jerr.text);
  free(text);
  b->payload_start = 16 + mlen;
  return j;
}

/* NULL, or what is wrong with manifest entry j. */
static const char *check_entry(const fkm__bundle *b, const json_t *j, fkm__bundle_entry *e) {
  const json_t *key = json_object_get(j, "key"), *off = json_object_get(j, "offset"),
               *size = json_object_get(j, "size"), *hash = json_object_get(j, "payload_xxh3");
  if (!json_is_string(key) || !fkm__is_key_hex(json_string_value(key))) return "bad key";
  if (!json_is_integer(off) || !json_is_integer(size) || json_integer_value(off) < 0 ||
      json_integer_value(size) <= 0)
    return "bad offset or size";
  e->offset = (uint64_t)json_integer_value(off);
  e->size = (uint64_t)json_integer_value(size);
  uint64_t room = b->file_size - b->payload_start;
  if (e->offset > room || e->size > room - e->offset) return "payload runs past the end of the file";
  const char *bad = fkm__meta_from_json(json_object_get(j, "metadata"), &e->meta);
  if (bad) return bad;
  if (strcmp(e->meta.hash, json_string_value(key)) != 0) return "metadata hash is not the key";
  if (!json_is_string(hash) || strcmp(json_string_value(hash), e->meta.payload_xxh3) != 0)
    return "payload_xxh3 differs from the metadata's";
  return NULL;
}

static int by_key(const void *a, const void *b) {
  return strcmp(((const fkm__bundle_entry *)a)->meta.hash, ((const fkm__bundle_entry *)b)->meta.hash);
}

static void drop(fkm__bundle *b, const char *why) {
  if (b->bad++ == 0) snprintf(b->first_bad, sizeof b->first_bad, "%s", why);
}

static fkm_status take_entries(fkm__bundle *b, const json_t *manifest, char *why, size_t len) {
  const json_t *kernels = json_object_get(manifest, "kernels");
  size_t n = json_array_size(kernels);
  b->entries = calloc(n ? n : 1, sizeof *b->entries);
  if (!b->entries) return fail(FKM_ERR_NOMEM, why, len, "%s", "out of memory for the manifest");
  for (size_t i = 0; i < n; i++) {
    const char *bad = check_entry(b, json_array_get(kernels, i), &b->entries[b->count]);
    if (bad)
      drop(b, bad);
    else
      b->count++;
  }
  qsort(b->entries, b->count, sizeof *b->entries, by_key);
  size_t kept = 0;
  for (size_t i = 0; i < b->count; i++) {
    if (kept && strcmp(b->entries[kept - 1].meta.hash, b->entries[i].meta.hash) == 0)
      drop(b, "duplicate key");
    else
      b->entries[kept++] = b->entries[i];
  }
  b->count = kept;
  return FKM_OK;
}

static fkm_status check_manifest(fkm__bundle *b, const json_t *m, char *why, size_t len) {
  const json_t *format = json_object_get(m, "format"), *schema = json_object_get(m, "schema_version");
  if (!json_is_string(format) || strcmp(json_string_value(format), "fkm-bundle") != 0)
    return fail(FKM_ERR_FORMAT, why, len, "%s", "the manifest's format is not fkm-bundle");
  if (!json_is_integer(schema) || json_integer_value(schema) != FKM__CACHE_SCHEMA)
    return fail(FKM_ERR_FORMAT, why, len, "%s", "the manifest has another schema_version");
  if (!json_is_array(json_object_get(m, "kernels")))
    return fail(FKM_ERR_FORMAT, why, len, "%s", "the manifest has no kernels array");
  const json_t *tuning = json_object_get(m, "tuning");
  if (tuning && !json_is_array(tuning))
    return fail(FKM_ERR_FORMAT, why, len, "%s", "the manifest's tuning is not an array");
  if (tuning) b->tuning = json_incref((json_t *)tuning);
  return take_entries(b, m, why, len);
}

fkm_status fkm__bundle_open(const char *path, fkm__bundle *b, char *why, size_t why_len) {
  memset(b, 0, sizeof *b);
  if (fkm__path(b->path, sizeof b->path, "%s", path) != 0)
    return fail(FKM_ERR_IO, why, why_len, "%s", "path too long");
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
  if (fd < 0) return fail(FKM_ERR_IO, why, why_len, "cannot open: %s", strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(FKM_ERR_IO, why, why_len, "%s", "not a regular file");
  }
  b->file_size = (uint64_t)st.st_size;
  json_t *manifest = read_manifest(fd, b, why, why_len);
  close(fd);
  if (!manifest) return FKM_ERR_FORMAT;
  fkm_status s = check_manifest(b, manifest, why, why_len);
  json_decref(manifest);
  return s;
}

void fkm__bundle_close(fkm__bundle *b) {
  json_decref(b->tuning);
  b->tuning = NULL;
  free(b->entries);
  b->entries = NULL;
  b->count = 0;
}

const fkm__bundle_entry *fkm__bundle_find(const fkm__bundle *b, const char *key) {
  fkm__bundle_entry probe;
  snprintf(probe.meta.hash, sizeof probe.meta.hash, "%s", key);
  return b->count ? bsearch(&probe, b->entries, b->count, sizeof *b->entries, by_key) : NULL;
}

int fkm__bundle_read(const fkm__bundle *b, const fkm__bundle_entry *e, void **cubin, size_t *size,
                     char *why, size_t why_len) {
  char hash[33];
  void *buf = malloc(e->size ? e->size : 1);
  int fd = open(b->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  int ok = buf && fd >= 0 && pread_all(fd, buf, e->size, b->payload_start + e->offset) == 0;
  if (fd >= 0) close(fd);
  if (ok) fkm__xxh3_hex(buf, e->size, hash);
  if (!ok || strcmp(hash, e->meta.payload_xxh3) != 0) {
    fail(0, why, why_len, "%s", !buf ? "out of memory" : !ok ? "unreadable" : "payload hash mismatch");
    free(buf);
    return -1;
  }
  *cubin = buf;
  *size = e->size;
  return 0;
}
