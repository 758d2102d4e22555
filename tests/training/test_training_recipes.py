"""roberta_lab.training.recipes: the bundled models' training commands, kept as data.

The runner itself takes hours; here it runs with a stand-in for ``train.main`` so the chaining,
resuming and sha256 comparison are checked, and the recipes are checked against the committed
models (weights by sha256, arguments against each model's training_log.json).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from roberta_lab.training import recipes

ROOT = recipes.ROOT


def _has_start():
    """A git checkout whose history holds START_REF (not a shallow clone, not an installed wheel)."""
    if shutil.which("git") is None or not os.path.isdir(os.path.join(ROOT, ".git")):
        return False
    return subprocess.run(["git", "-C", ROOT, "cat-file", "-e", f"{recipes.START_REF}^{{commit}}"],
                          capture_output=True).returncode == 0


HAS_START = _has_start()


def test_chains_run_in_order():
    assert [s.name for s in recipes.chain("mini-mlm")] == ["mlm-stage3", "mini-mlm"]
    assert [s.name for s in recipes.chain("mini-causal")] == ["mlm-stage3", "causal-base", "mini-causal"]
    assert [s.name for s in recipes.chain("mlm-everyday")] == ["mlm-stage3", "mini-mlm", "mlm-everyday"]
    assert [s.name for s in recipes.chain("causal-induction")] == ["mlm-stage3", "causal-base", "causal-induction"]
    assert [s.name for s in recipes.chain("mini-seq2seq")] == ["mini-seq2seq"]
    with pytest.raises(ValueError, match="model must be one of"):
        recipes.chain("roberta-base")


@pytest.mark.parametrize("name", sorted(recipes.STAGES))
def test_every_stage_is_step_only_and_parses(name):
    stage = recipes.STAGES[name]
    args = recipes.parsed(recipes.argv(stage, "/w"))
    assert args["max_minutes"] == 0  # the clock never sets the schedule, so reruns repeat
    assert args["out"] == os.path.join("/w", name)
    assert args["init"] == (os.path.join("/w", stage.init.removeprefix("git:")) if stage.init else None)
    assert args["corpus"] == recipes.corpus_of(stage) and recipes.corpus_of(stage) in recipes.CORPUS_SHA256


@pytest.mark.parametrize("model", sorted(recipes.MODEL_SHA256))
def test_committed_model_is_its_recipe(model):
    folder = os.path.join(ROOT, "data", model)
    if not os.path.isfile(os.path.join(folder, "training_log.json")):
        pytest.skip(f"{folder} is not trained")
    for f, want in recipes.MODEL_SHA256[model].items():
        assert recipes.sha256(os.path.join(folder, f)) == want, f
    with open(os.path.join(folder, "training_log.json")) as fh:
        log = json.load(fh)
    ignore = ("command", "out", "init")
    final = recipes.chain(model)[-1]
    logged = {k: v for k, v in recipes.logged_args(log).items() if k not in ignore}
    assert log["complete"] and logged == recipes.parsed(recipes.argv(final, "/w"), ignore)


@pytest.mark.skipif(not HAS_START, reason="needs a git checkout with the start commit")
def test_start_weights_come_from_git(tmp_path, monkeypatch):
    dest = recipes.fetch_start(str(tmp_path))
    assert sorted(os.listdir(dest)) == sorted(recipes.START_FILES)
    assert recipes.sha256(os.path.join(dest, "model.safetensors")) == recipes.START_SHA256
    monkeypatch.setattr(recipes, "START_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="not the expected start"):
        recipes.fetch_start(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="git history"):
        recipes.fetch_start(str(tmp_path), root=str(tmp_path))  # not a checkout


def _fake_train(calls):
    """Stands in for train.main: records the argv and writes a finished run's files."""
    def train_main(argv):
        calls.append(list(argv))
        args = recipes.parsed(argv)
        subs = ["encoder", "decoder"] if args["task"] == "seq2seq" else [""]
        for sub in subs:
            os.makedirs(os.path.join(args["out"], sub), exist_ok=True)
            with open(os.path.join(args["out"], sub, "model.safetensors"), "w") as fh:
                fh.write(" ".join(argv) + sub)
        with open(os.path.join(args["out"], "training_log.json"), "w") as fh:
            json.dump({"complete": True, "args": args}, fh)
    return train_main


def test_run_repeats_stages_resumes_and_compares(tmp_path, monkeypatch, capsys):
    work, calls = str(tmp_path), []
    assert recipes.run("mini-seq2seq", work, _fake_train(calls)) is False  # fake weights differ
    assert calls == [recipes.argv(recipes.STAGES["mini-seq2seq"], work)]
    assert "DIFFERENT" in capsys.readouterr().out
    # A complete stage with the same arguments is kept, not rerun.
    fake = {f: recipes.sha256(os.path.join(work, "mini-seq2seq", f)) for f in recipes.MODEL_SHA256["mini-seq2seq"]}
    monkeypatch.setitem(recipes.MODEL_SHA256, "mini-seq2seq", fake)
    assert recipes.run("mini-seq2seq", work, _fake_train(calls)) is True and len(calls) == 1
    assert "bit-identical" in capsys.readouterr().out
    # An unfinished run (a periodic checkpoint) or other arguments are run again.
    log_path = os.path.join(work, "mini-seq2seq", "training_log.json")
    with open(log_path) as fh:
        log = json.load(fh)
    log["complete"] = False
    with open(log_path, "w") as fh:
        json.dump(log, fh)
    recipes.run("mini-seq2seq", work, _fake_train(calls))
    assert len(calls) == 2


@pytest.mark.skipif(not HAS_START, reason="needs a git checkout with the start commit")
def test_run_chains_from_the_git_start(tmp_path):
    work, calls = str(tmp_path), []
    recipes.run("causal-induction", work, _fake_train(calls))
    assert [c[0] for c in calls] == ["mlm", "causal", "causal"]
    assert calls[0][calls[0].index("--init") + 1] == os.path.join(work, "mlm-stage2")
    assert calls[1][calls[1].index("--init") + 1] == os.path.join(work, "mlm-stage3")
    assert calls[2][calls[2].index("--init") + 1] == os.path.join(work, "causal-base")
    assert "--repeat-frac" in calls[2]
    recipes.run("mlm-everyday", work, _fake_train(calls))  # stage 3 is shared and kept
    assert [c[0] for c in calls] == ["mlm", "causal", "causal", "mlm", "mlm"] and "3e-4" in calls[3]
    assert calls[4][calls[4].index("--corpus") + 1] == "data/corpus-everyday"


def test_corpus_check_names_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="roberta_lab.training.corpus"):
        recipes.check_corpus(str(tmp_path))
    for name in recipes.CORPUS_SHA256["data/corpus"]:
        (tmp_path / name).write_text("not the corpus\n")
    with pytest.raises(ValueError, match="differs"):
        recipes.check_corpus(str(tmp_path))
    with pytest.raises(ValueError, match="differs"):
        recipes.check_corpus(str(tmp_path), "data/corpus-everyday")
    with pytest.raises(FileNotFoundError, match="roberta_lab.training.everyday"):
        recipes.check_corpus(str(tmp_path / "none"), "data/corpus-everyday")


def test_list_prints_every_chain(capsys):
    assert recipes.main(["list", "--work", "/w"]) == 0
    out = capsys.readouterr().out
    for model in recipes.MODEL_SHA256:
        assert f"{model}:" in out
    assert f"--init /w/mlm-stage2 (start: git {recipes.START_REF[:7]}:data/mini-mlm)" in out
    assert "--lr 3e-4 --warmup 0.02 --seed 5 --out /w/mini-mlm --init /w/mlm-stage3" in out
    assert "--repeat-frac 0.5" in out and "--out /w/causal-induction --init /w/causal-base" in out
    assert "--repeat-frac 0.5 --log-every 25 --out /w/mini-causal --init /w/causal-base" in out
    assert "--corpus data/corpus-everyday" in out and "--out /w/mlm-everyday --init /w/mini-mlm" in out


def test_options_added_later_default_to_what_older_runs_did():
    args = recipes.parsed(["causal", "--out", "/w/x"])
    assert {k: args[k] for k in recipes.ADDED_ARGS} == recipes.ADDED_ARGS
    old_log = {"complete": True, "args": {k: v for k, v in args.items() if k not in recipes.ADDED_ARGS}}
    assert recipes.logged_args(old_log) == args
