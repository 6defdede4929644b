/* Enumeration of the entries of one cache root, in key order. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

typedef struct key_list {
  fkm__cache_key *keys;
  size_t count, cap;
} key_list;

static int push(key_list *l, const char *name) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    fkm__cache_key *grown = realloc(l->keys, cap * sizeof *grown);
    if (!grown) return ENOMEM;
    l->keys = grown;
    l->cap = cap;
  }
  memcpy(l->keys[l->count++].hex, name, 33);
  return 0;
}

static int by_key(const void *a, const void *b) {
  return strcmp(((const fkm__cache_key *)a)->hex, ((const fkm__cache_key *)b)->hex);
}

/* Names in dir that look like keys (temp and foreign names are skipped). */
static int list_keys(DIR *d, key_list *l) {
  for (struct dirent *e; (errno = 0, e = readdir(d)) != NULL;) {
    if (!fkm__is_key_hex(e->d_name)) continue;
    int err = push(l, e->d_name);
    if (err) return err;
  }
  return errno;
}

int fkm__cache_scan(const char *root, int (*fn)(const char *key, void *user), void *user) {
  char path[FKM__PATH_MAX];
  if (fkm__path(path, sizeof path, "%s/kernels", root) != 0) return ENAMETOOLONG;
  DIR *d = opendir(path);
  if (!d) return errno == ENOENT || errno == ENOTDIR ? 0 : errno; /* no root: an empty cache */
  key_list l = {NULL, 0, 0};
  int err = list_keys(d, &l);
  closedir(d);
  if (!err) {
    qsort(l.keys, l.count, sizeof *l.keys, by_key);
    for (size_t i = 0; i < l.count && fn(l.keys[i].hex, user) == 0; i++) continue;
  }
  free(l.keys);
  return err;
}
