"""What an ablation sweep (and Michel importance, and a study) measures: a ``Metric`` read at a
few positions per text, scored by one function (``score``) that runs eagerly or inside the
sweep's compiled functions; builders for the masked-LM loss, a classifier's gold label and a
question-answering span; ``mask_random_tokens`` for a masked-LM metric on plain texts.

Example:
    >>> import numpy as np
    >>> labels = np.full((1, 5), -100); labels[0, 2] = 7
    >>> m = masked_lm_metric(labels)
    >>> m.kind, m.positions.tolist(), m.targets.tolist()
    ('loss', [[2]], [[7]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

from ..model.arguments import int_array, mask_array, seed_value

KINDS = ("loss", "logprob", "logit_diff", "accuracy", "span")


@dataclass
class Metric:
    """What a sweep measures, read at a few positions per text.

    positions [texts, P] (-1 = unused slot); targets [texts, P]; distractors [texts, P] for
    ``logit_diff``. ``kind``: "loss" (mean cross-entropy of the targets, e.g. masked-LM loss),
    "logprob" (mean log-probability of the targets) or "logit_diff" (mean target minus
    distractor logit). Per text the value is the mean over its used positions.
    Task heads (``classification_metric``, ``span_metric``): "accuracy" (1 where the target
    is the argmax), "span" (question answering: log P(start) + log P(end), each a softmax over
    the positions; targets[:, 0] is the start, targets[:, 1] the end).
    """

    kind: str
    positions: np.ndarray
    targets: np.ndarray
    distractors: np.ndarray | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Metric.kind must be one of {KINDS}, got {self.kind!r}")
        self.positions = int_array("Metric.positions", self.positions, -1)
        self.targets = int_array("Metric.targets", self.targets, 0)
        if self.positions.ndim != 2 or self.positions.shape != self.targets.shape:
            raise ValueError(f"Metric.positions and targets must both be [texts, P]; got "
                             f"{self.positions.shape} and {self.targets.shape}")
        if not (self.positions >= 0).any(axis=1).all():
            raise ValueError("Metric.positions: every text needs at least one position (>= 0)")
        if self.kind == "logit_diff":
            if self.distractors is None or np.shape(self.distractors) != self.targets.shape:
                raise ValueError("Metric.distractors must be [texts, P] for kind='logit_diff'")
            self.distractors = int_array("Metric.distractors", self.distractors, 0)

    def check(self, n_texts: int, seq: int, vocab: int) -> None:
        """The metric fits the inputs: one row per text, positions < seq, ids < vocab."""
        if self.positions.shape[0] != n_texts:
            raise ValueError(f"metric covers {self.positions.shape[0]} texts, input_ids has "
                             f"{n_texts}")
        int_array("Metric.positions", self.positions, -1, seq)
        int_array("Metric.targets", self.targets, 0, vocab)
        if self.distractors is not None:
            int_array("Metric.distractors", self.distractors, 0, vocab)

    def score(self, logits: tf.Tensor, rows: np.ndarray) -> tf.Tensor:
        """logits [rows, P, vocab] at this metric's positions for texts ``rows`` -> [rows]."""
        return score(self.kind, logits, *self.row_arrays(rows))

    def row_arrays(self, rows: np.ndarray) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(used [rows, P] float, targets [rows, P], distractors [rows, P]) for texts ``rows``."""
        distractors = self.targets if self.distractors is None else self.distractors
        return (tf.constant((self.positions[rows] >= 0).astype(np.float32)),
                tf.constant(self.targets[rows]), tf.constant(distractors[rows]))


def score(kind: str, logits: tf.Tensor, used: tf.Tensor, targets: tf.Tensor,
           distractors: tf.Tensor) -> tf.Tensor:
    """The metric per row: logits [rows, P, vocab], used/targets/distractors [rows, P] -> [rows].
    Plain tensor code, so it runs eagerly or inside the sweep's compiled function."""
    used = tf.cast(used, logits.dtype)
    if kind == "span":  # logits [rows, P, 2]: start and end over the positions
        logp = tf.nn.log_softmax(tf.where(used[..., None] > 0, logits, logits.dtype.min), axis=1)
        return (tf.gather(logp[..., 0], targets[:, 0], batch_dims=1) +
                tf.gather(logp[..., 1], targets[:, 1], batch_dims=1))
    if kind == "accuracy":
        value = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=targets.dtype), targets),
                        logits.dtype)
    elif kind == "logit_diff":
        value = (tf.gather(logits, targets, batch_dims=2) -
                 tf.gather(logits, distractors, batch_dims=2))
    else:
        value = tf.gather(tf.nn.log_softmax(logits, axis=-1), targets, batch_dims=2)
        if kind == "loss":
            value = -value
    return tf.reduce_sum(value * used, axis=1) / tf.reduce_sum(used, axis=1)


def masked_lm_metric(labels: np.ndarray) -> Metric:
    """Masked-LM loss at the labelled positions (labels [texts, seq], -100 = not scored)."""
    labels = int_array("labels", labels, 0, allowed=(-100,), ndim=2)
    if not (labels != -100).any(axis=1).all():
        row = int(np.flatnonzero(~(labels != -100).any(axis=1))[0])
        raise ValueError(f"labels: text {row + 1} has no labelled position (all -100)")
    n = int((labels != -100).sum(axis=1).max())
    positions = np.full((len(labels), n), -1, np.int32)
    targets = np.zeros((len(labels), n), np.int32)
    for i, row in enumerate(labels):
        where = np.flatnonzero(row != -100)
        positions[i, :len(where)], targets[i, :len(where)] = where, row[where]
    return Metric("loss", positions, targets)


def classification_metric(labels: np.ndarray, kind: str = "logprob") -> Metric:
    """A sequence classifier's log-probability ("logprob") or accuracy ("accuracy") of the
    gold label (labels [texts]), read at ``<s>`` where the classification head reads."""
    labels = np.asarray(labels, np.int32).reshape(-1, 1)
    return Metric(kind, np.zeros_like(labels), labels)


def span_metric(start_positions: np.ndarray, end_positions: np.ndarray, seq_len: int) -> Metric:
    """Question answering: log P(gold start) + log P(gold end) per text, each a softmax over
    all ``seq_len`` positions as in the model's loss (so the value is -2 x its per-text loss)."""
    start, end = np.asarray(start_positions, np.int32), np.asarray(end_positions, np.int32)
    positions = np.broadcast_to(np.arange(seq_len, dtype=np.int32), (len(start), seq_len))
    targets = np.zeros_like(positions)
    targets[:, 0], targets[:, 1] = start, end
    if start.min() < 0 or end.min() < 0 or max(start.max(), end.max()) >= seq_len:
        raise ValueError(f"start/end positions must be in [0, {seq_len})")
    return Metric("span", positions, targets)



def mask_random_tokens(ids: np.ndarray, mask: np.ndarray, special_ids: Iterable[int],
                       mask_token_id: int, rate: float = 0.15,
                       seed: int | Sequence[int] = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mask a fixed, seeded share of each row's real non-special tokens, for a masked-LM loss
    metric on plain texts. Returns (masked ids, labels with -100 elsewhere); ``ids`` is not
    changed. A row with nothing to mask is a ValueError naming the row (1-based)."""
    ids = int_array("input_ids", ids, 0, ndim=2)
    mask = mask_array("attention_mask", mask, ids.shape)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise ValueError(f"rate must be in (0, 1], got {rate!r}")
    labels = np.full(ids.shape, -100, np.int64)
    # A seed is an int, or a sequence of ints (numpy's SeedSequence entropy: a study seeds each
    # text with (seed, text id)); each part is checked.
    if isinstance(seed, (list, tuple)):
        rng = np.random.default_rng([seed_value(f"seed[{i}]", s) for i, s in enumerate(seed)])
    else:
        rng = np.random.default_rng(seed_value("seed", seed))
    special = set(int(i) for i in special_ids)
    for row in range(len(ids)):
        cand = [p for p in range(ids.shape[1]) if mask[row, p] and int(ids[row, p]) not in special]
        if not cand:
            raise ValueError(f"text {row + 1} has no token to mask")
        n = max(1, int(round(rate * len(cand))))
        chosen = np.sort(rng.choice(cand, size=n, replace=False))
        labels[row, chosen] = ids[row, chosen]
        ids[row, chosen] = mask_token_id
    return ids, labels
