/* Spec lists shared by the codegen suites: the D values, dtypes and targets of the issue. */
#ifndef FKM_TEST_CODEGEN_CASES_H
#define FKM_TEST_CODEGEN_CASES_H

#include "spec.h"

static const int codegen_dims[] = {1, 8, 17, 64, 96, 128, 130, 256, 512, 1000, 1024, 2048};
static const fkm_dtype codegen_dtypes[] = {FKM_DTYPE_FP16, FKM_DTYPE_BF16, FKM_DTYPE_FP32};
static const struct {
  int sm, a;
} codegen_targets[] = {{80, 0}, {86, 0}, {89, 0}, {90, 0}, {90, 1}, {100, 0}, {120, 0}};

#define FKM_PINNED_ID "h43b4cf81aa5fe3fa"
#define CODEGEN_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
