/* The demo's synthetic data set and its initial centroids. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Centres are uniform in [-CENTRE_RANGE, CENTRE_RANGE]^D and at least MIN_SEPARATION apart,
 * more than 4 × the largest blob radius (σ = SIGMA), so farthest-first lands in every blob. A
 * centre gets MAX_ATTEMPTS draws; only a tiny D can exhaust them, and then the last draw stays. */
#define CENTRE_RANGE 10.0
#define MIN_SEPARATION 24.0
#define SIGMA 0.5
#define MAX_ATTEMPTS 10000

/* Counter streams: each kind of draw has its own, so the values never overlap. */
enum { STREAM_CENTRE = 1, STREAM_TRUTH = 2, STREAM_NOISE = 3, STREAM_FIRST = 4 };

static uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The counter-th 64-bit draw of a stream (counter < 2^56). */
static uint64_t draw(uint64_t seed, int stream, uint64_t counter) {
  return mix64(mix64(seed) ^ ((uint64_t)stream << 56 | counter));
}

/* Uniform in [0, 1). */
static double uniform(uint64_t seed, int stream, uint64_t counter) {
  return (double)(draw(seed, stream, counter) >> 11) * 0x1p-53;
}

/* Standard normal (Box-Muller on two draws). */
static double gaussian(uint64_t seed, uint64_t counter) {
  double u1 = 1.0 - uniform(seed, STREAM_NOISE, 2 * counter);
  double u2 = uniform(seed, STREAM_NOISE, 2 * counter + 1);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double squared_distance(const double *a, const double *b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

/* Centre c: the first draw at least MIN_SEPARATION from centres 0..c-1. */
static void place_centre(uint64_t seed, int64_t c, int64_t d, int64_t k, double *centres) {
  double *x = centres + c * d;
  for (int64_t t = 0; t < MAX_ATTEMPTS; t++) {
    for (int64_t j = 0; j < d; j++)
      x[j] = CENTRE_RANGE *
             (2.0 * uniform(seed, STREAM_CENTRE, (uint64_t)((t * k + c) * d + j)) - 1.0);
    int64_t near = 0;
    while (near < c &&
           squared_distance(x, centres + near * d, d) >= MIN_SEPARATION * MIN_SEPARATION)
      near++;
    if (near == c) return;
  }
}

int cli_blobs_generate(uint64_t seed, int64_t n, int64_t d, int64_t k, cli_blobs *out) {
  double *centres = malloc((size_t)(k * d) * sizeof(double));
  *out = (cli_blobs){n, d, k, malloc((size_t)(n * d) * sizeof(float)),
                     malloc((size_t)n * sizeof(int32_t))};
  if (!centres || !out->points || !out->truth) {
    free(centres);
    cli_blobs_free(out);
    return -1;
  }
  for (int64_t c = 0; c < k; c++) place_centre(seed, c, d, k, centres);
  for (int64_t i = 0; i < n; i++) {
    int32_t c = (int32_t)(draw(seed, STREAM_TRUTH, (uint64_t)i) % (uint64_t)k);
    out->truth[i] = c;
    for (int64_t j = 0; j < d; j++)
      out->points[i * d + j] =
          (float)(centres[c * d + j] + SIGMA * gaussian(seed, (uint64_t)(i * d + j)));
  }
  free(centres);
  return 0;
}

void cli_blobs_free(cli_blobs *b) {
  free(b->points);
  free(b->truth);
  b->points = NULL;
  b->truth = NULL;
}

/* Lowers dist[i] to the squared distance from point i to centre (sets it when first) and returns
 * the index of the largest dist (ties to the lower index). */
static int64_t update_farthest(const cli_blobs *b, const float *centre, double *dist, int first) {
  int64_t best = 0;
  for (int64_t i = 0; i < b->n; i++) {
    const float *x = b->points + i * b->d;
    double s = 0.0;
    for (int64_t j = 0; j < b->d; j++) s += ((double)x[j] - centre[j]) * ((double)x[j] - centre[j]);
    if (first || s < dist[i]) dist[i] = s;
    if (dist[i] > dist[best]) best = i;
  }
  return best;
}

int cli_farthest_first(const cli_blobs *b, uint64_t seed, float *centroids) {
  double *dist = malloc((size_t)b->n * sizeof(double));
  if (!dist) return -1;
  int64_t pick = (int64_t)(draw(seed, STREAM_FIRST, 0) % (uint64_t)b->n);
  for (int64_t c = 0; c < b->k; c++) {
    memcpy(centroids + c * b->d, b->points + pick * b->d, (size_t)b->d * sizeof(float));
    pick = update_farthest(b, centroids + c * b->d, dist, c == 0);
  }
  free(dist);
  return 0;
}
