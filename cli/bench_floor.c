/* Floor of a Lloyd iteration (bench_floor.h). */
#include "bench_floor.h"

void bench_floor_of(int64_t b, int64_t n, int64_t k, int64_t d, int elem_bytes,
                    double fp16_tflops, double copy_tbps, bench_floor *out) {
  double points = (double)b * (double)n;
  out->flops = 2.0 * points * (double)k * (double)d;
  out->bytes = 2.0 * points * (double)d * elem_bytes + 8.0 * points +
               2.0 * (double)b * (double)k * (double)d * 4.0;
  out->ms_compute = out->flops / (fp16_tflops * 1e12) * 1e3;
  out->ms_memory = out->bytes / (copy_tbps * 1e12) * 1e3;
  out->ms = out->ms_compute > out->ms_memory ? out->ms_compute : out->ms_memory;
}
