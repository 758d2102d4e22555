"""Mask prediction: type a text with one or more ``<mask>``; see the top-k candidates per mask.

    >>> mask_prediction("roberta-lab/mini-mlm")                     # doctest: +SKIP
    >>> MaskPredictionWidget({"a": (model_a, tok), "b": (model_b, tok)})  # doctest: +SKIP

``MaskPredictionController`` does the work (text -> model -> top-k) and caches the last
result: it recomputes only when the text or the model changed (the debounce for typing).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._common import (ShellMixin, WidgetInputError, encode_text, export_figure,
                      guarded, int_argument, load_model, load_tokenizer, MAX_TOP_K, new_figure,
                      new_image, put_image)
from ._frames import BarFrames

DEFAULT_TEXT = "The capital of France is <mask>."


@dataclass
class MaskPrediction:
    """Top-k at one ``<mask>``: its token position, candidate ids/strings and probabilities."""

    position: int
    ids: list[int]
    tokens: list[str]
    probs: list[float]


def _sources(models: Any, tokenizer: Any) -> dict[str, Any]:
    """Normalise the ways of naming models into name -> (model, tokenizer) or None (lazy)."""
    if models is None:
        return {"roberta-lab/mini-mlm": None}
    if isinstance(models, str):
        return {models: None if tokenizer is None else (models, tokenizer)}
    if isinstance(models, dict):
        out = {}
        for name, value in models.items():
            if value is None or isinstance(value, str):
                out[str(name)] = None if value is None else (value, tokenizer)
            elif isinstance(value, tuple):
                out[str(name)] = value
            else:  # a bare model object: the shared tokenizer
                out[str(name)] = (value, tokenizer)
        return out
    if isinstance(models, (list, tuple)) and all(isinstance(m, str) for m in models):
        return {m: None for m in models}
    return {getattr(models, "name", None) or type(models).__name__: (models, tokenizer)}


class MaskPredictionController:
    """State -> model call -> result, with no widget in sight.

    models: a model object (with ``tokenizer``), a name ("roberta-lab/mini-mlm"), a list of
    names, or a dict name -> (model, tokenizer) | model | name. Names load lazily on selection.
    """

    def __init__(self, models: Any = None, tokenizer: Any = None, *, top_k: int = 5):
        self.sources = _sources(models, tokenizer)
        if not self.sources:
            raise WidgetInputError("No model given.")
        self.top_k = int_argument("top_k", top_k, 1, MAX_TOP_K)
        self.current = next(iter(self.sources))
        self.text: str | None = None
        self.result: list[MaskPrediction] = []
        self.n_runs = 0  # model calls so far (the debounce test counts them)
        self._key: tuple | None = None

    @property
    def names(self) -> list[str]:
        return list(self.sources)

    def model_and_tokenizer(self, name: str | None = None) -> tuple[Any, Any]:
        name = self.current if name is None else name
        if name not in self.sources:
            raise WidgetInputError(f"Unknown model {name!r}; choose one of {self.names}.")
        entry = self.sources[name]
        if entry is None:
            entry = (load_model(name, "mlm"), load_tokenizer(name))
        model, tok = entry
        if isinstance(model, str):
            model = load_model(model, "mlm")
        if isinstance(tok, str) or tok is None:
            tok = load_tokenizer(tok if isinstance(tok, str) else name)
        self.sources[name] = (model, tok)
        return model, tok

    def select(self, name: str) -> None:
        if name not in self.sources:
            raise WidgetInputError(f"Unknown model {name!r}; choose one of {self.names}.")
        self.current = name

    def predict(self, text: str) -> list[MaskPrediction]:
        """Top-k per ``<mask>`` of ``text``; cached while text and model are unchanged."""
        key = (self.current, text, self.top_k)
        if key == self._key:
            return self.result
        model, tok = self.model_and_tokenizer()
        ids = encode_text(tok, text, model.config.max_sequence_length, need_mask=True)
        where = np.flatnonzero(ids[0] == tok.mask_token_id)
        if where.size == 0:  # "<mask>" inside a word can be split by the tokenizer
            raise WidgetInputError(f"The text has no {tok.mask_token} token after tokenizing; "
                                   f"write {tok.mask_token} as a separate word.")
        logits = np.asarray(model(ids).logits[0].numpy()[where], np.float64)  # [masks, vocab]
        self.n_runs += 1
        logits -= logits.max(axis=-1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=-1, keepdims=True)
        out = []
        for pos, row in zip(where, probs):
            top = np.argsort(-row, kind="stable")[:self.top_k]
            out.append(MaskPrediction(int(pos), top.tolist(),
                                      [tok.decode([int(t)]) for t in top],
                                      [float(row[t]) for t in top]))
        self.text, self.result, self._key = text, out, key
        return out

    @property
    def labels(self) -> list[list[str]]:
        return [p.tokens for p in self.result]

    def figure(self) -> Any:
        """One horizontal bar chart per mask."""
        n = max(len(self.result), 1)
        fig = new_figure(4.0 * min(n, 3), 0.4 * self.top_k + 1.2)
        for i, pred in enumerate(self.result):
            ax = fig.add_subplot(1, n, i + 1)
            labels = [repr(t) for t in pred.tokens][::-1]
            ax.barh(range(len(labels)), pred.probs[::-1], color="#4c72b0")
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            ax.set_xlim(0, 1)
            ax.set_xlabel("probability")
            ax.set_title(f"<mask> #{i + 1} (token {pred.position})", fontsize=9)
        return fig


class MaskPredictionWidget(ShellMixin):
    """Text box + model dropdown + bar chart of the top-k per mask. Display it in a notebook
    (it is an ``ipywidgets.VBox`` via ``.widget``) or call ``export(path)``."""

    def __init__(self, models: Any = None, tokenizer: Any = None, *, text: str = DEFAULT_TEXT,
                 top_k: int = 5):
        import ipywidgets as W  # noqa: PLC0415

        self.message = W.HTML()
        self.controller = None
        self._frames = BarFrames()
        try:
            self.controller = MaskPredictionController(models, tokenizer, top_k=top_k)
            names = self.controller.names
        except Exception as exc:  # noqa: BLE001
            names = []
            self.show_message(str(exc))
        self.model_select = W.Dropdown(options=names, value=names[0] if names else None,
                                       description="model")
        self.text = W.Textarea(value=text, description="text", continuous_update=True,
                               layout=W.Layout(width="90%"))
        self.summary = W.HTML()
        self.plot = new_image()
        self.widget = W.VBox([self.model_select, self.text, self.message, self.summary, self.plot])
        self.model_select.observe(self._on_model, names="value")
        self.text.observe(self._on_text, names="value")
        if self.controller is not None:
            self.update()

    @guarded
    def _on_model(self, change: dict) -> None:
        self.controller.select(change["new"])
        self.update()

    @guarded
    def _on_text(self, change: dict) -> None:
        self.update()

    @guarded
    def update(self) -> None:
        if self.controller is None:
            return
        before = self.controller.n_runs
        result = self.controller.predict(self.text.value)
        self.clear_message()
        if self.controller.n_runs == before and self.plot.value:
            return  # nothing changed
        rows = "".join(
            f"<tr><td>&lt;mask&gt; #{i + 1}</td>" + "".join(
                f"<td>{html.escape(t)} {p:.3f}</td>" for t, p in zip(r.tokens, r.probs)) + "</tr>"
            for i, r in enumerate(result))
        self.summary.value = f"<table>{rows}</table>"
        put_image(self.plot, self._frames.png(self.controller.figure()))  # redrawn in part

    @property
    def labels(self) -> list[list[str]]:
        return [] if self.controller is None else self.controller.labels

    def export(self, path: str) -> str:
        """The bar chart as .png, .svg or a self-contained .html (by extension)."""
        if self.controller is None or not self.controller.result:
            raise WidgetInputError("Nothing to export yet: type a text with <mask>.")
        return export_figure(self.controller.figure(), path, "Mask prediction",
                             f"<p>{html.escape(self.controller.text or '')}</p>"
                             + self.summary.value)


def mask_prediction(models: Any = None, tokenizer: Any = None, **kw: Any) -> MaskPredictionWidget:
    """One line: ``mask_prediction("roberta-lab/mini-mlm")`` or ``mask_prediction(model, tok)``
    or ``mask_prediction({"a": (m1, tok), "b": (m2, tok)})``."""
    return MaskPredictionWidget(models, tokenizer, **kw)


__all__: Sequence[str] = ("MaskPrediction", "MaskPredictionController", "MaskPredictionWidget",
                          "mask_prediction")
