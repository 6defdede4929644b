/* The assign kernel's configuration space (Triton vocabulary) and its bounds. */
#ifndef FKM_SPACE_H
#define FKM_SPACE_H

#include <stddef.h>

#include "spec.h"

/* Values each tuning parameter takes. */
extern const int fkm__space_block_n[3], fkm__space_block_k[4], fkm__space_block_d[3],
    fkm__space_num_warps[2], fkm__space_num_stages[4];

/* Number of configurations in the space (the cross product of the arrays above). */
size_t fkm__space_size(void);

/* Writes configuration i (0 ≤ i < fkm__space_size()) into spec's tile fields. */
void fkm__space_apply(size_t i, fkm__kernel_spec *spec);

#endif
