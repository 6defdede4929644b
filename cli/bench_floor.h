/* The floor of one Lloyd iteration on a card of measured rates (SPEC §8), for fkm bench's table
 * and JSON; its own header so that a test suite links it. */
#ifndef FKM_BENCH_FLOOR_H
#define FKM_BENCH_FLOOR_H

#include <stdint.h>

/* A card's measured rates. SPEC §8's anchors, measured on an H100 80GB HBM3, are the defaults of
 * fkm bench: dense fp16 matmul 730 TFLOP/s, device copy 2.97 TB/s (bytes read plus written). */
#define BENCH_H100_FP16_TFLOPS 730.0
#define BENCH_H100_COPY_TBPS 2.97

typedef struct bench_floor {
  double flops;      /* 2·B·N·K·D, the assignment's dot products */
  double bytes;      /* see bench_floor_of */
  double ms_compute; /* flops at the dense fp16 rate */
  double ms_memory;  /* bytes at the copy bandwidth */
  double ms;         /* the larger of the two */
} bench_floor;

/* The floor of one iteration of B batches of N points of D values each `elem_bytes` wide (the
 * compute dtype's) and K clusters, at fp16_tflops and copy_tbps (both > 0). Bytes as SPEC §8's
 * memory floor counts them: the points read twice (by the assign and by the update), the labels
 * written and read (4 bytes each), the fp32 centroids read and written. Every compute dtype is
 * held against the fp16 rate, as SPEC §8's table holds fp32 (TF32). */
void bench_floor_of(int64_t b, int64_t n, int64_t k, int64_t d, int elem_bytes,
                    double fp16_tflops, double copy_tbps, bench_floor *out);

#endif
