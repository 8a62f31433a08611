#!/usr/bin/env bash
# MQTT end-to-end benchmark through a local Mosquitto: plain paho vs the
# client with a pass-through codec, the signing test codec, and the
# production SessionCodec in session mode and in sealed mode, same run, with
# the ratios to plain paho; then the fan-out table (sender cost and bytes
# for N subscribers per mode). Needs mosquitto (apt-get install mosquitto).
#
#   N=200000 N_SLOW=3000 COUNT=3 scripts/bench-mqtt.sh   (what make bench runs)
#
# N messages per run for the fast modes (plain paho, pass-through, session
# mode), N_SLOW for the two that sign every message (test codec, sealed):
# a run of a fast mode must last long enough that its ramp-up (connection
# windows filling, first reservations, the garbage collector finding its
# pace) does not weigh on the rate; at 20,000 messages it took 10-20 % off
# every mode, more off session mode than off plain paho, and at 100,000 still
# a few per cent.
# COUNT > 1 repeats the end-to-end run and prints medians. Throughput on a
# shared machine moves with its load; cpu-µs/msg (CPU time of the two
# clients per message, broker excluded) moves much less.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-200000}"
N_SLOW="${N_SLOW:-3000}"
COUNT="${COUNT:-1}"
mkdir -p build/bench
bin="$PWD/build/bench/mqtt.test"
go test -c -o "$bin" ./core/mqtt/
e2e() { (cd core/mqtt && "$bin" -test.count "$COUNT" -test.run '^$' -test.bench "EndToEnd64B/($1)\$" -test.benchtime "$2x"); }
out="$(e2e 'plain-paho|passthrough-codec|session-codec' "$N"; e2e 'test-codec-ML-DSA-65|sealed-codec' "$N_SLOW")"
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
  }
  /^Benchmark.*EndToEnd64B\// {
    split($1, a, "/"); name = a[2]; sub(/-[0-9]+$/, "", name)
    for (i = 2; i <= NF; i++) {
      if ($(i) == "msgs/s") r[name] = r[name] " " $(i-1)
      if ($(i) == "p50-µs") p50[name] = p50[name] " " $(i-1)
      if ($(i) == "p99-µs") p99[name] = p99[name] " " $(i-1)
      if ($(i) == "cpu-µs/msg") cpu[name] = cpu[name] " " $(i-1)
    }
    if (!(name in seen)) { seen[name] = 1; order[++n] = name }
  }
  END {
    base = median(r["plain-paho"])
    printf "\n%-24s %12s %10s %10s %10s %12s\n", "mode (medians)", "msgs/s", "vs plain", "p50 µs", "p99 µs", "cpu µs/msg"
    for (i = 1; i <= n; i++) { m = order[i]; v = median(r[m])
      printf "%-24s %12.0f %9.2fx %10.0f %10.0f %12.1f\n", m, v, (base > 0 ? v / base : 0), median(p50[m]), median(p99[m]), median(cpu[m]) }
  }'
echo
go test -count=1 -run '^$' -bench 'Fanout64' -benchmem ./core/session/ | grep -E '^Benchmark'
