"""Trust under misuse, the command line: every listed model works where it can, paths are
checked before any work, one line and exit 2 on bad input or a failed write, never a traceback,
outputs written atomically (a full disk or Ctrl-C never leaves half a file)."""

from __future__ import annotations

import errno
import os

import pytest

from roberta_lab import bundled_models
from roberta_lab.cli import main

TEXT = "The cat sat on the mat."


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("roberta-lab") and "error:" in err, err
    return err


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a model is loaded: paths must be checked before any work."""
    import roberta_lab.cli as cli

    def refuse(*a, **k):
        raise AssertionError("a model was loaded before the paths were checked")

    # the one loader the commands call (cli/loading.py; in the flat cli.py before the split)
    if hasattr(cli, "loading"):
        monkeypatch.setattr(cli.loading, "load_model", refuse)
    else:
        monkeypatch.setattr(cli, "_load", refuse)


# --- kind: every listed model, every command that can use it ----------------------------------
USES = {"roberta-lab/mini-mlm": {"fill-mask", "sweep"},
        "roberta-lab/mini-mlm-everyday": {"fill-mask", "sweep"},
        "roberta-lab/mini-causal": {"generate"},
        "roberta-lab/mini-seq2seq": {"generate"},
        "roberta-lab/mini-grammar": set()}  # a sequence classifier: none of these commands


def _argv(command, model, tmp_path):
    return {"fill-mask": ["fill-mask", "The cat <mask> on the mat.", "--top-k", "2"],
            "sweep": ["sweep", "--texts", TEXT, "--out", str(tmp_path / "s.csv")],
            "generate": ["generate", "a b c", "--max-new-tokens", "3"]}[command] + \
        ["--model", model]


def test_models_listed_are_the_bundled_ones(capsys):
    assert main(["models"]) == 0
    assert capsys.readouterr().out.split() == bundled_models()
    assert set(bundled_models()) <= set(USES)


@pytest.mark.parametrize("model", sorted(USES))
@pytest.mark.parametrize("command", ["fill-mask", "sweep", "generate"])
def test_every_listed_model_with_every_command(model, command, tmp_path, capsys):
    rc = main(_argv(command, model, tmp_path))
    if command in USES[model]:
        assert rc == 0, capsys.readouterr().err
        assert capsys.readouterr().out.strip()
    else:  # a clear sentence saying what the command needs, not "config.json not found"
        assert rc == 2
        err = _one_line(capsys)
        assert "needs" in err and model in err


def test_seq2seq_generate_reverses(capsys):
    assert main(["generate", "a b c d", "--model", "roberta-lab/mini-seq2seq",
                 "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out.strip() == "d c b a"


# --- kind: input and output paths checked before any work -------------------------------------
@pytest.mark.parametrize("texts", ["missing.txt", "sub/missing", "./missing", "~/no/such.txt",
                                   "notes.csv"])
def test_missing_texts_file_is_not_swept_as_text(texts, tmp_path, capsys, monkeypatch, no_work):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--texts", texts, "--out", "r.csv"]) == 2
    assert "--texts" in _one_line(capsys)
    assert not (tmp_path / "r.csv").exists()


def test_texts_folder_and_bad_utf8(tmp_path, capsys, no_work):
    assert main(["sweep", "--texts", str(tmp_path), "--out", str(tmp_path / "r.csv")]) == 2
    assert "not a file" in _one_line(capsys)
    bad = tmp_path / "t.txt"
    bad.write_bytes(b"\xff\xfe caf\xe9\n")
    assert main(["sweep", "--texts", str(bad), "--out", str(tmp_path / "r.csv")]) == 2
    assert str(bad) in _one_line(capsys)


@pytest.mark.parametrize("out", ["FOLDER", "MISSING/x.csv", "TEXTS", ""])
def test_bad_out_refused_before_work(out, tmp_path, capsys, no_work):
    texts = tmp_path / "t.txt"
    texts.write_text(TEXT + "\n")
    (tmp_path / "d").mkdir()
    path = {"FOLDER": str(tmp_path / "d"), "MISSING/x.csv": str(tmp_path / "nope" / "x.csv"),
            "TEXTS": str(texts), "": ""}[out]
    assert main(["sweep", "--texts", str(texts), "--out", path]) == 2
    _one_line(capsys)
    assert texts.read_text() == TEXT + "\n"


def test_unwritable_out_refused_before_work(tmp_path, capsys, monkeypatch, no_work):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path)
                        else real(p, mode))
    assert main(["sweep", "--texts", TEXT, "--out", str(tmp_path / "r.csv")]) == 2
    assert "writable" in _one_line(capsys)


def test_bad_trace_path_refused_before_work(tmp_path, capsys, no_work):
    assert main(["generate", "Hi", "--trace", str(tmp_path)]) == 2
    assert "--trace" in _one_line(capsys)


# --- kind: failed or interrupted writes leave no half file, print one line --------------------
def _sweep_out(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("earlier results\n")
    return out, ["sweep", "--texts", TEXT, "--out", str(out)]


def test_full_disk_during_csv_write(tmp_path, capsys, monkeypatch):
    from roberta_lab.model import files

    out, argv = _sweep_out(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    assert main(argv) == 2
    err = _one_line(capsys)
    assert "No space left" in err and str(out) in err
    assert out.read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]  # no temporary left


def test_ctrl_c_keeps_the_earlier_csv(tmp_path, capsys, monkeypatch):
    import roberta_lab.ablation as ablation  # the same module as roberta_lab.engine.ablation

    out, argv = _sweep_out(tmp_path)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ablation, "sweep_heads", interrupted)
    assert main(argv) == 130
    assert out.read_text() == "earlier results\n"
    assert "Traceback" not in capsys.readouterr().err


def test_unexpected_error_is_one_line(tmp_path, capsys, monkeypatch):
    import roberta_lab.fill_mask as fm  # the same module as roberta_lab.engine.fill_mask

    def broken(*a, **k):
        raise RuntimeError("something deep\nwith a second line")

    monkeypatch.setattr(fm, "fill_mask", broken)
    assert main(["fill-mask", "a <mask>."]) == 2
    assert "RuntimeError" in _one_line(capsys)


@pytest.mark.parametrize("argv", [["lab", "--port", "0"], ["lab", "--port", "70000"],
                                  ["fill-mask", "a <mask>.", "--top-k", "-3"],
                                  ["generate", "Hi", "--max-new-tokens", "-1"]])
def test_bad_numbers_exit_2(argv, capsys):
    assert main(argv) == 2
    _one_line(capsys)
