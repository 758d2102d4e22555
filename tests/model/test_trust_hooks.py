"""Trust under misuse, hooks: hook state belongs to a call (threads never see each other's
hooks or caches), hook results are checked at every trace, compiled functions are keyed on the
hooks they baked in."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM

IDS = random_ids(3, 6)
Z0 = "blocks.0.attn.hook_z"


@pytest.fixture(scope="module")
def mlm():
    tf.random.set_seed(21)
    return TFRobertaForMaskedLM(tiny_config(max_position_embeddings=32))


def zero_z(z, hook):
    return tf.zeros_like(z)


def _together(*jobs, rounds=4):
    """Run each job ``rounds`` times, all jobs at once in threads; returns their results."""
    barrier = threading.Barrier(len(jobs))
    results = [[] for _ in jobs]
    errors = []

    def worker(i, job):
        try:
            barrier.wait()
            for _ in range(rounds):
                results[i].append(job())
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    return results


# --- kind: concurrent calls equal serial calls -----------------------------------------------
@pytest.mark.parametrize("compile", [False, True])
def test_hooks_in_one_thread_do_not_change_another(mlm, compile):
    plain = lambda: mlm(IDS).logits.numpy()  # noqa: E731
    hooked = lambda: mlm.run_with_hooks(IDS, fwd_hooks=[(Z0, zero_z)],  # noqa: E731
                                        compile=compile).logits.numpy()
    want_plain, want_hooked = plain(), hooked()
    assert np.abs(want_plain - want_hooked).max() > 1e-3  # the hook matters
    got_plain, got_hooked = _together(plain, hooked)
    for a in got_plain:
        np.testing.assert_array_equal(a, want_plain)
    for b in got_hooked:
        np.testing.assert_array_equal(b, want_hooked)


def test_concurrent_run_with_cache_do_not_mix(mlm):
    ids_b = random_ids(3, 6, seed=7)
    f0 = lambda n: n.startswith("blocks.0.")  # noqa: E731
    f1 = lambda n: n.startswith("blocks.1.")  # noqa: E731
    a = lambda: mlm.run_with_cache(IDS, names_filter=f0)[1]  # noqa: E731
    b = lambda: mlm.run_with_cache(ids_b, names_filter=f1)[1]  # noqa: E731
    want_a, want_b = a(), b()
    got_a, got_b = _together(a, b)
    for got, want in [(g, want_a) for g in got_a] + [(g, want_b) for g in got_b]:
        assert list(got) == list(want)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])


def test_sweep_concurrent_with_hooked_calls(mlm):
    from roberta_lab.ablation import Metric, sweep_heads

    metric = Metric("loss", [[1], [2], [3]], [[5], [6], [7]])
    run = lambda: sweep_heads(mlm, IDS, None, metric, progress=False).per_text  # noqa: E731
    hooked = lambda: mlm.run_with_hooks(IDS, fwd_hooks=[(Z0, zero_z)]).logits.numpy()  # noqa
    want, want_h = run(), hooked()
    got, got_h = _together(run, hooked, rounds=2)
    for g in got:
        np.testing.assert_allclose(g, want, atol=1e-6)
    for g in got_h:
        np.testing.assert_array_equal(g, want_h)


def test_generation_concurrent_with_hooks():
    from roberta_lab.generation import generate

    tf.random.set_seed(22)
    dec = TFRobertaForCausalLM(tiny_config(is_decoder=True, max_position_embeddings=32))
    gen = lambda: generate(dec, IDS[:2, :3], max_new_tokens=4, compiled="graph")  # noqa: E731
    hooked = lambda: dec.run_with_hooks(IDS, fwd_hooks=[(Z0, zero_z)]).logits.numpy()  # noqa
    want, want_h = gen(), hooked()
    got, got_h = _together(gen, hooked, rounds=3)
    for g in got:
        np.testing.assert_array_equal(g, want)
    for g in got_h:
        np.testing.assert_array_equal(g, want_h)


def test_engine_traces_do_not_keep_hooks_attached_while_tracing(mlm):
    from roberta_lab.fill_mask import mask_logits

    ids = IDS.copy()
    ids[:, 2] = 4
    clean = mask_logits(mlm, ids, mask_token_id=4).numpy()
    with mlm.hooks([(Z0, zero_z)]):
        hooked = mask_logits(mlm, ids, mask_token_id=4).numpy()
    assert np.abs(clean - hooked).max() > 1e-3
    np.testing.assert_array_equal(mask_logits(mlm, ids, mask_token_id=4).numpy(), clean)


def test_compiled_runs_not_reused_for_a_new_function_with_a_dead_ones_id(mlm):
    outs = []
    for scale in (0.0, 2.0, 0.0, 2.0):
        def hook(z, h, scale=scale):
            return z * scale
        outs.append(mlm.run_with_hooks(IDS, fwd_hooks=[(Z0, hook)], compile=True).logits.numpy())
        del hook
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-6)
    assert np.abs(outs[0] - outs[1]).max() > 1e-3


# --- kind: concurrent compiled calls (tf.function and XLA) equal serial calls ----------------
Z1 = "blocks.1.hook_resid_pre"


def _double(x, hook):
    return x * 2.0


def _assert_all_equal(got_lists, wants):
    for name, got, want in zip(sorted(wants), got_lists, [wants[k] for k in sorted(wants)]):
        for g in got:
            if isinstance(want, dict):  # an activation cache
                assert list(g) == list(want), name
                for key in want:
                    np.testing.assert_array_equal(g[key], want[key], err_msg=f"{name}: {key}")
            else:
                np.testing.assert_array_equal(g, want, err_msg=name)


def _twin(model):
    """A second model with the same weights and no compiled function yet: the threads trace
    everything concurrently."""
    twin = type(model)(model.config)
    twin.set_weights(model.get_weights())
    return twin


def _compiled_jobs(model, compile):
    from roberta_lab.ablation import Metric, sweep_heads

    ids_b = random_ids(3, 6, seed=7)
    metric = Metric("loss", [[1], [2], [3]], [[5], [6], [7]])
    user_xla = tf.function(lambda x: model(x).logits, jit_compile=True)

    def eager_own_hooks():
        with model.hooks([(Z1, _double)]):
            return model(ids_b).logits.numpy()

    return {
        "plain": lambda: model(IDS).logits.numpy(),
        "plain_user_xla": lambda: user_xla(tf.constant(IDS)).numpy(),
        "hooked": lambda: model.run_with_hooks(IDS, fwd_hooks=[(Z0, zero_z)],
                                               compile=compile).logits.numpy(),
        "cache": lambda: model.run_with_cache(IDS, names_filter=lambda n: n.startswith(
            "blocks.0."), compile=compile)[1],
        "cache_hooked": lambda: model.run_with_cache(ids_b, names_filter=Z1, compile=compile,
                                                     fwd_hooks=[(Z0, zero_z)])[1],
        "sweep": lambda: sweep_heads(model, IDS, None, metric, progress=False,
                                     compile=compile).per_text,
        "eager_own_hooks": eager_own_hooks,
    }


@pytest.mark.parametrize("compile", [True, "xla"])
def test_concurrent_compiled_calls_equal_serial_calls(compile):
    """Plain forwards (the model's compiled forward and a user's XLA function), hooked runs,
    caches with and without hooks, a sweep and an eager call under a thread's own hooks, all at
    once in threads on a model that has traced nothing yet: every result is bit-identical to
    the same call made alone."""
    tf.random.set_seed(23)
    model = TFRobertaForMaskedLM(tiny_config(max_position_embeddings=32))
    jobs = _compiled_jobs(model, compile)
    wants = {name: job() for name, job in jobs.items()}
    assert np.abs(wants["plain"] - wants["hooked"]).max() > 1e-3  # the hooks matter
    assert np.abs(wants["cache"]["blocks.0.hook_resid_pre"] -
                  wants["cache_hooked"][Z1]).max() > 1e-3
    jobs = _compiled_jobs(_twin(model), compile)
    got = _together(*[jobs[name] for name in sorted(jobs)], rounds=2)
    _assert_all_equal(got, wants)


@pytest.mark.parametrize("compile", [True, "xla"])
def test_concurrent_generation_equals_serial(compile):
    """Compiled generation in two threads (greedy and seeded sampling) while a third runs
    compiled hooked calls on the same decoder: each equals its serial result."""
    from roberta_lab.generation import generate

    tf.random.set_seed(24)
    dec = TFRobertaForCausalLM(tiny_config(is_decoder=True, max_position_embeddings=32))

    def jobs_of(m):
        return {
            "greedy": lambda: generate(m, IDS[:2, :3], max_new_tokens=4, compile=compile),
            "sampled": lambda: generate(m, IDS[1:, :4], max_new_tokens=3, do_sample=True,
                                        top_k=5, seed=3, compile=compile),
            "hooked": lambda: m.run_with_hooks(IDS, fwd_hooks=[(Z0, zero_z)],
                                               compile=compile).logits.numpy(),
        }

    wants = {name: job() for name, job in jobs_of(dec).items()}
    jobs = jobs_of(_twin(dec))
    got = _together(*[jobs[name] for name in sorted(jobs)], rounds=2)
    _assert_all_equal(got, wants)


# --- kind: hook results are checked at every trace, naming the hook ----------------------------
def _wrong_shape(z, hook):
    return z[:, :1]


@pytest.mark.parametrize("compile", [False, True, "xla"])
def test_wrong_hook_shape_caught_after_retrace(mlm, compile):
    for ids in (IDS, random_ids(2, 4), random_ids(4, 9)):  # new shapes: relaxed retraces
        try:
            out = mlm.run_with_hooks(ids, fwd_hooks=[(Z0, _wrong_shape)], compile=compile)
        except (ValueError, tf.errors.InvalidArgumentError) as err:
            assert Z0 in str(err)
        else:
            assert np.isnan(out.logits.numpy()).all(), "a wrong shape must never broadcast"


def test_wrong_hook_shape_in_own_tf_function_with_unknown_shapes(mlm):
    spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(input_signature=[spec])
    def fn(ids):
        with mlm.hooks([(Z0, _wrong_shape)]):
            return mlm(ids).logits

    with pytest.raises(tf.errors.InvalidArgumentError, match="blocks.0.attn.hook_z"):
        fn(tf.constant(IDS)).numpy()


@pytest.mark.parametrize("compile", [False, True])
def test_wrong_hook_dtype_names_the_hook(mlm, compile):
    bad = lambda z, hook: tf.cast(z, tf.float64)  # noqa: E731
    with pytest.raises(TypeError, match="blocks.0.attn.hook_z"):
        mlm.run_with_hooks(IDS, fwd_hooks=[(Z0, bad)], compile=compile)


def test_hook_returning_non_tensor_names_the_hook(mlm):
    with pytest.raises(TypeError, match="blocks.0.attn.hook_z"):
        mlm.run_with_hooks(IDS, fwd_hooks=[(Z0, lambda z, h: "oops")])


def test_fwd_hooks_as_dict_and_bad_entries(mlm):
    a = mlm.run_with_hooks(IDS, fwd_hooks={Z0: zero_z}).logits.numpy()
    b = mlm.run_with_hooks(IDS, fwd_hooks=[(Z0, zero_z)]).logits.numpy()
    np.testing.assert_array_equal(a, b)
    for bad in ((Z0, zero_z), [(Z0,)], [(Z0, "fn")], [(3, zero_z)], Z0):
        with pytest.raises(TypeError, match="fwd_hooks"):
            mlm.run_with_hooks(IDS, fwd_hooks=bad)
