/* Element types: sizes, names and host conversions (round to nearest even). */
#include "internal.h"

#include <math.h>
#include <string.h>

size_t fkm__dtype_size(fkm_dtype t) {
  switch (t) {
    case FKM_DTYPE_FP16:
    case FKM_DTYPE_BF16:
      return 2;
    case FKM_DTYPE_FP32:
      return 4;
    case FKM_DTYPE_FP64:
      return 8;
    default:
      return 0;
  }
}

const char *fkm__dtype_name(fkm_dtype t) {
  static const char *const names[] = {"auto", "fp16", "bf16", "fp32", "fp64"};
  return (unsigned)t < 5 ? names[t] : "?";
}

const char *fkm__metric_name(fkm_metric m) {
  static const char *const names[] = {"l2", "cosine", "dot"};
  return (unsigned)m < 3 ? names[m] : "?";
}

static uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

float fkm__half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));
  if (exp == 0) return (sign ? -1.0f : 1.0f) * ldexpf((float)man, -24);
  return bits_float(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t fkm__float_to_half(float f) {
  uint32_t u = float_bits(f), sign = (u >> 16) & 0x8000u;
  float a = fabsf(f);
  if (isnan(f)) return (uint16_t)(sign | 0x7e00u);
  if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00u);
  if (a < 6.103515625e-05f) { /* subnormal half: multiples of 2^-24 */
    return (uint16_t)(sign | (uint32_t)nearbyintf(a * 16777216.0f));
  }
  uint32_t au = float_bits(a);
  uint32_t rounded = au + 0xfffu + ((au >> 13) & 1u); /* round to nearest even at bit 13 */
  return (uint16_t)(sign | (((rounded >> 13) - (112u << 10)) & 0x7fffu));
}

float fkm__bf16_to_float(uint16_t h) { return bits_float((uint32_t)h << 16); }

uint16_t fkm__float_to_bf16(float f) {
  uint32_t u = float_bits(f);
  if (isnan(f)) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

double fkm__load_element(const void *data, fkm_dtype t, size_t i) {
  switch (t) {
    case FKM_DTYPE_FP16:
      return fkm__half_to_float(((const uint16_t *)data)[i]);
    case FKM_DTYPE_BF16:
      return fkm__bf16_to_float(((const uint16_t *)data)[i]);
    case FKM_DTYPE_FP32:
      return ((const float *)data)[i];
    case FKM_DTYPE_FP64:
      return ((const double *)data)[i];
    default:
      return 0.0;
  }
}

/* x rounded toward zero to fp32 with the lowest bit set when inexact (round-to-odd): rounding that
 * to fp16/bf16 then equals rounding x directly. */
static float round_to_odd_float(double x) {
  float f = (float)x;
  if (fabs((double)f) > fabs(x)) f = nextafterf(f, 0.0f);
  if ((double)f != x) f = bits_float(float_bits(f) | 1u);
  return f;
}

double fkm__round_to_dtype(double x, fkm_dtype t) {
  switch (t) {
    case FKM_DTYPE_FP16:
      return fkm__half_to_float(fkm__float_to_half(round_to_odd_float(x)));
    case FKM_DTYPE_BF16:
      return fkm__bf16_to_float(fkm__float_to_bf16(round_to_odd_float(x)));
    case FKM_DTYPE_FP32:
      return (float)x;
    default:
      return x;
  }
}

fkm_dtype fkm__compute_dtype(const fkm_points *p, const fkm_options *o, int gpu) {
  fkm_dtype t = o->dtype == FKM_DTYPE_AUTO ? p->dtype : o->dtype;
  return gpu && t == FKM_DTYPE_FP64 ? FKM_DTYPE_FP32 : t;
}
