/* NCCL unique ids through files (how a launcher's ranks share rank 0's id) and the launcher's rank
 * and size from its environment variables. */
#include <errno.h>
#include <fcntl.h>
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

static int write_all(int fd, const unsigned char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return 0;
    p += w, n -= (size_t)w;
  }
  return 1;
}

fkm_status fkm_comm_id_save(fkm_ctx *ctx, const fkm_comm_id *id, const char *path) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!id || !path) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm id save: id or path is NULL");
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm id save: path too long");
  unsigned char buf[ID_FILE_BYTES];
  memcpy(buf, ID_MAGIC, ID_MAGIC_LEN);
  memcpy(buf + ID_MAGIC_LEN, id->bytes, FKM_COMM_ID_BYTES);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return fkm__error(ctx, FKM_ERR_IO, "comm id save: %s: %s", tmp, strerror(errno));
  int ok = write_all(fd, buf, sizeof buf) && fsync(fd) == 0;
  int err = errno;
  ok = close(fd) == 0 && ok;
  if (ok && rename(tmp, path) == 0) return FKM_OK;
  err = ok ? errno : err;
  unlink(tmp);
  return fkm__error(ctx, FKM_ERR_IO, "comm id save: %s: %s", path, strerror(err));
}

/* 1: the whole file read into buf; 0: not there (yet), or still being written; -1: not an id
 * file (wrong size or magic). */
static int read_id_file(const char *path, unsigned char *buf) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t got = fread(buf, 1, ID_FILE_BYTES, f);
  int extra = fgetc(f) != EOF;
  fclose(f);
  if (got != ID_FILE_BYTES || extra || memcmp(buf, ID_MAGIC, ID_MAGIC_LEN) != 0) return -1;
  return 1;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

fkm_status fkm_comm_id_load(fkm_ctx *ctx, const char *path, double timeout_s, fkm_comm_id *id) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!id || !path) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm id load: id or path is NULL");
  unsigned char buf[ID_FILE_BYTES];
  double end = now_s() + (timeout_s > 0 ? timeout_s : 0);
  int r;
  while ((r = read_id_file(path, buf)) == 0 && now_s() < end) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  if (r == 0)
    return fkm__error(ctx, FKM_ERR_IO, "comm id load: %s did not appear within %g s", path,
                      timeout_s > 0 ? timeout_s : 0.0);
  if (r < 0)
    return fkm__error(ctx, FKM_ERR_FORMAT, "comm id load: %s is not an fkm comm id file", path);
  memcpy(id->bytes, buf + ID_MAGIC_LEN, FKM_COMM_ID_BYTES);
  return FKM_OK;
}

/* Whole-string decimal integer into *v (0), or -1. */
static int parse_int(const char *s, int *v) {
  char *end;
  if (!s || !*s) return -1;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (errno || *end || x < -2147483647L || x > 2147483647L) return -1;
  *v = (int)x;
  return 0;
}

int fkm__launcher_rank(int *rank, int *size, char *why, size_t len) {
  static const char *const pairs[][2] = {{"FKM_RANK", "FKM_SIZE"},
                                         {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                         {"PMI_RANK", "PMI_SIZE"},
                                         {"SLURM_PROCID", "SLURM_NTASKS"},
                                         {"RANK", "WORLD_SIZE"}};
  *rank = 0, *size = 1;
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    const char *r = getenv(pairs[i][0]), *s = getenv(pairs[i][1]);
    if (!r && !s) continue;
    int rv = -1, sv = 0;
    if (parse_int(r, &rv) || parse_int(s, &sv) || sv < 1 || rv < 0 || rv >= sv) {
      snprintf(why, len, "%s=%s and %s=%s are not a rank in [0, size)", pairs[i][0],
               r ? r : "(unset)", pairs[i][1], s ? s : "(unset)");
      return -1;
    }
    *rank = rv, *size = sv;
    return 1;
  }
  return 0;
}
