/* kernel.json contents of a kernel spec's module. */
#include <stdio.h>
#include <string.h>

#include "kernel_cache.h"

void fkm__kernel_meta_make(const fkm__kernel_spec *s, const char *source, const char *nvrtc_version,
                           fkm__kernel_meta *m) {
  fkm__spec_layout l;
  memset(m, 0, sizeof *m);
  fkm__spec_validate(s, &l, NULL, 0);
  m->entry_count = fkm__source_entries(s, source, m->entries, FKM__META_MAX_ENTRIES);
  if (m->entry_count) memcpy(m->name, m->entries[0].name, sizeof m->name);
  m->num_warps = l.threads / 32;
  m->num_ctas = 1;
  m->num_stages = s->kind == FKM_KIND_ASSIGN ? s->num_stages : 1;
  m->shared = (long long)l.shared;
  m->arch = s->sm;
  m->arch_specific = s->arch_specific;
  snprintf(m->kernel_kind, sizeof m->kernel_kind, "%s", fkm__kind_name(s->kind));
  snprintf(m->metric, sizeof m->metric, "%s", fkm__metric_name(s->metric));
  snprintf(m->dtype, sizeof m->dtype, "%s", fkm__dtype_name(s->dtype));
  snprintf(m->precision, sizeof m->precision, "%s",
           s->precision == FKM_PRECISION_TF32 ? "tf32" : "default");
  m->d = s->d;
  m->block_n = s->block_n, m->block_k = s->block_k, m->block_d = s->block_d;
  snprintf(m->nvrtc_version, sizeof m->nvrtc_version, "%s", nvrtc_version);
  snprintf(m->fkm_version, sizeof m->fkm_version, "%s", fkm_version_string());
}
