"""Attribution views: coloured tokens (HTML/PNG), the decomposition figure, and the widget on
the bundled mini-mlm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import (AutoTokenizer, TFRobertaForMaskedLM, decompose, integrated_gradients,
                         token_attribution_view)
from roberta_lab.views.attribution_views import (DECOMPOSITION_POLICY, decomposition_figure,
                                                 save_decomposition, token_attribution_html)

DATA = Path(__file__).resolve().parents[2] / "data"


def test_token_html_colours_and_escapes():
    html = token_attribution_html(["<s>", "a", "b"], np.array([0.0, 2.0, -1.0]), "t")
    assert "&lt;s&gt;" in html and "<s>" not in html.replace("<span", "")
    assert "rgba(220,50,47,1.000)" in html  # the largest positive: full red
    assert "rgba(38,139,210,0.500)" in html  # half as large, negative: blue at half
    with pytest.raises(ValueError, match="length"):
        token_attribution_html(["a"], np.zeros(2))


@pytest.fixture(scope="module")
def tiny(tok_dir):
    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    tf.keras.utils.set_random_seed(0)
    model = TFRobertaForMaskedLM(tiny_config(vocab_size=len(tok), hidden_dropout_prob=0.0,
                                             attention_probs_dropout_prob=0.0))
    return model, tok


def test_token_view_saves_html_and_png(tiny, tmp_path):
    model, tok = tiny
    ids = tok(["The capital of France is Paris."], return_tensors="np")["input_ids"]
    ig = integrated_gradients(model, ids, (3, 10), n_steps=8)
    view = token_attribution_view(ig, tok, window=(1, 5))
    assert len(view.tokens) == 4 and np.allclose(view.scores, ig.attributions[0, 1:5])
    page = Path(view.save(tmp_path / "v.html")).read_text()
    assert page.count("<span") == 4 and "integrated_gradients" in page
    png = Path(view.save(tmp_path / "v.png")).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    d = decompose(model, ids, (3, 10))
    fig = decomposition_figure(d, top_k=5)
    assert DECOMPOSITION_POLICY in fig._suptitle.get_text()
    assert len(fig.axes[1].patches) == 5
    assert Path(save_decomposition(d, tmp_path / "d.png")).read_bytes()[:4] == b"\x89PNG"


def test_widget_on_bundled_mini_mlm():
    from roberta_lab.views.widgets.attribution import AttributionWidget

    tok = AutoTokenizer.from_pretrained(str(DATA / "mini-mlm"))
    model = TFRobertaForMaskedLM.from_pretrained(str(DATA / "mini-mlm"))
    w = AttributionWidget(model, tok)
    assert w.message_text == ""
    c = w.controller
    assert tok.decode([c.target_id]).strip() == "Paris"  # the top prediction by default
    words = tok.convert_ids_to_tokens(c.ids[0])
    assert words[int(np.argmax(c.attribution.attributions[0]))] == "ĠFrance"
    assert "Paris" in w.tokens.value and w.plot.value[:4] == b"\x89PNG"
    assert abs(c.decomposition.error[0]) < 1e-4
    w.method.value = "alti"
    assert c.attribution.method == "alti" and w.message_text == ""
    w.target.value = "Rome"
    assert tok.decode([c.target_id]).strip() == "Rome"
    w.text.value = "no mask here"
    assert "<mask>" in w.message_text
