/* Inputs from .npy files: points (mapped, never copied) and centroids (fp32). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static fkm_dtype points_dtype(npy_dtype t) {
  return t == NPY_F2 ? FKM_DTYPE_FP16 : t == NPY_F4 ? FKM_DTYPE_FP32 : FKM_DTYPE_FP64;
}

/* Maps a float array of rank 2 or 3; prints the failure. */
static int map_float(const char *command, const char *path, npy_array *a) {
  char err[512];
  if (npy_map(path, NPY_ACCEPT_FLOAT, 2, 3, a, err, sizeof err) != NPY_OK)
    return cli_fail("%s: %s: %s", command, path, err);
  for (int i = 0; i < a->rank; i++) {
    if (a->shape[i] == 0) {
      npy_unmap(a);
      return cli_fail("%s: %s: the array is empty (a dimension is 0)", command, path);
    }
  }
  return 0;
}

int cli_load_points(const char *command, const char *path, cli_points *p) {
  memset(p, 0, sizeof *p);
  if (!path) return cli_usage_error("%s: missing INPUT.npy (see 'fkm help %s')", command, command);
  int rc = map_float(command, path, &p->file);
  if (rc) return rc;
  const int64_t *s = p->file.shape;
  int r3 = p->file.rank == 3;
  p->points =
      (fkm_points){p->file.data, points_dtype(p->file.dtype), r3 ? s[0] : 1, s[r3], s[r3 + 1]};
  return 0;
}

void cli_free_points(cli_points *p) { npy_unmap(&p->file); }

/* IEEE binary16 to float (exact). */
static float half_to_float(uint16_t h) {
  int exponent = (h >> 10) & 31, mantissa = h & 1023;
  double v = exponent == 0    ? ldexp(mantissa, -24)
             : exponent == 31 ? (mantissa ? NAN : INFINITY)
                              : ldexp(mantissa + 1024, exponent - 25);
  return (float)((h >> 15) ? -v : v);
}

/* Points *data at a's values as fp32: the mapping for '<f4', else a converted copy in *copy
 * (freed by the caller); a finite value past fp32's range is refused (one line printed). */
static int as_fp32(const char *command, const char *path, const npy_array *a, float **copy,
                   const float **data) {
  size_t count = a->data_bytes / npy_dtype_size(a->dtype);
  if (a->dtype == NPY_F4) {
    *data = a->data;
    return 0;
  }
  *copy = malloc(count * sizeof(float));
  if (!*copy) return cli_fail("%s: %s: out of memory for %zu values", command, path, count);
  for (size_t i = 0; i < count; i++) {
    const double v = a->dtype == NPY_F8 ? ((const double *)a->data)[i] : 0.0;
    if (isfinite(v) && isinf((float)v)) /* the library's bound: rounds to Inf in fp32 */
      return cli_fail("%s: %s: element %zu (%g) is beyond fp32's range, which fkm reads it in",
                      command, path, i, v);
    (*copy)[i] = a->dtype == NPY_F8 ? (float)v : half_to_float(((const uint16_t *)a->data)[i]);
  }
  *data = *copy;
  return 0;
}

/* The centroid array's shape must fit the points: same rank, B and D. */
static int check_centroid_shape(const char *command, const char *path, const npy_array *a,
                                const cli_points *p) {
  const fkm_points *pt = &p->points;
  int r3 = a->rank == 3;
  if (a->rank != p->file.rank)
    return cli_fail("%s: %s: centroids have rank %d but the input has rank %d", command, path,
                    a->rank, p->file.rank);
  if (r3 && a->shape[0] != pt->batches)
    return cli_fail("%s: %s: centroids have B = %lld but the input has B = %lld", command, path,
                    (long long)a->shape[0], (long long)pt->batches);
  if (a->shape[r3 + 1] != pt->d)
    return cli_fail("%s: %s: centroids have D = %lld but the input has D = %lld", command, path,
                    (long long)a->shape[r3 + 1], (long long)pt->d);
  return 0;
}

int cli_load_centroids(const char *command, const char *path, const cli_points *p,
                       cli_centroids *c) {
  memset(c, 0, sizeof *c);
  int rc = map_float(command, path, &c->file);
  if (!rc) rc = check_centroid_shape(command, path, &c->file, p);
  if (!rc) rc = as_fp32(command, path, &c->file, &c->copy, &c->data);
  if (rc) {
    cli_free_centroids(c);
    return rc;
  }
  c->k = c->file.shape[c->file.rank - 2];
  return 0;
}

void cli_free_centroids(cli_centroids *c) {
  free(c->copy);
  npy_unmap(&c->file);
  memset(c, 0, sizeof *c);
}

/* The weight array's shape must be the labels': (N,) for rank-2 input, (B, N) for rank 3. */
static int check_weight_shape(const char *command, const char *path, const npy_array *a,
                              const cli_points *p) {
  const fkm_points *pt = &p->points;
  int r3 = p->file.rank == 3;
  if (a->rank != 1 + r3)
    return cli_fail("%s: %s: sample weights must have shape %s for this input, not rank %d",
                    command, path, r3 ? "(B, N)" : "(N,)", a->rank);
  if (r3 && a->shape[0] != pt->batches)
    return cli_fail("%s: %s: sample weights have B = %lld but the input has B = %lld", command,
                    path, (long long)a->shape[0], (long long)pt->batches);
  if (a->shape[r3] != pt->n)
    return cli_fail("%s: %s: sample weights have N = %lld but the input has N = %lld", command,
                    path, (long long)a->shape[r3], (long long)pt->n);
  return 0;
}

int cli_load_weights(const char *command, const char *path, const cli_points *p, cli_weights *w) {
  char err[512];
  memset(w, 0, sizeof *w);
  if (npy_map(path, NPY_ACCEPT(NPY_F4) | NPY_ACCEPT(NPY_F8), 1, 2, &w->file, err, sizeof err) !=
      NPY_OK)
    return cli_fail("%s: %s: %s", command, path, err);
  int rc = check_weight_shape(command, path, &w->file, p);
  if (!rc) rc = as_fp32(command, path, &w->file, &w->copy, &w->data);
  if (rc) cli_free_weights(w);
  return rc;
}

void cli_free_weights(cli_weights *w) {
  free(w->copy);
  npy_unmap(&w->file);
  memset(w, 0, sizeof *w);
}
