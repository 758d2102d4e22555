"""HookPoint: a named place in the forward pass where user functions may read or replace a tensor.

A HookPoint is the identity until functions are attached (TransformerLens' design). Keras has no
forward-hook registry, so the model calls its hook points explicitly: ``x = self.hook_q(x)``.
With no functions attached a hook point costs one Python attribute check per call and adds no
graph op. Functions run eagerly, or at trace time inside ``tf.function``/XLA (then they must use
TensorFlow ops, and the traced graph contains them).

A hook function has TransformerLens' signature ``fn(activation, hook) -> None | tensor``: return
None to only read, or a tensor of the same shape to replace the activation.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

HookFn = Callable[[Any, "HookPoint"], Any]


class HookPoint:
    """A named identity point; ``name`` is its public hook name (e.g. ``blocks.0.attn.hook_q``)."""

    def __init__(self, name: str):
        self.name = name
        self.fns: list[HookFn] = []

    def add(self, fn: HookFn) -> None:
        if not callable(fn):
            raise TypeError(f"hook for {self.name!r} must be callable, got {type(fn).__name__}")
        self.fns.append(fn)

    def clear(self) -> None:
        self.fns.clear()

    def __call__(self, x: Any) -> Any:
        for fn in self.fns:
            result = fn(x, self)
            if result is not None:
                if getattr(result, "shape", None) is not None and hasattr(x, "shape") and \
                        tuple(result.shape) != tuple(x.shape) and \
                        None not in tuple(x.shape) and None not in tuple(result.shape):
                    raise ValueError(f"hook on {self.name!r} returned shape {tuple(result.shape)}; "
                                     f"expected {tuple(x.shape)}")
                x = result
        return x

    def __repr__(self) -> str:
        return f"HookPoint({self.name!r}, {len(self.fns)} fn)"


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
