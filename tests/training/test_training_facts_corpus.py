"""Corpus build: fact tables, determinism, held-out templates (no TensorFlow needed)."""
import hashlib
import os

import pytest

from roberta_lab.training import corpus, facts, probes, templates

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORDNET = "/usr/share/wordnet"


def test_fact_tables():
    assert len(facts.COUNTRIES) == 195  # 193 UN members + Vatican City + Palestine
    names = [c[0] for c in facts.COUNTRIES]
    capitals = [c[2] for c in facts.COUNTRIES]
    assert len(set(names)) == 195 and len(set(capitals)) == 195  # reverse probes stay unambiguous
    assert len(facts.NOUN_PAIRS) >= 60
    members = [m for ms in facts.CATEGORY_MEMBERS.values() for m in ms]
    assert len(members) == len(set(members))  # each member in exactly one category
    assert all(len(ms) >= 15 for ms in facts.CATEGORY_MEMBERS.values())
    assert len(facts.CATEGORY_MEMBERS) == 12
    assert len(facts.NUMBERS) == len(facts.ORDINALS) == 20


def test_train_and_eval_templates_disjoint():
    seq_train = templates.SEQ_TRAIN
    for train, evals in [(templates.CAPITAL_TRAIN, templates.CAPITAL_EVAL_FWD + templates.CAPITAL_EVAL_REV),
                         (templates.CATEGORY_TRAIN, templates.CATEGORY_EVAL),
                         (seq_train, templates.SEQ_EVAL_NEXT + templates.SEQ_EVAL_PREV + templates.SEQ_EVAL_LIST),
                         ([f[0] for f in templates.AGREE_TRAIN], [f[0] for f in templates.AGREE_EVAL])]:
        assert len(train) >= 15
        assert not set(train) & set(evals)


def test_training_prefixes_never_frame_an_eval_template():
    evals = (templates.CAPITAL_EVAL_FWD + templates.CAPITAL_EVAL_REV + templates.CATEGORY_EVAL
             + templates.SEQ_EVAL_NEXT + templates.SEQ_EVAL_PREV + templates.SEQ_EVAL_LIST
             + list(templates.SEQ_EVAL_POS.values()) + [f[0] for f in templates.AGREE_EVAL])
    for prefix in templates.TRAIN_PREFIXES:
        assert not any(e.lower().startswith(prefix.lower()) for e in evals), prefix
    # Names keep their capital after a prefix; ordinary first words do not.
    assert templates.with_prefix("In fact,", "France is big.") == "In fact, France is big."
    assert templates.with_prefix("In fact,", "The dog is big.") == "In fact, the dog is big."
    assert templates.with_prefix("In fact,", "Monday comes first.") == "In fact, Monday comes first."


def _build(tmp_path, name, **kw):
    return corpus.build_corpus(str(tmp_path / name), seq2seq_pairs=(300, 30), **kw)


def test_facts_only_build_is_deterministic(tmp_path):
    a = _build(tmp_path, "a", seed=0, facts_only=True, fact_scale=0.02)
    b = _build(tmp_path, "b", seed=0, facts_only=True, fact_scale=0.02)
    c = _build(tmp_path, "c", seed=1, facts_only=True, fact_scale=0.02)
    for f in ("train.txt", "heldout.txt", "seq2seq_train.tsv", "seq2seq_heldout.tsv"):
        assert a["files"][f]["sha256"] == b["files"][f]["sha256"], f
        data = (tmp_path / "a" / f).read_bytes()
        assert hashlib.sha256(data).hexdigest() == a["files"][f]["sha256"]
    assert a["files"]["train.txt"]["sha256"] != c["files"]["train.txt"]["sha256"]
    assert a["counts"]["wordnet_train_lines"] == 0


@pytest.mark.skipif(not os.path.isdir(WORDNET), reason="wordnet-base not installed")
def test_wordnet_build_is_deterministic(tmp_path):
    a = _build(tmp_path, "a", seed=0, fact_scale=0.01, max_wordnet_lines=3000)
    b = _build(tmp_path, "b", seed=0, fact_scale=0.01, max_wordnet_lines=3000)
    assert a["files"]["train.txt"]["sha256"] == b["files"]["train.txt"]["sha256"]
    assert a["files"]["heldout.txt"]["sha256"] == b["files"]["heldout.txt"]["sha256"]
    counts = a["counts"]
    assert counts["wordnet_train_lines"] + counts["heldout_wordnet_lines"] == 3000
    assert 0 < counts["heldout_wordnet_lines"] < 200  # about 2%


@pytest.mark.skipif(not os.path.isdir(WORDNET), reason="wordnet-base not installed")
def test_wordnet_lines_are_plain_sentences():
    lines = corpus.wordnet_lines(WORDNET, max_lines=500)
    assert len(lines) == 500
    for line in lines:
        assert line[0].isupper() or not line[0].isalpha(), line
        assert line[-1] in ".!?" and "\n" not in line and "\t" not in line and '"' not in line


def test_no_probe_in_small_training_text(tmp_path):
    _build(tmp_path, "a", seed=0, facts_only=True, fact_scale=0.05)
    text = (tmp_path / "a" / "train.txt").read_text(encoding="utf-8")
    items = probes.build_probes(0)
    assert probes.find_leaks(items, text) == []
    # The check itself works: a planted probe sentence is found.
    assert probes.find_leaks(items[:1], text + probes.filled(items[0]) + "\n") == [probes.filled(items[0])]


@pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, "data/corpus/train.txt")),
                    reason="full corpus not built (python -m roberta_lab.training.corpus)")
def test_no_probe_in_built_corpus():
    with open(os.path.join(ROOT, "data/corpus/train.txt"), encoding="utf-8") as fh:
        text = fh.read()
    assert probes.find_leaks(probes.build_probes(0), text) == []
