/* cli/npy.c: the .npy reader on valid files (every dtype, format versions 1.0/2.0/3.0, rank 1..3,
 * header spellings numpy and other writers produce) and on malformed ones (each must fail with the
 * right status and a message naming the problem, leaving nothing mapped); the writer's round trip
 * and its all-or-nothing behaviour (no partial or temp file after any failure). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "npy_header.h"
#include "support.h"

static char dir[256];
static char err[512];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/fkm_test_npy.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  err[0] = '\0';
}

/* Removes every file in dir, then dir. */
static void teardown(void) {
  DIR *d = opendir(dir);
  char path[512];
  for (struct dirent *e; d && (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d) closedir(d);
  rmdir(dir);
}

static int count_files(void) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  if (d) closedir(d);
  return n;
}

static const char *path_of(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* Writes raw bytes to dir/name and returns the path. */
static const char *write_raw(const char *name, const void *bytes, size_t n) {
  const char *path = path_of(name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
  fclose(f);
  return path;
}

/* A .npy file: magic, version major.0, the dict padded with spaces and '\n' so the data starts
 * at a multiple of `align` (0: no padding, just '\n'), then data_len bytes of data. */
static const char *write_npy(const char *name, int major, const char *dict, const void *data,
                             size_t data_len, size_t align) {
  static unsigned char buf[1 << 16];
  size_t prefix = major == 1 ? 10 : 12, dict_len = strlen(dict);
  size_t total = prefix + dict_len + 1;
  if (align) total = (total + align - 1) / align * align;
  size_t hlen = total - prefix;
  ck_assert_uint_le(total + data_len, sizeof buf);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major, buf[7] = 0;
  for (size_t i = 0; i < prefix - 8; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(buf + prefix, dict, dict_len);
  memset(buf + prefix + dict_len, ' ', hlen - dict_len - 1);
  buf[total - 1] = '\n';
  memcpy(buf + total, data, data_len);
  return write_raw(name, buf, total + data_len);
}

static const float f4_data[6] = {1.5f, -2.0f, 3.25f, 4.0f, -5.5f, 6.0f};

/* Maps a float file expecting failure status s and an error text containing `needle`. */
static void expect_failure(const char *path, int min_rank, int max_rank, npy_status s,
                           const char *needle) {
  npy_array a;
  memset(&a, 0x5a, sizeof a);
  ck_assert_int_eq(npy_map(path, NPY_ACCEPT_FLOAT, min_rank, max_rank, &a, err, sizeof err), s);
  ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
  ck_assert_ptr_null(a.map);
  ck_assert_ptr_null(a.data);
}

/* ---- valid files ----------------------------------------------------------------------------- */

START_TEST(reads_f4_rank2_v1) {
  const char *p =
      write_npy("a.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4_data,
                sizeof f4_data, 64);
  npy_array a;
  ck_assert_int_eq(npy_map(p, NPY_ACCEPT_FLOAT, 2, 3, &a, err, sizeof err), NPY_OK);
  ck_assert_int_eq(a.dtype, NPY_F4);
  ck_assert_int_eq(a.rank, 2);
  ck_assert_int_eq(a.shape[0], 2);
  ck_assert_int_eq(a.shape[1], 3);
  ck_assert_uint_eq(a.data_bytes, sizeof f4_data);
  ck_assert_mem_eq(a.data, f4_data, sizeof f4_data);
  ck_assert_uint_eq((uintptr_t)a.data % 64, 0);
  npy_unmap(&a);
  ck_assert_ptr_null(a.map);
  npy_unmap(&a); /* twice is harmless */
}
END_TEST

START_TEST(reads_f2_and_f8) {
  const uint16_t h[4] = {0x3c00, 0xc000, 0x3800, 0x7bff};
  const double d[3] = {1.0, -0.5, 1e300};
  npy_array a;
  const char *p = write_npy(
      "h.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }", h, sizeof h, 64);
  ck_assert_int_eq(npy_map(p, NPY_ACCEPT_FLOAT, 2, 2, &a, err, sizeof err), NPY_OK);
  ck_assert_int_eq(a.dtype, NPY_F2);
  ck_assert_mem_eq(a.data, h, sizeof h);
  npy_unmap(&a);
  p = write_npy("d.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1, 1), }", d,
                sizeof d, 64);
  ck_assert_int_eq(npy_map(p, NPY_ACCEPT_FLOAT, 2, 3, &a, err, sizeof err), NPY_OK);
  ck_assert_int_eq(a.dtype, NPY_F8);
  ck_assert_int_eq(a.rank, 3);
  ck_assert_mem_eq(a.data, d, sizeof d);
  ck_assert_uint_eq((uintptr_t)a.data % 8, 0);
  npy_unmap(&a);
}
END_TEST

/* Versions 2.0 and 3.0 carry a 4-byte header length; older numpy padded to 16 bytes only. */
START_TEST(reads_v2_v3_and_16_byte_padding) {
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }";
  for (int major = 1; major <= 3; major++) {
    for (size_t align = 16; align <= 64; align *= 4) {
      npy_array a;
      const char *p = write_npy("v.npy", major, dict, f4_data, sizeof f4_data, align);
      ck_assert_int_eq(npy_map(p, NPY_ACCEPT_FLOAT, 1, 3, &a, err, sizeof err), NPY_OK);
      ck_assert_int_eq(a.rank, 1);
      ck_assert_int_eq(a.shape[0], 6);
      ck_assert_mem_eq(a.data, f4_data, sizeof f4_data);
      npy_unmap(&a);
    }
  }
}
END_TEST

/* Key order, quotes, spacing, no trailing comma, Python 2 longs, Fortran order of a 1-D array. */
START_TEST(reads_header_spellings) {
  static const char *dicts[] = {
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
      "{ 'descr' :'<f4' ,'fortran_order':False,'shape':( 2 ,3 , ) , }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
  };
  for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
    npy_array a;
    const char *p = write_npy("s.npy", 1, dicts[i], f4_data, sizeof f4_data, 64);
    ck_assert_msg(npy_map(p, NPY_ACCEPT_FLOAT, 2, 2, &a, err, sizeof err) == NPY_OK, "%s: %s",
                  dicts[i], err);
    ck_assert_int_eq(a.shape[0], 2);
    ck_assert_int_eq(a.shape[1], 3);
    npy_unmap(&a);
  }
  npy_array a;
  const char *p = write_npy("f.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }",
                            f4_data, sizeof f4_data, 64);
  ck_assert_int_eq(npy_map(p, NPY_ACCEPT_FLOAT, 1, 1, &a, err, sizeof err), NPY_OK);
  npy_unmap(&a);
}
END_TEST

START_TEST(reads_int32_when_accepted) {
  const int32_t l[3] = {0, 7, -1};
  npy_array a;
  const char *p = write_npy("l.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                            l, sizeof l, 64);
  ck_assert_int_eq(npy_map(p, NPY_ACCEPT(NPY_I4), 1, 1, &a, err, sizeof err), NPY_OK);
  ck_assert_mem_eq(a.data, l, sizeof l);
  npy_unmap(&a);
  expect_failure(p, 1, 1, NPY_ERR_UNSUPPORTED, "dtype '<i4' is not supported");
}
END_TEST

/* ---- malformed or refused files -------------------------------------------------------------- */

START_TEST(refuses_missing_empty_and_directory) {
  expect_failure(path_of("missing.npy"), 2, 3, NPY_ERR_IO, "No such file");
  expect_failure(write_raw("empty.npy", "", 0), 2, 3, NPY_ERR_FORMAT, "empty file");
  expect_failure(dir, 2, 3, NPY_ERR_IO, "not a regular file");
}
END_TEST

START_TEST(refuses_bad_magic_and_short_files) {
  expect_failure(write_raw("m.npy", "\x93NUMPX\x01\x00\x10\x00", 10), 2, 3, NPY_ERR_FORMAT,
                 "bad magic");
  expect_failure(write_raw("t.txt", "hello world, not numpy", 22), 2, 3, NPY_ERR_FORMAT,
                 "bad magic");
  expect_failure(write_raw("s.npy", "\x93NUM", 4), 2, 3, NPY_ERR_FORMAT, "truncated header");
  expect_failure(write_raw("s2.npy", "\x93NUMPY\x02\x00\x10\x00", 10), 2, 3, NPY_ERR_FORMAT,
                 "truncated header");
  expect_failure(write_raw("v.npy", "\x93NUMPY\x04\x00\x10\x00\x00\x00", 12), 2, 3,
                 NPY_ERR_UNSUPPORTED, "version 4.0");
}
END_TEST

START_TEST(refuses_truncated_and_huge_headers) {
  /* header length 0x76 announced, 20 bytes present */
  char b[30] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4";
  expect_failure(write_raw("t.npy", b, 30), 2, 3, NPY_ERR_FORMAT, "truncated header");
  char huge[64] = "\x93NUMPY\x02\x00\xff\xff\xff\x7f{'descr': '<f4', ";
  expect_failure(write_raw("h.npy", huge, sizeof huge), 2, 3, NPY_ERR_FORMAT, "exceeds");
}
END_TEST

START_TEST(refuses_truncated_and_oversized_data) {
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expect_failure(write_npy("t.npy", 1, dict, f4_data, sizeof f4_data - 1, 64), 2, 3, NPY_ERR_FORMAT,
                 "truncated data");
  expect_failure(write_npy("t0.npy", 1, dict, f4_data, 0, 64), 2, 3, NPY_ERR_FORMAT,
                 "truncated data");
  const float more[7] = {0};
  expect_failure(write_npy("o.npy", 1, dict, more, sizeof more, 64), 2, 3, NPY_ERR_FORMAT,
                 "unexpected bytes");
  expect_failure(write_npy("x.npy", 1,
                           "{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (4611686018427387904, 8), }",
                           f4_data, sizeof f4_data, 64),
                 2, 3, NPY_ERR_FORMAT, "too large");
}
END_TEST

START_TEST(refuses_unsupported_dtypes) {
  const char *fmt = "{'descr': '%s', 'fortran_order': False, 'shape': (2, 3), }";
  static const char *descrs[] = {"<i8", ">f4", "<i4", "|b1", "<c8", "=f4"};
  for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++) {
    char dict[128], needle[64];
    snprintf(dict, sizeof dict, fmt, descrs[i]);
    snprintf(needle, sizeof needle, "dtype '%s' is not supported", descrs[i]);
    expect_failure(write_npy("d.npy", 1, dict, f4_data, sizeof f4_data, 64), 2, 3,
                   NPY_ERR_UNSUPPORTED, needle);
  }
  expect_failure(
      write_npy("r.npy", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
                f4_data, sizeof f4_data, 64),
      1, 3, NPY_ERR_FORMAT, "structured");
}
END_TEST

START_TEST(refuses_fortran_order_and_wrong_rank) {
  expect_failure(write_npy("f.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                           f4_data, sizeof f4_data, 64),
                 2, 3, NPY_ERR_UNSUPPORTED, "Fortran");
  const char *r1 =
      write_npy("r1.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", f4_data,
                sizeof f4_data, 64);
  expect_failure(r1, 2, 3, NPY_ERR_UNSUPPORTED, "rank 1, expected rank 2 to 3");
  const char *r4 =
      write_npy("r4.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 1), }",
                f4_data, sizeof f4_data, 64);
  expect_failure(r4, 2, 3, NPY_ERR_UNSUPPORTED, "shape (1, 2, 3, 1) has rank 4");
  const char *r0 = write_npy("r0.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                             f4_data, 4, 64);
  expect_failure(r0, 2, 2, NPY_ERR_UNSUPPORTED, "rank 0, expected rank 2");
}
END_TEST

START_TEST(refuses_unaligned_data) {
  /* 10 + 59 + 1 = 70 bytes of preamble and header: the floats would start at 70 */
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ck_assert_uint_eq(strlen(dict), 59);
  expect_failure(write_npy("u.npy", 1, dict, f4_data, sizeof f4_data, 0), 2, 3, NPY_ERR_FORMAT,
                 "not aligned");
}
END_TEST

/* The dict parser alone: structure errors each give their own message. */
START_TEST(header_parser_rejects_malformed_dicts) {
  static const struct {
    const char *dict, *needle;
  } cases[] = {
      {"", "expected '{'"},
      {"[]", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'descr': '<f4', 'shape': (1,)}", "missing key 'fortran_order'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "duplicate"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unexpected key 'x'"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}", "non-negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,,)}", "non-negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "overflows"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "after the dict"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order' False, 'shape': (1,)}", "expected ':'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected ',' or '}'"},
      {"{'descr': 'a\\'b', 'fortran_order': False, 'shape': (1,)}", "bad string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    npy_header h;
    err[0] = '\0';
    ck_assert_msg(npy_header_parse(cases[i].dict, strlen(cases[i].dict), &h, err, sizeof err) == -1,
                  "accepted %s", cases[i].dict);
    ck_assert_msg(strstr(err, cases[i].needle) != NULL, "%s: error '%s' lacks '%s'", cases[i].dict,
                  err, cases[i].needle);
  }
}
END_TEST

/* The parser never reads past len: the text is not NUL-terminated. */
START_TEST(header_parser_respects_length) {
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (12, 5), }";
  size_t n = strlen(dict);
  char *exact = malloc(n);
  memcpy(exact, dict, n);
  npy_header h;
  ck_assert_int_eq(npy_header_parse(exact, n, &h, err, sizeof err), 0);
  ck_assert_str_eq(h.descr, "<f4");
  ck_assert_int_eq(h.rank, 2);
  ck_assert_int_eq(h.shape[1], 5);
  for (size_t cut = 0; cut < n - 1; cut++)
    ck_assert_int_eq(npy_header_parse(exact, cut, &h, err, sizeof err), -1);
  free(exact);
}
END_TEST

/* ---- writing --------------------------------------------------------------------------------- */

START_TEST(writer_round_trips_f4_and_i4) {
  const int64_t s3[3] = {1, 2, 3}, s2[2] = {3, 2}, s1[1] = {6};
  const int32_t labels[6] = {5, 4, 3, 2, 1, -1};
  const int64_t *shapes[3] = {s1, s2, s3};
  for (int rank = 1; rank <= 3; rank++) {
    npy_array a;
    const char *p = path_of("w.npy");
    ck_assert_int_eq(npy_write(p, NPY_F4, rank, shapes[rank - 1], f4_data, err, sizeof err),
                     NPY_OK);
    ck_assert_int_eq(npy_map(p, NPY_ACCEPT_FLOAT, 1, 3, &a, err, sizeof err), NPY_OK);
    ck_assert_int_eq(a.rank, rank);
    for (int i = 0; i < rank; i++) ck_assert_int_eq(a.shape[i], shapes[rank - 1][i]);
    ck_assert_mem_eq(a.data, f4_data, sizeof f4_data);
    ck_assert_uint_eq((size_t)((const char *)a.data - (const char *)a.map), 128);
    npy_unmap(&a);
  }
  const char *p = path_of("l.npy");
  ck_assert_int_eq(npy_write(p, NPY_I4, 1, s1, labels, err, sizeof err), NPY_OK);
  npy_array a;
  ck_assert_int_eq(npy_map(p, NPY_ACCEPT(NPY_I4), 1, 1, &a, err, sizeof err), NPY_OK);
  ck_assert_mem_eq(a.data, labels, sizeof labels);
  npy_unmap(&a);
  ck_assert_int_eq(count_files(), 2); /* no temp file left behind */
}
END_TEST

/* The header numpy writes for this array, byte for byte. */
START_TEST(writer_header_matches_numpy) {
  const int64_t shape[2] = {2, 3};
  const char *p = path_of("n.npy");
  ck_assert_int_eq(npy_write(p, NPY_F4, 2, shape, f4_data, err, sizeof err), NPY_OK);
  char buf[128];
  FILE *f = fopen(p, "rb");
  ck_assert_uint_eq(fread(buf, 1, 128, f), 128);
  fclose(f);
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ck_assert_mem_eq(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
  ck_assert_mem_eq(buf + 10, dict, strlen(dict));
  for (size_t i = 10 + strlen(dict); i < 127; i++) ck_assert_int_eq(buf[i], ' ');
  ck_assert_int_eq(buf[127], '\n');
}
END_TEST

START_TEST(writer_replaces_and_sets_mode) {
  const int64_t shape[1] = {6};
  const char *p = path_of("r.npy");
  write_raw("r.npy", "old", 3);
  mode_t old = umask(022);
  ck_assert_int_eq(npy_write(p, NPY_F4, 1, shape, f4_data, err, sizeof err), NPY_OK);
  umask(old);
  struct stat st;
  ck_assert_int_eq(stat(p, &st), 0);
  ck_assert_int_eq(st.st_size, 128 + (off_t)sizeof f4_data);
  ck_assert_int_eq(st.st_mode & 0777, 0644);
  ck_assert_int_eq(count_files(), 1);
}
END_TEST

START_TEST(writer_fails_cleanly_without_directory) {
  const int64_t shape[1] = {6};
  char p[512];
  snprintf(p, sizeof p, "%s/no/such/dir/out.npy", dir);
  ck_assert_int_eq(npy_write(p, NPY_F4, 1, shape, f4_data, err, sizeof err), NPY_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "No such file"));
  ck_assert_int_eq(npy_check_writable(p, err, sizeof err), NPY_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "does not exist"));
  /* a regular file where a directory should be */
  write_raw("file", "x", 1);
  snprintf(p, sizeof p, "%s/file/out.npy", dir);
  ck_assert_int_eq(npy_write(p, NPY_F4, 1, shape, f4_data, err, sizeof err), NPY_ERR_IO);
  ck_assert_int_eq(npy_check_writable(p, err, sizeof err), NPY_ERR_IO);
  ck_assert_int_eq(npy_check_writable(dir, err, sizeof err), NPY_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "is a directory"));
  ck_assert_int_eq(npy_check_writable(path_of("fine.npy"), err, sizeof err), NPY_OK);
  ck_assert_int_eq(count_files(), 1);
}
END_TEST

/* A write that fails half-way (file size limit) leaves neither the target nor a temp file. */
START_TEST(writer_leaves_nothing_after_a_failed_write) {
  static float big[4096];
  const int64_t shape[1] = {4096};
  struct rlimit old, small = {1000, 1000};
  signal(SIGXFSZ, SIG_IGN);
  getrlimit(RLIMIT_FSIZE, &old);
  small.rlim_max = old.rlim_max;
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
  npy_status s = npy_write(path_of("big.npy"), NPY_F4, 1, shape, big, err, sizeof err);
  setrlimit(RLIMIT_FSIZE, &old);
  ck_assert_int_eq(s, NPY_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "cannot write"));
  ck_assert_int_eq(count_files(), 0);
}
END_TEST

START_TEST(writer_temp_commit_and_discard) {
  const int64_t shape[1] = {6};
  const char *p = path_of("c.npy");
  char tmp[600], tmp2[600];
  ck_assert_int_eq(npy_write_temp(p, NPY_F4, 1, shape, f4_data, tmp, sizeof tmp, err, sizeof err),
                   NPY_OK);
  ck_assert_int_eq(strncmp(tmp, dir, strlen(dir)), 0);
  ck_assert_int_eq(access(p, F_OK), -1); /* not visible before the commit */
  ck_assert_int_eq(npy_write_temp(p, NPY_F4, 1, shape, f4_data, tmp2, sizeof tmp2, err, sizeof err),
                   NPY_OK);
  npy_discard(tmp2);
  ck_assert_int_eq(npy_commit(tmp, p, err, sizeof err), NPY_OK);
  ck_assert_int_eq(access(p, F_OK), 0);
  ck_assert_int_eq(count_files(), 1);
  /* a commit that cannot rename removes its temp file */
  ck_assert_int_eq(npy_write_temp(p, NPY_F4, 1, shape, f4_data, tmp, sizeof tmp, err, sizeof err),
                   NPY_OK);
  ck_assert_int_eq(npy_commit(tmp, path_of("missing/c.npy"), err, sizeof err), NPY_ERR_IO);
  ck_assert_int_eq(count_files(), 1);
}
END_TEST

START_TEST(writer_refuses_bad_rank) {
  const int64_t shape[4] = {1, 1, 1, 6};
  ck_assert_int_eq(npy_write(path_of("b.npy"), NPY_F4, 4, shape, f4_data, err, sizeof err),
                   NPY_ERR_UNSUPPORTED);
  ck_assert_int_eq(npy_write(path_of("b.npy"), NPY_F4, 0, shape, f4_data, err, sizeof err),
                   NPY_ERR_UNSUPPORTED);
  ck_assert_int_eq(count_files(), 0);
}
END_TEST

static Suite *npy_suite(void) {
  Suite *s = suite_create("npy");
  TCase *read = tcase_create("read");
  tcase_add_checked_fixture(read, setup, teardown);
  tcase_add_test(read, reads_f4_rank2_v1);
  tcase_add_test(read, reads_f2_and_f8);
  tcase_add_test(read, reads_v2_v3_and_16_byte_padding);
  tcase_add_test(read, reads_header_spellings);
  tcase_add_test(read, reads_int32_when_accepted);
  tcase_add_test(read, refuses_missing_empty_and_directory);
  tcase_add_test(read, refuses_bad_magic_and_short_files);
  tcase_add_test(read, refuses_truncated_and_huge_headers);
  tcase_add_test(read, refuses_truncated_and_oversized_data);
  tcase_add_test(read, refuses_unsupported_dtypes);
  tcase_add_test(read, refuses_fortran_order_and_wrong_rank);
  tcase_add_test(read, refuses_unaligned_data);
  tcase_add_test(read, header_parser_rejects_malformed_dicts);
  tcase_add_test(read, header_parser_respects_length);
  suite_add_tcase(s, read);
  TCase *write = tcase_create("write");
  tcase_add_checked_fixture(write, setup, teardown);
  tcase_add_test(write, writer_round_trips_f4_and_i4);
  tcase_add_test(write, writer_header_matches_numpy);
  tcase_add_test(write, writer_replaces_and_sets_mode);
  tcase_add_test(write, writer_fails_cleanly_without_directory);
  tcase_add_test(write, writer_leaves_nothing_after_a_failed_write);
  tcase_add_test(write, writer_temp_commit_and_discard);
  tcase_add_test(write, writer_refuses_bad_rank);
  suite_add_tcase(s, write);
  return s;
}

int main(void) { return fkm_test_run(npy_suite(), 0); }
