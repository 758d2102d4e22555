#!/usr/bin/env bash
# Sets up a virtual environment and opens the notebooks in JupyterLab on the bundled model.
# Usage: bash scripts/lab.sh [VENV_DIR]   (default venv: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -c constraints.txt -e ".[lab]"
exec "$venv/bin/roberta-lab" lab
