/* Greedy k-means++ seeding (scikit-learn's _kmeans_plusplus) on the engine's fp64 points.
 *
 * The exact procedure, per batch b, which a GPU implementation must follow to pick the same points:
 *  - Terms. term_i = w_i · D²_i, with w_i point i's sample weight (1 without weights) and D²_i the
 *    squared distance from point i to the closest centre picked so far (fp64, Σ_j (x_ij − c_j)² of
 *    explicit differences in index order, on the points as the engine holds them: for cosine the
 *    normalised and rounded ones). Before the first pick term_i = w_i.
 *  - Pick for a uniform u in [0, 1): P_i = inclusive prefix sum of the terms in index order (fp64),
 *    total = P_{N−1}, target = u · total (fp64); the pick is the first i with P_i > target, or, if no
 *    P_i exceeds it (rounding can make target = total), the first i with P_i = total. If total = 0
 *    (every point of positive weight coincides with a centre) the pick is the lowest-index point of
 *    positive weight not picked yet. A point with term_i = 0 is thus never picked, nor is a
 *    zero-weight point ever.
 *  - Randomness. T = fkm__kmeanspp_trials(K) = 2 + ⌊ln K⌋. Step s (0 = first centre) draws trial t
 *    from u = fkm__uniform01(seed, b, s·T + t); step 0 draws once (t = 0).
 *  - Steps s = 1 … K−1: trial t's candidate c_t gets the potential Σ_i w_i · min(D²_i, ‖x_i − x_c‖²)
 *    (fp64, index order); the lowest potential wins, ties to the earlier trial; then
 *    D²_i = min(D²_i, ‖x_i − x_winner‖²). */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

int fkm__kmeanspp_trials(int64_t k) { return 2 + (int)floor(log((double)k)); }

/* One batch and its scratch. */
typedef struct {
  const double *x;       /* [N][D] */
  const double *w;       /* [N], or NULL: every weight is 1 */
  int64_t n, d;
  double *d2;            /* [N]: squared distance to the closest centre so far */
  double *prefix;        /* [N]: inclusive prefix sums of the terms */
  unsigned char *picked; /* [N]: 1 once the point is a centre */
} pp_batch;

static double weight(const pp_batch *pb, int64_t i) { return pb->w ? pb->w[i] : 1.0; }

static const double *row(const pp_batch *pb, int64_t i) { return pb->x + (size_t)i * (size_t)pb->d; }

/* prefix[i] = Σ_{j ≤ i} term_j; first: the terms are the weights alone. */
static void prefix_sums(pp_batch *pb, int first) {
  double s = 0.0;
  for (int64_t i = 0; i < pb->n; i++) {
    s += first ? weight(pb, i) : weight(pb, i) * pb->d2[i];
    pb->prefix[i] = s;
  }
}

/* First i with prefix[i] > target (or ≥ target when at_least), N if none. */
static int64_t first_above(const pp_batch *pb, double target, int at_least) {
  int64_t lo = 0, hi = pb->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    double v = pb->prefix[mid];
    if (at_least ? v >= target : v > target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* The pick rule of the header comment for uniform u (prefix sums already current). */
static int64_t pick(const pp_batch *pb, double u) {
  double total = pb->prefix[pb->n - 1];
  if (total > 0.0) {
    int64_t i = first_above(pb, u * total, 0);
    return i < pb->n ? i : first_above(pb, total, 1);
  }
  for (int64_t i = 0; i < pb->n; i++)
    if (weight(pb, i) > 0.0 && !pb->picked[i]) return i;
  assert(0 && "options.c guarantees K points of positive weight");
  return 0;
}

/* Σ_i w_i · min(D²_i, ‖x_i − x_c‖²). */
static double potential(const pp_batch *pb, int64_t c) {
  double s = 0.0;
  for (int64_t i = 0; i < pb->n; i++) {
    double dist = fkm__cpu_sqdist(row(pb, i), row(pb, c), pb->d);
    s += weight(pb, i) * (dist < pb->d2[i] ? dist : pb->d2[i]);
  }
  return s;
}

/* Makes point c a centre: D²_i = ‖x_i − x_c‖² (first) or min(D²_i, ‖x_i − x_c‖²). */
static void add_centre(pp_batch *pb, int64_t c, int first) {
  pb->picked[c] = 1;
  for (int64_t i = 0; i < pb->n; i++) {
    double dist = fkm__cpu_sqdist(row(pb, i), row(pb, c), pb->d);
    if (first || dist < pb->d2[i]) pb->d2[i] = dist;
  }
}

/* Step s ≥ 1: the winning candidate of T trials. */
static int64_t best_trial(pp_batch *pb, uint64_t seed, int64_t b, int64_t s, int trials) {
  prefix_sums(pb, 0);
  int64_t best = -1;
  double best_pot = INFINITY;
  for (int t = 0; t < trials; t++) {
    int64_t c = pick(pb, fkm__uniform01(seed, b, (uint64_t)(s * trials + t)));
    double pot = potential(pb, c);
    if (best < 0 || pot < best_pot) best = c, best_pot = pot;
  }
  return best;
}

static void seed_batch(pp_batch *pb, int64_t k, uint64_t seed, int64_t b, int64_t *out) {
  int trials = fkm__kmeanspp_trials(k);
  memset(pb->picked, 0, (size_t)pb->n);
  prefix_sums(pb, 1);
  out[0] = pick(pb, fkm__uniform01(seed, b, 0));
  add_centre(pb, out[0], 1);
  for (int64_t s = 1; s < k; s++) {
    out[s] = best_trial(pb, seed, b, s, trials);
    add_centre(pb, out[s], 0);
  }
}

fkm_status fkm__kmeanspp_indices(fkm_ctx *ctx, const fkm__cpu_points *pts, int64_t b, int64_t k,
                                 uint64_t seed, int64_t *out) {
  size_t n = (size_t)pts->n;
  pp_batch pb = {pts->x + (size_t)b * n * (size_t)pts->d, pts->w ? pts->w + (size_t)b * n : NULL,
                 pts->n, pts->d, fkm__cpu_alloc(ctx, n, sizeof(double), "k-means++ distances"),
                 fkm__cpu_alloc(ctx, n, sizeof(double), "k-means++ prefix sums"),
                 fkm__cpu_alloc(ctx, n, 1, "k-means++ picks")};
  fkm_status s = pb.d2 && pb.prefix && pb.picked ? FKM_OK : FKM_ERR_NOMEM;
  if (s == FKM_OK) seed_batch(&pb, k, seed, b, out);
  free(pb.d2);
  free(pb.prefix);
  free(pb.picked);
  return s;
}
