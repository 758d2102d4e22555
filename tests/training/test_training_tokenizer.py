"""Byte-level BPE tokenizer in RoBERTa's format (no TensorFlow needed)."""
import json
import os

import pytest
from tokenizers import Tokenizer

from roberta_lab.training import bpe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOK_DIR = os.path.join(ROOT, "data/tokenizer")
SENTENCES = ["The capital of France is <mask>.", "The keys to the cabinet <mask> on the table.",
             "Monday comes before<mask><mask>.", "  odd   spacing, and café!"]
PAIRS = [("A robin is a bird.", "The oak is a kind of <mask>."), ("one, two", "three")]


def _check_format(tok):
    for i, t in enumerate(bpe.SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i
    enc = tok.encode("It is <mask>.")
    assert enc.ids[0] == 0 and enc.ids[-1] == 2 and enc.ids.count(4) == 1
    # lstrip <mask>: the space before it belongs to the mask, not a separate token.
    assert enc.ids == tok.encode("It is<mask>.").ids
    pair = tok.encode("A b", "c d").ids
    assert pair[0] == 0 and pair[-1] == 2 and [2, 2] == pair[pair.index(2):pair.index(2) + 2]


def test_train_small_tokenizer(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("The capital of France is Paris.\nA robin is a bird.\n" * 50, encoding="utf-8")
    tok = bpe.train_tokenizer([corpus], str(tmp_path / "tok"), vocab_size=300, model_max_length=62)
    _check_format(tok)
    _check_format(Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json")))
    cfg = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert cfg["model_max_length"] == 62 and cfg["tokenizer_class"] == "RobertaTokenizer"
    for f in ("vocab.json", "merges.txt", "special_tokens_map.json"):
        assert (tmp_path / "tok" / f).exists()


@pytest.mark.skipif(not os.path.isdir(TOK_DIR), reason="tokenizer not built")
def test_committed_tokenizer():
    tok = Tokenizer.from_file(os.path.join(TOK_DIR, "tokenizer.json"))
    _check_format(tok)
    assert tok.get_vocab_size() == 8192
    rep = bpe.answer_report(tok)
    assert rep["single_word_answers_multi_token"] == []  # every one-word answer is one token
    assert len(tok.encode(" Paris", add_special_tokens=False).ids) == 1


@pytest.mark.skipif(not os.path.isdir(TOK_DIR), reason="tokenizer not built")
def test_transformers_loads_same_ids():
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoTokenizer.from_pretrained(TOK_DIR)
    raw = Tokenizer.from_file(os.path.join(TOK_DIR, "tokenizer.json"))
    assert type(hf).__name__ == "RobertaTokenizerFast"
    assert (hf.bos_token_id, hf.pad_token_id, hf.eos_token_id, hf.unk_token_id, hf.mask_token_id) == (0, 1, 2, 3, 4)
    assert hf.model_max_length == 128
    for s in SENTENCES:
        assert hf(s)["input_ids"] == raw.encode(s).ids, s
    for a, b in PAIRS:
        assert hf(a, b)["input_ids"] == raw.encode(a, b).ids, (a, b)
    slow = transformers.RobertaTokenizer.from_pretrained(TOK_DIR)  # vocab.json + merges.txt route
    for s in SENTENCES[:3]:
        assert slow(s)["input_ids"] == raw.encode(s).ids, s
