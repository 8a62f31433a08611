#!/usr/bin/env bash
# End to end, as a user would do it (examples/node-red/README.md): install
# Node-RED from npm into a temporary directory, install these nodes into a
# fresh user directory with `npm install <repo>/bindings/node`, provision
# two devices with the pqc-iiot CLI, start Mosquitto on a free loopback
# port and Node-RED headless with examples/node-red/flow.json, and wait for
# the debug node to log a reading verified as coming from sensor-1.
#
# Needs go, node >= 18, npm (registry reachable) and mosquitto
# (scripts/deps.sh). NODE_RED_DIR reuses a directory where node-red is
# already installed (node_modules/.bin/node-red), to skip that download.
# Exit status 0 when the reading arrived within 60 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="$(cd "$here/.." && pwd)"
repo="$(cd "$pkg/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pqc-e2e-node-red.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

say() { echo "e2e-node-red: $*" >&2; }
mosquitto_bin="${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}"
[ -x "$mosquitto_bin" ] || { say "mosquitto not found (scripts/deps.sh)"; exit 1; }
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# 1. Node-RED itself.
if [ -n "${NODE_RED_DIR:-}" ] && [ -x "$NODE_RED_DIR/node_modules/.bin/node-red" ]; then
  nr="$NODE_RED_DIR/node_modules/.bin/node-red"
else
  say "installing node-red into $work/node-red"
  mkdir -p "$work/node-red"
  (cd "$work/node-red" && npm init -y >/dev/null && npm install --no-save node-red@4 >/dev/null 2>&1 </dev/null)
  nr="$work/node-red/node_modules/.bin/node-red"
fi

# 2. The nodes, into a user directory, as examples/node-red/README.md says.
user="$work/user"
mkdir -p "$user"
(cd "$user" && npm init -y >/dev/null && npm install "$pkg" >/dev/null 2>&1 </dev/null)
[ -f "$user/node_modules/node-red-contrib-pqc-iiot/package.json" ] || { say "npm install $pkg did not install the package"; exit 1; }

# 3. Provisioning with the CLI: a CA, sensor-1 (may publish plant/+/telemetry)
#    and scada-1 (may read plant/#), each enrolled with the fleet policy.
cli="$work/pqc-iiot"
(cd "$repo" && go build -o "$cli" ./cmd/pqc-iiot)
pass="$work/passphrase"
printf 'e2e demo passphrase' >"$pass"
p=(--passphrase-file "$pass")
ca="$work/ca"
"$cli" ca init --dir "$ca" --name plant-root "${p[@]}" >/dev/null
"$cli" policy sign --dir "$ca" --out "$work/policy.cbor" "${p[@]}" >/dev/null
provision() { # name, allow flags...
  local name="$1"; shift
  "$cli" device init --store "$user/$name.store" --id "$name" --factory-key-out "$work/$name.factory" "${p[@]}" >/dev/null
  "$cli" ca allow --dir "$ca" --device "$name" --factory-key "$work/$name.factory" "$@" "${p[@]}" >/dev/null
  "$cli" device join --store "$user/$name.store" --out "$work/$name.join" "${p[@]}" >/dev/null
  "$cli" ca enroll --dir "$ca" --request "$work/$name.join" --out "$work/$name.chain" "${p[@]}" >/dev/null
  "$cli" device install --store "$user/$name.store" --chain "$work/$name.chain" --anchor "$ca/ca.cert" \
    --policy "$work/policy.cbor" "${p[@]}" >/dev/null
}
provision sensor-1 --publish 'plant/+/telemetry'
provision scada-1 --subscribe 'plant/#'

# 4. Mosquitto on a free loopback port, with a generated configuration.
mport="$(free_port)"
{
  echo "listener $mport 127.0.0.1"
  echo "allow_anonymous true"
  echo "persistence false"
  echo "log_dest file $work/mosquitto.log"
  [ "$(id -u)" -eq 0 ] && echo "user root"
} >"$work/mosquitto.conf"
"$mosquitto_bin" -c "$work/mosquitto.conf" &
pids+=($!)

# 5. The example flow, pointed at that broker; the identities' passphrases
#    as credentials (plain text here because credentialSecret is false in
#    this throwaway settings file; a real install keeps them encrypted).
node - "$repo/examples/node-red/flow.json" "$user" "tcp://127.0.0.1:$mport" "$(cat "$pass")" <<'EOF'
const fs = require('fs');
const [flowPath, user, url, passphrase] = process.argv.slice(2);
const flow = JSON.parse(fs.readFileSync(flowPath, 'utf8'));
const creds = {};
for (const n of flow) {
  if (n.type === 'pqc-broker') n.url = url;
  if (n.type === 'pqc-identity') creds[n.id] = { passphrase };
  if (n.type === 'inject') n.repeat = '1';
}
fs.writeFileSync(`${user}/flows.json`, JSON.stringify(flow, null, 2));
fs.writeFileSync(`${user}/flows_cred.json`, JSON.stringify(creds));
EOF
uport="$(free_port)"
cat >"$user/settings.js" <<EOF
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: $uport,
  flowFile: 'flows.json',
  credentialSecret: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
EOF

# 6. Node-RED, headless; the debug node logs each verified message.
log="$work/node-red.log"
"$nr" --userDir "$user" --settings "$user/settings.js" >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  if grep -q "sender: 'sensor-1'" "$log" && grep -q "boiler-3" "$log"; then
    say "OK: Node-RED received a reading verified as from sensor-1 through Mosquitto"
    grep -m1 -A6 "\[debug:verified readings\]" "$log" >&2 || true
    # The editor gets every node's dialog and help text.
    html="$(node -e 'fetch(process.argv[1],{headers:{accept:"text/html"}}).then(r=>r.text()).then(t=>process.stdout.write(t))' "http://127.0.0.1:$uport/nodes")"
    for t in pqc-identity pqc-broker 'pqc mqtt in' 'pqc mqtt out' 'pqc seal' 'pqc open' 'pqc sign' 'pqc verify' 'pqc coap request'; do
      grep -q "data-template-name=\"$t\"" <<<"$html" || { say "editor lacks the dialog of $t"; exit 1; }
      grep -q "data-help-name=\"$t\"" <<<"$html" || { say "editor lacks the help of $t"; exit 1; }
    done
    say "OK: the editor serves the dialogs and help of all pqc nodes"
    exit 0
  fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then
    say "node-red exited"; cat "$log" >&2; exit 1
  fi
  sleep 0.5
done
say "no verified reading within 60 s"
cat "$log" >&2
exit 1
