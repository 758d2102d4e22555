"""Fill-mask: predictions for each ``<mask>``, evaluating the output layer only where it is read.

The seed's recipe computes logits for every position ([batch, seq, 50265] for roberta-base) and
then picks the mask row. Here the trunk runs as usual, the final hidden states are gathered at
the mask positions, and only those rows go through the LM head — the same numbers, without
the largest matrix multiply of the model at every other position.

Example:
    >>> fill_mask(model, tokenizer, "The capital of France is <mask>.")     # doctest: +SKIP
    [[{'token': 2201, 'token_str': ' Paris', 'score': 0.93}, ...]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def _compiled(model: Any):
    fn = model.__dict__.get("_mask_logits_fn")
    if fn is None:
        def run(v: dict, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
            hidden = model.roberta.call(v)["last_hidden_state"]  # [batch, seq, d_model]
            picked = tf.gather_nd(hidden, tf.stack([rows, cols], axis=1))  # [n_masks, d_model]
            return model.lm_head.unembed(model.lm_head.transform(picked))  # [n_masks, vocab]
        fn = model.__dict__["_mask_logits_fn"] = tf.function(run, reduce_retracing=True)
    return fn


def mask_logits(model: Any, input_ids: Any, attention_mask: Any = None, *,
                mask_token_id: int) -> tf.Tensor:
    """Logits at every position where ``input_ids == mask_token_id``: [n_masks, vocab], in
    row-major order of the positions."""
    v = model._prepare(input_ids, {} if attention_mask is None else
                       {"attention_mask": attention_mask})
    where = np.argwhere(v["input_ids"].numpy() == mask_token_id)
    if len(where) == 0:
        raise ValueError(f"input_ids contains no mask token (id {mask_token_id})")
    return _compiled(model)(v, tf.constant(where[:, 0], tf.int32), tf.constant(where[:, 1], tf.int32))


def fill_mask(model: Any, tokenizer: Any, text: str | list[str], *, top_k: int = 5
              ) -> list[list[dict[str, Any]]]:
    """Top-k candidates for each ``<mask>`` in ``text`` (one list per mask, in order; for a
    list of texts, the masks of all texts in order)."""
    if isinstance(text, str):
        texts = [text]
    elif isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
        texts = list(text)
    else:
        raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive int, got {top_k!r}")
    for t in texts:
        if not t.strip():
            raise ValueError("text is empty")
        if tokenizer.mask_token not in t:
            raise ValueError(f"text must contain {tokenizer.mask_token}: {t!r}")
    enc = tokenizer(texts, padding=True, return_tensors="np")
    limit = model.config.max_sequence_length
    if enc["input_ids"].shape[1] > limit:
        raise ValueError(f"text is {enc['input_ids'].shape[1]} tokens long; the model reads at "
                         f"most {limit}")
    logits = mask_logits(model, enc["input_ids"], enc["attention_mask"],
                         mask_token_id=tokenizer.mask_token_id).numpy()
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    results = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:top_k]
        results.append([{"token": int(i), "token_str": tokenizer.decode([int(i)]),
                         "score": float(row[i])} for i in best])
    return results
