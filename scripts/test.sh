#!/usr/bin/env bash
# Sets up a virtual environment with every test dependency and runs every test.
# Usage: bash scripts/test.sh [VENV_DIR] [pytest args...]   (default venv: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
shift || true
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -c constraints.txt -e ".[test]"
export TF_CPP_MIN_LOG_LEVEL=3 HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES=""
exec "$venv/bin/python" -m pytest -n 2 --dist loadfile "$@"
