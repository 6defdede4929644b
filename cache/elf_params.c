/* Kernel parameter records of a cubin: the EIATTR_KPARAM_INFO attributes of ".nv.info.<kernel>". */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "tuning.h"

#define EIFMT_SVAL 0x04
#define EIATTR_KPARAM_INFO 0x17

static uint16_t u16_at(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32_at(const unsigned char *p) { return u16_at(p) | (uint32_t)u16_at(p + 2) << 16; }

/* Section header i of a checked ELF64 image (copied: the image need not be aligned). */
static Elf64_Shdr section_at(const unsigned char *img, const Elf64_Ehdr *eh, int i) {
  Elf64_Shdr sh;
  memcpy(&sh, img + eh->e_shoff + (size_t)i * sizeof sh, sizeof sh);
  return sh;
}

static int within(const Elf64_Shdr *sh, size_t size) {
  return sh->sh_offset <= size && sh->sh_size <= size - sh->sh_offset;
}

/* Finds the section named `want` of a checked ELF64 image into *out; 1, or 0 if absent or out of
 * bounds. */
static int find_section(const unsigned char *img, size_t size, const char *want, Elf64_Shdr *out) {
  Elf64_Ehdr eh;
  memcpy(&eh, img, sizeof eh);
  if (eh.e_shstrndx >= eh.e_shnum) return 0;
  Elf64_Shdr names = section_at(img, &eh, eh.e_shstrndx);
  if (!within(&names, size)) return 0;
  for (int i = 0; i < eh.e_shnum; i++) {
    Elf64_Shdr sh = section_at(img, &eh, i);
    if (sh.sh_name >= names.sh_size) continue;
    const char *nm = (const char *)img + names.sh_offset + sh.sh_name;
    size_t room = names.sh_size - sh.sh_name;
    if (strnlen(nm, room) < room && strcmp(nm, want) == 0) {
      *out = sh;
      return within(&sh, size);
    }
  }
  return 0;
}

/* Whether img is a little-endian ELF64 whose section headers lie within it. */
static int elf64_ok(const unsigned char *img, size_t size) {
  Elf64_Ehdr eh;
  if (size < sizeof eh || memcmp(img, ELFMAG, SELFMAG) != 0) return 0;
  memcpy(&eh, img, sizeof eh);
  if (img[EI_CLASS] != ELFCLASS64 || img[EI_DATA] != ELFDATA2LSB) return 0;
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size) return 0;
  return (size - eh.e_shoff) / sizeof(Elf64_Shdr) >= eh.e_shnum;
}

/* Walks the attribute records of one .nv.info section; fills sizes by ordinal and returns the
 * parameter count, or -1 with why. */
static int walk_records(const unsigned char *p, size_t len, int *sizes, int max, char *why,
                        size_t why_len) {
  unsigned char seen[FKM__MAX_KERNEL_PARAMS] = {0};
  int count = 0;
  for (size_t at = 0; at + 4 <= len;) {
    size_t body = p[at] == EIFMT_SVAL ? u16_at(p + at + 2) : 0;
    if (body > len - at - 4) return fkm__path(why, why_len, "truncated .nv.info record"), -1;
    if (p[at + 1] == EIATTR_KPARAM_INFO && p[at] == EIFMT_SVAL && body >= 12) {
      int ordinal = u16_at(p + at + 8), bytes = (int)(u32_at(p + at + 12) >> 18 & 0x3fff);
      if (ordinal >= FKM__MAX_KERNEL_PARAMS)
        return fkm__path(why, why_len, "parameter ordinal %d out of range", ordinal), -1;
      if (ordinal < max) sizes[ordinal] = bytes;
      seen[ordinal] = 1;
      count = ordinal + 1 > count ? ordinal + 1 : count;
    }
    at += 4 + body;
  }
  for (int i = 0; i < count; i++)
    if (!seen[i]) return fkm__path(why, why_len, "no record for parameter %d", i), -1;
  return count;
}

int fkm__cubin_params(const void *cubin, size_t size, const char *name, int *sizes, int max,
                      char *why, size_t why_len) {
  const unsigned char *img = cubin;
  char section[256];
  if (!elf64_ok(img, size)) return fkm__path(why, why_len, "not a little-endian ELF64 cubin"), -1;
  if (fkm__path(section, sizeof section, ".nv.info.%s", name) != 0)
    return fkm__path(why, why_len, "kernel name too long"), -1;
  Elf64_Shdr sh;
  if (!find_section(img, size, section, &sh))
    return fkm__path(why, why_len, "no section %s in the cubin", section), -1;
  return walk_records(img + sh.sh_offset, sh.sh_size, sizes, max, why, why_len);
}
