#!/usr/bin/env bash
# Cross-checks that need more than the host's Go toolchain:
#  1. the core test suites (known answers of our own Falcon and SABER and of
#     the registry, identity, keystore) built for linux/arm64 and linux/arm
#     (ARMv7, 32-bit) and run under qemu-user, proving that no fused
#     multiply-add, word size or other architecture difference changes a
#     result;
#  2. the C API suite (tests/c/c_api_test.c) compiled with the Debian cross
#     compilers against the cross-built libpqc_iiot.so (scripts/cross-build.sh)
#     and run under the same emulators: the C contract (32-bit size_t on
#     ARMv7 included) holds where the library will actually be deployed;
#  3. Falcon against an independent implementation (@noble/post-quantum
#     from npm, run by Node.js): each verifies the other's signatures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The packages whose results must not depend on the architecture: our own
# lattice code (floating point in Falcon, NTT in SABER), the registry's
# known answers, and the CBOR/keystore layers devices run. CoAP too: its
# dependencies keep 64-bit atomics inside structs, which panic on ARMv7 when
# misaligned (see third_party/uberatomic/README.md).
pkgs=(./core/internal/... ./core/pqc ./core/identity ./core/store ./core/coap/...)
for target in "arm64:qemu-aarch64-static" "arm:qemu-arm-static"; do
  arch=${target%%:*} emu=${target#*:}
  if ! command -v "$emu" >/dev/null; then
    echo "test-cross: $emu not found (run scripts/deps.sh)" >&2
    exit 1
  fi
  echo "== linux/$arch under $emu"
  # The keystore crash test re-executes its own binary as a child, which
  # needs the host to run foreign binaries directly (binfmt); skip it here.
  GOARCH=$arch GOARM=7 go test -count=1 -short -skip TestCrashSafety -exec "$emu" "${pkgs[@]}"
  # Our stand-in for go.uber.org/atomic is its own module, outside ./...;
  # its alignment test only means something on a 32-bit target.
  (cd third_party/uberatomic && GOARCH=$arch GOARM=7 go test -count=1 -exec "$emu" ./...)
done

# ARCH:emulator:sysroot (the cross toolchain's libc, for the dynamic loader).
for target in "arm64:qemu-aarch64-static:/usr/aarch64-linux-gnu" "arm:qemu-arm-static:/usr/arm-linux-gnueabihf"; do
  IFS=: read -r arch emu sysroot <<<"$target"
  echo "== C API suite, linux/$arch under $emu"
  ./scripts/cross-build.sh "$arch"
  # PQC_QEMU lets the test's per-algorithm child processes (a re-exec of
  # itself) start through the emulator; see scripts/cross-build.sh. A run
  # takes about 45 s under qemu on a loaded 2-core machine; the time limit
  # turns a hang into a failure (exit 124) instead of a stuck `make test`.
  log=$root/build/cross/$arch/c_api_test.log
  status=0
  (cd "build/cross/$arch" && PQC_QEMU=$(command -v "$emu") QEMU_LD_PREFIX=$sysroot timeout 300 "$emu" ./c_api_test) \
    >"$log" 2>&1 || status=$?
  grep -E '^FAIL' "$log" || true
  tail -n 1 "$log"
  if [ "$status" -ne 0 ]; then
    echo "test-cross: c_api_test failed on linux/$arch (exit $status); full output in $log" >&2
    exit 1
  fi
done

noble=$root/build/noble
if [ ! -f "$noble/node_modules/@noble/post-quantum/falcon.js" ]; then
  mkdir -p "$noble"
  (cd "$noble" && npm install --no-audit --no-fund --silent @noble/post-quantum@0.7.1 </dev/null)
fi
FALCON_NOBLE_DIR=$noble go test -count=1 -run TestInteropNoble -v ./core/internal/falcon | grep -E '^(---|ok|FAIL|PASS)'
