"""The seed's API: input formats, outputs, flags, modes, dropout, head masks, fit."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import max_diff, random_ids, random_mask, tiny_config
from roberta_lab import (AutoTokenizer, RobertaConfig, TFRobertaForCausalLM, TFRobertaForMaskedLM,
                         TFRobertaModel)


@pytest.fixture(scope="module")
def mlm():
    import keras

    keras.utils.set_random_seed(0)
    return TFRobertaForMaskedLM(tiny_config())


def test_three_input_formats_agree(mlm):
    ids, mask = random_ids(), random_mask()
    types = np.zeros_like(ids)
    by_kw = mlm(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    by_list = mlm([ids, mask, types]).logits
    by_dict = mlm({"input_ids": ids, "attention_mask": mask, "token_type_ids": types}).logits
    by_first = mlm(ids, attention_mask=mask).logits
    for other in (by_list, by_dict, by_first):
        assert max_diff(by_kw, other) == 0.0
    # dict entries win over keyword arguments of the same name (HF's rule)
    masked = mlm({"input_ids": ids, "attention_mask": mask}, attention_mask=np.ones_like(mask))
    assert max_diff(masked.logits, by_kw) == 0.0
    # int64 and numpy both accepted
    assert max_diff(mlm(tf.constant(ids, tf.int64), attention_mask=mask).logits, by_kw) == 0.0


def test_output_access_and_tuples(mlm):
    ids = random_ids(2, 5)
    out = mlm(ids, output_hidden_states=True, output_attentions=True)
    assert out.logits is out["logits"] is out[0]
    assert len(out.hidden_states) == 3 and len(out.attentions) == 2
    assert out.attentions[0].shape == (2, 4, 5, 5)
    tup = mlm(ids, output_hidden_states=True, return_dict=False)
    assert isinstance(tup, tuple) and len(tup) == 2 and tup[0].shape == (2, 5, 99)
    assert out.loss is None and "loss" not in out
    base = TFRobertaModel(tiny_config())
    t = base(ids, return_dict=False)
    assert len(t) == 2 and t[1].shape == (2, 32)


def test_config_flags_apply(mlm):
    cfg = tiny_config(output_attentions=True, output_hidden_states=True)
    m = TFRobertaForMaskedLM(cfg)
    out = m(random_ids(1, 4))
    assert len(out.attentions) == 2 and len(out.hidden_states) == 3
    assert m(random_ids(1, 4), output_attentions=False).attentions is None


def test_eager_function_and_xla_agree(mlm):
    ids, mask = random_ids(), random_mask()
    eager = mlm(ids, attention_mask=mask, output_attentions=True)
    fn = tf.function(lambda i, m: mlm(i, attention_mask=m, output_attentions=True))
    xla = tf.function(lambda i, m: mlm(i, attention_mask=m, output_attentions=True),
                      jit_compile=True)
    for other in (fn(ids, mask), xla(ids, mask)):
        assert max_diff(eager.logits, other.logits) < 1e-5
        for a, b in zip(eager.attentions, other.attentions):
            assert max_diff(a, b) < 1e-5


def test_dropout_only_when_training(mlm):
    ids = random_ids(2, 6)
    a, b = mlm(ids).logits, mlm(ids).logits
    assert max_diff(a, b) == 0.0
    c = mlm(ids, training=True).logits
    assert max_diff(a, c) > 1e-3


def _numpy_forward(model, ids, head_mask):
    """A plain numpy encoder forward with a (layers, heads) mask: the direct computation."""
    from roberta_lab.checkpoint import state_dict

    cfg, sd = model.config, state_dict(model)
    H, nh = cfg.hidden_size, cfg.num_attention_heads
    dh = H // nh

    def ln(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + cfg.layer_norm_eps) * sd[p + ".weight"] + sd[p + ".bias"]

    def lin(x, p):
        return x @ sd[p + ".weight"].T + sd[p + ".bias"]

    from math import erf
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2))))
    real = (ids != 1).astype(np.int64)
    pos = np.cumsum(real, 1) * real + 1
    e = "roberta.embeddings."
    x = sd[e + "word_embeddings.weight"][ids] + sd[e + "position_embeddings.weight"][pos] + \
        sd[e + "token_type_embeddings.weight"][np.zeros_like(ids)]
    x = ln(x, e + "LayerNorm")
    for layer in range(cfg.num_hidden_layers):
        p = f"roberta.encoder.layer.{layer}."
        q, k, v = (lin(x, p + f"attention.self.{n}").reshape(*x.shape[:2], nh, dh)
                   for n in ("query", "key", "value"))
        s = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(dh)
        prob = np.exp(s - s.max(-1, keepdims=True))
        prob = prob / prob.sum(-1, keepdims=True) * head_mask[:, layer][:, :, None, None]
        z = np.einsum("bhqk,bkhd->bqhd", prob, v).reshape(x.shape)
        x = ln(lin(z, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = gelu(lin(x, p + "intermediate.dense"))
        x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
    return x


def test_head_mask_three_shapes_match_direct_computation(mlm):
    ids = random_ids(3, 6)
    L, H = 2, 4
    per_row = np.ones((3, L, H), np.float32)
    per_row[0, 0, 1] = 0
    per_row[1, 1, :3] = 0
    per_row[2] = 0.5
    shapes = {"rank1": np.array([1, 0, 1, 1], np.float32),
              "rank2": np.array([[0, 1, 1, 1], [1, 1, 0, 0]], np.float32), "rank3": per_row}
    plain = mlm(ids).logits
    for name, hm in shapes.items():
        full = np.broadcast_to(hm if hm.ndim == 3 else (hm if hm.ndim == 2 else
                                                         np.tile(hm, (L, 1))), (3, L, H))
        out = mlm(ids, head_mask=hm, output_hidden_states=True, output_attentions=True)
        expect = _numpy_forward(mlm, ids, full)
        assert max_diff(out.hidden_states[-1], expect) < 1e-4, name
        assert max_diff(out.logits, plain) > 1e-3, name  # the mask changes the logits
        for layer in range(L):
            att = out.attentions[layer].numpy()  # [batch, head, q, k]
            zero = full[:, layer] == 0
            assert np.all(att[zero] == 0), name
            assert np.all(att[~zero].sum(-1) > 0.2), name
    # rank 3 row i == rank 2 with row i's mask, for each row
    batched = mlm(ids, head_mask=per_row).logits
    for i in range(3):
        single = mlm(ids[i:i + 1], head_mask=per_row[i]).logits
        assert max_diff(batched[i:i + 1], single) < 1e-5


def test_losses_match_hf_definition(mlm):
    ids = random_ids(2, 5)
    labels = np.full_like(ids, -100)
    labels[0, 2], labels[1, 3] = 7, 9
    out = mlm(ids, labels=labels)
    logp = tf.nn.log_softmax(out.logits).numpy()
    manual = -(logp[0, 2, 7] + logp[1, 3, 9]) / 2
    assert out.loss.shape == () and abs(float(out.loss) - manual) < 1e-5
    assert float(mlm(ids, labels=np.full_like(ids, -100)).loss) == 0.0  # HF: NaN (issue 15)
    legacy = TFRobertaForMaskedLM(tiny_config(tf_legacy_loss=True))
    assert legacy(ids, labels=labels).loss.shape == (2,)
    causal = TFRobertaForCausalLM(tiny_config(is_decoder=True))
    out = causal(ids, labels=ids)
    logp = tf.nn.log_softmax(out.logits).numpy()
    manual = -np.mean([logp[b, t, ids[b, t + 1]] for b in range(2) for t in range(4)])
    assert abs(float(out.loss) - manual) < 1e-5


def test_fit_lowers_masked_lm_loss():
    import keras

    keras.utils.set_random_seed(0)
    model = TFRobertaForMaskedLM(tiny_config(hidden_dropout_prob=0.0,
                                             attention_probs_dropout_prob=0.0))
    ids = random_ids(16, 8, seed=3)
    labels = np.where(np.random.default_rng(0).random(ids.shape) < 0.3, ids, -100)
    labels[:, 1] = ids[:, 1]
    masked = np.where(labels != -100, 4, ids)
    x = {"input_ids": masked, "attention_mask": np.ones_like(ids), "labels": labels}
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = float(model(x).loss)
    history = model.fit(x, epochs=15, batch_size=8, verbose=0)
    after = float(model(x).loss)
    assert after < before * 0.7, (before, after, history.history["loss"])
    # labels as y (HF moves them into the inputs)
    model.fit({"input_ids": masked}, labels, epochs=1, batch_size=8, verbose=0)


def test_inputs_embeds_match_ids_without_pads(mlm):
    ids = random_ids(2, 6)
    embeds = tf.gather(mlm.get_input_embeddings().word_embeddings, ids)
    assert max_diff(mlm(inputs_embeds=embeds).logits, mlm(ids).logits) < 1e-6
    assert max_diff(mlm(None, inputs_embeds=embeds).logits, mlm(ids).logits) < 1e-6


def test_seed_examples_run_with_roberta_lab_imports(tok_dir, tmp_path):
    """The seed's three examples, verbatim but for the import and a local checkpoint."""
    tok = AutoTokenizer.from_pretrained(tok_dir)
    folder = tmp_path / "ckpt"
    for cls, extra in ((TFRobertaModel, {}), (TFRobertaForCausalLM, {"is_decoder": True}),
                       (TFRobertaForMaskedLM, {})):
        cfg = RobertaConfig.roberta_base(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=4, intermediate_size=37, **extra)
        cls(cfg).save_pretrained(folder / cls.__name__)
        tok.save_pretrained(folder / cls.__name__)
    ns: dict = {}
    exec(f"""
from roberta_lab import AutoTokenizer, TFRobertaModel
import tensorflow as tf
tokenizer = AutoTokenizer.from_pretrained({str(folder / 'TFRobertaModel')!r})
model = TFRobertaModel.from_pretrained({str(folder / 'TFRobertaModel')!r})
inputs = tokenizer("Hello, my dog is cute", return_tensors="tf")
outputs = model(inputs)
last_hidden_states = outputs.last_hidden_state

from roberta_lab import AutoTokenizer, TFRobertaForCausalLM
model = TFRobertaForCausalLM.from_pretrained({str(folder / 'TFRobertaForCausalLM')!r})
outputs = model(inputs)
logits = outputs.logits

from roberta_lab import AutoTokenizer, TFRobertaForMaskedLM
model = TFRobertaForMaskedLM.from_pretrained({str(folder / 'TFRobertaForMaskedLM')!r})
inputs = tokenizer("The capital of France is <mask>.", return_tensors="tf")
logits = model(**inputs).logits
mask_token_index = tf.where((inputs.input_ids == tokenizer.mask_token_id)[0])
selected_logits = tf.gather_nd(logits[0], indices=mask_token_index)
predicted_token_id = tf.math.argmax(selected_logits, axis=-1)
word = tokenizer.decode(predicted_token_id)
labels = tokenizer("The capital of France is Paris.", return_tensors="tf")["input_ids"]
labels = tf.where(inputs.input_ids == tokenizer.mask_token_id, labels, -100)
outputs = model(**inputs, labels=labels)
loss = round(float(outputs.loss), 2)
""", ns)
    assert ns["last_hidden_states"].shape[-1] == 32
    assert ns["logits"].shape[-1] == len(tok)
    assert isinstance(ns["word"], str) and np.isfinite(ns["loss"])


def test_bfloat16_mode_agrees_with_float32():
    import keras

    keras.utils.set_random_seed(5)
    model = TFRobertaForMaskedLM(tiny_config(initializer_range=0.2))
    ids = random_ids(4, 9, seed=12)
    f32 = model(ids, output_attentions=True).logits.numpy()
    model.set_compute_dtype("bfloat16")
    linears = [lyr for lyr in model._flatten_layers() if hasattr(lyr, "matmul_dtype")]
    assert len(linears) == 2 * 6 + 1 + 1 and all(lyr.matmul_dtype == tf.bfloat16 for lyr in linears)
    out = model(ids, output_attentions=True, output_hidden_states=True)
    # Matmuls in bfloat16, the residual stream, norms and softmax in float32.
    assert out.logits.dtype == tf.float32 and out.hidden_states[-1].dtype == tf.float32
    assert out.attentions[0].dtype == tf.float32
    b16 = out.logits.numpy()
    assert np.isfinite(b16).all() and max_diff(b16, f32) > 0  # really ran in bfloat16
    assert np.abs(b16 - f32).max() < 0.05 * np.abs(f32).max()
    assert (b16.argmax(-1) == f32.argmax(-1)).mean() > 0.9
    # The output layer recomputes each position's best REFINE_K words in float32: on the same
    # hidden state its ranking at the top is float32's.
    head = model.lm_head
    h = tf.constant(np.random.default_rng(3).normal(size=(2, 7, 32)).astype(np.float32))
    head.matmul_dtype = None
    exact = head.unembed(h).numpy()
    head.matmul_dtype = tf.bfloat16
    refined = head.unembed(h).numpy()
    assert max_diff(refined, exact) > 0  # the rest stays bfloat16
    np.testing.assert_array_equal(refined.argmax(-1), exact.argmax(-1))
    top = np.argsort(-exact, -1)[..., :3]
    np.testing.assert_allclose(np.take_along_axis(refined, top, -1),
                               np.take_along_axis(exact, top, -1), atol=1e-5)
    model.set_compute_dtype(None)
    assert max_diff(model(ids).logits, f32) == 0.0
    with pytest.raises(ValueError, match="dtype"):
        model.set_compute_dtype("int8")
