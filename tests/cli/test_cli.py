"""The ``roberta-lab`` command, run in-process through ``main([...])`` on tiny random models
saved to a temporary folder with the bundled tokenizer (no bundled weights needed)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from roberta_lab import RobertaConfig, TFRobertaForCausalLM, TFRobertaForMaskedLM
from roberta_lab.cli import main

TOKENIZER = Path(__file__).resolve().parents[2] / "data" / "tokenizer"
LAYERS, HEADS = 2, 4


def _tiny(folder: Path, causal: bool) -> Path:
    import json as _json

    vocab = len(_json.loads((TOKENIZER / "vocab.json").read_text()))
    cfg = RobertaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=LAYERS,
                        num_attention_heads=HEADS, intermediate_size=37,
                        max_position_embeddings=66, type_vocab_size=1,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        is_decoder=causal)
    model = (TFRobertaForCausalLM if causal else TFRobertaForMaskedLM)(cfg)
    model.save_pretrained(folder)
    for f in TOKENIZER.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    if not (TOKENIZER / "vocab.json").is_file():
        pytest.skip("the bundled tokenizer data/tokenizer is missing")
    root = tmp_path_factory.mktemp("cli_models")
    return {"mlm": str(_tiny(root / "mlm", False)), "causal": str(_tiny(root / "causal", True))}


def test_fill_mask_lines(models, capsys):
    assert main(["fill-mask", "The capital of France is <mask>.", "--model", models["mlm"],
                 "--top-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    probs = []
    for rank, line in enumerate(lines, start=1):
        mask_no, r, token, prob = line.split("\t")
        assert (mask_no, r) == ("1", str(rank))
        assert token[0] in "'\"" and 0.0 <= float(prob) <= 1.0
        probs.append(float(prob))
    assert probs == sorted(probs, reverse=True)


def test_fill_mask_two_masks(models, capsys):
    assert main(["fill-mask", "<mask> is the capital of <mask>.", "--model", models["mlm"],
                 "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == ["1", "1", "2", "2"]


@pytest.mark.parametrize("method", ["zero", "mean"])
def test_sweep_file_random_masking(models, tmp_path, capsys, method):
    texts = tmp_path / "texts.txt"
    texts.write_text("The cat sat on the mat.\n\nA dog ran in the park today.\n")
    out = tmp_path / "results.csv"
    assert main(["sweep", "--texts", str(texts), "--out", str(out), "--model", models["mlm"],
                 "--method", method]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == LAYERS * HEADS
    assert {(int(r["layer"]), int(r["head"])) for r in rows} == \
        {(l, h) for l in range(LAYERS) for h in range(HEADS)}
    assert all(float(r["metric"]) > 0 for r in rows)
    assert "rows" in capsys.readouterr().out


def test_sweep_is_deterministic_and_mask_texts(models, tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    args = ["--model", models["mlm"]]
    assert main(["sweep", "--texts", "The cat sat on the mat.", "--out", str(a)] + args) == 0
    assert main(["sweep", "--texts", "The cat sat on the mat.", "--out", str(b)] + args) == 0
    assert a.read_text() == b.read_text()  # fixed-seed masking
    assert main(["sweep", "--texts", "The <mask> sat on the mat.", "A <mask> ran.",
                 "--out", str(c)] + args) == 0
    assert len(list(csv.DictReader(c.open()))) == LAYERS * HEADS


def test_generate_and_trace(models, tmp_path, capsys):
    trace = tmp_path / "trace.json"
    assert main(["generate", "Once upon a time", "--model", models["causal"],
                 "--max-new-tokens", "4", "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Once upon a time")
    data = json.loads(trace.read_text())
    # four steps, or fewer when the model wrote </s> (decoding stops there)
    tokens = [s["token_id"] for s in data["steps"]]
    assert len(tokens) == 4 or (1 <= len(tokens) < 4 and tokens[-1] == 2), tokens
    assert data["tokens_match"] is True
    assert {"token_id", "cache_shapes", "self_attention"} <= set(data["steps"][0])


def test_generate_plain(models, capsys):
    assert main(["generate", "Hello", "--model", models["causal"], "--max-new-tokens", "3"]) == 0
    assert capsys.readouterr().out.startswith("Hello")


def test_models_lists_bundled(capsys):
    assert main(["models"]) == 0
    names = capsys.readouterr().out.split()
    assert all(n.startswith("roberta-lab/") for n in names)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert "error" in err
    return err


@pytest.mark.parametrize("argv", [
    ["fill-mask", "no mask here"],
    ["fill-mask", "   "],
    ["fill-mask", "a <mask>.", "--top-k", "0"],
    ["fill-mask", "a <mask>.", "--model", "/nonexistent/model"],
    ["fill-mask", "a <mask>.", "--top-k", "many"],
    ["sweep", "--texts", "a b c", "--out", "x.csv", "--method", "median"],
    ["sweep", "--texts", "a <mask>.", "no mask", "--out", "x.csv", "--model", "MLM"],
    ["sweep", "--texts", "a b c", "--out", "/nonexistent/dir/x.csv"],
    ["sweep", "--out", "x.csv"],
    ["generate", "Hi", "--max-new-tokens", "0"],
    ["generate", "Hi", "--model", "/nonexistent/model"],
    ["generate", "Hi", "--model", "CAUSAL", "--max-new-tokens", "100000"],
    ["no-such-command"],
    [],
])
def test_bad_input_exit_2(models, capsys, argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [models["mlm"] if a == "MLM" else models["causal"] if a == "CAUSAL" else a
            for a in argv]
    assert main(argv) == 2
    _one_line_error(capsys)


def test_empty_texts_file(models, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    assert main(["sweep", "--texts", str(empty), "--out", str(tmp_path / "r.csv"),
                 "--model", models["mlm"]]) == 2
    assert "no text" in _one_line_error(capsys)


def test_lab_parser_has_no_browser():
    from roberta_lab.cli import build_parser

    args = build_parser().parse_args(["lab", "--no-browser", "--port", "9999"])
    assert args.no_browser and args.port == 9999


def test_lab_starts_jupyterlab_on_the_notebooks(monkeypatch):
    import importlib.util
    import subprocess

    calls = []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 0)
    assert main(["lab", "--no-browser", "--port", "9999", "--model", "roberta-base"]) == 0
    (cmd, env), = calls
    assert cmd[1:4] == ["-m", "jupyter", "lab"] and "--no-browser" in cmd and "--port=9999" in cmd
    assert any(a.startswith("--ServerApp.root_dir=") and a.endswith("notebooks") for a in cmd)
    assert env["ROBERTA_LAB_MODEL"] == "roberta-base"


def test_lab_without_jupyterlab_is_a_one_line_error(monkeypatch, capsys):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert main(["lab", "--no-browser"]) == 2
    assert "JupyterLab is not installed" in _one_line_error(capsys)
