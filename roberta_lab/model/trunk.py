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
from .cache import KVCache
from .compiled import CompiledFunctions
from .config import RobertaConfig
from .embeddings import RobertaEmbeddings, position_ids, real_tokens
from .hooked import HookedRootMixin
from .keras_api import KerasModelMixin, check_dtype_policy
from .input_checks import poison_invalid_rows
from .inputs import BASE_SIGNATURE, ForwardInputs, call_signature, check_training, prepare
from .layers import ConfigLayer, Linear
from .outputs import TFBaseModelOutputWithPoolingAndCrossAttentions


def _is_plain(value: Any) -> bool:
    """Python scalars and None: values Keras will not take inside a call argument."""
    return value is None or isinstance(value, (bool, int, float, str, np.bool_))


def _flag(value: Any, default: bool) -> bool:
    return bool(default if value is None else value)


class RobertaMainLayer(ConfigLayer):
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

    def call(self, inputs: ForwardInputs, training: bool = False):
        """inputs: see ``inputs.ForwardInputs``; ``training`` as checked by the model's call.
        Returns a model output dict."""
        cfg = self.config
        ids, embeds = inputs.input_ids, inputs.inputs_embeds
        batch, seq = inputs.batch_and_seq
        cache = inputs.past_key_values
        use_cache = cfg.is_decoder and _flag(inputs.use_cache, cfg.use_cache)
        mask = inputs.attention_mask
        if cache is None:
            past_len, key_len, seen = 0, seq, 0
        else:
            # A growing cache attends over past + seq keys; fixed-size buffers over all their
            # slots (the causal rule hides the unwritten ones; the mask covers every slot).
            past_len = cache.length
            key_len = cache.key_length if cache.fixed else past_len + seq
            seen = cache.seen
            if seen is None:  # HF's tuples carry no count: the masked-out slots were pads
                seen = (past_len if mask is None else
                        tf.cast(tf.reduce_sum(mask[:, :past_len], axis=1, keepdims=True), tf.int32))
        real = real_tokens(ids, batch, seq, cfg.padding_idx)  # [batch, seq]
        positions = inputs.position_ids
        if positions is None:
            positions = position_ids(ids, batch, seq, cfg.padding_idx, seen)
        types = inputs.token_type_ids
        if types is None:
            types = tf.zeros([batch, seq], tf.int32)
        x = self.embeddings(ids, positions, types, embeds, training=training)
        # Graphs only: rows with out-of-range ids become NaN (XLA drops asserts, clamps gathers).
        x = poison_invalid_rows(cfg, x, ids, positions, types, mask,
                                inputs.encoder_attention_mask)

        self_mask = self.self_mask(mask, seq, past_len, key_len)
        enc_states, enc_mask = inputs.encoder_hidden_states, inputs.encoder_attention_mask
        cross_mask = None
        if enc_mask is not None:
            keep = tf.not_equal(enc_mask, 0)
            cross_mask = keep[:, None, None, :] if enc_mask.shape.rank == 2 else keep[:, None]
        head_mask = self._head_mask(inputs.head_mask)

        want_attn = _flag(inputs.output_attentions, cfg.output_attentions)
        want_hidden = _flag(inputs.output_hidden_states, cfg.output_hidden_states)
        hidden, attns, cross_attns, layers = [], [], [], []
        for i, block in enumerate(self.blocks):
            if want_hidden:
                hidden.append(x)
            x, pattern, cross_pattern, layer_cache = block(
                x, self_mask, None if head_mask is None else head_mask[i], enc_states,
                cross_mask, None if cache is None else cache.layers[i], training=training)
            attns.append(pattern)
            if cross_pattern is not None:
                cross_attns.append(cross_pattern)
            layers.append(layer_cache)
        if want_hidden:
            hidden.append(x)
        pooled = None
        if self.pooler is not None:
            pooled = tf.tanh(self.pooler(x[:, 0]))  # [batch, d_model]
        presents = None
        if use_cache:
            presents = KVCache(tuple(layers),
                               seen + tf.reduce_sum(real, axis=1, keepdims=True))
        return TFBaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=x, pooler_output=pooled, past_key_values=presents,
            hidden_states=tuple(hidden) if want_hidden else None,
            attentions=tuple(attns) if want_attn else None,
            cross_attentions=(tuple(cross_attns) if want_attn and cfg.add_cross_attention
                              else None))

    def self_mask(self, mask: tf.Tensor | None, seq: Any, past_len: Any = 0,
                  key_len: Any = None) -> tf.Tensor | None:
        """mask [batch, key_len] -> bool [batch|1, 1, seq|1, key_len] (True = may attend: not
        masked and, for decoders, ``k_pos <= q_pos + past_len``), or None when every position
        may be attended."""
        key_len = seq if key_len is None else key_len
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


def _make_call(cls: type):
    def call(self, *args: Any, training: bool = False, **kwargs: Any) -> Any:
        inputs = self.prepare_inputs(*args, **kwargs)
        return self._finish(self._run(inputs, training), inputs.return_dict)

    call.__signature__ = call_signature(cls.signature)
    call.__doc__ = f"The seed's call: {', '.join(cls.signature)}, training."
    return call


class RobertaPreTrainedModel(KerasModelMixin, HookedRootMixin, keras.Model):
    """Shared by every model class: input handling, checkpoints, hooks, Keras (``keras_api``)."""

    signature: tuple[str, ...] = BASE_SIGNATURE

    def __init__(self, config: RobertaConfig, **kw):
        if not isinstance(config, RobertaConfig):
            raise TypeError(f"config must be a RobertaConfig, got {type(config).__name__}")
        config._validate()  # fields may have been set one by one since construction
        check_dtype_policy(kw)
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        self.config = config
        # Keys carry the hooks a call would run (hook state is per call, per thread).
        self.compiled_functions = CompiledFunctions(state=self.hook_state)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # The seed's call signature, written once (inputs.call_signature), for Keras and help().
        if "call" not in cls.__dict__:
            cls.call = _make_call(cls)
        # Every model class can be saved as .keras and loaded back (get_config/from_config).
        keras.saving.register_keras_serializable(package="roberta_lab")(cls)

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

    # Task heads: inputs [batch, choices, seq] flattened to rows (multiple choice), and a
    # ``check_label(name, value, inputs) -> tensor`` method checking labels against the head
    # (num_labels, problem_type, sequence length); without it labels are integer ids.
    has_choices: bool = False
    check_label: Any = None

    def prepare_inputs(self, *args: Any, **kwargs: Any) -> ForwardInputs:
        """The seed's input formats (as ``call`` takes them) -> checked ``ForwardInputs``."""
        return prepare(self.config, self.signature, args, kwargs, choices=self.has_choices,
                       check_label=self.check_label)

    # Eager calls with no hook attached run the model math as a compiled function (about 1.6x
    # faster than op-by-op on CPU); inputs are still checked eagerly first. With hooks attached,
    # or inside someone else's graph (fit, tf.function), the math runs directly.
    compiled_forward: bool = True

    def _run(self, inputs: ForwardInputs, training: bool) -> Any:
        training = check_training(training)
        if self.compiled_forward and tf.executing_eagerly() and not self.has_hooks():
            # One function per input structure (which inputs are given, their ranks, the flags):
            # reduce_retracing then only relaxes sizes, never ranks the code branches on.
            fn = self.compiled_functions.get(
                "forward", (inputs.structure_key(), bool(training)),
                lambda: tf.function(self.forward, reduce_retracing=True))
            return fn(inputs, bool(training))
        return self.forward(inputs, training)

    def invalidate_compiled(self) -> None:
        """Drop every compiled function of this model (they are rebuilt on next use). Called
        when what traces bake in changes: the compute dtype, loaded weights, hooks."""
        self.compiled_functions.clear()

    def load_weights(self, *args: Any, **kwargs: Any) -> Any:
        self.invalidate_compiled()
        try:
            return super().load_weights(*args, **kwargs)
        finally:  # Keras' loader walks the attributes (``serving`` builds its function)
            self.invalidate_compiled()

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
        self.invalidate_compiled()  # every trace baked the old dtype in

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

    def forward(self, inputs: ForwardInputs, training: bool = False) -> Any:
        """The model's math on prepared inputs (no checks): the trunk's output."""
        return self.roberta.call(inputs, training=training)  # not through Keras' arg checks
