#!/usr/bin/env bash
# Sets up a virtual environment and opens the notebooks (and the course, notebooks/course/) in
# JupyterLab on the bundled models.
# Usage: bash scripts/lab.sh [VENV_DIR] [roberta-lab lab options]
#   e.g. bash scripts/lab.sh                                  (venv .venv, 127.0.0.1:8888)
#        bash scripts/lab.sh --port 9000 --ip 0.0.0.0 --no-browser   (a classroom server)
#        bash scripts/lab.sh .venv-lab --port 9000
# The options are those of `roberta-lab lab --help` (--port, --ip, --no-browser, --model).
# Set-up steps are printed as they run; a second run skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    venv=$1
    shift
fi
step() { printf '[lab.sh %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
if [ ! -x "$venv/bin/python" ]; then
    step "1/3 creating the virtual environment $venv"
    python3 -m venv "$venv"
else
    step "1/3 using the virtual environment $venv"
fi
stamp="$venv/.roberta-lab-installed"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    step "2/3 packages already installed (pyproject.toml and constraints.txt unchanged)"
else
    step "2/3 installing roberta_lab with JupyterLab (TensorFlow is large: a few minutes the first time)"
    "$venv/bin/pip" install --upgrade pip --progress-bar on 2>&1 | grep -v "^Requirement already" || true
    "$venv/bin/pip" install -c constraints.txt -e ".[lab]" --progress-bar on 2>&1 \
        | grep -E "^(Collecting|Installing|Successfully|ERROR)|━" || true
    "$venv/bin/python" -c "import roberta_lab" || { step "the install failed (see above)"; exit 1; }
    echo "$want" > "$stamp"
fi
step "3/3 starting JupyterLab: roberta-lab lab $*"
exec "$venv/bin/roberta-lab" lab "$@"
