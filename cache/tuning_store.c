/* Tuning records on disk: <root>/tuning/<device dir>/<key>.json, one file per record, written
 * atomically and read without locks; a damaged file is a miss. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tuning.h"

/* The device name as a folder name: characters other than letters, digits, '.', '_' and '-'
 * become '_', and so does a leading '.' (no "..", ".", or hidden folder). */
static void device_dir(const char *name, char *out, size_t len) {
  size_t i = 0;
  for (; name[i] && i + 1 < len; i++) {
    char c = name[i];
    int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    out[i] = keep && !(i == 0 && c == '.') ? c : '_';
  }
  out[i] = '\0';
}

int fkm__tuning_path(const char *root, const fkm__tuning_record *r, char *out, size_t len) {
  char dev[sizeof r->device];
  fkm__cache_key key;
  device_dir(r->device, dev, sizeof dev);
  if (fkm__tuning_key(r, &key) != 0) return -1;
  return fkm__path(out, len, "%s/tuning/%s/%s.json", root, dev[0] ? dev : "_", key.hex);
}

int fkm__tuning_store(const char *root, const fkm__tuning_record *r) {
  char path[FKM__PATH_MAX], dir[FKM__PATH_MAX];
  if (fkm__tuning_path(root, r, path, sizeof path) != 0) return ENAMETOOLONG;
  fkm__path(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
  int err = fkm__cache_mkdirs(dir);
  json_t *j = err ? NULL : fkm__tuning_to_json(r);
  char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  if (!err && !text) err = ENOMEM;
  if (!err) err = fkm__cache_file_write(path, text, strlen(text));
  free(text);
  return err;
}

/* Parses the record file at path. 1 when intact; 0 with why ("" when absent). */
static int read_file(const char *path, fkm__tuning_record *out, char *why, size_t why_len) {
  void *data;
  size_t size;
  int err = fkm__file_read(path, &data, &size);
  if (err) {
    fkm__path(why, why_len, "%s", err == ENOENT ? "" : strerror(err));
    return 0;
  }
  json_t *j = json_loadb(data, size, 0, NULL);
  free(data);
  const char *bad = j ? fkm__tuning_from_json(j, out) : "not JSON";
  json_decref(j);
  if (bad) fkm__path(why, why_len, "%s: %s", path, bad);
  return bad == NULL;
}

int fkm__tuning_same_identity(const fkm__tuning_record *a, const fkm__tuning_record *b) {
  return strcmp(a->device, b->device) == 0 && a->sm == b->sm && strcmp(a->kind, b->kind) == 0 &&
         strcmp(a->metric, b->metric) == 0 && strcmp(a->dtype, b->dtype) == 0 && a->d == b->d &&
         a->n_bucket == b->n_bucket && a->k_bucket == b->k_bucket && a->b_bucket == b->b_bucket;
}

int fkm__tuning_read(const char *root, const fkm__tuning_record *query, fkm__tuning_record *out,
                     char *why, size_t why_len) {
  char path[FKM__PATH_MAX];
  fkm__path(why, why_len, "%s", "");
  if (fkm__tuning_path(root, query, path, sizeof path) != 0) return 0;
  if (!read_file(path, out, why, why_len)) return 0;
  if (fkm__tuning_same_identity(query, out)) return 1;
  fkm__path(why, why_len, "%s: another shape's record", path);
  return 0;
}

int fkm__tuning_lookup(const char *root, const char *device, int sm, const char *kind,
                       const char *metric, const char *dtype, int d, long long n, long long k,
                       long long b, fkm_config *out) {
  char user[FKM__PATH_MAX], why[256];
  if (!root && !fkm__cache_user_root(user, sizeof user)) return 0;
  fkm__tuning_record q, r;
  fkm__tuning_query(&q, device, sm, kind, metric, dtype, d, n, k, b);
  if (!fkm__tuning_read(root ? root : user, &q, &r, why, sizeof why)) return 0;
  *out = r.config;
  return 1;
}

/* Calls fn for each intact *.json record of directory dir; returns fn's first non-zero value. */
static int scan_device(const char *dir, int (*fn)(const fkm__tuning_record *, void *), void *user) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int stop = 0;
  while (d && !stop && (e = readdir(d))) {
    char path[FKM__PATH_MAX], why[256];
    size_t len = strlen(e->d_name);
    fkm__tuning_record r;
    if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
    if (fkm__path(path, sizeof path, "%s/%s", dir, e->d_name) == 0 &&
        read_file(path, &r, why, sizeof why))
      stop = fn(&r, user);
  }
  if (d) closedir(d);
  return stop;
}

int fkm__tuning_scan(const char *root, int (*fn)(const fkm__tuning_record *r, void *user),
                     void *user) {
  char top[FKM__PATH_MAX];
  if (fkm__path(top, sizeof top, "%s/tuning", root) != 0) return ENAMETOOLONG;
  DIR *d = opendir(top);
  if (!d) return errno == ENOENT ? 0 : errno;
  struct dirent *e;
  int stop = 0;
  while (!stop && (e = readdir(d))) {
    char dir[FKM__PATH_MAX];
    if (e->d_name[0] == '.') continue;
    if (fkm__path(dir, sizeof dir, "%s/%s", top, e->d_name) == 0) stop = scan_device(dir, fn, user);
  }
  closedir(d);
  return 0;
}
