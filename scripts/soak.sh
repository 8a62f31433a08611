#!/usr/bin/env bash
# Long soak: sessions opened and closed and messages moved for a fixed time
# through core/session, through core/mqtt with the embedded broker, and
# through the C API, each failing if memory, goroutines, file descriptors,
# session tables or keystore records grow past their bounds after warm-up.
#
#   scripts/soak.sh [duration]        (Go duration, default 5m, per part)
#
# The normal suite (`go test ./...`) runs the same Go soak tests for 5 s.
set -euo pipefail

dur="${1:-5m}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build/soak"
cc="${CC:-cc}"
mkdir -p "$out"
cd "$root"

# Seconds for the C program (it takes a number); the Go tests take the
# duration as it is. Accepts the forms 90s, 5m, 1h, 1h30m, 2m30s.
if [[ ! "$dur" =~ ^(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?$ ]] || [ -z "$dur" ]; then
  echo "soak: want a duration such as 5m, 90s or 1h30m" >&2
  exit 2
fi
secs=$((${BASH_REMATCH[2]:-0} * 3600 + ${BASH_REMATCH[4]:-0} * 60 + ${BASH_REMATCH[6]:-0}))
if [ "$secs" -le 0 ]; then
  echo "soak: duration must be positive" >&2
  exit 2
fi

status=0
# A test binary gets a timeout well past the soak, so a hang is reported
# as one rather than as a soak that never ends.
timeout="$((secs * 2 + 120))s"
for t in "./core/session TestSoakSessions" "./core/mqtt TestSoakEmbeddedBroker"; do
  read -r pkg name <<<"$t"
  echo "soak: $name for $dur"
  if ! PQC_SOAK="$dur" go test -count=1 -timeout "$timeout" -run "^${name}\$" -v "$pkg" 2>&1 |
    tee "$out/$name.log" | grep -E '^(\s+soak_test\.go|--- |FAIL|ok|panic)'; then
    status=1
  fi
  if ! grep -q -- "--- PASS: $name" "$out/$name.log"; then
    status=1
  fi
done

echo "soak: C API for ${secs}s"
go build -trimpath -buildmode=c-shared -ldflags=-extldflags=-Wl,-soname,libpqc_iiot.so \
  -o "$out/libpqc_iiot.so" ./capi
rm -f "$out/libpqc_iiot.h"
"$cc" -O2 -g -std=c99 -Wall -Wextra -Werror -I"$root/include" \
  "$root/tests/sanitizers/capi_soak.c" -L"$out" -lpqc_iiot -lpthread \
  -Wl,-rpath,"$out" -o "$out/capi_soak"
if ! "$out/capi_soak" "$secs"; then
  status=1
fi

if [ "$status" -ne 0 ]; then
  echo "soak: FAILED (logs in $out)" >&2
  exit 1
fi
echo "soak: ok"
