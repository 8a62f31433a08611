#!/usr/bin/env bash
# MQTT end-to-end benchmark through a local Mosquitto: plain paho vs the
# client with a pass-through codec, the signing test codec, and the
# production SessionCodec in session mode and in sealed mode, same run, with
# the ratios to plain paho. Needs mosquitto (apt-get install mosquitto).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-20000}"
out="$(go test -count=1 -run '^$' -bench 'EndToEnd64B' -benchtime "${N}x" ./core/mqtt/)"
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  /^Benchmark.*EndToEnd64B\// {
    split($1, a, "/"); name = a[2]; sub(/-[0-9]+$/, "", name)
    for (i = 2; i <= NF; i++) {
      if ($(i) == "msgs/s") r[name] = $(i-1)
      if ($(i) == "p50-µs") p50[name] = $(i-1)
      if ($(i) == "p99-µs") p99[name] = $(i-1)
    }
    order[++n] = name
  }
  END {
    base = r["plain-paho"]
    printf "\n%-24s %12s %10s %10s %10s\n", "mode", "msgs/s", "vs plain", "p50 µs", "p99 µs"
    for (i = 1; i <= n; i++) { m = order[i]
      printf "%-24s %12.0f %9.2fx %10.0f %10.0f\n", m, r[m], (base > 0 ? r[m] / base : 0), p50[m], p99[m] }
  }'
