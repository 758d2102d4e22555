#!/usr/bin/env bash
# Sets up a virtual environment with every test dependency and runs every test.
# Usage: bash scripts/test.sh [VENV_DIR] [pytest args...]   (default venv: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
shift || true
# System packages for the browser tests (Debian's chromium; Playwright cannot download its own
# browser here) and WordNet for the corpus tests. Needs root and apt; skipped otherwise.
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && \
        { ! command -v chromium >/dev/null || [ ! -d /usr/share/wordnet ]; }; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core wordnet-base >/dev/null
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -c constraints.txt -e ".[test]"
export TF_CPP_MIN_LOG_LEVEL=3 HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES=""
status=0
"$venv/bin/python" -m pytest -n 2 --dist loadfile "$@" || status=$?
# The docstrings' runnable examples (tiny configs; about a minute).
"$venv/bin/python" -m pytest -q --doctest-modules roberta_lab || status=$?
# The notebooks: every cell runs and its stored output is compared (nbval; widget, bertviz and
# timing cells are marked NBVAL_IGNORE_OUTPUT). loadscope keeps a notebook on one worker.
# NOTEBOOKS=0 skips this run. Refresh the stored outputs with scripts/execute_notebooks.sh.
if [ "${NOTEBOOKS:-1}" != 0 ]; then
    "$venv/bin/python" -m pytest -n 2 --dist loadscope --nbval --nbval-current-env \
        --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300 notebooks/ \
        || status=$?
fi
exit "$status"
