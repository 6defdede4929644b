/* Proof that fkm launches a Triton-compiled cubin (issue 8): flash-kmeans' _euclid_assign_kernel,
 * compiled by Triton into a fresh $TRITON_CACHE_DIR (bench/triton_proof.py does that and saves
 * the inputs and flash-kmeans' labels as .npy), is found with fkm_triton_inspect, launched from C
 * with fkm_triton_launch on the same inputs and grid, and its labels are compared with
 * (a) flash-kmeans' own labels (must be identical), (a') a second launch (the module is reused),
 * (b) fkm's GPU engine and (c) its CPU engine through fkm_predict with the same centroids
 * (differences allowed only where both labels are within 1e-3 relative of the exact fp64 best).
 *
 * Usage: triton_proof --cache DIR --x X.npy --c C.npy --xsq XSQ.npy --csq CSQ.npy
 *                     --labels LABELS.npy --grid GX,GY,GZ [--device I] [--name KERNEL]
 * Shapes: x [B][N][D] (or [N][D]) and c [B][K][D] fp16; xsq [B][N], csq [B][K] (any dtype the
 * kernel was compiled for: bytes are uploaded as they are); labels [B][N] int32.
 * The kernel's parameters must be (x, c, x_sq, c_sq, out) — five pointers, its B, N, K, D,
 * strides and tiles being tl.constexpr — plus Triton's hidden scratch pointers.
 * Prints a Markdown report; exit 0 when everything agrees, 1 on a real mismatch, 2 when the
 * proof cannot run (inputs, kernel, ABI, driver). Uses the driver API through dlopen, for the
 * device buffers only. */
#include <cuda.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_driver.h"
#include "fkm.h"

#define USER_PARAMS 5   /* x, c, x_sq, c_sq, out */
#define NEAR_TIE 1e-3   /* relative slack against the exact best squared distance */

/* ---- .npy files (version 1/2, C order, little-endian) ---------------------------------------- */
typedef struct npy {
  char descr[8];    /* e.g. "<f2" */
  int ndim;
  int64_t shape[4];
  size_t bytes;
  void *data;       /* owned */
} npy;

/* Parses the header dict's descr, fortran_order and shape. 0, or -1. */
static int npy_header(const char *h, npy *a) {
  const char *d = strstr(h, "'descr': '"), *s = strstr(h, "'shape': (");
  if (!d || !s || !strstr(h, "'fortran_order': False")) return -1;
  if (sscanf(d + 10, "%7[^']", a->descr) != 1) return -1;
  a->ndim = 0;
  for (s += 10; *s != ')' && a->ndim < 4;) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s) break;
    a->shape[a->ndim++] = v;
    s = end + (*end == ',') + (end[*end == ','] == ' ');
  }
  return *s == ')' ? 0 : -1;
}

static int element_size(const char *descr) {
  return strcmp(descr, "<f2") == 0 || strcmp(descr, "<u2") == 0   ? 2
         : strcmp(descr, "<f4") == 0 || strcmp(descr, "<i4") == 0 ? 4
         : strcmp(descr, "<f8") == 0 || strcmp(descr, "<i8") == 0 ? 8
                                                                  : 0;
}

/* Header length of an open .npy (4-byte for version 2+), its magic checked; 0 when malformed. */
static size_t npy_header_length(FILE *f) {
  unsigned char pre[12];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) return 0;
  size_t len = (size_t)pre[8] | (size_t)pre[9] << 8;
  if (pre[6] < 2) return len;
  if (fread(pre + 10, 1, 2, f) != 2) return 0;
  return len | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
}

/* Reads path into *a (a->data owned by the caller). 0, or 2 with a message. */
static int npy_read(const char *path, npy *a) {
  char header[4096];
  FILE *f = fopen(path, "rb");
  size_t len = f ? npy_header_length(f) : 0;
  int ok = len > 0 && len < sizeof header && fread(header, 1, len, f) == len;
  if (ok) header[len] = '\0';
  ok = ok && npy_header(header, a) == 0 && element_size(a->descr) > 0;
  a->bytes = ok ? (size_t)element_size(a->descr) : 0;
  for (int i = 0; ok && i < a->ndim; i++) a->bytes *= (size_t)a->shape[i];
  a->data = ok ? malloc(a->bytes ? a->bytes : 1) : NULL;
  ok = ok && a->data && fread(a->data, 1, a->bytes, f) == a->bytes;
  if (f) fclose(f);
  if (!ok) return fprintf(stderr, "triton_proof: %s is not a readable C-order .npy\n", path), 2;
  return 0;
}

/* ---- arguments ------------------------------------------------------------------------------ */
enum { X, C, XSQ, CSQ, LABELS, INPUTS };
static const char *const input_flags[INPUTS] = {"--x", "--c", "--xsq", "--csq", "--labels"};

typedef struct args {
  const char *cache, *name, *files[INPUTS];
  unsigned grid[3];
  int device;
} args;

static int parse(int argc, char **argv, args *a) {
  *a = (args){.name = "_euclid_assign_kernel"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *w = argv[i], *v = argv[i + 1];
    int known = 1;
    if (strcmp(w, "--cache") == 0) a->cache = v;
    else if (strcmp(w, "--name") == 0) a->name = v;
    else if (strcmp(w, "--device") == 0) a->device = atoi(v);
    else if (strcmp(w, "--grid") == 0)
      known = sscanf(v, "%u,%u,%u", &a->grid[0], &a->grid[1], &a->grid[2]) == 3;
    else {
      int f = 0;
      while (f < INPUTS && strcmp(w, input_flags[f]) != 0) f++;
      if (f == INPUTS) known = 0;
      else a->files[f] = v;
    }
    if (!known) return fprintf(stderr, "triton_proof: bad argument '%s %s'\n", w, v), 2;
  }
  for (int f = 0; f < INPUTS; f++)
    if (!a->files[f]) return fprintf(stderr, "triton_proof: %s FILE missing\n", input_flags[f]), 2;
  if (!a->cache || !a->grid[0]) return fail("--cache DIR and --grid GX,GY,GZ are required");
  return 0;
}

/* ---- the kernel in the cache ---------------------------------------------------------------- */
typedef struct found {
  const char *name;
  int count;
  char dir[4096], why[256];
  int num_warps, num_stages, arch, params, hidden, launchable;
  long long shared;
  int sizes[256];
} found;

static int pick_kernel(const fkm_triton_kernel *k, void *user) {
  found *f = user;
  if (strcmp(k->name, f->name) != 0) return 0;
  if (f->count++) return 0;
  snprintf(f->dir, sizeof f->dir, "%s", k->dir);
  snprintf(f->why, sizeof f->why, "%s", k->why);
  f->num_warps = k->num_warps, f->num_stages = k->num_stages, f->arch = k->arch;
  f->params = k->params, f->hidden = k->hidden_params, f->launchable = k->launchable;
  f->shared = k->shared;
  for (int i = 0; i < k->params && k->param_sizes; i++) f->sizes[i] = k->param_sizes[i];
  return 0;
}

static void print_kernel(const found *f) {
  printf("- kernel: `%s` in `%s`\n", f->name, f->dir);
  printf("- metadata: arch %d, num_warps %d (block %d), num_stages %d, shared %lld bytes\n",
         f->arch, f->num_warps, 32 * f->num_warps, f->num_stages, f->shared);
  printf("- cubin parameters: %d (%d user + %d hidden scratch pointers), bytes:", f->params,
         f->params - f->hidden, f->hidden);
  for (int i = 0; i < f->params; i++) printf(" %d", f->sizes[i]);
  printf("\n");
}

/* The one kernel named f->name in the cache, judged for the device; 0, or 2 with why. */
static int find_kernel(fkm_ctx *ctx, const args *a, found *f) {
  fkm_runtime_info info;
  int sm = fkm_runtime_query(ctx, &info) == FKM_OK && info.gpu == FKM_OK ? info.sm : 0;
  *f = (found){.name = a->name};
  if (fkm_triton_inspect(ctx, a->cache, sm, pick_kernel, f) != FKM_OK)
    return fprintf(stderr, "triton_proof: %s\n", fkm_ctx_last_error(ctx)), 2;
  if (f->count != 1)
    return fprintf(stderr, "triton_proof: %d kernels named %s in %s (want exactly one)\n",
                   f->count, a->name, a->cache), 2;
  print_kernel(f);
  if (!f->launchable) return fprintf(stderr, "triton_proof: not launchable: %s\n", f->why), 2;
  int abi_ok = f->params - f->hidden == USER_PARAMS;
  for (int i = 0; abi_ok && i < f->params; i++) abi_ok = f->sizes[i] == 8;
  if (!abi_ok)
    return fprintf(stderr, "triton_proof: expected %d user pointer parameters (x, c, x_sq, c_sq, "
                   "out) of 8 bytes each plus %d hidden pointers; the cubin's sizes are printed "
                   "above\n", USER_PARAMS, f->hidden), 2;
  return 0;
}

/* ---- shapes --------------------------------------------------------------------------------- */
typedef struct problem {
  npy in[INPUTS];
  int64_t b, n, k, d;
} problem;

/* Reads the inputs and checks their shapes against each other. 0 or 2. */
static int load_problem(const args *a, problem *p) {
  for (int f = 0; f < INPUTS; f++)
    if (npy_read(a->files[f], &p->in[f])) return 2;
  const npy *x = &p->in[X], *c = &p->in[C], *l = &p->in[LABELS];
  int three = x->ndim == 3;
  p->b = three ? x->shape[0] : 1, p->n = x->shape[three], p->d = x->shape[three + 1];
  p->k = c->shape[c->ndim - 2];
  int ok = (x->ndim == 2 || three) && c->ndim == x->ndim && c->shape[c->ndim - 1] == p->d &&
           strcmp(x->descr, "<f2") == 0 && strcmp(c->descr, "<f2") == 0 &&
           strcmp(l->descr, "<i4") == 0 && l->bytes == (size_t)(p->b * p->n) * 4;
  if (!ok) return fail("shapes: want x [B][N][D] fp16, c [B][K][D] fp16, labels [B][N] int32");
  printf("- shape: B=%lld N=%lld K=%lld D=%lld fp16; x_sq %s, c_sq %s\n", (long long)p->b,
         (long long)p->n, (long long)p->k, (long long)p->d, p->in[XSQ].descr, p->in[CSQ].descr);
  return 0;
}

/* ---- the Triton launch through fkm ---------------------------------------------------------- */
typedef struct device_buffers {
  CUdeviceptr ptr[INPUTS]; /* x, c, x_sq, c_sq, out (labels' size) */
} device_buffers;

static int upload(const problem *p, device_buffers *db) {
  for (int f = 0; f < INPUTS; f++) {
    if (cu_check(cu.cuMemAlloc(&db->ptr[f], p->in[f].bytes), "cuMemAlloc")) return 2;
    if (f != LABELS && cu_check(cu.cuMemcpyHtoD(db->ptr[f], p->in[f].data, p->in[f].bytes),
                                "cuMemcpyHtoD"))
      return 2;
  }
  return 0;
}

/* One launch of the Triton kernel through fkm into out (poisoned to -1 first), read back. */
static int launch_triton(fkm_ctx *ctx, const args *a, const found *f, const problem *p,
                         const device_buffers *db, int32_t *labels) {
  void *params[USER_PARAMS];
  for (int i = 0; i < USER_PARAMS; i++) params[i] = (void *)&db->ptr[i];
  size_t count = (size_t)(p->b * p->n);
  if (cu_check(cu.cuMemsetD32(db->ptr[LABELS], 0xffffffffu, count), "cuMemsetD32")) return 2;
  fkm_status s = fkm_triton_launch(ctx, f->dir, a->name, a->device, a->grid, params, USER_PARAMS, NULL);
  if (s != FKM_OK)
    return fprintf(stderr, "triton_proof: fkm_triton_launch: %s: %s\n", fkm_status_name(s),
                   fkm_ctx_last_error(ctx)), 2;
  if (cu_check(cu.cuCtxSynchronize(), "cuCtxSynchronize (after the Triton kernel)")) return 2;
  return cu_check(cu.cuMemcpyDtoH(labels, db->ptr[LABELS], count * 4), "cuMemcpyDtoH");
}

/* ---- fkm's own engines ---------------------------------------------------------------------- */
static float half_to_float(uint16_t h) {
  int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float v = exp == 0    ? ldexpf((float)man, -24)
            : exp == 31 ? (man ? NAN : INFINITY)
                        : ldexpf((float)(man | 0x400), exp - 25);
  return h >> 15 ? -v : v;
}

static float *to_float(const npy *a) {
  size_t count = a->bytes / 2;
  float *out = malloc(count * sizeof *out);
  for (size_t i = 0; out && i < count; i++) out[i] = half_to_float(((const uint16_t *)a->data)[i]);
  return out;
}

static int fkm_labels(fkm_ctx *ctx, const problem *p, const float *centroids, fkm_engine engine,
                      int device, int32_t *labels) {
  fkm_points pts = {p->in[X].data, FKM_DTYPE_FP16, p->b, p->n, p->d};
  fkm_options o;
  fkm_options_init(&o);
  o.k = p->k, o.dtype = FKM_DTYPE_FP16, o.engine = engine, o.device = device;
  fkm_status s = fkm_predict(ctx, &pts, centroids, &o, labels, NULL);
  if (s != FKM_OK)
    return fprintf(stderr, "triton_proof: fkm_predict (%s): %s: %s\n",
                   engine == FKM_ENGINE_GPU ? "GPU" : "CPU", fkm_status_name(s),
                   fkm_ctx_last_error(ctx)), 2;
  return 0;
}

/* ---- comparison ----------------------------------------------------------------------------- */
typedef struct tally {
  int64_t same, near_ties, real;
} tally;

/* Exact squared distance of point i (global row, batch b) to centroid j of batch b, in fp64. */
static double distance(const problem *p, const float *x, const float *c, int64_t i, int64_t b,
                       int64_t j) {
  const float *xi = x + i * p->d, *cj = c + (b * p->k + j) * p->d;
  double s = 0;
  for (int64_t e = 0; e < p->d; e++) s += ((double)xi[e] - cj[e]) * ((double)xi[e] - cj[e]);
  return s;
}

/* Whether label u and v of point i are both within NEAR_TIE relative of the exact best. */
static int near_tie(const problem *p, const float *x, const float *c, int64_t i, int32_t u,
                    int32_t v) {
  int64_t b = i / p->n;
  if (u < 0 || v < 0 || u >= p->k || v >= p->k) return 0;
  double best = INFINITY;
  for (int64_t j = 0; j < p->k; j++) best = fmin(best, distance(p, x, c, i, b, j));
  double slack = NEAR_TIE * fmax(best, 1e-12);
  return distance(p, x, c, i, b, u) - best <= slack && distance(p, x, c, i, b, v) - best <= slack;
}

static tally compare(const problem *p, const float *x, const float *c, const int32_t *a,
                     const int32_t *b, int ties_allowed) {
  tally t = {0, 0, 0};
  for (int64_t i = 0; i < p->b * p->n; i++) {
    if (a[i] == b[i]) t.same++;
    else if (ties_allowed && near_tie(p, x, c, i, a[i], b[i])) t.near_ties++;
    else t.real++;
  }
  return t;
}

static void print_row(const char *what, tally t, int ties_allowed) {
  char ties[32];
  snprintf(ties, sizeof ties, ties_allowed ? "%lld" : "not allowed", (long long)t.near_ties);
  printf("| %s | %lld | %lld | %s | %lld |\n", what, (long long)(t.same + t.near_ties + t.real),
         (long long)t.same, ties, (long long)t.real);
}

/* ---- main ----------------------------------------------------------------------------------- */
typedef struct outputs {
  int32_t *triton, *again, *gpu, *cpu;
} outputs;

static int run_all(fkm_ctx *ctx, const args *a, const found *f, const problem *p, outputs *o,
                   const float *centroids) {
  device_buffers db = {{0}};
  int rc = upload(p, &db);
  if (!rc) rc = launch_triton(ctx, a, f, p, &db, o->triton);
  if (!rc) rc = launch_triton(ctx, a, f, p, &db, o->again);
  for (int i = 0; i < INPUTS; i++)
    if (db.ptr[i]) cu.cuMemFree(db.ptr[i]);
  if (!rc) rc = fkm_labels(ctx, p, centroids, FKM_ENGINE_GPU, a->device, o->gpu);
  if (!rc) rc = fkm_labels(ctx, p, centroids, FKM_ENGINE_CPU, a->device, o->cpu);
  return rc;
}

static int report(const problem *p, const outputs *o, const float *x, const float *c) {
  const int32_t *flash = p->in[LABELS].data;
  tally t[4] = {compare(p, x, c, o->triton, flash, 0), compare(p, x, c, o->triton, o->again, 0),
                compare(p, x, c, o->triton, o->gpu, 1), compare(p, x, c, o->triton, o->cpu, 1)};
  printf("\n| labels of the Triton cubin launched by fkm vs | points | identical | near-ties (both "
         "within %.0e relative of the fp64 best) | real mismatches |\n|---|---|---|---|---|\n",
         NEAR_TIE);
  print_row("flash-kmeans in Python (same cubin via Triton's launcher)", t[0], 0);
  print_row("a second launch through fkm (module reused)", t[1], 0);
  print_row("fkm GPU engine, fkm_predict", t[2], 1);
  print_row("fkm CPU engine, fkm_predict", t[3], 1);
  int bad = t[0].real || t[1].real || t[2].real || t[3].real;
  printf("\n**%s**\n", bad ? "FAIL: real mismatches" : "PASS");
  return bad;
}

int main(int argc, char **argv) {
  bench_program = "triton_proof";
  args a;
  found f;
  problem p = {0};
  fkm_ctx *ctx;
  CUdevice dev;
  CUcontext context = NULL;
  if (parse(argc, argv, &a) || fkm_ctx_create(&ctx) != FKM_OK) return 2;
  int rc = find_kernel(ctx, &a, &f);
  if (!rc) rc = load_problem(&a, &p);
  if (!rc) rc = driver_open(a.device, &dev, &context);
  if (!rc) printf("- grid: (%u, %u, %u)\n", a.grid[0], a.grid[1], a.grid[2]);
  size_t count = (size_t)(p.b * p.n);
  outputs o = {malloc(count * 4), malloc(count * 4), malloc(count * 4), malloc(count * 4)};
  float *x = rc ? NULL : to_float(&p.in[X]), *c = rc ? NULL : to_float(&p.in[C]);
  if (!rc && (!o.triton || !o.again || !o.gpu || !o.cpu || !x || !c)) rc = fail("out of host memory");
  if (!rc) rc = run_all(ctx, &a, &f, &p, &o, c);
  if (!rc) rc = report(&p, &o, x, c);
  fkm_ctx_free(ctx);
  if (context) cu.cuDevicePrimaryCtxRelease(dev);
  free(x), free(c), free(o.triton), free(o.again), free(o.gpu), free(o.cpu);
  for (int i = 0; i < INPUTS; i++) free(p.in[i].data);
  return rc;
}
