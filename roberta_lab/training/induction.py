"""Induction heads: the repeated-span training mix and the measurements (Olsson et al. 2022).

Training: ``add_repeats`` puts a random token span twice in a row into some packed rows
(``train.py causal --repeat-frac F``), so predicting the second copy pays off only for a model
that looks back to the token after the earlier occurrence of the current token.

Measurement: ``[<s>] + r + r`` with ``r`` of ``length`` uniformly random ordinary tokens.

* loss ratio: mean next-token loss on the second copy / mean loss on the first copy (1.0 means
  no in-context copying; a model with an induction circuit gets far below 1);
* induction score of a head: mean attention from each position of the second copy to the
  position just after the same token's earlier occurrence (``diagonal(offset=1 - length)`` of
  the ``[q, k]`` pattern, second-copy queries);
* previous-token score: mean attention on the position just before (``diagonal(-1)``).

>>> import numpy as np
>>> rows = np.array([[0, 10, 11, 12, 2, 1, 1, 1, 1, 1, 1, 1]], np.int32)
>>> out, first = add_repeats(rows, np.random.default_rng(0), frac=1.0, lo=3, hi=3, vocab_size=50)
>>> body = [int(t) for t in out[0] if t != 1]
>>> i = next(i for i in range(1, len(body)) if body[i:i + 3] == body[i + 3:i + 6])
>>> sorted(set(body) - set(rows[0])) == sorted(set(body[i:i + 3])) and len(body) == 11
True
>>> [int(t) for t in out[0][first[0]]] == body[i:i + 3]
True
"""
from __future__ import annotations

import numpy as np

BOS, PAD, N_SPECIAL = 0, 1, 5


def add_repeats(rows, rng, frac, lo, hi, vocab_size):
    """``(rows', first)``: a copy of ``rows`` [n, seq_len] where each row, with probability
    ``frac``, gets a span of ``lo..hi`` random ordinary tokens inserted twice in a row at a random
    point after ``<s>`` (the row's text after the point moves right and is cut at ``seq_len``),
    and a bool [n, seq_len] marking the first copy's positions.

    The trainer takes the first copy out of the loss: it cannot be predicted, and fitting it
    would only pull the model towards uniform guesses on ordinary text.
    Every draw comes from ``rng`` in row order, so a seeded run repeats exactly; with
    ``frac == 0`` the rng is not touched (runs without the mix are unchanged).
    """
    first = np.zeros(rows.shape, bool)
    if frac <= 0:
        return rows, first
    n, seq_len = rows.shape
    if 2 * hi + 1 > seq_len:
        raise ValueError(f"two spans of {hi} tokens do not fit rows of {seq_len}")
    out = rows.copy()
    chosen = np.flatnonzero(rng.random(n) < frac)
    for r in chosen:
        length = int(rng.integers(lo, hi + 1))
        span = rng.integers(N_SPECIAL, vocab_size, size=length).astype(rows.dtype)
        content = rows[r][rows[r] != PAD]  # <s> line </s> line </s> ...
        at = int(rng.integers(1, max(1, min(len(content), seq_len - 2 * length)) + 1))
        new = np.concatenate([content[:at], span, span, content[at:]])[:seq_len]
        out[r] = PAD
        out[r, :len(new)] = new
        first[r, at:at + length] = True
    return out, first


def repeated_sequences(n=8, length=20, vocab_size=8192, seed=0):
    """int32 [n, 1 + 2 * length]: ``<s> r r`` with ``r`` uniform over the ordinary tokens."""
    rng = np.random.default_rng(seed)
    r = rng.integers(N_SPECIAL, vocab_size, size=(n, length))
    return np.concatenate([np.full((n, 1), BOS), r, r], axis=1).astype(np.int32)


def induction_report(model, n=8, length=20, seed=0):
    """Loss on each copy, their ratio, and per-head induction and previous-token scores
    ([layer][head] lists) of a causal LM on ``repeated_sequences(n, length)``."""
    import tensorflow as tf
    ids = repeated_sequences(n, length, model.config.vocab_size, seed)
    out = model(ids, output_attentions=True)
    logp = tf.nn.log_softmax(out.logits[:, :-1], axis=-1)
    nll = -tf.gather(logp, ids[:, 1:], batch_dims=2).numpy()  # [n, 2 * length]; col t predicts t+1
    first, second = float(nll[:, :length].mean()), float(nll[:, length:].mean())
    att = np.stack([np.asarray(a) for a in out.attentions])  # [layer, n, head, q, k]
    q = np.arange(length + 1, 2 * length + 1)  # queries in the second copy
    induction = att[:, :, :, q, q - length + 1].mean(axis=(1, 3))  # [layer, head]
    qp = np.arange(1, 2 * length + 1)
    prev = att[:, :, :, qp, qp - 1].mean(axis=(1, 3))
    best = np.unravel_index(int(induction.argmax()), induction.shape)
    best_prev = np.unravel_index(int(prev.argmax()), prev.shape)
    return {"n_sequences": n, "length": length, "seed": seed,
            "loss_first_half": round(first, 4), "loss_second_half": round(second, 4),
            "loss_ratio": round(second / first, 4),
            "induction_scores": np.round(induction, 4).tolist(),
            "previous_token_scores": np.round(prev, 4).tolist(),
            "best_induction_head": {"layer": int(best[0]), "head": int(best[1]),
                                    "score": round(float(induction[best]), 4)},
            "best_previous_token_head": {"layer": int(best_prev[0]), "head": int(best_prev[1]),
                                         "score": round(float(prev[best_prev]), 4)}}
