#!/usr/bin/env bash
# The peers roberta_lab is measured against, in their own virtual environment:
# HF transformers 4.37.2 with TensorFlow 2.15 (the seed's TF classes) and with CPU PyTorch.
# Usage: bash bench/setup_peers.sh [VENV_DIR]   (default: .venv-peers)
set -euo pipefail
venv=${1:-.venv-peers}
python3 -m venv "$venv"
"$venv/bin/pip" install -q "tensorflow-cpu==2.15.1" "transformers==4.37.2" "numpy<2" "torch==2.13.0"
echo "peers ready in $venv"
