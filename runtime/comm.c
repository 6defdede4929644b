/* Communicators of multi-GPU fits: creation (unique id, explicit rank, launcher environment), the
 * status agreement every rank runs before its first collective, and release. */
#include <stdlib.h>
#include <string.h>

#include "comm.h"

fkm_status fkm_comm_id_create(fkm_ctx *ctx, fkm_comm_id *id) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!id) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm id: NULL");
  const fkm__nccl_api *nc = fkm__nccl(ctx);
  if (!nc) return FKM_ERR_NO_NCCL;
  fkm__nccl_id made;
  FKM_NCCL_TRY(ctx, nc, ncclGetUniqueId(&made));
  memcpy(id->bytes, made.internal, sizeof id->bytes);
  return FKM_OK;
}

/* NCCL first (it may still use the context), then the scratch and the context reference. */
static void comm_release(fkm_comm *c) {
  if (c->context) c->cu->cuCtxSetCurrent(c->context);
  if (c->nccl) c->nc->ncclCommDestroy(c->nccl);
  if (c->context) {
    if (c->scratch) c->cu->cuMemFree(c->scratch);
    c->cu->cuDevicePrimaryCtxRelease(c->dev);
  }
  free(c);
}

/* Bytes of scratch every comm holds from the start: a status agreement never allocates, so a rank
 * that ran out of device memory still joins it. */
#define FKM__COMM_SCRATCH 64

/* A comm of rank/size on device owning nccl (NULL: made later), its primary context retained and
 * made current (NCCL joins on the current device), its scratch allocated. On failure nccl is
 * destroyed (before the context goes). */
static fkm_status comm_open(fkm_ctx *ctx, const fkm__nccl_api *nc, fkm__nccl_comm_t nccl,
                            int device, int size, int rank, fkm_comm **out) {
  fkm_comm *c = malloc(sizeof *c);
  if (!c) {
    if (nccl) nc->ncclCommDestroy(nccl);
    return fkm__error(ctx, FKM_ERR_NOMEM, "out of memory for a communicator");
  }
  *c = (fkm_comm){.nc = nc, .nccl = nccl, .rank = rank, .size = size, .device = device};
  fkm_status s = FKM_OK;
  CUresult r = CUDA_SUCCESS;
  if (!(c->cu = fkm__cuda(ctx, &s))) goto fail;
  if ((r = c->cu->cuDeviceGet(&c->dev, device)) != CUDA_SUCCESS) goto fail;
  if ((r = c->cu->cuDevicePrimaryCtxRetain(&c->context, c->dev)) != CUDA_SUCCESS) goto fail;
  if ((r = c->cu->cuCtxSetCurrent(c->context)) != CUDA_SUCCESS) goto fail;
  if ((r = c->cu->cuMemAlloc(&c->scratch, FKM__COMM_SCRATCH)) != CUDA_SUCCESS) goto fail;
  c->scratch_bytes = FKM__COMM_SCRATCH;
  *out = c;
  return FKM_OK;
fail:
  comm_release(c);
  return r != CUDA_SUCCESS ? fkm__cuda_error(ctx, r, "opening a communicator's device") : s;
}

fkm_status fkm__comm_wrap(fkm_ctx *ctx, const fkm__nccl_api *nc, fkm__nccl_comm_t nccl, int device,
                          int size, int rank, fkm_comm **out) {
  return comm_open(ctx, nc, nccl, device, size, rank, out);
}

static fkm_status check_create(fkm_ctx *ctx, int device, int size, int rank, const fkm_comm_id *id,
                               fkm_comm **out) {
  if (!out || !id) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm create: id or out is NULL");
  if (size < 1 || rank < 0 || rank >= size)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm create: rank %d of size %d is not in [0, size)",
                      rank, size);
  if (device < 0)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm create: device %d is negative", device);
  return FKM_OK;
}

static fkm_status comm_create(fkm_ctx *ctx, int device, int size, int rank, const fkm_comm_id *id,
                              fkm_comm **out) {
  fkm_status s = check_create(ctx, device, size, rank, id, out);
  if (s != FKM_OK) return s;
  const fkm__nccl_api *nc = fkm__nccl(ctx);
  if (!nc) return FKM_ERR_NO_NCCL;
  fkm_comm *c = NULL;
  if ((s = comm_open(ctx, nc, NULL, device, size, rank, &c)) != FKM_OK) return s;
  fkm__nccl_id nid;
  memcpy(nid.internal, id->bytes, sizeof nid.internal);
  fkm__nccl_result e = nc->ncclCommInitRank(&c->nccl, size, nid, rank);
  if (e != 0) {
    c->nccl = NULL;
    comm_release(c);
    return fkm__nccl_error(ctx, e, "ncclCommInitRank");
  }
  *out = c;
  return FKM_OK;
}

fkm_status fkm_comm_create(fkm_ctx *ctx, int device, int size, int rank, const fkm_comm_id *id,
                           fkm_comm **out) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (out) *out = NULL;
  return comm_create(ctx, device, size, rank, id, out);
}

/* The id of a launcher's job: rank 0 makes it and saves it to path, the others wait for it. */
static fkm_status shared_id(fkm_ctx *ctx, int rank, int size, const char *path, fkm_comm_id *id) {
  if (size > 1 && !path)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm from env: %d ranks need an id_path", size);
  if (rank > 0) return fkm_comm_id_load(ctx, path, 60.0, id);
  fkm_status s = fkm_comm_id_create(ctx, id);
  return s == FKM_OK && size > 1 ? fkm_comm_id_save(ctx, id, path) : s;
}

fkm_status fkm_comm_from_env(fkm_ctx *ctx, int device, const char *id_path, fkm_comm **out) {
  if (!ctx) return FKM_ERR_INVALID_ARG;
  fkm__clear_error(ctx);
  if (!out) return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm from env: out is NULL");
  *out = NULL;
  int rank = 0, size = 1;
  char why[256];
  if (fkm__launcher_rank(&rank, &size, why, sizeof why) < 0)
    return fkm__error(ctx, FKM_ERR_INVALID_ARG, "comm from env: %s", why);
  fkm_comm_id id;
  fkm_status s = shared_id(ctx, rank, size, id_path, &id);
  return s == FKM_OK ? comm_create(ctx, device, size, rank, &id, out) : s;
}

int fkm_comm_rank(const fkm_comm *comm) { return comm ? comm->rank : -1; }
int fkm_comm_size(const fkm_comm *comm) { return comm ? comm->size : 0; }
int fkm_comm_device(const fkm_comm *comm) { return comm ? comm->device : -1; }

void fkm_comm_free(fkm_comm *comm) {
  if (comm) comm_release(comm);
}

/* At least bytes of scratch; a failed grow keeps the scratch there was. */
static fkm_status scratch_reserve(fkm_ctx *ctx, fkm_comm *c, size_t bytes) {
  if (c->scratch_bytes >= bytes) return FKM_OK;
  CUdeviceptr grown;
  FKM_CU_TRY(ctx, c->cu, cuMemAlloc(&grown, bytes));
  c->cu->cuMemFree(c->scratch);
  c->scratch = grown, c->scratch_bytes = bytes;
  return FKM_OK;
}

typedef enum { HOST_MAX_U64, HOST_GATHER_I64 } host_collective;

/* The collective `op` over count 64-bit host values (see the two callers), through the scratch. */
static fkm_status host_values(fkm_ctx *ctx, fkm_comm *c, host_collective op, const void *mine,
                              size_t count, void *out, CUstream stream, const char *what) {
  int gather = op == HOST_GATHER_I64;
  size_t sent = count * 8, got = gather ? sent * (size_t)c->size : sent;
  FKM_CU_TRY(ctx, c->cu, cuCtxSetCurrent(c->context));
  fkm_status s = scratch_reserve(ctx, c, gather ? sent + got : sent);
  if (s != FKM_OK) return s;
  void *send = (void *)(uintptr_t)c->scratch, *recv = gather ? (char *)send + sent : send;
  CUresult r = c->cu->cuMemcpyHtoDAsync(c->scratch, mine, sent, stream);
  fkm__nccl_result e = 0;
  if (r == CUDA_SUCCESS && gather)
    e = c->nc->ncclAllGather(send, recv, count, FKM__NCCL_INT64, c->nccl, stream);
  else if (r == CUDA_SUCCESS)
    e = c->nc->ncclAllReduce(send, recv, count, FKM__NCCL_UINT64, FKM__NCCL_MAX, c->nccl, stream);
  if (r == CUDA_SUCCESS && e == 0)
    r = c->cu->cuMemcpyDtoHAsync(out, (CUdeviceptr)(uintptr_t)recv, got, stream);
  if (r == CUDA_SUCCESS && e == 0) r = c->cu->cuStreamSynchronize(stream);
  if (r != CUDA_SUCCESS) return fkm__cuda_error(ctx, r, what);
  return e == 0 ? FKM_OK : fkm__nccl_error(ctx, e, what);
}

fkm_status fkm__comm_allgather_i64(fkm_ctx *ctx, fkm_comm *c, const int64_t *mine, size_t count,
                                   int64_t *all, CUstream stream, const char *what) {
  return host_values(ctx, c, HOST_GATHER_I64, mine, count, all, stream, what);
}

fkm_status fkm__comm_agree_any(fkm_ctx *ctx, fkm_comm *comm, fkm_status mine, int flag, int *any) {
  /* the lowest failed rank r contributes (size - r) · 2, the largest value; a ready rank its flag */
  uint64_t v = mine == FKM_OK ? (uint64_t)(flag != 0) : (uint64_t)(comm->size - comm->rank) << 1;
  fkm_status s = host_values(ctx, comm, HOST_MAX_U64, &v, 1, &v, NULL,
                             "agreeing on the ranks' status"); /* 8 bytes: never allocates */
  if (mine != FKM_OK || s != FKM_OK) return mine != FKM_OK ? mine : s;
  if (v > 1)
    return fkm__error(ctx, FKM_ERR_COMM, "rank %d of %d failed or stopped (see its error)",
                      comm->size - (int)(v >> 1), comm->size);
  *any = (int)v;
  return FKM_OK;
}

fkm_status fkm__comm_agree(fkm_ctx *ctx, fkm_comm *comm, fkm_status mine) {
  int any;
  return fkm__comm_agree_any(ctx, comm, mine, 0, &any);
}
