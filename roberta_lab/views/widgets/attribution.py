"""Where a prediction comes from: type a sentence, pick a method, see the tokens coloured by
attribution and the decomposition of the predicted word's logit into components.

    >>> attribution_explorer("roberta-lab/mini-mlm")                      # doctest: +SKIP

Masked LMs explain the first ``<mask>``; causal LMs the next word after the text. The target
word is the model's top prediction unless one is typed (its first BPE token is used).
``AttributionController`` does the work without any widget.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import ShellMixin, WidgetInputError, encode_text, guarded, resolve, token_labels

DEFAULT_TEXT = "The capital of France is <mask>."
METHODS = ("integrated_gradients", "grad_x_input", "saliency", "smooth_grad",
           "attention_rollout", "alti", "value_zeroing")


class AttributionController:
    """text -> (ids, position, target id) -> attribution and decomposition, cached per input."""

    def __init__(self, model: Any = "roberta-lab/mini-mlm", tokenizer: Any = None):
        self.model, self.tokenizer = resolve(model, tokenizer)
        self.attribution = self.decomposition = None
        self.ids: np.ndarray | None = None
        self.position = self.target_id = None
        self._key: tuple | None = None

    def encode(self, text: str, target_word: str = "") -> tuple[np.ndarray, int, int]:
        causal = bool(self.model.config.is_decoder)
        ids = encode_text(self.tokenizer, text, self.model.config.max_sequence_length,
                          need_mask=not causal)
        if causal:
            ids = ids[:, :-1] if ids[0, -1] == self.tokenizer.eos_token_id else ids
            position = ids.shape[1] - 1
        else:
            where = np.flatnonzero(ids[0] == self.tokenizer.mask_token_id)
            if where.size == 0:
                raise WidgetInputError("The text has no <mask> token after tokenizing; write "
                                       "<mask> as a separate word.")
            position = int(where[0])
        if target_word.strip():
            pieces = self.tokenizer(" " + target_word.strip(), add_special_tokens=False)
            target = int(np.asarray(pieces["input_ids"]).ravel()[0])
        else:
            target = int(np.argmax(self.model(ids).logits[0, position].numpy()))
        return ids, position, target

    def explain(self, text: str, method: str = "integrated_gradients", target_word: str = ""):
        if method not in METHODS:
            raise WidgetInputError(f"Unknown method {method!r}; choose one of {list(METHODS)}.")
        key = (text, method, target_word)
        if key == self._key:
            return self.attribution, self.decomposition
        import roberta_lab  # noqa: PLC0415

        ids, pos, tid = self.encode(text, target_word)
        target = (np.array([pos]), np.array([tid]))
        self.attribution = getattr(roberta_lab, method)(self.model, ids, target)
        self.decomposition = roberta_lab.decompose(self.model, ids, target)
        self.ids, self.position, self.target_id, self._key = ids, pos, tid, key
        return self.attribution, self.decomposition

    def tokens_html(self) -> str:
        from ..attribution_views import token_attribution_html  # noqa: PLC0415 (import cycle)

        word = self.tokenizer.decode([self.target_id])
        title = (f"{self.attribution.method}: which tokens made {word!r} at position "
                 f"{self.position} (logit {self.decomposition.total[0]:+.3f})")
        return token_attribution_html(token_labels(self.tokenizer, self.ids[0]),
                                      self.attribution.attributions[0], title)

    def figure(self, top_k: int = 12) -> Any:
        from ..attribution_views import decomposition_figure  # noqa: PLC0415 (import cycle)

        return decomposition_figure(self.decomposition, 0, top_k)


class AttributionWidget(ShellMixin):
    """Text + target word + method -> coloured tokens and the decomposition figure."""

    def __init__(self, model: Any = "roberta-lab/mini-mlm", tokenizer: Any = None, *,
                 text: str = DEFAULT_TEXT, method: str = "integrated_gradients"):
        import ipywidgets as W  # noqa: PLC0415

        self.message = W.HTML()
        self.controller = None
        try:
            self.controller = AttributionController(model, tokenizer)
        except Exception as exc:  # noqa: BLE001 - shown as a sentence
            self.show_message(str(exc))
        self.text = W.Text(value=text, description="text", layout=W.Layout(width="90%"))
        self.target = W.Text(value="", description="target", placeholder="top prediction")
        self.method = W.Dropdown(options=list(METHODS), value=method, description="method")
        self.tokens = W.HTML()
        self.plot = W.Image(format="png")
        self.widget = W.VBox([self.text, W.HBox([self.target, self.method]), self.message,
                              self.tokens, self.plot])
        for w in (self.text, self.target, self.method):
            w.observe(self._on_change, names="value")
        self.update()

    @guarded
    def _on_change(self, change: dict) -> None:
        self.update()

    @guarded
    def update(self) -> None:
        if self.controller is None:
            return
        self.controller.explain(self.text.value, self.method.value, self.target.value)
        self.clear_message()
        self.tokens.value = self.controller.tokens_html()
        self.show_plot(self.plot, self.controller._key[:1] + self.controller._key[2:],
                       self.controller.figure)


def attribution_explorer(model: Any = "roberta-lab/mini-mlm", tokenizer: Any = None,
                         **kw: Any) -> AttributionWidget:
    """See ``AttributionWidget``."""
    return AttributionWidget(model, tokenizer, **kw)
