/* Commands whose library support arrives with a later release. */
#include "cli.h"

int cli_cmd_pending(const char *command) {
  fprintf(stderr, "fkm %s: arrives with a later release (issue 5)\n", command);
  return CLI_EXIT_USAGE;
}
