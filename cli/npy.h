/* npy.h: NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order, little-endian.
 *
 * Reading memory-maps the file read-only and never copies the data. Writing goes to a temp file in
 * the target directory, is fsynced and renamed into place, so a failure never leaves a partial file
 * or a temp file behind. No function prints: failures return a status and write one line of text
 * (no trailing newline) into the caller's err buffer.
 */
#ifndef FKM_CLI_NPY_H
#define FKM_CLI_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_RANK 3
/* Headers longer than this are refused as malformed (numpy's own headers are < 1 KiB). */
#define NPY_MAX_HEADER (1u << 20)

typedef enum npy_status {
  NPY_OK = 0,
  NPY_ERR_IO,         /* open, stat, mmap, write, fsync or rename failed (errno text in err) */
  NPY_ERR_FORMAT,     /* not a well-formed .npy file (magic, version, header, truncation) */
  NPY_ERR_UNSUPPORTED /* well-formed but refused: dtype, Fortran order or rank */
} npy_status;

/* Element types this tool reads and writes: '<f2', '<f4', '<f8', '<i4'. */
typedef enum npy_dtype { NPY_F2 = 0, NPY_F4, NPY_F8, NPY_I4 } npy_dtype;
#define NPY_ACCEPT(t) (1u << (t))
#define NPY_ACCEPT_FLOAT (NPY_ACCEPT(NPY_F2) | NPY_ACCEPT(NPY_F4) | NPY_ACCEPT(NPY_F8))

/* A mapped array. data points into the mapping, is aligned to the element size and holds exactly
 * product(shape) elements in C order; valid until npy_unmap. */
typedef struct npy_array {
  npy_dtype dtype;
  int rank;
  int64_t shape[NPY_MAX_RANK];
  const void *data;
  size_t data_bytes;
  void *map; /* whole-file mapping (NULL when the file holds no data) */
  size_t map_bytes;
} npy_array;

/* Descriptor string ("<f4") and item size of a dtype. */
const char *npy_dtype_descr(npy_dtype t);
size_t npy_dtype_size(npy_dtype t);

/* Maps path and validates it: dtype among the `accept` bits, rank in [min_rank, max_rank] (both
 * ≤ NPY_MAX_RANK), C order. On failure *out is zeroed and nothing stays mapped or open. */
npy_status npy_map(const char *path, unsigned accept, int min_rank, int max_rank, npy_array *out,
                   char *err, size_t err_len);
/* Releases the mapping; a zeroed or already unmapped array is accepted. */
void npy_unmap(npy_array *a);

/* Fails (NPY_ERR_IO) unless path's directory exists and is writable, and path is not a directory:
 * lets a caller refuse before long work instead of after it. Creates nothing. */
npy_status npy_check_writable(const char *path, char *err, size_t err_len);

/* Two-phase write, so several outputs can be committed together: npy_write_temp writes the array
 * (shape[0..rank), rank 1..NPY_MAX_RANK, data = product(shape) elements of dtype) to a new temp
 * file next to path and fsyncs it; its name goes to tmp (tmp_len ≥ strlen(path) + 32). On failure
 * no temp file remains. npy_commit renames tmp onto path (removing tmp if that fails);
 * npy_discard removes tmp. */
npy_status npy_write_temp(const char *path, npy_dtype dtype, int rank, const int64_t *shape,
                          const void *data, char *tmp, size_t tmp_len, char *err, size_t err_len);
npy_status npy_commit(const char *tmp, const char *path, char *err, size_t err_len);
void npy_discard(const char *tmp);

/* A new empty temp file next to path (any content; npy_write_temp's first step), with the mode a
 * plain creation would give: its name goes to tmp (tmp_len ≥ strlen(path) + 32), its descriptor
 * to *fd, for npy_commit or npy_discard. */
npy_status npy_open_temp(const char *path, char *tmp, size_t tmp_len, int *fd, char *err,
                         size_t err_len);

/* npy_write_temp followed by npy_commit. */
npy_status npy_write(const char *path, npy_dtype dtype, int rank, const int64_t *shape,
                     const void *data, char *err, size_t err_len);

#endif
