/* An LD_PRELOAD shim for tests: fsync and fdatasync fail with EIO while the file named by
 * RB_FAIL_FSYNC_FILE exists, as a disk does when it cannot make data durable. Everything
 * else passes through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int failing(void) {
  const char* trigger = getenv("RB_FAIL_FSYNC_FILE");
  return trigger != NULL && access(trigger, F_OK) == 0;
}

int fsync(int fd) {
  static int (*real)(int) = NULL;
  if (failing()) {
    errno = EIO;
    return -1;
  }
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int) = NULL;
  if (failing()) {
    errno = EIO;
    return -1;
  }
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  return real(fd);
}
