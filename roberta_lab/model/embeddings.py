"""RoBERTa embeddings: word + position + token type, then LayerNorm and dropout.

RoBERTa's position quirk (from fairseq): position ids start at ``padding_idx + 1`` and pad tokens
keep position ``padding_idx``, wherever they sit: ids ``[0, 9, 1, 7]`` with pad 1 get positions
``[2, 3, 1, 4]``. That is why roberta-base has 514 position rows for 512 tokens.

Hooks: ``hook_embed`` (word embeddings), ``hook_pos_embed``, ``hook_token_type_embed``, each
[batch, pos, d_model]; ``hook_full_embed`` after LayerNorm and dropout (= blocks.0 input).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .config import RobertaConfig
from .hook_points import HookPoint
from .layers import LayerNorm, truncated_normal


def position_ids_from_input_ids(input_ids: tf.Tensor, padding_idx: int,
                                past_count: tf.Tensor | int = 0) -> tf.Tensor:
    """Positions of real tokens count up from ``padding_idx + 1``; pads keep ``padding_idx``.

    input_ids: [batch, seq]; past_count: [batch, 1] or scalar, the number of real (non-pad)
    tokens already in the KV cache, so that cached decoding continues the count that a full
    recompute would make. Returns [batch, seq] int32.
    """
    real = tf.cast(tf.not_equal(input_ids, padding_idx), tf.int32)  # [batch, seq]
    count = tf.cumsum(real, axis=1) + tf.cast(past_count, tf.int32)
    return count * real + padding_idx


def position_ids_from_embeds(batch: tf.Tensor, seq: tf.Tensor, padding_idx: int,
                             past_count: tf.Tensor | int = 0) -> tf.Tensor:
    """Without ids we cannot see pads: positions are consecutive from ``padding_idx + 1`` after
    the cached tokens. Returns [batch, seq] int32."""
    steps = tf.range(1, seq + 1, dtype=tf.int32)[None, :]  # [1, seq]
    return tf.broadcast_to(steps + tf.cast(past_count, tf.int32), [batch, seq]) + padding_idx


class RobertaEmbeddings(keras.layers.Layer):
    """[batch, seq] ids (or [batch, seq, d_model] embeds) -> [batch, seq, d_model]."""

    def __init__(self, config: RobertaConfig, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        self.config = config
        h, std = config.hidden_size, config.initializer_range
        self.word_embeddings = self.add_weight(shape=(config.vocab_size, h), name="word_embeddings",
                                               initializer=truncated_normal(std))
        self.position_embeddings = self.add_weight(
            shape=(config.max_position_embeddings, h), name="position_embeddings",
            initializer=truncated_normal(std))
        self.token_type_embeddings = self.add_weight(
            shape=(config.type_vocab_size, h), name="token_type_embeddings",
            initializer=truncated_normal(std))
        self.layer_norm = LayerNorm(h, config.layer_norm_eps, name="LayerNorm")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, autocast=False)
        self.hook_embed = HookPoint("hook_embed")
        self.hook_pos_embed = HookPoint("hook_pos_embed")
        self.hook_token_type_embed = HookPoint("hook_token_type_embed")
        self.hook_full_embed = HookPoint("hook_full_embed")
        self.built = True

    def call(self, input_ids: tf.Tensor | None = None, position_ids: tf.Tensor | None = None,
             token_type_ids: tf.Tensor | None = None, inputs_embeds: tf.Tensor | None = None,
             training: bool = False) -> tf.Tensor:
        """As HF's embeddings: ``embeddings(ids)`` alone works (positions from the ids' pads,
        token types 0)."""
        if input_ids is not None:
            input_ids = tf.convert_to_tensor(input_ids)
            input_ids = tf.cast(input_ids, tf.int32) if input_ids.dtype != tf.int32 else input_ids
        if position_ids is None:
            ref = input_ids if input_ids is not None else inputs_embeds
            position_ids = (position_ids_from_input_ids(input_ids, self.config.padding_idx)
                            if input_ids is not None else position_ids_from_embeds(
                                tf.shape(ref)[0], tf.shape(ref)[1], self.config.padding_idx))
        if token_type_ids is None:
            ref = input_ids if input_ids is not None else inputs_embeds
            token_type_ids = tf.zeros(tf.shape(ref)[:2], tf.int32)
        if inputs_embeds is None:
            inputs_embeds = tf.gather(self.word_embeddings, input_ids)  # [batch, pos, d_model]
        word = self.hook_embed(inputs_embeds)
        pos = self.hook_pos_embed(tf.gather(self.position_embeddings, position_ids))
        types = self.hook_token_type_embed(tf.gather(self.token_type_embeddings, token_type_ids))
        x = self.layer_norm(word + pos + types)
        x = self.dropout(x, training=training)
        return self.hook_full_embed(x)
