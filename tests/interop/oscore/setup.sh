#!/bin/sh
# Creates build/venv-oscore with the pinned aiocoap used by the OSCORE interop
# tests (core/coap/oscore/interop_test.go). Idempotent.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
venv="$root/build/venv-oscore"
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
	"$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/interop/oscore/requirements.txt"
"$venv/bin/python" -c 'import aiocoap.meta, aiocoap.oscore, aiocoap.oscore_sitewrapper, cbor2, cryptography, filelock; print("aiocoap", aiocoap.meta.version)'
