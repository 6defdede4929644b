/* FlashAssign on sm_90a with clusters of CTAS (2 or 4) blocks that share every centroid tile:
 * each block copies 1/CTAS of the rows of each 128-byte column block of a tile with a bulk copy
 * multicast to every block of the cluster, so the tiles cross from L2 once per cluster. Appended
 * to assign_wgmma.cu (its MMAs, fold and label store; one D chunk, the point tile resident). The
 * centroids come in the layout fkm_prep_centroids writes for clusters (norms.cu,
 * fkm_swizzled_at): per batch, kpad = K rounded up to FKM_KPAD_ROWS rows, so a tile's rows of one
 * column block are one contiguous run already in the shared tiles' 128-byte swizzle. A copy warp
 * (the block's last) streams the tiles through NUM_STAGES slots; a slot's full barrier counts the
 * tile's bytes from the CTAS copies, its empty barrier one arrival from each MMA warp of every
 * block once their MMAs have read it. Measured against the unclustered kernel in
 * bench/RESULTS.md (2026-12-04: N=1M, K=65,536; sessions 25–26: TF32 and the 16-bit shapes). */
#define KPIECE (BK * 128 / CTAS) /* bytes of 1/CTAS of a column block's BK rows: one block's copy */
#define MMA_WARPS (MMA_THREADS / 32)

__device__ __forceinline__ u32 fkm_cta_rank() {
  u32 r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}

/* Every thread of every block; orders the shared memory writes before it for the other blocks. */
__device__ __forceinline__ void fkm_cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::
                   : "memory");
}

__device__ __forceinline__ void fkm_bar_init(u32 bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}

/* Waits until the phase of parity `parity` of barrier bar has completed. */
__device__ __forceinline__ void fkm_bar_wait(u32 bar, u32 parity) {
  u32 ok;
  do {
    asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
                 "selp.u32 %0, 1, 0, p;\n\t}"
                 : "=r"(ok)
                 : "r"(bar), "r"(parity)
                 : "memory");
  } while (!ok);
}

/* This thread's arrival on barrier bar, which then also waits for `bytes` of copies. */
__device__ __forceinline__ void fkm_bar_expect(u32 bar, u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}

/* An arrival on the barrier at bar's offset in block `rank` of the cluster. CTA scope: what it
 * releases is a slot whose MMAs have completed, and cluster scope costs a GPU-wide memory barrier
 * per arrival (MEMBAR.ALL.GPU: 59 against 38 ms at N=1M, K=65,536). */
__device__ __forceinline__ void fkm_bar_arrive_at(u32 bar, u32 rank) {
  asm volatile("{\n\t.reg .b32 ra;\n\tmapa.shared::cluster.u32 ra, %0, %1;\n\t"
               "mbarrier.arrive.shared::cluster.b64 _, [ra];\n\t}" ::"r"(bar),
               "r"(rank)
               : "memory");
}

/* bytes from global src to shared dst of every block, each block's barrier at bar counting them. */
__device__ __forceinline__ void fkm_bulk_to_all(u32 dst, const void *src, u32 bytes, u32 bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
               " [%0], [%1], %2, [%3], %4;" ::"r"(dst),
               "l"(src), "r"(bytes), "r"(bar), "h"((unsigned short)((1 << CTAS) - 1))
               : "memory");
}

/* The copy warp's lane 0: step s's tile into slot s % NS once every block has freed it. cb is
 * the batch's centroids in the clustered layout, kpad rows per column block. */
__device__ __forceinline__ void fkm_copy_tiles(const fkm_block &b, const char *cb, i64 kpad,
                                               u32 full, u32 empty, u32 rank) {
  for (int s = 0; s < b.steps; ++s) {
    const int slot = s % NS;
    if (s >= NS) fkm_bar_wait(empty + slot * 8, (s / NS - 1) & 1);
    fkm_bar_expect(full + slot * 8, BK * CH * ES);
#pragma unroll
    for (int q = 0; q < CH * ES / 128; ++q)
      fkm_bulk_to_all(fkm_cstage(b, s) + q * BK * 128 + rank * KPIECE,
                       cb + (q * kpad + (i64)s * BK) * 128 + rank * KPIECE, KPIECE, full + slot * 8);
  }
}

/* The MMA warps' steps [s0, s1): fkm_assign_steps with the slots' barriers in place of cp.async
 * groups. */
template <bool LAZY>
__device__ __forceinline__ void fkm_cluster_steps(const fkm_block &b, u32 full, u32 empty,
                                                  float (*acc)[BK / 2], float (*best)[2],
                                                  float (*bidx)[2], int s0, int s1) {
  for (int s = s0; s < s1; ++s) {
    const int slot = s % NS;
    fkm_bar_wait(full + slot * 8, (s / NS) & 1);
    fkm_issue(acc, fkm_xfrag{}, b.xs, fkm_cstage(b, s), b.wg, true);
    float cn[BK / 8][2];
    fkm_tile_norms(cn, b.nb, s * BK, b.lane);
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    fkm_fence_acc(acc);
    if (b.lane == 0)
#pragma unroll
      for (u32 r = 0; r < CTAS; ++r) fkm_bar_arrive_at(empty + slot * 8, r);
    __syncwarp();
    fkm_fold_tile<LAZY>(acc, best, bidx, cn);
  }
}

/* The MMA warps: every step (one a centroid tile), split as fkm_assign_tiles splits them. */
__device__ __forceinline__ void fkm_assign_cluster_tiles(const fkm_block &b, u32 full, u32 empty,
                                                         float (*best)[2], float (*bidx)[2]) {
  float acc[WG_M][BK / 2];
  fkm_cluster_steps<false>(b, full, empty, acc, best, bidx, 0, fkm_scan_steps(b));
  fkm_cluster_steps<true>(b, full, empty, acc, best, bidx, fkm_scan_steps(b), b.steps);
}

/* Shapes as the unclustered kernel but c in the clustered layout [B][DP·size/128][kpad][128 bytes];
 * grid: a multiple of CTAS blocks along x (a block past the points computes and stores nothing). */
extern "C" __global__ void __cluster_dims__(CTAS, 1, 1) __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_assign)(const elem_t *__restrict__ x, const elem_t *__restrict__ c,
                          const float *__restrict__ cnorm, int *__restrict__ labels, i64 n, int k,
                          const int *__restrict__ done) {
  if (done && *done) return; /* alike in every block */
  extern __shared__ __align__(128) unsigned char fkm_shared[];
  const int bt = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wq = warp & 3;
  const int wg = __shfl_sync(0xffffffffu, (int)threadIdx.x >> 7, 0);
  const i64 n0 = (i64)blockIdx.x * BN, kpad = fkm_kpad(k);
  const u32 rank = fkm_cta_rank();
  const fkm_block b = fkm_block_of(x, cnorm, n, k, bt, n0, wg, lane); /* cb unused: one D chunk */
  /* the slots' barriers, 16 bytes a slot: in the alignment gap before the tiles when it holds
   * them, else after the tiles (the gap is then short, and the layout's 1024 bytes of slack hold
   * both) */
  const u32 base = fkm_smem(fkm_shared), tiles_end = b.xs + BN * CH * ES;
  const u32 full = b.cs - base >= NS * 16 ? base : tiles_end, empty = full + NS * 8;
  if (threadIdx.x == 0)
    for (int i = 0; i < NS; ++i)
      fkm_bar_init(full + i * 8, 1), fkm_bar_init(empty + i * 8, CTAS * MMA_WARPS);
  if (warp < MMA_WARPS) fkm_load_tile<BN>(b.xs, b.xb, b.rows, 0), fkm_commit(), fkm_wait<0>();
  asm volatile("fence.mbarrier_init.release.cluster;\n\tfence.proxy.async.shared::cta;" ::: "memory");
  __syncthreads();
  fkm_cluster_sync(); /* the other blocks' barriers are initialised before any copy or arrival */
  if (warp == MMA_WARPS) {
    if (lane == 0)
      fkm_copy_tiles(b, (const char *)(c + (i64)bt * kpad * FKM_DP), kpad, full, empty, rank);
    __syncwarp();
  } else {
    float best[WG_M][2];
    float bidx[WG_M][2];
    fkm_no_best(best, bidx, lane);
    fkm_assign_cluster_tiles(b, full, empty, best, bidx);
    fkm_store_labels(best, bidx, labels, n, n0, k, bt, wg, wq, lane);
  }
  fkm_cluster_sync(); /* no copy or arrival still aimed at a block that has left */
}
