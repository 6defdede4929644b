/* k-means++ seeding on the device: the host drives K steps of stream-ordered kernels
 * (templates/seed.cu) over every batch at once, following runtime/init_kmeanspp.c's procedure. */
#include "gpu_run.h"

/* Dynamic shared memory of fkm_pp_potential: `group` candidate rows in fp32, `tile` padded point
 * rows, one u64 per trial and the fp64 queue of tile · group pairs. */
static size_t potential_bytes(const fkm__gpu_run *run, int tile, int group) {
  size_t row = (size_t)run->dp * run->esize;
  return (size_t)group * run->dp * 4 + (size_t)tile * (row + 16) + (size_t)group * 8 +
         (size_t)tile * group * 4;
}

/* Largest tile (≤ 256 points, one a thread) and trial group that fit the device's shared memory
 * (less 16 bytes for the kernel's static queue count): the group shrinks first while the
 * candidates outweigh the tile. 0 when one candidate and one point do not fit. */
static int potential_plan(const fkm__gpu_run *run, int *tile, int *group) {
  size_t row = (size_t)run->dp * run->esize;
  *tile = 256, *group = run->trials;
  while (potential_bytes(run, *tile, *group) > run->g->shared_optin - 16) {
    if (*group > 1 && (size_t)*group * run->dp * 4 >= (size_t)*tile * (row + 16))
      *group = (*group + 1) / 2;
    else if (*tile > 1)
      *tile /= 2;
    else if (*group > 1)
      *group = (*group + 1) / 2;
    else
      return 0;
  }
  return 1;
}

static fkm_status add_centre(fkm__gpu_run *run, int first, int64_t step) {
  unsigned blocks = (unsigned)((run->n + 255) / 256);
  FKM__LAUNCH(run, run->kern.pp_add_centre, blocks, (unsigned)run->b, 256, 0, &run->x, &run->w,
              &run->d2, &run->idx, &run->pp, &run->closer, &run->n, &run->k, &first, &step);
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

static fkm_status potentials(fkm__gpu_run *run, int tile, int group) {
  unsigned tiles = (unsigned)((run->n + tile - 1) / tile);
  unsigned groups = (unsigned)((run->trials + group - 1) / group);
  void *args[] = {&run->x, &run->w, &run->d2, &run->pp, &run->cand, &run->pot, &run->closer,
                  &run->n, &run->trials, &tile, &group};
  FKM_CU_TRY(run->ctx, run->cu,
             cuLaunchKernel(run->kern.pp_potential, tiles, (unsigned)run->b, groups, 256, 1, 1,
                            (unsigned)potential_bytes(run, tile, group), run->stream, args, NULL));
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

fkm_status fkm__run_kmeanspp(fkm__gpu_run *run, uint64_t seed) {
  int tile, group;
  if (run->trials > 32) /* the closer bits: 2 + ⌊ln K⌋ > 32 needs K > e^30 */
    return fkm__error(run->ctx, FKM_ERR_UNSUPPORTED, "k-means++ on the GPU: K = %lld is too large",
                      (long long)run->k);
  if (!potential_plan(run, &tile, &group))
    return fkm__error(run->ctx, FKM_ERR_UNSUPPORTED,
                      "k-means++ on the GPU: a row of D = %lld does not fit shared memory",
                      (long long)run->d);
  size_t shared = potential_bytes(run, tile, group);
  if (shared > 48 * 1024)
    FKM_CU_TRY(run->ctx, run->cu,
               cuFuncSetAttribute(run->kern.pp_potential,
                                  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)shared));
  fkm_status st = clear_state(run);
  if (st == FKM_OK) st = add_centre(run, 1, 0);
  for (int64_t s = 0; s < run->k && st == FKM_OK; s++) {
    st = draw(run, seed, s);
    if (st == FKM_OK && s > 0) st = potentials(run, tile, group);
    if (st == FKM_OK) st = choose(run, s);
    if (st == FKM_OK && s + 1 < run->k) st = add_centre(run, 0, s);
  }
  return st == FKM_OK ? fkm__run_gather(run) : st;
}
