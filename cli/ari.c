/* Adjusted Rand index (Hubert & Arabie) from the exact contingency table. */
#include <math.h>
#include <stdlib.h>

#include "cli.h"

/* n choose 2, exact for n < 2^32. */
static int64_t pairs(int64_t n) { return n * (n - 1) / 2; }

/* Fills table[k][k] with the counts of (a, b) label pairs; -1 if a label is out of range. */
static int contingency(const int32_t *a, const int32_t *b, int64_t n, int64_t k, int64_t *table) {
  for (int64_t i = 0; i < n; i++) {
    if (a[i] < 0 || a[i] >= k || b[i] < 0 || b[i] >= k) return -1;
    table[a[i] * k + b[i]]++;
  }
  return 0;
}

double cli_adjusted_rand(const int32_t *a, const int32_t *b, int64_t n, int64_t k) {
  int64_t *table = calloc((size_t)(k * k), sizeof(int64_t));
  if (!table || contingency(a, b, n, k, table) != 0) {
    free(table);
    return NAN;
  }
  int64_t index = 0, rows = 0, cols = 0;
  for (int64_t i = 0; i < k; i++) {
    int64_t row = 0, col = 0;
    for (int64_t j = 0; j < k; j++) {
      index += pairs(table[i * k + j]);
      row += table[i * k + j];
      col += table[j * k + i];
    }
    rows += pairs(row);
    cols += pairs(col);
  }
  free(table);
  if (n < 2) return 1.0;
  long double expected = (long double)rows * (long double)cols / (long double)pairs(n);
  long double best = ((long double)rows + (long double)cols) / 2;
  if (best == expected) return 1.0; /* both labelings trivial: identical partitions */
  return (double)(((long double)index - expected) / (best - expected));
}
