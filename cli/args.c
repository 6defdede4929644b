/* Command-line options shared by the commands: one table, one parser. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- value parsers: each returns 0, or -1 when the whole text is not a valid value ----------- */

static int parse_i64(const char *s, int64_t *out) {
  char *end;
  if (!*s || isspace((unsigned char)*s)) return -1;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static int parse_int(const char *s, int *out) {
  int64_t v;
  if (parse_i64(s, &v) || v < INT_MIN || v > INT_MAX) return -1;
  *out = (int)v;
  return 0;
}

/* Decimal, or hexadecimal after 0x: a leading 0 is not octal (--seed 010 is ten). */
static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!*s || !isdigit((unsigned char)*s)) return -1;
  int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  if (hex && !s[2]) return -1;
  for (const char *c = s + 2 * hex; *c; c++) /* digits only: no sign, no second 0x */
    if (!(hex ? isxdigit((unsigned char)*c) : isdigit((unsigned char)*c))) return -1;
  errno = 0;
  unsigned long long v = strtoull(s + 2 * hex, &end, hex ? 16 : 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

/* A number (the whole text); one too small for a double reads as the nearest (0 or a subnormal),
 * one too large is refused. */
static int parse_double(const char *s, double *out) {
  char *end;
  if (!*s || isspace((unsigned char)*s)) return -1;
  errno = 0;
  double v = strtod(s, &end);
  if ((errno == ERANGE && fabs(v) >= 1.0) || end == s || *end) return -1;
  *out = v;
  return 0;
}

/* Index of s in a NULL-terminated name list, or -1. */
static int parse_name(const char *s, const char *const *names) {
  for (int i = 0; names[i]; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* Names indexed by the fkm enumeration values. */
static const char *const metric_names[] = {"l2", "cosine", "dot", NULL};
static const char *const dtype_names[] = {"auto", "fp16", "bf16", "fp32", "fp64", NULL};
static const char *const init_names[] = {"random", "kmeans++", "given", NULL};
static const char *const engine_names[] = {"auto", "gpu", "cpu", NULL};
static const char *const empty_names[] = {"keep", "farthest", NULL};

const char *cli_metric_name(fkm_metric m) { return metric_names[m]; }
const char *cli_dtype_name(fkm_dtype t) { return dtype_names[t]; }
const char *cli_engine_name(fkm_engine e) { return engine_names[e]; }

int cli_parse_engine(const char *s, fkm_engine *e) {
  int i = parse_name(s, engine_names);
  if (i < 0) return -1;
  *e = (fkm_engine)i;
  return 0;
}

int cli_parse_compute_dtype(const char *s, fkm_dtype *t, fkm_precision *p) {
  int tf32 = strcmp(s, "tf32") == 0, i = tf32 ? FKM_DTYPE_FP32 : parse_name(s, dtype_names);
  if (i != FKM_DTYPE_FP16 && i != FKM_DTYPE_BF16 && i != FKM_DTYPE_FP32) return -1;
  *t = (fkm_dtype)i, *p = tf32 ? FKM_PRECISION_TF32 : FKM_PRECISION_DEFAULT;
  return 0;
}

const char *cli_compute_dtype_name(fkm_dtype t, fkm_precision p) {
  return p == FKM_PRECISION_TF32 ? "tf32" : dtype_names[t];
}

int cli_parse_range(const char *s, int64_t lo, int64_t hi, int64_t *v) {
  int64_t x;
  if (parse_i64(s, &x) || x < lo || x > hi) return -1;
  *v = x;
  return 0;
}

int cli_parse_positive(const char *s, double *v) {
  double x;
  if (parse_double(s, &x) || !(x > 0.0) || !isfinite(x)) return -1;
  *v = x;
  return 0;
}

int cli_parse_ints(const char *s, int count, int optional, int64_t *v) {
  int i = 0;
  for (;;) {
    char *end;
    if (i == count) return -1;
    v[i] = strtoll(s, &end, 10);
    if (end == s || v[i] < 1) return -1;
    i++;
    if (*end == '\0') break;
    if (*end != ',') return -1;
    s = end + 1;
  }
  if (i < count - optional) return -1;
  for (; i < count; i++) v[i] = 0;
  return 0;
}

/* ---- setters: store the value, or return what was expected ----------------------------------- */

#define ENUM_SETTER(fn, field, type, names, expected) \
  static const char *fn(cli_args *a, const char *v) { \
    int i = parse_name(v, names);                     \
    if (i < 0) return expected;                       \
    a->field = (type)i;                               \
    return NULL;                                      \
  }
ENUM_SETTER(set_metric, opts.metric, fkm_metric, metric_names, "l2, cosine or dot")
ENUM_SETTER(set_dtype, opts.dtype, fkm_dtype, dtype_names, "fp16, bf16, fp32, fp64 or auto")
ENUM_SETTER(set_init, opts.init, fkm_init, init_names, "random, kmeans++ or given")
ENUM_SETTER(set_engine, opts.engine, fkm_engine, engine_names, "auto, gpu or cpu")
ENUM_SETTER(set_empty, opts.empty, fkm_empty_policy, empty_names, "keep or farthest")
#undef ENUM_SETTER

static const char *set_k(cli_args *a, const char *v) {
  return parse_i64(v, &a->opts.k) ? "an integer" : NULL;
}
static const char *set_iters(cli_args *a, const char *v) {
  return parse_int(v, &a->opts.max_iter) ? "an integer" : NULL;
}
static const char *set_device(cli_args *a, const char *v) {
  return parse_int(v, &a->opts.device) ? "an integer" : NULL;
}
/* A comma-separated list of up to 16 device indices, e.g. "0,1,2,3". */
static const char *set_devices(cli_args *a, const char *v) {
  static const char *const expected = "device indices separated by commas, at most 16";
  char item[32];
  int count = 0;
  for (const char *s = v;; s += strcspn(s, ",") + 1) {
    size_t len = strcspn(s, ",");
    if (count == 16 || len == 0 || len >= sizeof item) return expected;
    memcpy(item, s, len);
    item[len] = '\0';
    if (parse_int(item, &a->device_list[count++])) return expected;
    if (!s[len]) break;
  }
  a->opts.devices = a->device_list;
  a->opts.num_devices = count;
  return NULL;
}
static const char *set_tol(cli_args *a, const char *v) {
  return parse_double(v, &a->opts.tol) ? "a number" : NULL;
}
static const char *set_n_init(cli_args *a, const char *v) {
  return parse_int(v, &a->opts.n_init) || a->opts.n_init < 1 ? "a positive integer" : NULL;
}
static const char *set_seed(cli_args *a, const char *v) {
  return parse_u64(v, &a->opts.seed) ? "an unsigned 64-bit integer" : NULL;
}
/* A byte count with an optional K, M or G suffix (powers of 1024), at least 1. */
static const char *set_device_memory(cli_args *a, const char *v) {
  char *end;
  errno = 0;
  double bytes = strtod(v, &end);
  const char *units = "KMG";
  const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
  if (u) bytes *= (double)(1ull << (10 * (u - units + 1))), end++;
  if (errno || end == v || *end || !(bytes >= 1.0) || bytes > 1e18)
    return "a byte count such as 8G, 512M or 1073741824";
  a->opts.device_memory_budget = (size_t)bytes;
  return NULL;
}
static const char *set_init_centroids(cli_args *a, const char *v) {
  a->init_centroids = v;
  return NULL;
}
static const char *set_centroids(cli_args *a, const char *v) {
  a->centroids_out = v;
  return NULL;
}
static const char *set_labels(cli_args *a, const char *v) {
  a->labels_out = v;
  return NULL;
}
static const char *set_sample_weight(cli_args *a, const char *v) {
  a->sample_weight = v;
  return NULL;
}

/* Flags: called with value NULL. */
static const char *set_json(cli_args *a, const char *v) {
  (void)v;
  a->json = 1;
  return NULL;
}
static const char *set_quiet(cli_args *a, const char *v) {
  (void)v;
  a->quiet = 1;
  return NULL;
}
static const char *set_tol_relative(cli_args *a, const char *v) {
  (void)v;
  a->opts.tol_relative = 1;
  return NULL;
}

/* ---- the table ------------------------------------------------------------------------------- */

typedef struct option_def {
  const char *name;
  unsigned bit;
  const char *(*set)(cli_args *a, const char *value); /* NULL if the value is valid, else
                                                        what was expected */
  int flag;                                           /* FLAG: takes no value */
} option_def;
enum { VALUE = 0, FLAG = 1 };

static const option_def options[] = {
    {"-k", OPT_K, set_k, VALUE},
    {"--iters", OPT_ITERS, set_iters, VALUE},
    {"--tol", OPT_TOL, set_tol, VALUE},
    {"--tol-relative", OPT_TOL_RELATIVE, set_tol_relative, FLAG},
    {"--metric", OPT_METRIC, set_metric, VALUE},
    {"--dtype", OPT_DTYPE, set_dtype, VALUE},
    {"--init", OPT_INIT, set_init, VALUE},
    {"--init-centroids", OPT_INIT_CENTROIDS, set_init_centroids, VALUE},
    {"--n-init", OPT_N_INIT, set_n_init, VALUE},
    {"--sample-weight", OPT_SAMPLE_WEIGHT, set_sample_weight, VALUE},
    {"--seed", OPT_SEED, set_seed, VALUE},
    {"--engine", OPT_ENGINE, set_engine, VALUE},
    {"--empty", OPT_EMPTY, set_empty, VALUE},
    {"--device", OPT_DEVICE, set_device, VALUE},
    {"--device-memory", OPT_DEVICE_MEMORY, set_device_memory, VALUE},
    {"--devices", OPT_DEVICES, set_devices, VALUE},
    {"--centroids", OPT_CENTROIDS, set_centroids, VALUE},
    {"--labels", OPT_LABELS, set_labels, VALUE},
    {"--json", OPT_JSON, set_json, FLAG},
    {"--quiet", OPT_QUIET, set_quiet, FLAG},
};
enum { OPTION_COUNT = sizeof options / sizeof options[0] };

/* The option named by word ("--name" or "--name=value"); *value points after '=' or is NULL. */
static const option_def *find_option(const char *word, const char **value) {
  size_t len = strcspn(word, "=");
  *value = word[len] == '=' ? word + len + 1 : NULL;
  for (int i = 0; i < OPTION_COUNT; i++)
    if (strlen(options[i].name) == len && strncmp(word, options[i].name, len) == 0)
      return &options[i];
  return NULL;
}

/* Applies the option at argv[*i], consuming its value; returns 0 or CLI_EXIT_USAGE. */
static int apply_option(const char *command, int argc, char **argv, int *i, unsigned allowed,
                        cli_args *a) {
  const char *word = argv[*i], *value;
  const option_def *o = find_option(word, &value);
  if (!o)
    return cli_usage_error("%s: unknown option '%s' (see 'fkm help %s')", command, word, command);
  if (!(allowed & o->bit))
    return cli_usage_error("%s: option '%s' does not apply to this command", command, o->name);
  a->given |= o->bit;
  if (o->flag) {
    if (value) return cli_usage_error("%s: option '%s' takes no value", command, o->name);
    o->set(a, NULL);
    return 0;
  }
  if (!value && *i + 1 >= argc)
    return cli_usage_error("%s: option '%s' needs a value", command, o->name);
  if (!value) value = argv[++*i];
  const char *expected = o->set(a, value);
  if (expected)
    return cli_usage_error("%s: %s: invalid value '%s' (expected %s)", command, o->name, value,
                           expected);
  return 0;
}

static int is_help(const char *word) {
  return strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0;
}

int cli_parse_args(const char *command, int argc, char **argv, unsigned allowed, int max_positional,
                   cli_args *a) {
  int options_done = 0;
  memset(a, 0, sizeof *a);
  a->command = command;
  fkm_options_init(&a->opts);
  for (int i = 0; i < argc; i++) {
    const char *word = argv[i];
    if (!options_done && strcmp(word, "--") == 0) {
      options_done = 1;
    } else if (!options_done && is_help(word)) {
      a->help = 1;
    } else if (!options_done && word[0] == '-' && word[1]) {
      int rc = apply_option(command, argc, argv, &i, allowed, a);
      if (rc) return rc;
    } else if (!a->input && max_positional > 0) {
      a->input = word;
    } else {
      return cli_usage_error("%s: unexpected argument '%s'", command, word);
    }
  }
  return 0;
}
