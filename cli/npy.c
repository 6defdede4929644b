/* .npy reading (memory-mapped, validated) and atomic writing (temp file, fsync, rename). */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy_header.h"

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static const struct {
  const char *descr;
  size_t size;
} dtypes[] = {{"<f2", 2}, {"<f4", 4}, {"<f8", 8}, {"<i4", 4}};
enum { DTYPE_COUNT = sizeof dtypes / sizeof dtypes[0] };

const char *npy_dtype_descr(npy_dtype t) { return dtypes[t].descr; }
size_t npy_dtype_size(npy_dtype t) { return dtypes[t].size; }

static npy_status fail(npy_status s, char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static npy_status fail(npy_status s, char *err, size_t err_len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_len, fmt, ap);
  va_end(ap);
  return s;
}

/* ---- reading --------------------------------------------------------------------------------- */

/* The file's bytes; released with unmap_bytes. An empty file maps to NULL. */
typedef struct bytes {
  const unsigned char *p;
  size_t n;
} bytes;

static npy_status map_file(const char *path, bytes *b, char *err, size_t err_len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
  if (fd < 0) return fail(NPY_ERR_IO, err, err_len, "cannot open: %s", strerror(errno));
  struct stat st;
  npy_status s = NPY_OK;
  if (fstat(fd, &st) != 0)
    s = fail(NPY_ERR_IO, err, err_len, "cannot stat: %s", strerror(errno));
  else if (!S_ISREG(st.st_mode))
    s = fail(NPY_ERR_IO, err, err_len, "not a regular file");
  else if (st.st_size == 0)
    s = fail(NPY_ERR_FORMAT, err, err_len, "empty file (0 bytes)");
  if (s == NPY_OK) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
      s = fail(NPY_ERR_IO, err, err_len, "cannot map: %s", strerror(errno));
    else
      *b = (bytes){p, (size_t)st.st_size};
  }
  close(fd);
  return s;
}

static void unmap_bytes(bytes *b) {
  if (b->p) munmap((void *)b->p, b->n);
  *b = (bytes){NULL, 0};
}

static uint32_t load_le(const unsigned char *p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Magic, version and header length; *offset receives where the header text starts, *hlen its
 * length (checked against the file size and NPY_MAX_HEADER). */
static npy_status read_preamble(const bytes *b, size_t *offset, size_t *hlen, char *err,
                                size_t err_len) {
  size_t m = b->n < sizeof magic ? b->n : sizeof magic;
  if (memcmp(b->p, magic, m) != 0)
    return fail(NPY_ERR_FORMAT, err, err_len, "not a .npy file (bad magic)");
  if (b->n < 10)
    return fail(NPY_ERR_FORMAT, err, err_len, "truncated header (file has %zu bytes)", b->n);
  int major = b->p[6], minor = b->p[7];
  if (major < 1 || major > 3 || minor != 0)
    return fail(NPY_ERR_UNSUPPORTED, err, err_len, "unsupported .npy format version %d.%d", major,
                minor);
  *offset = major == 1 ? 10 : 12;
  if (b->n < *offset)
    return fail(NPY_ERR_FORMAT, err, err_len, "truncated header (file has %zu bytes)", b->n);
  *hlen = load_le(b->p + 8, major == 1 ? 2 : 4);
  if (*hlen > NPY_MAX_HEADER)
    return fail(NPY_ERR_FORMAT, err, err_len, "header length %zu exceeds the %u-byte limit", *hlen,
                NPY_MAX_HEADER);
  if (*hlen > b->n - *offset)
    return fail(NPY_ERR_FORMAT, err, err_len,
                "truncated header (%zu header bytes announced, the file has %zu)", *hlen,
                b->n - *offset);
  return NPY_OK;
}

/* Maps descr to one of the accepted dtypes, or names it in the error. */
static npy_status find_dtype(const char *descr, unsigned accept, npy_dtype *out, char *err,
                             size_t err_len) {
  for (int t = 0; t < DTYPE_COUNT; t++) {
    if ((accept & NPY_ACCEPT(t)) && strcmp(descr, dtypes[t].descr) == 0) {
      *out = (npy_dtype)t;
      return NPY_OK;
    }
  }
  char list[64] = "";
  for (int t = 0; t < DTYPE_COUNT; t++) {
    if (accept & NPY_ACCEPT(t))
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", list[0] ? ", " : "",
               dtypes[t].descr);
  }
  return fail(NPY_ERR_UNSUPPORTED, err, err_len, "dtype '%s' is not supported (expected %s)", descr,
              list);
}

static npy_status check_layout(const npy_header *h, int min_rank, int max_rank, char *err,
                               size_t err_len) {
  char shape[128];
  npy_format_shape(h->shape, h->rank, shape, sizeof shape);
  if (h->fortran && h->rank > 1)
    return fail(NPY_ERR_UNSUPPORTED, err, err_len,
                "Fortran-order arrays are not supported (save it in C order, e.g. with "
                "numpy.ascontiguousarray)");
  if (h->rank < min_rank || h->rank > max_rank) {
    if (min_rank == max_rank)
      return fail(NPY_ERR_UNSUPPORTED, err, err_len, "shape %s has rank %d, expected rank %d",
                  shape, h->rank, min_rank);
    return fail(NPY_ERR_UNSUPPORTED, err, err_len, "shape %s has rank %d, expected rank %d to %d",
                shape, h->rank, min_rank, max_rank);
  }
  return NPY_OK;
}

/* Bytes of product(shape) elements of `size` bytes, or -1 if that overflows size_t. */
static int data_size(const int64_t *shape, int rank, size_t size, size_t *out) {
  size_t total = size;
  for (int i = 0; i < rank; i++) {
    if (shape[i] != 0 && total > SIZE_MAX / (uint64_t)shape[i]) return -1;
    total *= (size_t)shape[i];
  }
  *out = total;
  return 0;
}

/* The data must fill the rest of the file exactly and be aligned to the element size. */
static npy_status check_data(const bytes *b, size_t offset, const npy_header *h, size_t size,
                             size_t *data_bytes, char *err, size_t err_len) {
  char shape[128];
  npy_format_shape(h->shape, h->rank, shape, sizeof shape);
  if (data_size(h->shape, h->rank, size, data_bytes) != 0)
    return fail(NPY_ERR_FORMAT, err, err_len, "shape %s is too large", shape);
  size_t have = b->n - offset;
  if (have < *data_bytes)
    return fail(NPY_ERR_FORMAT, err, err_len,
                "truncated data: shape %s needs %zu bytes, the file holds %zu", shape, *data_bytes,
                have);
  if (have > *data_bytes)
    return fail(NPY_ERR_FORMAT, err, err_len, "%zu unexpected bytes after the data of shape %s",
                have - *data_bytes, shape);
  if (offset % size != 0)
    return fail(NPY_ERR_FORMAT, err, err_len, "data offset %zu is not aligned to %zu bytes", offset,
                size);
  return NPY_OK;
}

/* Validates the mapped file and fills *out (which then owns the mapping). */
static npy_status parse_file(const bytes *b, unsigned accept, int min_rank, int max_rank,
                             npy_array *out, char *err, size_t err_len) {
  size_t offset = 0, hlen = 0, data_bytes = 0;
  npy_header h;
  npy_status s = read_preamble(b, &offset, &hlen, err, err_len);
  if (s != NPY_OK) return s;
  if (npy_header_parse((const char *)b->p + offset, hlen, &h, err, err_len) != 0)
    return NPY_ERR_FORMAT;
  offset += hlen;
  s = find_dtype(h.descr, accept, &out->dtype, err, err_len);
  if (s == NPY_OK) s = check_layout(&h, min_rank, max_rank, err, err_len);
  if (s == NPY_OK)
    s = check_data(b, offset, &h, dtypes[out->dtype].size, &data_bytes, err, err_len);
  if (s != NPY_OK) return s;
  out->rank = h.rank;
  memcpy(out->shape, h.shape, (size_t)h.rank * sizeof h.shape[0]);
  out->data = b->p + offset;
  out->data_bytes = data_bytes;
  out->map = (void *)b->p;
  out->map_bytes = b->n;
  return NPY_OK;
}

npy_status npy_map(const char *path, unsigned accept, int min_rank, int max_rank, npy_array *out,
                   char *err, size_t err_len) {
  bytes b = {NULL, 0};
  memset(out, 0, sizeof *out);
  npy_status s = map_file(path, &b, err, err_len);
  if (s == NPY_OK) s = parse_file(&b, accept, min_rank, max_rank, out, err, err_len);
  if (s != NPY_OK) {
    unmap_bytes(&b);
    memset(out, 0, sizeof *out);
  }
  return s;
}

void npy_unmap(npy_array *a) {
  if (a->map) munmap(a->map, a->map_bytes);
  memset(a, 0, sizeof *a);
}

/* ---- writing --------------------------------------------------------------------------------- */

/* path's directory ("." when path has no slash) into buf. */
static void directory_of(const char *path, char *buf, size_t buf_len) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(buf, buf_len, ".");
  else if (slash == path)
    snprintf(buf, buf_len, "/");
  else
    snprintf(buf, buf_len, "%.*s", (int)(slash - path), path);
}

npy_status npy_check_writable(const char *path, char *err, size_t err_len) {
  char dir[4096];
  struct stat st;
  directory_of(path, dir, sizeof dir);
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(NPY_ERR_IO, err, err_len, "directory '%s' does not exist", dir);
  if (access(dir, W_OK | X_OK) != 0)
    return fail(NPY_ERR_IO, err, err_len, "directory '%s' is not writable", dir);
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return fail(NPY_ERR_IO, err, err_len, "is a directory");
  return NPY_OK;
}

/* Version 1.0 header for these shapes, padded with spaces so the data starts at a multiple of 64
 * bytes, ending in '\n'. Returns its length (rank ≤ NPY_MAX_RANK keeps it far below buf_len). */
static size_t format_header(npy_dtype dtype, int rank, const int64_t *shape, char *buf,
                            size_t buf_len) {
  char dims[128];
  npy_format_shape(shape, rank, dims, sizeof dims);
  int n = snprintf(buf + 10, buf_len - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                   dtypes[dtype].descr, dims);
  size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
  memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
  buf[total - 1] = '\n';
  memcpy(buf, magic, sizeof magic);
  buf[6] = 1, buf[7] = 0;
  buf[8] = (char)((total - 10) & 0xff), buf[9] = (char)((total - 10) >> 8);
  return total;
}

static int write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* Permissions a plain open(O_CREAT, 0666) would give; mkstemp creates 0600. The CLI is
 * single-threaded, so reading the umask by setting it back is safe. */
static mode_t default_mode(void) {
  mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

/* Fills the open temp file; errno is set on failure. */
static int fill_temp(int fd, const char *header, size_t header_len, const void *data,
                     size_t data_bytes) {
  if (write_all(fd, header, header_len) != 0 || write_all(fd, data, data_bytes) != 0) return -1;
  return fsync(fd);
}

npy_status npy_open_temp(const char *path, char *tmp, size_t tmp_len, int *fd, char *err,
                         size_t err_len) {
  const char *slash = strrchr(path, '/');
  int dir_len = slash ? (int)(slash - path + 1) : 0;
  tmp[0] = '\0';
  if ((size_t)snprintf(tmp, tmp_len, "%.*s.%s.tmp.XXXXXX", dir_len, path, path + dir_len) >=
      tmp_len) {
    tmp[0] = '\0';
    return fail(NPY_ERR_IO, err, err_len, "path is too long");
  }
  *fd = mkstemp(tmp);
  if (*fd >= 0 && fchmod(*fd, default_mode()) == 0) return NPY_OK;
  if (*fd >= 0) close(*fd), unlink(tmp);
  int e = errno;
  tmp[0] = '\0';
  return fail(NPY_ERR_IO, err, err_len, "cannot create a temp file: %s", strerror(e));
}

npy_status npy_write_temp(const char *path, npy_dtype dtype, int rank, const int64_t *shape,
                          const void *data, char *tmp, size_t tmp_len, char *err, size_t err_len) {
  char header[256];
  size_t data_bytes = 0;
  tmp[0] = '\0';
  if (rank < 1 || rank > NPY_MAX_RANK || data_size(shape, rank, dtypes[dtype].size, &data_bytes))
    return fail(NPY_ERR_UNSUPPORTED, err, err_len, "cannot write rank %d or this shape", rank);
  size_t header_len = format_header(dtype, rank, shape, header, sizeof header);
  int fd;
  npy_status st = npy_open_temp(path, tmp, tmp_len, &fd, err, err_len);
  if (st != NPY_OK) return st;
  int rc = fill_temp(fd, header, header_len, data, data_bytes);
  int e = errno;
  if (close(fd) != 0 && rc == 0) rc = -1, e = errno;
  if (rc == 0) return NPY_OK;
  npy_discard(tmp);
  tmp[0] = '\0';
  return fail(NPY_ERR_IO, err, err_len, "cannot write: %s", strerror(e));
}

npy_status npy_commit(const char *tmp, const char *path, char *err, size_t err_len) {
  if (rename(tmp, path) == 0) return NPY_OK;
  int e = errno;
  npy_discard(tmp);
  return fail(NPY_ERR_IO, err, err_len, "cannot rename into place: %s", strerror(e));
}

void npy_discard(const char *tmp) {
  if (tmp[0]) unlink(tmp);
}

npy_status npy_write(const char *path, npy_dtype dtype, int rank, const int64_t *shape,
                     const void *data, char *err, size_t err_len) {
  size_t tmp_len = strlen(path) + 32;
  char *tmp = malloc(tmp_len);
  if (!tmp) return fail(NPY_ERR_IO, err, err_len, "out of memory");
  npy_status s = npy_write_temp(path, dtype, rank, shape, data, tmp, tmp_len, err, err_len);
  if (s == NPY_OK) s = npy_commit(tmp, path, err, err_len);
  free(tmp);
  return s;
}
