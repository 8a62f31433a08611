#!/usr/bin/env bash
# make bench: Go benchmarks of every scheme (summarised by benchstat), the
# same operations through the C ABI (bench/c/pqc_bench), and a table of the
# C ABI's overhead over the Go core for the operations both measure.
# Results land in build/bench/. Set BENCH_COUNT (default 6) for Go repeats.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"
count=${BENCH_COUNT:-6}

bin=$(go env GOPATH)/bin
if [ ! -x "$bin/benchstat" ]; then
  go install golang.org/x/perf/cmd/benchstat@latest
fi

echo "== Go core (go test -bench, count=$count)"
go test -run '^$' -bench . -benchmem -count "$count" ./core/pqc ./core/internal/falcon ./core/internal/saber \
  > "$out/go.txt"
"$bin/benchstat" "$out/go.txt" | tee "$out/go-benchstat.txt"

echo
echo "== C ABI (bench/c/pqc_bench)"
cmake -S . -B build/cmake-bench -DCMAKE_BUILD_TYPE=Release -DPQC_IIOT_BUILD_TESTS=OFF >/dev/null
cmake --build build/cmake-bench -j "${JOBS:-2}" --target pqc_bench >/dev/null
build/cmake-bench/pqc_bench | tee "$out/c.txt"

echo
echo "== C ABI overhead over the Go core (median ns/op, same run)"
python3 scripts/bench_compare.py "$out/go.txt" "$out/c.txt" | tee "$out/overhead.txt"
