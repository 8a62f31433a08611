#!/usr/bin/env bash
# Builds the Python package the way users get it (pip building the wheel,
# which compiles the Go library into it) in a fresh venv, then runs the
# pytest suite against that installed copy. Needs go, python3 and gcc.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
venv="$root/build/venv-python"

# Debian/Ubuntu ship venv and ensurepip separately (python3-venv); a venv
# made without ensurepip has no pip.
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-python: installing python3-venv" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    ver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    apt-get install -y -qq --no-install-recommends python3-venv </dev/null ||
      apt-get install -y -qq --no-install-recommends "python${ver}-venv" </dev/null
  else
    echo "test-python: $python lacks the venv/ensurepip modules; install python3-venv" >&2
    exit 1
  fi
fi

rm -rf "$venv"
mkdir -p "$root/build"
"$python" -m venv "$venv"
vpy="$venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# The suite must see the library bundled in the wheel, not an override.
unset PQC_IIOT_LIBRARY

# A plain (non-editable) install: pip builds the wheel, so this exercises the
# Go build step in setup.py exactly as `pip install ./bindings/python` does.
"$vpy" -m pip install --quiet "$root/bindings/python" pytest </dev/null

# Import from a directory with no pqc_iiot source nearby.
(cd /tmp && "$vpy" -c 'import pqc_iiot, sys; print("test-python: pqc_iiot", pqc_iiot.version(), "from", pqc_iiot.__file__, "library", pqc_iiot.library_path)')

# Run from build/, outside bindings/python, so `import pqc_iiot` resolves to
# site-packages. Exit code 5 (nothing collected) is a failure like any other
# nonzero code.
cd "$root/build"
status=0
PQC_IIOT_EXPECT_INSTALLED=1 "$vpy" -m pytest "$root/bindings/python/tests" -q -rxXs -p no:cacheprovider </dev/null || status=$?
if [ "$status" -eq 5 ]; then
  echo "test-python: pytest collected no tests" >&2
fi
exit "$status"
