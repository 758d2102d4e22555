"""Activation patching (denoising): copy clean activations into a corrupted run, one condition
at a time, and measure how much of the clean behaviour comes back.

score = (metric(patched) - metric(corrupted)) / (metric(clean) - metric(corrupted)):
1 = the patched site restores the clean result fully, 0 = it does nothing.

A *condition* is ``(hook_name, where)``: ``where`` is a boolean array that broadcasts against
the hook's activation without its batch axis (``[pos, 1]`` picks positions of a
``[batch, pos, d_model]`` stream, ``[1, head, 1]`` heads of ``[batch, pos, head, d_head]``).
Conditions run BATCHED: the corrupted input is repeated ``chunk_size`` times along the batch
axis and one hook per hook name replaces, row by row, only what that row's condition selects
(``tf.where``, so untouched values are bit-for-bit the corrupted run's). One forward per chunk.

The metric takes the model output and returns one value per batch row, ``[batch]``
(``logit_diff`` builds the usual one). Clean and corrupted inputs are one sequence each
(``[seq]`` or ``[1, seq]``) of the same length.

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM
    >>> from roberta_lab.patching import patch_residual
    >>> keras.utils.set_random_seed(0)
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> model = TFRobertaForMaskedLM(cfg)
    >>> res = patch_residual(model, [0, 5, 6, 98, 2], [0, 9, 6, 98, 2], targets=(7, 8),
    ...                      position=3, progress=False)
    >>> res.scores.shape, res.row_labels[-1]
    ((3, 5), 'resid_post 1')
    >>> round(float(res.scores[-1, 3]), 4)  # the last stream at the read-out position: all of it
    1.0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

Metric = Callable[[Any], Any]
Condition = tuple  # (hook_name, bool array broadcastable to activation.shape[1:])


def logit_diff(correct_id: int, wrong_id: int, position: int = -1) -> Metric:
    """Metric: logits[:, position, correct] - logits[:, position, wrong] -> [batch]."""
    def metric(out: Any) -> tf.Tensor:
        logits = out.logits if hasattr(out, "logits") else out[0]
        at = logits[:, position]
        return at[:, correct_id] - at[:, wrong_id]
    return metric


@dataclass
class PatchingResult:
    """scores, patched: [rows, cols] (normalised effect, raw metric of the patched run);
    row_labels / col_labels name them (e.g. "resid_pre 3" x "pos 5", "L2" x "H7");
    clean, corrupted: the metric of the unpatched runs."""

    kind: str
    scores: np.ndarray
    patched: np.ndarray
    clean: float
    corrupted: float
    row_labels: list[str]
    col_labels: list[str]

    def to_rows(self) -> list[dict[str, Any]]:
        return [dict(kind=self.kind, row=r, col=c, score=float(self.scores[i, j]),
                     patched=float(self.patched[i, j]))
                for i, r in enumerate(self.row_labels) for j, c in enumerate(self.col_labels)]

    def top(self, k: int = 5) -> list[tuple[str, str, float]]:
        """The k cells with the largest |score|."""
        order = np.argsort(-np.abs(np.nan_to_num(self.scores)).ravel())[:k]
        n_col = self.scores.shape[1]
        return [(self.row_labels[i // n_col], self.col_labels[i % n_col],
                 float(self.scores.ravel()[i])) for i in order]


def _one_row(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x)
    a = a[None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[0] != 1:
        raise ValueError(f"{name} must be one sequence, [seq] or [1, seq]; got shape {a.shape}")
    return a


def _values(metric: Metric, out: Any, rows: int) -> np.ndarray:
    v = metric(out)
    v = np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64).reshape(-1)
    if v.shape != (rows,):  # a scalar (a mean over the batch) would mix the conditions
        raise ValueError(f"metric must return one value per batch row, shape ({rows},); got "
                         f"{v.shape}")
    return v


def run_conditions(model: Any, clean_ids: Any, corrupted_ids: Any, conditions: Sequence[Condition],
                   metric: Metric, *, attention_mask: Any = None, chunk_size: int = 16,
                   compile: bool | str = False, progress: bool = True
                   ) -> tuple[np.ndarray, float, float]:
    """The metric of the corrupted run with each condition patched in from the clean run.

    Returns (patched [n_conditions], clean, corrupted). ``attention_mask`` ([seq] / [1, seq])
    is used for both runs. ``compile`` goes to ``run_with_hooks``: the hook functions and the
    chunk shape stay fixed over the sweep (masks live in variables, the last chunk is padded),
    so a compiled sweep traces once.
    """
    from tqdm.auto import tqdm

    clean = _one_row(clean_ids, "clean_ids")
    corrupt = _one_row(corrupted_ids, "corrupted_ids")
    if clean.shape != corrupt.shape:
        raise ValueError(f"clean {clean.shape} and corrupted {corrupt.shape} differ in length")
    kw = {} if attention_mask is None else {"attention_mask": _one_row(attention_mask, "mask")}
    names = sorted({c[0] for c in conditions}, key=list(model.hook_dict).index)
    # Clean and corrupted reference runs share one forward (rows 0 and 1).
    both = np.concatenate([clean, corrupt])
    both_kw = {k: np.repeat(v, 2, axis=0) for k, v in kw.items()}
    if names:
        ref_out, cache = model.run_with_cache(both, names_filter=names, **both_kw)
    else:
        ref_out, cache = model(both, **both_kw), {}
    clean_m, corrupt_m = (float(v) for v in _values(metric, ref_out, 2))
    n = len(conditions)
    if n == 0:
        return np.zeros(0), clean_m, corrupt_m
    chunk = max(1, min(chunk_size, n))

    # One mask variable per hook name, [chunk, *activation.shape[1:]-broadcastable]: assigning
    # it per chunk keeps the hook functions (and so a compiled trace) the same for the sweep.
    shapes = {nm: cache[nm].shape[1:] for nm in names}
    masks = {nm: tf.Variable(tf.zeros((chunk,) + shapes[nm], tf.bool), trainable=False)
             for nm in names}
    clean_acts = {nm: tf.constant(cache[nm][:1]) for nm in names}

    def make_hook(nm: str) -> Callable:
        def hook(x: tf.Tensor, hook_point: Any) -> tf.Tensor:
            src = tf.cast(clean_acts[nm], x.dtype)  # [1, ...] broadcasts over the chunk rows
            return tf.where(masks[nm], src, x)
        return hook

    hooks = [(nm, make_hook(nm)) for nm in names]
    batch_ids = np.repeat(corrupt, chunk, axis=0)
    if kw:
        kw = {"attention_mask": np.repeat(kw["attention_mask"], chunk, axis=0)}
    out = np.empty(n)
    bar = tqdm(total=n, desc="patching", disable=not progress, leave=False)
    for start in range(0, n, chunk):
        part = conditions[start:start + chunk]
        for nm in names:
            m = np.zeros((chunk,) + shapes[nm], bool)
            for row, (cname, where) in enumerate(part):
                if cname == nm:
                    m[row] = np.broadcast_to(np.asarray(where, bool), shapes[nm])
            masks[nm].assign(m)
        # Rows past the end of the last chunk carry no patch and are dropped.
        res = model.run_with_hooks(batch_ids, fwd_hooks=hooks, compile=compile, **kw)
        out[start:start + len(part)] = _values(metric, res, chunk)[:len(part)]
        bar.update(len(part))
    bar.close()
    return out, clean_m, corrupt_m


def _score(patched: np.ndarray, clean: float, corrupted: float) -> np.ndarray:
    denom = clean - corrupted
    # float32 forwards: a difference at rounding level is no difference at all
    if abs(denom) <= 1e-6 * max(1.0, abs(clean)):
        warnings.warn("clean and corrupted metrics are equal: normalised scores are undefined "
                      "(nan)", stacklevel=3)
        return np.full_like(patched, np.nan)
    return (patched - corrupted) / denom


def _sweep(kind: str, model: Any, clean_ids: Any, corrupted_ids: Any, grid: list[list[Condition]],
           row_labels: list[str], col_labels: list[str], metric: Metric | None,
           targets: tuple[int, int] | None, position: int, **kw: Any) -> PatchingResult:
    if metric is None:
        if targets is None:
            raise ValueError("give metric=, or targets=(correct_id, wrong_id) for the default "
                             "logit difference")
        metric = logit_diff(targets[0], targets[1], position)
    flat = [c for row in grid for c in row]
    patched, clean, corrupt = run_conditions(model, clean_ids, corrupted_ids, flat, metric, **kw)
    patched = patched.reshape(len(grid), len(grid[0]))
    return PatchingResult(kind, _score(patched, clean, corrupt), patched, clean, corrupt,
                          row_labels, col_labels)


def _pos_masks(seq: int, per_position: bool) -> tuple[list[np.ndarray], list[str]]:
    if not per_position:
        return [np.ones((seq, 1), bool)], ["all"]
    return [np.eye(seq, dtype=bool)[:, p:p + 1] for p in range(seq)], \
        [f"pos {p}" for p in range(seq)]


def patch_residual(model: Any, clean_ids: Any, corrupted_ids: Any, metric: Metric | None = None,
                   *, targets: tuple[int, int] | None = None, position: int = -1,
                   per_position: bool = True, **kw: Any) -> PatchingResult:
    """Residual stream by layer x position: rows ``resid_pre 0 .. L-1`` and ``resid_post L-1``,
    columns the positions (or one "all" column with ``per_position=False``).
    scores: [L + 1, seq | 1]. ``kw``: attention_mask, chunk_size, compile, progress."""
    seq = _one_row(clean_ids, "clean_ids").shape[1]
    n_layers = model.config.num_hidden_layers
    names = [f"blocks.{l}.hook_resid_pre" for l in range(n_layers)] + \
        [f"blocks.{n_layers - 1}.hook_resid_post"]
    labels = [f"resid_pre {l}" for l in range(n_layers)] + [f"resid_post {n_layers - 1}"]
    where, cols = _pos_masks(seq, per_position)
    grid = [[(nm, w) for w in where] for nm in names]
    return _sweep("resid", model, clean_ids, corrupted_ids, grid, labels, cols, metric, targets,
                  position, **kw)


def patch_heads(model: Any, clean_ids: Any, corrupted_ids: Any, metric: Metric | None = None, *,
                targets: tuple[int, int] | None = None, position: int = -1,
                **kw: Any) -> PatchingResult:
    """Each head's output ``blocks.{l}.attn.hook_z`` (all positions), one head at a time.
    scores: [L, n_heads]."""
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    eye = np.eye(n_heads, dtype=bool)
    grid = [[(f"blocks.{l}.attn.hook_z", eye[h][None, :, None]) for h in range(n_heads)]
            for l in range(n_layers)]
    return _sweep("head", model, clean_ids, corrupted_ids, grid,
                  [f"L{l}" for l in range(n_layers)], [f"H{h}" for h in range(n_heads)],
                  metric, targets, position, **kw)


def patch_block_outputs(model: Any, clean_ids: Any, corrupted_ids: Any,
                        metric: Metric | None = None, *, component: str = "attn_out",
                        targets: tuple[int, int] | None = None, position: int = -1,
                        per_position: bool = False, **kw: Any) -> PatchingResult:
    """``blocks.{l}.hook_attn_out`` or ``hook_mlp_out`` by layer (one "all" column), or by
    layer x position with ``per_position=True``. scores: [L, 1 | seq]."""
    if component not in ("attn_out", "mlp_out"):
        raise ValueError(f"component must be 'attn_out' or 'mlp_out', got {component!r}")
    seq = _one_row(clean_ids, "clean_ids").shape[1]
    n_layers = model.config.num_hidden_layers
    where, cols = _pos_masks(seq, per_position)
    grid = [[(f"blocks.{l}.hook_{component}", w) for w in where] for l in range(n_layers)]
    return _sweep(component, model, clean_ids, corrupted_ids, grid,
                  [f"L{l}" for l in range(n_layers)], cols, metric, targets, position, **kw)
