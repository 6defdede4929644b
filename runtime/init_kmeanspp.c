/* Greedy k-means++ seeding (scikit-learn's _kmeans_plusplus) on the engine's fp64 points.
 *
 * The exact procedure, per batch b, which the GPU engine (templates/seed.cu) follows to pick the
 * same points. Sums are of integers, so their order does not matter and every engine gets them
 * bitwise equal:
 *  - Terms. term_i = w_i · D²_i (one fp64 product), with w_i point i's sample weight (1 without
 *    weights) and D²_i the squared distance from point i to the closest centre picked so far (fp64,
 *    Σ_j (x_ij − c_j)² of explicit differences, one rounding per operation, in index order, on the
 *    points as the engine holds them: for cosine the normalised and rounded ones). Before the first
 *    pick term_i = w_i.
 *  - Quantisation. M = max_i term_i; with M > 0, σ = 62 − L − ilogb(M) where 2^L is the smallest
 *    power of two ≥ N, and q(v) = ⌊v · 2^σ⌋ as an unsigned 64-bit integer (ldexp, then truncation),
 *    so that each q(term_i) < 2^(63−L) and their sum Q < 2^63. Terms below M · 2^−(62−L) weigh 0.
 *  - Pick for a 53-bit uniform integer m: P_i = Σ_{j ≤ i} q(term_j), target = ⌊m · Q / 2^53⌋ < Q;
 *    the pick is the first i with P_i > target, so a point with q(term_i) = 0 (zero weight, or a
 *    centre already) is never picked. If Q = 0 (M = 0: every point of positive weight coincides
 *    with a centre) the pick is the lowest-index point of positive weight not picked yet.
 *  - Randomness. T = fkm__kmeanspp_trials(K) = 2 + ⌊ln K⌋. Step s (0 = first centre) draws trial t
 *    from m = fkm__uniform53(seed, b, s·T + t); step 0 draws once (t = 0).
 *  - Steps s = 1 … K−1: trial t's candidate c_t gets the potential Σ_i q(w_i · min(D²_i,
 *    ‖x_i − x_c‖²)) with the step's σ; the lowest potential wins, ties to the earlier trial; then
 *    D²_i = min(D²_i, ‖x_i − x_winner‖²). */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

int fkm__kmeanspp_trials(int64_t k) { return 2 + (int)floor(log((double)k)); }

int fkm__kmeanspp_sigma(double max_term, int64_t n) {
  int l = 0;
  while (((int64_t)1 << l) < n) l++;
  return 62 - l - ilogb(max_term);
}

uint64_t fkm__kmeanspp_quantise(double v, int sigma) { return (uint64_t)ldexp(v, sigma); }

uint64_t fkm__kmeanspp_target(uint64_t m, uint64_t total) {
  return (uint64_t)(((unsigned __int128)m * total) >> 53);
}

/* One batch and its scratch. */
typedef struct {
  const double *x;       /* [N][D] */
  const double *w;       /* [N], or NULL: every weight is 1 */
  int64_t n, d;
  double *d2;            /* [N]: squared distance to the closest centre so far */
  uint64_t *q;           /* [N]: quantised terms of the step */
  unsigned char *picked; /* [N]: 1 once the point is a centre */
  int sigma;             /* the step's scale; valid when total > 0 */
  uint64_t total;        /* Σ q */
} pp_batch;

static double weight(const pp_batch *pb, int64_t i) { return pb->w ? pb->w[i] : 1.0; }

static const double *row(const pp_batch *pb, int64_t i) { return pb->x + (size_t)i * (size_t)pb->d; }

static double term(const pp_batch *pb, int64_t i, int first) {
  return first ? weight(pb, i) : weight(pb, i) * pb->d2[i];
}

/* The step's σ, q and Q from the current terms. */
static void quantise_terms(pp_batch *pb, int first) {
  double max = 0.0;
  for (int64_t i = 0; i < pb->n; i++) max = fmax(max, term(pb, i, first));
  pb->total = 0;
  if (max == 0.0) return;
  pb->sigma = fkm__kmeanspp_sigma(max, pb->n);
  for (int64_t i = 0; i < pb->n; i++) {
    pb->q[i] = fkm__kmeanspp_quantise(term(pb, i, first), pb->sigma);
    pb->total += pb->q[i];
  }
}

/* The pick rule of the header comment for the 53-bit uniform m. */
static int64_t pick(const pp_batch *pb, uint64_t m) {
  if (pb->total > 0) {
    uint64_t target = fkm__kmeanspp_target(m, pb->total), prefix = 0;
    for (int64_t i = 0; i < pb->n; i++)
      if ((prefix += pb->q[i]) > target) return i;
  }
  for (int64_t i = 0; i < pb->n; i++)
    if (weight(pb, i) > 0.0 && !pb->picked[i]) return i;
  assert(0 && "options.c guarantees K points of positive weight");
  return 0;
}

/* Σ_i q(w_i · min(D²_i, ‖x_i − x_c‖²)) (0 when the step's total is 0: every trial ties). */
static uint64_t potential(const pp_batch *pb, int64_t c) {
  uint64_t s = 0;
  for (int64_t i = 0; i < pb->n && pb->total > 0; i++) {
    double dist = fkm__cpu_sqdist(row(pb, i), row(pb, c), pb->d);
    s += fkm__kmeanspp_quantise(weight(pb, i) * (dist < pb->d2[i] ? dist : pb->d2[i]), pb->sigma);
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
  quantise_terms(pb, 0);
  int64_t best = -1;
  uint64_t best_pot = 0;
  for (int t = 0; t < trials; t++) {
    int64_t c = pick(pb, fkm__uniform53(seed, b, (uint64_t)(s * trials + t)));
    uint64_t pot = potential(pb, c);
    if (best < 0 || pot < best_pot) best = c, best_pot = pot;
  }
  return best;
}

static void seed_batch(pp_batch *pb, int64_t k, uint64_t seed, int64_t b, int64_t *out) {
  int trials = fkm__kmeanspp_trials(k);
  memset(pb->picked, 0, (size_t)pb->n);
  quantise_terms(pb, 1);
  out[0] = pick(pb, fkm__uniform53(seed, b, 0));
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
                 fkm__cpu_alloc(ctx, n, sizeof(uint64_t), "k-means++ quantised terms"),
                 fkm__cpu_alloc(ctx, n, 1, "k-means++ picks"), 0, 0};
  fkm_status s = pb.d2 && pb.q && pb.picked ? FKM_OK : FKM_ERR_NOMEM;
  if (s == FKM_OK) seed_batch(&pb, k, seed, b, out);
  free(pb.d2);
  free(pb.q);
  free(pb.picked);
  return s;
}
