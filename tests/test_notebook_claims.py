"""What the notebooks' text says about their outputs, asserted on the bundled models (the
notebooks run the same code; nbval compares the stored outputs, these tests check the words).
Timing claims are checked by their method (tests/engine/test_generation.py), not by numbers."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from roberta_lab import AutoTokenizer, TFRobertaForCausalLM, TFRobertaForMaskedLM

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def mlm():
    return (TFRobertaForMaskedLM.from_pretrained("roberta-lab/mini-mlm"),
            AutoTokenizer.from_pretrained("roberta-lab/mini-mlm"))


def test_02_parking_on_bos_is_the_exception_in_this_model(mlm):
    """02: "only layer 0 leans on <s> (about a third ...), concentrated in a few heads; layers 1
    to 3 put 0.03 to 0.11 of their attention there"."""
    model, tok = mlm
    enc = tok("The cat sat on the mat because it was tired.", return_tensors="np")
    out = model(enc["input_ids"], output_attentions=True)
    attn = np.stack([np.asarray(a)[0] for a in out.attentions])
    on_bos = attn[..., 0].mean(axis=2)  # [layer, head]
    per_layer = on_bos.mean(axis=1)
    assert 0.3 <= per_layer[0] <= 0.4
    assert np.all((per_layer[1:] >= 0.025) & (per_layer[1:] < 0.115)), per_layer
    parked = np.argwhere(on_bos > 0.5)
    assert 1 <= len(parked) <= 3 and set(parked[:, 0]) == {0}
    tokens = tok.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    assert tokens[2] == "Ġcat" and tokens[1] == "The"  # the Ġ explanation's example


def test_03_what_the_bundled_model_knows(mlm):
    from roberta_lab.fill_mask import fill_mask

    model, tok = mlm
    everyday = fill_mask(model, tok, "She drank a cup of <mask> every morning.", top_k=3)[0]
    assert [c["token_str"] for c in everyday] == [" her", " the", " at"]
    assert all(c["score"] < 0.05 for c in everyday)
    salmon = fill_mask(model, tok, "A salmon is a kind of <mask>.", top_k=1)[0][0]
    assert salmon["token_str"] == " fish" and salmon["score"] > 0.9


def test_05_michel_and_the_sweep_differ_as_the_text_says(mlm):
    from roberta_lab.ablation import masked_lm_metric, sweep_heads
    from roberta_lab.importance import michel_importance

    model, tok = mlm
    facts = [("The capital of France is <mask>.", " Paris"),
             ("The capital of Italy is <mask>.", " Rome"),
             ("The capital of Germany is <mask>.", " Berlin"),
             ("The capital of Spain is <mask>.", " Madrid")]
    enc = tok([t for t, _ in facts], padding=True, return_tensors="np")
    answers = np.array([tok(a, add_special_tokens=False)["input_ids"][0] for _, a in facts])
    labels = np.where(enc["input_ids"] == tok.mask_token_id, answers[:, None], -100)
    metric = masked_lm_metric(labels)
    sweep = sweep_heads(model, enc["input_ids"], enc["attention_mask"], metric, progress=False)
    imp = michel_importance(model, enc["input_ids"], enc["attention_mask"], metric)
    raw = michel_importance(model, enc["input_ids"], enc["attention_mask"], metric,
                            normalize=False)
    H = imp.shape[1]
    sweep_top = {sweep.labels[i] for i in np.argsort(-sweep.delta)[:3]}
    michel_top = {f"L{i // H}H{i % H}" for i in np.argsort(-imp.ravel())[:3]}
    assert sweep_top & michel_top == {"L1H7"}
    rank = lambda x: np.argsort(np.argsort(x.ravel()))  # noqa: E731
    corr = lambda a: np.corrcoef(rank(a), rank(sweep.delta))[0, 1]  # noqa: E731
    assert round(float(corr(imp)), 2) == 0.16 and round(float(corr(raw)), 2) == 0.35
    assert round(sweep.baseline, 3) == 0.015 and round(float(sweep.delta.max()), 3) == 0.038


def test_06_a_causal_prompt_continues_and_stops_at_eos():
    from roberta_lab import generate, prompt_ids

    model = TFRobertaForCausalLM.from_pretrained("roberta-lab/mini-causal")
    tok = AutoTokenizer.from_pretrained("roberta-lab/mini-causal")
    ids = prompt_ids(tok, "The keys to the cabinet")
    assert ids[0, -1] != tok.eos_token_id
    out = generate(model, ids, max_new_tokens=16)
    new = out[0, ids.shape[1]:].tolist()
    end = new.index(tok.eos_token_id)  # it ends its sentence with </s> ...
    assert all(t == tok.pad_token_id for t in new[end + 1:])  # ... and stops there
    assert tok.decode(new[:end]) == " are on the table, they say."


def test_07_the_widget_opens_on_the_alignment():
    from roberta_lab.views.widgets import cross_attention

    w = cross_attention("roberta-lab/mini-seq2seq", source="c a t s")
    assert w.message_text == "" and (w.layer_select.value, w.head_select.value) == (1, "mean")
    shown = w.heatmap_data  # [target, source]: the view the widget opens on
    assert w.controller.output_text == "s t a c"
    np.testing.assert_array_equal(shown.argmax(axis=-1)[:4], [4, 3, 2, 1])  # the anti-diagonal
    assert shown[np.arange(4), [4, 3, 2, 1]].min() > 0.5


def test_09_fine_tuning_changes_the_prediction():
    """09: after model.fit on eight sentences, both wug sentences predict ' tree'; the salmon
    and Paris facts keep their answers."""
    from roberta_lab.fill_mask import fill_mask

    keras.utils.set_random_seed(0)
    model = TFRobertaForMaskedLM.from_pretrained("roberta-lab/mini-mlm")
    tok = AutoTokenizer.from_pretrained("roberta-lab/mini-mlm")
    texts = ["A wug is a kind of tree.", "A wug is a tree.", "Wugs are trees.",
             "The wug is a tall tree.", "A robin is a bird.", "A salmon is a kind of fish.",
             "The capital of France is Paris.", "After Monday comes Tuesday."]
    enc = tok(texts, padding=True, return_tensors="np")
    rng = np.random.default_rng(0)
    ids = enc["input_ids"].copy()
    real = (enc["attention_mask"] == 1) & ~np.isin(ids, tok.all_special_ids)
    hidden = real & (rng.random(ids.shape) < 0.15)
    hidden[np.arange(len(texts)), real.shape[1] - 2 - real[:, ::-1].argmax(axis=1)] = True
    labels = np.where(hidden, ids, -100)
    ids[hidden] = tok.mask_token_id
    probes = ["A wug is a kind of <mask>.", "Without doubt, a wug counts as a kind of <mask>.",
              "A salmon is a kind of <mask>.", "The capital of France is <mask>."]
    top1 = lambda t: fill_mask(model, tok, t, top_k=1)[0][0]["token_str"]  # noqa: E731
    before = [top1(t) for t in probes]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=5e-4))
    losses = model.fit({"input_ids": ids, "attention_mask": enc["attention_mask"],
                        "labels": labels}, epochs=6, batch_size=8, verbose=0).history["loss"]
    after = [top1(t) for t in probes]
    assert before[:2] != [" tree", " tree"] and after[:2] == [" tree", " tree"]
    assert before[2:] == after[2:] == [" fish", " Paris"]
    assert losses[-1] < losses[0] / 10
