"""Input attributions at the word embeddings: saliency, gradient x input, integrated gradients
and SmoothGrad, batched, eager or compiled.

All take ``(model, inputs, target, ...)`` (inputs in any of the seed's formats, target a
``(positions, token_ids)`` pair or a callable readout, see ``targets``) and return an
``Attribution`` whose ``attributions`` are [batch, seq] ([batch, choices, seq] for multiple
choice), one score per token, signed except for saliency (a gradient norm). Gradients are
taken at the word embeddings ``hook_embed``, before position and type embeddings are added,
so RoBERTa's pad-dependent position ids never change.

Integrated gradients (Sundararajan et al. 2017) runs all interpolation steps of all rows as one
batch (``chunk_size`` rows per forward+backward) and reports its completeness error,
sum_i IG_i - (f(x) - f(baseline)), per row; a relative error above ``tolerance`` warns that the
integral has not converged (use more steps). Baselines: ``"pad"``, ``"mask"`` (needs
``mask_token_id``), ``"zero"`` (a zero embedding), a token id, ids [batch, seq] or embeddings
[batch, seq, d_model]; special tokens (``<s>``, ``</s>``, pads) keep their own embedding unless
``keep_special=False``.

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM, integrated_gradients
    >>> keras.utils.set_random_seed(0)
    >>> model = TFRobertaForMaskedLM(RobertaConfig(vocab_size=99, hidden_size=32,
    ...     num_hidden_layers=2, num_attention_heads=4, intermediate_size=37))
    >>> ig = integrated_gradients(model, np.array([[0, 5, 6, 2]]), (2, 7), n_steps=16)
    >>> ig.attributions.shape, bool(abs(ig.completeness_error[0]) < 1e-3)
    ((1, 4), True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from .targets import as_feed, compiled, repeat_rows, values
from .task_readouts import pair_index, pair_table, task_pair


@dataclass
class Attribution:
    """method; attributions [batch, seq]; input_ids [batch, seq]; value [batch] (the target at
    the input); extra: method-specific arrays (for integrated gradients ``completeness_error``,
    ``delta`` = f(x) - f(baseline), ``baseline_value``, ``relative_error``)."""

    method: str
    attributions: np.ndarray
    input_ids: np.ndarray
    value: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"Attribution({vars(self).get('method')}) has no {name!r}")


def word_embeddings(model: Any, ids: np.ndarray) -> np.ndarray:
    """The word embedding rows of ids: [batch, seq] -> [batch, seq, d_model] (float32)."""
    return tf.gather(model.roberta.embeddings.word_embeddings, ids).numpy()


def embedding_gradients(model: Any, feed: dict, target: Any, embeds: np.ndarray,
                        rows: np.ndarray, *, chunk_size: int = 64,
                        compile: bool | str = False) -> tuple[np.ndarray, np.ndarray]:
    """The target and its gradient with the word embeddings replaced by ``embeds``
    [rows, seq, d_model]; ``rows`` [rows] says which input row each one is.
    Returns (values [rows], gradients [rows, seq, d_model])."""
    ids = feed["input_ids"]
    batch, seq = ids.shape[0], ids.shape[-1]
    pair = None if callable(target) else \
        task_pair(model, target, batch, seq, int(np.prod(ids.shape[1:-1])))
    key = ("embed_grad", "pair" if pair is not None else id(target))

    def build():
        def fn(inputs: dict, emb: tf.Tensor, index: tf.Tensor | None):
            with tf.GradientTape() as tape:
                tape.watch(emb)
                def swap(x, hook):  # multiple choice: emb [rows, choices, seq, d] -> trunk rows
                    return tf.reshape(tf.cast(emb, x.dtype), tf.shape(x))

                with model.hooks([("hook_embed", swap)]):
                    out = model(inputs)
                if index is not None:
                    v = tf.gather_nd(pair_table(model, out), index)
                else:
                    v = values(target, out, emb.shape[0] or tf.shape(emb)[0])
                total = tf.reduce_sum(v)  # rows are independent: one backward for all
            return v, tape.gradient(total, emb)
        return fn

    fn = compiled(model, key, build, compile)
    vals, grads = [], []
    for start in range(0, len(rows), chunk_size):
        part = rows[start:start + chunk_size]
        inputs = {k: tf.constant(v) for k, v in repeat_rows(feed, part).items()}
        index = None
        if pair is not None:
            index = tf.constant(pair_index(model, pair[0][part], pair[1][part]))
        v, g = fn(inputs, tf.constant(embeds[start:start + chunk_size], tf.float32), index)
        if g is None:
            g = tf.zeros_like(embeds[start:start + chunk_size])
        vals.append(v.numpy().astype(np.float64))
        grads.append(g.numpy().astype(np.float64))
    return np.concatenate(vals), np.concatenate(grads)


def _special(model: Any, ids: np.ndarray) -> np.ndarray:
    cfg = model.config
    keep = [t for t in (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) if t is not None]
    return np.isin(ids, keep)


def baseline_embeddings(model: Any, ids: np.ndarray, baseline: Any = "pad", *,
                        mask_token_id: int | None = None, keep_special: bool = True
                        ) -> np.ndarray:
    """The baseline's word embeddings [batch, seq, d_model] (see the module docstring)."""
    emb = word_embeddings(model, ids)
    if isinstance(baseline, str):
        if baseline == "zero":
            base = np.zeros_like(emb)
        elif baseline in ("pad", "mask"):
            tid = model.config.pad_token_id if baseline == "pad" else \
                (mask_token_id if mask_token_id is not None
                 else getattr(model.config, "mask_token_id", None))
            if tid is None:
                raise ValueError("baseline='mask' needs mask_token_id= (the tokenizer's "
                                 "mask_token_id)")
            base = word_embeddings(model, np.full_like(ids, tid))
        else:
            raise ValueError(f"baseline must be 'pad', 'mask', 'zero', a token id or an array; "
                             f"got {baseline!r}")
    else:
        arr = np.asarray(baseline)
        if arr.ndim == 0 and arr.dtype.kind in "iu":
            base = word_embeddings(model, np.full_like(ids, int(arr)))
        elif arr.dtype.kind in "iu" and arr.shape == ids.shape:
            base = word_embeddings(model, arr.astype(np.int32))
        elif arr.dtype.kind == "f" and arr.shape == emb.shape:
            base = arr.astype(np.float32)
        else:
            raise ValueError(f"baseline array must be ids {ids.shape} or embeddings "
                             f"{emb.shape}; got {arr.dtype} {arr.shape}")
    if keep_special:
        base = np.where(_special(model, ids)[..., None], emb, base)
    return base


def quadrature(n_steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """(alphas, weights) of an n-step rule on [0, 1] (captum's names)."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if method == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(n_steps)
        return (x + 1) / 2, w / 2
    step = 1.0 / n_steps
    if method == "riemann_left":
        return np.arange(n_steps) * step, np.full(n_steps, step)
    if method == "riemann_right":
        return np.arange(1, n_steps + 1) * step, np.full(n_steps, step)
    if method == "riemann_middle":
        return (np.arange(n_steps) + 0.5) * step, np.full(n_steps, step)
    if method == "riemann_trapezoid":
        if n_steps < 2:
            raise ValueError("riemann_trapezoid needs n_steps >= 2")
        w = np.full(n_steps, 1.0 / (n_steps - 1))
        w[[0, -1]] /= 2
        return np.linspace(0, 1, n_steps), w
    raise ValueError(f"method must be 'gausslegendre', 'riemann_left', 'riemann_right', "
                     f"'riemann_middle' or 'riemann_trapezoid'; got {method!r}")


def integrated_gradients(model: Any, inputs: Any, target: Any, *, baseline: Any = "pad",
                         n_steps: int = 64, method: str = "gausslegendre",
                         mask_token_id: int | None = None, keep_special: bool = True,
                         tolerance: float = 0.05, chunk_size: int | None = None,
                         compile: bool | str = False) -> Attribution:
    """IG_i = sum_d (e - e')_id * integral_0^1 df/de_id(e' + a (e - e')) da, per token.

    All batch rows x ``n_steps`` interpolation points (plus the two end points) run as one
    batch, ``chunk_size`` rows per forward+backward (default: n_steps + 2, one input row's
    path per pass). ``extra``: completeness_error [batch],
    relative_error [batch] (|error| / |delta|), delta [batch], baseline_value [batch].
    """
    feed = as_feed(model, inputs)
    ids = feed["input_ids"]
    batch = ids.shape[0]
    e = word_embeddings(model, ids).astype(np.float64)
    e0 = baseline_embeddings(model, ids, baseline, mask_token_id=mask_token_id,
                             keep_special=keep_special).astype(np.float64)
    alphas, weights = quadrature(n_steps, method)
    alphas = np.concatenate([alphas, [0.0, 1.0]])  # the end points give f(x') and f(x)
    rows = np.repeat(np.arange(batch), len(alphas))
    a = np.tile(alphas, batch).reshape((-1,) + (1,) * (e.ndim - 1))
    path = e0[rows] + a * (e[rows] - e0[rows])
    vals, grads = embedding_gradients(model, feed, target, path, rows,
                                      chunk_size=chunk_size or len(alphas), compile=compile)
    vals = vals.reshape(batch, -1)
    grads = grads.reshape(batch, len(alphas), *e.shape[1:])[:, :n_steps]
    avg = np.einsum("k,bk...->b...", weights, grads)
    attr = np.einsum("...d,...d->...", e - e0, avg)
    err = attr.reshape(batch, -1).sum(1) - (vals[:, -1] - vals[:, -2])
    value, base_value = vals[:, -1], vals[:, -2]
    delta = value - base_value
    rel = np.abs(err) / np.maximum(np.abs(delta), 1e-12)
    if np.any(rel > tolerance):
        warnings.warn(f"integrated_gradients: completeness error up to {rel.max():.1%} of "
                      f"f(x) - f(baseline) with n_steps={n_steps}; the integral has not "
                      "converged, use more steps", stacklevel=2)
    return Attribution("integrated_gradients", attr, ids, value,
                       dict(completeness_error=err, relative_error=rel, delta=delta,
                            baseline_value=base_value, baseline=baseline, n_steps=n_steps))


def saliency(model: Any, inputs: Any, target: Any, *, compile: bool | str = False
             ) -> Attribution:
    """||df/de_i||_2 per token (unsigned); ``extra["gradients"]`` [batch, seq, d_model]."""
    feed = as_feed(model, inputs)
    ids = feed["input_ids"]
    rows = np.arange(ids.shape[0])
    v, g = embedding_gradients(model, feed, target, word_embeddings(model, ids), rows,
                               compile=compile)
    return Attribution("saliency", np.linalg.norm(g, axis=-1), ids, v, dict(gradients=g))


def grad_x_input(model: Any, inputs: Any, target: Any, *, compile: bool | str = False
                 ) -> Attribution:
    """sum_d df/de_id * e_id per token (signed; not complete, depends on the origin)."""
    feed = as_feed(model, inputs)
    ids = feed["input_ids"]
    e = word_embeddings(model, ids)
    v, g = embedding_gradients(model, feed, target, e, np.arange(ids.shape[0]), compile=compile)
    return Attribution("grad_x_input", np.einsum("...d,...d->...", g, e), ids, v,
                       dict(gradients=g))


def smooth_grad(model: Any, inputs: Any, target: Any, *, n_samples: int = 32,
                noise_level: float = 0.15, base: str = "grad_x_input", seed: int = 0,
                chunk_size: int = 64, compile: bool | str = False) -> Attribution:
    """SmoothGrad (Smilkov et al. 2017): the mean of ``base`` ("grad_x_input" or "saliency")
    over ``n_samples`` copies of the word embeddings with Gaussian noise of standard deviation
    ``noise_level`` x (max - min) of each row's embeddings; all samples run as one batch."""
    if base not in ("grad_x_input", "saliency"):
        raise ValueError(f"base must be 'grad_x_input' or 'saliency', got {base!r}")
    feed = as_feed(model, inputs)
    ids = feed["input_ids"]
    batch = ids.shape[0]
    e = word_embeddings(model, ids)
    axes = tuple(range(1, e.ndim))
    sigma = noise_level * (e.max(axes) - e.min(axes))  # [batch]
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(batch), n_samples)
    scale = sigma[rows].reshape((-1,) + (1,) * (e.ndim - 1))
    noisy = e[rows] + rng.normal(size=(len(rows),) + e.shape[1:]) * scale
    noisy = noisy.astype(np.float32)
    _, g = embedding_gradients(model, feed, target, noisy, rows, chunk_size=chunk_size,
                               compile=compile)
    per = (np.einsum("...d,...d->...", g, noisy) if base == "grad_x_input"
           else np.linalg.norm(g, axis=-1))
    value, _ = embedding_gradients(model, feed, target, e, np.arange(batch), compile=compile)
    return Attribution("smooth_grad", per.reshape(batch, n_samples, -1).mean(1).reshape(ids.shape),
                       ids, value,
                       dict(base=base, noise_sigma=sigma, n_samples=n_samples))
