"""The everyday corpus: its Debian sources (on small fixtures), the everyday cloze set, and the
filter that keeps the cloze sentences out of training."""
from __future__ import annotations

import gzip
import hashlib
import json
import os

import pytest

from roberta_lab.training import cloze, everyday, sources

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER = os.path.join(ROOT, "data", "tokenizer")

WORDNET_LINE = ('{offset} 05 n 01 {word} 0 000 | {gloss}; "{ex1}"; "{ex2}"\n')


@pytest.fixture(scope="module")
def wordnet_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("wordnet")
    rows = {"noun": [("cup", "a small open container", "she drank a cup of cocoa", "a cup")],
            "verb": [("drink", "take in liquids", "the children drink milk every day",
                      "drink up")],
            "adj": [("warm", "having some heat", "a warm summer evening", "warm")],
            "adv": [("slowly", "without speed", "he walked slowly home", "go slowly")]}
    for pos, items in rows.items():
        with open(d / f"data.{pos}", "w") as fh:
            fh.write("  1 This software and database is being provided\n")  # licence header
            for i, (w, g, e1, e2) in enumerate(items):
                fh.write(WORDNET_LINE.format(offset=f"{i:08d}", word=w, gloss=g, ex1=e1, ex2=e2))
    return str(d)


@pytest.fixture(scope="module")
def fortune_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fortunes")
    (d / "food").write_text("Never eat more than you can lift.\n%\n"
                            "An apple a day\nkeeps the doctor away.\n\t\t-- Proverb\n%\n"
                            "$ rm -rf / # do not\n%\nNever eat more than you can lift.\n%\n"
                            "She drank a cup of cocoa.\n%\n")
    (d / "ethnic").write_text("A joke that is not in the list of files.\n%\n")
    return str(d)


def test_wordnet_examples_are_the_quoted_sentences(wordnet_dir):
    got = sources.wordnet_examples(wordnet_dir)
    assert got == ["She drank a cup of cocoa.", "The children drink milk every day.",
                   "A warm summer evening.", "He walked slowly home."]  # < 3 words dropped


def test_fortunes_one_line_per_cookie_without_attribution_or_code(fortune_dir):
    got = sources.fortune_lines(fortune_dir)
    assert got == ["Never eat more than you can lift.", "An apple a day keeps the doctor away.",
                   "She drank a cup of cocoa."]
    assert "ethnic" not in sources.FORTUNE_FILES and "songs-poems" not in sources.FORTUNE_FILES


def test_gcide_quotations_and_usage_examples(tmp_path):
    text = ("Arrive \\Ar*rive\"\\, v. i.\n   1. To come; said of time; as, the time arrived at last.\n"
            "      [1913 Webster]\n\n            If at great things thou wouldst arrive. --Milton.\n"
            "      [1913 Webster]\n\n   Syn: {inbound}.\n")
    path = tmp_path / "gcide.dict.dz"
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    assert sources.gcide_lines(str(path)) == ["The time arrived at last.", "If at great things thou wouldst arrive."]


def test_cloze_set_is_large_well_formed_and_scorable():
    from roberta_lab import AutoTokenizer
    items = cloze.read_cloze()
    assert len(items) >= 200
    assert len({it["id"] for it in items}) == len(items)
    assert len({cloze.normalise(it["text"]) for it in items}) == len(items)
    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    for it in items:
        assert it["text"].count("<mask>") == 1 and it["answers"], it
        assert cloze.answer_ids(tok, it), f"{it['id']} has no single-token answer"


def test_filter_removes_cloze_sentences_whatever_the_answer_case_or_punctuation():
    items = [{"text": "She drank a cup of <mask>.", "answers": ["tea"]},
             {"text": "He opened the <mask> and walked into the house.", "answers": ["door"]}]
    lines = ["SHE DRANK A CUP OF COCOA!", "Then she drank a cup of tea. Then she slept.",
             "He opened the gate and walked into the house.", "She drank a cup of hot tea.",
             "He opened the door and walked into the garden.", "She drank a cup."]
    kept, removed = cloze.filter_lines(lines, items)
    assert removed == 3
    assert kept == ["She drank a cup of hot tea.", "He opened the door and walked into the garden.",
                    "She drank a cup."]


def test_everyday_build_is_deterministic_filtered_and_keeps_the_heldout_split(
        tmp_path, wordnet_dir, fortune_dir):
    cz = tmp_path / "cloze.jsonl"
    cz.write_text(json.dumps({"id": "a", "text": "She drank a cup of <mask>.", "answers": ["tea"]}) + "\n")
    kw = dict(seed=0, wordnet_dir=wordnet_dir, fortune_dir=fortune_dir, cloze_path=str(cz),
              fact_scale=0.002, fact_keep=0.5, example_copies=3, fortune_copies=2)
    a = everyday.build_everyday(str(tmp_path / "a"), **kw)
    b = everyday.build_everyday(str(tmp_path / "b"), **kw)
    assert a["files"] == b["files"]
    train = (tmp_path / "a" / "train.txt").read_text().splitlines()
    held = (tmp_path / "a" / "heldout.txt").read_text().splitlines()
    assert not any("cup of cocoa" in ln for ln in train), "cloze sentences never reach train.txt"
    assert a["counts"]["cloze_lines_removed"]["fortunes"] == 2  # 2 copies of the planted line
    assert not set(train) & set(held)
    assert train.count("The children drink milk every day.") == 3  # an example, 3 copies in all
    assert a["cloze_filter"]["sha256"] == hashlib.sha256(cz.read_bytes()).hexdigest()
    assert set(a["packages"]) == set(everyday.PACKAGES)
    assert json.loads((tmp_path / "a" / "manifest.json").read_text())["files"] == a["files"]


def test_the_everyday_corpus_was_filtered_against_this_cloze_file():
    """The recipes record the cloze file the everyday corpus was filtered against; when the corpus
    is built here, no cloze sentence is in it."""
    from roberta_lab.training import recipes
    with open(cloze.CLOZE_PATH, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == recipes.CLOZE_SHA256
    path = os.path.join(ROOT, "data", "corpus-everyday", "train.txt")
    if not os.path.isfile(path):
        pytest.skip("data/corpus-everyday is not built (python -m roberta_lab.training.everyday)")
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert cloze.filter_lines(lines, cloze.read_cloze())[1] == 0


def test_context_baseline_counts_what_follows_the_two_left_words():
    items = [{"text": "He drank a glass of <mask> today.", "answers": ["milk", "juice"]},
             {"text": "The dog wagged its <mask>.", "answers": ["tail"]}]
    lines = ["A glass of water.", "a glass of WATER!", "One glass of milk", "glass of juice",
             "the cat wagged its ears"]
    got = cloze.context_baseline(lines, items)
    # "glass of": water x2 first, then juice and milk (ties by word); "wagged its": only "ears".
    assert got == {"n": 2, "top1": 0.0, "top5": 0.5, "seen": 0.5}
    lines.append("glass of milk and glass of milk")
    assert cloze.context_baseline(lines, items)["top1"] == 0.5


def test_context_baseline_command_names_a_missing_corpus(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cloze.main(["--corpus", str(tmp_path)])
    assert "--corpus" in capsys.readouterr().err
