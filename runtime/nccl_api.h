/* NCCL, opened at run time with dlopen (never linked), like the CUDA driver: libfkm loads and runs
 * on machines without it. Only runtime/ includes this header. The declarations are NCCL's stable
 * C ABI (nccl.h, NCCL 2.7+ for point-to-point), written out here because no NCCL headers are
 * needed to build fkm. */
#ifndef FKM_NCCL_API_H
#define FKM_NCCL_API_H

#include "internal.h"

typedef struct fkm__nccl_comm *fkm__nccl_comm_t; /* ncclComm_t */
typedef struct {
  char internal[FKM_COMM_ID_BYTES];
} fkm__nccl_id; /* ncclUniqueId, passed by value */
typedef int fkm__nccl_result; /* ncclResult_t: 0 ncclSuccess */
typedef void *fkm__nccl_stream; /* cudaStream_t (a CUstream) */

/* ncclDataType_t and ncclRedOp_t values used by fkm */
enum { FKM__NCCL_UINT8 = 1, FKM__NCCL_UINT32 = 3, FKM__NCCL_INT64 = 4, FKM__NCCL_UINT64 = 5,
       FKM__NCCL_FLOAT64 = 8 };
enum { FKM__NCCL_SUM = 0, FKM__NCCL_MAX = 2 };

#define FKM_NCCL_FUNCTIONS(X)                                                                     \
  X(fkm__nccl_result, ncclGetVersion, (int *version))                                                               \
  X(const char *, ncclGetErrorString, (fkm__nccl_result r))                                                     \
  X(fkm__nccl_result, ncclGetUniqueId, (fkm__nccl_id * id))                                                         \
  X(fkm__nccl_result, ncclCommInitRank, (fkm__nccl_comm_t * comm, int nranks, fkm__nccl_id id, int rank))           \
  X(fkm__nccl_result, ncclCommInitAll, (fkm__nccl_comm_t * comms, int ndev, const int *devlist))                    \
  X(fkm__nccl_result, ncclCommDestroy, (fkm__nccl_comm_t comm))                                                     \
  X(fkm__nccl_result, ncclCommGetAsyncError, (fkm__nccl_comm_t comm, fkm__nccl_result * error))                     \
  X(fkm__nccl_result, ncclGroupStart, (void))                                                                       \
  X(fkm__nccl_result, ncclGroupEnd, (void))                                                                         \
  X(fkm__nccl_result, ncclSend, (const void *buf, size_t count, int type, int peer, fkm__nccl_comm_t comm,          \
               fkm__nccl_stream stream))                                                          \
  X(fkm__nccl_result, ncclRecv, (void *buf, size_t count, int type, int peer, fkm__nccl_comm_t comm,                \
               fkm__nccl_stream stream))                                                          \
  X(fkm__nccl_result, ncclBroadcast, (const void *send, void *recv, size_t count, int type, int root,               \
                    fkm__nccl_comm_t comm, fkm__nccl_stream stream))                              \
  X(fkm__nccl_result, ncclAllReduce, (const void *send, void *recv, size_t count, int type, int op,                 \
                    fkm__nccl_comm_t comm, fkm__nccl_stream stream))                              \
  X(fkm__nccl_result, ncclAllGather, (const void *send, void *recv, size_t count, int type, fkm__nccl_comm_t comm,  \
                    fkm__nccl_stream stream))

typedef struct fkm__nccl_api {
#define FKM_NCCL_MEMBER_(ret, name, params) ret(*name) params;
  FKM_NCCL_FUNCTIONS(FKM_NCCL_MEMBER_)
#undef FKM_NCCL_MEMBER_
} fkm__nccl_api;

/* Opens NCCL once per process ($FKM_NCCL_PATH, else libnccl.so.2) after setting NCCL_NVLS_ENABLE=0
 * (NVLink multicast stays off). Returns the table, or NULL with ctx's error FKM_ERR_NO_NCCL. */
const fkm__nccl_api *fkm__nccl(fkm_ctx *ctx);
/* FKM_ERR_COMM naming the failed call and NCCL's text for r. */
fkm_status fkm__nccl_error(fkm_ctx *ctx, fkm__nccl_result r, const char *call);

#define FKM_NCCL_TRY(ctx, api, call)                                      \
  do {                                                                    \
    fkm__nccl_result fkm_n_ = (api)->call;                                \
    if (fkm_n_ != 0) return fkm__nccl_error(ctx, fkm_n_, #call);          \
  } while (0)

#endif
