/* CPU engine: blocked nearest-centroid assignment (split over threads) and inertia.
 *
 * The centroids of each batch are packed into panels of PANEL centroids stored [D][PANEL], so the
 * kernel keeps a 2 × PANEL tile of dot products in registers while it streams D. Points go in
 * blocks of BLOCK_N against centroid blocks of BLOCK_P panels, which keeps both tiles in cache.
 * Each dot product is summed in index order over D and candidates are visited in increasing
 * centroid index, so a point's label depends neither on the blocking nor on the thread count. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

#define PANEL 8
#define BLOCK_N 64
#define BLOCK_P 8
#define MAX_THREADS 16
#define MIN_WORK_PER_THREAD (1 << 21) /* multiply-adds below which a thread is not worth it */

/* Centroids of all batches packed: panel q of batch b is panel[(b·panels + q)·D·PANEL ...],
 * [D][PANEL], zero-padded past K; score_bias [B][panels·PANEL] is ‖c‖² for l2, 0 for cosine and
 * dot, +inf for padding (never wins). The score minimised is score_bias − 2·x·c. */
typedef struct {
  double *panel;
  double *score_bias;
  int64_t panels;
} packed_centroids;

/* One thread's share: the flat point range [begin, end) over B·N. */
typedef struct {
  const fkm__cpu_points *pts;
  const packed_centroids *pc;
  int64_t begin, end;
  int32_t *labels; /* [B][N] */
} assign_job;

static fkm_status pack(fkm_ctx *ctx, const fkm__cpu_points *pts, const double *c, int64_t k,
                       packed_centroids *pc) {
  int64_t d = pts->d, panels = (k + PANEL - 1) / PANEL;
  size_t slots = (size_t)pts->b * (size_t)panels * PANEL;
  pc->panels = panels;
  pc->panel = fkm__cpu_alloc(ctx, slots * (size_t)d, sizeof(double), "packed centroids");
  pc->score_bias = fkm__cpu_alloc(ctx, slots, sizeof(double), "centroid norms");
  if (!pc->panel || !pc->score_bias) return FKM_ERR_NOMEM;
  for (int64_t b = 0; b < pts->b; b++) {
    for (int64_t q = 0; q < panels; q++) {
      double *panel = pc->panel + (size_t)(b * panels + q) * (size_t)d * PANEL;
      double *bias = pc->score_bias + (size_t)(b * panels + q) * PANEL;
      for (int r = 0; r < PANEL; r++) {
        int64_t kk = q * PANEL + r;
        const double *row = c + (size_t)(b * k + kk) * (size_t)d;
        double ss = 0.0;
        for (int64_t j = 0; j < d; j++) {
          double v = kk < k ? row[j] : 0.0;
          panel[j * PANEL + r] = v;
          ss += v * v;
        }
        bias[r] = kk >= k ? INFINITY : pts->metric == FKM_METRIC_L2 ? ss : 0.0;
      }
    }
  }
  return FKM_OK;
}

/* Two fp64 lanes (GCC/Clang vector extension): each lane is computed exactly as scalar code would,
 * so results do not depend on the vector width. */
typedef double lanes2 __attribute__((vector_size(2 * sizeof(double))));

/* acc0/acc1[r] = x0·c_r and x1·c_r for the PANEL centroids of panel, summed over j in order. The
 * 2 × PANEL sums stay in registers. */
static void kernel_2xpanel(const double *restrict x0, const double *restrict x1,
                           const double *restrict panel, int64_t d, double *restrict acc0,
                           double *restrict acc1) {
  lanes2 s0[PANEL / 2] = {0}, s1[PANEL / 2] = {0};
  for (int64_t j = 0; j < d; j++, panel += PANEL) {
    lanes2 u = {x0[j], x0[j]}, v = {x1[j], x1[j]};
#pragma GCC unroll 4
    for (int r = 0; r < PANEL / 2; r++) {
      lanes2 c;
      memcpy(&c, panel + 2 * r, sizeof c);
      s0[r] += u * c;
      s1[r] += v * c;
    }
  }
  memcpy(acc0, s0, sizeof s0);
  memcpy(acc1, s1, sizeof s1);
}

/* Keeps the (score, index) minimum over one panel whose first centroid is base; strict < keeps
 * the lowest index on ties. */
static void pick(const double *acc, const double *bias, int64_t base, double *best,
                 int32_t *label) {
  for (int r = 0; r < PANEL; r++) {
    double s = bias[r] - 2.0 * acc[r];
    if (s < *best) {
      *best = s;
      *label = (int32_t)(base + r);
    }
  }
}

/* Labels of points [i0, i0 + m) of batch b, m ≤ BLOCK_N. */
static void assign_block(const assign_job *job, int64_t b, int64_t i0, int64_t m) {
  const fkm__cpu_points *pts = job->pts;
  const packed_centroids *pc = job->pc;
  int64_t d = pts->d;
  const double *x = pts->x + (size_t)(b * pts->n + i0) * (size_t)d;
  double best[BLOCK_N];
  int32_t label[BLOCK_N] = {0};
  for (int64_t i = 0; i < m; i++) best[i] = INFINITY;
  for (int64_t q0 = 0; q0 < pc->panels; q0 += BLOCK_P) {
    int64_t q1 = q0 + BLOCK_P < pc->panels ? q0 + BLOCK_P : pc->panels;
    for (int64_t i = 0; i < m; i += 2) {
      const double *x0 = x + (size_t)i * (size_t)d, *x1 = i + 1 < m ? x0 + d : x0;
      for (int64_t q = q0; q < q1; q++) {
        double acc0[PANEL], acc1[PANEL];
        size_t slot = (size_t)(b * pc->panels + q);
        kernel_2xpanel(x0, x1, pc->panel + slot * (size_t)d * PANEL, d, acc0, acc1);
        const double *bias = pc->score_bias + slot * PANEL;
        pick(acc0, bias, q * PANEL, &best[i], &label[i]);
        if (i + 1 < m) pick(acc1, bias, q * PANEL, &best[i + 1], &label[i + 1]);
      }
    }
  }
  memcpy(job->labels + b * pts->n + i0, label, (size_t)m * sizeof(int32_t));
}

static void *assign_range(void *arg) {
  const assign_job *job = arg;
  int64_t n = job->pts->n;
  for (int64_t f = job->begin; f < job->end;) {
    int64_t b = f / n, i = f % n;
    int64_t m = n - i < BLOCK_N ? n - i : BLOCK_N;
    if (m > job->end - f) m = job->end - f;
    assign_block(job, b, i, m);
    f += m;
  }
  return NULL;
}

/* Threads for this much work: the CPUs this process may run on, capped, and only where each gets
 * at least MIN_WORK_PER_THREAD multiply-adds. */
static int thread_count(const fkm__cpu_points *pts, int64_t k) {
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  double work = (double)pts->b * (double)pts->n * (double)k * (double)pts->d;
  int by_work = (int)fmin(work / MIN_WORK_PER_THREAD, MAX_THREADS);
  int t = cpus < by_work ? cpus : by_work;
  return t < 1 ? 1 : t > MAX_THREADS ? MAX_THREADS : t;
}

/* Runs the jobs on threads; a thread that cannot be started runs its job here instead. */
static void run_jobs(assign_job *jobs, int count) {
  pthread_t tid[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int t = 1; t < count; t++)
    started[t] = pthread_create(&tid[t], NULL, assign_range, &jobs[t]) == 0;
  assign_range(&jobs[0]);
  for (int t = 1; t < count; t++) {
    if (started[t])
      pthread_join(tid[t], NULL);
    else
      assign_range(&jobs[t]);
  }
}

fkm_status fkm__cpu_assign(fkm_ctx *ctx, const fkm__cpu_points *pts, const double *c, int64_t k,
                           int32_t *labels) {
  packed_centroids pc = {0};
  fkm_status s = pack(ctx, pts, c, k, &pc);
  if (s == FKM_OK) {
    int threads = thread_count(pts, k);
    int64_t total = pts->b * pts->n;
    assign_job jobs[MAX_THREADS];
    for (int t = 0; t < threads; t++)
      jobs[t] = (assign_job){pts, &pc, total * t / threads, total * (t + 1) / threads, labels};
    run_jobs(jobs, threads);
  }
  free(pc.panel);
  free(pc.score_bias);
  return s;
}

void fkm__cpu_inertia(const fkm__cpu_points *pts, const double *c, int64_t k, const int32_t *labels,
                      double *inertia) {
  int64_t d = pts->d;
  for (int64_t b = 0; b < pts->b; b++) {
    double sum = 0.0;
    for (int64_t i = 0; i < pts->n; i++) {
      const double *x = pts->x + (size_t)(b * pts->n + i) * (size_t)d;
      const double *cent = c + (size_t)(b * k + labels[b * pts->n + i]) * (size_t)d;
      double w = pts->w ? pts->w[b * pts->n + i] : 1.0;
      sum += w * fkm__cpu_sqdist(x, cent, d);
    }
    inertia[b] = sum;
  }
}
