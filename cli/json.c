/* A minimal JSON object writer: one object per line, members in call order. */
#include <math.h>

#include "cli.h"

void cli_json_begin(cli_json *j, FILE *f) {
  j->f = f;
  j->members = 0;
  fputc('{', f);
}

/* A JSON string literal; control characters are escaped. */
static void put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void put_key(cli_json *j, const char *key) {
  if (j->members++) fputs(", ", j->f);
  put_string(j->f, key);
  fputs(": ", j->f);
}

/* Numbers round-trip; NaN and Inf, which JSON cannot hold, become null. */
static void put_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.17g", v);
  else
    fputs("null", f);
}

void cli_json_string(cli_json *j, const char *key, const char *value) {
  put_key(j, key);
  put_string(j->f, value);
}

void cli_json_int(cli_json *j, const char *key, int64_t value) {
  put_key(j, key);
  fprintf(j->f, "%lld", (long long)value);
}

void cli_json_uint(cli_json *j, const char *key, uint64_t value) {
  put_key(j, key);
  fprintf(j->f, "%llu", (unsigned long long)value);
}

void cli_json_number(cli_json *j, const char *key, double value) {
  put_key(j, key);
  put_number(j->f, value);
}

void cli_json_bool(cli_json *j, const char *key, int value) {
  put_key(j, key);
  fputs(value ? "true" : "false", j->f);
}

void cli_json_numbers(cli_json *j, const char *key, const double *values, int64_t count) {
  put_key(j, key);
  fputc('[', j->f);
  for (int64_t i = 0; i < count; i++) {
    if (i) fputs(", ", j->f);
    put_number(j->f, values[i]);
  }
  fputc(']', j->f);
}

void cli_json_end(cli_json *j) {
  fputs("}\n", j->f);
  fflush(j->f);
}
