#!/usr/bin/env python3
"""Ceiling of the warpgroup MMA at D = 128 on sm_90a, with and without the assign kernel's fold.

Writes a self-contained CUDA file whose kernel issues, on every SM, the MMAs of one centroid tile
after another against tiles that never change in shared memory (no global loads, no pipeline):
A (the points) from shared memory ("ss") or from registers ("rs"), fp16 or TF32, N = BLOCK_K
columns, WG_M m64 tiles a warpgroup, NWG warpgroups a block, CTAS blocks an SM. With fold=1 each
tile's accumulators then go through the assign kernel's column-by-column arg-min (FFMA, FSET,
FMNMX, FADD, FFMA an element). It prints TFLOP/s (2·rows·N·128 a tile) of the best and the last
of five launches; a long run (the iteration count) shows the rate under the card's power limit.
What it shows: how much of the assign's rate the MMAs alone allow and what the fold costs.

usage: wgmma_ceiling.py OUT.cu
       nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -o ceiling OUT.cu
       ./ceiling [ITERATIONS, default 20000]
"""
import sys

# (N, tf32, A from registers, WG_M, NWG, fold, blocks an SM)
CONFIGS = [
    (64, 0, 0, 4, 1, 0, 2), (64, 0, 0, 4, 1, 1, 2),  # fkm's fp16 pick at D = 128: 256 × 64
    (64, 0, 0, 2, 2, 0, 1), (64, 0, 0, 2, 2, 1, 1),
    (64, 0, 1, 2, 2, 0, 1), (64, 0, 1, 2, 2, 1, 1),
    (64, 0, 1, 2, 1, 0, 2), (64, 0, 1, 2, 1, 1, 2), (64, 0, 1, 1, 2, 1, 2),
    (128, 0, 0, 2, 2, 0, 1), (128, 0, 0, 2, 2, 1, 1),
    (128, 0, 1, 2, 2, 0, 1), (128, 0, 1, 2, 2, 1, 1),
    (128, 0, 1, 1, 2, 1, 2), (128, 0, 0, 1, 2, 1, 2),
    (256, 0, 0, 1, 2, 0, 1), (256, 0, 1, 1, 2, 0, 1), (256, 0, 1, 1, 2, 1, 1),
    (64, 1, 0, 2, 2, 0, 1), (64, 1, 0, 2, 2, 1, 1),  # fkm's TF32 pick: 256 × 64, 8 warps
    (64, 1, 1, 2, 2, 0, 1), (64, 1, 1, 2, 2, 1, 1),
    (64, 1, 1, 1, 2, 1, 2), (64, 1, 0, 1, 2, 1, 2),
    (128, 1, 0, 2, 2, 0, 1),
]

PRELUDE = r'''#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>
typedef uint32_t u32;
__device__ __forceinline__ u32 smem(const void *p) { return (u32)__cvta_generic_to_shared(p); }
/* K-major, 128-byte swizzle, 8-row groups 1024 bytes apart (as templates/assign_wgmma.cu) */
__device__ __forceinline__ unsigned long long desc(u32 addr) {
  u32 lo = ((addr & 0x3ffff) >> 4) | (1u << 16);
  return ((unsigned long long)((1024 >> 4) | (1u << 30)) << 32) | lo;
}
__device__ constexpr int opoff(int rows, int r0, int kk) {
  return (kk >> 2) * rows * 128 + (r0 >> 3) * 1024 + (kk & 3) * 32;
}
'''

KERNEL = r'''
template <int N, int TF32, int RS, int WGM, int NWG, int FOLD>
__global__ void __launch_bounds__(NWG * 128) ceiling(float *out, int iters) {
  extern __shared__ __align__(1024) unsigned char sm[];
  constexpr int KSTEPS = TF32 ? 16 : 8, BN = 64 * WGM * NWG;
  const u32 base = (smem(sm) + 1023) & ~1023u;
  u32 *w = (u32 *)(sm + (base - smem(sm)));
  const int words = (BN + N) * 128 * (TF32 ? 4 : 2) / 4;
  u32 s = threadIdx.x * 2654435761u + blockIdx.x;
  for (int i = threadIdx.x; i < words; i += blockDim.x) { /* finite values of both signs */
    s = s * 1664525u + 1013904223u;
    w[i] = TF32 ? ((s & 0x3fffffffu) | 0x3f000000u) & 0xbfffffffu : (s & 0x3bff3bffu);
  }
  __syncthreads();
  asm volatile("fence.proxy.async.shared::cta;");
  __syncthreads();
  const int wg = threadIdx.x / 128;
  const u32 xb = base + wg * WGM * 8 * 1024, cb = base + BN * 128 * (TF32 ? 4 : 2);
  float acc[WGM][N / 2];
  u32 a[RS ? WGM : 1][RS ? KSTEPS : 1][4];
#pragma unroll
  for (int m = 0; m < WGM; ++m)
#pragma unroll
    for (int i = 0; i < N / 2; ++i) acc[m][i] = 0.f;
  if (RS) {
#pragma unroll
    for (int m = 0; m < WGM; ++m)
#pragma unroll
      for (int kk = 0; kk < KSTEPS; ++kk)
#pragma unroll
        for (int j = 0; j < 4; ++j) a[m][kk][j] = w[(m * 997 + kk * 131 + j * 31 + threadIdx.x) % words];
  }
  float best[WGM][2], bidx[WGM][2];
  for (int m = 0; m < WGM; ++m) best[m][0] = best[m][1] = 1e30f, bidx[m][0] = bidx[m][1] = 0.f;
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int m = 0; m < WGM; ++m)
#pragma unroll
      for (int i = 0; i < N / 2; ++i) asm volatile("" : "+f"(acc[m][i])::"memory");
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk)
#pragma unroll
      for (int m = 0; m < WGM; ++m) {
        const unsigned long long bd = desc(cb + opoff(N, 0, kk));
        if constexpr (RS) mma_rs<N, TF32>(acc[m], a[m][kk], bd);
        else mma_ss<N, TF32>(acc[m], desc(xb + opoff(BN, m * 64, kk)), bd);
      }
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
#pragma unroll
    for (int m = 0; m < WGM; ++m)
#pragma unroll
      for (int i = 0; i < N / 2; ++i) asm volatile("" : "+f"(acc[m][i])::"memory");
    if (FOLD) {
#pragma unroll
      for (int m = 0; m < WGM; ++m)
#pragma unroll
        for (int i = 0; i < N / 2; ++i) {
          const int h = (i >> 1) & 1;
          float dist = fmaf(-2.f, acc[m][i], (float)i), lt;
          asm("set.lt.f32.f32 %0, %1, %2;" : "=f"(lt) : "f"(dist), "f"(best[m][h]));
          best[m][h] = fminf(best[m][h], dist);
          bidx[m][h] = fmaf(lt, (float)i - bidx[m][h], bidx[m][h]);
        }
    }
  }
  float t = 0.f; /* keeps every result live */
  for (int m = 0; m < WGM; ++m) {
    t += best[m][0] + bidx[m][1];
    for (int i = 0; i < N / 2; ++i) t += acc[m][i];
  }
  if (t == 1234.5f) out[threadIdx.x] = t;
}

template <int N, int TF32, int RS, int WGM, int NWG, int FOLD>
void run(int ctas_per_sm, int iters) {
  auto k = ceiling<N, TF32, RS, WGM, NWG, FOLD>;
  const int bn = 64 * WGM * NWG, need = (bn + N) * 128 * (TF32 ? 4 : 2) + 1024;
  const int smem = 227 * 1024 / ctas_per_sm - 1024; /* forces the blocks an SM */
  printf("n%-3d %-4s %s wg_m %d wgs %d fold %d blocks/SM %d  ", N, TF32 ? "tf32" : "fp16",
         RS ? "rs" : "ss", WGM, NWG, FOLD, ctas_per_sm);
  if (need > smem) { printf("skipped: tiles need %d bytes of shared memory\n", need); return; }
  cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  int sms, occ = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, k, NWG * 128, smem);
  float *out;
  cudaMalloc(&out, 4096);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0), cudaEventCreate(&e1);
  k<<<sms * ctas_per_sm, NWG * 128, smem>>>(out, 10);
  const double flops = 2.0 * sms * ctas_per_sm * bn * N * 128 * (double)iters;
  float best = 1e30f, last = 0.f;
  for (int r = 0; r < 5; ++r) {
    cudaEventRecord(e0);
    k<<<sms * ctas_per_sm, NWG * 128, smem>>>(out, iters);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    cudaEventElapsedTime(&last, e0, e1);
    if (last < best) best = last;
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) { printf("%s\n", cudaGetErrorString(err)); exit(1); }
  printf("(occupancy %d)  best %6.1f  last %6.1f TFLOP/s  (%.1f ms)\n", occ, flops / best / 1e9,
         flops / last / 1e9, last);
  cudaFree(out);
}
'''


def mma(n, tf32, rs):
    """One wgmma as a template specialisation mma_ss<n, tf32> or mma_rs<n, tf32>."""
    regs, t = n // 2, "tf32" if tf32 else "f16"
    acc = ", ".join("%%%d" % i for i in range(regs))
    outs = ", ".join('"+f"(d[%d])' % i for i in range(regs))
    trans = "" if tf32 else (", 0" if rs else ", 0, 0")
    if rs:
        a, b = "{%%%d, %%%d, %%%d, %%%d}" % tuple(range(regs, regs + 4)), "%%%d" % (regs + 4)
        ins, sig = '"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(bd)', "float *d, const u32 *a"
    else:
        a, b = "%%%d" % regs, "%%%d" % (regs + 1)
        ins, sig = '"l"(ad), "l"(bd)', "float *d, unsigned long long ad"
    return ('template <> __device__ __forceinline__ void mma_%s<%d, %d>(%s, unsigned long long bd) {\n'
            '  asm volatile("wgmma.mma_async.sync.aligned.m64n%dk%d.f32.%s.%s {%s}, %s, %s, 1, 1, 1%s;"\n'
            '               : %s : %s);\n}\n' % ("rs" if rs else "ss", n, tf32, sig, n, 8 if tf32 else 16,
                                                  t, t, acc, a, b, trans, outs, ins))


def main():
    parts = [PRELUDE,
             "template <int N, int TF32> __device__ void mma_ss(float *, unsigned long long, unsigned long long);\n",
             "template <int N, int TF32> __device__ void mma_rs(float *, const u32 *, unsigned long long);\n"]
    parts += [mma(n, tf32, rs) for tf32 in (0, 1) for n in (64, 128, 256) for rs in (0, 1)]
    parts.append(KERNEL)
    parts.append("int main(int argc, char **argv) {\n  const int it = argc > 1 ? atoi(argv[1]) : 20000;\n")
    for n, tf32, rs, wgm, nwg, fold, ctas in CONFIGS:
        parts.append("  run<%d, %d, %d, %d, %d, %d>(%d, %s);\n"
                     % (n, tf32, rs, wgm, nwg, fold, ctas, "it / 2" if tf32 else "it"))
    parts.append("  return 0;\n}\n")
    with open(sys.argv[1], "w") as f:
        f.write("".join(parts))


if __name__ == "__main__":
    main()
