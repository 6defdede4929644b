/* Uniform fp16 benchmark points in [-1, 1), filled on every core (the values do not change the
 * work of exact Lloyd). Header-only: bench programs are single files. */
#ifndef FKM_BENCH_FILL_H
#define FKM_BENCH_FILL_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct fill_job {
  uint16_t *x;
  size_t first, count;
} fill_job;

/* fp16 bits of v in [-1, 1), rounded toward zero (|v| ≥ 2^-14: normal halves only). */
static uint16_t half_bits(float v) {
  uint32_t f;
  memcpy(&f, &v, 4);
  uint32_t sign = (f >> 16) & 0x8000u, exp = (f >> 23) & 0xff;
  if (exp < 113) return (uint16_t)sign;
  return (uint16_t)(sign | ((exp - 112) << 10) | ((f >> 13) & 0x3ffu));
}

static void *fill(void *arg) {
  fill_job *j = arg;
  uint64_t s = 0x9e3779b97f4a7c15ull * (j->first + 1);
  for (size_t i = 0; i < j->count; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    j->x[j->first + i] = half_bits((float)((double)(s >> 11) * 0x1p-52 - 1.0));
  }
  return NULL;
}

/* x [count] = uniform fp16 values in [-1, 1), from a fixed generator (the same every run). */
static void fill_all(uint16_t *x, size_t count) {
  enum { MAX_THREADS = 64 };
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
  pthread_t t[MAX_THREADS];
  fill_job jobs[MAX_THREADS];
  for (int i = 0; i < threads; i++) {
    size_t a = count * (size_t)i / (size_t)threads, b = count * (size_t)(i + 1) / (size_t)threads;
    jobs[i] = (fill_job){x, a, b - a};
    pthread_create(&t[i], NULL, fill, &jobs[i]);
  }
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
}

#endif
