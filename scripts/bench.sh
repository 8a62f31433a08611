#!/usr/bin/env bash
# make bench: every figure the project publishes, measured in one run and
# printed as ONE table (scripts/bench_report.py), with
#   build/bench/results.json   every number, with its unit and source
#   build/bench/results.png    the chart (matplotlib, in build/venv-bench)
#   build/bench/*.txt          the raw output of each step
#
# Steps: Go core (every KEM and signature scheme, sessions), the C ABI
# (bench/c/pqc_bench), Python over ctypes (bench/python/bench_pqc.py, the
# package installed by pip as users get it), Node.js per-call cost
# (bindings/node/bench/bench.js), MQTT end to end against plain paho
# (scripts/bench-mqtt.sh, real Mosquitto), CoAP against plain CoAP (when
# ./core/coap has BenchmarkCoAP), memory per session and per idle MQTT
# client, and the library's size.
#
#   BENCH_QUICK=1   a fast pass (about 2-3 minutes on 2 cores): one short
#                   round of everything; figures are noisier
#   BENCH_COUNT=N   Go repeats in the full pass (default 6; the median is kept)
#   BENCH_CROSS=0   skip cross-building the ARM libraries for their sizes
#
# A step whose tool is missing (node, mosquitto) or whose package does not
# exist yet (core/coap) becomes a "not measured" row with the reason. A step
# that fails becomes such a row too (its stderr in build/bench/NAME.err), the
# rest still runs and the table is still printed, and then the script exits
# 1. The Go and C algorithm steps are required: without them there is no
# table.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/bench
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.err "$out"/*.skip "$out/results.json" "$out/results.png"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  mode=quick count=3 gotime=50ms ctime=0.1 pytime=0.1 node_scale=0.05 node_rounds=3 node_limit=300
  mqtt_n=5000 mqtt_slow=300 mqtt_count=1 sessions=100 clients=16 cross=${BENCH_CROSS:-0}
else
  mode=full count=${BENCH_COUNT:-6} gotime=1s ctime=0.5 pytime=0.5 node_scale=0.2 node_rounds=5 node_limit=900
  mqtt_n=200000 mqtt_slow=3000 mqtt_count=3 sessions=500 clients=50 cross=${BENCH_CROSS:-1}
fi
start=$(date +%s)
step() { printf '== %-44s (%3ds)\n' "$1" "$(($(date +%s) - start))" >&2; }
# skip NAME REASON: the report shows NAME as "not measured: REASON".
skip() { echo "$2" >"$out/$1.skip"; echo "   not measured: $2" >&2; }
# run NAME CMD...: CMD's stdout appended to NAME.txt, stderr to NAME.err; a
# failure is recorded (a NAME.skip starting with "failed"), not fatal.
run() {
  local name=$1 status=0
  shift
  "$@" >>"$out/$name.txt" 2>>"$out/$name.err" || status=$?
  if [ "$status" -ne 0 ]; then
    skip "$name" "failed (exit $status): $(grep -v '^\s*$' "$out/$name.err" | tail -n 1 | cut -c1-120) [$out/$name.err]"
  fi
  return 0
}

{
  echo "mode $mode"
  echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cpus $(nproc)"
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "kernel $(uname -sr)"
  echo "go $(go env GOVERSION)"
} >"$out/machine.txt"

step "C ABI and Python: build pqc_bench, install pqc_iiot"
cmake -S . -B build/cmake-bench -DCMAKE_BUILD_TYPE=Release -DPQC_IIOT_BUILD_TESTS=OFF >/dev/null
cmake --build build/cmake-bench -j "${JOBS:-2}" --target pqc_bench >/dev/null
cbench=build/cmake-bench/pqc_bench
# The Python package as users get it: pip builds the wheel, compiling the
# Go library into it (as scripts/test-python.sh does), in a venv that also
# holds matplotlib for the chart.
venv=build/venv-bench
vpy=$root/$venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
[ -x "$vpy" ] || python3 -m venv "$venv"
# Without matplotlib the report still prints the table and the JSON.
"$vpy" -c 'import matplotlib' 2>/dev/null || run chart "$vpy" -m pip install --quiet matplotlib </dev/null
run python "$vpy" -m pip install --quiet --force-reinstall --no-deps "$root/bindings/python" </dev/null
# Run from build/, so `import pqc_iiot` is the installed copy with its
# bundled library, not the source tree.
pybench() {
  [ -f "$out/python.skip" ] || (cd build && run python env -u PQC_IIOT_LIBRARY "$vpy" "$root/bench/python/bench_pqc.py" -t "$pytime" "$@")
}
gotest=$root/build/bench-bin/pqc.test
go test -c -o "$gotest" ./core/pqc

step "C ABI and Python: call floor and sessions"
"$cbench" -t "$ctime" call session >"$out/c.txt"
pybench session

# Go, C and Python one algorithm at a time, back to back: on a shared
# machine the load drifts over minutes, and three passes minutes apart would
# compare different machines. The list is what the registry holds, read from
# the Go benchmark's own sub-benchmark names.
step "Every scheme: Go core, C ABI, Python"
algs=$(cd core/pqc && "$gotest" -test.run '^$' -test.bench '^Benchmark(KEM|Signature)$/.*/keygen$' -test.benchtime 1x |
  sed -n 's#^Benchmark[A-Za-z]*/\(.*\)/keygen.*#\1#p')
[ -n "$algs" ] || { echo "bench: no algorithms found in ./core/pqc's benchmarks" >&2; exit 1; }
for alg in $algs; do
  echo "   $alg" >&2
  (cd core/pqc && "$gotest" -test.run '^$' -test.bench "^Benchmark(KEM|Signature)\$/^$alg\$/" -test.benchmem \
    -test.count "$count" -test.benchtime "$gotime") >>"$out/go.txt"
  "$cbench" -t "$ctime" "$alg" >>"$out/c.txt"
  pybench "$alg"
done

step "Go: session data path and handshake"
run session go test -run '^$' -bench '^Benchmark(ProtectUnprotect64|Handshake|SealOpen64)$' -benchmem \
  -count "$count" -benchtime "$gotime" ./core/session

step "Go: memory per session, per idle MQTT client"
run mem go test -run '^$' -bench '^BenchmarkMemoryPerSession$' -benchtime "${sessions}x" ./core/session
run mem go test -run '^$' -bench '^BenchmarkMemoryPerIdleClient$' -benchtime "${clients}x" ./core/mqtt

step "Node.js: bindings/node/bench/bench.js"
if ! command -v node >/dev/null; then
  skip node "node is not installed (scripts/deps.sh)"
else
  if [ ! -d bindings/node/node_modules/koffi ]; then
    (cd bindings/node && run node npm ci --no-audit --no-fund --silent </dev/null)
  fi
  # The library this run just built, not a copy bundled earlier. Its MQTT
  # rows pace their messages, so the run mostly waits; the time limit only
  # catches a hang (then the row says "failed (exit 124)").
  [ -f "$out/node.skip" ] || run node timeout "$node_limit" env PQC_IIOT_LIBRARY="$root/build/lib/libpqc_iiot.so" \
    BENCH_SCALE="$node_scale" BENCH_ROUNDS="$node_rounds" node bindings/node/bench/bench.js
fi

step "MQTT: end to end through Mosquitto"
if command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; then
  run mqtt env N="$mqtt_n" N_SLOW="$mqtt_slow" COUNT="$mqtt_count" ./scripts/bench-mqtt.sh
else
  skip mqtt "mosquitto is not installed (scripts/deps.sh)"
fi

step "CoAP: BenchmarkCoAP in ./core/coap"
if ! ls core/coap/*_test.go >/dev/null 2>&1 || ! grep -qs 'func BenchmarkCoAP(' core/coap/*_test.go; then
  skip coap "./core/coap has no BenchmarkCoAP yet"
else
  run coap go test -run '^$' -bench '^BenchmarkCoAP$' -benchmem -count "$count" -benchtime "$gotime" ./core/coap
fi

step "Footprint: library sizes"
sizes() { # ARCH DIR STRIP
  local so=$2/libpqc_iiot.so tmp
  tmp=$(mktemp)
  "$3" -o "$tmp" "$so"
  echo "$1 so_unstripped $(stat -c %s "$so")"
  echo "$1 so_stripped $(stat -c %s "$tmp")"
  echo "$1 archive $(stat -c %s "$2/libpqc_iiot.a")"
  rm -f "$tmp"
}
sizes amd64 build/lib strip | sed "s/\$/ $(date -u -r build/lib/libpqc_iiot.so +%Y-%m-%dT%H:%MZ)/" >"$out/sizes.txt"
if [ "$cross" = 1 ]; then
  for arch in arm64 arm; do
    ./scripts/cross-build.sh "$arch" >&2 || echo "   cross-build $arch failed; its size is not measured" >&2
  done
fi
for arch in arm64 arm; do
  # With the build's date: a quick pass reuses an earlier cross-build.
  f=build/cross/$arch/sizes.txt
  if [ -f "$f" ]; then
    sed "s/^/$arch /; s/\$/ $(date -u -r "$f" +%Y-%m-%dT%H:%MZ)/" "$f" >>"$out/sizes.txt"
  fi
done

step "report"
echo "elapsed $(($(date +%s) - start))" >>"$out/machine.txt"
"$vpy" scripts/bench_report.py "$out"
if grep -qs '^failed' "$out"/*.skip; then
  echo "bench: some steps failed; their rows say why (build/bench/*.err)" >&2
  exit 1
fi
