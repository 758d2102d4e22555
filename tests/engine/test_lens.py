"""Logit lens: the last layer is the model's own prediction, ranks/probabilities agree, positions
and targets are chosen as documented, and the head only sees the chosen positions."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import random_ids, tiny_config
from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM
from roberta_lab.lens import LensResult, lens_table, logit_lens

MASK = 98


@pytest.fixture(scope="module")
def mlm():
    import keras

    keras.utils.set_random_seed(0)
    return TFRobertaForMaskedLM(tiny_config())


@pytest.fixture(scope="module")
def clm():
    import keras

    keras.utils.set_random_seed(1)
    return TFRobertaForCausalLM(tiny_config(is_decoder=True))


def _softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _ids_with_masks():
    ids = random_ids(3, 8, seed=4)
    ids[ids == MASK] = 5
    ids[0, 2] = ids[1, 5] = ids[2, 1] = ids[2, 6] = MASK
    return ids


def test_final_layer_is_the_models_prediction(mlm):
    ids = _ids_with_masks()
    res = logit_lens(mlm, ids, mask_token_id=MASK, target_ids=7, k=99)
    assert isinstance(res, LensResult) and res.layers == ["embed", "0", "1"]
    np.testing.assert_array_equal(res.positions, [[0, 2], [1, 5], [2, 1], [2, 6]])
    probs = _softmax(mlm(ids).logits.numpy()[res.positions[:, 0], res.positions[:, 1]])
    # top-k with k = vocab is the whole distribution, in order
    full = np.zeros_like(probs)
    np.put_along_axis(full, res.top_ids[-1], res.top_probs[-1], -1)
    assert np.max(np.abs(full - probs)) < 1e-5
    assert np.max(np.abs(res.prob[-1] - probs[:, 7])) < 1e-5
    assert np.all(res.kl[-1] == 0) and np.all(res.kl[:-1] > 0)
    assert res.top_probs.shape == (3, 4, 99) and np.all(np.diff(res.top_probs, axis=-1) <= 0)


def test_ranks_agree_with_probabilities(mlm):
    ids = _ids_with_masks()
    targets = np.array([3, 10, 50, 97])
    res = logit_lens(mlm, ids, mask_token_id=MASK, target_ids=targets, k=99)
    for li in range(3):
        for j in range(4):
            full = np.zeros(99)
            full[res.top_ids[li, j]] = res.top_probs[li, j]
            assert res.rank[li, j] == int(np.sum(full > full[targets[j]] + 1e-9))
            assert res.top_ids[li, j, res.rank[li, j]] == targets[j]
            assert abs(res.prob[li, j] - full[targets[j]]) < 1e-6
    assert np.all(res.entropy > 0) and np.all(res.entropy <= np.log(99) + 1e-9)


def test_positions_targets_and_rows(mlm):
    ids = random_ids(2, 6, seed=2)
    # explicit positions: the same for every row; (batch, pos) pairs; negatives from the end
    res = logit_lens(mlm, ids, positions=[1, -1], k=2)
    np.testing.assert_array_equal(res.positions, [[0, 1], [0, 5], [1, 1], [1, 5]])
    assert np.all(res.rank == -1) and np.all(np.isnan(res.prob))
    res = logit_lens(mlm, ids, positions=np.array([[1, 3]]), target_ids=[4], k=2)
    rows = res.to_rows()
    assert len(rows) == 3 and rows[0]["layer"] == "embed" and rows[-1]["layer"] == "1"
    assert rows[-1]["position"] == 3 and rows[-1]["batch"] == 1 and rows[-1]["kl"] == 0.0
    assert set(rows[0]) >= {"layer", "position", "rank", "prob", "kl", "top_ids", "top_tokens"}
    assert "layer" in lens_table(res).splitlines()[0]
    with pytest.raises(ValueError, match="mask_token_id"):
        logit_lens(mlm, ids)
    with pytest.raises(ValueError, match="no <mask>"):
        logit_lens(mlm, ids, mask_token_id=MASK)


def test_head_only_sees_chosen_positions(mlm, monkeypatch):
    ids = _ids_with_masks()
    seen = []
    original = mlm.lm_head.unembed
    monkeypatch.setattr(mlm.lm_head, "unembed", lambda x: seen.append(x.shape) or original(x))
    logit_lens(mlm, ids, mask_token_id=MASK)
    # seen[0] is the model's own forward; the lens itself runs the head once, on
    # [layer * n_positions, d_model]
    assert [tuple(s) for s in seen[1:]] == [(3 * 4, 32)]


def test_causal_lm_next_token(clm):
    ids = random_ids(2, 6, seed=3)
    mask = np.ones_like(ids)
    mask[1, 4:] = 0
    res = logit_lens(clm, ids, attention_mask=mask, k=3)
    np.testing.assert_array_equal(res.positions, [[0, 5], [1, 3]])  # last real token per row
    assert list(res.target_ids) == [-1, -1]  # nothing follows the last real token
    res = logit_lens(clm, ids, positions=[2], k=99)
    assert list(res.target_ids) == [ids[0, 3], ids[1, 3]]  # default target: the next token
    logits = clm(ids).logits.numpy()[:, 2]
    assert np.max(np.abs(res.prob[-1] - _softmax(logits)[[0, 1], ids[:, 3]])) < 1e-5
    assert np.all(res.kl[-1] == 0)


def test_tokenizer_gives_mask_id_and_strings(mlm, tok_dir):
    from roberta_lab import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    ids = np.asarray(tok(["The capital of France is <mask>."])["input_ids"])
    assert tok.mask_token_id == 4 and (ids == 4).sum() == 1
    ids = np.where(ids < 99, ids, 5)  # the tiny model has 99 tokens
    res = logit_lens(mlm, ids, tokenizer=tok, k=2)
    assert res.positions.shape == (1, 2) and len(res.top_tokens[-1][0]) == 2
    assert all(isinstance(t, str) for t in res.top_tokens[0][0])
