"""Fill-mask evaluates the LM head only at masks, with the full forward's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import max_diff, tiny_config
from roberta_lab import AutoTokenizer, TFRobertaForMaskedLM
from roberta_lab.fill_mask import fill_mask, mask_logits


@pytest.fixture(scope="module")
def setup(tok_dir):
    import keras

    keras.utils.set_random_seed(0)
    tok = AutoTokenizer.from_pretrained(tok_dir)
    return TFRobertaForMaskedLM(tiny_config(vocab_size=len(tok))), tok


def test_mask_logits_equal_full_forward(setup):
    model, tok = setup
    enc = tok(["The capital of France is <mask>.", "A <mask> is a <mask>."], padding=True,
              return_tensors="np")
    full = model(enc).logits.numpy()
    where = np.argwhere(enc["input_ids"] == tok.mask_token_id)
    picked = mask_logits(model, enc["input_ids"], enc["attention_mask"],
                         mask_token_id=tok.mask_token_id)
    assert picked.shape == (3, len(tok))
    assert max_diff(picked, full[where[:, 0], where[:, 1]]) < 1e-5


def test_fill_mask_results_and_bad_input(setup):
    model, tok = setup
    res = fill_mask(model, tok, "The capital of France is <mask>.", top_k=3)
    assert len(res) == 1 and len(res[0]) == 3
    scores = [r["score"] for r in res[0]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1
    enc = tok("The capital of France is <mask>.", return_tensors="np")
    logits = model(enc).logits.numpy()[0, list(enc["input_ids"][0]).index(4)]
    assert res[0][0]["token"] == int(np.argmax(logits))
    assert res[0][0]["token_str"] == tok.decode([res[0][0]["token"]])
    for bad, err in (("no mask here", ValueError), ("", ValueError), (42, TypeError),
                     ("x " * 600 + "<mask>", ValueError)):
        with pytest.raises(err, match="text"):
            fill_mask(model, tok, bad)
    with pytest.raises(ValueError, match="top_k"):
        fill_mask(model, tok, "a <mask>", top_k=0)
