"""bertviz's head view and model view from roberta_lab outputs or an ActivationCache, offline.

One call turns a model output (``output_attentions=True``) or a ``run_with_cache`` cache into
bertviz's view. The HTML is self-contained: bertviz 1.4.1 loads require.js, d3 and jQuery from
a CDN, which classrooms without internet cannot reach, so the pinned copies in
``roberta_lab/views/viz_assets`` (see its ASSETS.md) are inlined and no network request is made.

Example (runs as is; ``html_action="view"`` displays it in Jupyter instead):
    >>> import numpy as np
    >>> from roberta_lab import RobertaConfig, TFRobertaModel
    >>> from roberta_lab.viz import head_view, model_view, save_html
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> model = TFRobertaModel(cfg)
    >>> ids = np.array([[0, 31, 41, 51, 2]])
    >>> out = model(ids, output_attentions=True)
    >>> html = head_view(out, ["<s>", "The", " cat", " sat", "</s>"], html_action="return")
    >>> "cdnjs" in html
    False
    >>> _, cache = model.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_pattern"))
    >>> html = model_view(cache, layers=[1], heads=[0, 2], window=(1, 4), html_action="return")
    >>> path = save_html(html, "attention.html")  # doctest: +SKIP

With a tokenizer: ``head_view(out, tokenizer=tok, input_ids=enc["input_ids"])`` labels tokens
with ``tok.display_tokens`` (readable text, not byte-level symbols like "Ġcat").

For long inputs (512 tokens draw slowly) choose ``layers``, ``heads`` and a token
``window=(start, stop)``; the window slices both the query and the key axis, so rows of a
windowed view no longer sum to 1. Only batch element ``batch_index`` (default 0) is drawn.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..model.activation_cache import ActivationCache

# (AMD module name, file in viz_assets). The names are private to
# roberta_lab so they cannot collide with a 'd3' or 'jquery' a notebook already defines.
_D3 = ("roberta_lab/d3-5.7.0", "d3-5.7.0.min.js")
_JQUERY = ("roberta_lab/jquery-2.2.4", "jquery-2.2.4.min.js")
_REQUIRE = "require-2.3.6.js"
_MAX_NUMBERS = 4_000_000


def _asset(name: str) -> str:
    return resources.files("roberta_lab.views.viz_assets").joinpath(name).read_text("utf-8")


def _script(code: str) -> str:
    # "</script" inside a script (a token such as "</script>") would end it early.
    return "<script type=\"text/javascript\">\n" + re.sub(r"</(script)", r"<\\/\1", code,
                                                         flags=re.I) + "\n</script>\n"


def _library_scripts() -> str:
    # require.js first: it gives a saved file or JupyterLab the AMD loader bertviz's script
    # expects, and leaves the page's own loader alone where one exists (classic Notebook).
    d3 = (f"define('{_D3[0]}', [], function () {{\n"
          # d3's UMD header would register with the page's loader or set a global d3: hide
          # define/module/exports and give it a private `this` to hang d3 on.
          "var scope = {};\n(function (define, module, exports) {\n" + _asset(_D3[1]) +
          "\n}).call(scope);\nreturn scope.d3;\n});")
    jquery = (f"define('{_JQUERY[0]}', [], function () {{\n"
              "(function (define, module, exports) {\n" + _asset(_JQUERY[1]) +
              # jQuery always sets window.$; noConflict(true) gives the page its own back.
              "\n}).call(window);\nreturn window.jQuery.noConflict(true);\n});")
    return _script(_asset(_REQUIRE)) + _script(d3) + _script(jquery)


def _offline(html: str) -> str:
    """bertviz's returned HTML with every CDN script replaced by the inlined assets."""
    start = html.index('<script type="text/javascript">')
    head, body = html[:start], html[start + len('<script type="text/javascript">'):]
    body = body[:body.rindex("</script>")]
    head, n_src = re.subn(r"<script src=\"https?://[^\"]*\"></script>", "", head)
    body, n_cfg = re.subn(r"require\.config\(\{\s*paths:\s*\{[^}]*\}\s*\}\);", "", body)
    body, n_req = re.subn(r"requirejs\(\[\s*'jquery'\s*,\s*'d3'\s*\]",
                          f"requirejs(['{_JQUERY[0]}', '{_D3[0]}']", body)
    # Fail loudly if a bertviz release changes its template, rather than reach for a CDN.
    if (n_src, n_cfg, n_req) != (1, 1, 1) or re.search(r"src=[\"']?https?:", head):
        raise RuntimeError("bertviz's HTML template changed (expected bertviz 1.4.x); "
                           "roberta_lab.viz cannot make it offline")
    return _library_scripts() + head + _script(body)


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float32)


def _attentions(source: Any, cross: bool = False) -> list[Any]:
    """Per-layer attention probabilities [batch, head, q, k] from an output, cache or list."""
    if isinstance(source, ActivationCache):
        scope = "cross_attn" if cross else "attn"
        found = []
        while f"blocks.{len(found)}.{scope}.hook_pattern" in source:
            found.append(source[f"blocks.{len(found)}.{scope}.hook_pattern"])
        if not found:
            raise KeyError(f"the cache holds no blocks.*.{scope}.hook_pattern; run_with_cache "
                           "with a names_filter that keeps them")
        # remove_batch_dim() caches hold [head, q, k]
        return found if source.has_batch_dim else [np.asarray(a)[None] for a in found]
    if isinstance(source, (list, tuple)) or (isinstance(source, np.ndarray) and source.ndim == 5):
        return list(source)
    field = "cross_attentions" if cross else "attentions"
    value = getattr(source, field, None) if not isinstance(source, dict) else source.get(field)
    if value is None:
        raise ValueError(f"the output has no {field}: call the model with output_attentions=True"
                         + (" and a decoder with add_cross_attention" if cross else ""))
    return list(value)


def _window(window: tuple[int, int] | None) -> slice:
    if window is None:
        return slice(None)
    start, stop = window
    if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer))
            and 0 <= start < stop):
        raise ValueError(f"window must be (start, stop) with 0 <= start < stop, got {window!r}")
    return slice(int(start), int(stop))


def _torch_layers(attn: list[Any], layers: Sequence[int] | None, heads: Sequence[int] | None,
                  q: slice, k: slice, batch_index: int) -> tuple[list[Any], list[int]]:
    """numpy/TF -> torch (bertviz needs torch) for the selected layers only, sliced first so a
    512-token view converts and embeds only what is drawn."""
    import torch

    layers = list(range(len(attn))) if layers is None else [int(i) for i in layers]
    if not layers or any(not 0 <= i < len(attn) for i in layers):
        raise ValueError(f"layers must be a non-empty list of indices below {len(attn)}, "
                         f"got {layers}")
    picked = {}
    for i in layers:
        a = _numpy(attn[i])
        a = a[batch_index] if a.ndim == 4 else a  # [head, q, k]
        if heads is not None:
            a = a[list(heads)]
        picked[i] = torch.tensor(np.ascontiguousarray(a[:, q, k]))[None]
    n = sum(t.numel() for t in picked.values())
    if n > _MAX_NUMBERS:  # ~20 bytes of JSON each: a full 512-token base model is ~1.7 GB
        warnings.warn(f"this view embeds {n:,} attention weights (~{n * 20 / 1e6:,.0f} MB of "
                      "HTML); choose layers=, heads= or window= to draw fewer", stacklevel=4)
    # bertviz indexes the full list with include_layers and reads the head count from entry 0:
    # unselected layers reuse a selected tensor (no copy) instead of being converted.
    return [picked.get(i, picked[layers[0]]) for i in range(len(attn))], layers


def _tokens(tokens: Sequence[str] | None, tokenizer: Any, input_ids: Any, batch_index: int,
            n: int) -> list[str]:
    if tokens is None and tokenizer is not None:
        if input_ids is None:
            raise ValueError("tokenizer= needs input_ids= to label the tokens")
        ids = np.asarray(input_ids.numpy() if hasattr(input_ids, "numpy") else input_ids)
        tokens = tokenizer.display_tokens(ids[batch_index] if ids.ndim == 2 else ids)
    tokens = [str(i) for i in range(n)] if tokens is None else [str(t) for t in tokens]
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens for attention over {n} positions")
    return tokens


def _render(view: str, html_action: str, layers: list[int], heads: Sequence[int] | None,
            **kwargs: Any) -> str | None:
    """Call bertviz (imported here: `import roberta_lab` must not need torch or bertviz)."""
    if html_action not in ("view", "return"):
        raise ValueError(f"html_action must be 'view' or 'return', got {html_action!r}")
    if view == "head":
        from bertviz import head_view as bv
    elif view == "model":
        from bertviz import model_view as bv
        # model_view's include_heads keeps the real head numbers on its axis.
        kwargs["include_heads"] = None if heads is None else [int(h) for h in heads]
    else:
        raise ValueError(f"view must be 'head' or 'model', got {view!r}")
    html = _offline(bv(include_layers=layers, html_action="return", **kwargs).data)
    if html_action == "return":
        return html
    from IPython.display import HTML, display

    display(HTML(html))
    return None


def _view(view: str, source: Any, tokens: Sequence[str] | None, tokenizer: Any, input_ids: Any,
          layers: Sequence[int] | None, heads: Sequence[int] | None,
          window: tuple[int, int] | None, batch_index: int, html_action: str,
          options: dict[str, Any]) -> str | None:
    attn = _attentions(source)
    win = _window(window)
    n = _numpy(attn[0]).shape[-1]
    labels = _tokens(tokens, tokenizer, input_ids, batch_index, n)[win]
    # head_view has no include_heads, so its heads are sliced here; model_view's are not.
    t, layers = _torch_layers(attn, layers, heads if view == "head" else None, win, win,
                              batch_index)
    return _render(view, html_action, layers, heads, attention=t, tokens=labels, **options)


def head_view(source: Any, tokens: Sequence[str] | None = None, *, tokenizer: Any = None,
              input_ids: Any = None, layers: Sequence[int] | None = None,
              heads: Sequence[int] | None = None, window: tuple[int, int] | None = None,
              batch_index: int = 0, html_action: str = "view", **options: Any) -> str | None:
    """bertviz's head view of ``source``'s self-attention: an output with ``.attentions``, an
    ActivationCache with ``blocks.{l}.attn.hook_pattern``, or a list of [batch, head, q, k].
    ``options`` go to bertviz (``layer``, ``sentence_b_start``, ``prettify_tokens``)."""
    return _view("head", source, tokens, tokenizer, input_ids, layers, heads, window,
                 batch_index, html_action, options)


def model_view(source: Any, tokens: Sequence[str] | None = None, *, tokenizer: Any = None,
               input_ids: Any = None, layers: Sequence[int] | None = None,
               heads: Sequence[int] | None = None, window: tuple[int, int] | None = None,
               batch_index: int = 0, html_action: str = "view", **options: Any) -> str | None:
    """bertviz's model view (every layer x head); arguments as in ``head_view``, ``options``
    to bertviz (``display_mode="light"``, ``sentence_b_start``)."""
    return _view("model", source, tokens, tokenizer, input_ids, layers, heads, window,
                 batch_index, html_action, options)


def encoder_decoder_view(encoder_source: Any, decoder_source: Any,
                         encoder_tokens: Sequence[str], decoder_tokens: Sequence[str],
                         view: str = "head", *, layers: Sequence[int] | None = None,
                         heads: Sequence[int] | None = None,
                         encoder_window: tuple[int, int] | None = None,
                         decoder_window: tuple[int, int] | None = None, batch_index: int = 0,
                         html_action: str = "view", **options: Any) -> str | None:
    """bertviz's encoder-decoder view: the encoder's self-attention, the decoder's
    self-attention and its cross-attention (``decoder_source.cross_attentions`` or the cache's
    ``blocks.{l}.cross_attn.hook_pattern``), chosen in the view's "Attention" menu."""
    enc_w, dec_w = _window(encoder_window), _window(decoder_window)
    sliced_heads = heads if view == "head" else None
    enc, layers_ = _torch_layers(_attentions(encoder_source), layers, sliced_heads, enc_w, enc_w,
                                 batch_index)
    dec, _ = _torch_layers(_attentions(decoder_source), layers, sliced_heads, dec_w, dec_w,
                           batch_index)
    cross, _ = _torch_layers(_attentions(decoder_source, cross=True), layers, sliced_heads,
                             dec_w, enc_w, batch_index)
    return _render(view, html_action, layers_, heads, encoder_attention=enc,
                   decoder_attention=dec, cross_attention=cross,
                   encoder_tokens=[str(t) for t in encoder_tokens][enc_w],
                   decoder_tokens=[str(t) for t in decoder_tokens][dec_w], **options)


def cache_step_view(step_attention: Any, tokens: Sequence[str], view: str = "head", *,
                    layers: Sequence[int] | None = None, heads: Sequence[int] | None = None,
                    window: tuple[int, int] | None = None, batch_index: int = 0,
                    html_action: str = "view", **options: Any) -> str | None:
    """One cached decoding step: the new token (one query) against every cached key.

    ``step_attention`` is the step call's output (``.attentions``), its ActivationCache, or a
    list of [batch, head, 1, k_pos]; ``tokens`` labels the k_pos keys, the new token last.
    bertviz's JavaScript draws rectangular attention (left and right token lists of different
    lengths), but its Python only builds such data for sentence pairs and cross-attention; so
    the step goes in as ``cross_attention`` with the new token alone on the left and the keys
    on the right: a 1 x k_pos drawing, no square padding. ``window`` slices the keys.
    """
    attn = _attentions(step_attention)
    if _numpy(attn[0]).shape[-2] != 1:
        raise ValueError("cache_step_view draws one query; got attention over "
                         f"{_numpy(attn[0]).shape[-2]} query positions (use head_view)")
    win = _window(window)
    keys = _tokens(tokens, None, None, batch_index, _numpy(attn[0]).shape[-1])
    t, layers_ = _torch_layers(attn, layers, heads if view == "head" else None, slice(None), win,
                               batch_index)
    return _render(view, html_action, layers_, heads, cross_attention=t,
                   encoder_tokens=keys[win], decoder_tokens=keys[-1:], **options)


def save_html(view_html: Any, path: str | os.PathLike) -> Path:
    """Write a view (the string ``html_action="return"`` gives) as a standalone HTML file,
    atomically: a temporary file in the same folder, then a rename."""
    html = getattr(view_html, "data", view_html)
    if not isinstance(html, str):
        raise TypeError(f"save_html takes the HTML string of a view, got {type(html).__name__}")
    path = Path(path)
    # charset: d3's source holds non-ASCII characters, which a file:// page would misread.
    doc = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>roberta_lab attention"
           "</title></head>\n<body>\n" + html + "\n</body></html>\n")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(doc)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved page should be shareable
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
