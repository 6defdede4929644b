/* FlashAssign on Hopper warpgroup MMA (sm_90a; fp16/bf16 in, or fp32 read as TF32 — the MMA
 * ignores the low 13 mantissa bits, i.e. truncates, as Triton's tf32 dots do —, or fp32 in 3×TF32
 * with the points in registers (SPLIT below); fp32 accumulate).
 * Same contract and tiling as assign_mma.cu: a block owns BLOCK_N points and streams the
 * centroids in BLOCK_K × CHUNK tiles through a NUM_STAGES-deep cp.async pipeline (with one chunk the
 * point tile stays on chip). Tiles sit in shared memory K-major in the 128-byte swizzle layout
 * (blocks of 128-byte rows — 64 16-bit or 32 fp32 columns —, 16-byte chunks XOR-ed with row mod
 * 8, 1024-byte aligned), one MMA k-step per 32 bytes of a row (k16, or k8 for TF32),
 * read by wgmma through descriptors. Each warpgroup owns WG_M m64 tiles of
 * rows and all BLOCK_K columns, so every warp holds whole rows: the arg-min needs only quad
 * shuffles. The generator emits fkm_wgmma() for N = BLOCK_K. Each step's MMAs are waited for
 * before the fold; two blocks per SM overlap one's fold with the other's MMAs. Measured on H200
 * at D = 128 and dropped: committing each m64 tile's MMAs as a group of their own, to fold one
 * tile while the next tiles' MMAs run (1–2 % slower); two accumulator sets, issuing tile s+1's
 * MMAs before folding tile s (the registers allow it for 128-point warpgroups only: 9–12 %
 * slower than 256×64 with one warpgroup and no overlap; bench/RESULTS.md, 2026-12-04); for TF32,
 * the points' A fragments in registers once a block (wgmma from registers, 232 registers at
 * 256×64 with two warpgroups): N = 2M, K = 1024 2.39 → 2.41 ms, and with one m64 tile a warpgroup
 * and no point tile in shared memory (64-point blocks then fit two or three to an SM) 2.30 → 2.38
 * ms at 128×128, 2.46–3.24 at 128×64, 64×64 and 64×32 (RESULTS, session 29); two accumulator
 * sets there (2.39 → 2.51 ms), and mbarriers per stage slot instead of the block barrier, so that
 * the warpgroups may drift apart (TF32 −0.4 %, 16-bit shapes up to 3.5 % slower; RESULTS, session
 * 25); two warpgroups in turn, the second half a step behind the first so that one's fold
 * overlaps the other's MMAs (TF32 assign 1.88 → 1.87–1.88 ms; with neither the point tile from
 * DRAM nor any centroid copy it takes 1.82: RESULTS, session 26). */
#define BN FKM_BLOCK_N
#define BK FKM_BLOCK_K
#define CH FKM_CHUNK
#define NCH FKM_D_CHUNKS
#define NS FKM_NUM_STAGES
#define CTAS FKM_CTAS
#define MMA_THREADS (FKM_THREADS - (CTAS > 1 ? 32 : 0)) /* the warpgroups; with clusters, a copy warp */
#define NWG (MMA_THREADS / 128)
#define WG_M (BN / 64 / NWG)
#define XRES (NCH == 1)
#define XBUFS (XRES ? 1 : NS)
#define SW_ATOM 1024 /* bytes of 8 swizzled 128-byte rows */
#define ES ((int)sizeof(elem_t))
#define EPB (128 / ES) /* elements per 128-byte row block */
#define EPC (16 / ES)  /* elements per 16-byte chunk */
#define KS (32 / ES)   /* elements per MMA k-step */
/* A block alone on its SM (FKM_ALONE: its tiles leave no room for a second; spec.c) issues each
 * step's MMAs before it starts the next copies, so that they begin at once (H200: TF32 at
 * N = 2M, K = 1024 and D = 1024 3 % faster); where two blocks share an SM the copies go first, as
 * the other block's MMAs cover them (N = 1M, K = 8192 and N = 4M bf16 3 % slower the other way). */
#define MMAS_FIRST FKM_ALONE
/* 3×TF32 (fp32 at default precision): each warpgroup keeps its m64 tile of points as TF32 hi and
 * lo fragments in registers (fkm_xfrag), the centroids arrive as hi and lo planes (norms.cu) and
 * each k-step sums lo·hi, hi·lo and hi·hi, as assign_mma.cu does; WG_M is 1 (spec.c). With one D
 * chunk the fragments load once a block; with several (of 32 or 64 columns: spec.c's register
 * estimate) each step's are read from global memory (L2) a step ahead and split as the step
 * starts. */
#define SPLIT (FKM_DTYPE == 3 && FKM_PRECISION == 0)
#define CPLANES (SPLIT ? 2 : 1) /* centroid tiles a stage slot holds */
#define XSTREAM (SPLIT && NCH > 1) /* the point fragments loaded again each step, one chunk's */

/* Copies of a ROWS × CH tile of a [rows][DP] matrix from column col0 into the swizzled layout at
 * shared address dst; with GUARD, rows at or beyond valid_rows and columns at or beyond DP are
 * zero-filled. 8 consecutive threads read one row's 128 contiguous bytes and write 8 distinct bank
 * groups; thread t takes chunk t & 7 of rows t / 8 + i·THREADS/8, so a copy's offsets are the
 * thread's base plus constants. */
template <int ROWS, bool GUARD>
__device__ __forceinline__ void fkm_copy_tile(u32 dst, const elem_t *src, int valid_rows,
                                              int col0) {
  constexpr int rstep = MMA_THREADS / 8; /* rows one pass of the threads covers, a multiple of 8 */
  const int t = threadIdx.x % MMA_THREADS, j = t & 7, r0 = t >> 3;
  const u32 d0 = dst + (r0 >> 3) * SW_ATOM + (r0 & 7) * 128 + ((j ^ (r0 & 7)) << 4);
  const elem_t *s0 = src + (i64)r0 * FKM_DP + col0 + j * EPC;
#pragma unroll
  for (int kb = 0; kb < CH / EPB; ++kb)
#pragma unroll
    for (int i = 0; i < (ROWS + rstep - 1) / rstep; ++i) {
      if (ROWS % rstep != 0 && r0 >= ROWS) break; /* ROWS < rstep: one partial pass */
      const u32 d = d0 + kb * ROWS * 128 + i * (rstep / 8) * SW_ATOM;
      const int off = i * rstep * FKM_DP + kb * EPB;
      const bool ok = !GUARD || (r0 + i * rstep < valid_rows && col0 + kb * EPB + j * EPC < FKM_DP);
      fkm_cp16(d, ok ? s0 + off : src, ok ? 16 : 0);
    }
}

/* The copies of a tile with valid_rows real rows: unguarded unless it is the last, partial one
 * or its columns run past DP. */
template <int ROWS>
__device__ __forceinline__ void fkm_load_tile(u32 dst, const elem_t *src, i64 valid_rows, int col0) {
  if (valid_rows >= ROWS && col0 + CH <= FKM_DP) fkm_copy_tile<ROWS, false>(dst, src, ROWS, col0);
  else fkm_copy_tile<ROWS, true>(dst, src, (int)(valid_rows < ROWS ? valid_rows : ROWS), col0);
}

/* Low word of the descriptor of a K-major 128-byte-swizzled operand at shared address addr: the
 * start address in 16-byte units and a leading offset of 1 (unused in this mode). Shared
 * addresses stay below 256 KB, so adding offset / 16 moves the operand by offset bytes: the
 * MMAs' operands are one add from a step's base, not a descriptor built per MMA. */
__device__ __forceinline__ u32 fkm_desc_lo(u32 addr) {
  return ((addr & 0x3ffff) >> 4) | (1u << 16);
}

/* The descriptor around a low word: 8-row groups SW_ATOM bytes apart, 128-byte swizzle. */
__device__ __forceinline__ unsigned long long fkm_desc(u32 lo) {
  return ((unsigned long long)((SW_ATOM >> 4) | (1u << 30)) << 32) | lo;
}

/* Byte offset of k-step kk (32 bytes of columns) from row r0 in a tile with `rows` rows. */
__device__ constexpr int fkm_operand_off(int rows, int r0, int kk) {
  return (kk >> 2) * rows * 128 + (r0 >> 3) * SW_ATOM + (kk & 3) * 32;
}

/* The distance offsets of the columns this thread folds in centroid tile k0: cn[j][e] of column
 * k0 + j·8 + (lane & 3)·2 + e. The offsets (norms.cu, fkm_prep_centroids: ‖c‖² for l2, 0 for
 * cosine and dot, +inf on the padding past K) are laid out FKM_KPAD_ROWS-padded per batch, so
 * every tile reads them whole, two adjacent columns a load, with no bounds test. fkm_wait_fold
 * says when they load. */
__device__ __forceinline__ void fkm_tile_norms(float (*cn)[2], const float *cnorm, int k0, int lane) {
  const float *at = cnorm + k0 + (lane & 3) * 2;
#pragma unroll
  for (int j = 0; j < BK / 8; ++j) {
    const float2 v = *(const float2 *)(at + j * 8);
    cn[j][0] = v.x, cn[j][1] = v.y;
  }
}

/* The relative indices of the running arg-min, moved from one centroid tile to the next. */
__device__ __forceinline__ void fkm_next_tile(float (*bidx)[2]) {
#pragma unroll
  for (int m = 0; m < WG_M; ++m) bidx[m][0] -= (float)BK, bidx[m][1] -= (float)BK;
}

/* The distance from the MMA's dot product s and the column's offset cn: l2 ‖c‖² − 2s; cosine and
 * dot −s; +inf on padded columns (cn is 0 or +inf there). */
__device__ __forceinline__ float fkm_distance(float s, float cn) {
  return fmaf(FKM_METRIC == 0 ? -2.0f : -1.0f, s, cn);
}

/* Folds a finished 64 × BLOCK_K accumulator into the running arg-min of this thread's two rows.
 * Columns visited increase, so strict '<' keeps the lowest index among equal distances. The index
 * is carried as a float, relative to this thread's first column of the tile ((lane & 3)·2 past
 * k0; exact: the host keeps K ≤ 2^24 − 256 on this kernel), so that its select runs on the FMA
 * pipe with the column an immediate: FFMA, FSET, FMNMX, FADD, FFMA an element, two of them on the
 * integer/logic pipe that paces the kernel, against three for compare-and-select. fkm_next_tile
 * moves the relative index from one tile to the next. */
__device__ __forceinline__ void fkm_fold_scan(const float *acc, float *best, float *bidx,
                                              const float (*cn)[2]) {
#pragma unroll
  for (int j = 0; j < BK / 8; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float dist = fkm_distance(acc[j * 4 + h * 2 + e], cn[j][e]);
        float lt; /* 1 where dist < best, else 0 (PTX set, so that it is not a predicate) */
        asm("set.lt.f32.f32 %0, %1, %2;" : "=f"(lt) : "f"(dist), "f"(best[h]));
        best[h] = fminf(best[h], dist);
        bidx[h] = fmaf(lt, (float)(j * 8 + e) - bidx[h], bidx[h]);
      }
    }
}

/* The same fold in two passes, overwriting the accumulator with the distances: each row's tile
 * minimum first (FFMA, FMNMX an element), then, only where it beats the running best, its column:
 * the lowest whose distance equals the minimum. The best moves only on a strict '<', so the
 * result is fkm_fold_scan's. With the centroids in no order relative to a point, a thread's row
 * finds a new best in tile t with odds about 1 / t; the second pass runs when any of a warp's 64
 * (row, lane) pairs does, so it pays only past about a hundred tiles (FKM_LAZY_TILES). */
__device__ __forceinline__ void fkm_fold_lazy(float *acc, float *best, float *bidx,
                                              const float (*cn)[2]) {
  float low[2];
#pragma unroll
  for (int j = 0; j < BK / 8; ++j)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float &v = acc[j * 4 + h * 2 + e];
        v = fkm_distance(v, cn[j][e]);
        low[h] = j + e == 0 ? v : fminf(low[h], v);
      }
  if (low[0] < best[0] || low[1] < best[1]) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float at = bidx[h];
#pragma unroll
      for (int j = BK / 8 - 1; j >= 0; --j)
#pragma unroll
        for (int e = 1; e >= 0; --e)
          at = acc[j * 4 + h * 2 + e] == low[h] ? (float)(j * 8 + e) : at;
      if (low[h] < best[h]) best[h] = low[h], bidx[h] = at;
    }
  }
}

/* Centroid tiles before this one fold column by column, later ones in two passes, each in a loop
 * of its own (H200, fp16, D = 128): the two passes everywhere made K = 65,536 4 % faster and
 * K = 1024–8192 2–7 % slower, where most tiles still find new bests; both folds in one loop (as
 * large as the instruction cache) made K = 8192 17 % slower though only the first ran; split
 * loops keep K = 65,536's 4 % and cost K ≤ 8192 up to 3 % (their loop's code is the same). */
#define FKM_LAZY_TILES 128

/* Folds a centroid tile (all WG_M m64 accumulators) into the running arg-min. */
template <bool LAZY>
__device__ __forceinline__ void fkm_fold_tile(float (*acc)[BK / 2], float (*best)[2],
                                              float (*bidx)[2], const float (*cn)[2]) {
  fkm_next_tile(bidx);
#pragma unroll
  for (int m = 0; m < WG_M; ++m)
    if (LAZY)
      fkm_fold_lazy(acc[m], best[m], bidx[m], cn);
    else
      fkm_fold_scan(acc[m], best[m], bidx[m], cn);
}

/* Keeps the compiler from touching accumulator registers across the asm that hands them to the
 * asynchronous MMAs and the wait that hands them back. */
__device__ __forceinline__ void fkm_fence_acc(float (*acc)[BK / 2]) {
#pragma unroll
  for (int m = 0; m < WG_M; ++m)
#pragma unroll
    for (int i = 0; i < BK / 2; ++i) asm volatile("" : "+f"(acc[m][i])::"memory");
}

#if SPLIT
/* A warpgroup's m64 tile of a D chunk of points as TF32 A fragments, k-step kk's in [kk]: a[0]
 * row g, column t; a[1] row g + 8; a[2] column t + 4; a[3] both (g = 16·warp + lane / 4,
 * t = lane % 4); the MMAs read them until their wait, so they change only after it. */
struct fkm_xfrag {
  u32 hi[CH / 8][4], lo[CH / 8][4];
};
/* The same elements as fp32 values, loaded a step ahead of their split. */
struct fkm_xraw {
  float v[CH / 8][4];
};

/* This thread's elements of rows [0, rows) and columns [col0, col0 + CH) of x [..][DP] (zeros
 * past them). */
__device__ __forceinline__ void fkm_load_xraw(fkm_xraw &f, const elem_t *x, i64 rows, int wg,
                                              int lane, int col0) {
  const int g = wg * 64 + ((threadIdx.x >> 5) & 3) * 16 + (lane >> 2), t = lane & 3;
#pragma unroll
  for (int kk = 0; kk < CH / 8; ++kk)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = g + (i & 1) * 8, col = col0 + kk * 8 + t + (i >> 1) * 4;
      const bool in = r < rows && (FKM_DP % CH == 0 || col < FKM_DP);
      f.v[kk][i] = in ? x[(i64)r * FKM_DP + col] : 0.0f;
    }
}

/* The fragments of raw values, each split by fkm_tf32_split. */
__device__ __forceinline__ void fkm_split_xraw(fkm_xfrag &f, const fkm_xraw &raw) {
#pragma unroll
  for (int kk = 0; kk < CH / 8; ++kk)
#pragma unroll
    for (int i = 0; i < 4; ++i) fkm_tf32_split(raw.v[kk][i], f.hi[kk][i], f.lo[kk][i]);
}

/* Keeps the fragments' registers from reuse until after the wait that hands them back. */
__device__ __forceinline__ void fkm_fence_xfrag(fkm_xfrag &f) {
#pragma unroll
  for (int kk = 0; kk < CH / 8; ++kk)
#pragma unroll
    for (int i = 0; i < 4; ++i) asm volatile("" : "+r"(f.hi[kk][i]), "+r"(f.lo[kk][i]));
}
#else
struct fkm_xfrag {}; /* the points come from shared memory */
struct fkm_xraw {};
#endif

/* Issues and commits this warpgroup's MMAs of one pipeline step: its WG_M m64 tiles of the point
 * tile at xbase (for 3×TF32 the fragments xf) against the centroid tile at cbase; `fresh` starts
 * the accumulators at zero. */
__device__ __forceinline__ void fkm_issue(float (*acc)[BK / 2], const fkm_xfrag &xf, u32 xbase,
                                          u32 cbase, int wg, bool fresh) {
  const u32 xlo = fkm_desc_lo(xbase + wg * WG_M * 8 * SW_ATOM), clo = fkm_desc_lo(cbase);
  fkm_fence_acc(acc);
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
  for (int kk = 0; kk < CH / KS; ++kk) {
#if SPLIT
    const u32 at = fkm_operand_off(BK, 0, kk);
    const unsigned long long c = fkm_desc(clo + (at >> 4)),
                             c_lo = fkm_desc(clo + ((BK * CH * ES + at) >> 4));
    fkm_wgmma(acc[0], xf.lo[kk], c, fresh && kk == 0 ? 0 : 1);
    fkm_wgmma(acc[0], xf.hi[kk], c_lo, 1);
    fkm_wgmma(acc[0], xf.hi[kk], c, 1);
#else
#pragma unroll
    for (int m = 0; m < WG_M; ++m)
      fkm_wgmma(acc[m], fkm_desc(xlo + (fkm_operand_off(BN, m * 64, kk) >> 4)),
                fkm_desc(clo + (fkm_operand_off(BK, 0, kk) >> 4)), fresh && kk == 0 ? 0 : 1);
#endif
  }
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}

/* Where a block's tiles live and what it reads. Step s uses centroid stage slot s % NS and point
 * slot s % NS (slot 0 when the point tile stays resident). */
struct fkm_block {
  u32 cs, xs;           /* shared addresses of the centroid stages and the point tiles */
  const elem_t *cb, *xb; /* this batch's centroids [K][DP] and this block's points [BN][DP] */
  const float *nb;      /* this batch's distance offsets [kpad] (fkm_tile_norms) */
  i64 rows;             /* valid points of the block (n - n0) */
  int k, steps, wg, lane;
};

/* Steps of the centroid tiles that fold column by column: the first FKM_LAZY_TILES. */
__device__ __forceinline__ int fkm_scan_steps(const fkm_block &b) {
  return min(b.steps, FKM_LAZY_TILES * NCH);
}

__device__ __forceinline__ u32 fkm_cstage(const fkm_block &b, int s) {
  return b.cs + (s % NS) * CPLANES * BK * CH * ES;
}
__device__ __forceinline__ u32 fkm_xstage(const fkm_block &b, int s) {
  return b.xs + (XRES ? 0 : s % NS) * BN * CH * ES;
}

/* Block (n0 = its first point, batch bt) of the grid: its slots in dynamic shared memory (the
 * centroid stages from the first 1024-byte boundary, then the point tiles), its points and the
 * distance offsets, steps = centroid tiles × D chunks. cb is the entry's: it depends on the
 * centroid layout. */
__device__ __forceinline__ fkm_block fkm_block_of(const elem_t *x, const float *cnorm, i64 n,
                                                  int k, int bt, i64 n0, int wg, int lane) {
  extern __shared__ __align__(128) unsigned char fkm_shared[];
  fkm_block b;
  b.cs = (fkm_smem(fkm_shared) + SW_ATOM - 1) & ~(u32)(SW_ATOM - 1);
  b.xs = b.cs + NS * CPLANES * BK * CH * ES;
  b.cb = nullptr, b.xb = x + ((i64)bt * n + n0) * FKM_DP;
  b.nb = cnorm + (i64)bt * fkm_kpad(k), b.rows = n - n0;
  b.k = k, b.steps = (k + BK - 1) / BK * NCH, b.wg = wg, b.lane = lane;
  return b;
}

/* The arg-min's start: +inf at index 0, relative to the first tile once fkm_next_tile has run
 * before its fold. */
__device__ __forceinline__ void fkm_no_best(float (*best)[2], float (*bidx)[2], int lane) {
  const float r = (float)(BK - (lane & 3) * 2);
#pragma unroll
  for (int m = 0; m < WG_M; ++m) best[m][0] = best[m][1] = FKM_INF, bidx[m][0] = bidx[m][1] = r;
}

/* Starts the copies of step s's tiles into their stage slots (none past the last step). */
__device__ __forceinline__ void fkm_load_step(const fkm_block &b, int s) {
  if (s >= b.steps) return;
  const elem_t *tile = b.cb + (i64)(s / NCH) * BK * FKM_DP;
  fkm_load_tile<BK>(fkm_cstage(b, s), tile, b.k - (s / NCH) * BK, (s % NCH) * CH);
  if (SPLIT) /* the lo plane's tile (k rows on) beside the hi one */
    fkm_load_tile<BK>(fkm_cstage(b, s) + BK * CH * ES, tile + (i64)b.k * FKM_DP,
                      b.k - (s / NCH) * BK, (s % NCH) * CH);
  if (!XRES && !SPLIT) fkm_load_tile<BN>(fkm_xstage(b, s), b.xb, b.rows, (s % NCH) * CH);
}

/* Waits for step s's MMAs and, at the last D chunk of a centroid tile, folds the tile. The
 * distance offsets load before the wait, to hide their latency, except with XSTREAM: there a fold
 * comes once in NCH steps and their registers would push 128 × 256 tiles into spills. */
template <bool LAZY>
__device__ __forceinline__ void fkm_wait_fold(const fkm_block &b, float (*acc)[BK / 2],
                                              fkm_xfrag &xf, float (*best)[2], float (*bidx)[2],
                                              int s) {
  float cn[BK / 8][2];
  const bool fold = s % NCH == NCH - 1;
  if (fold && !XSTREAM) fkm_tile_norms(cn, b.nb, (s / NCH) * BK, b.lane);
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  fkm_fence_acc(acc);
#if XSTREAM
  fkm_fence_xfrag(xf);
  if (fold) fkm_tile_norms(cn, b.nb, (s / NCH) * BK, b.lane);
#endif
  if (fold) fkm_fold_tile<LAZY>(acc, best, bidx, cn);
}

/* Waits until the copies committed up to `pending` groups ago landed, and makes them visible to
 * the MMAs (async proxy) of every warp of the block. */
template <int PENDING> __device__ __forceinline__ void fkm_stage_ready() {
  fkm_wait<PENDING>();
  asm volatile("fence.proxy.async.shared::cta;");
  __syncthreads();
}

/* Pipeline steps [s0, s1): step s's MMAs are waited for before their fold. With MMAS_FIRST the
 * copies of step s + NS − 1 are started after step s's MMAs are issued, else before. With
 * XSTREAM, step s splits the point fragments that raw holds (its D chunk's) and, once its MMAs
 * are issued, loads the next step's into raw. */
template <bool LAZY>
__device__ __forceinline__ void fkm_assign_steps(const fkm_block &b, fkm_xfrag &xf, fkm_xraw &raw,
                                                 float (*acc)[BK / 2], float (*best)[2],
                                                 float (*bidx)[2], int s0, int s1) {
  for (int s = s0; s < s1; ++s) {
#if XSTREAM
    fkm_split_xraw(xf, raw);
#endif
    if (NS > 1) fkm_stage_ready<(NS > 1 ? NS - 2 : 0)>();
    if (NS == 1 || !MMAS_FIRST) fkm_load_step(b, NS == 1 ? s : s + NS - 1), fkm_commit();
    if (NS == 1) fkm_stage_ready<0>();
    fkm_issue(acc, xf, fkm_xstage(b, s), fkm_cstage(b, s), b.wg, s % NCH == 0);
    if (NS > 1 && MMAS_FIRST) fkm_load_step(b, s + NS - 1), fkm_commit();
#if XSTREAM
    fkm_load_xraw(raw, b.xb, b.rows, b.wg, b.lane, (s + 1) % NCH * CH);
#endif
    fkm_wait_fold<LAZY>(b, acc, xf, best, bidx, s);
    if (NS == 1) __syncthreads();
  }
}

/* One MMA-then-fold step after another, the first FKM_LAZY_TILES centroid tiles' steps in one
 * loop, the rest in another; for 3×TF32 the first D chunk's point fragments load while the first
 * stages' copies are in flight (with one chunk, once a block). */
__device__ __forceinline__ void fkm_assign_tiles(const fkm_block &b, float (*best)[2],
                                                  float (*bidx)[2]) {
  float acc[WG_M][BK / 2];
  fkm_xfrag xf;
  fkm_xraw raw;
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) fkm_load_step(b, s), fkm_commit();
#if SPLIT
  fkm_load_xraw(raw, b.xb, b.rows, b.wg, b.lane, 0);
  if (!XSTREAM) fkm_split_xraw(xf, raw);
#endif
  fkm_assign_steps<false>(b, xf, raw, acc, best, bidx, 0, fkm_scan_steps(b));
  fkm_assign_steps<true>(b, xf, raw, acc, best, bidx, fkm_scan_steps(b), b.steps);
}

/* Reduces each row's arg-min over the quad that shares it and writes the label [B][N]; the
 * relative indices are those of the last of the k columns' tiles. */
__device__ __forceinline__ void fkm_store_labels(float (*best)[2], float (*bidx)[2], int *labels,
                                                 i64 n, i64 n0, int k, int b, int wg, int wq,
                                                 int lane) {
  const int last = (k - 1) / BK * BK + (lane & 3) * 2;
#pragma unroll
  for (int m = 0; m < WG_M; ++m)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float v = best[m][h];
      int i = (int)bidx[m][h] + last;
#pragma unroll
      for (int off = 1; off < 4; off <<= 1)
        fkm_better(v, i, __shfl_xor_sync(0xffffffffu, v, off), __shfl_xor_sync(0xffffffffu, i, off));
      const i64 row = n0 + (wg * WG_M + m) * 64 + wq * 16 + h * 8 + (lane >> 2);
      if ((lane & 3) == 0 && row < n) labels[(i64)b * n + row] = i;
    }
}

#if CTAS == 1 /* else assign_cluster.cu follows with the entry */
/* Shapes and grid as the mma kernel: x [B][N][DP], c [B][K][DP] (3×TF32: [B][2][K][DP], the hi
 * and lo planes), cnorm [B][kpad], labels [B][N]. */
extern "C" __global__ void __launch_bounds__(FKM_THREADS)
    FKM_ENTRY(fkm_assign)(const elem_t *__restrict__ x, const elem_t *__restrict__ c,
                          const float *__restrict__ cnorm, int *__restrict__ labels, i64 n, int k,
                          const int *__restrict__ done) {
  if (done && *done) return;
  const int bt = blockIdx.y, lane = threadIdx.x & 31, wq = (threadIdx.x >> 5) & 3;
  /* broadcast so that the compiler knows it is warp-uniform: the MMAs' descriptors then stay in
   * uniform registers */
  const int wg = NWG == 1 ? 0 : __shfl_sync(0xffffffffu, (int)threadIdx.x >> 7, 0);
  const i64 n0 = (i64)blockIdx.x * BN;
  fkm_block b = fkm_block_of(x, cnorm, n, k, bt, n0, wg, lane);
  b.cb = c + (i64)bt * CPLANES * k * FKM_DP; /* [K][DP], or for 3×TF32 [2][K][DP] */
  float best[WG_M][2];
  float bidx[WG_M][2];
  fkm_no_best(best, bidx, lane);
  if (XRES && !SPLIT) fkm_load_tile<BN>(b.xs, b.xb, b.rows, 0); /* joins the first stage's copies */
  fkm_assign_tiles(b, best, bidx);
  fkm_store_labels(best, bidx, labels, n, n0, k, bt, wg, wq, lane);
}
#endif
