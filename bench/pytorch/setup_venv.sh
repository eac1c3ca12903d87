#!/usr/bin/env bash
# Creates the virtual environment of bench/pytorch/bench_torch.py: torch (PyPI's build, a few
# GB with its CUDA libraries; only the CPU is used), efficientnet_pytorch and numpy.
#
#   bench/pytorch/setup_venv.sh [VENV]      (default bench/pytorch/.venv, ignored by git)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-$here/.venv}
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet -r "$here/requirements.txt"
"$venv/bin/python" -c "import torch, efficientnet_pytorch; print('torch', torch.__version__, 'in', '$venv')"
