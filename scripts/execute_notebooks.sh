#!/usr/bin/env bash
# Re-executes the notebooks in place (stored outputs = what `pytest --nbval` compares), prints
# each notebook's time and fails if one takes longer than the budget.
# Usage: bash scripts/execute_notebooks.sh [VENV_DIR] [NOTEBOOK ...]   (default: .venv, all)
#        BUDGET_S=60 (per notebook), NICE=19 (run at low priority; 0 to disable)
# Run it after the bundled models change; then commit the notebooks.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
shift || true
# Stored outputs are for the default models: ignore the notebooks' model switches here.
unset ROBERTA_LAB_MODEL ROBERTA_LAB_CAUSAL_MODEL ROBERTA_LAB_SEQ2SEQ_MODEL
export TF_CPP_MIN_LOG_LEVEL=3 HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES="" PYTHONHASHSEED=0 \
    PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec nice -n "${NICE:-19}" "$venv/bin/python" - "${BUDGET_S:-60}" "$@" <<'PY'
import re, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

budget = float(sys.argv[1])
TF_LOG = re.compile(r"^(?:WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:\d\d)")
paths = [Path(p) for p in sys.argv[2:]] or sorted(Path("notebooks").glob("[0-9]*.ipynb"))
failed, slow = [], []
for path in paths:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except CellExecutionError as exc:
        status = "FAILED: " + (str(exc).strip().splitlines() or ["?"])[-1][:200]
        failed.append(path.name)
    took = time.perf_counter() - start
    if status == "ok":
        # bertviz views inline ~0.7 MB of JavaScript each, and a stored notebook is untrusted
        # (its scripts do not run when opened), so big HTML outputs are not stored.
        for cell in nb.cells:
            # TensorFlow's start-up lines reach a kernel's stderr or not depending on when its
            # output thread runs (roberta_lab._quiet silences them where roberta_lab imports
            # TensorFlow first): stored, they would make nbval's comparison flaky.
            cell["outputs"] = [out for out in cell.get("outputs", [])
                               if not (out.get("name") == "stderr" and all(
                                   TF_LOG.match(line) for line in out["text"].splitlines()
                                   if line.strip()))]
            for out in cell.get("outputs", []):
                html = out.get("data", {}).get("text/html", "")
                if len(html) > 100_000:
                    del out["data"]["text/html"]
                    out["data"]["text/plain"] = "(a bertviz view: run the cell to draw it)"
        nbformat.write(nb, path)
        if took > budget:
            slow.append(path.name)
            status = f"ok but over the {budget:.0f} s budget"
    print(f"{took:7.1f} s  {path.name}  {status}", flush=True)
if failed or slow:
    print(f"failed: {failed or 'none'}; over budget: {slow or 'none'}", file=sys.stderr)
    sys.exit(1)
PY
