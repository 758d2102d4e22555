"""The small building blocks every other module uses: Linear, LayerNorm, activations.

Weights are created in ``__init__`` from the config (their shapes never depend on the input), so a
model is complete as soon as it is constructed and checkpoints load without a dummy call.
Kernels are stored [in, out] as in Keras/HF-TF; ``weight_names.py`` transposes to PyTorch's
[out, in] in one place.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import keras
import tensorflow as tf

from .config import RobertaConfig


class ConfigLayer(keras.layers.Layer):
    """Base of the layers built from a ``RobertaConfig``: ``get_config``/``from_config`` from
    the constructor's arguments, the config travelling as its dict (Keras' own automatic config
    accepts only plain values). Arguments that are weights (a tied embedding matrix) are left
    out: ``from_config`` builds the layer with its own."""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        keras.saving.register_keras_serializable(package="roberta_lab")(cls)

    def __new__(cls, *args: Any, **kwargs: Any):
        instance = super().__new__(cls, *args, **kwargs)
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        given.pop("self", None)
        given.update(given.pop("kw", {}))
        given.pop("name", None)
        instance._init_args = {k: (v.to_dict() if isinstance(v, RobertaConfig) else v)
                               for k, v in given.items()
                               if not isinstance(v, (keras.Variable, tf.Variable))}
        return instance

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._init_args}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ConfigLayer":
        config = dict(config)
        if isinstance(config.get("config"), dict):
            config["config"] = RobertaConfig.from_dict(config["config"])
        return cls(**config)


def policy_matmul_dtype() -> tf.DType | None:
    """The matmul dtype a layer built now takes from Keras' global mixed-precision policy
    (``mixed_bfloat16`` -> bfloat16; None = float32): the model's ``set_compute_dtype`` mode."""
    compute = keras.mixed_precision.global_policy().compute_dtype
    return None if compute == "float32" else tf.as_dtype(compute)


def truncated_normal(stddev: float) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=stddev)


class Linear(keras.layers.Layer):
    """y = x @ kernel + bias.  x: [..., in] -> [..., out]."""

    def __init__(self, in_dim: int, out_dim: int, init_std: float, use_bias: bool = True, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.kernel = self.add_weight(shape=(in_dim, out_dim), name="kernel",
                                      initializer=truncated_normal(init_std))
        self.bias = (self.add_weight(shape=(out_dim,), name="bias", initializer="zeros")
                     if use_bias else None)
        # bfloat16 mode (set_compute_dtype): the matmul's inputs and kernel are cast to this
        # dtype and the product back to x's dtype, so the residual stream stays float32.
        self.matmul_dtype: tf.DType | None = policy_matmul_dtype()
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        dtype = self.matmul_dtype or x.dtype
        kernel = tf.cast(self.kernel, dtype)
        # A 2-D matmul on [tokens, in] is the fastest path through oneDNN on CPU.
        if x.shape.rank == 2:
            y = tf.cast(tf.matmul(tf.cast(x, dtype), kernel), x.dtype)
        else:
            lead = tf.shape(x)[:-1]
            y = tf.matmul(tf.cast(tf.reshape(x, [-1, self.in_dim]), dtype), kernel)
            y = tf.reshape(tf.cast(y, x.dtype), tf.concat([lead, [self.out_dim]], axis=0))
        if self.bias is not None:
            y = y + tf.cast(self.bias, y.dtype)
        return y


class LayerNorm(keras.layers.Layer):
    """LayerNorm over the last axis with gamma/beta, computed in float32 whatever the input."""

    def __init__(self, dim: int, eps: float, **kw):
        super().__init__(autocast=False, **kw)  # dtype is ours to manage (bfloat16 mode)
        self.eps = float(eps)
        self.gamma = self.add_weight(shape=(dim,), name="gamma", initializer="ones")
        self.beta = self.add_weight(shape=(dim,), name="beta", initializer="zeros")
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        dtype = x.dtype
        x32 = tf.cast(x, tf.float32)
        mean, var = tf.nn.moments(x32, axes=[-1], keepdims=True)
        y = (x32 - mean) * tf.math.rsqrt(var + self.eps)
        y = y * self.gamma + self.beta
        return tf.cast(y, dtype)


def _gelu_tanh(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.gelu(x, approximate=True)


def _quick_gelu(x: tf.Tensor) -> tf.Tensor:
    return x * tf.sigmoid(1.702 * x)


ACTIVATIONS = {
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),  # exact erf GELU, as HF's "gelu"
    "gelu_new": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "quick_gelu": _quick_gelu,
    "relu": tf.nn.relu,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
    "linear": tf.identity,
}


def attention_scale(head_dim: int) -> float:
    return 1.0 / math.sqrt(head_dim)
