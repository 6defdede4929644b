/* Kernel spec construction, validation against the target, hashing and naming. */
#include "spec.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

fkm__kernel_spec fkm__spec_make(fkm__kernel_kind kind, fkm_metric metric, fkm_dtype dtype,
                                fkm_precision precision, int d, int sm) {
  fkm__kernel_spec s;
  memset(&s, 0, sizeof s);
  s.kind = kind;
  s.metric = metric;
  s.dtype = dtype;
  s.precision = precision;
  s.d = d;
  s.sm = sm;
  return s;
}

int fkm__spec_split_tf32(const fkm__kernel_spec *s) {
  return s->dtype == FKM_DTYPE_FP32 && s->precision == FKM_PRECISION_DEFAULT;
}

int fkm__segment_rows(fkm_dtype dtype, int d) {
  int row = fkm__padded_d(d) * (dtype == FKM_DTYPE_FP32 ? 4 : 2), rows = 2048;
  while (rows > 512 && (size_t)rows * (size_t)row > 512 * 1024) rows /= 2;
  return rows;
}

int fkm__spec_uses_wgmma(const fkm__kernel_spec *s) { return s->sm == 90 && s->arch_specific; }

size_t fkm__sm_shared_limit(int sm) {
  switch (sm) {
    case 80:
    case 87:
      return 163 * 1024;
    case 90:
    case 100:
    case 103:
      return 227 * 1024;
    default: /* sm_86, sm_89, sm_120 and unknown: the consumer parts' limit */
      return 99 * 1024;
  }
}

static int is_pow2_in(int v, int lo, int hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

static fkm_status reject(char *why, size_t len, const char *reason) {
  if (why && len) snprintf(why, len, "%s", reason);
  return FKM_ERR_REJECTED;
}

/* Warp grid for the mma tile: the most square warp tile that divides into 16×8 fragments. */
static int pick_warps_m(const fkm__kernel_spec *s) {
  int best = 0;
  double best_score = 1e30;
  for (int wm = 1; wm <= s->num_warps; wm *= 2) {
    int wn = s->num_warps / wm;
    if (s->block_n % (16 * wm) || s->block_k % (8 * wn)) continue;
    double ratio = (double)(s->block_n / wm) / (double)(s->block_k / wn);
    double score = ratio > 1 ? ratio : 1 / ratio;
    if (score <= best_score) best = wm, best_score = score;
  }
  return best;
}

static fkm_status layout_mma(const fkm__kernel_spec *s, fkm__spec_layout *l, char *why,
                             size_t len) {
  l->warps_m = pick_warps_m(s);
  if (!l->warps_m) return reject(why, len, "no warp grid splits BLOCK_N×BLOCK_K into 16×8 MMA tiles");
  l->warps_n = s->num_warps / l->warps_m;
  int mf = s->block_n / l->warps_m / 16, nf = s->block_k / l->warps_n / 8;
  size_t esize = s->dtype == FKM_DTYPE_FP32 ? 4 : 2;
  size_t row = (size_t)l->chunk * esize + 16; /* bytes: 16-byte pad keeps ldmatrix conflict-free */
  size_t x_tiles = l->d_chunks == 1 ? 1 : (size_t)s->num_stages;
  l->shared = row * ((size_t)s->block_k * s->num_stages + (size_t)s->block_n * x_tiles) +
              (size_t)s->block_n * l->warps_n * 8;
  int split = fkm__spec_split_tf32(s) ? 2 : 1;
  l->regs_estimate = mf * nf * 4 + split * (mf * 4 + nf * 2) + mf * 4 + 24;
  return FKM_OK;
}

/* 3×TF32 on warpgroup MMAs: each warpgroup keeps one m64 tile of a D chunk of points as TF32 hi
 * and lo fragments in registers (chunk of them a thread; with several chunks, half as many more
 * for the next step's values), so only the centroid stages, each a hi and a lo tile, take shared
 * memory. */
static fkm_status layout_wgmma_split(const fkm__kernel_spec *s, fkm__spec_layout *l, char *why,
                                     size_t len) {
  if (s->block_n != 64 * l->warps_m)
    return reject(why, len, "3xTF32 wgmma kernel: BLOCK_N must be 64 per warpgroup");
  if (s->num_ctas > 1) return reject(why, len, "3xTF32 wgmma kernel: no clusters");
  l->split = 1;
  l->shared = 2 * (size_t)l->chunk * 4 * s->block_k * s->num_stages + 1024;
  l->regs_estimate = s->block_k / 2 + l->chunk + (l->d_chunks > 1 ? l->chunk / 2 : 0) + 44;
  return FKM_OK;
}

/* Warpgroups of 4 warps each own BLOCK_N / 64 / warpgroups m64 tiles and all BLOCK_K columns. */
static fkm_status layout_wgmma(const fkm__kernel_spec *s, fkm__spec_layout *l, char *why,
                               size_t len) {
  int groups = s->num_warps / 4;
  if (groups < 1 || groups > 2)
    return reject(why, len, "wgmma kernel: num_warps must be 4 or 8 (one or two warpgroups)");
  if (s->block_n % (64 * groups))
    return reject(why, len, "wgmma kernel: BLOCK_N must be a multiple of 64 per warpgroup");
  if (s->block_k < 16) return reject(why, len, "wgmma kernel: BLOCK_K must be at least 16");
  size_t esize = s->dtype == FKM_DTYPE_FP32 ? 4 : 2;
  if ((size_t)l->chunk * esize % 128)
    return reject(why, len, "wgmma kernel: D chunk rows must be multiples of 128 bytes (swizzle)");
  int wg_m = s->block_n / 64 / groups;
  l->warps_m = groups, l->warps_n = 1;
  if (fkm__spec_split_tf32(s)) return layout_wgmma_split(s, l, why, len);
  size_t x_tiles = l->d_chunks == 1 ? 1 : (size_t)s->num_stages;
  l->shared = (size_t)l->chunk * esize * ((size_t)s->block_k * s->num_stages + (size_t)s->block_n * x_tiles) +
              1024; /* slack to align the tiles to the 1024-byte swizzle atom */
  if (s->num_ctas > 1) {
    if ((s->num_ctas != 2 && s->num_ctas != 4) || l->d_chunks != 1)
      return reject(why, len, "clusters: num_ctas must be 2 or 4, with the whole row in one D chunk");
    l->threads += 32;          /* the copy warp */
    l->cluster = s->num_ctas;  /* its stages' barriers fit in the alignment slack */
  }
  l->regs_estimate = wg_m * s->block_k / 2 + wg_m * 4 + 40;
  return FKM_OK;
}

static fkm_status validate_assign(const fkm__kernel_spec *s, fkm__spec_layout *l, char *why,
                                  size_t len) {
  if (!is_pow2_in(s->block_n, 16, 256)) return reject(why, len, "BLOCK_N must be a power of two in [16, 256]");
  if (!is_pow2_in(s->block_k, 8, 256)) return reject(why, len, "BLOCK_K must be a power of two in [8, 256]");
  if (!is_pow2_in(s->block_d, 16, 256)) return reject(why, len, "BLOCK_D must be a power of two in [16, 256]");
  if (!is_pow2_in(s->num_warps, 1, 16)) return reject(why, len, "num_warps must be 1, 2, 4, 8 or 16");
  if (s->num_stages < 1 || s->num_stages > 6) return reject(why, len, "num_stages must be in [1, 6]");
  int dp = fkm__padded_d(s->d);
  if (s->num_ctas > 1 && !fkm__spec_uses_wgmma(s))
    return reject(why, len, "num_ctas > 1 needs the sm_90a warpgroup kernel");
  l->threads = 32 * s->num_warps;
  l->block_n_rows = s->block_n;
  l->chunk = s->block_d < dp ? s->block_d : dp;
  l->d_chunks = (dp + l->chunk - 1) / l->chunk;
  fkm_status st = fkm__spec_uses_wgmma(s) ? layout_wgmma(s, l, why, len) : layout_mma(s, l, why, len);
  if (st != FKM_OK) return st;
  if (l->shared > fkm__sm_shared_limit(s->sm)) {
    char buf[160];
    snprintf(buf, sizeof buf, "needs %zu bytes of shared memory, sm_%d allows %zu", l->shared,
             s->sm, fkm__sm_shared_limit(s->sm));
    return reject(why, len, buf);
  }
  l->alone = l->shared > fkm__two_blocks_shared(fkm__sm_shared_limit(s->sm) + FKM__SHARED_RESERVED,
                                                 FKM__SHARED_RESERVED);
  if (l->regs_estimate > 232) {
    char buf[160];
    snprintf(buf, sizeof buf, "needs about %d registers per thread (limit 232 of 255)",
             l->regs_estimate);
    return reject(why, len, buf);
  }
  return FKM_OK;
}

fkm_status fkm__spec_validate(const fkm__kernel_spec *s, fkm__spec_layout *layout, char *why,
                              size_t len) {
  fkm__spec_layout scratch;
  fkm__spec_layout *l = layout ? layout : &scratch;
  memset(l, 0, sizeof *l);
  l->cluster = 1;
  if ((unsigned)s->kind >= FKM__KIND_COUNT) return reject(why, len, "unknown kernel kind");
  if ((unsigned)s->metric > FKM_METRIC_DOT) return reject(why, len, "unknown metric");
  if (s->dtype != FKM_DTYPE_FP16 && s->dtype != FKM_DTYPE_BF16 && s->dtype != FKM_DTYPE_FP32)
    return reject(why, len, "the GPU kernels compute in fp16, bf16 or fp32");
  if ((unsigned)s->precision > FKM_PRECISION_TF32) return reject(why, len, "unknown precision");
  if (s->precision == FKM_PRECISION_TF32 && s->dtype != FKM_DTYPE_FP32)
    return reject(why, len, "tf32 precision applies to fp32 only");
  if (s->d < 1 || s->d > FKM__MAX_GPU_D) return reject(why, len, "D must be in [1, 12288] on the GPU");
  if (s->sm < 80) return reject(why, len, "the GPU kernels need sm_80 or newer");
  if (s->arch_specific && s->sm != 90 && s->sm != 100)
    return reject(why, len, "arch-specific targets exist for sm_90a and sm_100a only");
  if (s->kind == FKM_KIND_ASSIGN) return validate_assign(s, l, why, len);
  if (s->block_n || s->block_k || s->block_d || s->num_warps || s->num_stages || s->num_ctas)
    return reject(why, len, "tile parameters apply to the assign kernel only");
  l->threads = 256;
  return FKM_OK;
}

static size_t encode(const fkm__kernel_spec *s, char *out, size_t len) {
  int n = snprintf(out, len,
                   "fkm-spec-v1;kind=%d;metric=%d;dtype=%d;precision=%d;d=%d;BLOCK_N=%d;BLOCK_K=%d;"
                   "BLOCK_D=%d;num_warps=%d;num_stages=%d;sm=%d;a=%d",
                   (int)s->kind, (int)s->metric, (int)s->dtype, (int)s->precision, s->d,
                   s->block_n, s->block_k, s->block_d, s->num_warps, s->num_stages, s->sm,
                   s->arch_specific);
  if (s->num_ctas > 1 && (size_t)n < len) /* absent for 1: the keys of earlier caches hold */
    n += snprintf(out + n, len - (size_t)n, ";ctas=%d", s->num_ctas);
  return (size_t)n < len ? (size_t)n : len - 1;
}

uint64_t fkm__spec_hash(const fkm__kernel_spec *s) {
  char buf[256];
  size_t n = encode(s, buf, sizeof buf);
  return XXH3_64bits(buf, n);
}

void fkm__spec_id(const fkm__kernel_spec *s, char out[18]) {
  snprintf(out, 18, "h%016llx", (unsigned long long)fkm__spec_hash(s));
}

void fkm__spec_describe(const fkm__kernel_spec *s, char *out, size_t len) {
  static const char *const kinds[] = {"assign", "norms", "update", "finalize", "seed"};
  char ctas[24] = "";
  if (s->num_ctas > 1) snprintf(ctas, sizeof ctas, " num_ctas=%d", s->num_ctas);
  snprintf(out, len,
           "%s %s %s D=%d BLOCK_N=%d BLOCK_K=%d BLOCK_D=%d num_warps=%d num_stages=%d%s sm_%d%s",
           (unsigned)s->kind < FKM__KIND_COUNT ? kinds[s->kind] : "?", fkm__metric_name(s->metric),
           fkm__dtype_name(s->dtype), s->d, s->block_n, s->block_k, s->block_d, s->num_warps,
           s->num_stages, ctas, s->sm, s->arch_specific ? "a" : "");
}
