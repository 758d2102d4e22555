"""The commands that made the bundled models, kept as data, and a runner that repeats them.

Every bundled model is the last link of a chain of ``train`` commands. Each link is step-only
(no ``--max-minutes``), so its learning-rate schedule and data order depend on the step count
alone, and a rerun on this project's machines (one thread: ``TF_NUM_INTRAOP_THREADS=1``) gives
bit-identical weights. A chain starts either
from scratch or from weights in git history: mini-mlm's first two stages ran on corpus v1 with
clock-driven schedules and cannot be repeated step for step, so their output (committed in
``START_REF``) is where the repeatable chain begins.

    python -m roberta_lab.training.recipes list
    python -m roberta_lab.training.recipes run mini-mlm [--work /tmp/roberta_lab_retrain]

``run`` checks the corpus files, fetches the start weights from git, runs each stage that is not
already complete in ``--work`` and then compares the result's sha256 with the committed model in
``data/`` (exit status 1 when they differ). It needs a git checkout, the built corpora
(``python -m roberta_lab.training.corpus --out data/corpus`` and
``python -m roberta_lab.training.everyday --out data/corpus-everyday``) and hours on 2 cores
(see data/README.md for each stage's run time).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The corpora the stages were trained on, by --corpus folder: data/corpus is built by
# roberta_lab.training.corpus, data/corpus-everyday and data/corpus-books (--books) by
# roberta_lab.training.everyday.
CORPUS_SHA256 = {
    "data/corpus": {
        "train.txt": "04e9f1e0d933c29d4c87c0b1f5a4bee6103dfadaf7f666fbb44c7d113d669d8d",
        "seq2seq_train.tsv": "1ab529e50ad9196261fe085fb689c357a7242feaf56a25553009d7f5b1eaa52e",
    },
    "data/corpus-everyday": {
        "train.txt": "f13cc5ddbf40b3a10a082f2103845acc9cf81c4c7413686205a8b25f52ff0d21",
    },
    "data/corpus-books": {
        "train.txt": "0c70ce415bbe856f218822e32e842abbcb81206bb2364249dd21a2bf7ed994e2",
    },
}
CORPUS_COMMANDS = {"data/corpus": "python -m roberta_lab.training.corpus --out data/corpus",
                   "data/corpus-everyday": "python -m roberta_lab.training.everyday --out data/corpus-everyday",
                   "data/corpus-books": "python -m roberta_lab.training.everyday --out data/corpus-books --books"}
# The everyday cloze file data/corpus-everyday was filtered against (it is never trained on).
CLOZE_SHA256 = "4e7660d0ebdec242ebb6e5f3d1e76988f9d3be3ff9440b7279b38f3205c579eb"
# mini-mlm after stage 2 (corpus v1), as committed then: the start of the repeatable chain.
START_REF = "03cfe8ae4f8af0db6aa5f8b6811847c30cb00a61"
START_FILES = ("config.json", "model.safetensors")
START_SHA256 = "3e1078891664ce9ca7d025054a654fa4d5c4c8fa8ebb0c01934cac0d1e4be9d1"  # its weights


@dataclass(frozen=True)
class Stage:
    name: str    # output folder under --work
    init: str    # "" (from scratch), "git:<name>" (START_REF) or an earlier stage's name
    args: tuple  # train.py arguments, without --out and --init


STAGES = {  # "git:mlm-stage2" is START_REF's mini-mlm, written to --work/mlm-stage2
    "mlm-stage3": Stage("mlm-stage3", "git:mlm-stage2",
                        ("mlm", "--steps", "5000", "--batch", "32", "--jit", "--lr", "1e-3",
                         "--warmup", "0.02", "--seed", "2")),
    "mini-mlm": Stage("mini-mlm", "mlm-stage3",
                      ("mlm", "--steps", "2000", "--batch", "32", "--jit", "--lr", "3e-4",
                       "--warmup", "0.02", "--seed", "5")),
    # The causal LM bundled until 2026-12-01 (no induction head); the start of mini-causal now.
    "causal-base": Stage("causal-base", "mlm-stage3",
                         ("causal", "--steps", "2300", "--batch", "32", "--jit", "--lr", "1e-3",
                          "--warmup", "0.02", "--seed", "3")),
    # Half the rows get a random token span twice (induction.add_repeats): induction heads form.
    "mini-causal": Stage("mini-causal", "causal-base",
                         ("causal", "--steps", "1000", "--batch", "32", "--jit", "--lr", "1e-3",
                          "--warmup", "0.02", "--seed", "7", "--repeat-frac", "0.5",
                          "--log-every", "25")),
    "mini-seq2seq": Stage("mini-seq2seq", "",
                          ("seq2seq", "--steps", "800", "--seed", "0", "--jit")),
    # Issue 19 experiments (not bundled: see data/README.md, "Issue 19").
    "mlm-everyday": Stage("mlm-everyday", "mini-mlm",
                          ("mlm", "--corpus", "data/corpus-everyday", "--steps", "250", "--batch", "32",
                           "--jit", "--lr", "1e-3", "--warmup", "0.03", "--seed", "11",
                           "--max-lines", "100000", "--ckpt-minutes", "4", "--log-every", "10")),
    # Four epochs of the everyday corpus (session 8): cloze 8.6% / 28.2%, probes 87.3%; bundled
    # beside mini-mlm since session 9 (issue 19's targets are not reached, see data/README.md).
    "mini-mlm-everyday": Stage("mini-mlm-everyday", "mini-mlm",
                               ("mlm", "--corpus", "data/corpus-everyday", "--steps", "14000",
                                "--batch", "32", "--jit", "--lr", "1e-3", "--warmup", "0.02",
                                "--seed", "13", "--ckpt-minutes", "8", "--log-every", "100")),
    # Session 9: two more epochs on the books corpus, and the same model stacked to 8 layers.
    "mlm-books": Stage("mlm-books", "mini-mlm-everyday",
                       ("mlm", "--corpus", "data/corpus-books", "--steps", "7000", "--batch", "32",
                        "--jit", "--lr", "3e-4", "--warmup", "0.02", "--seed", "17",
                        "--ckpt-minutes", "6", "--log-every", "100")),
    "mlm-deep8": Stage("mlm-deep8", "mini-mlm-everyday",
                       ("mlm", "--corpus", "data/corpus-everyday", "--layers", "8", "--steps", "9000",
                        "--batch", "32", "--jit", "--lr", "7e-4", "--warmup", "0.02", "--seed", "19",
                        "--ckpt-minutes", "8", "--log-every", "100")),
    "causal-induction": Stage("causal-induction", "causal-base",
                              ("causal", "--steps", "250", "--batch", "32", "--jit", "--lr", "1e-3",
                               "--warmup", "0.02", "--seed", "7", "--repeat-frac", "0.5",
                               "--max-lines", "60000", "--ckpt-minutes", "4", "--log-every", "10")),
    # A sequence classifier fine-tuned from the bundled mini-mlm (roberta_lab.training.classify_task).
    "mini-grammar": Stage("mini-grammar", "mini-mlm",
                          ("grammar", "--steps", "300", "--batch", "32", "--jit", "--lr", "1e-4",
                           "--warmup", "0.06", "--seed", "0")),
}
# sha256 of each bundled model's weight files, as committed in data/.
MODEL_SHA256 = {
    "mini-mlm": {"model.safetensors": "5bdefb8c5a189260108154501dcedf5d704759f8cb067a19612de2359f6a0ae5"},
    "mini-causal": {"model.safetensors": "ea5132f04e900eb4db7f2d7495ab45d2dfb2856f1a4d66fc75416ad49f9b9982"},
    "mini-seq2seq": {
        "encoder/model.safetensors": "39bc176d7a345a974844191bf38b415e4f770ce718ee674875ba88f52f850889",
        "decoder/model.safetensors": "cf63a1b0f8b0bbe4c10528ed632c0e45d03effb5e4d1ab7f171c455bca2d47b5",
    },
    "mini-grammar": {"model.safetensors": "49aa092a58509f2e05f8c6ddba57f3d310cca469f9320a34b43ea72a756f8618"},
    "mini-mlm-everyday": {
        "model.safetensors": "d68a29ef51eda3c83fd06e3c42613672f130c8af13819b7a8fdaec48dd675722"},
}
# sha256 of intermediate stages' weights, checked when a chain passes through them.
STAGE_SHA256 = {
    "causal-base": {"model.safetensors": "8c32a1ed518cb4a601e1f63cb4f3a94d2aaa6500837328307ac525e47c472cfb"},
}
# sha256 of the experiments' weights, as the runs reported in data/README.md gave them.
EXPERIMENT_SHA256 = {
    "mlm-everyday": {"model.safetensors": "d776b9e799f7df46d39ed18cf2124d08a975d4cd64b4f74755b04c94d7527d4e"},
    "causal-induction": {"model.safetensors": "c4e82b1d4a25571439ceb2bcff64ca295a3093f963935fb469a67e0e187c46f5"},
    "mlm-books": {"model.safetensors": "95180abb46b3625390c44d3eb4117541dcab6e397106d2293c6a426f0fbe0de3"},
    "mlm-deep8": {"model.safetensors": "b95e5072d69b098496ee20e399b39001ee72c1968ae75fb72f5e672bbc93a399"},
}


def chain(model):
    """The stages that make ``model``, first to last, e.g. ``[mlm-stage3, mini-mlm]``."""
    if model not in MODEL_SHA256 and model not in EXPERIMENT_SHA256:
        raise ValueError(f"model must be one of {sorted(MODEL_SHA256) + sorted(EXPERIMENT_SHA256)}, "
                         f"got {model!r}")
    out, name = [], model
    while name:
        stage = STAGES[name]
        out.insert(0, stage)
        name = stage.init if stage.init and not stage.init.startswith("git:") else ""
    return out


def argv(stage, work):
    """The ``train`` argv of ``stage`` with its output (and input) folders under ``work``."""
    out = list(stage.args) + ["--out", os.path.join(work, stage.name)]
    if stage.init:
        out += ["--init", os.path.join(work, stage.init.removeprefix("git:"))]
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_of(stage):
    """The ``--corpus`` folder a stage trains on (relative to the checkout)."""
    args = list(stage.args)
    return args[args.index("--corpus") + 1] if "--corpus" in args else "data/corpus"


def check_corpus(corpus_dir, rel="data/corpus"):
    """Raise unless ``corpus_dir`` holds the files of the corpus ``rel`` the stages used."""
    for name, want in CORPUS_SHA256[rel].items():
        path = os.path.join(corpus_dir, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} is missing: {CORPUS_COMMANDS[rel]}")
        if sha256(path) != want:
            raise ValueError(f"{path} differs from the corpus the bundled models were trained on")


def fetch_start(work, root=ROOT):
    """Write START_REF's mini-mlm (config + weights) to ``work/mlm-stage2``."""
    dest = os.path.join(work, "mlm-stage2")
    os.makedirs(dest, exist_ok=True)
    for name in START_FILES:
        got = subprocess.run(["git", "-C", root, "show", f"{START_REF}:data/mini-mlm/{name}"],
                             capture_output=True)
        if got.returncode:
            raise FileNotFoundError(f"{START_REF}:data/mini-mlm/{name} is not in {root}'s git history "
                                    "(a source checkout with full history is needed; "
                                    f"git fetch --unshallow): {got.stderr.decode().strip()}")
        blob = got.stdout
        with open(os.path.join(dest, name), "wb") as fh:
            fh.write(blob)
    if sha256(os.path.join(dest, "model.safetensors")) != START_SHA256:
        raise ValueError(f"{START_REF}:data/mini-mlm/model.safetensors is not the expected start")
    return dest


def parsed(argv_, ignore=("command",)):
    """``train.parse_args(argv_)`` as the dict that training_log.json stores under "args"."""
    from roberta_lab.training.train import parse_args
    return {k: v for k, v in vars(parse_args(argv_)).items() if k not in ignore}


def is_complete(folder, expected_argv):
    """True when ``folder`` holds a finished run of exactly ``expected_argv``."""
    try:
        with open(os.path.join(folder, "training_log.json")) as fh:
            log = json.load(fh)
    except (OSError, ValueError):
        return False
    return bool(log.get("complete")) and logged_args(log) == parsed(expected_argv)


# train.py options added after some runs were logged, with the values those runs had.
ADDED_ARGS = {"repeat_frac": 0.0, "repeat_min": 6, "repeat_max": 24,
              "layers": None, "hidden": None, "heads": None, "intermediate": None}


def logged_args(log):
    """A training_log.json's "args", with options added since it was written at their defaults."""
    return {**ADDED_ARGS, **log.get("args", {})}


def compare(model, folder, data_dir=os.path.join(ROOT, "data")):
    """``{file: (sha of the rerun, sha committed, sha in data/)}`` for the model's weight files."""
    return {f: (sha256(os.path.join(folder, f)), want,
                sha256(os.path.join(data_dir, model, f)) if os.path.isfile(os.path.join(data_dir, model, f)) else None)
            for f, want in {**MODEL_SHA256, **EXPERIMENT_SHA256}[model].items()}


def run(model, work, train_main=None, root=ROOT):
    """Run ``model``'s chain in ``work`` (skipping complete stages); True if bit-identical."""
    if train_main is None:
        from roberta_lab.training.train import main as train_main
    stages = chain(model)
    if stages[0].init.startswith("git:"):
        fetch_start(work, root)
    for stage in stages:
        args = argv(stage, work)
        if is_complete(os.path.join(work, stage.name), args):
            print(f"{stage.name}: complete in {work}, kept", flush=True)
            continue
        print(f"{stage.name}: python -m roberta_lab.training.train {' '.join(args)}", flush=True)
        train_main(args)
        want = ({**MODEL_SHA256, **STAGE_SHA256}.get(stage.name, {}).get("model.safetensors")
                if stage.name != model else None)
        got = sha256(os.path.join(work, stage.name, "model.safetensors")) if want else None
        if want and got != want:
            print(f"{stage.name}: weights {got[:12]} differ from the bundled {want[:12]}", flush=True)
    same = True
    for f, (got, want, data) in compare(model, os.path.join(work, model)).items():
        same &= got == want
        print(f"{model}/{f}: rerun {got[:12]}, recipe {want[:12]}, data/ {(data or 'missing')[:12]}"
              f" -> {'bit-identical' if got == want else 'DIFFERENT'}")
    return same


def main(argv_=None):
    ap = argparse.ArgumentParser(description="List or repeat the commands that made the bundled models.")
    ap.add_argument("action", choices=["list", "run"])
    ap.add_argument("model", nargs="?", choices=sorted(MODEL_SHA256) + sorted(EXPERIMENT_SHA256))
    ap.add_argument("--work", default="/tmp/roberta_lab_retrain")
    a = ap.parse_args(argv_)
    models = [a.model] if a.model else sorted(MODEL_SHA256)
    if a.action == "list":
        for m in [a.model] if a.model else sorted(MODEL_SHA256) + sorted(EXPERIMENT_SHA256):
            print(f"{m}:")
            for s in chain(m):
                start = f" (start: git {START_REF[:7]}:data/mini-mlm)" if s.init.startswith("git:") else ""
                print(f"  python -m roberta_lab.training.train {' '.join(argv(s, a.work))}{start}")
        return 0
    os.chdir(ROOT)  # train.py reads data/corpus and data/tokenizer relative to the checkout
    for rel in sorted({corpus_of(s) for m in models for s in chain(m)}):
        check_corpus(os.path.join(ROOT, rel), rel)
    ok = all([run(m, a.work) for m in models])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
