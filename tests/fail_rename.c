/* LD_PRELOAD shim for the command's tests: rename() into a path whose last name equals
 * $FKM_TEST_FAIL_RENAME_TO fails with EIO; every other rename is the C library's. It lets a test
 * fail one output's commit after another output has been put in place. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Exported past the project's hidden default, so that it stands in for the C library's. */
__attribute__((visibility("default"))) int rename(const char *from, const char *to) {
  const char *name = getenv("FKM_TEST_FAIL_RENAME_TO"), *slash = strrchr(to, '/');
  if (name && strcmp(slash ? slash + 1 : to, name) == 0) {
    errno = EIO;
    return -1;
  }
  int (*real)(const char *, const char *) =
      (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
  return real ? real(from, to) : (errno = ENOSYS, -1);
}
