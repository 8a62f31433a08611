#!/usr/bin/env bash
# make demo: until the MQTT showcase lands, this provisions a small fleet
# with the CLI (a CA, a sensor and a SCADA client) and runs the C, C++ and
# Python examples, each doing a post-quantum KEM exchange and a signature.
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
for dev in sensor-1 scada-1; do
  "$cli" device init --store "$work/$dev.store" --id "$dev" --factory-key-out "$work/$dev.factory"
  "$cli" ca allow --dir "$work/ca" --device "$dev" --factory-key "$work/$dev.factory"
  "$cli" device join --store "$work/$dev.store" --out "$work/$dev.join"
  "$cli" ca enroll --dir "$work/ca" --request "$work/$dev.join" --out "$work/$dev.chain"
  "$cli" device install --store "$work/$dev.store" --chain "$work/$dev.chain" --anchor "$work/ca/ca.cert"
done
"$cli" policy sign --dir "$work/ca" --out "$work/policy"
echo "sensor-1's chain, verified against the CA (pqc-iiot inspect, abridged):"
"$cli" inspect --ca "$work/ca/ca.cert" "$work/sensor-1.chain" | grep -E '"(kind|Subject|Issuer|Epoch|KeyID|verified)"' 

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
