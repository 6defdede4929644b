/* fkm_cache_export: the intact entries and tuning records of the user cache as one bundle file,
 * written atomically. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tuning.h"

typedef struct export_job {
  fkm_ctx *ctx;
  const char *root;
  fkm__bundle_entry *entries; /* meta and size of each intact entry; offset assigned in order */
  size_t count, cap;
  uint64_t total;
  json_t *tuning; /* owned: the intact tuning records, as JSON */
  int nomem;
} export_job;

/* Appends one intact tuning record of the user cache. */
static int collect_tuning(const fkm__tuning_record *r, void *user) {
  export_job *job = user;
  if (json_array_append_new(job->tuning, fkm__tuning_to_json(r)) != 0) job->nomem = 1;
  return job->nomem;
}

/* Collects one entry (damaged ones are logged and left out). */
static int collect(const char *key, void *user) {
  export_job *job = user;
  fkm__bundle_entry e;
  size_t size = 0;
  char why[512];
  fkm__entry_state st = fkm__entry_read(job->root, key, NULL, &size, &e.meta, why, sizeof why);
  if (st != FKM__ENTRY_OK) {
    if (st == FKM__ENTRY_DAMAGED)
      fkm__log(job->ctx, FKM_LOG_WARN, "export: entry %s left out: %s", key, why);
    return 0;
  }
  if (job->count == job->cap) {
    size_t cap = job->cap ? 2 * job->cap : 64;
    fkm__bundle_entry *grown = realloc(job->entries, cap * sizeof *grown);
    if (!grown) return job->nomem = 1;
    job->entries = grown, job->cap = cap;
  }
  e.offset = job->total, e.size = size;
  job->total += size;
  job->entries[job->count++] = e;
  return 0;
}

static json_t *manifest_json(const export_job *job) {
  json_t *kernels = json_array();
  for (size_t i = 0; kernels && i < job->count; i++) {
    const fkm__bundle_entry *e = &job->entries[i];
    json_t *k = json_pack("{s:s, s:I, s:I, s:s, s:o}", "key", e->meta.hash, "offset",
                          (json_int_t)e->offset, "size", (json_int_t)e->size, "payload_xxh3",
                          e->meta.payload_xxh3, "metadata", fkm__meta_to_json(&e->meta));
    if (json_array_append_new(kernels, k) != 0) {
      json_decref(kernels);
      return NULL;
    }
  }
  return json_pack("{s:s, s:i, s:s, s:o, s:O}", "format", "fkm-bundle", "schema_version",
                   FKM__CACHE_SCHEMA, "fkm_version", fkm_version_string(), "kernels", kernels,
                   "tuning", job->tuning);
}

static int write_header(fkm__tmp_file *t, const char *manifest) {
  unsigned char head[16];
  uint64_t len = strlen(manifest);
  memcpy(head, FKM__BUNDLE_MAGIC, 8);
  for (int i = 0; i < 8; i++) head[8 + i] = (unsigned char)(len >> (8 * i));
  int err = fkm__tmp_write(t, head, sizeof head);
  return err ? err : fkm__tmp_write(t, manifest, len);
}

/* Appends every collected cubin, re-read and checked against the hash in the manifest. */
static fkm_status write_payloads(const export_job *job, fkm__tmp_file *t) {
  char why[512];
  for (size_t i = 0; i < job->count; i++) {
    const fkm__bundle_entry *e = &job->entries[i];
    void *cubin = NULL;
    size_t size = 0;
    fkm__kernel_meta now;
    if (fkm__entry_read(job->root, e->meta.hash, &cubin, &size, &now, why, sizeof why) != FKM__ENTRY_OK ||
        strcmp(now.payload_xxh3, e->meta.payload_xxh3) != 0) {
      free(cubin);
      return fkm__error(job->ctx, FKM_ERR_IO, "export: entry %s changed during the export; retry",
                        e->meta.hash);
    }
    int err = fkm__tmp_write(t, cubin, size);
    free(cubin);
    if (err) return fkm__error(job->ctx, FKM_ERR_IO, "export: writing the bundle: %s", strerror(err));
  }
  return FKM_OK;
}

static fkm_status write_bundle(export_job *job, const char *path) {
  json_t *m = manifest_json(job);
  char *text = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(m);
  if (!text) return fkm__error(job->ctx, FKM_ERR_NOMEM, "export: out of memory for the manifest");
  fkm__tmp_file t;
  int err = fkm__tmp_open(&t, path);
  if (!err) err = write_header(&t, text);
  free(text);
  if (err) {
    if (t.fd >= 0) fkm__tmp_abort(&t);
    return fkm__error(job->ctx, FKM_ERR_IO, "export: cannot write %s: %s", path, strerror(err));
  }
  fkm_status st = write_payloads(job, &t);
  if (st != FKM_OK) {
    fkm__tmp_abort(&t);
    return st;
  }
  err = fkm__tmp_commit(&t);
  return err ? fkm__error(job->ctx, FKM_ERR_IO, "export: cannot write %s: %s", path, strerror(err))
             : FKM_OK;
}

fkm_status fkm_cache_export(fkm_ctx *ctx, const char *bundle_path) {
  char root[FKM__PATH_MAX];
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!bundle_path || !bundle_path[0])
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "export: no bundle path");
  struct stat dir;
  if (stat(bundle_path, &dir) == 0 && S_ISDIR(dir.st_mode))
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "export: %s is a directory", bundle_path);
  if (!fkm__cache_user_root(root, sizeof root))
    return fkm__error(ctx, FKM_ERR_UNSUPPORTED, "export: the disk cache is disabled");
  export_job job = {ctx, root, NULL, 0, 0, 0, json_array(), 0};
  int err = job.tuning ? fkm__cache_scan(root, collect, &job) : 0;
  if (!err && job.tuning) err = fkm__tuning_scan(root, collect_tuning, &job);
  job.nomem |= !job.tuning;
  fkm_status st = FKM_OK;
  if (job.nomem)
    st = fkm__error(ctx, FKM_ERR_NOMEM, "export: out of memory");
  else if (err)
    st = fkm__error(ctx, FKM_ERR_IO, "export: cannot read the cache %s: %s", root, strerror(err));
  else
    st = write_bundle(&job, bundle_path);
  if (st == FKM_OK)
    fkm__log(ctx, FKM_LOG_INFO,
             "exported %zu kernels (%llu bytes of cubins) and %zu tuning records to %s", job.count,
             (unsigned long long)job.total, json_array_size(job.tuning), bundle_path);
  free(job.entries);
  json_decref(job.tuning);
  return st;
}
