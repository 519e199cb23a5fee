#!/usr/bin/env bash
# Creates the Python environment for the JaxPM comparison (not part of CI).
#   bash benchmarks/peers/setup.sh            # venv at benchmarks/peers/.venv
#   PEERS_VENV=/tmp/peers-venv bash benchmarks/peers/setup.sh
# With requirements.txt present the pinned versions are installed; with FRESH=1 the
# latest jax[cpu] / jaxpm are installed instead (then re-pin with `pip freeze`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PEERS_VENV:-$here/.venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --upgrade pip >/dev/null
if [[ "${FRESH:-0}" == 1 || ! -f "$here/requirements.txt" ]]; then
    "$venv/bin/pip" install "jax[cpu]" jaxpm jax-cosmo numpy
else
    "$venv/bin/pip" install -r "$here/requirements.txt"
fi
# /usr/bin/time -v gives wall time and peak RSS.
if [[ ! -x /usr/bin/time ]]; then
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time; }
fi
"$venv/bin/python" -c "import jax, jaxpm, jax_cosmo; print('jax', jax.__version__, 'devices', jax.devices())"
