/* File primitives of the cache: whole-file reads, mkdir -p, tree removal, atomic writes. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"

int fkm__path(char *out, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, len, fmt, ap);
  va_end(ap);
  return n >= 0 && (size_t)n < len ? 0 : -1;
}

static int read_fd(int fd, size_t size, void **data) {
  char *buf = malloc(size + 1);
  if (!buf) return ENOMEM;
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      free(buf);
      return r < 0 ? errno : EIO; /* shrank under us */
    }
    got += (size_t)r;
  }
  buf[size] = '\0';
  *data = buf;
  return 0;
}

int fkm__file_read(const char *path, void **data, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
  if (fd < 0) return errno;
  struct stat st;
  int err = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EISDIR : 0;
  if (!err) err = read_fd(fd, (size_t)st.st_size, data);
  if (!err) *size = (size_t)st.st_size;
  close(fd);
  return err;
}

int fkm__mkdirs(const char *dir) {
  char buf[FKM__PATH_MAX];
  if (fkm__path(buf, sizeof buf, "%s", dir) != 0) return ENAMETOOLONG;
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return errno;
    *p = c;
    if (c == '\0') break;
  }
  struct stat st;
  if (stat(dir, &st) != 0) return errno;
  return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)ftw;
  return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT ? errno : 0;
}

int fkm__remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : errno;
  if (!S_ISDIR(st.st_mode)) return unlink(path) != 0 && errno != ENOENT ? errno : 0;
  return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 ? (errno ? errno : EIO) : 0;
}

/* The directory part of path ("." when none) into dir. 0, or -1 when it does not fit. */
static int dir_of(const char *path, char *dir, size_t len) {
  const char *slash = strrchr(path, '/');
  if (!slash) return fkm__path(dir, len, ".");
  return fkm__path(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

int fkm__tmp_open(fkm__tmp_file *t, const char *path) {
  char dir[FKM__PATH_MAX];
  const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
  t->fd = -1;
  if (fkm__path(t->path, sizeof t->path, "%s", path) != 0 || dir_of(path, dir, sizeof dir) != 0 ||
      fkm__path(t->tmp, sizeof t->tmp, "%s/.tmp-%s.XXXXXX", dir, base) != 0)
    return ENAMETOOLONG;
  t->fd = mkostemp(t->tmp, O_CLOEXEC);
  if (t->fd < 0) return errno;
  fchmod(t->fd, 0644);
  return 0;
}

int fkm__tmp_write(fkm__tmp_file *t, const void *data, size_t size) {
  const char *p = data;
  while (size > 0) {
    ssize_t w = write(t->fd, p, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    p += w;
    size -= (size_t)w;
  }
  return 0;
}

void fkm__tmp_abort(fkm__tmp_file *t) {
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  unlink(t->tmp);
}

/* fsync of the directory holding path, so the rename itself is durable. */
static void sync_dir(const char *path) {
  char dir[FKM__PATH_MAX];
  if (dir_of(path, dir, sizeof dir) != 0) return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

int fkm__tmp_commit(fkm__tmp_file *t) {
  int err = fsync(t->fd) != 0 ? errno : 0;
  if (close(t->fd) != 0 && !err) err = errno;
  t->fd = -1;
  if (!err && rename(t->tmp, t->path) != 0) err = errno;
  if (err) {
    unlink(t->tmp);
    return err;
  }
  sync_dir(t->path);
  return 0;
}

int fkm__file_write_atomic(const char *path, const void *data, size_t size) {
  fkm__tmp_file t;
  int err = fkm__tmp_open(&t, path);
  if (err) return err;
  err = fkm__tmp_write(&t, data, size);
  if (err) {
    fkm__tmp_abort(&t);
    return err;
  }
  return fkm__tmp_commit(&t);
}

int fkm__cache_mkdirs(const char *dir) {
  struct stat st; /* stat: a link to a directory is a directory */
  int err = stat(dir, &st) == 0 && !S_ISDIR(st.st_mode) ? fkm__remove_tree(dir) : 0;
  return err ? err : fkm__mkdirs(dir);
}

int fkm__cache_file_write(const char *path, const void *data, size_t size) {
  struct stat st;
  int err = lstat(path, &st) == 0 && S_ISDIR(st.st_mode) ? fkm__remove_tree(path) : 0;
  return err ? err : fkm__file_write_atomic(path, data, size);
}
