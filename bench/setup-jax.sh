#!/usr/bin/env bash
# Creates bench/.venv-jax with the peer `attnlab bench --train` compares against: JAX on the CPU
# (bench/jax_train.py trains the same decoder with the same optimizer). A venv of its own because
# JAX pins its own NumPy range, and PyTorch from PyPI would bring gigabytes of CUDA wheels.
# Never part of the product or of CI; run it once by hand:
#
#     bash bench/setup-jax.sh        # a few minutes: jaxlib is a prebuilt CPU-only wheel
#
# The version is pinned so that numbers in the README can be re-run against the same peer.
set -euo pipefail

JAX_VERSION=0.10.2

here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-jax"
python="${PYTHON:-python3}"

[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --no-cache-dir "jax[cpu]==$JAX_VERSION"

"$venv/bin/python" -c 'import jax; print("setup: jax", jax.__version__, "on", jax.devices()[0].platform, "in bench/.venv-jax")'
