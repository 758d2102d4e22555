"""scripts/lab.sh: prints its set-up steps and passes JupyterLab options through to
``roberta-lab lab`` (run against a stand-in virtual environment: no install, no server)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fake_venv(tmp_path: Path, installed: bool) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for name, body in (("python", 'exit 0'), ("pip", 'echo "Collecting fake"; echo "pip $*" >> "$(dirname "$0")/../pip.log"'),
                       ("roberta-lab", 'echo "roberta-lab got: $*"')):
        path = venv / "bin" / name
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    if installed:
        digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()
                                + (ROOT / "constraints.txt").read_bytes()).hexdigest()[:16]
        (venv / ".roberta-lab-installed").write_text(digest + "\n")
    return venv


def _run(*args: str) -> str:
    return subprocess.run(["bash", str(ROOT / "scripts" / "lab.sh"), *args], capture_output=True,
                          text=True, check=True, timeout=60, env=dict(os.environ)).stdout


def test_options_reach_roberta_lab_and_steps_are_shown(tmp_path):
    venv = _fake_venv(tmp_path, installed=True)
    out = _run(str(venv), "--port", "9000", "--ip", "0.0.0.0", "--no-browser")
    assert "roberta-lab got: lab --port 9000 --ip 0.0.0.0 --no-browser" in out
    assert "1/3" in out and "2/3 packages already installed" in out and "3/3" in out
    assert not (venv / "pip.log").exists()  # nothing changed: no install


def test_first_run_installs_with_progress(tmp_path):
    venv = _fake_venv(tmp_path, installed=False)
    out = _run(str(venv), "--port", "9001")
    assert "2/3 installing" in out and "Collecting fake" in out
    assert "-e .[lab]" in (venv / "pip.log").read_text()
    assert (venv / ".roberta-lab-installed").is_file()
    assert "roberta-lab got: lab --port 9001" in out
