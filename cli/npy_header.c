/* Parser for the Python dict literal that heads a .npy file. */
#include "npy_header.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Cursor over the header text; err receives the first failure. */
typedef struct cursor {
  const char *p, *end;
  char *err;
  size_t err_len;
} cursor;

static int fail(cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(cursor *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->err_len, fmt, ap);
  va_end(ap);
  return -1;
}

static void skip_space(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* Skips spaces; then consumes ch if it is next. Returns 1 if consumed. */
static int accept(cursor *c, char ch) {
  skip_space(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

static int expect(cursor *c, char ch, const char *where) {
  if (accept(c, ch)) return 0;
  return fail(c, "malformed header: expected '%c' %s", ch, where);
}

/* A quoted string ('...' or "...") without escapes, copied into buf. */
static int parse_string(cursor *c, char *buf, size_t buf_len) {
  skip_space(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
    return fail(c, "malformed header: expected a quoted string");
  char quote = *c->p++;
  const char *start = c->p;
  while (c->p < c->end && *c->p != quote && *c->p != '\\' && *c->p != '\n') c->p++;
  if (c->p >= c->end || *c->p != quote) return fail(c, "malformed header: bad string literal");
  size_t n = (size_t)(c->p - start);
  c->p++;
  if (n >= buf_len) return fail(c, "malformed header: string '%.20s...' is too long", start);
  memcpy(buf, start, n);
  buf[n] = '\0';
  return 0;
}

/* True or False. */
static int parse_bool(cursor *c, int *out) {
  skip_space(c);
  size_t left = (size_t)(c->end - c->p);
  if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
    c->p += 4, *out = 1;
    return 0;
  }
  if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
    c->p += 5, *out = 0;
    return 0;
  }
  return fail(c, "malformed header: 'fortran_order' must be True or False");
}

/* A non-negative decimal integer, optionally with Python 2's long suffix. */
static int parse_dim(cursor *c, int64_t *out) {
  skip_space(c);
  if (c->p >= c->end || *c->p < '0' || *c->p > '9')
    return fail(c, "malformed header: 'shape' must hold non-negative integers");
  int64_t v = 0;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
    int digit = *c->p++ - '0';
    if (v > (INT64_MAX - digit) / 10) return fail(c, "malformed header: a dimension overflows");
    v = v * 10 + digit;
  }
  if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++;
  *out = v;
  return 0;
}

/* A tuple: (), (n,), (n, m) or (n, m,). "(n)" is an integer in Python, not a tuple. */
static int parse_shape(cursor *c, npy_header *h) {
  if (expect(c, '(', "to open 'shape'")) return -1;
  int trailing_comma = 0;
  h->rank = 0;
  while (!accept(c, ')')) {
    if (h->rank == NPY_HEADER_MAX_DIMS)
      return fail(c, "malformed header: more than %d dimensions", NPY_HEADER_MAX_DIMS);
    if (parse_dim(c, &h->shape[h->rank++])) return -1;
    trailing_comma = accept(c, ',');
    if (trailing_comma) continue;
    if (!accept(c, ')')) return fail(c, "malformed header: expected ',' or ')' in 'shape'");
    break;
  }
  if (h->rank == 1 && !trailing_comma)
    return fail(c, "malformed header: 'shape' (%lld) is not a tuple", (long long)h->shape[0]);
  return 0;
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

/* One "key: value" entry; *seen collects the keys read so far. */
static int parse_entry(cursor *c, npy_header *h, unsigned *seen) {
  char key[32];
  if (parse_string(c, key, sizeof key)) return -1;
  if (expect(c, ':', "after a key")) return -1;
  unsigned bit = strcmp(key, "descr") == 0           ? KEY_DESCR
                 : strcmp(key, "fortran_order") == 0 ? KEY_FORTRAN
                 : strcmp(key, "shape") == 0         ? KEY_SHAPE
                                                     : 0;
  if (!bit) return fail(c, "malformed header: unexpected key '%s'", key);
  if (*seen & bit) return fail(c, "malformed header: duplicate key '%s'", key);
  *seen |= bit;
  if (bit == KEY_DESCR) {
    skip_space(c);
    if (c->p < c->end && *c->p == '[')
      return fail(c, "structured dtypes are not supported (descr is a list)");
    return parse_string(c, h->descr, sizeof h->descr);
  }
  return bit == KEY_FORTRAN ? parse_bool(c, &h->fortran) : parse_shape(c, h);
}

int npy_header_parse(const char *text, size_t len, npy_header *h, char *err, size_t err_len) {
  cursor c = {text, text + len, err, err_len};
  unsigned seen = 0;
  memset(h, 0, sizeof *h);
  if (expect(&c, '{', "at the start of the header")) return -1;
  while (!accept(&c, '}')) {
    if (parse_entry(&c, h, &seen)) return -1;
    if (accept(&c, '}')) break;
    if (!accept(&c, ',')) return fail(&c, "malformed header: expected ',' or '}' after a value");
  }
  skip_space(&c);
  if (c.p != c.end) return fail(&c, "malformed header: unexpected text after the dict");
  if (seen != (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE))
    return fail(&c, "malformed header: missing key '%s'",
                !(seen & KEY_DESCR)     ? "descr"
                : !(seen & KEY_FORTRAN) ? "fortran_order"
                                        : "shape");
  return 0;
}

void npy_format_shape(const int64_t *shape, int rank, char *buf, size_t buf_len) {
  size_t used = (size_t)snprintf(buf, buf_len, "(");
  for (int i = 0; i < rank && used < buf_len; i++)
    used +=
        (size_t)snprintf(buf + used, buf_len - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (used < buf_len) snprintf(buf + used, buf_len - used, rank == 1 ? ",)" : ")");
}
