"""A study on two worker processes (MultiWorkerMirroredStrategy through TF_CONFIG, on
localhost) writes the same file, byte for byte, as one process. Each worker is a plain
``roberta-lab study`` command: only TF_CONFIG differs. Kept small (tiny model, 12 texts);
the worker processes are killed after WORKER_TIMEOUT_S."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from roberta_lab import AutoTokenizer, RobertaConfig, TFRobertaForMaskedLM
from roberta_lab.cli import main
from roberta_lab.engine import study_store

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "data" / "tokenizer"
# A guard against a hang (a worker waiting forever at the all-reduce), not a timing check: the
# two workers need about 30 s of CPU together, but on a shared 2-core machine under load their
# wall time has reached 90 s.
WORKER_TIMEOUT_S = 300


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_equal_one_process(tmp_path, capsys):
    if not (TOKENIZER / "vocab.json").is_file():
        pytest.skip("the bundled tokenizer data/tokenizer is missing")
    tok = AutoTokenizer.from_pretrained(str(TOKENIZER))
    keras.utils.set_random_seed(1)
    model = TFRobertaForMaskedLM(RobertaConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=66, type_vocab_size=1))
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    for f in TOKENIZER.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    words = "the cat sat on a mat and the dog ran to the park by the river".split()
    texts = [" ".join(words[i % 5:i % 5 + 3 + i % 9]) + "." for i in range(12)]
    (tmp_path / "t.txt").write_text("\n".join(texts) + "\n")
    args = ["study", "--texts", str(tmp_path / "t.txt"), "--model", str(folder),
            "--batch-texts", "3", "--no-progress", "--method", "mean"]
    assert main(args + ["--out", str(tmp_path / "one.csv")]) == 0

    hosts = [f"localhost:{p}" for p in free_ports(2)]
    procs = []
    for i in range(2):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT),
                   TF_CONFIG=json.dumps({"cluster": {"worker": hosts},
                                         "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "roberta_lab.cli"] + args + ["--out", str(tmp_path / "two.csv")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path))
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=WORKER_TIMEOUT_S))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    rows = list(study_store.read_rows(tmp_path / "two.csv"))
    assert len(rows) == 12 * (1 + 8)
    assert [r["batch"] for r in rows] == sorted(r["batch"] for r in rows)
    meta = study_store.read_meta(tmp_path / "two.csv")
    assert meta["params"]["workers"] == 2 and meta["computed_batches"] == 4
    assert not list(tmp_path.glob("two.csv.part-*"))  # merged and removed
