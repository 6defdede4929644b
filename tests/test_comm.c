/* Communicator pieces that need no GPU (runtime/comm_id.c, the checks of runtime/comm.c): id files
 * (round trip of fresh random ids, mode 0600, atomic replacement, waiting for a file another
 * process writes or a copy still writes, damaged files, unwritable places), the launcher's rank and
 * size from its environment (each launcher, precedence, malformed values), and that argument
 * checks and a missing NCCL give clear statuses without NCCL. Each test runs in its own process
 * (the suite forks): environment changes and the once-per-process NCCL loader stay in it. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"
#include "support.h"

#define FILE_BYTES (8 + FKM_COMM_ID_BYTES) /* "FKMCOMM1" then the id */
#define NO_NCCL "/nonexistent/libnccl.so.2"

static fkm_ctx *ctx;
static uint64_t rng;
static char dir[64], path[128];

static void setup(void) {
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  rng = fkm_test_seed() ^ 0x3c6ef372fe94f82bull;
  snprintf(dir, sizeof dir, "/tmp/fkm-test-comm-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/id", dir);
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
  fkm_ctx_free(ctx);
}

static fkm_comm_id random_id(void) {
  fkm_comm_id id;
  for (size_t i = 0; i < sizeof id.bytes; i++)
    id.bytes[i] = (unsigned char)(fkm__mix64(rng + i) >> 13);
  rng = fkm__mix64(rng);
  return id;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
  struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&t, NULL);
}

/* Entries of d but . and .. */
static int entries(const char *d) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", d);
  FILE *f = popen(cmd, "r");
  int n = -1;
  ck_assert(f && fscanf(f, "%d", &n) == 1);
  pclose(f);
  return n;
}

static void write_file(const char *p, const void *bytes, size_t n) {
  FILE *f = fopen(p, "wb");
  ck_assert(f && fwrite(bytes, 1, n, f) == n);
  ck_assert_int_eq(fclose(f), 0);
}

/* The file an id is saved as, read back: its size. */
static size_t read_file(const char *p, unsigned char *bytes, size_t cap) {
  FILE *f = fopen(p, "rb");
  ck_assert_ptr_nonnull(f);
  size_t n = fread(bytes, 1, cap, f);
  fclose(f);
  return n;
}

static void assert_detail(const char *needle) {
  ck_assert_msg(strstr(fkm_ctx_last_error(ctx), needle) != NULL, "detail \"%s\" lacks \"%s\"",
                fkm_ctx_last_error(ctx), needle);
}

static void assert_same(const fkm_comm_id *a, const fkm_comm_id *b) {
  ck_assert_msg(memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0, "ids differ");
}

/* The saved file is the magic then the id, mode 0600 whatever the umask or a stale temporary's
 * mode, and nothing else is left in the directory. */
START_TEST(id_round_trip) {
  char stale[160];
  snprintf(stale, sizeof stale, "%s.tmp.%ld", path, (long)getpid());
  for (int i = 0; i < 6; i++) {
    fkm_comm_id id = random_id(), back = random_id();
    mode_t old = umask(i % 2 ? 0277 : 0);
    if (i == 4) write_file(stale, "stale", 5), chmod(stale, 0644);
    ck_assert_msg(fkm_comm_id_save(ctx, &id, path) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
    umask(old);
    ck_assert_msg(fkm_comm_id_load(ctx, path, 0, &back) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
    assert_same(&id, &back);
    unsigned char file[FILE_BYTES + 1];
    ck_assert_int_eq(read_file(path, file, sizeof file), FILE_BYTES);
    ck_assert(memcmp(file, "FKMCOMM1", 8) == 0 && memcmp(file + 8, id.bytes, sizeof id.bytes) == 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_msg((st.st_mode & 07777) == 0600, "mode %o", (unsigned)(st.st_mode & 07777));
    ck_assert_int_eq(entries(dir), 1);
  }
}
END_TEST

/* A later save replaces the file by a rename: a reader of the old file still reads it whole, and
 * the path names a new file with the new id. */
START_TEST(id_save_replaces_atomically) {
  fkm_comm_id a = random_id(), b = random_id(), back;
  ck_assert_int_eq(fkm_comm_id_save(ctx, &a, path), FKM_OK);
  struct stat before, after;
  ck_assert_int_eq(stat(path, &before), 0);
  FILE *old = fopen(path, "rb");
  ck_assert_ptr_nonnull(old);
  ck_assert_int_eq(fkm_comm_id_save(ctx, &b, path), FKM_OK);
  unsigned char file[FILE_BYTES + 1];
  ck_assert_int_eq(fread(file, 1, sizeof file, old), FILE_BYTES);
  fclose(old);
  ck_assert(memcmp(file + 8, a.bytes, sizeof a.bytes) == 0);
  ck_assert_int_eq(stat(path, &after), 0);
  ck_assert(after.st_ino != before.st_ino);
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_OK);
  assert_same(&b, &back);
  ck_assert_int_eq(entries(dir), 1);
}
END_TEST

/* Saves that cannot be written: FKM_ERR_IO naming the path and why, nothing created, an existing
 * id file untouched. */
START_TEST(id_save_unwritable) {
  fkm_comm_id id = random_id(), other = random_id(), back;
  char missing[160], blocked[160];
  snprintf(missing, sizeof missing, "%s/no/such/dir/id", dir);
  ck_assert_int_eq(fkm_comm_id_save(ctx, &id, missing), FKM_ERR_IO);
  assert_detail("no/such/dir/id");
  assert_detail(strerror(ENOENT));
  ck_assert_int_eq(entries(dir), 0);
  ck_assert_int_eq(mkdir(path, 0700), 0); /* a directory where the file would go: rename fails */
  ck_assert_int_eq(fkm_comm_id_save(ctx, &id, path), FKM_ERR_IO);
  assert_detail(path);
  ck_assert_int_eq(entries(dir), 1);
  ck_assert_int_eq(rmdir(path), 0);
  ck_assert_int_eq(fkm_comm_id_save(ctx, &id, path), FKM_OK);
  snprintf(blocked, sizeof blocked, "%s.tmp.%ld", path, (long)getpid());
  ck_assert_int_eq(mkdir(blocked, 0700), 0); /* the temporary cannot be opened */
  ck_assert_int_eq(fkm_comm_id_save(ctx, &other, path), FKM_ERR_IO);
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_OK);
  assert_same(&id, &back);
  ck_assert_int_eq(entries(dir), 2);
}
END_TEST

START_TEST(id_null_arguments) {
  fkm_comm_id id = random_id();
  ck_assert_int_eq(fkm_comm_id_save(NULL, &id, path), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_id_save(ctx, NULL, path), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_id_save(ctx, &id, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(entries(dir), 0);
  ck_assert_int_eq(fkm_comm_id_save(ctx, &id, path), FKM_OK);
  ck_assert_int_eq(fkm_comm_id_load(NULL, path, 0, &id), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_id_load(ctx, NULL, 0, &id), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, -1, &id), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, NAN, &id), FKM_ERR_INVALID_ARG);
}
END_TEST

/* A missing file: one look with timeout 0, at least the timeout otherwise; *id untouched. */
START_TEST(id_load_missing) {
  fkm_comm_id back = random_id(), untouched = back;
  double t0 = now_s();
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_ERR_IO);
  ck_assert_msg(now_s() - t0 < 0.1, "one look took %.3f s", now_s() - t0);
  assert_detail("did not appear");
  assert_detail(path);
  t0 = now_s();
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0.2, &back), FKM_ERR_IO);
  double waited = now_s() - t0;
  ck_assert_msg(waited >= 0.2 && waited < 2, "waited %.3f s for 0.2 s", waited);
  assert_detail("within 0.2 s");
  assert_same(&back, &untouched);
  ck_assert_int_eq(entries(dir), 0);
}
END_TEST

/* A file another process saves 100 ms after the load starts is picked up. */
START_TEST(id_load_waits_for_another_process) {
  fkm_comm_id id = random_id(), back = random_id();
  double t0 = now_s();
  pid_t child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    fkm_ctx *c;
    sleep_s(0.1);
    _exit(fkm_ctx_create(&c) == FKM_OK && fkm_comm_id_save(c, &id, path) == FKM_OK ? 0 : 1);
  }
  ck_assert_msg(fkm_comm_id_load(ctx, path, 3.0, &back) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  double waited = now_s() - t0;
  int status;
  ck_assert_int_eq(waitpid(child, &status, 0), child);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_same(&id, &back);
  ck_assert_msg(waited >= 0.1 && waited < 3, "picked up after %.3f s", waited);
}
END_TEST

typedef struct later_write {
  const unsigned char *bytes;
  size_t n;
} later_write;

static void *append_later(void *arg) {
  const later_write *w = arg;
  sleep_s(0.1);
  FILE *f = fopen(path, "ab");
  if (f) fwrite(w->bytes, 1, w->n, f), fclose(f);
  return NULL;
}

/* A proper prefix of an id file (a copy still writing it) is waited for: completed, it loads; left
 * short, it is FKM_ERR_FORMAT after the timeout. */
START_TEST(id_load_waits_for_a_partial_file) {
  fkm_comm_id id = random_id(), back = random_id(), untouched = back;
  unsigned char file[FILE_BYTES];
  memcpy(file, "FKMCOMM1", 8), memcpy(file + 8, id.bytes, sizeof id.bytes);
  size_t cut = 1 + (size_t)fkm_test_uniform(&rng, 0, FILE_BYTES - 1);
  write_file(path, file, cut);
  later_write rest = {file + cut, FILE_BYTES - cut};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, append_later, &rest), 0);
  ck_assert_msg(fkm_comm_id_load(ctx, path, 3.0, &back) == FKM_OK, "cut %zu: %s", cut,
                fkm_ctx_last_error(ctx));
  pthread_join(t, NULL);
  assert_same(&id, &back);
  back = untouched;
  write_file(path, file, cut);
  double t0 = now_s();
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0.2, &back), FKM_ERR_FORMAT);
  ck_assert(now_s() - t0 >= 0.2);
  assert_detail("shorter");
  assert_same(&back, &untouched);
}
END_TEST

/* Truncated, wrong magic, extra bytes: FKM_ERR_FORMAT, *id untouched; those that cannot become an
 * id file fail at once whatever the timeout. */
START_TEST(id_load_damaged_files) {
  fkm_comm_id id = random_id(), back = random_id(), untouched = back;
  unsigned char good[FILE_BYTES], bad[FILE_BYTES + 64];
  memcpy(good, "FKMCOMM1", 8), memcpy(good + 8, id.bytes, sizeof id.bytes);
  const size_t truncated[] = {0, 3, 8, FILE_BYTES - 1};
  for (size_t i = 0; i < sizeof truncated / sizeof truncated[0]; i++) {
    write_file(path, good, truncated[i]);
    ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_ERR_FORMAT);
    assert_same(&back, &untouched);
  }
  for (int trial = 0; trial < 20; trial++) {
    memcpy(bad, good, sizeof good);
    size_t n = FILE_BYTES;
    if (trial % 2)
      bad[(size_t)fkm_test_uniform(&rng, 0, 8)] ^= (unsigned char)(1 + trial); /* magic */
    else
      n += 1 + (size_t)fkm_test_uniform(&rng, 0, 63);                              /* extra bytes */
    if (trial % 4 == 1) n = 1 + (size_t)fkm_test_uniform(&rng, 8, FILE_BYTES - 1); /* and short */
    write_file(path, bad, n);
    double t0 = now_s();
    ck_assert_int_eq(fkm_comm_id_load(ctx, path, 3.0, &back), FKM_ERR_FORMAT);
    ck_assert_msg(now_s() - t0 < 1, "trial %d: waited %.3f s for a bad file", trial, now_s() - t0);
    assert_detail("not an fkm comm id file");
    assert_same(&back, &untouched);
  }
}
END_TEST

/* A path that exists but cannot be read as a file fails at once with FKM_ERR_IO. */
START_TEST(id_load_unreadable) {
  fkm_comm_id back = random_id(), untouched = back;
  ck_assert_int_eq(mkdir(path, 0700), 0);
  double t0 = now_s();
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 3.0, &back), FKM_ERR_IO);
  ck_assert(now_s() - t0 < 1);
  assert_detail(strerror(EISDIR));
  assert_same(&back, &untouched);
}
END_TEST

static const char *const launcher_vars[][2] = {{"FKM_RANK", "FKM_SIZE"},
                                               {"RANK", "WORLD_SIZE"},
                                               {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                               {"PMI_RANK", "PMI_SIZE"},
                                               {"SLURM_PROCID", "SLURM_NTASKS"}};
#define LAUNCHERS 5

static void clear_launchers(void) {
  for (int p = 0; p < LAUNCHERS; p++) unsetenv(launcher_vars[p][0]), unsetenv(launcher_vars[p][1]);
}

static void set_pair(int p, int rank, int size) {
  char r[16], s[16];
  snprintf(r, sizeof r, "%d", rank), snprintf(s, sizeof s, "%d", size);
  setenv(launcher_vars[p][0], r, 1), setenv(launcher_vars[p][1], s, 1);
}

START_TEST(launcher_none_and_each) {
  int rank = 7, size = 7;
  char why[256];
  clear_launchers();
  ck_assert_int_eq(fkm__launcher_rank(&rank, &size, why, sizeof why), 0);
  ck_assert(rank == 0 && size == 1);
  for (int trial = 0; trial < 50; trial++) {
    int p = trial % LAUNCHERS, want_size = 1 + (int)fkm_test_uniform(&rng, 0, 5000);
    int want_rank = (int)fkm_test_uniform(&rng, 0, want_size);
    clear_launchers();
    set_pair(p, want_rank, want_size);
    rank = size = -5;
    ck_assert_int_eq(fkm__launcher_rank(&rank, &size, why, sizeof why), 1);
    ck_assert_msg(rank == want_rank && size == want_size, "%s: %d of %d, want %d of %d",
                  launcher_vars[p][0], rank, size, want_rank, want_size);
  }
}
END_TEST

/* With every launcher set, the first in the documented order decides; unset it and the next does.
 */
START_TEST(launcher_precedence) {
  int rank, size;
  char why[256];
  clear_launchers();
  for (int p = 0; p < LAUNCHERS; p++) set_pair(p, p, 10 + p);
  for (int p = 0; p < LAUNCHERS; p++) {
    ck_assert_int_eq(fkm__launcher_rank(&rank, &size, why, sizeof why), 1);
    ck_assert_msg(rank == p && size == 10 + p, "%d of %d: not %s's", rank, size,
                  launcher_vars[p][0]);
    unsetenv(launcher_vars[p][0]), unsetenv(launcher_vars[p][1]);
  }
  ck_assert_int_eq(fkm__launcher_rank(&rank, &size, why, sizeof why), 0);
  set_pair(1, 2, 4); /* RANK valid, FKM_RANK alone: the half-set first pair still decides */
  setenv("FKM_RANK", "0", 1);
  ck_assert_int_eq(fkm__launcher_rank(&rank, &size, why, sizeof why), -1);
  ck_assert_msg(strstr(why, "FKM_SIZE") != NULL, "%s", why);
}
END_TEST

/* Malformed or out-of-range pairs of every launcher: -1, and why names both variables and shows
 * the bad value. */
START_TEST(launcher_malformed) {
  static const char *const bad[][2] = {
      {"1x", "4"}, {"", "4"},   {"-1", "4"},          {" 1", "4"},  {"+1", "4"}, {"4", "4"},
      {"5", "4"},  {"0", "0"},  {"0", "-2"},          {"0", "x"},   {"0", "4 "}, {"0", ""},
      {"0", NULL}, {NULL, "4"}, {"0", "99999999999"}, {"1.0", "4"}, {"0x1", "4"}};
  int rank, size;
  char why[256];
  for (int p = 0; p < LAUNCHERS; p++)
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      clear_launchers();
      if (bad[i][0]) setenv(launcher_vars[p][0], bad[i][0], 1);
      if (bad[i][1]) setenv(launcher_vars[p][1], bad[i][1], 1);
      why[0] = 0;
      ck_assert_msg(fkm__launcher_rank(&rank, &size, why, sizeof why) == -1, "%s=%s %s=%s accepted",
                    launcher_vars[p][0], bad[i][0] ? bad[i][0] : "(unset)", launcher_vars[p][1],
                    bad[i][1] ? bad[i][1] : "(unset)");
      ck_assert_msg(strstr(why, launcher_vars[p][0]) && strstr(why, launcher_vars[p][1]), "%s",
                    why);
      const char *value = bad[i][0] && strcmp(bad[i][0], "0") ? bad[i][0] : bad[i][1];
      if (value) ck_assert_msg(strstr(why, value) != NULL, "\"%s\" lacks \"%s\"", why, value);
    }
  clear_launchers();
  setenv("SLURM_PROCID", "12345", 1), setenv("SLURM_NTASKS", "x", 1);
  memset(why, 'z', sizeof why);
  ck_assert_int_eq(fkm__launcher_rank(&rank, &size, why, 8),
                   -1); /* a short buffer stays a string */
  ck_assert(memchr(why, 0, 8) != NULL && why[8] == 'z');
}
END_TEST

/* Runs in its own process: the loader opens NCCL once per process, so FKM_NCCL_PATH is set first.
 */
START_TEST(nccl_absent) {
  setenv("FKM_NCCL_PATH", NO_NCCL, 1);
  fkm_comm_id id = random_id();
  ck_assert_int_eq(fkm_comm_id_create(ctx, &id), FKM_ERR_NO_NCCL);
  assert_detail(NO_NCCL);
  fkm_comm *c = NULL;
  clear_launchers();
  ck_assert_int_eq(fkm_comm_from_env(ctx, 0, NULL, &c), FKM_ERR_NO_NCCL); /* rank 0 of 1 */
  ck_assert_ptr_null(c);
}
END_TEST

/* Bad arguments are refused before NCCL is opened (INVALID_ARG, not NO_NCCL), *out set to NULL;
 * then good ones reach the loader and get NO_NCCL. */
START_TEST(comm_create_arguments) {
  setenv("FKM_NCCL_PATH", NO_NCCL, 1);
  fkm_comm_id id = random_id();
  static const int bad[][3] = {{0, 0, 0}, {0, -3, 0}, {0, 2, -1}, {0, 2, 2},
                               {0, 2, 9}, {-1, 1, 0}, {0, 1, 1}}; /* device, size, rank */
  fkm_comm *c;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    c = (fkm_comm *)&id;
    ck_assert_int_eq(fkm_comm_create(ctx, bad[i][0], bad[i][1], bad[i][2], &id, &c),
                     FKM_ERR_INVALID_ARG);
    ck_assert_ptr_null(c);
  }
  c = (fkm_comm *)&id;
  ck_assert_int_eq(fkm_comm_create(ctx, 0, 1, 0, NULL, &c), FKM_ERR_INVALID_ARG);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(fkm_comm_create(ctx, 0, 1, 0, &id, NULL), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_create(NULL, 0, 1, 0, &id, &c), FKM_ERR_INVALID_ARG);
  clear_launchers();
  setenv("PMI_RANK", "3", 1), setenv("PMI_SIZE", "2", 1);
  c = (fkm_comm *)&id;
  ck_assert_int_eq(fkm_comm_from_env(ctx, 0, path, &c), FKM_ERR_INVALID_ARG);
  ck_assert_ptr_null(c);
  assert_detail("PMI_RANK");
  setenv("PMI_RANK", "1", 1); /* rank 1 of 2 without an id file path */
  ck_assert_int_eq(fkm_comm_from_env(ctx, 0, NULL, &c), FKM_ERR_INVALID_ARG);
  clear_launchers();
  ck_assert_int_eq(fkm_comm_create(ctx, 0, 1, 0, &id, &c), FKM_ERR_NO_NCCL);
  ck_assert_ptr_null(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("comm");
  TCase *ids = tcase_create("id files"), *env = tcase_create("launcher"),
        *nccl = tcase_create("without NCCL");
  TCase *all[] = {ids, env, nccl};
  for (size_t i = 0; i < 3; i++) {
    tcase_add_checked_fixture(all[i], setup, teardown);
    suite_add_tcase(s, all[i]);
  }
  tcase_add_test(ids, id_round_trip);
  tcase_add_test(ids, id_save_replaces_atomically);
  tcase_add_test(ids, id_save_unwritable);
  tcase_add_test(ids, id_null_arguments);
  tcase_add_test(ids, id_load_missing);
  tcase_add_test(ids, id_load_waits_for_another_process);
  tcase_add_test(ids, id_load_waits_for_a_partial_file);
  tcase_add_test(ids, id_load_damaged_files);
  tcase_add_test(ids, id_load_unreadable);
  tcase_add_test(env, launcher_none_and_each);
  tcase_add_test(env, launcher_precedence);
  tcase_add_test(env, launcher_malformed);
  tcase_add_test(nccl, nccl_absent);
  tcase_add_test(nccl, comm_create_arguments);
  return fkm_test_run(s, 0);
}
