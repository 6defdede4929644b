/* npy_header.h: the header dict of a .npy file, e.g.
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * Parsing is strict about structure and tolerant about spacing, quoting and Python 2 long suffixes
 * ("3L"). Internal to npy.c and its tests. */
#ifndef FKM_CLI_NPY_HEADER_H
#define FKM_CLI_NPY_HEADER_H

#include <stddef.h>
#include <stdint.h>

/* numpy itself allows 64 dimensions; deeper shapes are refused as malformed. */
#define NPY_HEADER_MAX_DIMS 64

typedef struct npy_header {
  char descr[32]; /* the 'descr' string as written */
  int fortran;    /* 'fortran_order' */
  int rank;       /* number of entries in 'shape' */
  int64_t shape[NPY_HEADER_MAX_DIMS];
} npy_header;

/* Parses text[0..len) (not NUL-terminated): one dict literal holding exactly the keys 'descr'
 * (a string), 'fortran_order' (True or False) and 'shape' (a tuple of non-negative integers), each
 * once and in any order, followed only by whitespace. Returns 0, or -1 with one line in err. */
int npy_header_parse(const char *text, size_t len, npy_header *h, char *err, size_t err_len);

/* Writes "(3, 4)" or "(3,)" into buf (always NUL-terminated). */
void npy_format_shape(const int64_t *shape, int rank, char *buf, size_t buf_len);

#endif
