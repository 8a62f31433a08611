/*
 * LD_PRELOAD shim for running self-re-executing test programs under
 * Valgrind with --trace-children=yes.
 *
 * c_api_test runs each algorithm in a child made by execv("/proc/self/exe").
 * Under Valgrind, /proc/self/exe of the client is Valgrind's tool binary,
 * which cannot be exec'd as a client ("mmap failed in UME"). This shim
 * replaces that one path with $PQC_SELF_EXE (the test binary's real path)
 * and leaves every other exec alone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int execv(const char *path, char *const argv[]) {
  typedef int (*execv_fn)(const char *, char *const[]);
  execv_fn real = (execv_fn)dlsym(RTLD_NEXT, "execv");
  const char *self = getenv("PQC_SELF_EXE");
  if (self != NULL && strcmp(path, "/proc/self/exe") == 0) {
    path = self;
  }
  return real(path, argv);
}
