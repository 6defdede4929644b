/* fkm cache list | verify | clear | export FILE | import FILE | prebuild: the user kernel cache. */
#include <string.h>

#include "cli.h"

typedef struct cache_args {
  const char *file;                   /* export, import */
  const char *sm, *d, *dtype, *metric; /* prebuild */
  int json, quiet, help;
} cache_args;

typedef struct subcommand {
  const char *name;
  int takes_file, takes_json, takes_build;
  int (*run)(fkm_ctx *ctx, const cache_args *a);
} subcommand;

/* ---- subcommands ------------------------------------------------------------------------------ */

typedef struct list_state {
  int json;
  size_t count, bytes;
} list_state;

static int print_entry(const fkm_cache_entry *e, void *user) {
  list_state *st = user;
  st->count++;
  st->bytes += e->bytes;
  if (!st->json) {
    printf("%s  %-8s %-5s %-6s D=%-5d %-7s %8zu  %s\n", e->key, e->kind, e->dtype, e->metric, e->d,
           e->arch, e->bytes, e->name);
    return 0;
  }
  cli_json j;
  cli_json_begin(&j, stdout);
  cli_json_string(&j, "key", e->key);
  cli_json_string(&j, "name", e->name);
  cli_json_string(&j, "kind", e->kind);
  cli_json_string(&j, "dtype", e->dtype);
  cli_json_string(&j, "metric", e->metric);
  cli_json_int(&j, "d", e->d);
  cli_json_string(&j, "arch", e->arch);
  cli_json_uint(&j, "bytes", e->bytes);
  cli_json_end(&j);
  return 0;
}

static int count_entry(const fkm_cache_entry *e, void *user) {
  (void)e;
  ((list_state *)user)->count++;
  return 0;
}

static int run_list(fkm_ctx *ctx, const cache_args *a) {
  list_state st = {a->json, 0, 0};
  fkm_status s = fkm_cache_list(ctx, print_entry, &st);
  if (s != FKM_OK) return cli_fail_status(ctx, s, "cache list");
  if (!a->json) printf("%zu kernels, %zu bytes\n", st.count, st.bytes);
  return CLI_EXIT_OK;
}

static int run_verify(fkm_ctx *ctx, const cache_args *a) {
  list_state st = {0, 0, 0};
  size_t bad = 0;
  fkm_status s = fkm_cache_list(ctx, count_entry, &st);
  if (s == FKM_OK) s = fkm_cache_verify(ctx, &bad);
  if (s != FKM_OK) return cli_fail_status(ctx, s, "cache verify");
  if (a->json) {
    cli_json j;
    cli_json_begin(&j, stdout);
    cli_json_uint(&j, "intact", st.count);
    cli_json_uint(&j, "damaged", bad);
    cli_json_end(&j);
  } else {
    printf("%zu intact, %zu damaged\n", st.count, bad);
  }
  return bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int run_clear(fkm_ctx *ctx, const cache_args *a) {
  (void)a;
  fkm_status s = fkm_cache_clear(ctx);
  return s == FKM_OK ? CLI_EXIT_OK : cli_fail_status(ctx, s, "cache clear");
}

static int run_export(fkm_ctx *ctx, const cache_args *a) {
  fkm_status s = fkm_cache_export(ctx, a->file);
  return s == FKM_OK ? CLI_EXIT_OK : cli_fail_status(ctx, s, "cache export");
}

static int run_import(fkm_ctx *ctx, const cache_args *a) {
  fkm_status s = fkm_cache_import(ctx, a->file);
  return s == FKM_OK ? CLI_EXIT_OK : cli_fail_status(ctx, s, "cache import");
}

static int run_prebuild(fkm_ctx *ctx, const cache_args *a) {
  fkm_prebuild_spec spec;
  fkm_prebuild_spec_init(&spec);
  if (!a->sm || !a->d) return cli_usage_error("cache prebuild: --sm and --d are required");
  spec.archs = a->sm;
  spec.dims = a->d;
  if (a->dtype) spec.dtypes = a->dtype;
  if (a->metric) spec.metrics = a->metric;
  fkm_status s = fkm_cache_prebuild(ctx, &spec);
  return s == FKM_OK ? CLI_EXIT_OK : cli_fail_status(ctx, s, "cache prebuild");
}

static const subcommand subcommands[] = {
    {"list", 0, 1, 0, run_list},         {"verify", 0, 1, 0, run_verify},
    {"clear", 0, 0, 0, run_clear},       {"export", 1, 0, 0, run_export},
    {"import", 1, 0, 0, run_import},     {"prebuild", 0, 0, 1, run_prebuild}};

/* ---- arguments -------------------------------------------------------------------------------- */

/* The field of a prebuild option with a value, or NULL. */
static const char **build_option(cache_args *a, const char *name, size_t len) {
  static const char *const names[] = {"--sm", "--d", "--dtype", "--metric"};
  const char **fields[] = {&a->sm, &a->d, &a->dtype, &a->metric};
  for (int i = 0; i < 4; i++)
    if (strlen(names[i]) == len && strncmp(name, names[i], len) == 0) return fields[i];
  return NULL;
}

static int parse_option(const subcommand *c, int argc, char **argv, int *i, cache_args *a) {
  const char *word = argv[*i];
  size_t len = strcspn(word, "=");
  const char **field = c->takes_build ? build_option(a, word, len) : NULL;
  if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0)
    a->help = 1;
  else if (strcmp(word, "--quiet") == 0)
    a->quiet = 1;
  else if (strcmp(word, "--json") == 0 && c->takes_json)
    a->json = 1;
  else if (!field)
    return cli_usage_error("cache %s: unknown option '%s' (see 'fkm help cache')", c->name, word);
  else if (word[len] == '=')
    *field = word + len + 1;
  else if (*i + 1 < argc)
    *field = argv[++*i];
  else
    return cli_usage_error("cache %s: option '%.*s' needs a value", c->name, (int)len, word);
  return 0;
}

static int parse(const subcommand *c, int argc, char **argv, cache_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1]) {
      int rc = parse_option(c, argc, argv, &i, a);
      if (rc) return rc;
    } else if (c->takes_file && !a->file) {
      a->file = argv[i];
    } else {
      return cli_usage_error("cache %s: unexpected argument '%s'", c->name, argv[i]);
    }
  }
  if (c->takes_file && !a->file && !a->help)
    return cli_usage_error("cache %s: a FILE is required", c->name);
  return 0;
}

int cli_cmd_cache(int argc, char **argv) {
  if (argc < 1)
    return cli_usage_error("cache: which one? list, verify, clear, export FILE, import FILE or "
                           "prebuild (see 'fkm help cache')");
  if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
    cli_usage(stdout, "cache");
    return CLI_EXIT_OK;
  }
  const subcommand *c = NULL;
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
    if (strcmp(argv[0], subcommands[i].name) == 0) c = &subcommands[i];
  if (!c) return cli_usage_error("cache: unknown subcommand '%s' (see 'fkm help cache')", argv[0]);
  cache_args a;
  fkm_ctx *ctx = NULL;
  int rc = parse(c, argc - 1, argv + 1, &a);
  if (!rc && a.help) {
    cli_usage(stdout, "cache");
    return CLI_EXIT_OK;
  }
  if (!rc) rc = cli_ctx_create(&ctx, a.quiet);
  if (!rc) rc = c->run(ctx, &a);
  fkm_ctx_free(ctx);
  return rc;
}
