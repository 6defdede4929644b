/* k-means++ seeding on the device: the host drives K steps of stream-ordered kernels
 * (templates/seed.cu) over every batch at once, following runtime/init_kmeanspp.c's procedure. */
#include "gpu_run.h"

static fkm_status add_centre(fkm__gpu_run *run, int first, int64_t step) {
  unsigned blocks = (unsigned)((run->n + FKM__PP_SPAN * 256 - 1) / (FKM__PP_SPAN * 256));
  FKM__LAUNCH(run, run->kern.pp_add_centre, blocks, (unsigned)run->b, 256, 0, &run->x, &run->w,
              &run->d2, &run->labels, &run->pp_xside, &run->idx, &run->pp, &run->closer,
              &run->pp_near, &run->pp_near_t, &run->n, &run->k, &first, &step);
  return FKM_OK;
}

/* Chunk sums, then the step's candidates (one trial at step 0). */
static fkm_status draw(fkm__gpu_run *run, uint64_t seed, int64_t step) {
  int first = step == 0, step_trials = first ? 1 : run->trials;
  FKM__LAUNCH(run, run->kern.pp_chunk_sums, (unsigned)run->pp_chunks, (unsigned)run->b, 256, 0,
              &run->w, &run->d2, &run->pp, &run->pp_chunk, &run->n, &first);
  FKM__LAUNCH(run, run->kern.pp_pick, (unsigned)step_trials, (unsigned)run->b, 256, 0, &run->w,
              &run->d2, &run->picked, &run->pp, &run->pp_chunk, &run->cand, &run->n,
              &run->pp_chunks, &first, &seed, &step, &run->trials);
  return FKM_OK;
}

/* The gaps from the step's candidates to the centres so far, then the potentials (what each
 * candidate takes from Q) and the closer bits. */
static fkm_status potentials(fkm__gpu_run *run, int64_t step) {
  int64_t warp_tiles = (run->n + 31) / 32,
          resident = (int64_t)run->g->multiprocessors * FKM__PP_POTENTIAL_BLOCKS / run->b;
  int64_t blocks = (warp_tiles + 7) / 8; /* 8 warps a block */
  if (blocks > resident) blocks = resident > 0 ? resident : 1;
  unsigned pairs = (unsigned)((step * run->trials + 7) / 8); /* a warp a pair */
  FKM__LAUNCH(run, run->kern.pp_gaps, pairs, (unsigned)run->b, 256, 0, &run->x, &run->pp_xside,
              &run->idx, &run->cand, &run->pp_gap, &run->pp_side, &run->n, &run->k, &run->trials,
              &step);
  FKM__LAUNCH(run, run->kern.pp_potential, (unsigned)blocks, (unsigned)run->b, 256,
              (unsigned)(256 * run->trials * 4), &run->x, &run->w, &run->d2, &run->labels,
              &run->pp_xside, &run->pp_gap, &run->pp_side, &run->pp, &run->cand, &run->pot,
              &run->closer, &run->pp_near, &run->pp_near_t, &run->n, &run->k, &run->trials);
  return FKM_OK;
}

static fkm_status choose(fkm__gpu_run *run, int64_t step) {
  int step_trials = step == 0 ? 1 : run->trials;
  FKM__LAUNCH(run, run->kern.pp_choose, (unsigned)run->b, 1, 32, 0, &run->cand, &run->pot,
              &run->pp, &run->picked, &run->idx, &run->n, &run->k, &step, &run->trials,
              &step_trials);
  return FKM_OK;
}

static fkm_status clear_state(fkm__gpu_run *run) {
  size_t B = (size_t)run->b;
  FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(run->pp, 0, B * FKM__PP_BYTES, run->stream));
  FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(run->pot, 0, B * (size_t)run->trials * 8, run->stream));
  FKM_CU_TRY(run->ctx, run->cu, cuMemsetD8Async(run->picked, 0, B * (size_t)run->n, run->stream));
  FKM_CU_TRY(run->ctx, run->cu, cuMemsetD32Async(run->closer, 0, B * (size_t)run->n, run->stream));
  return FKM_OK;
}

/* The picks into idx, then their rows gathered into c32. The nearest-centre steps live in
 * run->labels until the first assign overwrites them. */
fkm_status fkm__run_kmeanspp(fkm__gpu_run *run, uint64_t seed) {
  if (run->trials > 32) /* the closer bits: 2 + ⌊ln K⌋ > 32 needs K > e^30 */
    return fkm__error(run->ctx, FKM_ERR_UNSUPPORTED, "k-means++ on the GPU: K = %lld is too large",
                      (long long)run->k);
  fkm_status st = clear_state(run);
  if (st == FKM_OK) st = add_centre(run, 1, 0);
  for (int64_t s = 0; s < run->k && st == FKM_OK; s++) {
    st = draw(run, seed, s);
    if (st == FKM_OK && s > 0) st = potentials(run, s);
    if (st == FKM_OK) st = choose(run, s);
    if (st == FKM_OK && s + 1 < run->k) st = add_centre(run, 0, s);
  }
  return st == FKM_OK ? fkm__run_gather(run) : st;
}
