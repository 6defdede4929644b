/* The assign kernel's configuration space: the cross product of the parameter values below. */
#include "space.h"

const int fkm__space_block_n[3] = {64, 128, 256};
const int fkm__space_block_k[4] = {32, 64, 128, 256};
const int fkm__space_block_d[3] = {32, 64, 128};
const int fkm__space_num_warps[2] = {4, 8};
const int fkm__space_num_stages[4] = {1, 2, 3, 4};

size_t fkm__space_size(void) { return 3 * 4 * 3 * 2 * 4; }

void fkm__space_apply(size_t i, fkm__kernel_spec *s) {
  s->num_stages = fkm__space_num_stages[i % 4], i /= 4;
  s->num_warps = fkm__space_num_warps[i % 2], i /= 2;
  s->block_d = fkm__space_block_d[i % 3], i /= 3;
  s->block_k = fkm__space_block_k[i % 4], i /= 4;
  s->block_n = fkm__space_block_n[i % 3];
}
