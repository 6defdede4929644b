/* fkm info: version, driver, NVRTC, devices, GPU engine availability, cache root. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct info_state {
  fkm_runtime_info rt;
  char why_not[1024];    /* why the GPU engine cannot run, "" when it can */
  char cache_root[1024]; /* "" when there is no disk cache */
  const char *cache_source;
} info_state;

/* The detail an explicit GPU request reports (fkm_runtime_info carries only the status): the
 * request is refused before any work, so it only reads the reason. */
static void gpu_failure_detail(fkm_ctx *ctx, fkm_status gpu, char *buf, size_t len) {
  float x = 1.0f, c = 1.0f;
  int32_t label;
  fkm_options o;
  fkm_options_init(&o);
  o.k = 1;
  o.engine = FKM_ENGINE_GPU;
  fkm_points p = {&x, FKM_DTYPE_FP32, 1, 1, 1};
  fkm_status s = fkm_predict(ctx, &p, &c, &o, &label, NULL);
  const char *detail = s != FKM_OK ? fkm_ctx_last_error(ctx) : "";
  snprintf(buf, len, "%s", detail[0] ? detail : fkm_status_message(gpu));
}

/* The cache root as SPEC §4 defines it: $FKM_CACHE_DIR (empty: disabled), else
 * $XDG_CACHE_HOME/fkm, else ~/.cache/fkm. */
static void find_cache_root(info_state *st) {
  const char *fkm = getenv("FKM_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
             *home = getenv("HOME");
  st->cache_root[0] = '\0';
  if (fkm && !fkm[0]) {
    st->cache_source = "disabled: FKM_CACHE_DIR is set and empty";
  } else if (fkm) {
    snprintf(st->cache_root, sizeof st->cache_root, "%s", fkm);
    st->cache_source = "$FKM_CACHE_DIR";
  } else if (xdg && xdg[0]) {
    snprintf(st->cache_root, sizeof st->cache_root, "%s/fkm", xdg);
    st->cache_source = "$XDG_CACHE_HOME/fkm";
  } else if (home && home[0]) {
    snprintf(st->cache_root, sizeof st->cache_root, "%s/.cache/fkm", home);
    st->cache_source = "~/.cache/fkm";
  } else {
    st->cache_source = "none: neither XDG_CACHE_HOME nor HOME is set";
  }
}

static void print_text(const info_state *st) {
  const fkm_runtime_info *rt = &st->rt;
  printf("fkm %s\n", fkm_version_string());
  if (rt->driver == FKM_OK)
    printf("driver: CUDA %d.%d (%d)\n", rt->driver_version / 1000, rt->driver_version % 1000 / 10,
           rt->driver_version);
  else
    printf("driver: %s\n", st->why_not);
  if (rt->nvrtc == FKM_OK)
    printf("nvrtc: %d.%d (%s)\n", rt->nvrtc_major, rt->nvrtc_minor, rt->nvrtc_path);
  else
    printf("nvrtc: not found\n");
  printf("devices: %d\n", rt->device_count);
  if (rt->device_count > 0)
    printf("device 0: %s, sm_%d, %d SMs, %.1f GiB\n", rt->device_name, rt->sm, rt->multiprocessors,
           (double)rt->device_memory / (1024.0 * 1024.0 * 1024.0));
  if (rt->gpu == FKM_OK)
    printf("gpu engine: usable\n");
  else
    printf("gpu engine: not usable: %s: %s (the CPU engine runs instead)\n",
           fkm_status_name(rt->gpu), st->why_not);
  if (st->cache_root[0])
    printf("cache root: %s (%s)\n", st->cache_root, st->cache_source);
  else
    printf("cache root: %s\n", st->cache_source);
}

static void print_json(const info_state *st) {
  const fkm_runtime_info *rt = &st->rt;
  cli_json j;
  cli_json_begin(&j, stdout);
  cli_json_string(&j, "version", fkm_version_string());
  cli_json_bool(&j, "driver", rt->driver == FKM_OK);
  cli_json_int(&j, "driver_version", rt->driver_version);
  cli_json_bool(&j, "nvrtc", rt->nvrtc == FKM_OK);
  char nvrtc_version[32] = "";
  if (rt->nvrtc == FKM_OK)
    snprintf(nvrtc_version, sizeof nvrtc_version, "%d.%d", rt->nvrtc_major, rt->nvrtc_minor);
  cli_json_string(&j, "nvrtc_version", nvrtc_version);
  cli_json_string(&j, "nvrtc_path", rt->nvrtc_path);
  cli_json_int(&j, "device_count", rt->device_count);
  cli_json_string(&j, "device_name", rt->device_name);
  cli_json_int(&j, "sm", rt->sm);
  cli_json_int(&j, "multiprocessors", rt->multiprocessors);
  cli_json_uint(&j, "device_memory", rt->device_memory);
  cli_json_bool(&j, "gpu_engine", rt->gpu == FKM_OK);
  cli_json_string(&j, "gpu_engine_status", fkm_status_name(rt->gpu));
  cli_json_string(&j, "gpu_engine_unusable_because", st->why_not);
  cli_json_string(&j, "cache_root", st->cache_root);
  cli_json_string(&j, "cache_root_source", st->cache_source);
  cli_json_end(&j);
}

int cli_cmd_info(int argc, char **argv) {
  cli_args a;
  info_state st;
  fkm_ctx *ctx = NULL;
  memset(&st, 0, sizeof st);
  int rc = cli_parse_args("info", argc, argv, OPT_JSON, 0, &a);
  if (!rc && a.help) {
    cli_usage(stdout, "info");
    return CLI_EXIT_OK;
  }
  if (!rc) rc = cli_ctx_create(&ctx, 1);
  fkm_status s = rc ? FKM_OK : fkm_runtime_query(ctx, &st.rt);
  if (!rc && s != FKM_OK) rc = cli_fail_status(ctx, s, "info");
  if (!rc && st.rt.gpu != FKM_OK) gpu_failure_detail(ctx, st.rt.gpu, st.why_not, sizeof st.why_not);
  fkm_ctx_free(ctx);
  if (rc) return rc;
  find_cache_root(&st);
  if (a.json)
    print_json(&st);
  else
    print_text(&st);
  return CLI_EXIT_OK;
}
