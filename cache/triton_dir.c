/* A Triton cache directory ($TRITON_CACHE_DIR: <hash>/<name>.json + <name>.cubin), read only. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tuning.h"

/* Parameter count of the cubin and the check of its trailing hidden pointers; 1 or 0 with why. */
static int check_params(fkm__triton_kernel *k, const void *cubin, size_t size, int user_params) {
  int *sizes = k->param_sizes, h = k->meta.hidden_params;
  char why[200];
  k->params = fkm__cubin_params(cubin, size, k->meta.name, sizes, FKM__MAX_KERNEL_PARAMS, why,
                                sizeof why);
  if (k->params < 0) return fkm__path(k->why, sizeof k->why, "cubin: %s", why), 0;
  if (k->params < h)
    return fkm__path(k->why, sizeof k->why, "the cubin has %d parameters, fewer than the %d hidden "
                     "ones the metadata implies", k->params, h), 0;
  if (k->params > FKM__MAX_KERNEL_PARAMS)
    return fkm__path(k->why, sizeof k->why, "the cubin has %d parameters, more than fkm launches "
                     "(%d)", k->params, FKM__MAX_KERNEL_PARAMS), 0;
  for (int i = k->params - h; i < k->params; i++)
    if (sizes[i] != 8)
      return fkm__path(k->why, sizeof k->why, "parameter %d should be a hidden scratch pointer "
                       "but has %d bytes", i, sizes[i]), 0;
  if (user_params >= 0 && k->params != user_params + h)
    return fkm__path(k->why, sizeof k->why, "the cubin has %d parameters, expected %d + %d hidden",
                     k->params, user_params, h), 0;
  return 1;
}

/* Reads and parses <dir>/<name>.json into k->meta; 1 or 0 with k->why. */
static int read_meta(fkm__triton_kernel *k, const char *name) {
  char path[FKM__PATH_MAX];
  void *data;
  size_t size;
  if (fkm__path(path, sizeof path, "%s/%s.json", k->dir, name) != 0 ||
      fkm__file_read(path, &data, &size) != 0)
    return fkm__path(k->why, sizeof k->why, "%s.json unreadable", name), 0;
  json_t *j = json_loadb(data, size, 0, NULL);
  free(data);
  const char *bad = j ? fkm__triton_meta_from_json(j, &k->meta) : "not JSON";
  json_decref(j);
  if (bad) return fkm__path(k->why, sizeof k->why, "%s.json: %s", name, bad), 0;
  return 1;
}

void fkm__triton_kernel_load(const char *dir, const char *name, int sm, int user_params,
                             fkm__triton_kernel *k, void **cubin, size_t *size) {
  char path[FKM__PATH_MAX];
  memset(k, 0, sizeof *k);
  *cubin = NULL, *size = 0;
  k->params = -1;
  fkm__path(k->dir, sizeof k->dir, "%s", dir);
  k->meta_ok = read_meta(k, name);
  if (!k->meta_ok) return;
  char verdict[256];
  int ok = fkm__triton_launchable(&k->meta, sm, verdict, sizeof verdict);
  int readable = fkm__path(path, sizeof path, "%s/%s.cubin", dir, name) == 0 &&
                 fkm__file_read(path, cubin, size) == 0;
  int params_ok = readable ? check_params(k, *cubin, *size, user_params)
                           : (fkm__path(k->why, sizeof k->why, "%s.cubin unreadable", name), 0);
  if (!ok) fkm__path(k->why, sizeof k->why, "%s", verdict); /* launch features come first */
  k->launchable = ok && params_ok;
}

void fkm__triton_kernel_read(const char *dir, const char *name, int sm, int user_params,
                             fkm__triton_kernel *k) {
  void *cubin;
  size_t size;
  fkm__triton_kernel_load(dir, name, sm, user_params, k, &cubin, &size);
  free(cubin);
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

/* Kernel metadata files: <name>.json, neither a group (__grp__) nor an autotune record. */
static int is_kernel_json(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0 &&
         strncmp(e->d_name, "__grp__", 7) != 0 &&
         !(n > 14 && strcmp(e->d_name + n - 14, ".autotune.json") == 0);
}

/* Reports each kernel of one hash folder that has a sibling cubin; fn's first non-zero stops. */
static int scan_folder(const char *dir, int sm, int (*fn)(const fkm__triton_kernel *, void *),
                       void *user) {
  struct dirent **list;
  int n = scandir(dir, &list, is_kernel_json, by_name), stop = 0;
  for (int i = 0; i < n; i++) {
    char name[256], cubin[FKM__PATH_MAX];
    snprintf(name, sizeof name, "%.*s", (int)strlen(list[i]->d_name) - 5, list[i]->d_name);
    if (!stop && fkm__path(cubin, sizeof cubin, "%s/%s.cubin", dir, name) == 0 &&
        access(cubin, F_OK) == 0) {
      fkm__triton_kernel *k = malloc(sizeof *k);
      if (k) fkm__triton_kernel_read(dir, name, sm, -1, k), stop = fn(k, user);
      free(k);
    }
    free(list[i]);
  }
  if (n >= 0) free(list);
  return stop;
}

static int not_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

int fkm__triton_scan(const char *cache_dir, int sm,
                     int (*fn)(const fkm__triton_kernel *k, void *user), void *user) {
  struct dirent **list;
  int n = scandir(cache_dir, &list, not_dot, by_name), stop = 0;
  if (n < 0) return errno;
  for (int i = 0; i < n; i++) {
    char dir[FKM__PATH_MAX];
    if (!stop && fkm__path(dir, sizeof dir, "%s/%s", cache_dir, list[i]->d_name) == 0)
      stop = scan_folder(dir, sm, fn, user);
    free(list[i]);
  }
  free(list);
  return 0;
}
