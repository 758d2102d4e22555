"""roberta_lab.viz: bertviz views that carry their own JavaScript and the model's numbers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import random_ids, tiny_config
from roberta_lab import AutoTokenizer, TFRobertaForCausalLM, TFRobertaModel

pytest.importorskip("bertviz")
pytest.importorskip("torch")

from roberta_lab import viz  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MARKERS = ["RequireJS 2.3.6", "d3js.org v5.7.0", "jQuery v2.2.4"]  # one from each asset
TOKENS = ["<s>", "The", " cat", " sat", " on", " the", " mat", "</s>"]


def params(html: str) -> dict:
    """The JSON bertviz embeds as ``const params = {...};`` (floats as Python writes them)."""
    start = html.index("const params = ") + len("const params = ")
    return json.JSONDecoder().raw_decode(html, start)[0]


def stacked(attentions) -> np.ndarray:
    return np.stack([np.asarray(a) for a in attentions])[:, 0]  # [layer, head, q, k]


def assert_offline(html: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)  # every script is inline
    assert not re.search(r"require\.config\(\s*\{\s*paths", html) and "cdnjs" not in html
    for marker in MARKERS:
        assert marker in html


@pytest.fixture(scope="module")
def encoder():
    import keras

    keras.utils.set_random_seed(0)
    model = TFRobertaModel(tiny_config())
    ids = random_ids(1, len(TOKENS), seed=3)
    out, cache = model.run_with_cache(ids, output_attentions=True,
                                      names_filter=lambda n: n.endswith("hook_pattern"))
    return model, ids, out, cache


def test_head_and_model_view_offline_and_exact(encoder):
    _, _, out, cache = encoder
    want = stacked(out.attentions)
    for fn in (viz.head_view, viz.model_view):
        for source in (out, cache):
            html = fn(source, TOKENS, html_action="return")
            assert_offline(html)
            data = params(html)["attention"]
            assert len(data) == 1 and data[0]["left_text"] == TOKENS
            # bertviz does not round: float32 -> tolist() -> json keeps every digit.
            np.testing.assert_allclose(np.array(data[0]["attn"]), want, atol=1e-6, rtol=0)


def test_selection_shrinks_embedded_data(encoder):
    _, _, out, _ = encoder
    a = np.asarray(out.attentions[1])[0]
    for fn in (viz.head_view, viz.model_view):
        html = fn(out, TOKENS, layers=[1], heads=[0, 2], window=(2, 6), html_action="return")
        p = params(html)
        got = np.array(p["attention"][0]["attn"])
        assert got.shape == (1, 2, 4, 4) and p["include_layers"] == [1]
        assert p["attention"][0]["right_text"] == TOKENS[2:6]
        np.testing.assert_allclose(got[0], a[[0, 2]][:, 2:6, 2:6], atol=1e-6, rtol=0)
    assert p["include_heads"] == [0, 2]  # model_view keeps the real head numbers
    with pytest.warns(UserWarning, match="window="), pytest.MonkeyPatch.context() as mp:
        mp.setattr(viz, "_MAX_NUMBERS", 100)
        viz.head_view(out, TOKENS, html_action="return")
    with pytest.raises(ValueError, match="window"):
        viz.head_view(out, TOKENS, window=(3, 3), html_action="return")
    with pytest.raises(ValueError, match="tokens"):
        viz.head_view(out, TOKENS[:-1], html_action="return")


def test_tokens_from_tokenizer(tok_dir):
    tok = AutoTokenizer.from_pretrained(tok_dir)
    ids = tok("The cat sat on the table.", return_tensors="np")["input_ids"]
    n = ids.shape[1]  # labels are the point here, so uniform attention stands in for a model
    html = viz.head_view([np.full((1, 2, n, n), 1 / n, np.float32)] * 2, tokenizer=tok,
                         input_ids=ids, html_action="return")
    text = params(html)["attention"][0]["left_text"]
    assert text == tok.display_tokens(ids[0])
    assert "".join(text[1:-1]) == "The cat sat on the table." and not any("Ġ" in t for t in text)


@pytest.fixture(scope="module")
def decoder(encoder):
    """A decoder with cross-attention to the encoder fixture's output: a full call, and one
    cached step (the 6th token against 6 keys)."""
    import keras

    keras.utils.set_random_seed(1)
    model = TFRobertaForCausalLM(tiny_config(is_decoder=True, add_cross_attention=True))
    enc_out = encoder[2]
    ids = random_ids(1, 6, seed=5)
    pattern = dict(names_filter=lambda n: n.endswith("hook_pattern"), output_attentions=True)
    full, full_cache = model.run_with_cache(ids, encoder_hidden_states=enc_out.last_hidden_state,
                                            **pattern)
    past = model(ids[:, :5], encoder_hidden_states=enc_out.last_hidden_state,
                 use_cache=True).past_key_values
    step, step_cache = model.run_with_cache(ids[:, 5:], past_key_values=past, use_cache=True,
                                            **pattern)
    return full, full_cache, step, step_cache


def test_encoder_decoder_view(encoder, decoder):
    enc_out, dec_out = encoder[2], decoder[0]
    enc_tok, dec_tok = TOKENS, [f"d{i}" for i in range(6)]
    for view, enc_src, dec_src in (("head", enc_out, dec_out), ("model", enc_out, dec_out),
                                   ("head", encoder[3], decoder[1])):
        html = viz.encoder_decoder_view(enc_src, dec_src, enc_tok, dec_tok, view=view,
                                        html_action="return")
        assert_offline(html)
        data = {d["name"]: d for d in params(html)["attention"]}
        assert set(data) == {"Encoder", "Decoder", "Cross"}
        assert data["Cross"]["left_text"] == dec_tok and data["Cross"]["right_text"] == enc_tok
        for name, want in (("Encoder", enc_out.attentions), ("Decoder", dec_out.attentions),
                           ("Cross", dec_out.cross_attentions)):
            np.testing.assert_allclose(np.array(data[name]["attn"]), stacked(want), atol=1e-6)
    html = viz.encoder_decoder_view(enc_out, dec_out, enc_tok, dec_tok, heads=[1],
                                    encoder_window=(1, 5), html_action="return")
    cross = {d["name"]: d for d in params(html)["attention"]}["Cross"]
    np.testing.assert_allclose(np.array(cross["attn"]),
                               stacked(dec_out.cross_attentions)[:, [1], :, 1:5], atol=1e-6)


def test_cache_step_view_is_one_row(decoder):
    step = decoder[2]
    assert tuple(step.attentions[0].shape) == (1, 4, 1, 6)
    toks = [f"t{i}" for i in range(6)]
    for view, source in (("head", step), ("model", step), ("head", decoder[3])):
        html = viz.cache_step_view(source, toks, view=view, html_action="return")
        assert_offline(html)
        data = params(html)["attention"]
        assert len(data) == 1 and data[0]["left_text"] == ["t5"] and data[0]["right_text"] == toks
        np.testing.assert_allclose(np.array(data[0]["attn"]), stacked(step.attentions), atol=1e-6)
    html = viz.cache_step_view(step.attentions, toks, layers=[0], heads=[3], window=(2, 6),
                               html_action="return")
    got = np.array(params(html)["attention"][0]["attn"])
    np.testing.assert_allclose(got, np.asarray(step.attentions[0])[:, [3], :, 2:6], atol=1e-6)


def test_view_displays_and_save_html_is_atomic(encoder, tmp_path, monkeypatch):
    import IPython.display

    _, _, out, _ = encoder
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    assert viz.head_view(out, TOKENS) is None
    assert len(shown) == 1 and "RequireJS 2.3.6" in shown[0].data
    path = viz.save_html(shown[0].data, tmp_path / "view.html")
    text = path.read_text("utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    assert [p.name for p in tmp_path.iterdir()] == ["view.html"]  # no temporary left behind


def test_import_roberta_lab_loads_neither_torch_nor_bertviz():
    code = ("import sys, roberta_lab, roberta_lab.viz; roberta_lab.RobertaConfig; "
            "print(sorted(m for m in ('torch', 'bertviz') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def _chromium() -> str | None:
    for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if Path(path).exists():
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium (apt-get install "
                    "chromium fonts-dejavu-core)")
def test_head_view_draws_in_headless_chromium_without_network(encoder):
    _, _, out, _ = encoder
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page = viz.save_html(viz.head_view(out, TOKENS, html_action="return"),
                         artifacts / "viz_head_view.html")
    with tempfile.TemporaryDirectory() as profile:
        # Every host resolves to nothing and the proxy is a closed port: a script that reached
        # for a CDN would fail, and bertviz would draw nothing.
        cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", f"--user-data-dir={profile}", "--window-size=1000,800",
               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
               "--virtual-time-budget=5000"]  # lets require.js's async callbacks run
        dom = subprocess.run(cmd + ["--dump-dom", page.as_uri()], capture_output=True,
                             text=True, timeout=120).stdout
        subprocess.run(cmd + [f"--screenshot={artifacts / 'viz_head_view.png'}", page.as_uri()],
                       capture_output=True, timeout=120)
    assert "<svg" in dom
    # head view draws one line per (head, query, key): bertviz's JavaScript ran on this data.
    n_heads = np.asarray(out.attentions[0]).shape[1]
    assert dom.count("<line") == n_heads * len(TOKENS) ** 2
    assert dom.count(">&lt;s&gt;</text>") == 2  # the token on both sides
    assert (artifacts / "viz_head_view.png").stat().st_size > 1000
