#!/usr/bin/env bash
# Cross-builds libpqc_iiot for ARM Linux with Debian's cross compilers:
#
#   scripts/cross-build.sh [ARCH...]     ARCH: arm64 (default), arm (ARMv7 hard-float)
#
# For each ARCH it writes build/cross/<ARCH>/ with
#   libpqc_iiot.so     the shared library (soname libpqc_iiot.so), with symbols
#   libpqc_iiot.a      the static archive (c-archive), for firmware-style links
#   c_api_test         tests/c/c_api_test.c built for ARCH against the .so
#                      (run it under qemu-user with PQC_QEMU set, as
#                      scripts/test-cross.sh does)
#   sizes.txt          bytes of the .so unstripped and stripped, and of the .a
#
# The same flags as `make shared` (-trimpath, soname) so the sizes compare
# with the host's. Needs gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf
# (scripts/deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

# ARCH -> "GOARCH GOARM cross-prefix". GOARM only matters for arm.
target_of() {
  case "$1" in
    arm64) echo "arm64 - aarch64-linux-gnu" ;;
    arm) echo "arm 7 arm-linux-gnueabihf" ;;
    *) echo "cross-build: unknown ARCH '$1' (arm64 or arm)" >&2; return 1 ;;
  esac
}

# execv("/proc/self/exe", argv) -> execv($PQC_QEMU, [qemu, <this binary>,
# argv[1]...]); qemu finds the sysroot in QEMU_LD_PREFIX, inherited.
write_reexec_shim() {
  cat >"$1" <<'EOF'
#define _GNU_SOURCE
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

static const char *qemu;
static char self[4096];

/* Read before any fork: only exec-safe work happens in the child. */
__attribute__((constructor)) static void pqc_qemu_init(void) {
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  qemu = getenv("PQC_QEMU");
  if (n <= 0) {
    qemu = NULL;
  } else {
    self[n] = '\0';
  }
}

int pqc_qemu_execv(const char *path, char *const argv[]) {
  char *args[64];
  int i;
  if (qemu == NULL || strcmp(path, "/proc/self/exe") != 0) {
    return execv(path, argv);
  }
  args[0] = (char *)qemu;
  args[1] = self;
  for (i = 1; argv[i] != NULL && i < 62; i++) {
    args[i + 1] = argv[i];
  }
  args[i + 1] = NULL;
  return execv(qemu, args);
}
EOF
}

build_one() {
  local arch=$1 goarch goarm prefix out
  read -r goarch goarm prefix < <(target_of "$arch")
  out=build/cross/$arch
  if ! command -v "$prefix-gcc" >/dev/null; then
    echo "cross-build: $prefix-gcc not found (apt-get install gcc-$prefix)" >&2
    return 1
  fi
  mkdir -p "$out"
  # No sizes from an earlier build may outlive a failed one.
  rm -f "$out/sizes.txt"
  local -a env=(CGO_ENABLED=1 GOOS=linux GOARCH="$goarch" CC="$prefix-gcc")
  [ "$goarm" = - ] || env+=(GOARM="$goarm")
  echo "cross-build: linux/$arch ($prefix-gcc)"
  env "${env[@]}" go build -trimpath -buildmode=c-shared \
    -ldflags=-extldflags=-Wl,-soname,libpqc_iiot.so -o "$out/libpqc_iiot.so" ./capi
  env "${env[@]}" go build -trimpath -buildmode=c-archive -o "$out/libpqc_iiot.a" ./capi
  rm -f "$out/libpqc_iiot.h" # cgo's header; include/pqc_iiot.h is the contract
  # The strict flags of tests/c/CMakeLists.txt: the header must hold on
  # every architecture, 32-bit size_t included. The test runs each
  # algorithm in a child by re-executing /proc/self/exe; under qemu-user
  # without binfmt_misc the host kernel cannot start an ARM binary, so the
  # shim below sends that exec through the emulator (only when PQC_QEMU is
  # set; on a real ARM device the binary behaves exactly as on the host).
  write_reexec_shim "$out/qemu_reexec.c"
  "$prefix-gcc" -std=c99 -pedantic -Wall -Wextra -Werror -O2 -Iinclude -Dexecv=pqc_qemu_execv \
    -c tests/c/c_api_test.c -o "$out/c_api_test.o"
  "$prefix-gcc" -Wall -Wextra -Werror -O2 -c "$out/qemu_reexec.c" -o "$out/qemu_reexec.o"
  "$prefix-gcc" "$out/c_api_test.o" "$out/qemu_reexec.o" -o "$out/c_api_test" \
    -L"$out" -lpqc_iiot -lpthread -Wl,-rpath,'$ORIGIN'
  rm -f "$out"/*.o
  "$prefix-strip" -o "$out/libpqc_iiot.stripped.so" "$out/libpqc_iiot.so"
  {
    echo "so_unstripped $(stat -c %s "$out/libpqc_iiot.so")"
    echo "so_stripped $(stat -c %s "$out/libpqc_iiot.stripped.so")"
    echo "archive $(stat -c %s "$out/libpqc_iiot.a")"
  } >"$out/sizes.txt"
  rm -f "$out/libpqc_iiot.stripped.so"
  sed "s/^/cross-build:   /" "$out/sizes.txt"
}

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm64)
for a in "${archs[@]}"; do
  build_one "$a"
done
