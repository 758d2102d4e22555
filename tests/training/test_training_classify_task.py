"""roberta_lab.training.classify_task (the grammaticality task) and the bundled classifier
``roberta-lab/mini-grammar`` fine-tuned on it (data/README.md, "mini-grammar")."""
from __future__ import annotations

import json
import os

import pytest

from roberta_lab.training import classify_task, facts, recipes, templates

ROOT = recipes.ROOT
FOLDER = os.path.join(ROOT, "data", "mini-grammar")
# Held-out accuracy of the committed model on all 800 held-out texts (data/README.md), and
# the test's floor: the measured value less a margin of 8 texts for another CPU's rounding.
HELDOUT_ACCURACY_MEASURED = 0.97
HELDOUT_ACCURACY_MIN = HELDOUT_ACCURACY_MEASURED - 8 / 800
MAX_SAFETENSORS_BYTES = 25 * 1000 * 1000


@pytest.fixture(scope="module")
def splits():
    return classify_task.make_split("train"), classify_task.make_split("heldout")


def test_splits_are_disjoint_balanced_and_sized(splits):
    train, held = splits
    assert len(train) == 2 * classify_task.N_TRAIN and len(held) == 2 * classify_task.N_HELDOUT
    train_texts, held_texts = {t for t, _ in train}, {t for t, _ in held}
    assert len(train_texts) == len(train) and len(held_texts) == len(held)  # no duplicates
    assert not train_texts & held_texts
    for split in splits:
        assert sum(y for _, y in split) * 2 == len(split)


def _frame_regex(frame):
    import re
    parts = re.split(r"(\{[A-Za-z_]+\})", frame)
    return "^" + "".join(".+" if p.startswith("{") else re.escape(p) for p in parts) + "$"


def test_splits_share_no_template(splits):
    import re
    train, held = splits
    for (frame, _, _) in templates.AGREE_EVAL:
        assert not any(re.match(_frame_regex(frame), t) for t, _ in train), frame
    train_frames = {f for f, _, _ in templates.AGREE_TRAIN}
    assert not train_frames & {f for f, _, _ in templates.AGREE_EVAL}


def test_labels_follow_the_verb(splits):
    """Each pair differs in one word, the agreeing verb, and the grammatical one (label 1)
    has the subject's number: checked on the simple frames, "... the {S} {V} ...", with no
    noun before the subject."""
    number = {}
    for sing, plur in facts.NOUN_PAIRS:
        number[sing], number[plur] = 0, 1
    verbs = {v: i for pair in facts.AGREE_VERBS.values() for i, v in enumerate(pair)}
    checked = 0
    for split in splits:
        for (good, yg), (bad, yb) in zip(split[::2], split[1::2]):
            assert (yg, yb) == (1, 0)
            gw, bw = good.split(), bad.split()
            diff = [i for i, (a, b) in enumerate(zip(gw, bw)) if a != b]
            assert len(gw) == len(bw) and len(diff) == 1, (good, bad)
            g, b = gw[diff[0]].lower(), bw[diff[0]].lower()
            assert verbs[g] != verbs[b] and {g, b} in [set(p) for p in facts.AGREE_VERBS.values()]
            words = [w.strip(",.?").lower() for w in gw]
            i = diff[0]
            if i >= 2 and words[i - 2] == "the" and not any(w in number for w in words[:i - 1]):
                assert verbs[g] == number[words[i - 1]], good
                checked += 1
    assert checked > 500


def test_deterministic_and_seeded():
    assert classify_task.make_split("heldout", 20) == classify_task.make_split("heldout", 20)
    assert classify_task.make_split("train", 20, seed=1) != classify_task.make_split("train", 20)
    with pytest.raises(ValueError, match="split must be one of"):
        classify_task.make_split("test")


def test_recipe_parses_and_chains_from_mini_mlm():
    stage = recipes.STAGES["mini-grammar"]
    args = recipes.parsed(recipes.argv(stage, "/w"))
    assert args["task"] == "grammar" and args["max_minutes"] == 0
    assert args["init"] == "/w/mini-mlm"
    assert [s.name for s in recipes.chain("mini-grammar")] == ["mlm-stage3", "mini-mlm", "mini-grammar"]


def _trained():
    if not os.path.isfile(os.path.join(FOLDER, "model.safetensors")):
        pytest.skip(f"{FOLDER} is not trained")
    return FOLDER


def test_bundled_folder_and_listing():
    folder = _trained()
    from roberta_lab import bundled_models
    assert "roberta-lab/mini-grammar" in bundled_models()
    assert os.path.getsize(os.path.join(folder, "model.safetensors")) <= MAX_SAFETENSORS_BYTES
    for f in ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
              "special_tokens_map.json", "training_log.json"):
        assert os.path.isfile(os.path.join(folder, f)), f
    with open(os.path.join(folder, "config.json")) as fh:
        cfg = json.load(fh)
    assert cfg["id2label"] == {"0": "ungrammatical", "1": "grammatical"}


def test_cli_lists_it(capsys):
    _trained()
    from roberta_lab import cli
    try:
        cli.main(["models"])
    except SystemExit as exc:
        assert not exc.code
    assert "roberta-lab/mini-grammar" in capsys.readouterr().out


def test_bundled_heldout_accuracy():
    _trained()
    from roberta_lab import AutoTokenizer, TFRobertaForSequenceClassification
    model = TFRobertaForSequenceClassification.from_pretrained("roberta-lab/mini-grammar")
    tok = AutoTokenizer.from_pretrained("roberta-lab/mini-grammar")
    held = classify_task.make_split("heldout")
    acc = classify_task.accuracy(model, tok, held)
    assert acc >= HELDOUT_ACCURACY_MIN, acc
    with open(os.path.join(FOLDER, "training_log.json")) as fh:
        assert abs(json.load(fh)["heldout_accuracy"] - acc) <= 8 / 800
