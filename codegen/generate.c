/* Spec → CUDA C: a #define prelude for the compile-time constants, then the embedded templates. */
#include "generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  const char *text;
} fkm__template;
extern const fkm__template fkm__templates[]; /* generated/fkm_templates.c, NULL-terminated */

static const char *template_text(const char *name) {
  for (const fkm__template *t = fkm__templates; t->name; t++)
    if (strcmp(t->name, name) == 0) return t->text;
  return NULL;
}

static const char *kind_template(const fkm__kernel_spec *s) {
  switch (s->kind) {
    case FKM_KIND_ASSIGN:
      return fkm__spec_uses_wgmma(s) ? "assign_wgmma.cu" : "assign_mma.cu";
    case FKM_KIND_NORMS:
      return "norms.cu";
    case FKM_KIND_UPDATE:
      return "update.cu";
    case FKM_KIND_SEED:
      return "seed.cu";
    default:
      return "finalize.cu";
  }
}

static int dtype_code(fkm_dtype t) { return t == FKM_DTYPE_FP16 ? 1 : t == FKM_DTYPE_BF16 ? 2 : 3; }

static int write_prelude(char *out, size_t len, const fkm__kernel_spec *s,
                         const fkm__spec_layout *l) {
  char id[18], desc[256];
  fkm__spec_id(s, id);
  fkm__spec_describe(s, desc, sizeof desc);
  int n = snprintf(out, len,
                   "/* fkm generated kernel: %s */\n#define FKM_SPEC_ID %s\n#define FKM_METRIC %d\n"
                   "#define FKM_DTYPE %d\n#define FKM_PRECISION %d\n#define FKM_D %d\n"
                   "#define FKM_DP %d\n#define FKM_THREADS %d\n#define FKM_KPAD_ROWS %d\n"
                   "#define FKM_SEGMENT %d\n",
                   desc, id, (int)s->metric, dtype_code(s->dtype), (int)s->precision, s->d,
                   fkm__padded_d(s->d), l->threads, FKM__KPAD_ROWS,
                   fkm__segment_rows(s->dtype, s->d));
  if (s->kind == FKM_KIND_ASSIGN)
    n += snprintf(out + n, len - (size_t)n,
                  "#define FKM_BLOCK_N %d\n#define FKM_BLOCK_K %d\n#define FKM_CHUNK %d\n"
                  "#define FKM_D_CHUNKS %d\n#define FKM_NUM_STAGES %d\n#define FKM_WARPS_M %d\n"
                  "#define FKM_WARPS_N %d\n#define FKM_CTAS %d\n#define FKM_ALONE %d\n",
                  s->block_n, s->block_k, l->chunk, l->d_chunks, s->num_stages, l->warps_m,
                  l->warps_n, l->cluster, l->alone);
  return n;
}

/* fkm_wgmma(d, a, desc_b, accumulate): one m64nBLOCK_Kk16 (k8 for TF32) warpgroup MMA, its
 * BLOCK_K / 2 accumulator registers spelled out (inline PTX needs them as separate operands); a is
 * the descriptor of A in shared memory, or for 3×TF32 (u32 a[4]) A's TF32 fragment in registers.
 * TF32 takes no transpose immediates (its operands are K-major only). */
static int write_wgmma(char *out, size_t len, const fkm__kernel_spec *s) {
  int regs = s->block_k / 2, n = 0, tf32 = s->dtype == FKM_DTYPE_FP32;
  /* operand numbers: d, then a (a descriptor, or 4 registers), then b and accumulate */
  int a_regs = fkm__spec_split_tf32(s), b = regs + (a_regs ? 4 : 1);
  const char *t = tf32 ? "tf32" : s->dtype == FKM_DTYPE_FP16 ? "f16" : "bf16";
  n += snprintf(out + n, len - (size_t)n,
                "__device__ __forceinline__ void fkm_wgmma(float *d, %s,\n"
                "    unsigned long long b, int accumulate) {\n"
                "  asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, %%%d, 0;\\n\"\n"
                "    \"wgmma.mma_async.sync.aligned.m64n%dk%d.f32.%s.%s {",
                a_regs ? "const unsigned *a" : "unsigned long long a", b + 1, s->block_k,
                tf32 ? 8 : 16, t, t);
  for (int i = 0; i < regs; i++) n += snprintf(out + n, len - (size_t)n, "%s%%%d", i ? ", " : "", i);
  if (a_regs)
    n += snprintf(out + n, len - (size_t)n, "}, {%%%d, %%%d, %%%d, %%%d}", regs, regs + 1,
                  regs + 2, regs + 3);
  else
    n += snprintf(out + n, len - (size_t)n, "}, %%%d", regs);
  n += snprintf(out + n, len - (size_t)n, ", %%%d, p, 1, 1%s;\\n}\\n\"\n    : ", b,
                tf32 ? "" : ", 0, 0");
  for (int i = 0; i < regs; i++) n += snprintf(out + n, len - (size_t)n, "%s\"+f\"(d[%d])", i ? ", " : "", i);
  if (a_regs)
    n += snprintf(out + n, len - (size_t)n,
                  "\n    : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3])");
  else
    n += snprintf(out + n, len - (size_t)n, "\n    : \"l\"(a)");
  n += snprintf(out + n, len - (size_t)n, ", \"l\"(b), \"r\"(accumulate));\n}\n");
  return n;
}

fkm_status fkm__generate(fkm_ctx *ctx, const fkm__kernel_spec *s, char **source) {
  fkm__spec_layout l;
  char why[256], desc[256];
  if (fkm__spec_validate(s, &l, why, sizeof why) != FKM_OK) {
    fkm__spec_describe(s, desc, sizeof desc);
    return fkm__error(ctx, FKM_ERR_REJECTED, "kernel %s rejected: %s", desc, why);
  }
  const char *common = template_text("00_common.cu"), *body = template_text(kind_template(s));
  int cp_async = s->kind == FKM_KIND_ASSIGN || s->kind == FKM_KIND_FINALIZE; /* its users */
  const char *copies = cp_async ? template_text("01_cp_async.cu") : "";
  /* a clustered assign kernel: the warpgroup kernel's helpers, then its own entry */
  const char *entry = l.cluster > 1 ? template_text("assign_cluster.cu") : "";
  if (!common || !body || !copies || !entry)
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "kernel template %s is not embedded", kind_template(s));
  char prelude[1024], wrapper[8192] = "";
  int n = write_prelude(prelude, sizeof prelude, s, &l);
  int w = fkm__spec_uses_wgmma(s) && s->kind == FKM_KIND_ASSIGN ? write_wgmma(wrapper, sizeof wrapper, s) : 0;
  size_t total = (size_t)n + strlen(common) + strlen(copies) + (size_t)w + strlen(body) + strlen(entry) + 1;
  *source = malloc(total);
  if (!*source) return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory generating a kernel");
  snprintf(*source, total, "%s%s%s%s%s%s", prelude, common, copies, wrapper, body, entry);
  return FKM_OK;
}

void fkm__entry_name(const fkm__kernel_spec *s, const char *entry, char *out, size_t len) {
  char id[18];
  fkm__spec_id(s, id);
  snprintf(out, len, "%s_%s", entry, id);
}
