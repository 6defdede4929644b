/* fkm: the command. Dispatches to one file per command; 'fkm' alone runs the demo. */
#include <string.h>

#include "cli.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
} commands[] = {{"run", cli_cmd_run},
                {"predict", cli_cmd_predict},
                {"demo", cli_cmd_demo},
                {"info", cli_cmd_info},
                {"cache", cli_cmd_cache},
                {"triton", cli_cmd_triton},
                {"tune", cli_cmd_tune},
                {"bench", cli_cmd_bench}};

/* fkm help [COMMAND] */
static int help(int argc, char **argv) {
  if (argc > 1) return cli_usage_error("help: unexpected argument '%s'", argv[1]);
  if (cli_usage(stdout, argc ? argv[0] : NULL) != 0)
    return cli_usage_error("help: unknown command '%s' (see 'fkm help')", argv[0]);
  return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
  if (argc < 2) return cli_cmd_demo(0, argv + 1);
  const char *name = argv[1];
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 2, argv + 2);
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
    return help(argc - 2, argv + 2);
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("fkm %s\n", fkm_version_string());
    return CLI_EXIT_OK;
  }
  return cli_usage_error("unknown command '%s' (see 'fkm help')", name);
}
