/* NCCL unique ids through files (how a launcher's ranks share rank 0's id) and the launcher's rank
 * and size from its environment variables. An id file is the 8 bytes "FKMCOMM1" then the 128 id
 * bytes, nothing more. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"

#define ID_MAGIC "FKMCOMM1"
#define ID_MAGIC_LEN 8
#define ID_FILE_BYTES (ID_MAGIC_LEN + FKM_COMM_ID_BYTES)

/* 0 when all n bytes reached fd, else the errno (EIO for a write that wrote nothing). */
static int write_all(int fd, const unsigned char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* Writes the id file to tmp, mode 0600 whatever the umask, synced: 0, or the errno with tmp
 * removed (or never created). */
static int write_id_file(const char *tmp, const fkm_comm_id *id) {
  unsigned char buf[ID_FILE_BYTES];
  memcpy(buf, ID_MAGIC, ID_MAGIC_LEN);
  memcpy(buf + ID_MAGIC_LEN, id->bytes, FKM_COMM_ID_BYTES);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = fchmod(fd, 0600) == 0 ? write_all(fd, buf, sizeof buf) : errno;
  if (!err && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && !err) err = errno;
  if (err) unlink(tmp);
  return err;
}

fkm_status fkm_comm_id_save(fkm_ctx *ctx, const fkm_comm_id *id, const char *path) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!id || !path) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm id save: id or path is NULL");
  char tmp[PATH_MAX];
  int err = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) < (int)sizeof tmp
                ? write_id_file(tmp, id)
                : ENAMETOOLONG;
  if (!err && rename(tmp, path) != 0) {
    err = errno;
    unlink(tmp);
  }
  if (err) return fkm__error(ctx, FKM_ERR_IO, "comm id save: %s: %s", path, strerror(err));
  return FKM_OK;
}

/* What one look at an id file found; the first two are worth another look. */
typedef enum { LOOK_ABSENT, LOOK_PARTIAL, LOOK_OK, LOOK_BAD, LOOK_UNREADABLE } look_result;

/* Up to n bytes of fd into p: how many (fewer only at the end of the file), or -1 (errno). */
static ssize_t read_upto(int fd, unsigned char *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/* One look at path. LOOK_OK: the file's id is in *id (written only then). Worth another look:
 * LOOK_ABSENT (no such file yet) and LOOK_PARTIAL (a proper prefix of an id file, e.g. one a
 * copy is still writing). LOOK_BAD: not an id file (other magic, or longer). LOOK_UNREADABLE:
 * *err is the errno. */
static look_result look(const char *path, fkm_comm_id *id, int *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return *err == ENOENT ? LOOK_ABSENT : LOOK_UNREADABLE;
  }
  unsigned char file[ID_FILE_BYTES + 1];
  ssize_t got = read_upto(fd, file, sizeof file);
  *err = errno;
  close(fd);
  if (got < 0) return LOOK_UNREADABLE;
  size_t n = (size_t)got, head = n < ID_MAGIC_LEN ? n : ID_MAGIC_LEN;
  if (n > ID_FILE_BYTES || memcmp(file, ID_MAGIC, head) != 0) return LOOK_BAD;
  if (n < ID_FILE_BYTES) return LOOK_PARTIAL;
  memcpy(id->bytes, file + ID_MAGIC_LEN, FKM_COMM_ID_BYTES);
  return LOOK_OK;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Looks at path every 10 ms until it holds a whole id file or timeout_s has passed (one look when
 * 0). */
fkm_status fkm_comm_id_load(fkm_ctx *ctx, const char *path, double timeout_s, fkm_comm_id *id) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!id || !path) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm id load: id or path is NULL");
  if (!(timeout_s >= 0))
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm id load: timeout %g s is not >= 0",
                      timeout_s);
  double end = now_s() + timeout_s;
  int err = 0;
  look_result r;
  while ((r = look(path, id, &err)) <= LOOK_PARTIAL && now_s() < end) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  if (r == LOOK_OK) return FKM_OK;
  if (r == LOOK_ABSENT)
    return fkm__error(ctx, FKM_ERR_IO, "comm id load: %s did not appear within %g s", path,
                      timeout_s);
  if (r == LOOK_UNREADABLE)
    return fkm__error(ctx, FKM_ERR_IO, "comm id load: %s: %s", path, strerror(err));
  if (r == LOOK_PARTIAL)
    return fkm__error(ctx, FKM_ERR_FORMAT,
                      "comm id load: %s is still shorter than an id file (%d bytes) after %g s",
                      path, ID_FILE_BYTES, timeout_s);
  return fkm__error(ctx, FKM_ERR_FORMAT,
                    "comm id load: %s is not an fkm comm id file (\"%s\" "
                    "then %d bytes)",
                    path, ID_MAGIC, FKM_COMM_ID_BYTES);
}

/* A whole-string decimal integer of digits only (no sign, no spaces) that fits an int into *v:
 * 1, else 0. */
static int parse_count(const char *s, int *v) {
  if (!s || *s < '0' || *s > '9') return 0;
  char *end;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (errno || *end || x > INT_MAX) return 0;
  *v = (int)x;
  return 1;
}

/* Why the rank r and size s of a launcher (either NULL: unset) are not a rank of a size, or NULL
 * when they are (then in *rank and *size). */
static const char *pair_problem(const char *r, const char *s, int *rank, int *size) {
  int rv, sv;
  if (!r || !s) return "both must be set";
  if (!parse_count(s, &sv) || sv < 1) return "the size is not a positive decimal integer";
  if (!parse_count(r, &rv)) return "the rank is not a non-negative decimal integer";
  if (rv >= sv) return "the rank is not below the size";
  *rank = rv, *size = sv;
  return NULL;
}

/* NAME="value", or NAME unset, into out [len]. */
static void describe(char *out, size_t len, const char *name, const char *value) {
  if (value)
    snprintf(out, len, "%s=\"%s\"", name, value);
  else
    snprintf(out, len, "%s unset", name);
}

int fkm__launcher_rank(int *rank, int *size, char *why, size_t len) {
  static const char *const pairs[][2] = {{"FKM_RANK", "FKM_SIZE"},
                                         {"RANK", "WORLD_SIZE"},
                                         {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                         {"PMI_RANK", "PMI_SIZE"},
                                         {"SLURM_PROCID", "SLURM_NTASKS"}};
  *rank = 0, *size = 1;
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    const char *r = getenv(pairs[i][0]), *s = getenv(pairs[i][1]);
    if (!r && !s) continue;
    const char *problem = pair_problem(r, s, rank, size);
    if (!problem) return 1;
    char rd[128], sd[128];
    describe(rd, sizeof rd, pairs[i][0], r);
    describe(sd, sizeof sd, pairs[i][1], s);
    snprintf(why, len, "%s, %s: %s", rd, sd, problem);
    return -1;
  }
  return 0;
}
