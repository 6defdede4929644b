/* Triton compatibility (SPEC §4): shipped flash-kmeans tables, tuning records in Triton's vocabulary
 * with import/export of Triton autotune records, and a read-only reader of Triton cache
 * directories. Plain C over Jansson and the cache's file helpers: never cuda.h, never codegen. */
#ifndef FKM_TUNING_H
#define FKM_TUNING_H

#include <jansson.h>
#include <stddef.h>

#include "cache.h"

/* ---- shipped tables (table_lookup.c): cache/tables/flash_kmeans_tables.json ----------------- */
/* The assign configuration flash-kmeans' per-GPU tables give for N points, K centroids of dimension
 * D and compute dtype (FP16/BF16 and AUTO are its "half" regime, FP32/FP64 its wide one). The GPU
 * family is the first of H200, H100, A100, GB10 found in the upper-cased device name. Small D
 * (≤ 512) gives BLOCK_D = 0 (the whole padded row in one tile), larger D the split-D table's
 * BLOCK_D. Values are the tables' own, before flash-kmeans' shared-memory fitting. num_ctas = 1.
 * Returns 1 and fills *out, or 0 (other GPU, or an unreadable table) leaving *out untouched. */
int fkm__table_lookup(const char *device_name, long long n, long long k, long long d,
                      fkm_dtype dtype, fkm_config *out);

#endif
