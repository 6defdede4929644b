/* A rank of a multi-GPU fit: its NCCL communicator and the collectives the GPU engine runs on it
 * (comm.c). */
#ifndef FKM_COMM_H
#define FKM_COMM_H

#include "cuda_api.h"
#include "nccl_api.h"

struct fkm_comm {
  const fkm__nccl_api *nc;
  fkm__nccl_comm_t nccl;  /* owned */
  int rank, size, device;
  const fkm__cuda_api *cu;
  CUdevice dev;
  CUcontext context;      /* the device's primary context, retained by the comm */
  CUdeviceptr scratch;    /* owned: scratch_bytes of device memory for host-value collectives */
  size_t scratch_bytes;
};

/* Wraps an initialised NCCL communicator of rank/size on device into *out (owned by the caller):
 * retains the device's primary context (made current). Destroys nccl on failure. */
fkm_status fkm__comm_wrap(fkm_ctx *ctx, const fkm__nccl_api *nc, fkm__nccl_comm_t nccl, int device,
                          int size, int rank, fkm_comm **out);

/* all [size][count] (rank order) = every rank's mine [count], on stream through the comm's device
 * scratch (grown as needed); returns once all is written. `what` names the values in errors. */
fkm_status fkm__comm_allgather_i64(fkm_ctx *ctx, fkm_comm *c, const int64_t *mine, size_t count,
                                   int64_t *all, CUstream stream, const char *what);

/* The random init's picks of batch b over the global points of `size` ranks holding positive [size]
 * points of positive weight each (all their points without weights): the picks rank `rank` holds
 * as indices into its points (its weights w [n], NULL: none) in pick [k], owned [k] = 1; 0 (and
 * pick 0) for the picks other ranks hold. The picks are the one-GPU fit's (fkm__random_init_indices
 * over Σ positive, mapped to points). FKM_ERR_NOMEM (no detail) or FKM_OK. Pure. */
fkm_status fkm__dist_own_picks(uint64_t seed, int64_t b, int64_t k, const int64_t *positive,
                               int size, int rank, const float *w, int64_t n, int64_t *pick,
                               unsigned char *owned);

/* Shard of rank r of g over n points (g ≤ ⌈n / 512⌉): [*first, *first + *count), whole 512-point
 * spans but the last rank's, span counts differing by at most one, in rank order. Pure. */
void fkm__span_shard(int64_t n, int g, int r, int64_t *first, int64_t *count);

/* Launcher rank and size from the environment (fkm_comm_from_env's list of variables): 1 when
 * found (both set, 0 ≤ rank < size), 0 when none is set (rank 0 of 1), -1 when a variable is
 * malformed or out of range (*why names it). Pure: reads getenv only. */
int fkm__launcher_rank(int *rank, int *size, char *why, size_t len);

#endif
