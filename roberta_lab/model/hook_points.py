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
