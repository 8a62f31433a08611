#!/usr/bin/env bash
# Cross-checks that need more than the host's Go toolchain:
#  1. the known-answer tests of our own Falcon and SABER (and the registry)
#     built for linux/arm64 and run under qemu-user, proving that no fused
#     multiply-add or other architecture difference changes a result;
#  2. Falcon against an independent implementation (@noble/post-quantum
#     from npm, run by Node.js): each verifies the other's signatures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/cross
mkdir -p "$out"

qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ]; then
  echo "test-cross: qemu-aarch64 not found (run scripts/deps.sh)" >&2
  exit 1
fi
for pkg in core/internal/falcon core/internal/saber core/pqc; do
  name=$(basename "$pkg")
  GOARCH=arm64 go test -c -o "$out/$name.arm64.test" "./$pkg"
  echo "== $pkg on linux/arm64 under $(basename "$qemu")"
  (cd "$pkg" && "$qemu" "$out/$name.arm64.test" -test.short -test.run 'KAT|KnownAnswer|Float|Accumulated' -test.v) \
    | grep -E '^(--- FAIL|FAIL|ok|PASS)' | tail -n 5
done

noble=$root/build/noble
if [ ! -f "$noble/node_modules/@noble/post-quantum/falcon.js" ]; then
  mkdir -p "$noble"
  (cd "$noble" && npm install --no-audit --no-fund --silent @noble/post-quantum@0.7.1 </dev/null)
fi
FALCON_NOBLE_DIR=$noble go test -count=1 -run TestInteropNoble -v ./core/internal/falcon | grep -E '^(---|ok|FAIL|PASS)'
