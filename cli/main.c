#include <stdio.h>
#include "fkm.h"
int main(void) { printf("fkm %s\n", fkm_version_string()); return 0; }
