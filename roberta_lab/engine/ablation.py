"""Head ablation sweeps: knock out heads (zero or mean) and measure a metric, batched.

A sweep evaluates many conditions (every single head, every whole layer, or chosen sets of
heads). Rather than one forward pass per condition, it

* runs the clean input once and keeps the residual stream entering every layer and every head's
  output ``z``: ablating a head in layer l cannot change anything below l, nor layer l's
  queries, keys, values and pattern, so each condition starts from layer l's clean ``z`` with
  its heads ablated (about half the layer work of a full pass for single heads);
* stacks conditions x texts as rows of one batch, each row with its own head mask
  (``head_mask`` of shape [rows, layers, heads]) or its own mean-ablation indicator;
* evaluates the 50k-word output layer only at the positions the metric reads.

Zero-ablation multiplies a head's attention pattern by 0 (``head_mask``), which removes its
output. Mean-ablation replaces the head's ``z`` [batch, pos, head, d_head] by its mean over the
non-pad tokens of a reference set (Wang et al. 2022 style), via ``blocks.{l}.attn.hook_z``.

Example:
    >>> metric = masked_lm_metric(labels)                                     # doctest: +SKIP
    >>> result = sweep_heads(model, ids, mask, metric)                        # doctest: +SKIP
    >>> result.grid.shape, result.rows()[0]                                   # doctest: +SKIP
    ((4, 8), {'layer': 0, 'head': 0, 'metric': 2.31, 'delta': 0.04})
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..model.arguments import int_array, mask_array, positive_int, seed_value
from ..model.inputs import engine_inputs
from . import replicas


# --- metrics ------------------------------------------------------------------------------------
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


def refuse_choices(model: Any) -> None:
    """Multiple choice is refused: its softmax runs across rows (choices)."""
    if getattr(model, "has_choices", False):
        raise ValueError("sweeps and importance score each text on its own; a multiple-choice "
                         "model's softmax spans its choices (rows), which they cannot measure")


def head_logits_at(model: Any, h: tf.Tensor) -> tf.Tensor:
    """The model's output layer on final hidden states at the metric's positions
    [rows, P, d_model] -> [rows, P, vocab | labels | 2]: the LM head, or a task head's
    ``head_logits``. Multiple choice is refused: its softmax runs across rows (choices)."""
    refuse_choices(model)
    task = getattr(model, "head_logits", None)
    if task is not None:
        return task(h)
    return model.lm_head.logits(h)


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


# --- the batched tail of the network ------------------------------------------------------------
# Blocks start..L-1 from a given residual stream, then the LM head at a few positions, through
# the block's own steps (attend, after_attention, at_positions). The compiled functions live in
# the model's registry (owner "sweep"): one per start layer and ablation method, or one per
# fused small sweep.
def _compiled(model: Any, compile: bool | str, key: tuple, fn: Any) -> Any:
    if not compile:
        return fn
    return model.compiled_functions.get(
        "sweep", (compile,) + key,
        lambda: tf.function(fn, reduce_retracing=True, jit_compile=compile == "xla"))


def _tail_fn(model: Any, compile: bool | str, start: int, is_mean: bool) -> Any:
    return _compiled(model, compile, ("tail", start, is_mean),
                     lambda *a: _tail(model, start, *a))


def _fused_fn(model: Any, compile: bool | str, kind: str, starts: tuple, is_mean: bool) -> Any:
    """A whole small sweep as ONE compiled call: the clean pass (its residual stream at each
    start layer and its metric), every start layer's tail, and the scoring.
    Arguments: ids, mask, clean (positions, used, targets, distractors) per text, and per job
    (rows_texts, head_mask, mean_z, indicator, positions, used, targets, distractors).
    Returns (baseline [texts], [values [rows] per job])."""
    def run(ids, mask, clean, args):
        hidden, zs, logits = _clean(model, ids, mask, clean[0])
        baseline = score(kind, logits, *clean[1:])
        values = []
        for start, (rows, head_mask, mean_z, indicator, pos, *read) in zip(starts, args):
            x, z = tf.gather(hidden[start], rows), tf.gather(zs[start], rows)
            values.append(score(kind, _tail(model, start, x, z, tf.gather(mask, rows),
                                             head_mask, mean_z, indicator, pos), *read))
        return baseline, values
    return _compiled(model, compile, ("fused", kind, starts, is_mean), run)


def _clean(model: Any, ids: tf.Tensor, mask: tf.Tensor, positions: tf.Tensor) -> tuple:
    """The unablated pass: (resid_pre of every layer, z of every layer, LM logits at
    ``positions``)."""
    trunk = model.roberta
    zs = {}
    with model.hooks([(_is_self_z, lambda z, hook: zs.__setitem__(hook.name, z))]):
        inputs = engine_inputs(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        hidden = trunk.call(inputs).hidden_states  # (layers + 1) x [texts, seq, d_model]
    h = tf.gather(hidden[-1], positions, batch_dims=1)
    z_by_layer = [zs[f"blocks.{layer}.attn.hook_z"] for layer in range(len(trunk.blocks))]
    return hidden, z_by_layer, head_logits_at(model, h)


def _tail(model: Any, start: int, x, z, mask, head_mask, mean_z, indicator, positions):
    """x: the clean resid_pre of layer ``start`` [rows, seq, d_model]; z: that layer's clean
    z [rows, seq, head, d_head] -> LM logits at ``positions`` [rows, P, vocab]."""
    trunk = model.roberta
    blocks = trunk.blocks
    self_mask = trunk.self_mask(mask, tf.shape(x)[1])
    last = len(blocks) - 1
    # The lowest ablated layer reads the clean stream, so its queries, keys, values and
    # pattern are the clean run's: only its heads' outputs z change. Start from them.
    if mean_z is None:
        z = z * tf.cast(head_mask[:, start], z.dtype)[:, None, :, None]
    else:
        z = _mean_replace(z, indicator[:, start], mean_z[start])
    if start == last:  # only the metric's positions are needed
        x, z = tf.gather(x, positions, batch_dims=1), tf.gather(z, positions, batch_dims=1)
        h = blocks[start].after_attention(x, z)[0]
        return head_logits_at(model, h)  # [rows, P, vocab | labels]
    x = blocks[start].after_attention(x, z)[0]
    hooks = []
    if mean_z is not None:  # mean-ablation above the start layer, through hook_z
        for layer in range(start + 1, len(blocks)):
            hooks.append((f"blocks.{layer}.attn.hook_z",
                          lambda z_, hook, layer=layer: _mean_replace(
                              z_, indicator[:, layer], mean_z[layer])))
    with model.hooks(hooks):
        for layer in range(start + 1, last):
            hm = None if head_mask is None else head_mask[:, layer]
            x = blocks[layer](x, self_mask, hm)[0]
        hm = None if head_mask is None else head_mask[:, last]
        h = blocks[last].at_positions(x, positions, self_mask, hm)
    return head_logits_at(model, h)  # [rows, P, vocab | labels]


def _is_self_z(name: str) -> bool:
    return name.endswith(".attn.hook_z") and ".cross_attn." not in name


def _mean_replace(z: tf.Tensor, indicator: tf.Tensor, mean: tf.Tensor) -> tf.Tensor:
    """z [rows, pos, head, d_head] with the indicated heads (indicator [rows, head], 1 = ablate)
    replaced by their mean (mean [head, d_head])."""
    ind = tf.cast(indicator, z.dtype)[:, None, :, None]  # [rows, 1, head, 1]
    return z * (1.0 - ind) + tf.cast(mean, z.dtype)[None, None] * ind


# --- results ------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """A tidy table: one entry per condition (label, layers, heads, metric, delta)."""

    baseline: float
    labels: list[str]
    conditions: list[list[tuple[int, int]]]
    metric: np.ndarray            # [conditions] mean over texts
    per_text: np.ndarray          # [conditions, texts]
    grid: np.ndarray | None = None  # [layers, heads] for single-head sweeps
    extra: dict = field(default_factory=dict)

    @property
    def delta(self) -> np.ndarray:
        return self.metric - self.baseline

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for label, cond, m, d in zip(self.labels, self.conditions, self.metric, self.delta):
            layers = sorted({lyr for lyr, _ in cond})
            heads = [h for _, h in cond]
            out.append({"condition": label, "layer": layers[0] if len(layers) == 1 else layers,
                        "head": heads[0] if len(heads) == 1 else heads,
                        "metric": float(m), "delta": float(d)})
        return out

    def to_csv(self, path: str) -> None:
        """Write the rows atomically: a temporary file in the same folder, then a rename, so an
        interrupted or failed write (full disk) leaves any earlier file as it was."""
        import io  # noqa: PLC0415

        from ..model.files import write_atomic  # noqa: PLC0415

        rows = self.rows()
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(path, buf.getvalue().encode("utf-8"))


# --- sweeps -------------------------------------------------------------------------------------
def head_means(model: Any, input_ids: np.ndarray, attention_mask: np.ndarray | None = None
               ) -> np.ndarray:
    """Each head's mean ``z`` over the non-pad tokens of a reference set: [layer, head, d_head]."""
    _, cache = model.run_with_cache(input_ids, attention_mask=attention_mask,
                                    names_filter=lambda n: n.endswith("attn.hook_z"))
    z = cache.stack_activation("z")  # [layer, batch, pos, head, d_head]
    keep = np.ones(np.shape(input_ids), bool) if attention_mask is None else \
        np.asarray(attention_mask).astype(bool)
    return z[:, keep].mean(axis=1)


def _SWEEP_NAMES(name: str) -> bool:  # a module-level function: compiled runs are cached by it
    return name.endswith("hook_resid_pre") or _is_self_z(name) or name == "lm_head.hook_logits"


def sweep(model: Any, input_ids: np.ndarray, attention_mask: np.ndarray | None, metric: Metric,
          conditions: Sequence[Iterable[tuple[int, int]]], *, method: str = "zero",
          means: np.ndarray | None = None, labels: Sequence[str] | None = None,
          chunk_size: int | None = None, compile: bool | str = True, progress: bool = True,
          memory_mb: int = 256, strategy: Any = None) -> SweepResult:
    """Evaluate ``metric`` with each condition's heads ablated. A condition is a set of
    (layer, head) pairs. Rows = conditions x texts, run ``chunk_size`` rows at a time (by
    default as many as keep one layer's activations under ``memory_mb``). With a
    ``tf.distribute`` ``strategy`` each chunk's rows are spread over its replicas
    (``roberta_lab.replicas``); the numbers are the same.

    ``compile``: True (tf.function, the default), False (eager) or "xla" (jit_compile: on a
    small model about 1.4x faster per sweep, where the cost of each op rather than the
    arithmetic dominates, but each new input shape compiles for several seconds; worth it for
    many sweeps at one shape, e.g. a probe set padded to one length)."""
    if method not in ("zero", "mean"):
        raise ValueError(f"method must be 'zero' or 'mean', got {method!r}")
    if compile not in (True, False, "xla"):
        raise ValueError(f"compile must be True, False or 'xla', got {compile!r}")
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    ids = int_array("input_ids", input_ids, 0, cfg.vocab_size, ndim=2)
    mask = np.ones_like(ids) if attention_mask is None else \
        mask_array("attention_mask", attention_mask, ids.shape)
    refuse_choices(model)
    model.prepare_inputs(ids, attention_mask=mask)  # shapes and positions against the config
    if not isinstance(metric, Metric):
        raise TypeError(f"metric must be a Metric, got {type(metric).__name__}")
    metric.check(len(ids), ids.shape[1], cfg.vocab_size)
    rows, cols = np.nonzero(metric.positions >= 0)
    # A span metric's softmax runs over every position, padding included, as the QA loss does.
    on_pad = (mask[rows, metric.positions[rows, cols]] == 0) & (metric.kind != "span")
    if on_pad.any():
        row, col = int(rows[on_pad][0]), int(metric.positions[rows[on_pad][0], cols[on_pad][0]])
        raise ValueError(f"Metric.positions: text {row + 1} is scored at position {col}, which "
                         "attention_mask marks as padding")
    chunk_size = positive_int("chunk_size", chunk_size, allow_none=True)
    memory_mb = positive_int("memory_mb", memory_mb)
    if isinstance(conditions, (str, bytes)) or not isinstance(conditions, Iterable):
        raise TypeError(f"conditions must be a list of [(layer, head), ...], got "
                        f"{type(conditions).__name__}")
    conditions = [list(c) if isinstance(c, Iterable) and not isinstance(c, (str, bytes))
                  else _bad_condition(c) for c in conditions]
    if not conditions:
        raise ValueError("conditions is empty: give at least one set of (layer, head) pairs")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(conditions):
            raise ValueError(f"labels has {len(labels)} entries for {len(conditions)} "
                             "conditions; give one label per condition")
    if chunk_size is None:
        seq = ids.shape[1]
        per_row = 4 * seq * (cfg.intermediate_size + 4 * cfg.hidden_size + 2 * H * seq)
        chunk_size = int(max(1, min(len(ids) * len(conditions), memory_mb * 2**20 // per_row)))
    conds = [sorted(set(_pair(p) for p in c)) for c in conditions]
    for c in conds:
        if not c or any(not (0 <= l < L and 0 <= h < H) for l, h in c):
            raise ValueError(f"conditions: {c} is empty or names a head outside {L} x {H}")
    if method == "mean":
        if means is None:
            raise ValueError("method='mean' needs means=head_means(model, reference_ids, mask)")
        means = np.asarray(means)
        if means.dtype.kind != "f" or means.shape != (L, H, cfg.head_dim) or \
                not np.isfinite(means).all():
            raise ValueError(f"means must be finite floats of shape [layers, heads, d_head] = "
                             f"{(L, H, cfg.head_dim)}, got {means.dtype} {means.shape}")
        means = tf.constant(means.astype(np.float32))
    n_texts = len(ids)
    all_rows = np.arange(n_texts)
    pos = np.maximum(metric.positions, 0)
    per_text = np.zeros((len(conds), n_texts), np.float32)
    order = sorted(range(len(conds)), key=lambda i: conds[i][0][0])
    todo = [(ci, t) for ci in order for t in range(n_texts)]  # rows grouped by start layer
    bar = tqdm(total=len(todo), desc="ablation sweep", disable=not progress, unit="row")
    jobs = []  # (chunk, start, row texts, head mask, ablate), grouped by start layer
    i = 0
    while i < len(todo):
        start = conds[todo[i][0]][0][0]
        chunk = [r for r in todo[i:i + chunk_size] if conds[r[0]][0][0] == start]
        i += len(chunk)
        texts = np.array([t for _, t in chunk])
        # Pad to a fixed shape per start layer (one trace each), but never beyond the rows
        # that layer has: padding rows cost as much as real ones.
        group = sum(1 for ci, _ in todo if conds[ci][0][0] == start)
        pad = min(chunk_size, group) - len(chunk)
        ablate = np.zeros((len(chunk) + pad, L, H), np.float32)
        for row, (ci, _) in enumerate(chunk):
            for lyr, h in conds[ci]:
                ablate[row, lyr, h] = 1.0
        rows_texts = np.concatenate([texts, np.repeat(texts[:1], pad)])
        head_mask = tf.constant(1.0 - ablate) if method == "zero" else None
        jobs.append((chunk, start, rows_texts, head_mask, tf.constant(ablate)))
    mean_z = means if method == "mean" else None
    if strategy is not None:
        baseline_per_text, values = _run_distributed(model, strategy, ids, mask, metric, pos,
                                                     jobs, mean_z)
    elif compile and sum(len(j[2]) for j in jobs) <= chunk_size:
        # A small sweep (all rows within one chunk's memory) is ONE compiled call, clean pass
        # and scoring included: on a small model the cost of each call and each eager op, not
        # the arithmetic, is what a per-layer loop would pay.
        fused = _fused_fn(model, compile, metric.kind, tuple(job[1] for job in jobs),
                          mean_z is None)
        baseline_t, values_t = fused(
            tf.constant(ids), tf.constant(mask),
            (tf.constant(pos),) + metric.row_arrays(all_rows),
            [(tf.constant(rows), hm, mean_z, ind, tf.constant(pos[rows]))
             + metric.row_arrays(rows) for _, _, rows, hm, ind in jobs])
        baseline_per_text = baseline_t.numpy()
        values = [v.numpy() for v in values_t]
    else:
        _, cache = model.run_with_cache(ids, attention_mask=mask, compile=compile,
                                        names_filter=_SWEEP_NAMES)
        clean_logits = _clean_logits(model, cache, ids, mask, pos)
        baseline_per_text = metric.score(tf.constant(clean_logits), all_rows).numpy()
        values = []
        for _, start, rows, hm, ind in jobs:
            x = tf.gather(cache[f"blocks.{start}.hook_resid_pre"], rows)
            z = tf.gather(cache[f"blocks.{start}.attn.hook_z"], rows)
            logits = _tail_fn(model, compile, start, mean_z is not None)(
                x, z, tf.constant(mask[rows]), hm, mean_z, ind, tf.constant(pos[rows]))
            values.append(metric.score(logits, rows).numpy())
    for (chunk, *_), job_values in zip(jobs, values):
        for (ci, t), value in zip(chunk, job_values[:len(chunk)]):
            per_text[ci, t] = value
        bar.update(len(chunk))
    bar.close()
    names = list(labels) if labels is not None else \
        ["+".join(f"L{l}H{h}" for l, h in c) for c in conds]
    return SweepResult(float(baseline_per_text.mean()), names, conds, per_text.mean(axis=1),
                       per_text, extra={"baseline_per_text": baseline_per_text})


def _pair(pair: Any) -> tuple[int, int]:
    """One (layer, head) pair of a condition, as ints (bools and floats refused)."""
    try:
        layer, head = pair
    except (TypeError, ValueError):
        raise ValueError(f"conditions: each entry must be a (layer, head) pair, got {pair!r}") \
            from None
    for x in (layer, head):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            raise TypeError(f"conditions: layer and head must be ints, got {pair!r}")
    return int(layer), int(head)


def _bad_condition(c: Any) -> list:
    raise TypeError(f"conditions: each condition must be a list of (layer, head) pairs, got {c!r}")


def _clean_logits(model, cache, ids, mask, pos) -> np.ndarray:
    """The unablated output logits at ``pos`` [texts, P]: from the LM head's hook, or for a
    task head from its head on the final hidden states."""
    if "lm_head.hook_logits" in cache:
        return np.take_along_axis(cache["lm_head.hook_logits"], pos[:, :, None], axis=1)
    hidden = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
    return head_logits_at(model, tf.gather(hidden, tf.constant(pos), batch_dims=1)).numpy()


def _run_distributed(model, strategy, ids, mask, metric, pos, jobs, mean_z):
    """The non-fused path with every chunk's rows split over the strategy's replicas."""
    _, cache = model.run_with_cache(ids, attention_mask=mask, names_filter=_SWEEP_NAMES)
    clean_logits = _clean_logits(model, cache, ids, mask, pos)
    baseline = metric.score(tf.constant(clean_logits), np.arange(len(ids))).numpy()
    is_mean = mean_z is not None
    shared_mean = mean_z if is_mean else tf.zeros([0])
    values = []
    for _, start, rows, hm, ind in jobs:
        def replica(rows_, hm_, ind_, pos_, used, targets, distractors, x_all, z_all, mask_all,
                    mz, start=start):
            logits = _tail(model, start, tf.gather(x_all, rows_), tf.gather(z_all, rows_),
                           tf.gather(mask_all, rows_), None if is_mean else hm_,
                           mz if is_mean else None, ind_, pos_)
            return score(metric.kind, logits, used, targets, distractors)
        hm_rows = ind if hm is None else hm  # unused by mean-ablation; keeps one signature
        values.append(replicas.run_split(
            strategy, model.compiled_functions, ("sweep", id(strategy), start, is_mean, metric.kind),
            replica,
            [tf.constant(rows), hm_rows, ind, tf.constant(pos[rows]), *metric.row_arrays(rows)],
            [tf.constant(cache[f"blocks.{start}.hook_resid_pre"]),
             tf.constant(cache[f"blocks.{start}.attn.hook_z"]), tf.constant(mask), shared_mean]))
    return baseline, values


def sweep_heads(model: Any, input_ids, attention_mask, metric: Metric, **kw) -> SweepResult:
    """Every single head ablated on its own; ``result.grid`` is [layers, heads]."""
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    result = sweep(model, input_ids, attention_mask, metric,
                   [[(l, h)] for l in range(L) for h in range(H)], **kw)
    result.grid = result.metric.reshape(L, H)
    return result


def sweep_layers(model: Any, input_ids, attention_mask, metric: Metric, **kw) -> SweepResult:
    """Every layer's heads ablated together."""
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    return sweep(model, input_ids, attention_mask, metric,
                 [[(l, h) for h in range(H)] for l in range(L)],
                 labels=[f"L{l}" for l in range(L)], **kw)
