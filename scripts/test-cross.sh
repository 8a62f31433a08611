#!/usr/bin/env bash
# Cross-checks that need more than the host's Go toolchain:
#  1. the core test suites (known answers of our own Falcon and SABER and of
#     the registry, identity, keystore) built for linux/arm64 and linux/arm
#     (ARMv7, 32-bit) and run under qemu-user, proving that no fused
#     multiply-add, word size or other architecture difference changes a
#     result;
#  2. Falcon against an independent implementation (@noble/post-quantum
#     from npm, run by Node.js): each verifies the other's signatures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The packages whose results must not depend on the architecture: our own
# lattice code (floating point in Falcon, NTT in SABER), the registry's
# known answers, and the CBOR/keystore layers devices run.
pkgs=(./core/internal/... ./core/pqc ./core/identity ./core/store)
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
done

noble=$root/build/noble
if [ ! -f "$noble/node_modules/@noble/post-quantum/falcon.js" ]; then
  mkdir -p "$noble"
  (cd "$noble" && npm install --no-audit --no-fund --silent @noble/post-quantum@0.7.1 </dev/null)
fi
FALCON_NOBLE_DIR=$noble go test -count=1 -run TestInteropNoble -v ./core/internal/falcon | grep -E '^(---|ok|FAIL|PASS)'
