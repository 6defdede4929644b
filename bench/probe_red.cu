/* Probe for issue 4's fused update: how fast could an assign kernel's epilogue add its points'
 * rows into per-cluster fp32 sums through global reductions (an order-dependent path, which
 * SPEC §2 allows only as an option)? A stand-alone CUDA program, built on the GPU machine:
 *
 *   nvcc -O3 -arch=sm_90a -o probe_red bench/probe_red.cu && ./probe_red
 *
 * Each case: N rows of D = 128 fp32 values (made from the row index, as a kernel would take them
 * from shared memory), labels uniform random in [0, K) from a fixed LCG; one warp a row, 16 bytes
 * a lane. "store" writes each row to sums[label] (the scatter without a reduction), "red1" adds
 * with one red.global.add.f32 a value, "red4" with one red.global.add.v4.f32 per four, "red4
 * sorted" the same with the labels in cluster order (runs of one address). Printed: ms per pass
 * over all rows (best of 10 launches) and the rows' bytes (N·D·4) per second. */
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <algorithm>

#define D 128

enum { STORE, RED1, RED4 };

__device__ __forceinline__ void red4(float *p, float4 v) {
  asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(p), "f"(v.x), "f"(v.y),
               "f"(v.z), "f"(v.w)
               : "memory");
}

/* sums [K][D] += row i for each i of [0, n), rows spread over the grid's warps. */
template <int MODE>
__global__ void add_rows(const int *labels, long n, float *sums) {
  long warps = (long)gridDim.x * (blockDim.x / 32);
  int lane = threadIdx.x % 32;
  for (long i = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; i < n; i += warps) {
    float base = (float)(i & 1023) * 1e-3f;
    float4 v = make_float4(base, base + 1.f, base + 2.f, base + 3.f);
    float *p = sums + (long)labels[i] * D + lane * 4;
    if (MODE == STORE) *(float4 *)p = v;
    if (MODE == RED1) atomicAdd(p, v.x), atomicAdd(p + 1, v.y), atomicAdd(p + 2, v.z),
                      atomicAdd(p + 3, v.w);
    if (MODE == RED4) red4(p, v);
  }
}

template <int MODE>
static float best_ms(const int *labels, long n, float *sums, int sms) {
  cudaEvent_t a, b;
  cudaEventCreate(&a), cudaEventCreate(&b);
  float best = 1e30f;
  for (int r = 0; r < 11; r++) {
    cudaEventRecord(a);
    add_rows<MODE><<<sms * 8, 256>>>(labels, n, sums);
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms;
    cudaEventElapsedTime(&ms, a, b);
    if (r > 0) best = std::min(best, ms);
  }
  return best;
}

static void run_case(long n, int k, int sms) {
  std::vector<int> h(n);
  unsigned long long s = 42;
  for (long i = 0; i < n; i++) s = s * 6364136223846793005ull + 1442695040888963407ull,
                                h[i] = (int)((s >> 33) % k);
  std::vector<int> sorted(h);
  std::sort(sorted.begin(), sorted.end());
  int *labels, *labels_sorted;
  float *sums;
  cudaMalloc(&labels, n * 4), cudaMalloc(&labels_sorted, n * 4);
  cudaMalloc(&sums, (size_t)k * D * 4);
  cudaMemset(sums, 0, (size_t)k * D * 4);
  cudaMemcpy(labels, h.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(labels_sorted, sorted.data(), n * 4, cudaMemcpyHostToDevice);
  float ms[4] = {best_ms<STORE>(labels, n, sums, sms), best_ms<RED1>(labels, n, sums, sms),
                 best_ms<RED4>(labels, n, sums, sms), best_ms<RED4>(labels_sorted, n, sums, sms)};
  const char *names[4] = {"store", "red1", "red4", "red4 sorted"};
  printf("N %8ld K %6d:", n, k);
  for (int c = 0; c < 4; c++)
    printf(" | %s %.1f us %.2f TB/s", names[c], ms[c] * 1e3, n * D * 4.0 / (ms[c] * 1e-3) / 1e12);
  printf("\n");
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) printf("CUDA error: %s\n", cudaGetErrorString(e)), exit(1);
  cudaFree(labels), cudaFree(labels_sorted), cudaFree(sums);
}

int main() {
  int sms;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, 0);
  printf("%s, %d SMs, D = %d fp32 rows\n", p.name, sms, D);
  run_case(2097152, 1024, sms);
  run_case(8388608, 1024, sms);
  run_case(1048576, 8192, sms);
  run_case(1048576, 65536, sms);
  run_case(8 * 65536, 8 * 100, sms); /* B batches hold B·K sums */
  run_case(32 * 74256, 32 * 1000, sms);
  return 0;
}
