#!/usr/bin/env bash
# make demo: provisions a small fleet with the CLI (a CA, a sensor allowed to
# publish its telemetry and a SCADA client allowed to read the plant), signs
# and installs a policy, then runs `pqc-iiot demo`: both devices on an
# embedded MQTT broker (or BROKER=tcp://host:port), a post-quantum session,
# telemetry for a few seconds, an attacker's replayed, tampered and re-routed
# frames rejected, and the counters. The C, C++ and Python examples follow.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build/demo
rm -rf "$work"
mkdir -p "$work/bin"

step() { printf '\n== %s\n' "$*"; }

step "building the CLI and the C/C++ examples"
go build -o "$work/bin/pqc-iiot" ./cmd/pqc-iiot
cmake -S . -B build/cmake-demo -DCMAKE_BUILD_TYPE=Release -DPQC_IIOT_BUILD_BENCH=OFF >/dev/null
cmake --build build/cmake-demo -j "${JOBS:-2}" --target example_kem_sig_c example_kem_sig_cpp >/dev/null
cli=$work/bin/pqc-iiot
export PQC_IIOT_PASSPHRASE="demo passphrase (use --passphrase-file in production)"

step "provisioning: a root CA and two devices, with the CLI only"
"$cli" ca init --dir "$work/ca" --name plant-root
# Sessions required; a post-quantum ratchet step every 10 messages, so the
# few seconds of the demo show one.
"$cli" policy sign --dir "$work/ca" --out "$work/policy" --require-sessions --rekey-messages 10
for dev in sensor-1 scada-1; do
  case $dev in
    sensor-1) perms=(--publish plant/line3/sensor-1/#) ;;
    scada-1)  perms=(--subscribe plant/#) ;;
  esac
  "$cli" device init --store "$work/$dev.store" --id "$dev" --factory-key-out "$work/$dev.factory"
  "$cli" ca allow --dir "$work/ca" --device "$dev" --factory-key "$work/$dev.factory" "${perms[@]}"
  "$cli" device join --store "$work/$dev.store" --out "$work/$dev.join"
  "$cli" ca enroll --dir "$work/ca" --request "$work/$dev.join" --out "$work/$dev.chain"
  "$cli" device install --store "$work/$dev.store" --chain "$work/$dev.chain" --anchor "$work/ca/ca.cert" --policy "$work/policy"
done
echo "sensor-1's chain, verified against the CA (pqc-iiot inspect, abridged):"
"$cli" inspect --ca "$work/ca/ca.cert" "$work/sensor-1.chain" | grep -E '"(kind|Subject|Issuer|Epoch|KeyID|verified|Filter|Publish|Subscribe)"'

step "MQTT: sensor-1 and scada-1 over a post-quantum session, with an attacker on the broker"
if [ -n "${BROKER:-}" ]; then
  "$cli" revoke --dir "$work/ca" --out "$work/revocation"
  "$cli" publish-policy --broker "$BROKER" --anchor "$work/ca/ca.cert" "$work/policy"
  "$cli" publish-revocation --broker "$BROKER" --anchor "$work/ca/ca.cert" "$work/revocation"
  "$cli" demo --dir "$work" --broker "$BROKER" --seconds "${SECONDS_DEMO:-5}"
else
  "$cli" demo --dir "$work" --seconds "${SECONDS_DEMO:-5}"
fi

step "C example"
build/cmake-demo/examples/c/kem_sig_c
step "C++ example"
build/cmake-demo/examples/cpp/kem_sig_cpp

step "Python example (the package installed into a fresh venv)"
venv=$root/build/venv-demo
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check ./bindings/python
(cd /tmp && "$venv/bin/python" "$root/examples/python/kem_sig.py")

step "done: keystores, certificates and policy are in $work"
