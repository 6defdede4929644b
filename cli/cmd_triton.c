/* fkm triton inspect DIR | export DIR | import FILE: Triton compatibility (read-only inspection
 * of a Triton cache directory; tuning records to and from Triton autotune records). */
#include <string.h>

#include "cli.h"

typedef struct triton_args {
  const char *sub, *dir; /* dir: the DIR or FILE operand */
  const char *device;    /* import: NULL for device 0's name */
  int sm;                /* -1: the device's, when there is one */
  int d;                 /* import: D for keys without it, 0 when not given */
  long long batches;     /* import: B, default 1 */
  int json, quiet;
} triton_args;

typedef struct inspect_totals {
  int json;
  size_t count, launchable;
} inspect_totals;

static void print_json(const fkm_triton_kernel *k) {
  cli_json j;
  double sizes[256];
  int count = k->param_sizes && k->params <= 256 ? k->params : 0;
  for (int i = 0; i < count; i++) sizes[i] = k->param_sizes[i];
  cli_json_begin(&j, stdout);
  cli_json_string(&j, "dir", k->dir);
  cli_json_string(&j, "name", k->name);
  cli_json_string(&j, "hash", k->hash);
  cli_json_int(&j, "num_warps", k->num_warps);
  cli_json_int(&j, "num_ctas", k->num_ctas);
  cli_json_int(&j, "num_stages", k->num_stages);
  cli_json_int(&j, "shared", k->shared);
  cli_json_int(&j, "arch", k->arch);
  cli_json_int(&j, "params", k->params);
  cli_json_int(&j, "hidden_params", k->hidden_params);
  cli_json_numbers(&j, "param_sizes", sizes, count);
  cli_json_bool(&j, "launchable", k->launchable);
  cli_json_string(&j, "why", k->why);
  cli_json_end(&j);
}

static int print_kernel(const fkm_triton_kernel *k, void *user) {
  inspect_totals *t = user;
  t->count++, t->launchable += k->launchable != 0;
  if (t->json) {
    print_json(k);
    return 0;
  }
  const char *folder = strrchr(k->dir, '/');
  printf("%-16.16s %-32s arch %-3d warps %-2d stages %d shared %-7lld params %d (%d hidden)  %s%s\n",
         folder ? folder + 1 : k->dir, k->name[0] ? k->name : "?", k->arch, k->num_warps,
         k->num_stages, k->shared, k->params, k->hidden_params,
         k->launchable ? "launchable" : "not launchable: ", k->why);
  return 0;
}

/* The device's compute capability when a GPU is usable, else 0 (arch not checked). */
static int device_sm(fkm_ctx *ctx) {
  fkm_runtime_info info;
  return fkm_runtime_query(ctx, &info) == FKM_OK && info.gpu == FKM_OK ? info.sm : 0;
}

static int run_inspect(fkm_ctx *ctx, const triton_args *a) {
  inspect_totals t = {a->json, 0, 0};
  int sm = a->sm >= 0 ? a->sm : device_sm(ctx);
  fkm_status s = fkm_triton_inspect(ctx, a->dir, sm, print_kernel, &t);
  if (s != FKM_OK) return cli_fail_status(ctx, s, "triton inspect");
  if (!a->json)
    printf("%zu kernels, %zu launchable by fkm%s\n", t.count, t.launchable,
           sm ? "" : " (target arch not checked: no device and no --sm)");
  return CLI_EXIT_OK;
}

static int run_export(fkm_ctx *ctx, const triton_args *a) {
  size_t written;
  fkm_status s = fkm_tuning_export_triton(ctx, a->dir, &written);
  if (s != FKM_OK) return cli_fail_status(ctx, s, "triton export");
  if (!a->quiet) printf("%zu tuning records written as Triton autotune records under %s\n", written, a->dir);
  return CLI_EXIT_OK;
}

static int run_import(fkm_ctx *ctx, const triton_args *a) {
  fkm_runtime_info info = {0};
  if ((!a->device || a->sm < 0) && fkm_runtime_query(ctx, &info) != FKM_OK) info.gpu = FKM_ERR_NO_DEVICE;
  const char *device = a->device ? a->device : info.gpu == FKM_OK ? info.device_name : NULL;
  int sm = a->sm >= 0 ? a->sm : info.gpu == FKM_OK ? info.sm : 0;
  if (!device || sm <= 0 || a->d <= 0)
    return cli_usage_error("triton import: needs --d D, and --device NAME --sm XY without a GPU");
  fkm_config c;
  fkm_status s = fkm_tuning_import_triton(ctx, a->dir, device, sm, a->d, a->batches, &c);
  if (s != FKM_OK) return cli_fail_status(ctx, s, "triton import");
  if (!a->quiet)
    printf("imported BLOCK_N=%d BLOCK_K=%d BLOCK_D=%d num_warps=%d num_stages=%d for %s (sm_%d)\n",
           c.BLOCK_N, c.BLOCK_K, c.BLOCK_D, c.num_warps, c.num_stages, device, sm);
  return CLI_EXIT_OK;
}

/* Parses "SUB OPERAND [--sm XY] [--device NAME] [--d D] [--batches B] [--json] [--quiet]". 0 or
 * CLI_EXIT_USAGE (printed). */
static int parse(int argc, char **argv, triton_args *a) {
  *a = (triton_args){NULL, NULL, NULL, -1, 0, 1, 0, 0};
  for (int i = 0; i < argc; i++) {
    const char *w = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(w, "--json") == 0) a->json = 1;
    else if (strcmp(w, "--quiet") == 0) a->quiet = 1;
    else if (strcmp(w, "--device") == 0 && v) a->device = argv[++i];
    else if ((strcmp(w, "--sm") == 0 || strcmp(w, "--d") == 0 || strcmp(w, "--batches") == 0) && v) {
      int64_t x;
      if (cli_parse_range(argv[++i], 0, 1 << 30, &x))
        return cli_usage_error("triton: %s takes a count, not '%s'", w, v);
      if (w[2] == 's') a->sm = (int)x;
      else if (w[2] == 'd') a->d = (int)x;
      else a->batches = x > 0 ? x : 1;
    } else if (w[0] == '-') return cli_usage_error("triton: unknown option '%s'", w);
    else if (!a->sub) a->sub = w;
    else if (!a->dir) a->dir = w;
    else return cli_usage_error("triton: unexpected argument '%s'", w);
  }
  if (!a->sub || !a->dir)
    return cli_usage_error("triton: usage: fkm triton inspect DIR | export DIR | import FILE");
  return 0;
}

int cli_cmd_triton(int argc, char **argv) {
  triton_args a;
  if (argc == 1 && strcmp(argv[0], "--help") == 0) return cli_usage(stdout, "triton"), CLI_EXIT_OK;
  int rc = parse(argc, argv, &a);
  if (rc) return rc;
  static const struct {
    const char *name;
    int (*run)(fkm_ctx *, const triton_args *);
  } subs[] = {{"inspect", run_inspect}, {"export", run_export}, {"import", run_import}};
  size_t i = 0;
  while (i < 3 && strcmp(a.sub, subs[i].name) != 0) i++;
  if (i == 3) return cli_usage_error("triton: unknown subcommand '%s' (inspect, export or import)", a.sub);
  fkm_ctx *ctx;
  if (cli_ctx_create(&ctx, a.quiet) != 0) return CLI_EXIT_FAIL;
  rc = subs[i].run(ctx, &a);
  fkm_ctx_free(ctx);
  return rc;
}
