"""HookPoint: a named place in the forward pass where user functions may read or replace a tensor.

A HookPoint is the identity until functions are attached (TransformerLens' design). Keras has no
forward-hook registry, so the model calls its hook points explicitly: ``x = self.hook_q(x)``.
With no functions attached a hook point costs one Python attribute check per call and adds no
graph op. Functions run eagerly, or at trace time inside ``tf.function``/XLA (then they must use
TensorFlow ops, and the traced graph contains them).

A hook function has TransformerLens' signature ``fn(activation, hook) -> None | tensor``: return
None to only read, or a tensor of the same shape and dtype to replace the activation (checked at
every call and every trace, naming the hook: statically where shapes are known, else by an
assert in graphs and, under XLA where asserts are dropped, by a NaN result).

Hook state belongs to a call, not to the model: hooks attached with ``model.hooks()`` (and so by
``run_with_hooks``/``run_with_cache``) live in a ``contextvars`` registry, visible only to the
thread (or asyncio task) that attached them, so concurrent calls on one model never see each
other's hooks. ``HookPoint.add`` attaches a persistent hook that every call sees.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterable, Iterator

import numpy as np

HookFn = Callable[[Any, "HookPoint"], Any]

# HookPoint -> the functions this call attached, in order. Replaced, never mutated, so a
# context that copied it (a thread started inside a ``with``) cannot be changed by another.
_CALL_HOOKS: contextvars.ContextVar[dict] = contextvars.ContextVar("roberta_lab_hooks", default={})


@contextlib.contextmanager
def call_hooks(pairs: Iterable[tuple["HookPoint", HookFn]]) -> Iterator[None]:
    """Attach (hook point, fn) pairs for this thread's calls inside the ``with`` block."""
    new = dict(_CALL_HOOKS.get())
    for point, fn in pairs:
        if not callable(fn):
            raise TypeError(f"hook for {point.name!r} must be callable, got {type(fn).__name__}")
        new[point] = new.get(point, ()) + (fn,)
    token = _CALL_HOOKS.set(new)
    try:
        yield
    finally:
        _CALL_HOOKS.reset(token)


def attached_fns(point: "HookPoint") -> tuple:
    """The functions a call made here would run at ``point`` (persistent, then this call's)."""
    return tuple(point.fns) + _CALL_HOOKS.get().get(point, ())


def any_attached(points: Iterable["HookPoint"]) -> bool:
    """Whether a call made here would run a hook at any of ``points``."""
    active = _CALL_HOOKS.get()
    return any(p.fns or p in active for p in points)


class HookPoint:
    """A named identity point; ``name`` is its public hook name (e.g. ``blocks.0.attn.hook_q``)."""

    def __init__(self, name: str):
        self.name = name
        self.fns: list[HookFn] = []
        # Told which functions were removed (the model's registry of compiled functions drops
        # what was traced with them); set by the model when it lists its hook points.
        self.on_removed: Callable[[Iterable[HookFn]], None] | None = None

    def add(self, fn: HookFn) -> None:
        """Attach ``fn`` for every call, from every thread, until ``clear``."""
        if not callable(fn):
            raise TypeError(f"hook for {self.name!r} must be callable, got {type(fn).__name__}")
        self.fns.append(fn)

    def clear(self) -> None:
        removed = tuple(self.fns)
        self.fns.clear()
        if removed and self.on_removed is not None:
            self.on_removed(removed)

    def __call__(self, x: Any) -> Any:
        fns = self.fns
        active = _CALL_HOOKS.get()
        if active and self in active:
            fns = list(fns) + list(active[self])
        for fn in fns:
            result = fn(x, self)
            if result is not None:
                x = self._checked(x, result)
        return x

    def _checked(self, x: Any, result: Any) -> Any:
        """``result`` if it can replace ``x`` (same dtype and shape); else an error naming the
        hook. Shapes unknown at trace time are checked when the graph runs."""
        import tensorflow as tf  # noqa: PLC0415  (loaded by then; keeps this module light)

        if isinstance(result, np.ndarray):
            result = tf.convert_to_tensor(result)
        if not isinstance(result, (tf.Tensor, tf.Variable)):
            raise TypeError(f"hook on {self.name!r} returned {type(result).__name__}; return None "
                            "or a tensor like its input")
        if result.dtype != x.dtype:
            raise TypeError(f"hook on {self.name!r} returned dtype {result.dtype.name}; expected "
                            f"{x.dtype.name} (tf.cast the result)")
        got, want = result.shape, x.shape
        if got.rank != want.rank or any(a is not None and b is not None and a != b
                                        for a, b in zip(got.as_list(), want.as_list())):
            raise ValueError(f"hook on {self.name!r} returned shape {tuple(got)}; expected "
                             f"{tuple(want)}")
        if got.is_fully_defined() and want.is_fully_defined():
            return result
        ok = tf.reduce_all(tf.equal(tf.shape(result), tf.shape(x)))
        check = tf.debugging.Assert(ok, [f"hook on {self.name!r} returned a tensor whose shape "
                                         "differs from its input's", tf.shape(result),
                                         tf.shape(x)])
        with tf.control_dependencies([check]):
            result = tf.identity(result)
        # XLA drops the assert: a wrong shape gives NaN, never a silently broadcast answer.
        return tf.where(ok, result, tf.constant(float("nan"), result.dtype))

    def __repr__(self) -> str:
        return f"HookPoint({self.name!r}, {len(self.fns)} fn)"

    # Identity semantics (the registry is keyed by the point itself).
    __hash__ = object.__hash__


def iter_hook_points(obj: Any, _seen: set[int] | None = None) -> Iterator[HookPoint]:
    """Every HookPoint reachable from ``obj``'s attributes (layers, lists of layers)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, HookPoint):
        yield obj
        return
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from iter_hook_points(item, seen)
        return
    attrs = getattr(obj, "__dict__", None)
    if attrs is None or not _is_layer(obj):
        return
    for key, value in list(attrs.items()):
        if key.startswith("_") and not key.startswith("_layers"):
            continue
        if isinstance(value, HookPoint) or _is_layer(value) or isinstance(value, (list, tuple)):
            yield from iter_hook_points(value, seen)


def _is_layer(obj: Any) -> bool:
    import keras  # noqa: PLC0415  (keras is loaded by then; keeps this module light)

    return isinstance(obj, keras.layers.Layer)


# --- the public hook list ------------------------------------------------------------------------
# Shapes use TransformerLens' letters. pos = this call's tokens; k_pos = keys (cache included);
# enc_pos = the encoder's tokens. Ordered as the forward pass runs.
HOOK_SHAPES: dict[str, str] = {
    "hook_embed": "[batch, pos, d_model]",
    "hook_pos_embed": "[batch, pos, d_model]",
    "hook_token_type_embed": "[batch, pos, d_model]",
    "hook_full_embed": "[batch, pos, d_model]",
    "blocks.{l}.hook_resid_pre": "[batch, pos, d_model]",
    "blocks.{l}.attn.hook_q": "[batch, pos, head, d_head]",
    "blocks.{l}.attn.hook_k": "[batch, pos, head, d_head]",
    "blocks.{l}.attn.hook_v": "[batch, pos, head, d_head]",
    "blocks.{l}.attn.hook_attn_scores": "[batch, head, pos, k_pos]",
    "blocks.{l}.attn.hook_pattern": "[batch, head, pos, k_pos]",
    "blocks.{l}.attn.hook_z": "[batch, pos, head, d_head]",
    "blocks.{l}.hook_attn_out": "[batch, pos, d_model]",
    "blocks.{l}.hook_resid_mid": "[batch, pos, d_model]",
    "blocks.{l}.cross_attn.hook_q": "[batch, pos, head, d_head]",
    "blocks.{l}.cross_attn.hook_k": "[batch, enc_pos, head, d_head]",
    "blocks.{l}.cross_attn.hook_v": "[batch, enc_pos, head, d_head]",
    "blocks.{l}.cross_attn.hook_attn_scores": "[batch, head, pos, enc_pos]",
    "blocks.{l}.cross_attn.hook_pattern": "[batch, head, pos, enc_pos]",
    "blocks.{l}.cross_attn.hook_z": "[batch, pos, head, d_head]",
    "blocks.{l}.hook_cross_attn_out": "[batch, pos, d_model]",
    "blocks.{l}.hook_resid_mid_cross": "[batch, pos, d_model]",
    "blocks.{l}.mlp.hook_pre": "[batch, pos, d_mlp]",
    "blocks.{l}.mlp.hook_post": "[batch, pos, d_mlp]",
    "blocks.{l}.hook_mlp_out": "[batch, pos, d_model]",
    "blocks.{l}.hook_resid_post": "[batch, pos, d_model]",
    "lm_head.hook_in": "[batch, pos, d_model]",
    "lm_head.hook_transformed": "[batch, pos, d_model]",
    "lm_head.hook_logits": "[batch, pos, d_vocab]",
}


def hook_names(num_layers: int, cross_attention: bool = False, lm_head: bool = False) -> list[str]:
    """Every hook name of a model with this shape, in forward order."""
    names: list[str] = []
    for pattern in HOOK_SHAPES:
        if ".cross_attn." in pattern or "cross_attn_out" in pattern or "mid_cross" in pattern:
            if not cross_attention:
                continue
        if pattern.startswith("lm_head.") and not lm_head:
            continue
        if "{l}" in pattern:
            continue
        names.append(pattern)
    per_layer = [p for p in HOOK_SHAPES if "{l}" in p and (
        cross_attention or not (".cross_attn." in p or "cross_attn_out" in p or "mid_cross" in p))]
    block = [n for layer in range(num_layers) for n in (p.format(l=layer) for p in per_layer)]
    top = [n for n in names if not n.startswith("lm_head.")]
    return top + block + [n for n in names if n.startswith("lm_head.")]
