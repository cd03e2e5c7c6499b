#!/usr/bin/env bash
# Installs the peer solvers (POT, OTT-JAX on the CPU) into benches/peers/.venv, which
# the benchmarks use to time them on the same machine.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements.txt
.venv/bin/python -c "import ot, ott, jax; print('POT', ot.__version__, '| OTT-JAX', ott.__version__, '| JAX', jax.__version__, jax.devices())"
