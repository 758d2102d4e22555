"""Activation patching: the limits (everything -> 1, nothing -> 0), batched = one at a time,
heads vs whole z, compiled = eager."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import TFRobertaForMaskedLM
from roberta_lab.patching import (PatchingResult, logit_diff, patch_block_outputs, patch_heads,
                                  patch_residual, run_conditions)

CLEAN = np.array([[0, 11, 23, 98, 2]], np.int32)
CORRUPT = np.array([[0, 64, 23, 98, 2]], np.int32)  # differs at position 1
METRIC = logit_diff(7, 8, position=3)  # read out at the <mask> (98)


@pytest.fixture(scope="module")
def mlm():
    import keras

    keras.utils.set_random_seed(0)
    # Larger weights than the default 0.02: a random tiny model at 0.02 barely depends on its
    # input, so clean - corrupted would be ~1e-5 and the normalised score all rounding.
    return TFRobertaForMaskedLM(tiny_config(initializer_range=0.2))


def test_limits_everything_one_nothing_zero(mlm):
    res = patch_residual(mlm, CLEAN, CORRUPT, METRIC, per_position=False, progress=False)
    assert isinstance(res, PatchingResult) and res.scores.shape == (3, 1)
    assert res.row_labels == ["resid_pre 0", "resid_pre 1", "resid_post 1"]
    assert abs(res.clean - res.corrupted) > 1e-3  # the corruption matters
    np.testing.assert_allclose(res.scores, 1.0, atol=1e-5)
    nothing = [(f"blocks.{l}.hook_resid_pre", np.zeros((5, 1), bool)) for l in range(2)]
    patched, clean, corrupt = run_conditions(mlm, CLEAN, CORRUPT, nothing, METRIC, progress=False)
    np.testing.assert_allclose(patched, corrupt, atol=1e-5)
    # per position: the embeddings differ only at 1, so patching elsewhere restores nothing;
    # the last stream matters only at the read-out position
    res = patch_residual(mlm, CLEAN, CORRUPT, targets=(7, 8), position=3, progress=False)
    assert res.scores.shape == (3, 5)
    np.testing.assert_allclose(res.scores[0], np.eye(5)[1], atol=1e-5)
    np.testing.assert_allclose(res.scores[2], np.eye(5)[3], atol=1e-5)
    assert len(res.to_rows()) == 15 and res.top(1)[0][:2] in {("resid_post 1", "pos 3"),
                                                              ("resid_pre 0", "pos 1")}


def test_batched_equals_one_at_a_time(mlm):
    res = patch_residual(mlm, CLEAN, CORRUPT, METRIC, chunk_size=4, progress=False)
    clean_acts = mlm.run_with_cache(CLEAN)[1]
    loop = np.zeros((3, 5))
    for r, name in enumerate(["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre",
                              "blocks.1.hook_resid_post"]):
        for p in range(5):
            src = clean_acts[name]

            def hook(x, hook, p=p, src=src):
                keep = np.arange(5)[None, :, None] == p
                return tf.where(keep, tf.constant(src), x)

            out = mlm.run_with_hooks(CORRUPT, fwd_hooks=[(name, hook)])
            loop[r, p] = float(METRIC(out)[0])
    np.testing.assert_allclose(res.patched, loop, atol=1e-5)
    heads4 = patch_heads(mlm, CLEAN, CORRUPT, METRIC, chunk_size=3, progress=False)
    heads1 = patch_heads(mlm, CLEAN, CORRUPT, METRIC, chunk_size=8, progress=False)
    assert heads4.scores.shape == (2, 4) and heads4.col_labels == ["H0", "H1", "H2", "H3"]
    np.testing.assert_allclose(heads4.patched, heads1.patched, atol=1e-5)


def test_all_heads_equal_whole_layer(mlm):
    conds = []
    for l in range(2):
        conds += [(f"blocks.{l}.attn.hook_z", np.ones((1, 4, 1), bool)),  # every head
                  (f"blocks.{l}.attn.hook_z", np.ones((5, 4, 1), bool)),  # the whole z
                  (f"blocks.{l}.hook_attn_out", np.ones((5, 1), bool))]   # what z writes
    patched, _, _ = run_conditions(mlm, CLEAN, CORRUPT, conds, METRIC, progress=False)
    patched = patched.reshape(2, 3)
    np.testing.assert_allclose(patched, patched[:, :1].repeat(3, 1), atol=1e-5)
    by_layer = patch_block_outputs(mlm, CLEAN, CORRUPT, METRIC, component="attn_out",
                                   progress=False)
    np.testing.assert_allclose(by_layer.patched[:, 0], patched[:, 0], atol=1e-5)
    mlp = patch_block_outputs(mlm, CLEAN, CORRUPT, METRIC, component="mlp_out",
                              per_position=True, progress=False)
    assert mlp.scores.shape == (2, 5) and mlp.row_labels == ["L0", "L1"]


def test_compiled_equals_eager_and_traces_once(mlm):
    eager = patch_heads(mlm, CLEAN, CORRUPT, METRIC, chunk_size=3, progress=False)
    before = set(mlm.compiled_functions.entries("hooked_runs"))
    comp = patch_heads(mlm, CLEAN, CORRUPT, METRIC, chunk_size=3, compile=True, progress=False)
    np.testing.assert_allclose(comp.patched, eager.patched, atol=1e-5)
    new = [f for k, f in mlm.compiled_functions.entries("hooked_runs").items() if k not in before]
    # 8 conditions in chunks of 3, the last one padded: one trace for the whole sweep
    assert len(new) == 1 and new[0].experimental_get_tracing_count() == 1


def test_attention_mask_and_errors(mlm):
    mask = np.array([[1, 1, 1, 1, 0]])
    res = patch_residual(mlm, CLEAN, CORRUPT, METRIC, attention_mask=mask, per_position=False,
                         progress=False)
    np.testing.assert_allclose(res.scores, 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="targets"):
        patch_heads(mlm, CLEAN, CORRUPT, progress=False)
    with pytest.raises(ValueError, match="differ in length"):
        patch_heads(mlm, CLEAN, CORRUPT[:, :4], METRIC, progress=False)
    with pytest.raises(ValueError, match="one value per batch row"):
        patch_heads(mlm, CLEAN, CORRUPT, lambda out: tf.reduce_mean(METRIC(out)), progress=False)
    with pytest.warns(UserWarning, match="undefined"):
        same = patch_heads(mlm, CLEAN, CLEAN, METRIC, progress=False)
    assert np.all(np.isnan(same.scores))
