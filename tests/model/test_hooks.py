"""Hook points: the public name list, shapes, equality with HF-style outputs, interventions,
compiled runs and gradients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import max_diff, random_ids, random_mask, tiny_config
from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM
from roberta_lab.activation_cache import act_name
from roberta_lab.hook_points import HOOK_SHAPES, hook_names

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "hook_names.txt"


@pytest.fixture(scope="module")
def mlm():
    import keras

    keras.utils.set_random_seed(0)
    return TFRobertaForMaskedLM(tiny_config())


@pytest.fixture(scope="module")
def seq2seq_decoder():
    import keras

    keras.utils.set_random_seed(1)
    return TFRobertaForCausalLM(tiny_config(is_decoder=True, add_cross_attention=True))


def test_hook_name_snapshot(mlm, seq2seq_decoder):
    """Hook names are public API: any change must update the snapshot on purpose."""
    text = "\n".join(f"{name}\t{shape}" for name, shape in HOOK_SHAPES.items()) + "\n"
    assert SNAPSHOT.read_text() == text
    assert list(mlm.hook_dict) == hook_names(2, cross_attention=False, lm_head=True)
    assert list(seq2seq_decoder.hook_dict) == hook_names(2, cross_attention=True, lm_head=True)
    assert list(mlm.hook_dict)[:5] == ["hook_embed", "hook_pos_embed", "hook_token_type_embed",
                                       "hook_full_embed", "blocks.0.hook_resid_pre"]


def _expected_shape(pattern, cfg, batch, pos, enc_pos, vocab):
    sizes = {"batch": batch, "pos": pos, "k_pos": pos, "enc_pos": enc_pos,
             "d_model": cfg.hidden_size, "head": cfg.num_attention_heads, "d_head": cfg.head_dim,
             "d_mlp": cfg.intermediate_size, "d_vocab": vocab}
    return tuple(sizes[s.strip()] for s in pattern.strip("[]").split(","))


def test_every_hook_shape(seq2seq_decoder):
    cfg = seq2seq_decoder.config
    ids = random_ids(2, 6)
    enc = np.random.default_rng(0).normal(size=(2, 3, 32)).astype(np.float32)
    _, cache = seq2seq_decoder.run_with_cache(ids, encoder_hidden_states=enc)
    assert list(cache) == list(seq2seq_decoder.hook_dict)
    for name, value in cache.items():
        pattern = HOOK_SHAPES[name if name in HOOK_SHAPES else
                              "blocks.{l}." + name.split(".", 2)[2]]
        assert value.shape == _expected_shape(pattern, cfg, 2, 6, 3, 99), name


def test_pattern_equals_attentions_output(mlm):
    ids, mask = random_ids(), random_mask()
    out, cache = mlm.run_with_cache(ids, attention_mask=mask, output_attentions=True,
                                    output_hidden_states=True)
    for layer in range(2):
        np.testing.assert_array_equal(cache["pattern", layer], out.attentions[layer].numpy())
        np.testing.assert_array_equal(cache["resid_post", layer],
                                      out.hidden_states[layer + 1].numpy())
    np.testing.assert_array_equal(cache["blocks.0.hook_resid_pre"], out.hidden_states[0].numpy())
    assert cache.stack_activation("pattern").shape == (2, 13, 4, 7, 7)
    assert act_name("pattern", 1, "cross") == "blocks.1.cross_attn.hook_pattern"


def test_replacement_equals_hand_recomputation(mlm):
    ids = random_ids(2, 5)
    # 1. Replace the LM head's input: the logits are the head applied to the replacement.
    new = tf.random.normal([2, 5, 32], seed=3)
    out = mlm.run_with_hooks(ids, fwd_hooks=[("lm_head.hook_in", lambda x, hook: new)])
    assert max_diff(out.logits, mlm.lm_head(new)) < 1e-6
    # 2. Zeroing head 2's z in layer 1 = masking that head (head_mask is applied to the pattern).
    def kill(z, hook):
        keep = tf.constant([1.0, 1.0, 0.0, 1.0])[None, None, :, None]
        return z * keep
    hooked = mlm.run_with_hooks(ids, fwd_hooks=[("blocks.1.attn.hook_z", kill)])
    by_mask = mlm(ids, head_mask=np.array([[1, 1, 1, 1], [1, 1, 0, 1]], np.float32))
    assert max_diff(hooked.logits, by_mask.logits) < 1e-6
    # 3. A hook that returns its input unchanged changes nothing, and hooks are removed after.
    same = mlm.run_with_hooks(ids, fwd_hooks=[(lambda n: True, lambda x, hook: x)])
    assert max_diff(same.logits, mlm(ids).logits) == 0.0
    assert all(not hp.fns for hp in mlm.hook_dict.values())


def test_same_results_eager_and_compiled(mlm):
    ids, mask = random_ids(), random_mask()
    def scale(x, hook):
        return x * 0.5
    hooks = [("blocks.0.hook_mlp_out", scale)]
    eager, c1 = mlm.run_with_cache(ids, attention_mask=mask, fwd_hooks=hooks)
    for mode in (True, "xla"):
        comp, c2 = mlm.run_with_cache(ids, attention_mask=mask, fwd_hooks=hooks, compile=mode)
        assert max_diff(eager.logits, comp.logits) < 1e-5
        for name in c1:
            assert max_diff(c1[name], c2[name]) < 1e-5, name
    # a hook set is traced once and reused
    runs = mlm.compiled_functions.entries("hooked_runs")
    before = {k: v.experimental_get_tracing_count() for k, v in runs.items()}
    mlm.run_with_cache(ids, attention_mask=mask, fwd_hooks=hooks, compile=True)
    after = {k: v.experimental_get_tracing_count() for k, v in runs.items()}
    assert before == after


def test_gradients_wrt_hooked_activation(mlm):
    ids = random_ids(1, 5)
    with tf.GradientTape() as tape:
        out, cache = mlm.run_with_cache(ids, return_tensors=True,
                                        names_filter="blocks.1.hook_resid_pre")
        target = out.logits[0, 2, 7]
    grad = tape.gradient(target, cache["blocks.1.hook_resid_pre"])
    assert grad.shape == (1, 5, 32) and float(tf.reduce_sum(tf.abs(grad))) > 0
    # finite difference along the gradient direction agrees
    eps = 1e-2
    direction = grad / tf.norm(grad)
    moved = mlm.run_with_hooks(ids, fwd_hooks=[("blocks.1.hook_resid_pre",
                                                lambda x, hook: x + eps * direction)])
    fd = (float(moved.logits[0, 2, 7]) - float(target)) / eps
    assert abs(fd - float(tf.norm(grad))) < 0.05 * float(tf.norm(grad)) + 1e-3


def test_unknown_hook_names_suggest_nearest(mlm):
    with pytest.raises(ValueError, match="blocks.0.attn.hook_pattern"):
        mlm.run_with_hooks(random_ids(1, 3), fwd_hooks=[("blocks.0.attn.hook_patern", print)])
    with pytest.raises(ValueError, match="names_filter"):
        mlm.run_with_cache(random_ids(1, 3), names_filter="nope")
