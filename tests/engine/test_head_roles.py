"""Head-role scores: hand-built patterns single out the heads built for a role, entropy of a
uniform row is log(n), padding is ignored, and model runs match the numpy path."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import TFRobertaForMaskedLM
from roberta_lab.head_roles import (ROLES, HeadRoleScores, head_role_scores, punctuation_ids,
                                    scores_from_patterns, top_heads)

# <s> a , b c </s> <pad> <pad>      (, = id 6 is the punctuation)
IDS = np.array([[0, 11, 6, 12, 13, 2, 1, 1],
                [0, 14, 15, 6, 16, 17, 18, 2]], np.int32)
MASK = (IDS != 1).astype(np.int32)


@pytest.fixture(scope="module")
def mlm():
    import keras

    keras.utils.set_random_seed(0)
    return TFRobertaForMaskedLM(tiny_config())


def built_pattern(mask: np.ndarray, n_heads: int = 4) -> np.ndarray:
    """[batch, head, q, k]: head 0 -> previous token (itself at q=0), head 1 -> <s>,
    head 2 -> uniform over the real keys, head 3 -> itself. Pad rows hold garbage (all on the
    last column) that must not count."""
    b, s = mask.shape
    p = np.zeros((b, n_heads, s, s), np.float32)
    for i in range(b):
        n = int(mask[i].sum())
        for q in range(s):
            if q >= n:
                p[i, :, q, -1] = 1.0
                continue
            p[i, 0, q, max(q - 1, 0)] = 1.0
            p[i, 1, q, 0] = 1.0
            p[i, 2, q, :n] = 1.0 / n
            p[i, 3, q, q] = 1.0
    return p


def test_built_patterns_single_out_their_heads():
    pat = built_pattern(MASK)
    sc = scores_from_patterns([pat, pat[:, ::-1]], IDS, MASK, punct_ids=[6])
    assert isinstance(sc, HeadRoleScores) and sc.prev.shape == (2, 4)
    assert sc.n_rows == int(MASK.sum())
    n = MASK.sum(1)
    # prev/next average over the 5 + 7 queries that have a real previous / next token; only
    # q = 1 looks back at <s>, so the <s> head scores 2/12 there; uniform rows give 1/n
    uniform = np.mean(np.repeat(1 / n, n - 1))
    np.testing.assert_allclose(sc.prev[0], [1, 2 / 12, uniform, 0], atol=1e-6)
    np.testing.assert_allclose(sc.next[0], [0, 0, uniform, 0], atol=1e-6)
    np.testing.assert_allclose(sc.bos[0, 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(sc.self[0, 3], 1.0, atol=1e-6)
    # layer 1 holds the heads in reverse order
    np.testing.assert_allclose(sc.prev[1], sc.prev[0, ::-1], atol=1e-6)
    assert top_heads(sc, "prev", k=2) == [("L0H0", 1.0), ("L1H3", 1.0)]
    assert top_heads(sc, "bos", k=1)[0][0] in {"L0H1", "L1H2"}
    assert top_heads(sc, "entropy", k=1)[0][0] in {"L0H2", "L1H1"}
    assert top_heads(sc, "entropy", k=1, largest=False)[0][1] == 0.0
    # uniform rows: entropy log(n) per row; eos / punct each get 1/n of every row's mass
    rows = np.repeat(n, n)
    np.testing.assert_allclose(sc.entropy[0, 2], np.mean(np.log(rows)), rtol=1e-6)
    np.testing.assert_allclose(sc.eos[0, 2], np.mean(1 / rows), rtol=1e-6)
    np.testing.assert_allclose(sc.punct[0, 2], np.mean(1 / rows), rtol=1e-6)
    recs = sc.to_rows()
    assert len(recs) == 8 and recs[0]["label"] == "L0H0" and set(ROLES) <= set(recs[0])


def test_uniform_row_entropy_is_log_n():
    ids = np.array([[0, 5, 6, 7, 2]])
    pat = np.full((1, 1, 5, 5), 0.2, np.float32)
    sc = scores_from_patterns([pat], ids)
    np.testing.assert_allclose(sc.entropy, [[np.log(5)]], rtol=1e-6)


def test_pads_are_ignored():
    pat = built_pattern(MASK)
    padded = scores_from_patterns([pat], IDS, MASK, punct_ids=[6])
    # the first text alone, without its pads, scores the same on its own rows
    alone = scores_from_patterns([built_pattern(MASK[:1, :6])], IDS[:1, :6], MASK[:1, :6],
                                 punct_ids=[6])
    first = scores_from_patterns([pat[:1]], IDS[:1], MASK[:1], punct_ids=[6])
    for role in ROLES:
        np.testing.assert_allclose(first[role], alone[role], atol=1e-6, err_msg=role)
    assert padded.n_rows == 6 + 8


def test_model_run_with_replaced_patterns(mlm):
    """A hook that swaps in the built patterns is scored as the built patterns; batching the
    texts does not change the result."""
    built = tf.constant(built_pattern(MASK))

    sc = head_role_scores(mlm, IDS, MASK, punct_ids=[6], fwd_hooks=[
        (lambda n: n.endswith("attn.hook_pattern"), lambda x, hook: built)])
    ref = scores_from_patterns([built_pattern(MASK)] * 2, IDS, MASK, punct_ids=[6])
    for role in ROLES:
        np.testing.assert_allclose(sc[role], ref[role], atol=1e-6, err_msg=role)
    # the model's own patterns: rows sum to 1, so bos + eos + punct + ... stay within [0, 1]
    real = head_role_scores(mlm, IDS, MASK, punct_ids=[6], batch_size=1)
    both = head_role_scores(mlm, IDS, MASK, punct_ids=[6], batch_size=2)
    for role in ROLES:
        np.testing.assert_allclose(real[role], both[role], atol=1e-5, err_msg=role)
    assert np.all((real.bos + real.eos + real.punct) <= 1 + 1e-5)
    assert np.all(real.entropy <= np.log(8) + 1e-5)


def test_punctuation_from_tokenizer(tok_dir):
    from roberta_lab import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    ids = punctuation_ids(tok)
    found = set(tok.convert_ids_to_tokens(ids))
    assert {".", ","} <= found and not found & {"<s>", "</s>", "<pad>", "<mask>"}
    assert all(not any(c.isalnum() for c in t) for t in found)
