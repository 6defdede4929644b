/* Multi-GPU pieces that run without a GPU: NCCL unique-id files (round trip, waiting, damaged files,
 * unwritable places), the launcher's rank and size from its environment, the random init's picks
 * split over ranks (their union is the one-GPU fit's picks), argument checks of fkm_comm_create,
 * and a clear FKM_ERR_NO_NCCL where NCCL cannot be opened. */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"
#include "gpu_run.h"
#include "support.h"

static fkm_ctx *ctx;
static uint64_t rng;
static char dir[256], path[300];

static void setup(void) {
  ck_assert_int_eq(fkm_ctx_create(&ctx), FKM_OK);
  rng = fkm_test_seed() ^ 0x9b05688c2b3e6c1full;
  snprintf(dir, sizeof dir, "/tmp/fkm-test-dist-XXXXXX");
  ck_assert(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/id", dir);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
  fkm_ctx_free(ctx);
}

static fkm_comm_id random_id(void) {
  fkm_comm_id id;
  for (size_t i = 0; i < sizeof id.bytes; i++) id.bytes[i] = (unsigned char)(fkm__mix64(rng + i) >> 7);
  rng = fkm__mix64(rng);
  return id;
}

static int entries(const char *d) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", d);
  FILE *f = popen(cmd, "r");
  int n = -1;
  ck_assert(f && fscanf(f, "%d", &n) == 1);
  pclose(f);
  return n;
}

static void write_file(const char *p, const void *bytes, size_t n) {
  FILE *f = fopen(p, "wb");
  ck_assert(f && fwrite(bytes, 1, n, f) == n);
  fclose(f);
}

START_TEST(id_round_trip) {
  for (int i = 0; i < 3; i++) {
    fkm_comm_id id = random_id(), back;
    ck_assert_int_eq(fkm_comm_id_save(ctx, &id, path), FKM_OK); /* replaces the earlier one */
    ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_OK);
    ck_assert(memcmp(&id, &back, sizeof id) == 0);
  }
  struct stat st;
  ck_assert(stat(path, &st) == 0);
  ck_assert_int_eq(st.st_mode & 0777, 0600);
  ck_assert_int_eq(entries(dir), 1); /* no temporary left */
}
END_TEST

static void *save_later(void *arg) {
  struct timespec pause = {0, 100 * 1000 * 1000};
  nanosleep(&pause, NULL);
  fkm_ctx *c;
  ck_assert_int_eq(fkm_ctx_create(&c), FKM_OK);
  ck_assert_int_eq(fkm_comm_id_save(c, arg, path), FKM_OK);
  fkm_ctx_free(c);
  return NULL;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

START_TEST(id_load_waits) {
  fkm_comm_id id = random_id(), back = random_id(), untouched = back;
  double t0 = now_s();
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_ERR_IO);
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0.2, &back), FKM_ERR_IO);
  ck_assert(now_s() - t0 >= 0.2);
  ck_assert(strstr(fkm_ctx_last_error(ctx), "did not appear") != NULL);
  ck_assert(memcmp(&back, &untouched, sizeof back) == 0);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, save_later, &id), 0);
  ck_assert_msg(fkm_comm_id_load(ctx, path, 5.0, &back) == FKM_OK, "%s", fkm_ctx_last_error(ctx));
  pthread_join(t, NULL);
  ck_assert(memcmp(&id, &back, sizeof id) == 0);
}
END_TEST

START_TEST(id_damaged_files) {
  unsigned char good[8 + FKM_COMM_ID_BYTES], longer[sizeof good + 1];
  fkm_comm_id id = random_id(), back = random_id(), untouched = back;
  ck_assert_int_eq(fkm_comm_id_save(ctx, &id, path), FKM_OK);
  FILE *f = fopen(path, "rb");
  ck_assert(f && fread(good, 1, sizeof good, f) == sizeof good);
  fclose(f);
  memcpy(longer, good, sizeof good);
  longer[sizeof good] = 0;
  const struct {
    const void *bytes;
    size_t n;
  } bad[] = {{good, sizeof good - 1}, {good, 3}, {longer, sizeof longer}, {"FKMCOMM0", 8}};
  for (size_t i = 0; i < 4; i++) {
    write_file(path, bad[i].bytes, bad[i].n);
    ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_ERR_FORMAT);
    ck_assert(memcmp(&back, &untouched, sizeof back) == 0);
  }
  good[0] ^= 1; /* wrong magic */
  write_file(path, good, sizeof good);
  ck_assert_int_eq(fkm_comm_id_load(ctx, path, 0, &back), FKM_ERR_FORMAT);
}
END_TEST

START_TEST(id_unwritable) {
  fkm_comm_id id = random_id();
  char missing[320];
  snprintf(missing, sizeof missing, "%s/no/such/dir/id", dir);
  ck_assert_int_eq(fkm_comm_id_save(ctx, &id, missing), FKM_ERR_IO);
  ck_assert(strstr(fkm_ctx_last_error(ctx), "no/such/dir") != NULL);
  ck_assert_int_eq(entries(dir), 0);
  ck_assert_int_eq(fkm_comm_id_save(ctx, NULL, path), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_id_load(ctx, NULL, 0, &id), FKM_ERR_INVALID_ARG);
}
END_TEST

static const char *const launcher_vars[] = {"FKM_RANK", "FKM_SIZE", "OMPI_COMM_WORLD_RANK",
                                            "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE",
                                            "SLURM_PROCID", "SLURM_NTASKS", "RANK", "WORLD_SIZE"};

static void clear_launcher(void) {
  for (size_t i = 0; i < sizeof launcher_vars / sizeof launcher_vars[0]; i++) unsetenv(launcher_vars[i]);
}

static int launcher(int *rank, int *size, char *why) {
  return fkm__launcher_rank(rank, size, why, 256);
}

START_TEST(launcher_environment) {
  int rank = -1, size = -1;
  char why[256];
  clear_launcher();
  ck_assert_int_eq(launcher(&rank, &size, why), 0);
  ck_assert(rank == 0 && size == 1);
  for (size_t p = 0; p < 5; p++) { /* each pair alone */
    clear_launcher();
    setenv(launcher_vars[2 * p], "3", 1), setenv(launcher_vars[2 * p + 1], "8", 1);
    ck_assert_int_eq(launcher(&rank, &size, why), 1);
    ck_assert(rank == 3 && size == 8);
  }
  setenv("FKM_RANK", "1", 1), setenv("FKM_SIZE", "2", 1); /* the first pair wins */
  ck_assert_int_eq(launcher(&rank, &size, why), 1);
  ck_assert(rank == 1 && size == 2);
  const char *bad[][2] = {{"1x", "4"}, {"", "4"}, {"-1", "4"}, {"4", "4"}, {"0", "0"}, {"0", NULL}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    clear_launcher();
    setenv("PMI_RANK", bad[i][0], 1);
    if (bad[i][1]) setenv("PMI_SIZE", bad[i][1], 1);
    ck_assert_int_eq(launcher(&rank, &size, why), -1);
    ck_assert_msg(strstr(why, "PMI_RANK") != NULL, "%s", why);
  }
  clear_launcher();
}
END_TEST

/* For random rank counts, shard sizes and weights, the ranks' owned picks, taken back to global
 * indices, are exactly the one-GPU picks (each owned by one rank), in pick order. */
START_TEST(picks_split_over_ranks) {
  for (int trial = 0; trial < 40; trial++) {
    int size = 1 + (int)fkm_test_uniform(&rng, 0, 6), weighted = trial % 2;
    int64_t n[8], first[8], positive[8], total = 0, m = 0;
    for (int r = 0; r < size; r++) {
      n[r] = 1 + (int64_t)fkm_test_uniform(&rng, 0, 300);
      first[r] = total, total += n[r];
    }
    float *w = malloc((size_t)total * sizeof *w);
    for (int64_t i = 0; i < total; i++) w[i] = weighted ? (float)(int)fkm_test_uniform(&rng, 0, 3) : 1.0f;
    for (int r = 0; r < size; r++) {
      positive[r] = 0;
      for (int64_t i = first[r]; i < first[r] + n[r]; i++) positive[r] += w[i] > 0.0f;
      m += positive[r];
    }
    int64_t k = 1 + (int64_t)fkm_test_uniform(&rng, 0, (double)(m < 40 ? m : 40)), want[40], got[40], b = trial % 3;
    uint64_t seed = fkm__mix64(rng + (uint64_t)trial);
    ck_assert_int_eq(fkm__random_init_indices(seed, b, m, k, want), FKM_OK);
    ck_assert_int_eq(fkm__rank_indices(weighted ? w : NULL, total, k, want), FKM_OK);
    int owners[40] = {0};
    for (int r = 0; r < size; r++) {
      int64_t pick[40];
      unsigned char owned[40];
      ck_assert_int_eq(fkm__dist_own_picks(seed, b, k, positive, size, r,
                                           weighted ? w + first[r] : NULL, n[r], pick, owned),
                       FKM_OK);
      for (int64_t j = 0; j < k; j++)
        if (owned[j]) owners[j]++, got[j] = first[r] + pick[j];
        else ck_assert_int_eq(pick[j], 0);
    }
    for (int64_t j = 0; j < k; j++) {
      ck_assert_msg(owners[j] == 1, "trial %d: pick %lld held by %d ranks", trial, (long long)j, owners[j]);
      ck_assert_msg(got[j] == want[j], "trial %d: pick %lld is %lld, one GPU picks %lld", trial,
                    (long long)j, (long long)got[j], (long long)want[j]);
    }
    free(w);
  }
}
END_TEST

/* Shards of opts->devices: contiguous, covering [0, N), whole spans but the last, even. */
START_TEST(span_shards) {
  for (int trial = 0; trial < 200; trial++) {
    int64_t n = 1 + (int64_t)fkm_test_uniform(&rng, 0, trial < 100 ? 5000 : 3e7), spans = (n + 511) / 512;
    int g = 1 + (int)fkm_test_uniform(&rng, 0, 16);
    if (g > spans) g = (int)spans;
    int64_t next = 0, lo = INT64_MAX, hi = 0;
    for (int r = 0; r < g; r++) {
      int64_t first, count;
      fkm__span_shard(n, g, r, &first, &count);
      ck_assert_msg(first == next && count >= 1, "n %lld g %d rank %d: [%lld, +%lld)", (long long)n, g,
                    r, (long long)first, (long long)count);
      ck_assert(r == g - 1 || count % 512 == 0);
      if (r < g - 1) lo = count < lo ? count : lo, hi = count > hi ? count : hi;
      next = first + count;
    }
    ck_assert_int_eq(next, n);
    ck_assert(g == 1 || hi - lo <= 512);
  }
}
END_TEST

START_TEST(comm_create_arguments) {
  setenv("FKM_NCCL_PATH", "/nonexistent/libnccl.so.2", 1); /* arguments fail before NCCL opens */
  fkm_comm_id id = random_id();
  fkm_comm *c = (fkm_comm *)&id;
  const int bad[][3] = {{0, 0, 0}, {0, 2, -1}, {0, 2, 2}, {-1, 1, 0}}; /* device, size, rank */
  for (size_t i = 0; i < 4; i++) {
    c = (fkm_comm *)&id;
    ck_assert_int_eq(fkm_comm_create(ctx, bad[i][0], bad[i][1], bad[i][2], &id, &c),
                     FKM_ERR_INVALID_ARG);
    ck_assert_ptr_null(c);
  }
  ck_assert_int_eq(fkm_comm_create(ctx, 0, 1, 0, NULL, &c), FKM_ERR_INVALID_ARG);
  ck_assert_int_eq(fkm_comm_create(ctx, 0, 1, 0, &id, NULL), FKM_ERR_INVALID_ARG);
}
END_TEST

/* Runs in its own process (the suite forks): the loader opens NCCL once per process. */
START_TEST(nccl_absent) {
  setenv("FKM_NCCL_PATH", "/nonexistent/libnccl.so.2", 1);
  fkm_comm_id id;
  fkm_comm *c = NULL;
  ck_assert_int_eq(fkm_comm_id_create(ctx, &id), FKM_ERR_NO_NCCL);
  ck_assert(strstr(fkm_ctx_last_error(ctx), "/nonexistent/libnccl.so.2") != NULL);
  ck_assert_int_eq(fkm_comm_create(ctx, 0, 1, 0, &id, &c), FKM_ERR_NO_NCCL);
  ck_assert_ptr_null(c);
  clear_launcher();
  ck_assert_int_eq(fkm_comm_from_env(ctx, 0, NULL, &c), FKM_ERR_NO_NCCL);
  setenv("FKM_RANK", "1", 1), setenv("FKM_SIZE", "2", 1); /* a second rank needs the id file */
  ck_assert_int_eq(fkm_comm_from_env(ctx, 0, NULL, &c), FKM_ERR_INVALID_ARG);
  clear_launcher();
}
END_TEST

int main(void) {
  Suite *s = suite_create("dist");
  TCase *t = tcase_create("core");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, id_round_trip);
  tcase_add_test(t, id_load_waits);
  tcase_add_test(t, id_damaged_files);
  tcase_add_test(t, id_unwritable);
  tcase_add_test(t, launcher_environment);
  tcase_add_test(t, picks_split_over_ranks);
  tcase_add_test(t, span_shards);
  tcase_add_test(t, comm_create_arguments);
  tcase_add_test(t, nccl_absent);
  suite_add_tcase(s, t);
  return fkm_test_run(s, 0);
}
