#!/usr/bin/env bash
# Valgrind Memcheck over C programs that use the library: the C API test
# (tests/c/c_api_test.c), the C examples that run without a broker, and a
# deliberately wrong program that must make Memcheck fail (the proof that
# the suppressions below hide only the Go runtime).
#
#   scripts/valgrind.sh
#
# How the Go runtime is kept quiet, without hiding errors of the C side:
# - The library is built with `go build -tags valgrind` (Go >= 1.25): the
#   runtime then describes its heap and goroutine stacks to Memcheck with
#   client requests. Without the tag, every goroutine stack switch reads as
#   thousands of invalid reads and writes.
# - GODEBUG=asyncpreemptoff=1: asynchronous preemption saves registers
#   below the stack pointer from a signal handler, which Memcheck reports.
# - tests/sanitizers/go-runtime.supp suppresses only leak reports of
#   objects the Go allocator made (freed by its collector, not by C) and of
#   the runtime's never-joined threads.
# Reads and writes of C memory (by the C program or by the library through
# an output pointer) and uses of bytes the library did not write are all
# reported, and --error-exitcode=1 turns any report into a failure.
#
# Leak checking is off by default (VALGRIND_LEAK_CHECK=full turns it on):
# Valgrind 3.19 (Debian 12) aborts in its leak checker ("the 'impossible'
# happened", mc_leakcheck.c:2141) on the Go runtime's heap annotations in
# processes that use the keystore. Leaks of C buffers are covered by
# LeakSanitizer in the c_api_test_asan ctest; handles live on the Go heap
# and are invisible to any C leak checker.
#
# Environment: VALGRIND_LEAK_CHECK (no|full), CC (default cc).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build/valgrind"
cc="${CC:-cc}"
leak="${VALGRIND_LEAK_CHECK:-no}"
mkdir -p "$out"

if ! command -v valgrind >/dev/null; then
  echo "valgrind: not installed (apt-get install valgrind)" >&2
  exit 1
fi

echo "valgrind: building the library with -tags valgrind"
(cd "$root" && go build -tags valgrind -trimpath -buildmode=c-shared \
  -ldflags=-extldflags=-Wl,-soname,libpqc_iiot.so -o "$out/libpqc_iiot.so" ./capi)
rm -f "$out/libpqc_iiot.h"

build() { # name source...
  local name="$1"
  shift
  "$cc" -g -O0 -std=c99 -I"$root/include" "$@" -L"$out" -lpqc_iiot -lpthread \
    -Wl,-rpath,"$out" -o "$out/$name"
}
build c_api_test "$root/tests/c/c_api_test.c"
build kem_sig "$root/examples/c/kem_sig.c"
build session_pipe "$root/examples/c/session_pipe.c"
build valgrind_must_fail "$root/tests/sanitizers/valgrind_must_fail.c"
"$cc" -shared -fPIC -O1 -o "$out/exec_self_shim.so" "$root/tests/sanitizers/exec_self_shim.c" -ldl

export GODEBUG=asyncpreemptoff=1

# Memcheck traces children: the C API test and session_pipe re-execute
# themselves through /proc/self/exe, which under Valgrind names Valgrind's
# own binary; the shim points that path at the real program.
status=0
run() { # label expect(pass|fail) want-regexp leak-check program args...
  local label="$1" expect="$2" want="$3" lc="$4" prog="$5"
  shift 5
  local log="$out/$label.vg" t0=$SECONDS rc=0
  rm -f "$log".*
  PQC_SELF_EXE="$prog" LD_PRELOAD="$out/exec_self_shim.so" \
    valgrind --tool=memcheck --error-exitcode=1 --leak-check="$lc" \
    --errors-for-leak-kinds=definite --trace-children=yes \
    --trace-children-skip='/bin/sh,/usr/bin/rm,/bin/rm,*/rm' \
    --suppressions="$root/tests/sanitizers/go-runtime.supp" --num-callers=30 \
    --log-file="$log.%p" "$prog" "$@" >"$out/$label.out" 2>&1 || rc=$?
  local took=$((SECONDS - t0))
  if grep -q "the 'impossible' happened" "$log".* 2>/dev/null; then
    echo "valgrind: $label: Valgrind itself aborted (see $log.*)" >&2
    status=1
    return
  fi
  case "$expect" in
  pass)
    if [ "$rc" -eq 0 ]; then
      echo "valgrind: $label: clean (${took}s, $(ls "$log".* | wc -l) process(es))"
    else
      echo "valgrind: $label: FAILED (exit $rc); reports:" >&2
      grep -h -A12 -E '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|[0-9,]+ bytes in)' "$log".* | head -80 >&2 || tail -20 "$out/$label.out" >&2
      status=1
    fi
    ;;
  fail)
    if [ "$rc" -ne 0 ] && grep -qE "$want" "$log".*; then
      echo "valgrind: $label: caught as expected ($(grep -hoE "$want" "$log".* | head -1))"
    else
      echo "valgrind: $label: the deliberate error was NOT reported (exit $rc)" >&2
      status=1
    fi
    ;;
  esac
}

# The script's own test: correct use passes, each misuse fails.
run must_fail_ok pass '' "$leak" "$out/valgrind_must_fail" ok
run must_fail_overread fail 'Invalid read of size 1' no "$out/valgrind_must_fail" overread
run must_fail_uninit fail 'depends on uninitialised value' no "$out/valgrind_must_fail" uninit
run must_fail_wrongfree fail 'Invalid free' no "$out/valgrind_must_fail" wrongfree
run must_fail_leak fail 'definitely lost in loss record' full "$out/valgrind_must_fail" leak

# The real programs.
run kem_sig pass '' "$leak" "$out/kem_sig"
run session_pipe pass '' "$leak" "$out/session_pipe"
run c_api_test pass '' "$leak" "$out/c_api_test"

if [ "$status" -ne 0 ]; then
  echo "valgrind: FAILED (logs in $out)" >&2
  exit 1
fi
echo "valgrind: all clean; the deliberate errors were all caught"
