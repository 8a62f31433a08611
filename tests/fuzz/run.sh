#!/usr/bin/env bash
# Builds the C API libFuzzer harness and runs it.
#
#   tests/fuzz/run.sh [seconds]          (default 60)
#
# The library is built as a c-archive with `go build -asan`, so ASan also
# checks the Go side's accesses to the C buffers the harness passes; the
# harness is compiled with -fsanitize=fuzzer,address,undefined. Needs clang
# and libFuzzer's runtime (Debian packages clang and libclang-rt-dev, the
# latter only a Recommends of clang). Genuine seeds are written
# by the harness itself (PQC_FUZZ_SEED_DIR) into the corpus directory, which
# is kept between runs under build/fuzz/capi-corpus.
#
# Environment: FUZZ_JOBS (parallel fuzzing processes, default 1),
# CAPI_FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

secs="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/build/fuzz"
corpus="$out/capi-corpus"
crashes="$out/capi-crashes"
cc="${CLANG:-clang}"
mkdir -p "$out" "$corpus" "$crashes"

if ! command -v "$cc" >/dev/null; then
  echo "capi fuzz: $cc not found (apt-get install clang)" >&2
  exit 1
fi

# Go's -asan needs the C compiler that will link the result to be clang
# or gcc with the same ASan runtime; clang for both keeps them one.
# -d=libfuzzer makes the Go compiler emit libFuzzer's 8-bit coverage
# counters and comparison hooks (what go114-fuzz-build does), so the
# fuzzer is guided by coverage of the Go code too, not only of this harness
# (the libfuzzer tag builds the runtime side of those hooks).
(cd "$root" && CC="$cc" CGO_ENABLED=1 go build -asan -tags libfuzzer -trimpath -buildmode=c-archive \
  -gcflags=all=-d=libfuzzer -o "$out/libpqc_iiot_asan.a" ./capi)
rm -f "$out/libpqc_iiot_asan.h"

"$cc" -g -O1 -std=c99 -Wall -Werror \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/include" "$root/tests/fuzz/capi_fuzz.c" "$out/libpqc_iiot_asan.a" \
  -lpthread -ldl -lm -lresolv -o "$out/capi_fuzz"

# Go's heap is not malloc'd, so LeakSanitizer only sees C allocations; the
# Go runtime keeps a few for its threads for the life of the process.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:handle_segv=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if ! PQC_FUZZ_SEED_DIR="$corpus" "$out/capi_fuzz" -runs=0 "$corpus" >"$out/capi_seed.log" 2>&1; then
  cat "$out/capi_seed.log" >&2
  echo "capi fuzz: writing the seeds failed" >&2
  exit 1
fi

jobs="${FUZZ_JOBS:-1}"
log="$out/capi_fuzz.log"
set +e
# shellcheck disable=SC2086
"$out/capi_fuzz" -max_total_time="$secs" -print_final_stats=1 -timeout=30 \
  -rss_limit_mb=4096 -artifact_prefix="$crashes/" ${CAPI_FUZZ_ARGS:-} \
  $([ "$jobs" -gt 1 ] && echo "-jobs=$jobs -workers=$jobs") "$corpus" 2>&1 | tee "$log" |
  grep -E '^(#[0-9]+ +(DONE|INITED)|stat::|==[0-9]+==ERROR|SUMMARY|capi_fuzz:|artifact_prefix|Test unit written)' 
rc=${PIPESTATUS[0]}
set -e
runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
if [ -n "$runs" ] && [ "$secs" -gt 0 ]; then
  echo "capi fuzz: $runs executions in ${secs}s ($((runs / secs)) exec/s)"
fi
if [ "$rc" -ne 0 ]; then
  echo "capi fuzz: FAILED (exit $rc); inputs in $crashes, full log $log" >&2
  exit 1
fi
echo "capi fuzz: ok"
