"""The key/value cache: one contract for the three ways attention reuses keys and values.

An ``AttentionCache`` holds one attention layer's keys and values, each
[batch, head, k_pos, d_head], in one of three modes (after keras-hub's
``CachedMultiHeadAttention``: a cache plus an update index, or none for a static cache):

* **growing** (``index is None``, ``static=False``): ``update(k, v)`` appends this call's keys
  and values along k_pos. This is the seed's ``past_key_values``.
* **fixed-size buffers** (``index`` a scalar int32 tensor): the buffers are [batch, head,
  max_len, d_head] and ``update`` writes this call's keys/values at slots ``index..``; the shapes
  never change, so a compiled generation loop traces once. Slots not yet written are hidden by
  the causal mask.
* **static** (``static=True``): cross-attention's keys/values, computed once from the encoder
  states and read as they are; ``update`` is never called.

``KVCache`` is the whole model's cache: one ``LayerCache`` (self, and cross for decoders with
cross-attention) per layer, plus ``seen`` [batch, 1], the number of real (non-pad) tokens the
cache holds per row, so positions continue exactly as a full pass would count them (the
position rule is in ``embeddings.position_ids``). It reads like HF's per-layer tuples
(``cache[layer][0]`` is that layer's self-attention keys, ``len(cache)`` the number of layers),
and converts to and from them only at the public boundary (``from_legacy_cache`` /
``to_legacy_cache``), as HF's ``DynamicCache`` does.

Example:
    >>> import tensorflow as tf
    >>> k = tf.zeros([1, 2, 3, 4])
    >>> cache = AttentionCache(k, k).update(tf.ones([1, 2, 1, 4]), tf.ones([1, 2, 1, 4]))
    >>> cache.key.shape[2], int(cache.length)
    (4, 4)
    >>> fixed = AttentionCache(tf.zeros([1, 2, 8, 4]), tf.zeros([1, 2, 8, 4]), index=tf.constant(3))
    >>> fixed = fixed.update(tf.ones([1, 2, 2, 4]), tf.ones([1, 2, 2, 4]))
    >>> fixed.key.shape[2], float(tf.reduce_sum(fixed.key[0, 0, :, 0]))
    (8, 2.0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import tensorflow as tf


def tf_structure(cls: type) -> type:
    """Let ``tf.nest``/``tf.function`` and Keras' tree see through a frozen dataclass: its
    ``STATIC`` fields are Python values (part of a trace's key), the others are tensors, None or
    nested structures."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    static = tuple(n for n in names if n in cls.STATIC)
    dynamic = tuple(n for n in names if n not in cls.STATIC)

    # Only the fields that are set are components (the rest, None, are recorded in the
    # metadata): tf.nest and Keras' tree then see tensors only, and which fields are set is
    # part of a trace's key.
    def tf_flatten(self):
        present = tuple(n for n in dynamic if getattr(self, n) is not None)
        return ((tuple(getattr(self, n) for n in static), present),
                tuple(getattr(self, n) for n in present))

    def tf_unflatten(klass, meta, components):
        return klass(**dict(zip(static, meta[0])), **dict(zip(meta[1], components)))

    cls.__tf_flatten__ = tf_flatten
    cls.__tf_unflatten__ = classmethod(tf_unflatten)
    try:
        import optree  # noqa: PLC0415  (Keras 3's tree backend)

        optree.register_pytree_node(
            cls, lambda x: (list(tf_flatten(x)[1]), tf_flatten(x)[0], list(tf_flatten(x)[0][1])),
            lambda meta, children: tf_unflatten(cls, meta, children), namespace="keras")
    except (ImportError, ValueError):  # ValueError: already registered on reload
        pass
    return cls


@tf_structure
@dataclass(frozen=True)
class AttentionCache:
    """One attention's keys and values [batch, head, k_pos, d_head] (see the module docstring
    for the three modes)."""

    key: tf.Tensor
    value: tf.Tensor
    index: tf.Tensor | None = None
    static: bool = False
    STATIC = ("static",)

    def update(self, key: tf.Tensor, value: tf.Tensor) -> "AttentionCache":
        """This call's keys/values [batch, head, n, d_head] added: appended (growing) or
        written at ``index`` (fixed-size; the index moves on by n)."""
        if self.static:
            raise ValueError("a static (cross-attention) cache is read, never updated")
        if self.index is None:
            return AttentionCache(tf.concat([tf.cast(self.key, key.dtype), key], axis=2),
                                  tf.concat([tf.cast(self.value, value.dtype), value], axis=2))
        n = tf.shape(key)[2]
        return AttentionCache(_write_at(self.key, key, self.index),
                              _write_at(self.value, value, self.index), self.index + n)

    @property
    def length(self) -> Any:
        """Slots in use: k_pos for a growing or static cache, ``index`` for buffers."""
        return tf.shape(self.key)[2] if self.index is None else self.index


@tf_structure
@dataclass(frozen=True)
class LayerCache:
    """One layer's caches: self-attention, and cross-attention (static) or None."""

    self_attn: AttentionCache
    cross_attn: AttentionCache | None = None
    STATIC = ()

    def __len__(self) -> int:  # the length of HF's per-layer tuple (2, or 4 with cross)
        return 2 if self.cross_attn is None else 4

    def to_legacy(self) -> tuple[tf.Tensor, ...]:
        own = (self.self_attn.key, self.self_attn.value)
        return own if self.cross_attn is None else own + (self.cross_attn.key,
                                                          self.cross_attn.value)


@tf_structure
@dataclass(frozen=True)
class KVCache:
    """The model's cache: ``layers`` (one ``LayerCache`` each) and ``seen`` [batch, 1] int32,
    the real tokens cached per row (None: unknown, for a cache made from HF tuples)."""

    layers: tuple[LayerCache, ...]
    seen: tf.Tensor | None = None
    STATIC = ()

    @classmethod
    def from_legacy_cache(cls, past: Any, seen: tf.Tensor | None = None) -> "KVCache":
        """HF's tuple over layers of (k, v[, cross_k, cross_v]) -> a growing cache."""
        if isinstance(past, KVCache):
            return past
        return cls(tuple(LayerCache(AttentionCache(layer[0], layer[1]),
                                    AttentionCache(layer[2], layer[3], static=True)
                                    if len(layer) == 4 else None) for layer in past), seen)

    @classmethod
    def buffers(cls, layers: int, batch: Any, heads: int, max_len: Any, head_dim: int,
                dtype: tf.DType) -> "KVCache":
        """Empty fixed-size buffers [batch, head, max_len, d_head], written from slot 0."""
        zeros = tf.zeros([batch, heads, max_len, head_dim], dtype)
        start = tf.constant(0, tf.int32)
        return cls(tuple(LayerCache(AttentionCache(zeros, zeros, index=start))
                         for _ in range(layers)), tf.zeros([batch, 1], tf.int32))

    def to_legacy_cache(self) -> tuple[tuple[tf.Tensor, ...], ...]:
        return tuple(layer.to_legacy() for layer in self.layers)

    @property
    def length(self) -> Any:
        """Slots in use (the past length a new call continues from)."""
        return self.layers[0].self_attn.length

    @property
    def key_length(self) -> Any:
        """k_pos of the self-attention keys a new call attends over (before its own)."""
        return tf.shape(self.layers[0].self_attn.key)[2]

    @property
    def fixed(self) -> bool:
        return self.layers[0].self_attn.index is not None

    # HF's legacy view: cache[layer] -> (k, v[, cross_k, cross_v]); len(cache) = layers.
    def __getitem__(self, layer: int | slice) -> tuple:
        if isinstance(layer, slice):  # past[:n], as on HF's tuple
            return tuple(one.to_legacy() for one in self.layers[layer])
        return self.layers[layer].to_legacy()

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return (layer.to_legacy() for layer in self.layers)


def _write_at(buffer: tf.Tensor, new: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """buffer [batch, head, max_len, d_head] with new [batch, head, n, d_head] written at
    positions index..index+n-1 (a scatter along the position axis; works under XLA)."""
    n = tf.shape(new)[2]
    slots = tf.range(n) + tf.cast(index, tf.int32)
    moved = tf.transpose(buffer, [2, 0, 1, 3])  # [max_len, batch, head, d_head]
    moved = tf.tensor_scatter_nd_update(moved, slots[:, None],
                                        tf.transpose(tf.cast(new, buffer.dtype), [2, 0, 1, 3]))
    return tf.transpose(moved, [1, 2, 0, 3])
