/* One cache entry, <root>/kernels/<key>/{kernel.cubin, kernel.json}: checked read, atomic write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"

static fkm__entry_state damaged(char *why, size_t len, const char *fmt, const char *detail) {
  snprintf(why, len, fmt, detail);
  return FKM__ENTRY_DAMAGED;
}

/* kernel.json → *meta, checked against key. */
static fkm__entry_state read_meta(const char *dir, const char *key, fkm__kernel_meta *meta,
                                  char *why, size_t len) {
  char path[FKM__PATH_MAX];
  void *text = NULL;
  size_t size = 0;
  if (fkm__path(path, sizeof path, "%s/kernel.json", dir) != 0) return FKM__ENTRY_ABSENT;
  int err = fkm__file_read(path, &text, &size);
  struct stat st;
  if (err == ENOTDIR && stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
    return damaged(why, len, "%s", "the entry is a file, not a directory");
  if (err == ENOENT || err == ENOTDIR || err == ENOMEM) return FKM__ENTRY_ABSENT;
  if (err) return damaged(why, len, "kernel.json unreadable: %s", strerror(err));
  json_error_t jerr;
  json_t *j = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  if (!j) return damaged(why, len, "kernel.json is not valid JSON: %s", jerr.text);
  const char *bad = fkm__meta_from_json(j, meta);
  json_decref(j);
  if (bad) return damaged(why, len, "kernel.json: %s", bad);
  if (strcmp(meta->hash, key) != 0) return damaged(why, len, "kernel.json: %s", "hash is not the key");
  return FKM__ENTRY_OK;
}

static fkm__entry_state read_cubin(const char *dir, const fkm__kernel_meta *meta, void **cubin,
                                   size_t *size, char *why, size_t len) {
  char path[FKM__PATH_MAX], hash[33];
  if (fkm__path(path, sizeof path, "%s/kernel.cubin", dir) != 0) return FKM__ENTRY_ABSENT;
  int err = fkm__file_read(path, cubin, size);
  if (err == ENOMEM) return FKM__ENTRY_ABSENT;
  if (err) return damaged(why, len, "kernel.cubin unreadable: %s", strerror(err));
  fkm__xxh3_hex(*cubin, *size, hash);
  if (strcmp(hash, meta->payload_xxh3) != 0) {
    free(*cubin);
    *cubin = NULL;
    return damaged(why, len, "kernel.cubin %s", "does not match payload_xxh3 (truncated or altered)");
  }
  return FKM__ENTRY_OK;
}

fkm__entry_state fkm__entry_read(const char *root, const char *key, void **cubin, size_t *size,
                                 fkm__kernel_meta *meta, char *why, size_t why_len) {
  char dir[FKM__PATH_MAX];
  fkm__kernel_meta scratch;
  fkm__kernel_meta *m = meta ? meta : &scratch;
  void *bytes = NULL;
  size_t n = 0;
  if (fkm__path(dir, sizeof dir, "%s/kernels/%s", root, key) != 0) return FKM__ENTRY_ABSENT;
  fkm__entry_state st = read_meta(dir, key, m, why, why_len);
  if (st == FKM__ENTRY_OK) st = read_cubin(dir, m, &bytes, &n, why, why_len);
  if (st != FKM__ENTRY_OK) return st;
  if (size) *size = n;
  if (cubin)
    *cubin = bytes;
  else
    free(bytes);
  return FKM__ENTRY_OK;
}

/* kernel.cubin, then kernel.json (text), into the directory dir. 0 or an errno. */
static int write_files(const char *dir, const void *cubin, size_t size, const char *text) {
  char path[FKM__PATH_MAX];
  int err = fkm__path(path, sizeof path, "%s/kernel.cubin", dir) ? ENAMETOOLONG : 0;
  if (!err) err = fkm__file_write_atomic(path, cubin, size);
  if (!err) err = fkm__path(path, sizeof path, "%s/kernel.json", dir) ? ENAMETOOLONG : 0;
  if (!err) err = fkm__file_write_atomic(path, text, strlen(text));
  return err;
}

/* Moves what stands at dir (a damaged entry, or a file) out of the way and removes it: renamed
 * into a fresh temp directory of kernels first, so that a reader sees it whole or not at all. */
static int set_aside(const char *kernels, const char *dir) {
  char trash[FKM__PATH_MAX], inside[FKM__PATH_MAX];
  if (fkm__path(trash, sizeof trash, "%s/.tmp-old.XXXXXX", kernels) ||
      fkm__path(inside, sizeof inside, "%s/entry", trash))
    return ENAMETOOLONG;
  if (!mkdtemp(trash)) return errno;
  memcpy(inside, trash, strlen(trash)); /* the same length: the X's filled in */
  int err = rename(dir, inside) != 0 && errno != ENOENT ? errno : 0; /* ENOENT: another did it */
  int gone = fkm__remove_tree(trash);
  return err ? err : gone;
}

/* Renames the complete entry staged in tmp to dir. An intact entry already there (another writer
 * of this key) is kept and tmp dropped; anything else there is set aside first. 0 or an errno. */
static int put_in_place(const char *root, const char *key, const char *kernels, const char *tmp,
                        const char *dir) {
  char why[256];
  for (int tries = 0; tries < 8; tries++) {
    if (rename(tmp, dir) == 0) return 0;
    int err = errno;
    if (err != ENOTEMPTY && err != EEXIST && err != ENOTDIR && err != EISDIR) return err;
    if (fkm__entry_read(root, key, NULL, NULL, NULL, why, sizeof why) == FKM__ENTRY_OK)
      return fkm__remove_tree(tmp);
    err = set_aside(kernels, dir);
    if (err) return err;
  }
  return EBUSY; /* other writers kept replacing it: theirs stands */
}

int fkm__entry_write(const char *root, const char *key, const void *cubin, size_t size,
                     const fkm__kernel_meta *meta) {
  char kernels[FKM__PATH_MAX], tmp[FKM__PATH_MAX], dir[FKM__PATH_MAX];
  fkm__kernel_meta m = *meta;
  snprintf(m.hash, sizeof m.hash, "%s", key);
  fkm__xxh3_hex(cubin, size, m.payload_xxh3);
  json_t *j = fkm__meta_to_json(&m);
  char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  if (!text) return ENOMEM;
  int err = fkm__path(kernels, sizeof kernels, "%s/kernels", root) ||
                    fkm__path(tmp, sizeof tmp, "%s/.tmp-%s.XXXXXX", kernels, key) ||
                    fkm__path(dir, sizeof dir, "%s/%s", kernels, key)
                ? ENAMETOOLONG
                : fkm__cache_mkdirs(kernels);
  if (!err && !mkdtemp(tmp)) err = errno;
  if (!err) {
    chmod(tmp, 0755);
    err = write_files(tmp, cubin, size, text);
    if (!err) err = put_in_place(root, key, kernels, tmp, dir);
    if (err) fkm__remove_tree(tmp);
  }
  free(text);
  return err;
}
