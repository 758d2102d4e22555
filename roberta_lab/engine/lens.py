"""Logit lens: read every layer's residual stream through the LM head (nostalgebraist 2020).

For layer l the lens distribution is ``p_l = softmax(unembed(transform(h_l)))`` where ``h_l``
is ``blocks.0.hook_resid_pre`` (the embeddings output, layer "embed") or
``blocks.{l}.hook_resid_post``, and ``transform`` / ``unembed`` are the model's own ``lm_head``
(dense -> GELU -> LayerNorm, then the tied decoder + bias). RoBERTa is post-LN: every block ends in a LayerNorm, so each residual
stream is already normalised and goes into the head as it is (no extra ``ln_final`` as in GPT-2's
lens). The last layer's lens is therefore exactly the model's own logits.

The head is evaluated only at the chosen (batch, position) pairs: the streams are gathered first,
so the cost is ``[layer * n_positions, vocab]``, never ``[layer, batch, seq, vocab]``.

Works for ``TFRobertaForMaskedLM`` (default positions: the ``<mask>`` tokens) and
``TFRobertaForCausalLM`` (default positions: each row's last real token; the lens then predicts
the next token, and the default target is the actual next token where there is one).

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM
    >>> from roberta_lab.lens import logit_lens
    >>> keras.utils.set_random_seed(0)
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> model = TFRobertaForMaskedLM(cfg)
    >>> res = logit_lens(model, np.array([[0, 5, 98, 7, 2]]), mask_token_id=98, target_ids=7, k=3)
    >>> res.top_ids.shape, res.layers
    ((3, 1, 3), ['embed', '0', '1'])
    >>> float(res.kl[-1, 0])
    0.0
    >>> row = res.to_rows()[-1]
    >>> row["layer"], row["position"], row["kl"], len(row["top_ids"])
    ('1', 2, 0.0, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import tensorflow as tf


@dataclass
class LensResult:
    """Per layer and chosen position. ``L1 = num_layers + 1`` (embed + every block), ``n`` the
    number of chosen (batch, position) pairs, ``k`` the top-k.

    layers: labels, ``["embed", "0", ..., str(L-1)]``.
    positions: [n, 2] int, the (batch row, sequence position) of each column.
    top_ids, top_probs: [L1, n, k], the most probable tokens, most probable first.
    target_ids: [n] int, -1 where there is no target.
    rank: [L1, n] int, 0-based rank of the target (number of tokens with a strictly larger
        logit; 0 = top-1); -1 without a target.
    prob: [L1, n] float, the target's probability (nan without a target).
    kl: [L1, n] float, KL(p_final || p_layer) in nats; 0 at the last layer.
    entropy: [L1, n] float, entropy of p_layer in nats.
    top_tokens: [L1][n][k] strings when a tokenizer was given, else None.
    """

    layers: list[str]
    positions: np.ndarray
    top_ids: np.ndarray
    top_probs: np.ndarray
    target_ids: np.ndarray
    rank: np.ndarray
    prob: np.ndarray
    kl: np.ndarray
    entropy: np.ndarray
    top_tokens: list | None = field(default=None, repr=False)

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per (layer, position), layers outermost: a tidy table without pandas
        (``pandas.DataFrame(res.to_rows())`` works if you have it)."""
        rows = []
        for li, name in enumerate(self.layers):
            for j, (b, p) in enumerate(self.positions):
                rows.append(dict(
                    layer=name, batch=int(b), position=int(p),
                    target=int(self.target_ids[j]), rank=int(self.rank[li, j]),
                    prob=float(self.prob[li, j]), kl=float(self.kl[li, j]),
                    entropy=float(self.entropy[li, j]),
                    top_ids=[int(t) for t in self.top_ids[li, j]],
                    top_probs=[float(q) for q in self.top_probs[li, j]],
                    top_tokens=None if self.top_tokens is None else self.top_tokens[li][j]))
        return rows


def _is_causal(model: Any) -> bool:
    return bool(getattr(model.config, "is_decoder", False)) or \
        type(model).__name__ == "TFRobertaForCausalLM"


def _choose_positions(ids: np.ndarray, mask: np.ndarray, positions: Any, causal: bool,
                      mask_token_id: int | None) -> np.ndarray:
    """-> [n, 2] (batch, position) pairs."""
    batch, seq = ids.shape
    if positions is None:
        if causal:  # the last real token of each row predicts what comes next
            last = np.array([np.flatnonzero(m)[-1] if m.any() else seq - 1 for m in mask])
            return np.stack([np.arange(batch), last], axis=1)
        if mask_token_id is None:
            raise ValueError("logit_lens on a masked LM needs mask_token_id (or tokenizer=) to "
                             "find the <mask> positions, or explicit positions=")
        pairs = np.argwhere(ids == mask_token_id)
        if len(pairs) == 0:
            raise ValueError(f"no <mask> token (id {mask_token_id}) in input_ids")
        return pairs
    pos = np.asarray(positions, dtype=np.int64)
    if pos.ndim <= 1:  # the same positions in every row; negative counts from the end
        pos = np.atleast_1d(pos) % seq
        return np.stack(np.meshgrid(np.arange(batch), pos, indexing="ij"), -1).reshape(-1, 2)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ValueError(f"positions must be ints or (batch, position) pairs, got shape "
                         f"{pos.shape}")
    return np.stack([pos[:, 0] % batch, pos[:, 1] % seq], axis=1)


def _targets(target_ids: Any, pairs: np.ndarray, ids: np.ndarray, mask: np.ndarray,
             causal: bool) -> np.ndarray:
    n, seq = len(pairs), ids.shape[1]
    if target_ids is None:
        if not causal:
            return np.full(n, -1)
        # causal: the real next token, where the input has one
        nxt = pairs[:, 1] + 1
        ok = nxt < seq
        out = np.full(n, -1)
        out[ok] = ids[pairs[ok, 0], nxt[ok]]
        out[ok] = np.where(mask[pairs[ok, 0], nxt[ok]] > 0, out[ok], -1)
        return out
    t = np.asarray(target_ids, dtype=np.int64)
    return np.full(n, int(t)) if t.ndim == 0 else t.reshape(n)


def logit_lens(model: Any, input_ids: Any, attention_mask: Any = None, *,
               positions: Any = None, target_ids: Any = None, k: int = 5,
               mask_token_id: int | None = None, tokenizer: Any = None,
               compile: bool | str = False, **model_kwargs: Any) -> LensResult:
    """Logit lens of a ``TFRobertaForMaskedLM`` / ``TFRobertaForCausalLM``.

    input_ids: [batch, seq] ints. attention_mask: [batch, seq] or None.
    positions: None (masked LM: every ``input_ids == mask_token_id``; causal LM: each row's last
        real token), ints (the same positions in every row, negatives from the end) or an
        [n, 2] array of (batch, position) pairs.
    target_ids: None, one int, or [n] ints (one per chosen position). For a causal LM None means
        the actual next token where the input has one.
    mask_token_id: the ``<mask>`` id; taken from ``tokenizer.mask_token_id`` if not given.
    tokenizer: optional; also turns ``top_ids`` into ``top_tokens`` strings.
    compile: passed to ``run_with_cache``. Other keyword arguments go to the model.
    Returns a ``LensResult`` with ``[layer, position, ...]`` arrays.
    """
    lm_head = getattr(model, "lm_head", None)
    if lm_head is None:
        raise TypeError("logit_lens needs a model with an LM head (TFRobertaForMaskedLM or "
                        "TFRobertaForCausalLM)")
    ids = np.asarray(input_ids)
    if ids.ndim == 1:
        ids = ids[None]
    mask = np.ones_like(ids) if attention_mask is None else \
        np.asarray(attention_mask).reshape(ids.shape)
    if mask_token_id is None and tokenizer is not None:
        mask_token_id = tokenizer.mask_token_id
    causal = _is_causal(model)
    pairs = _choose_positions(ids, mask, positions, causal, mask_token_id)
    targets = _targets(target_ids, pairs, ids, mask, causal)

    n_layers = model.config.num_hidden_layers
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{l}.hook_resid_post" for l in range(n_layers)]
    if attention_mask is not None:
        model_kwargs["attention_mask"] = mask
    _, cache = model.run_with_cache(ids, names_filter=names, compile=compile, **model_kwargs)
    # Gather first: [L1, n, d_model], so the head never sees the whole sequence.
    resid = np.stack([cache[nm][pairs[:, 0], pairs[:, 1]] for nm in names])
    l1, n, d = resid.shape
    flat = tf.convert_to_tensor(resid.reshape(l1 * n, d))
    logits = lm_head.unembed(lm_head.transform(flat)).numpy().reshape(l1, n, -1)

    # float64 for the softmax statistics: KL of nearly equal distributions is a small difference.
    logp = logits.astype(np.float64)
    logp = logp - logp.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    probs = np.exp(logp)
    kl = np.sum(probs[-1] * (logp[-1] - logp), axis=-1)  # KL(final || layer) -> [L1, n]
    entropy = -np.sum(probs * logp, axis=-1)
    k = min(k, logits.shape[-1])
    top = np.argsort(-logits, axis=-1, kind="stable")[..., :k]
    top_probs = np.take_along_axis(probs, top, -1)

    has = targets >= 0
    safe = np.where(has, targets, 0)
    t_logit = np.take_along_axis(logits, np.broadcast_to(safe[None, :, None], (l1, n, 1)), -1)
    # rank = how many tokens beat the target strictly (ties do not push it down)
    rank = np.where(has, (logits > t_logit).sum(-1), -1)
    prob = np.where(has, np.take_along_axis(probs, np.broadcast_to(safe[None, :, None],
                                                                     (l1, n, 1)), -1)[..., 0],
                    np.nan)
    tokens = None
    if tokenizer is not None:
        tokens = [[tokenizer.convert_ids_to_tokens([int(t) for t in row]) for row in lay]
                  for lay in top]
    return LensResult(layers=["embed"] + [str(l) for l in range(n_layers)], positions=pairs,
                      top_ids=top, top_probs=top_probs.astype(np.float32), target_ids=targets,
                      rank=rank, prob=prob, kl=kl, entropy=entropy, top_tokens=tokens)


def lens_table(result: LensResult, columns: Sequence[str] = ("layer", "position", "rank", "prob",
                                                              "kl", "top_tokens")) -> str:
    """A plain-text table of ``result.to_rows()`` for notebooks and logs."""
    rows = result.to_rows()
    if result.top_tokens is None:
        columns = [c if c != "top_tokens" else "top_ids" for c in columns]
    cells = [[c for c in columns]] + [[_fmt(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return " ".join(_fmt(x) for x in v)
    return str(v)
