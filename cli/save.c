/* Output files: checked before the work, written all-or-nothing after it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* path as its directory's real path and its last name into out; 0, or -1 (no such directory, or
 * too long). */
static int canonical(const char *path, char *out, size_t len) {
  char dir[PATH_MAX], real[PATH_MAX];
  const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
  int n = snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
  if (n < 0 || (size_t)n >= sizeof dir || !realpath(dir, real)) return -1;
  n = snprintf(out, len, "%s/%s", real, name);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Whether a and b name one file: one inode where both exist, else one directory and name. */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
  if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (canonical(a, ca, sizeof ca) || canonical(b, cb, sizeof cb)) return strcmp(a, b) == 0;
  return strcmp(ca, cb) == 0;
}

int cli_check_outputs(const char *command, const cli_args *a, const cli_output *outs, int count) {
  char err[512];
  const char *inputs[] = {a->input, a->init_centroids, a->sample_weight};
  for (int i = 0; i < count; i++) {
    if (!outs[i].path) continue;
    if (npy_check_writable(outs[i].path, err, sizeof err) != NPY_OK)
      return cli_fail("%s: %s: %s", command, outs[i].path, err);
    for (int j = 0; j < i; j++)
      if (outs[j].path && same_file(outs[i].path, outs[j].path))
        return cli_usage_error("%s: two outputs name the same file '%s'", command, outs[i].path);
    for (int j = 0; j < 3; j++)
      if (inputs[j] && same_file(outs[i].path, inputs[j]))
        return cli_usage_error("%s: output '%s' is the input file '%s'", command, outs[i].path,
                               inputs[j]);
  }
  return 0;
}

/* A hard link to the file now at path, at a fresh name beside it, into old (old[0] = 0 when path
 * holds no file, or the file system links none: that output is then not restored). */
static void keep_old(const char *path, char *old, size_t len) {
  struct stat st;
  old[0] = '\0';
  if (lstat(path, &st) != 0) return;
  for (int i = 0; i < 100; i++) {
    int n = snprintf(old, len, "%s.old-%ld-%d", path, (long)getpid(), i);
    if (n > 0 && (size_t)n < len && link(path, old) == 0) return;
    if (n < 0 || (size_t)n >= len || errno != EEXIST) break;
  }
  old[0] = '\0';
}

/* Puts back what outs[0..committed) replaced (its kept file, or no file) and removes the temp
 * files of outs[committed..count). A kept file that cannot go back stays at its name in old (read
 * only below committed: NULL when that is 0). */
static void undo(const cli_output *outs, char **tmp, char **old, int count, int committed) {
  for (int i = 0; i < count; i++) {
    if (!outs[i].path) continue;
    if (i >= committed)
      npy_discard(tmp[i]);
    else if (!old[i][0])
      remove(outs[i].path);
    else if (rename(old[i], outs[i].path) == 0)
      old[i][0] = '\0';
  }
}

/* Writes every output to its temp file; on failure removes those already written. */
static int write_temps(const char *command, const cli_output *outs, char **tmp, int count) {
  char err[512];
  for (int i = 0; i < count; i++) {
    if (!outs[i].path) continue;
    if (npy_write_temp(outs[i].path, outs[i].dtype, outs[i].rank, outs[i].shape, outs[i].data,
                       tmp[i], strlen(outs[i].path) + 32, err, sizeof err) != NPY_OK) {
      undo(outs, tmp, NULL, i, 0);
      return cli_fail("%s: %s: %s", command, outs[i].path, err);
    }
  }
  return 0;
}

/* Renames the temp files into place, keeping a link to each file they replace; on failure puts
 * every replaced file back and removes the files this call created. */
static int commit_all(const char *command, const cli_output *outs, char **tmp, char **old,
                      int count) {
  char err[512];
  for (int i = 0; i < count; i++) {
    if (!outs[i].path) continue;
    keep_old(outs[i].path, old[i], strlen(outs[i].path) + 32);
    if (npy_commit(tmp[i], outs[i].path, err, sizeof err) != NPY_OK) {
      tmp[i][0] = '\0'; /* npy_commit removed it */
      if (old[i][0]) unlink(old[i]);
      old[i][0] = '\0';
      undo(outs, tmp, old, count, i);
      return cli_fail("%s: %s: %s", command, outs[i].path, err);
    }
  }
  for (int i = 0; i < count; i++)
    if (outs[i].path && old[i][0]) unlink(old[i]);
  return 0;
}

int cli_save_outputs(const char *command, const cli_output *outs, int count) {
  char **tmp = calloc((size_t)count, sizeof *tmp), **old = calloc((size_t)count, sizeof *old);
  int rc = tmp && old ? 0 : cli_fail("%s: out of memory", command);
  for (int i = 0; i < count && !rc; i++) {
    tmp[i] = outs[i].path ? calloc(strlen(outs[i].path) + 32, 1) : NULL;
    old[i] = outs[i].path ? calloc(strlen(outs[i].path) + 32, 1) : NULL;
    if (outs[i].path && (!tmp[i] || !old[i])) rc = cli_fail("%s: out of memory", command);
  }
  if (!rc) rc = write_temps(command, outs, tmp, count);
  if (!rc) rc = commit_all(command, outs, tmp, old, count);
  for (int i = 0; i < count; i++) {
    if (tmp) free(tmp[i]);
    if (old) free(old[i]);
  }
  free(tmp);
  free(old);
  return rc;
}
