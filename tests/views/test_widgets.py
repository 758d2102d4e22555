"""The notebook widgets, driven from Python: set values, click buttons, check controller state,
shown labels and plots; bad input shows a message; exports write valid PNG / SVG / HTML.

Tiny random models (vocab 8192 to match the bundled tokenizer) keep this fast.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("ipywidgets")

from conftest import tiny_config  # noqa: E402
from roberta_lab import (AutoTokenizer, TFRobertaForCausalLM, TFRobertaForMaskedLM,  # noqa: E402
                         TFRobertaModel)
from roberta_lab import widgets as rw  # noqa: E402

TOK_DIR = Path(__file__).resolve().parents[2] / "data" / "tokenizer"
PNG = b"\x89PNG\r\n\x1a\n"
V = 8192


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(str(TOK_DIR))


def _eager(model):
    # Each new text length would retrace the compiled forward pass; eager is faster here.
    model.compiled_forward = False
    return model


def _mlm(seed: int):
    keras.utils.set_random_seed(seed)
    return _eager(TFRobertaForMaskedLM(tiny_config(vocab_size=V, hidden_dropout_prob=0.0,
                                                   attention_probs_dropout_prob=0.0)))


@pytest.fixture(scope="module")
def mlm():
    return _mlm(0)


@pytest.fixture(scope="module")
def causal():
    keras.utils.set_random_seed(1)
    return _eager(TFRobertaForCausalLM(tiny_config(vocab_size=V, is_decoder=True)))


@pytest.fixture(scope="module")
def seq2seq():
    keras.utils.set_random_seed(2)
    enc = TFRobertaModel(tiny_config(vocab_size=V))
    dec = TFRobertaForCausalLM(tiny_config(vocab_size=V, is_decoder=True,
                                           add_cross_attention=True))
    return _eager(enc), _eager(dec)


def _check_exports(widget, tmp_path: Path, **kw) -> None:
    png, svg, page = (tmp_path / "v.png", tmp_path / "v.svg", tmp_path / "v.html")
    widget.export(str(png), **kw)
    widget.export(str(svg), **kw)
    widget.export(str(page), **kw)
    assert png.read_bytes()[:8] == PNG
    assert "<svg" in svg.read_text()
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "data:image/png;base64," in text
    assert "http" not in text and "src=\"/" not in text
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]  # atomic, cleaned up


# --- mask prediction ---------------------------------------------------------------------------
def test_mask_prediction_updates_as_you_type(mlm, tok, tmp_path):
    w = rw.mask_prediction(mlm, tok, text="The capital of France is <mask>.")
    assert w.message_text == ""
    first_labels, first_probs = w.labels, [p.probs for p in w.controller.result]
    assert len(first_labels) == 1 and len(first_labels[0]) == 5
    assert w.plot.value[:8] == PNG
    runs = w.controller.n_runs
    w.text.value = "<mask> is a big city and <mask> is small."
    assert w.controller.n_runs == runs + 1
    assert len(w.labels) == 2  # one bar chart per mask
    assert [p.probs for p in w.controller.result][:1] != first_probs
    assert html.escape(w.labels[1][0]) in w.summary.value
    w.controller.predict(w.text.value)  # same text: cached, no model call
    assert w.controller.n_runs == runs + 1
    _check_exports(w, tmp_path)


def test_mask_prediction_model_dropdown(mlm, tok):
    other = _mlm(7)
    w = rw.MaskPredictionWidget({"a": (mlm, tok), "b": (other, tok)}, text="A <mask> B.")
    assert list(w.model_select.options) == ["a", "b"]
    probs_a = w.controller.result[0].probs
    w.model_select.value = "b"
    assert w.controller.current == "b"
    assert not np.allclose(w.controller.result[0].probs, probs_a)


@pytest.mark.parametrize("text, needle", [("no mask here", "no <mask>"), ("", "empty"),
                                           ("   ", "empty"),
                                           ("word " * 600 + "<mask>", "at most 510 tokens")])
def test_mask_prediction_bad_text_shows_message(mlm, tok, text, needle):
    w = rw.mask_prediction(mlm, tok, text="ok <mask>")
    w.text.value = text
    assert needle in w.message_text
    w.text.value = "back to <mask>."
    assert w.message_text == "" and len(w.labels) == 1


def test_mask_prediction_unknown_model_name_shows_message():
    w = rw.mask_prediction("roberta-lab/no-such-model")
    assert "no-such-model" in w.message_text
    w2 = rw.mask_prediction(["roberta-lab/no-such-model"])
    assert "Could not load" in w2.message_text


# --- head ablation -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ablation(mlm, tok):
    return rw.head_ablation(mlm, tok, text="The capital of France is <mask>.", k=3)


def test_ablation_toggle_zeroes_exactly_that_head(ablation):
    w = ablation
    w.reset_button.click()
    before = w.result["masks"][0]["probs"]
    w.buttons[1][2].value = True
    expected = np.ones((2, 4), np.float32)
    expected[1, 2] = 0
    np.testing.assert_array_equal(w.head_mask, expected)
    assert not np.allclose(w.result["masks"][0]["probs"], before)
    assert "L1H2" in w.summary.value
    w.buttons[1][2].value = False
    np.testing.assert_array_equal(w.head_mask, np.ones((2, 4)))
    np.testing.assert_allclose(w.result["masks"][0]["probs"], before, rtol=1e-5, atol=1e-7)


def test_ablation_layer_reset_and_importance_buttons(ablation):
    w = ablation
    w.layer_select.value = 1
    w.layer_button.click()
    assert (w.head_mask[1] == 0).all() and (w.head_mask[0] == 1).all()
    assert all(b.value for b in w.buttons[1]) and not any(b.value for b in w.buttons[0])
    w.reset_button.click()
    assert (w.head_mask == 1).all() and not any(b.value for r in w.buttons for b in r)
    imp = w.controller.importance
    assert imp.shape == (2, 4) and w.importance_plot.value[:8] == PNG
    order = np.argsort(imp.ravel(), kind="stable")
    for button, chosen in ((w.least_button, order[:3]), (w.most_button, order[::-1][:3])):
        w.k_slider.value = 3
        button.click()
        zeroed = set(np.flatnonzero(w.head_mask.ravel() == 0))
        assert zeroed == set(int(i) for i in chosen)
        assert w.buttons[chosen[0] // 4][chosen[0] % 4].value
    assert w.controller.importance is imp  # computed once


def test_ablation_pressed_toggles_stand_out_and_no_empty_image(mlm, tok):
    w = rw.head_ablation(mlm, tok, text="The capital of France is <mask>.")
    # before a first sweep: no empty Image (a broken-image icon in a browser), a hint instead
    assert w.sweep_plot.value == b"" and w.sweep_plot.layout.display == "none"
    assert "single-head sweep" in w.sweep_hint.value
    assert w.effect_plot.layout.display != "none" and w.effect_plot.value[:8] == PNG
    b = w.buttons[0][1]
    assert b.button_style == "" and b.style.text_decoration in (None, "", "none")
    b.value = True
    assert (b.button_style, b.style.text_decoration) == ("danger", "line-through")
    w.reset_button.click()
    assert (b.button_style, b.style.text_decoration) == ("", "none")


def test_ablation_sweep_heatmap(ablation, tmp_path):
    w = ablation
    w.sweep_button.click()
    assert w.message_text == ""
    assert w.controller.sweep_result.grid.shape == (2, 4)
    assert w.sweep_plot.value[:8] == PNG and w.sweep_plot.layout.display != "none"
    assert w.sweep_hint.value == ""
    # signed effects: a diverging colour map centred on zero
    im = w.controller.sweep_figure().axes[0].images[0]
    lo, hi = im.get_clim()
    assert im.get_cmap().name == "RdBu_r" and lo == -hi and hi > 0
    _check_exports(w, tmp_path, view="sweep")
    # another click computes the sweep again; the same numbers keep the picture shown, which
    # is the fresh figure's
    shown, result = w.sweep_plot.value, w.controller.sweep_result
    w.sweep_button.click()
    assert w.controller.sweep_result is not result
    np.testing.assert_array_equal(w.controller.sweep_result.grid, result.grid)
    assert w.sweep_plot.value is shown
    from roberta_lab.views.widgets._figures import figure_bytes
    assert shown == figure_bytes(w.controller.sweep_figure())
    for view in ("effect", "importance"):
        assert (Path(w.export(str(tmp_path / f"{view}.png"), view=view)).read_bytes()[:8]
                == PNG)
    with pytest.raises(rw.WidgetInputError):
        w.export(str(tmp_path / "bad.jpg"))


def test_ablation_text_set_loss_mode(mlm, tok):
    w = rw.HeadAblationWidget(mlm, tok, texts=["The cat sat on the mat.",
                                               "Monday comes before Tuesday every week."])
    assert w.controller.mode == "loss" and w.message_text == ""
    clean = w.result["loss"]
    w.buttons[0][0].value = True
    assert w.result["loss"] != pytest.approx(clean, abs=1e-7)
    assert "loss" in w.summary.value


def test_ablation_bad_input_shows_message(mlm, tok):
    assert "no <mask>" in rw.head_ablation(mlm, tok, text="nothing to predict").message_text
    assert "empty" in rw.head_ablation(mlm, tok, text="").message_text
    w = rw.head_ablation(mlm, tok, text="a <mask>")
    w.layer_select.options = [0, 1, 9]  # a bad layer from outside: a message, no exception
    w.layer_select.value = 9
    w.layer_button.click()
    assert "L9" in w.message_text
    with pytest.raises(rw.WidgetInputError):
        w.controller.set_head(0, 4, True)


# --- attention explorer --------------------------------------------------------------------------
def test_attention_heatmap_is_hook_pattern(mlm, tok, tmp_path):
    text = "The keys to the cabinet are on the table, and the cat sat on the mat."
    w = rw.attention_explorer(mlm, tok, text=text)
    ids = tok(text, return_tensors="np")["input_ids"]
    _, cache = mlm.run_with_cache(ids, names_filter=lambda n: n.endswith("attn.hook_pattern"))
    w.layer_select.value, w.head_select.value = 1, 3
    np.testing.assert_allclose(w.heatmap_data, cache["pattern", 1][0, 3], atol=1e-6)
    png = w.plot.value
    w.window.value = (2, 7)
    np.testing.assert_allclose(w.heatmap_data, cache["pattern", 1][0, 3, 2:7, 2:7], atol=1e-6)
    assert w.plot.value != png
    roles = w.controller.roles(1, 3)
    assert set(roles) == {"bos", "eos", "punct", "prev", "next", "self", "entropy"}
    p = cache["pattern", 1][0, 3]
    assert roles["bos"] == pytest.approx(p[:, 0].mean(), abs=1e-5)
    assert roles["self"] == pytest.approx(np.diag(p).mean(), abs=1e-5)
    assert "entropy" in w.roles.value
    _check_exports(w, tmp_path)
    w.text.value = "A short one."
    assert w.controller.length == len(tok("A short one.")["input_ids"])
    assert w.heatmap_data.shape == (w.controller.length,) * 2


def test_attention_long_input_window(mlm, tok):
    text = " ".join(["word"] * 300)
    w = rw.attention_explorer(mlm, tok, text=text)
    assert w.controller.length > 300
    assert w.heatmap_data.shape == (64, 64)  # default window keeps the heatmap readable


def test_attention_bad_input(mlm, tok):
    w = rw.attention_explorer(mlm, tok, text="fine text")
    w.text.value = ""
    assert "empty" in w.message_text
    assert "no-such" in rw.attention_explorer("roberta-lab/no-such").message_text


# --- cache steps ---------------------------------------------------------------------------------
def test_cache_steps_slider(causal, tok, tmp_path):
    w = rw.cache_steps(causal, tok, prompt="Once upon a time", max_new_tokens=4,
                       stop_at_eos=False)
    c = w.controller
    assert c.n_steps == 4 and w.message_text == ""
    steps, sizes = c.bytes_series()
    assert len(steps) == len(sizes) == 4 and np.all(np.diff(sizes) > 0)
    assert c.bytes_per_layer().shape == (4, 2)
    html0 = w.tokens.value
    w.step.value = 2
    assert w.tokens.value != html0 and "step 2" in w.tokens.value
    assert len(c.tokens_so_far(2)) == len(c.prompt_ids) + 3
    w.layer_select.value, w.head_select.value = 1, "all"
    np.testing.assert_array_equal(w.attention_data, c.trace.steps[2].self_attention[1])
    assert w.attention_data.shape == (4, len(c.prompt_ids) + 2)
    w.head_select.value = 3
    w.window.value = (1, 3)
    np.testing.assert_array_equal(w.attention_data, c.trace.steps[2].self_attention[1, 3, 1:3])
    _check_exports(w, tmp_path, view="attention")
    for view in ("bytes", "times"):
        assert (Path(w.export(str(tmp_path / f"{view}.svg"), view=view)).read_text()
                .count("<svg") == 1)


def test_cache_steps_prompt_has_no_closing_eos_and_steps_are_integers(causal, tok):
    w = rw.cache_steps(causal, tok, prompt="Once upon a time", max_new_tokens=3,
                       stop_at_eos=False)
    c = w.controller
    assert c.prompt_ids[-1] != tok.eos_token_id and c.prompt_ids[0] == tok.bos_token_id
    assert c.trace.timing["traces"] == (1, 1) and c.trace.timing["warmup_excluded"]
    for fig in (c.times_figure(1), c.bytes_figure(1)):
        ticks = fig.axes[0].get_xticks()
        assert np.allclose(ticks, np.round(ticks)), ticks
    assert "median" in c.times_figure().axes[0].get_title()


def test_cache_steps_bad_input(causal, mlm, tok):
    assert "empty" in rw.cache_steps(causal, tok, prompt="").message_text
    assert "causal model" in rw.cache_steps(mlm, tok, prompt="hi").message_text
    too_long = rw.cache_steps(causal, tok, prompt="word " * 500, max_new_tokens=20)
    assert "longer than" in too_long.message_text


# --- cross-attention -----------------------------------------------------------------------------
def test_cross_attention_heatmap_is_decoder_cross_attentions(seq2seq, tok, tmp_path):
    enc, dec = seq2seq
    w = rw.cross_attention(enc, dec, tok, source="a b c d", max_new_tokens=5)
    c = w.controller
    assert w.message_text == "" and c.cross.shape[:2] == (2, 4)
    out = dec(c.decoder_input_ids[None], encoder_hidden_states=c.encoder_states,
              output_attentions=True)
    w.layer_select.value, w.head_select.value = 1, 2
    np.testing.assert_allclose(w.heatmap_data, np.asarray(out.cross_attentions[1])[0, 2],
                               atol=1e-6)
    assert w.heatmap_data.shape == (len(c.generated_ids), len(c.source_ids))
    w.head_select.value = "mean"
    np.testing.assert_allclose(w.heatmap_data,
                               np.asarray(out.cross_attentions[1])[0].mean(0), atol=1e-6)
    _check_exports(w, tmp_path)
    _check_greedy_loop(c, 5)
    w.source.value = "x y"
    assert w.controller.source == "x y" and w.heatmap_data.shape[1] == len(c.source_ids)
    w.source.value = ""
    assert "empty" in w.message_text


def _check_greedy_loop(c, max_new_tokens: int) -> None:
    """The controller's view came from its loop's last step (the steps return attentions):
    bit for bit the greedy loop without attentions, then one call with them over the
    decoder inputs."""
    dec, states = c.decoder, c.encoder_states
    mask = np.ones_like(c.source_ids[None])
    eos = dec.config.eos_token_id if dec.config.eos_token_id is not None else \
        c.tokenizer.eos_token_id
    ids = [int(c.decoder_input_ids[0])]
    for _ in range(max_new_tokens):
        logits = dec(np.array([ids], np.int32), encoder_hidden_states=states,
                     encoder_attention_mask=mask).logits
        ids.append(int(np.argmax(np.asarray(logits[0, -1]))))
        if ids[-1] == eos:
            break
    assert ids[1:] == c.generated_ids
    out = dec(np.array([ids[:-1]], np.int32), encoder_hidden_states=states,
              encoder_attention_mask=mask, output_attentions=True)
    np.testing.assert_array_equal(c.cross, np.stack([np.asarray(a)[0]
                                                     for a in out.cross_attentions]))


def test_cross_attention_of_the_bundled_model_is_its_greedy_loop():
    """The bundled model runs compiled: steps with and without attentions are two traces."""
    w = rw.cross_attention("roberta-lab/mini-seq2seq", source="a b c d e", max_new_tokens=32)
    for source in ("a b c d e", "k l m", "q r s t u v w"):
        w.source.value = source
        assert w.message_text == ""
        _check_greedy_loop(w.controller, 32)


def test_cross_attention_bad_model(tok, mlm):
    assert "not a seq2seq" in rw.cross_attention("roberta-lab/no-such").message_text or \
        "Unknown seq2seq" in rw.cross_attention("roberta-lab/no-such").message_text
    assert "add_cross_attention" in rw.cross_attention(mlm, mlm, tok).message_text


def test_callback_errors_become_messages_and_widgets_display(mlm, tok, monkeypatch):
    w = rw.mask_prediction(mlm, tok, text="a <mask>")
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    monkeypatch.setattr(w.controller, "predict", lambda text: 1 / 0)
    w.text.value = "b <mask>"  # no exception escapes the observer
    assert "ZeroDivisionError" in w.message_text
