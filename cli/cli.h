/* cli.h: declarations shared by the files of the fkm command. The command uses only the public
 * API (fkm.h). Errors: every failure prints exactly one line "fkm: ..." on stderr, at the point
 * where it is detected, and callers only pass the exit code up. */
#ifndef FKM_CLI_H
#define FKM_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "fkm.h"
#include "npy.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* ---- command line (args.c) ------------------------------------------------------------------- */
/* Option bits: each command accepts a subset. */
enum {
  OPT_K = 1u << 0,
  OPT_ITERS = 1u << 1,
  OPT_TOL = 1u << 2,
  OPT_METRIC = 1u << 3,
  OPT_DTYPE = 1u << 4,
  OPT_INIT = 1u << 5,
  OPT_INIT_CENTROIDS = 1u << 6,
  OPT_SEED = 1u << 7,
  OPT_ENGINE = 1u << 8,
  OPT_EMPTY = 1u << 9,
  OPT_DEVICE = 1u << 10,
  OPT_CENTROIDS = 1u << 11,
  OPT_LABELS = 1u << 12,
  OPT_JSON = 1u << 13,
  OPT_QUIET = 1u << 14,
  OPT_N_INIT = 1u << 15,
  OPT_SAMPLE_WEIGHT = 1u << 16,
  OPT_TOL_RELATIVE = 1u << 17,
  OPT_DEVICE_MEMORY = 1u << 18,
  OPT_DEVICES = 1u << 19
};

typedef struct cli_args {
  const char *command;
  const char *input;          /* the positional INPUT.npy, or NULL */
  fkm_options opts;           /* k, iters, tol, tol_relative, metric, dtype, init, seed, engine,
                                 empty, device, n_init, devices (into device_list) */
  unsigned given;             /* OPT_* bits that appeared on the command line */
  const char *init_centroids; /* paths, NULL when absent */
  const char *sample_weight;
  const char *centroids_out;
  const char *labels_out;
  int json, quiet, help;
  int device_list[16];        /* --devices: opts.devices points here */
} cli_args;

/* Parses argv[0..argc) (the words after the command) into *a, accepting the options in `allowed`
 * and up to `max_positional` (0 or 1) positional arguments; "--help" sets a->help. On error prints
 * one line and returns CLI_EXIT_USAGE; else 0. */
int cli_parse_args(const char *command, int argc, char **argv, unsigned allowed, int max_positional,
                   cli_args *a);

/* Names of enumeration values as the options spell them. */
const char *cli_metric_name(fkm_metric m);
const char *cli_dtype_name(fkm_dtype t);
const char *cli_engine_name(fkm_engine e);
/* --engine's value; 0, or -1 (nothing set). */
int cli_parse_engine(const char *s, fkm_engine *e);
/* The GPU's compute dtypes by name: fp16, bf16, fp32, and tf32 (fp32 with TF32 precision); 0, or
 * -1 (nothing set). cli_compute_dtype_name is the inverse. */
int cli_parse_compute_dtype(const char *s, fkm_dtype *t, fkm_precision *p);
const char *cli_compute_dtype_name(fkm_dtype t, fkm_precision p);
/* A decimal integer in [lo, hi] (the whole text, no leading space) into *v; 0, or -1 (nothing
 * set). */
int cli_parse_range(const char *s, int64_t lo, int64_t hi, int64_t *v);
/* A finite number > 0 (the whole text) into *v; 0, or -1 (nothing set). */
int cli_parse_positive(const char *s, double *v);
/* Comma-separated positive integers of s into v[0..count), of which the last `optional` may be
 * absent (set to 0); 0, or -1. */
int cli_parse_ints(const char *s, int count, int optional, int64_t *v);

/* ---- messages (report.c) --------------------------------------------------------------------- */
/* Prints "fkm: <message>" as one line on stderr (newlines inside become spaces); returns
 * CLI_EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for command-line mistakes; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line for a failed library call: "fkm: <what>: <STATUS_NAME>: <detail>"; returns
 * CLI_EXIT_FAIL. */
int cli_fail_status(fkm_ctx *ctx, fkm_status s, const char *what);
/* Creates a context whose info and warning log lines go to stderr (none when quiet); prints the
 * failure itself. */
int cli_ctx_create(fkm_ctx **ctx, int quiet);
/* Per-iteration progress line on stderr, with the points and input bytes per second of the
 * iteration; user is the fit's const fkm_points (borrowed). */
int cli_print_progress(const fkm_iter_report *r, void *user);
/* Monotonic milliseconds. */
double cli_now_ms(void);
/* Prints the overview (command NULL) or one command's usage; -1 for an unknown command. */
int cli_usage(FILE *f, const char *command);

/* ---- data (load.c) --------------------------------------------------------------------------- */
/* Input points mapped from a .npy file of rank 2 (N, D) or 3 (B, N, D). */
typedef struct cli_points {
  npy_array file;
  fkm_points points;
} cli_points;

/* Centroids [B][K][D] as fp32: the mapping itself for '<f4' files, else a converted copy. */
typedef struct cli_centroids {
  npy_array file;
  float *copy;
  const float *data;
  int64_t k;
} cli_centroids;

int cli_load_points(const char *command, const char *path, cli_points *p);
void cli_free_points(cli_points *p);
/* Loads centroids that must match p: rank 2 (K, D) for rank-2 input, (B, K, D) for rank 3. */
int cli_load_centroids(const char *command, const char *path, const cli_points *p,
                       cli_centroids *c);
void cli_free_centroids(cli_centroids *c);

/* Sample weights [B][N] as fp32: the mapping itself for '<f4' files, else a converted copy of
 * '<f8'. The shape must match the labels': (N,) for rank-2 input, (B, N) for rank 3. The values are
 * checked by fit (finite, >= 0, at least K positive per batch). */
typedef struct cli_weights {
  npy_array file;
  float *copy;
  const float *data;
} cli_weights;

int cli_load_weights(const char *command, const char *path, const cli_points *p, cli_weights *w);
void cli_free_weights(cli_weights *w);

/* ---- outputs (save.c) ------------------------------------------------------------------------ */
typedef struct cli_output {
  const char *path; /* NULL: not wanted */
  npy_dtype dtype;
  int rank;
  int64_t shape[NPY_MAX_RANK];
  const void *data;
} cli_output;

/* Refuses, before the work starts, outputs that could not be written (one line, CLI_EXIT_FAIL)
 * and outputs naming one file twice or naming one of a's input files (CLI_EXIT_USAGE). */
int cli_check_outputs(const char *command, const cli_args *a, const cli_output *outs, int count);
/* Writes all outputs or none: temp files first, then renames. */
int cli_save_outputs(const char *command, const cli_output *outs, int count);

/* ---- JSON (json.c) --------------------------------------------------------------------------- */
/* Writes one JSON object on a stream, member by member. */
typedef struct cli_json {
  FILE *f;
  int members;
} cli_json;

void cli_json_begin(cli_json *j, FILE *f);
void cli_json_string(cli_json *j, const char *key, const char *value);
void cli_json_int(cli_json *j, const char *key, int64_t value);
void cli_json_uint(cli_json *j, const char *key, uint64_t value);
void cli_json_number(cli_json *j, const char *key, double value);
void cli_json_bool(cli_json *j, const char *key, int value);
void cli_json_numbers(cli_json *j, const char *key, const double *values, int64_t count);
void cli_json_end(cli_json *j);

/* ---- fit summary (summary.c) ----------------------------------------------------------------- */
typedef struct cli_summary {
  const char *command;
  fkm_engine engine;
  int device;
  const fkm_points *points;
  int64_t k;
  fkm_dtype dtype; /* compute dtype (AUTO resolved) */
  fkm_metric metric;
  int iterations;
  const double *inertia; /* [B] */
  double ms_total;       /* wall time of the library call */
  double ms_iterations, ms_compile, ms_init;
} cli_summary;

/* The compute dtype an engine uses for these points (AUTO: the input's; fp64 → fp32 on the GPU). */
fkm_dtype cli_compute_dtype(fkm_dtype requested, fkm_dtype input, fkm_engine engine);
/* Starts the JSON summary object (the caller may add members, then calls cli_json_end). */
void cli_summary_json(fkm_ctx *ctx, const cli_summary *s, cli_json *j);
/* Human-readable summary lines on stdout. */
void cli_summary_text(const cli_summary *s);

/* ---- demo data (demo_data.c, ari.c) ---------------------------------------------------------- */
/* N points of dimension D in K Gaussian blobs (σ = 0.5 per coordinate) whose centres lie in
 * [-10, 10]^D at least 24 apart, from a counter-based generator: the same seed gives the same
 * bytes everywhere. truth[i] is the blob of point i. */
typedef struct cli_blobs {
  int64_t n, d, k;
  float *points;  /* [N][D] */
  int32_t *truth; /* [N] */
} cli_blobs;

/* Returns 0, or -1 when out of memory (nothing allocated then). */
int cli_blobs_generate(uint64_t seed, int64_t n, int64_t d, int64_t k, cli_blobs *out);
void cli_blobs_free(cli_blobs *b);
/* Farthest-first traversal (Gonzalez): the first centroid is a seeded pick, each next one the
 * point farthest from those chosen (ties to the lower index). Writes [K][D] into centroids.
 * Returns 0, or -1 when out of memory. */
int cli_farthest_first(const cli_blobs *b, uint64_t seed, float *centroids);
/* Adjusted Rand index of two labelings of n points with values in [0, k), from the exact
 * contingency table; NaN if a label is out of range or memory runs out. */
double cli_adjusted_rand(const int32_t *a, const int32_t *b, int64_t n, int64_t k);

/* ---- tuning reports (tune_print.c) ----------------------------------------------------------- */
typedef struct cli_tune_shape {
  int64_t b, n, d, k;
  fkm_dtype dtype; /* compute dtype */
  fkm_precision precision;
  fkm_metric metric;
} cli_tune_shape;

/* Prints tuning run r on stdout, and with an exhaustive sweep e (NULL: none) how r's pick and the
 * model's pick compare with e's best: text, or JSON lines (one object per measured configuration,
 * then one summary object). */
void cli_tune_print(const cli_tune_shape *s, const fkm_tune_report *r, const fkm_tune_report *e,
                    int json);

/* ---- commands -------------------------------------------------------------------------------- */
int cli_cmd_run(int argc, char **argv);
int cli_cmd_predict(int argc, char **argv);
int cli_cmd_demo(int argc, char **argv);
int cli_cmd_info(int argc, char **argv);
int cli_cmd_cache(int argc, char **argv);
int cli_cmd_triton(int argc, char **argv);
int cli_cmd_tune(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);

#endif
