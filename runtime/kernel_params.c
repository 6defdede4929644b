/* Entry points and parameter sizes of generated source, for the kernel metadata. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "generate.h"
#include "kernel_cache.h"

static int is_ident(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Bytes of one parameter declaration text[0..len): pointers 8, else by its type. */
static int param_size(const char *text, size_t len) {
  static const struct {
    const char *type;
    int size;
  } types[] = {{"i64", 8}, {"u64", 8}, {"double", 8}, {"int", 4}, {"float", 4}};
  if (memchr(text, '*', len)) return 8;
  char buf[128];
  snprintf(buf, sizeof buf, "%.*s", (int)len, text);
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    size_t n = strlen(types[i].type);
    for (char *p = strstr(buf, types[i].type); p; p = strstr(p + 1, types[i].type))
      if ((p == buf || !is_ident(p[-1])) && !is_ident(p[n])) return types[i].size;
  }
  return 0;
}

/* Parses "(a, b, ...)" at p into e's sizes; returns the character after ')' or NULL. */
static const char *parse_params(const char *p, fkm__meta_entry *e) {
  if (*p != '(') return NULL;
  const char *start = ++p;
  int depth = 0;
  e->param_count = 0;
  for (; *p; p++) {
    if (*p == '(') depth++;
    if ((*p == ',' || *p == ')') && depth == 0) {
      if (p > start && e->param_count < FKM__META_MAX_PARAMS)
        e->param_sizes[e->param_count++] = param_size(start, (size_t)(p - start));
      if (*p == ')') return p + 1;
      start = p + 1;
    }
    if (*p == ')') depth--;
  }
  return NULL;
}

int fkm__source_entries(const fkm__kernel_spec *s, const char *source, fkm__meta_entry *out,
                        int max) {
  static const char marker[] = "FKM_ENTRY(";
  int count = 0;
  for (const char *p = strstr(source, marker); p && count < max; p = strstr(p, marker)) {
    p += sizeof marker - 1;
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_0123456789");
    if (n == 0 || n > 40 || p[n] != ')') continue; /* the macro's own definition */
    char entry[48];
    snprintf(entry, sizeof entry, "%.*s", (int)n, p);
    const char *after = parse_params(p + n + 1, &out[count]);
    if (!after) continue;
    fkm__entry_name(s, entry, out[count].name, sizeof out[count].name);
    count++;
    p = after;
  }
  return count;
}
