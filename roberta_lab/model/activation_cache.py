"""ActivationCache: what ``run_with_cache`` collected, by hook name, with TransformerLens' helpers.

Keys are hook names (``blocks.3.attn.hook_pattern``); TransformerLens' shorthand works too:
``cache["pattern", 3]``, ``cache["resid_pre", 0]``, ``cache["pattern", 3, "cross"]`` for
cross-attention, ``cache["embed"]``. Values are numpy arrays (``return_tensors=True`` in
``run_with_cache`` keeps TensorFlow tensors, for gradients).

Example:
    >>> cache = ActivationCache({"blocks.0.attn.hook_pattern": np.ones((1, 2, 3, 3))}, None)
    >>> cache["pattern", 0].shape
    (1, 2, 3, 3)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

import numpy as np

# TransformerLens' short names -> where they live in a block.
_ATTN = {"q", "k", "v", "attn_scores", "pattern", "z"}
_MLP = {"pre", "post"}
_BLOCK = {"resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "cross_attn_out",
          "resid_mid_cross"}
_TOP = {"embed", "pos_embed", "token_type_embed", "full_embed"}


def act_name(name: str, layer: int | None = None, kind: str | None = None) -> str:
    """TransformerLens' ``utils.get_act_name``: ("pattern", 3) -> "blocks.3.attn.hook_pattern".

    ``kind="cross"`` names the cross-attention hook of that layer.
    """
    if name.startswith(("blocks.", "hook_", "lm_head.")):
        return name
    short = name[5:] if name.startswith("hook_") else name
    if short in _TOP:
        return f"hook_{short}"
    if layer is None:
        raise ValueError(f"act_name: {name!r} needs a layer index")
    if short in _ATTN:
        scope = "cross_attn" if kind == "cross" else "attn"
        return f"blocks.{layer}.{scope}.hook_{short}"
    if short in _MLP:
        return f"blocks.{layer}.mlp.hook_{short}"
    if short in _BLOCK:
        return f"blocks.{layer}.hook_{short}"
    raise ValueError(f"act_name: unknown activation {name!r}")


class ActivationCache(Mapping):
    """Hook name -> activation. ``model`` is kept for helpers that need weights."""

    def __init__(self, data: dict[str, Any], model: Any, has_batch_dim: bool = True):
        self._data = dict(data)
        self.model = model
        self.has_batch_dim = has_batch_dim

    def _key(self, key: Any) -> str:
        if isinstance(key, tuple):
            return act_name(*key)
        if key in self._data:
            return key
        return act_name(key)

    def __getitem__(self, key: Any) -> Any:
        name = self._key(key)
        try:
            return self._data[name]
        except KeyError:
            from difflib import get_close_matches

            near = get_close_matches(name, list(self._data), n=3)
            raise KeyError(f"{name!r} is not in this cache (names_filter?); nearest: {near}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ActivationCache({len(self)} activations: {list(self._data)[:4]}...)"

    def to_numpy(self) -> "ActivationCache":
        data = {k: (v.numpy() if hasattr(v, "numpy") else np.asarray(v)) for k, v in self.items()}
        return ActivationCache(data, self.model, self.has_batch_dim)

    def remove_batch_dim(self) -> "ActivationCache":
        """Drop the batch axis of a batch-of-one cache."""
        for name, value in self._data.items():
            if np.shape(value)[0] != 1:
                raise ValueError(f"remove_batch_dim needs batch size 1; {name} has "
                                 f"{np.shape(value)[0]}")
        return ActivationCache({k: v[0] for k, v in self._data.items()}, self.model, False)

    @property
    def n_layers(self) -> int:
        layers = {int(k.split(".")[1]) for k in self._data if k.startswith("blocks.")}
        return max(layers) + 1 if layers else 0

    def stack_activation(self, name: str, kind: str | None = None) -> np.ndarray:
        """One activation from every layer: [layer, ...]."""
        return np.stack([np.asarray(self[act_name(name, layer, kind)])
                         for layer in range(self.n_layers)])

    def accumulated_resid(self, incl_mid: bool = False) -> tuple[np.ndarray, list[str]]:
        """The residual stream after each block (and the embeddings): [component, batch, pos,
        d_model], with labels. RoBERTa is post-LN, so these are the normalised streams."""
        names = ["blocks.0.hook_resid_pre"]
        for layer in range(self.n_layers):
            if incl_mid:
                names.append(f"blocks.{layer}.hook_resid_mid")
            names.append(f"blocks.{layer}.hook_resid_post")
        return np.stack([np.asarray(self[n]) for n in names]), names

    def stack_head_results(self, layer: int | None = None, kind: str | None = None
                           ) -> tuple[np.ndarray, list[str]]:
        """Each head's write into the residual stream, z_h @ W_O[h] (bias excluded):
        [component = layer*head, batch, pos, d_model] and labels like "L3H5"."""
        if self.model is None:
            raise ValueError("stack_head_results needs the model (run_with_cache keeps it)")
        layers = range(self.n_layers) if layer is None else [layer]
        parts, labels = [], []
        for lyr in layers:
            block = self.model.roberta.blocks[lyr]
            attn = block.cross_attn if kind == "cross" else block.attn
            z = np.asarray(self[act_name("z", lyr, kind)])  # [batch, pos, head, d_head]
            w_o = attn.output_dense.kernel.numpy().reshape(attn.n_heads, attn.d_head, -1)
            result = np.einsum("bphd,hdm->hbpm", z, w_o)  # [head, batch, pos, d_model]
            parts.append(result)
            labels += [f"L{lyr}H{h}" for h in range(attn.n_heads)]
        return np.concatenate(parts), labels
