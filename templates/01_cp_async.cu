/* Asynchronous global → shared copies (cp.async, sm_80+) used by the assign kernels' pipelines
 * and the update's row staging: 16-byte copies that zero-fill when bytes is 0, committed in groups
 * and waited for by count. */
__device__ __forceinline__ u32 fkm_smem(const void *p) {
  u32 r;
  asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(p));
  return r;
}
__device__ __forceinline__ void fkm_cp16(u32 dst, const void *src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void fkm_commit() { asm volatile("cp.async.commit_group;"); }
template <int N> __device__ __forceinline__ void fkm_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N));
}
