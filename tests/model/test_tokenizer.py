"""The tokenizer gives HF RobertaTokenizerFast's ids on the same files."""

from __future__ import annotations

import numpy as np
import pytest

from roberta_lab import AutoTokenizer, RobertaTokenizer

transformers = pytest.importorskip("transformers")

TEXTS = ["The capital of France is <mask>.", "Hello, my dog is cute", "  leading spaces",
         "The keys to the cabinet<mask> are on the table.", "émigré café — ünïcödé", "",
         "Monday comes before Tuesday.<mask>"]


def _pair(folder, **kw):
    ours = AutoTokenizer.from_pretrained(folder, **kw)
    ref = transformers.RobertaTokenizerFast.from_pretrained(str(folder), **kw)
    return ours, ref


@pytest.mark.parametrize("source", ["tokenizer.json", "vocab+merges"])
def test_ids_match_hf(tok_dir, tmp_path, source):
    folder = tok_dir
    if source == "vocab+merges":
        import shutil
        folder = tmp_path / "vm"
        folder.mkdir()
        for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
            shutil.copy(tok_dir / name, folder / name)
    ours, ref = _pair(folder)
    for text in TEXTS:
        assert ours(text)["input_ids"] == ref(text)["input_ids"], text
        assert ours(text)["attention_mask"] == ref(text)["attention_mask"]
    # pairs: <s> A </s></s> B </s>
    assert ours("Hello there", "my dog")["input_ids"] == ref("Hello there", "my dog")["input_ids"]
    assert ours.mask_token_id == ref.mask_token_id == 4
    assert ours.pad_token_id == 1 and ours.bos_token_id == 0 and ours.eos_token_id == 2


def test_padding_truncation_tensors_match_hf(tok_dir):
    ours, ref = _pair(tok_dir)
    batch = TEXTS[:4]
    for kw in ({"padding": True}, {"padding": "max_length", "max_length": 24},
               {"truncation": True, "max_length": 6, "padding": True},
               {"padding": True, "pad_to_multiple_of": 8}):
        a, b = ours(batch, return_tensors="np", **kw), ref(batch, return_tensors="np", **kw)
        for key in ("input_ids", "attention_mask"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{kw} {key}")
    pa = ours(["Hello there", "a"], ["my dog", "bb cc dd ee ff"], truncation="only_second",
              max_length=10, padding=True)
    pb = ref(["Hello there", "a"], ["my dog", "bb cc dd ee ff"], truncation="only_second",
             max_length=10, padding=True)
    assert pa["input_ids"] == pb["input_ids"]


def test_decode_and_tf_tensors(tok_dir):
    import tensorflow as tf

    ours, ref = _pair(tok_dir)
    enc = ours("The capital of France is <mask>.", return_tensors="tf")
    assert enc.input_ids.dtype == tf.int32 and enc["input_ids"].shape[0] == 1
    ids = enc.input_ids[0]
    assert ours.decode(ids) == ref.decode(ids.numpy().tolist())
    assert ours.decode(ids, skip_special_tokens=True) == \
        ref.decode(ids.numpy().tolist(), skip_special_tokens=True)
    assert ours.decode(tf.constant([ids[1].numpy()])) == ref.decode([int(ids[1])])
    assert ours.convert_ids_to_tokens(ids.numpy().tolist()) == \
        ref.convert_ids_to_tokens(ids.numpy().tolist())


def test_bundled_tokenizer_matches_hf():
    from roberta_lab.hub import data_dir

    folder = data_dir() / "tokenizer"
    if not (folder / "tokenizer.json").exists():
        pytest.skip("bundled tokenizer not built")
    ours, ref = _pair(folder)
    for text in TEXTS + ["The capital of France is Paris.", "Paris is the capital of France."]:
        assert ours(text)["input_ids"] == ref(text)["input_ids"], text


def test_save_and_reload(tok_dir, tmp_path):
    ours = RobertaTokenizer.from_pretrained(tok_dir)
    ours.save_pretrained(tmp_path / "saved")
    again = RobertaTokenizer.from_pretrained(tmp_path / "saved")
    ref = transformers.RobertaTokenizerFast.from_pretrained(str(tmp_path / "saved"))
    for text in TEXTS:
        assert again(text)["input_ids"] == ours(text)["input_ids"] == ref(text)["input_ids"]


def test_bad_input_names_argument(tok_dir):
    tok = AutoTokenizer.from_pretrained(tok_dir)
    with pytest.raises(TypeError, match="text"):
        tok(123)
    with pytest.raises(ValueError, match="padding"):
        tok("a", padding="sideways")
    with pytest.raises(ValueError, match="return_tensors"):
        tok("a", return_tensors="jax")
    with pytest.raises(ValueError, match="padding=True"):
        tok(["a", "a b c d"], return_tensors="np")
    with pytest.raises(TypeError, match="token_ids"):
        tok.decode(np.array([1.5]))
