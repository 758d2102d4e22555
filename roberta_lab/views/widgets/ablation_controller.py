"""The head-ablation controller (no widgets): the head mask, its effect, Michel importance
and the single-head sweep. ``HeadAblationWidget`` (``ablation.py``) is its shell."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import WidgetInputError, encode_text, heatmap_figure, new_figure

DEFAULT_TEXT = "The capital of France is <mask>."


class HeadAblationController:
    """State (the head mask) -> model call -> result. ``head_mask`` is [layers, heads], 1 =
    kept, 0 = ablated (the model's ``head_mask`` argument)."""

    def __init__(self, model: Any, tokenizer: Any, text: str | None = DEFAULT_TEXT, *,
                 texts: list[str] | None = None, top_k: int = 5, mask_rate: float = 0.15,
                 seed: int = 0):
        from roberta_lab.engine.ablation import masked_lm_metric  # noqa: PLC0415

        self.model, self.tokenizer, self.top_k = model, tokenizer, int(top_k)
        cfg = model.config
        self.n_layers, self.n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
        self.head_mask = np.ones((self.n_layers, self.n_heads), np.float32)
        self._importance: np.ndarray | None = None
        self.sweep_result = None
        self.n_runs = 0
        limit = cfg.max_sequence_length
        if texts:
            self.mode = "loss"
            self.text = None
            self.ids, self.attention_mask, labels = self._masked_set(texts, limit, mask_rate, seed)
            self.metric = masked_lm_metric(labels)
        else:
            self.mode = "mask"
            self.text = text
            self.ids = encode_text(tokenizer, text, limit, need_mask=True)
            self.attention_mask = np.ones_like(self.ids)
            where = np.flatnonzero(self.ids[0] == tokenizer.mask_token_id)
            if where.size == 0:
                raise WidgetInputError(f"The text has no {tokenizer.mask_token} token after "
                                       "tokenizing; write it as a separate word.")
            self.mask_positions = where
            clean = self._mask_probs(None)
            labels = np.full(self.ids.shape, -100, np.int64)
            labels[0, where] = clean.argmax(axis=-1)  # the clean model's own answer
            self.metric = masked_lm_metric(labels)
        self.clean = self.evaluate(np.ones_like(self.head_mask))

    def _masked_set(self, texts: list[str], limit: int, rate: float, seed: int):
        tok = self.tokenizer
        for t in texts:
            encode_text(tok, t, limit)  # empty / too long -> a clear message
        enc = tok(list(texts), padding=True, return_tensors="np")
        ids = np.asarray(enc["input_ids"], np.int32).copy()
        mask = np.asarray(enc["attention_mask"], np.int32)
        from roberta_lab.engine.ablation import mask_random_tokens  # noqa: PLC0415

        try:
            ids, labels = mask_random_tokens(ids, mask, tok.all_special_ids, tok.mask_token_id,
                                             rate, seed)
        except ValueError as err:
            raise WidgetInputError(str(err).capitalize() + ".") from None
        return ids, mask, labels

    # --- model calls ------------------------------------------------------------------------
    def _logits(self, head_mask: np.ndarray | None) -> np.ndarray:
        hm = None if head_mask is None else np.asarray(head_mask, np.float32)
        self.n_runs += 1
        return self.model(self.ids, attention_mask=self.attention_mask, head_mask=hm).logits

    def _mask_probs(self, head_mask: np.ndarray | None) -> np.ndarray:
        logits = np.asarray(self._logits(head_mask)[0].numpy()[self.mask_positions], np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=-1, keepdims=True)  # [masks, vocab]

    def evaluate(self, head_mask: np.ndarray | None = None) -> dict[str, Any]:
        """The effect of ``head_mask`` (default: the current one). Mask mode: per mask the
        top-k ids, tokens and probabilities; loss mode: the masked-LM loss."""
        import tensorflow as tf  # noqa: PLC0415

        hm = self.head_mask if head_mask is None else head_mask
        if self.mode == "mask":
            probs = self._mask_probs(hm)
            masks = []
            for row in probs:
                top = np.argsort(-row, kind="stable")[:self.top_k]
                masks.append({"ids": top.tolist(),
                              "tokens": [self.tokenizer.decode([int(t)]) for t in top],
                              "probs": [float(row[t]) for t in top]})
            return {"masks": masks, "probs": probs}
        logits = self._logits(hm)
        pos = tf.constant(np.maximum(self.metric.positions, 0))
        at = tf.gather(logits, pos, batch_dims=1)
        loss = self.metric.score(at, np.arange(len(self.ids))).numpy()
        return {"loss": float(loss.mean()), "per_text": loss}

    # --- state changes ----------------------------------------------------------------------
    def _check(self, layer: int, head: int | None = None) -> None:
        if not 0 <= int(layer) < self.n_layers or (head is not None and
                                                     not 0 <= int(head) < self.n_heads):
            raise WidgetInputError(f"No head L{layer}H{head} in a {self.n_layers} x "
                                   f"{self.n_heads} model.")

    def set_head(self, layer: int, head: int, ablated: bool) -> None:
        self._check(layer, head)
        self.head_mask[layer, head] = 0.0 if ablated else 1.0

    def toggle(self, layer: int, head: int) -> None:
        self.set_head(layer, head, bool(self.head_mask[layer, head]))

    def reset(self) -> None:
        self.head_mask[:] = 1.0

    def ablate_layer(self, layer: int) -> None:
        self._check(layer)
        self.head_mask[layer] = 0.0

    @property
    def importance(self) -> np.ndarray:
        """Michel importance [layers, heads] of the unablated model, computed once."""
        if self._importance is None:
            from roberta_lab.engine.importance import michel_importance  # noqa: PLC0415

            self._importance = michel_importance(self.model, self.ids, self.attention_mask,
                                                 self.metric)
        return self._importance

    def importance_order(self, least: bool = True) -> list[tuple[int, int]]:
        flat = self.importance.ravel()
        order = np.argsort(flat if least else -flat, kind="stable")
        return [divmod(int(i), self.n_heads) for i in order]

    def ablate_by_importance(self, k: int, least: bool = True) -> list[tuple[int, int]]:
        """Mask exactly the k least (or most) important heads; returns them in order."""
        k = int(k)
        if not 0 <= k <= self.n_layers * self.n_heads:
            raise WidgetInputError(f"k must be between 0 and {self.n_layers * self.n_heads}.")
        chosen = self.importance_order(least)[:k]
        self.reset()
        for layer, head in chosen:
            self.head_mask[layer, head] = 0.0
        return chosen

    def sweep(self) -> Any:
        """Every single head ablated on its own (``sweep_heads``); kept in ``sweep_result``."""
        from roberta_lab.engine.ablation import sweep_heads  # noqa: PLC0415

        self.sweep_result = sweep_heads(self.model, self.ids, self.attention_mask, self.metric,
                                        compile=False, progress=False)
        return self.sweep_result

    @property
    def ablated(self) -> list[str]:
        return [f"L{l}H{h}" for l, h in zip(*np.nonzero(self.head_mask == 0))]

    # --- views ------------------------------------------------------------------------------
    def effect_figure(self, result: dict[str, Any]) -> Any:
        if self.mode == "loss":
            fig = new_figure(4.0, 2.5)
            ax = fig.add_subplot()
            ax.bar(["clean", "ablated"], [self.clean["loss"], result["loss"]],
                   color=["#4c72b0", "#dd8452"])
            ax.set_ylabel("masked-LM loss")
            ax.set_title(f"{len(self.ablated)} heads ablated", fontsize=9)
            return fig
        n = len(result["masks"])
        fig = new_figure(7.0, (0.35 * self.top_k + 1.0) * n)
        for i, (c, a) in enumerate(zip(self.clean["masks"], result["masks"])):
            for j, (name, r, color) in enumerate((("clean", c, "#4c72b0"),
                                                  ("ablated", a, "#dd8452"))):
                ax = fig.add_subplot(n, 2, 2 * i + j + 1)
                ax.barh(range(len(r["probs"])), r["probs"][::-1], color=color)
                ax.set_yticks(range(len(r["probs"])), [repr(t) for t in r["tokens"]][::-1],
                              fontsize=8)
                ax.set_xlim(0, 1)
                ax.set_title(f"<mask> #{i + 1} {name}", fontsize=9)
        return fig

    def importance_figure(self) -> Any:
        return heatmap_figure(self.importance, x_labels=range(self.n_heads),
                              y_labels=range(self.n_layers), xlabel="head", ylabel="layer",
                              title="Michel importance", cmap="magma", annotate=True)

    def sweep_figure(self) -> Any:
        if self.sweep_result is None:
            raise WidgetInputError("Run the sweep first.")
        return heatmap_figure(self.sweep_result.grid - self.sweep_result.baseline,
                              x_labels=range(self.n_heads), y_labels=range(self.n_layers),
                              xlabel="head", ylabel="layer", cmap="RdBu_r", annotate=True,
                              title="loss change when ablating each head alone")
