"""The registry of compiled functions (model/compiled.py) and hook changes: an entry runs only
under the hooks it was traced with. A function traced before a hook was added never runs while
the hook is attached, one traced with a hook never runs (nor stays stored) once the hook is
removed, for every engine that compiles, with persistent hooks (``HookPoint.add``/``clear``)
and ``with model.hooks()`` blocks."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM
from roberta_lab.model.compiled import CompiledFunctions


# --- the registry alone ----------------------------------------------------------------------
def test_state_is_part_of_every_key_and_release_drops_only_its_entries():
    state = ()
    reg = CompiledFunctions(state=lambda: state)
    plain = reg.get("a", "k", lambda: "plain")
    state = ("h1",)
    assert reg.get("a", "k", lambda: "with h1") == "with h1"
    assert reg.get("b", "k", lambda: "b with h1") == "b with h1"
    state = ("h2",)
    assert reg.get("a", "k", lambda: "with h2") == "with h2"
    assert len(reg) == 4
    assert reg.release(lambda s: "h1" in s) == 2  # both owners' h1 entries, nothing else
    assert reg.release(lambda s: "h1" in s) == 0
    assert reg.get("a", "k", lambda: "rebuilt") == "with h2"
    state = ()
    assert reg.get("a", "k", lambda: None) is plain and len(reg) == 2


def test_an_entry_dropped_by_the_limit_is_unlisted():
    state = ("h",)
    reg = CompiledFunctions(state=lambda: state)
    reg.get("runs", 1, lambda: "one", limit=1)
    reg.get("runs", 2, lambda: "two", limit=1)  # drops "one"
    assert list(reg.entries("runs").values()) == ["two"]
    assert reg.release(lambda s: True) == 1 and len(reg) == 0
    reg.get("runs", 1, lambda: "one", limit=1)
    reg.clear()
    assert reg.release(lambda s: True) == 0


# --- every engine that compiles, under hook changes ------------------------------------------
MASK = 4
SCALE = np.linspace(0.5, 1.5, 32).astype(np.float32)


def scale_resid(x, hook):
    return x * SCALE


@pytest.fixture(scope="module")
def mlm():
    import keras

    keras.utils.set_random_seed(0)
    return TFRobertaForMaskedLM(tiny_config(num_hidden_layers=2, hidden_dropout_prob=0.0,
                                            attention_probs_dropout_prob=0.0))


def _engines():
    from roberta_lab.engine.ablation import masked_lm_metric, sweep_heads
    from roberta_lab.engine.fill_mask import mask_logits
    from roberta_lab.engine.importance import head_mask_gradients

    ids = random_ids(3, 7, seed=3)
    ids[:, 3] = MASK
    labels = np.full_like(ids, -100)
    labels[:, 3] = 9
    metric = masked_lm_metric(labels)
    return {
        "forward": lambda m: m(ids).logits.numpy(),
        "fill_mask": lambda m: mask_logits(m, ids, mask_token_id=MASK).numpy(),
        "sweep": lambda m: sweep_heads(m, ids, None, metric, progress=False).per_text,
        "hooked_runs": lambda m: m.run_with_cache(
            ids, names_filter="blocks.1.hook_resid_post", compile=True)[1][
            "blocks.1.hook_resid_post"],
        "importance": lambda m: head_mask_gradients(m, ids, None, metric),
    }


ENGINES = ["forward", "fill_mask", "sweep", "hooked_runs", "importance"]
HOOK = "blocks.0.hook_resid_pre"


def _differs(a, b):
    return np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max() > 1e-4


def _with_persistent_hook(model, run):
    """Run twice with a fresh hook attached by ``HookPoint.add``, then ``clear`` it. Returns
    the two results and a weak reference to the hook (this frame, which TensorFlow's tracing
    may have snapshotted the locals of, is gone when the caller checks it)."""
    point = model.hook_dict[HOOK]

    def hook(x, h):  # a fresh function: its identity is what the registry sees
        return scale_resid(x, h)

    point.add(hook)
    first, second = run(model), run(model)
    point.clear()
    return first, second, weakref.ref(hook)


@pytest.mark.parametrize("engine", ENGINES)
def test_persistent_hook_added_and_cleared(mlm, engine):
    run = _engines()[engine]
    mlm.reset_hooks()
    clean = run(mlm)  # traced (compiled engines) with no hook
    owner_entries = len(mlm.compiled_functions.entries(engine))
    hooked, again, hook = _with_persistent_hook(mlm, run)
    assert _differs(hooked, clean), "a function traced without the hook ran with it attached"
    np.testing.assert_allclose(again, hooked, atol=1e-6)
    np.testing.assert_allclose(run(mlm), clean, atol=1e-6)  # the hooked trace did not run
    # and it is no longer stored: the owner holds what it held before, the hook can be freed
    assert len(mlm.compiled_functions.entries(engine)) == owner_entries
    gc.collect()
    assert hook() is None, "the registry keeps a removed hook alive"


@pytest.mark.parametrize("engine", ENGINES)
def test_hooks_block_enter_and_exit(mlm, engine):
    run = _engines()[engine]
    mlm.reset_hooks()
    clean = run(mlm)
    before = len(mlm.compiled_functions)
    with mlm.hooks([(HOOK, scale_resid)]):
        hooked = run(mlm)
        assert _differs(hooked, clean)
    assert len(mlm.compiled_functions) == before  # what was traced with the block is gone
    np.testing.assert_allclose(run(mlm), clean, atol=1e-6)
    with mlm.hooks([(HOOK, scale_resid)]):  # the same hook again: the same numbers
        np.testing.assert_allclose(run(mlm), hooked, atol=1e-6)


def test_engine_hooks_inside_traces_keep_the_outer_blocks_entries(mlm):
    """Engines enter ``model.hooks()`` inside their own traces (the sweep's clean pass and
    tail); leaving those blocks drops nothing that the caller's hooks traced."""
    run = _engines()["sweep"]
    mlm.reset_hooks()
    with mlm.hooks([(HOOK, scale_resid)]):
        first = run(mlm)
        fns = mlm.compiled_functions.entries("sweep")
        assert fns and all(isinstance(k, tuple) and len(k) == 2 and k[1] for k in fns)
        counts = {k: f.experimental_get_tracing_count() for k, f in fns.items()}
        np.testing.assert_allclose(run(mlm), first, atol=1e-6)
        assert {k: f.experimental_get_tracing_count()
                for k, f in mlm.compiled_functions.entries("sweep").items()} == counts


def test_generation_loop_follows_hook_changes():
    from roberta_lab.engine.generation import generate

    dec = TFRobertaForCausalLM(tiny_config(is_decoder=True, max_position_embeddings=32))
    prompt = random_ids(2, 3, seed=5)

    def force_7(logits, hook):
        return logits + tf.one_hot(7, logits.shape[-1], 1e4, dtype=logits.dtype)

    clean = generate(dec, prompt, max_new_tokens=3, compile=True)
    assert (clean[:, 3:] != 7).any()
    point = dec.hook_dict["lm_head.hook_logits"]
    point.add(force_7)
    np.testing.assert_array_equal(generate(dec, prompt, max_new_tokens=3, compile=True)[:, 3:], 7)
    point.clear()
    np.testing.assert_array_equal(generate(dec, prompt, max_new_tokens=3, compile=True), clean)
    assert len(dec.compiled_functions.entries("generation")) == 1
    with dec.hooks([("lm_head.hook_logits", force_7)]):
        np.testing.assert_array_equal(
            generate(dec, prompt, max_new_tokens=3, compile=True)[:, 3:], 7)
    np.testing.assert_array_equal(generate(dec, prompt, max_new_tokens=3, compile=True), clean)
    assert len(dec.compiled_functions.entries("generation")) == 1
