#!/usr/bin/env bash
# The Node.js binding's suite as `make test` runs it: a clean install from
# package-lock.json (which also bundles the freshly built library through the
# `prepare` script), then node:test, then the Node-RED end-to-end run
# (scripts/e2e-node-red.sh). Needs node >= 18 and npm on PATH, the npm
# registry reachable, mosquitto, gcc, go, and build/lib/libpqc_iiot.so
# (make shared).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v node >/dev/null || { echo "test-node: node is not installed (scripts/deps.sh)" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "test-node: node $(node --version) is too old; 18 or newer is needed" >&2
  exit 1
fi
# The suite must see the library the repository just built, not an override.
unset PQC_IIOT_LIBRARY
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
npm ci --no-audit --no-fund </dev/null
npm test </dev/null

# Node-RED itself, installed from npm as a user would, with the example flow
# against Mosquitto (about 45 s; Node-RED is installed once into build/ and
# reused by later runs).
nr_dir="$(cd ../.. && pwd)/build/node-red-e2e"
if [ ! -x "$nr_dir/node_modules/.bin/node-red" ]; then
  mkdir -p "$nr_dir"
  (cd "$nr_dir" && npm init -y >/dev/null && npm install --no-save node-red@4 </dev/null)
fi
NODE_RED_DIR="$nr_dir" ./scripts/e2e-node-red.sh
