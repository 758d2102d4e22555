"""TensorFlow's start-up lines ("oneDNN custom operations are on ...", written to descriptor 2
while it is imported) stay out of stderr, and so out of notebook outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stderr(code: str, **env: str) -> str:
    run_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    run_env.pop("ROBERTA_LAB_TF_LOGS", None)
    run_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=run_env, cwd=ROOT, timeout=300, check=True).stderr


def test_first_model_access_imports_tensorflow_quietly():
    err = _stderr("import roberta_lab, sys; roberta_lab.TFRobertaModel; "
                  "print('tensorflow' in sys.modules, file=sys.stderr)")
    assert err.strip().splitlines() == ["True"], err


def test_python_errors_still_reach_stderr():
    err = _stderr("import roberta_lab, sys\n"
                  "try:\n    roberta_lab.no_such_name\n"
                  "except AttributeError as e:\n    print('seen:', e, file=sys.stderr)")
    assert "seen:" in err and "no_such_name" in err
