/* Triton kernel metadata (<hash>/<name>.json) and what of it fkm can launch. */
#include <stdio.h>
#include <string.h>

#include "tuning.h"

static long long int_or(const json_t *j, const char *key, long long dflt) {
  const json_t *v = json_object_get(j, key);
  return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int flag(const json_t *j, const char *key) { return json_is_true(json_object_get(j, key)); }

/* cluster_dims [x, y, z] (absent: 1, 1, 1). NULL or what is wrong. */
static const char *read_cluster(const json_t *j, int dims[3]) {
  const json_t *c = json_object_get(j, "cluster_dims");
  dims[0] = dims[1] = dims[2] = 1;
  if (!c) return NULL;
  if (!json_is_array(c) || json_array_size(c) != 3) return "cluster_dims is not a list of three";
  for (int i = 0; i < 3; i++) dims[i] = (int)json_integer_value(json_array_get(c, (size_t)i));
  return NULL;
}

/* target{backend, arch, warp_size}; a non-integer arch (HIP's "gfx942") reads as 0. */
static const char *read_target(const json_t *j, fkm__triton_meta *m) {
  const json_t *t = json_object_get(j, "target");
  const char *backend = json_string_value(json_object_get(t, "backend"));
  const json_t *arch = json_object_get(t, "arch"), *warp = json_object_get(t, "warp_size");
  if (!backend || !arch || !json_is_integer(warp))
    return "target{backend, arch, warp_size} missing or mistyped";
  snprintf(m->backend, sizeof m->backend, "%s", backend);
  m->arch = (int)json_integer_value(arch), m->warp_size = (int)json_integer_value(warp);
  return NULL;
}

const char *fkm__triton_meta_from_json(const json_t *j, fkm__triton_meta *m) {
  const char *name, *hash;
  json_int_t warps, ctas, stages, shared;
  memset(m, 0, sizeof *m);
  if (json_unpack((json_t *)j, "{s:s, s:s, s:I, s:I, s:I, s:I}", "name", &name, "hash", &hash,
                  "num_warps", &warps, "num_ctas", &ctas, "num_stages", &stages, "shared",
                  &shared) != 0)
    return "name, hash, num_warps, num_ctas, num_stages or shared missing or mistyped";
  if (strlen(name) >= sizeof m->name || strlen(hash) >= sizeof m->hash) return "name or hash too long";
  snprintf(m->name, sizeof m->name, "%s", name);
  snprintf(m->hash, sizeof m->hash, "%s", hash);
  m->num_warps = (int)warps, m->num_ctas = (int)ctas, m->num_stages = (int)stages;
  m->shared = shared;
  m->cooperative = flag(j, "launch_cooperative_grid"), m->pdl = flag(j, "launch_pdl");
  m->global_scratch = int_or(j, "global_scratch_size", 0);
  m->profile_scratch = int_or(j, "profile_scratch_size", 0);
  m->hidden_params = (json_object_get(j, "global_scratch_size") != NULL) +
                     (json_object_get(j, "profile_scratch_size") != NULL);
  const char *bad = read_target(j, m);
  return bad ? bad : read_cluster(j, m->cluster_dims);
}

/* Whether a cubin for Triton's target.arch runs on capability sm. */
static int arch_runs_on(int arch, int sm) {
  if (arch >= 90) return arch == sm;
  return arch / 10 == sm / 10 && arch % 10 <= sm % 10;
}

int fkm__triton_launchable(const fkm__triton_meta *m, int sm, char *why, size_t why_len) {
  const int *c = m->cluster_dims;
  const char *no = NULL;
  char buf[160];
  if (strcmp(m->backend, "cuda") != 0 || m->warp_size != 32) {
    snprintf(buf, sizeof buf, "target %s with %d-wide warps: fkm launches CUDA kernels only",
             m->backend, m->warp_size);
    no = buf;
  } else if (sm && !arch_runs_on(m->arch, sm)) {
    snprintf(buf, sizeof buf, "built for arch %d%s, the device is sm_%d", m->arch,
             m->arch >= 90 ? " (sm_XYa: that capability only)" : "", sm);
    no = buf;
  } else if (m->num_warps < 1 || m->num_warps > 32 || m->shared < 0) {
    no = "num_warps or shared out of range";
  } else if (m->num_ctas > 1 || c[0] * c[1] * c[2] > 1) {
    no = "num_ctas > 1 (thread-block clusters) is not supported by fkm's launcher";
  } else if (m->cooperative) {
    no = "launch_cooperative_grid: cooperative launches are not supported by fkm's launcher";
  } else if (m->pdl) {
    no = "launch_pdl: programmatic dependent launch is not supported by fkm's launcher";
  } else if (m->global_scratch > 0 || m->profile_scratch > 0) {
    no = "needs global or profile scratch memory, which fkm's launcher does not allocate";
  }
  fkm__path(why, why_len, "%s", no ? no : "");
  return no == NULL;
}
