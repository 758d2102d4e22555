"""The RoBERTa trunk (``RobertaMainLayer``), the shared Keras base class, and ``TFRobertaModel``.

The main layer turns the seed's inputs into masks and positions, runs embeddings and the blocks,
and collects what the flags ask for. Masks are booleans ``[batch, 1, q_pos, k_pos]`` (True = may
attend): key padding, and for decoders the causal rule ``k_pos <= q_pos + past``.

Example:
    >>> import numpy as np
    >>> from roberta_lab import RobertaConfig, TFRobertaModel
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> out = TFRobertaModel(cfg)(np.array([[0, 5, 6, 2]]))
    >>> tuple(out.last_hidden_state.shape), tuple(out.pooler_output.shape)
    ((1, 4, 32), (1, 32))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import checkpoint
from .block import RobertaBlock
from .config import RobertaConfig
from .embeddings import RobertaEmbeddings, position_ids_from_embeds, position_ids_from_input_ids
from .hooked import HookedRootMixin
from .keras_api import KerasModelMixin, check_dtype_policy
from .input_checks import poison_invalid_rows
from .inputs import BASE_SIGNATURE, check_training, prepare, unpack_inputs
from .layers import Linear
from .outputs import TFBaseModelOutputWithPoolingAndCrossAttentions


def _structure_key(value: Any) -> Any:
    """What a traced graph depends on besides sizes: presence, rank and dtype of tensors,
    nesting, and Python values."""
    if isinstance(value, dict):
        return tuple((k, _structure_key(value[k])) for k in sorted(value))
    if isinstance(value, (list, tuple)):
        return tuple(_structure_key(x) for x in value)
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return ("T", value.shape.rank, value.dtype.name)
    return value


def _is_plain(value: Any) -> bool:
    """Python scalars and None: values Keras will not take inside a call argument."""
    return value is None or isinstance(value, (bool, int, float, str, np.bool_))


def _flag(value: Any, default: bool) -> bool:
    return bool(default if value is None else value)


class RobertaMainLayer(keras.layers.Layer):
    """Embeddings -> num_hidden_layers blocks -> optional pooler."""

    def __init__(self, config: RobertaConfig, add_pooling_layer: bool = True, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        self.config = config
        self.embeddings = RobertaEmbeddings(config, name="embeddings")
        self.blocks = [RobertaBlock(config, i, name=f"layer_._{i}")
                       for i in range(config.num_hidden_layers)]
        self.pooler = (Linear(config.hidden_size, config.hidden_size, config.initializer_range,
                              name="pooler") if add_pooling_layer else None)
        self.built = True

    def call(self, v: dict[str, Any], training: bool = False):
        """v: the prepared inputs (see inputs.prepare). Returns a model output dict."""
        cfg = self.config
        training = check_training(training)
        ids, embeds = v["input_ids"], v["inputs_embeds"]
        ref = ids if ids is not None else embeds
        batch, seq = tf.shape(ref)[0], tf.shape(ref)[1]
        past = v["past_key_values"]
        use_cache = cfg.is_decoder and _flag(v["use_cache"], cfg.use_cache)
        # Engine-only (generation): with ``cache_index`` the past holds fixed-size buffers
        # [batch, head, max_len, d_head], this call's keys/values are written at cache_index,
        # and attention_mask covers all max_len slots. Otherwise the past grows by concat.
        cache_index = v.get("cache_index")
        if cache_index is not None:
            past_len, key_len = cache_index, tf.shape(past[0][0])[2]
        else:
            past_len = 0 if past is None else tf.shape(past[0][0])[2]
            key_len = past_len + seq

        mask = v["attention_mask"]
        past_count: Any = past_len
        if past is not None and mask is not None:
            # Count only real tokens in the cache, so a left-padded prompt continues its
            # positions exactly as a full recompute would (HF counts the pads too).
            past_count = tf.cast(tf.reduce_sum(mask[:, :past_len], axis=1, keepdims=True), tf.int32)
        positions = v["position_ids"]
        if positions is None:
            positions = (position_ids_from_input_ids(ids, cfg.padding_idx, past_count)
                         if ids is not None else
                         position_ids_from_embeds(batch, seq, cfg.padding_idx, past_count))
        types = v["token_type_ids"]
        if types is None:
            types = tf.zeros([batch, seq], tf.int32)
        x = self.embeddings(ids, positions, types, embeds, training=training)
        # Graphs only: rows with out-of-range ids become NaN (XLA drops asserts, clamps gathers).
        x = poison_invalid_rows(cfg, x, ids, positions, types)

        self_mask = self._self_mask(mask, seq, past_len, key_len)
        enc_states, enc_mask = v["encoder_hidden_states"], v["encoder_attention_mask"]
        cross_mask = None
        if enc_mask is not None:
            keep = tf.not_equal(enc_mask, 0)
            cross_mask = keep[:, None, None, :] if enc_mask.shape.rank == 2 else keep[:, None]
        head_mask = self._head_mask(v["head_mask"])

        want_attn = _flag(v["output_attentions"], cfg.output_attentions)
        want_hidden = _flag(v["output_hidden_states"], cfg.output_hidden_states)
        hidden, attns, cross_attns, presents = [], [], [], []
        for i, block in enumerate(self.blocks):
            if want_hidden:
                hidden.append(x)
            x, pattern, cross_pattern, cache = block(
                x, self_mask, None if head_mask is None else head_mask[i], enc_states,
                cross_mask, None if past is None else past[i], cache_index, training=training)
            attns.append(pattern)
            if cross_pattern is not None:
                cross_attns.append(cross_pattern)
            presents.append(cache)
        if want_hidden:
            hidden.append(x)
        pooled = None
        if self.pooler is not None:
            pooled = tf.tanh(self.pooler(x[:, 0]))  # [batch, d_model]
        return TFBaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=x, pooler_output=pooled,
            past_key_values=tuple(presents) if use_cache else None,
            hidden_states=tuple(hidden) if want_hidden else None,
            attentions=tuple(attns) if want_attn else None,
            cross_attentions=(tuple(cross_attns) if want_attn and cfg.add_cross_attention
                              else None))

    def _self_mask(self, mask: tf.Tensor | None, seq: tf.Tensor, past_len: Any,
                   key_len: Any) -> tf.Tensor | None:
        """bool [batch|1, 1, seq|1, key_len], or None when every position may be attended."""
        keep = None if mask is None else tf.not_equal(mask, 0)[:, None, None, :]
        if not self.config.is_decoder:
            return keep
        q = tf.range(seq)[:, None] + past_len  # absolute query positions
        k = tf.range(key_len)[None, :]
        causal = (k <= q)[None, None]  # [1, 1, seq, key_len]
        return causal if keep is None else tf.logical_and(causal, keep)

    def _head_mask(self, hm: tf.Tensor | None) -> tf.Tensor | None:
        """(heads,), (layers, heads) or (batch, layers, heads) -> [layers, batch|1, heads]."""
        if hm is None:
            return None
        layers = self.config.num_hidden_layers
        if hm.shape.rank == 1:
            return tf.tile(hm[None, None, :], [layers, 1, 1])
        if hm.shape.rank == 2:
            return hm[:, None, :]
        return tf.transpose(hm, [1, 0, 2])


class RobertaPreTrainedModel(KerasModelMixin, HookedRootMixin, keras.Model):
    """Shared by every model class: input handling, checkpoints, hooks, Keras (``keras_api``)."""

    signature: tuple[str, ...] = BASE_SIGNATURE

    def __init__(self, config: RobertaConfig, **kw):
        if not isinstance(config, RobertaConfig):
            raise TypeError(f"config must be a RobertaConfig, got {type(config).__name__}")
        check_dtype_policy(kw)
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        self.config = config

    # --- inputs -----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Keras only accepts tensors and plain containers positionally; a tokenizer's
        # BatchEncoding (a dict subclass) is the seed's second input format.
        # A dict or list may also carry flags (HF allows {"input_ids": x, "output_attentions":
        # True}); Keras refuses non-tensors inside a call argument, so flags (and Nones) move
        # to keywords. Dict entries still win over keywords of the same name.
        if args and isinstance(args[0], (list, tuple)) and len(args[0]) <= len(self.signature) \
                and any(_is_plain(x) for x in args[0]):
            args = (dict(zip(self.signature, args[0])),) + args[1:]
        if args and isinstance(args[0], Mapping):
            entries = dict(args[0])
            kwargs.update({k: v for k, v in entries.items() if _is_plain(v)})
            tensors = {k: v for k, v in entries.items() if not _is_plain(v)}
            for key in tensors:
                kwargs.pop(key, None)
            args = (tensors,) + args[1:]
        return super().__call__(*args, **kwargs)

    def _prepare(self, input_ids: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        return prepare(self.config, unpack_inputs(self.signature, input_ids, kwargs))

    # Eager calls with no hook attached run the model math as a cached tf.function (about 1.6x
    # faster than op-by-op on CPU); inputs are still checked eagerly first. With hooks attached,
    # or inside someone else's graph (fit, tf.function), the math runs directly.
    compiled_forward: bool = True

    def _run(self, v: dict[str, Any], training: bool) -> Any:
        training = check_training(training)
        if self.compiled_forward and tf.executing_eagerly() and \
                not any(hp.fns for hp in self.hook_dict.values()):
            # One function per input structure (which inputs are given, their ranks, the flags):
            # reduce_retracing then only relaxes sizes, never ranks the code branches on.
            key = (_structure_key(v), bool(training))
            fns = self.__dict__.setdefault("_forward_fns", {})
            if key not in fns:
                fns[key] = tf.function(self._forward, reduce_retracing=True)
            return fns[key](v, bool(training))
        return self._forward(v, training)

    def set_compute_dtype(self, dtype: str | tf.DType | None) -> None:
        """``"bfloat16"`` runs every dense matmul (projections, MLP, output layer) in bfloat16:
        weights stay float32 and are cast on use, the products come back to float32, so the
        residual stream, LayerNorm, softmax and attention stay float32; the output layer's best
        few words per position are recomputed in float32 (``RobertaLMHead.REFINE_K``). None or
        ``"float32"`` goes back. Outputs are float32 either way."""
        dtype = None if dtype is None else tf.as_dtype(dtype)
        if dtype not in (None, tf.float32, tf.bfloat16, tf.float16):
            raise ValueError(f"dtype must be 'bfloat16', 'float16', 'float32' or None, got {dtype}")
        dtype = None if dtype == tf.float32 else dtype
        for layer in self._flatten_layers(include_self=False, recursive=True):
            if hasattr(layer, "matmul_dtype"):
                layer.matmul_dtype = dtype
        # Every compiled function traced by the engine baked the old dtype in.
        for cache in ("_forward_fns", "_mask_logits_fn", "_compiled_runs", "_sweep_tails",
                      "_importance_fns", "_generation_fns"):
            self.__dict__.pop(cache, None)

    def _finish(self, out: Any, return_dict: Any) -> Any:
        return out if _flag(return_dict, self.config.return_dict) else out.to_tuple()

    # --- checkpoints ------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name_or_path, *, config: RobertaConfig | None = None, **kwargs):
        """Load from a folder, a bundled name (``roberta-lab/mini-mlm``) or a hub id.

        Reads ``model.safetensors`` (also sharded), HF's TF ``tf_model.h5``, or - only with
        ``allow_pickle=True`` - ``pytorch_model.bin`` (weights-only unpickling). Options:
        ``strict`` (fail on any missing or unexpected weight), ``output_loading_info``,
        ``use_safetensors``, hub options (``cache_dir``, ``revision``, ``token``,
        ``local_files_only``); other keywords override config fields.
        """
        return checkpoint.from_pretrained(cls, name_or_path, config=config, **kwargs)

    def save_pretrained(self, directory, *, max_shard_size: int | str | None = None) -> None:
        """Write ``config.json`` + ``model.safetensors`` (HF PyTorch names) atomically."""
        checkpoint.save_pretrained(self, directory, max_shard_size=max_shard_size)


class TFRobertaModel(RobertaPreTrainedModel):
    """The bare RoBERTa trunk with a pooler; outputs last_hidden_state [batch, seq, d_model]."""

    def __init__(self, config: RobertaConfig, add_pooling_layer: bool = True, **kw):
        super().__init__(config, **kw)
        self.roberta = RobertaMainLayer(config, add_pooling_layer, name="roberta")
        self.built = True

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
             head_mask=None, inputs_embeds=None, encoder_hidden_states=None,
             encoder_attention_mask=None, past_key_values=None, use_cache=None,
             output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False):
        kwargs = dict(attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, head_mask=head_mask, inputs_embeds=inputs_embeds,
                      encoder_hidden_states=encoder_hidden_states,
                      encoder_attention_mask=encoder_attention_mask,
                      past_key_values=past_key_values, use_cache=use_cache,
                      output_attentions=output_attentions,
                      output_hidden_states=output_hidden_states, return_dict=return_dict)
        v = self._prepare(input_ids, {k: x for k, x in kwargs.items() if x is not None})
        return self._finish(self._run(v, training), v["return_dict"])

    def _forward(self, v: dict[str, Any], training: bool) -> Any:
        return self.roberta.call(v, training=training)  # v holds flags too: skip Keras arg checks
