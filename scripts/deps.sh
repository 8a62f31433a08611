#!/usr/bin/env bash
# Installs the system packages the build and tests need, only those missing.
# Safe to run repeatedly; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }

have go || { echo "deps: Go is required (https://go.dev/dl); it is not installed by this script" >&2; exit 1; }
have gcc || need+=(gcc)
have g++ || need+=(g++)
have cmake || need+=(cmake)
have pkg-config || need+=(pkg-config)
have qemu-aarch64-static || need+=(qemu-user-static)
have aarch64-linux-gnu-gcc || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
have arm-linux-gnueabihf-gcc || need+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
# libFuzzer's runtime is only a Recommends of clang: name it.
have clang && [ -n "$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer*.a' 2>/dev/null | head -1)" ] || need+=(clang libclang-rt-dev)
have mosquitto || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
have mosquitto_pub || need+=(mosquitto-clients)
have openssl || need+=(openssl)
have nm || need+=(binutils)
have valgrind && [ -f /usr/include/valgrind/memcheck.h ] || need+=(valgrind)
have npm || need+=(npm)
[ -f /usr/include/gtest/gtest.h ] || need+=(libgtest-dev)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
