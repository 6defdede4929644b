/* Fork-join over a few host threads, for the passes over the caller's arrays (finite check,
 * staging copies). */
#include <pthread.h>
#include <unistd.h>

#include "internal.h"

size_t fkm__parallel_threads(size_t work, size_t per_thread, size_t cap) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  size_t threads = work / per_thread + 1;
  if (cores > 0 && threads > (size_t)cores) threads = (size_t)cores;
  return threads < cap ? threads : cap;
}

void fkm__parallel_for(void *(*fn)(void *), void *jobs, size_t size, size_t count) {
  pthread_t tid[FKM__PARALLEL_MAX];
  int threaded[FKM__PARALLEL_MAX] = {0};
  if (count > FKM__PARALLEL_MAX) count = FKM__PARALLEL_MAX;
  for (size_t i = 1; i < count; i++)
    threaded[i] = pthread_create(&tid[i], NULL, fn, (char *)jobs + i * size) == 0;
  for (size_t i = 0; i < count; i++)
    if (!threaded[i]) fn((char *)jobs + i * size); /* job 0, and any whose thread did not start */
  for (size_t i = 1; i < count; i++)
    if (threaded[i]) pthread_join(tid[i], NULL);
}
