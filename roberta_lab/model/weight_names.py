"""HF's checkpoint weight names, in one place: our variables under HF **PyTorch** state-dict
names, and every rule that reads or writes a name.

A model is described by HF PyTorch names (``roberta.encoder.layer.0.attention.self.query.weight``),
which is what ``model.safetensors`` holds. HF's TF ``tf_model.h5`` names are converted to them on
read (``h5_state``: drop the h5 group and the model scope, ``_._`` -> ``.``,
kernel/embeddings/gamma -> weight, beta -> bias); older names are normalised on load
(``normalise``: gamma/beta, the ``roberta.`` prefix, HF's aliases of tied weights). PyTorch Linear
weights are [out, in]; ours are [in, out]: ``transpose`` marks them. ``check_state_shapes`` reads
the layer count and main shapes from the names alone, before a model is built.

Example:
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> table = weight_table(TFRobertaForMaskedLM(cfg))
    >>> var, transpose = table["roberta.encoder.layer.1.attention.self.query.weight"]
    >>> tuple(var.shape), transpose
    ((32, 32), True)
    >>> tf_to_pt_name("tf_roberta_model/tf_roberta_model/roberta/encoder/layer_._0/output/"
    ...               "dense/kernel:0")
    'roberta.encoder.layer.0.output.dense.weight'
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .config import RobertaConfig

# Names HF writes that alias or duplicate a weight we already have.
_ALIASES = {"lm_head.decoder.weight": None, "lm_head.decoder.bias": "lm_head.bias",
            "roberta.embeddings.position_ids": None, "embeddings.position_ids": None}
_ARCHITECTURES = {"TFRobertaModel": "RobertaModel", "TFRobertaForMaskedLM": "RobertaForMaskedLM",
                  "TFRobertaForCausalLM": "RobertaForCausalLM",
                  "TFRobertaForSequenceClassification": "RobertaForSequenceClassification",
                  "TFRobertaForTokenClassification": "RobertaForTokenClassification",
                  "TFRobertaForQuestionAnswering": "RobertaForQuestionAnswering",
                  "TFRobertaForMultipleChoice": "RobertaForMultipleChoice"}
# Top-level scopes of the heads; every other weight lives under "roberta.".
_HEAD_SCOPES = ("roberta.", "lm_head.", "classifier.", "qa_outputs.")


def _linear(table: dict, name: str, layer: Any) -> None:
    table[f"{name}.weight"] = (layer.kernel, True)
    table[f"{name}.bias"] = (layer.bias, False)


def _norm(table: dict, name: str, layer: Any) -> None:
    table[f"{name}.weight"] = (layer.gamma, False)
    table[f"{name}.bias"] = (layer.beta, False)


def weight_table(model: Any) -> dict[str, tuple[Any, bool]]:
    """HF PyTorch name -> (our variable, transpose?) for every weight of ``model``."""
    has_head = getattr(model, "lm_head", None) is not None
    classifier, qa = getattr(model, "classifier", None), getattr(model, "qa_outputs", None)
    trunk = model.roberta
    p = "roberta." if has_head or classifier is not None or qa is not None else ""
    t: dict[str, tuple[Any, bool]] = {}
    emb = trunk.embeddings
    t[f"{p}embeddings.word_embeddings.weight"] = (emb.word_embeddings, False)
    t[f"{p}embeddings.position_embeddings.weight"] = (emb.position_embeddings, False)
    t[f"{p}embeddings.token_type_embeddings.weight"] = (emb.token_type_embeddings, False)
    _norm(t, f"{p}embeddings.LayerNorm", emb.layer_norm)
    for i, blk in enumerate(trunk.blocks):
        b = f"{p}encoder.layer.{i}"
        attentions = [("attention", blk.attn, blk.attn_ln)]
        if blk.cross_attn is not None:
            attentions.append(("crossattention", blk.cross_attn, blk.cross_ln))
        for scope, attn, ln in attentions:
            for proj in ("query", "key", "value"):
                _linear(t, f"{b}.{scope}.self.{proj}", getattr(attn, proj))
            _linear(t, f"{b}.{scope}.output.dense", attn.output_dense)
            _norm(t, f"{b}.{scope}.output.LayerNorm", ln)
        _linear(t, f"{b}.intermediate.dense", blk.mlp.intermediate)
        _linear(t, f"{b}.output.dense", blk.mlp.output_dense)
        _norm(t, f"{b}.output.LayerNorm", blk.mlp_ln)
    if trunk.pooler is not None:
        _linear(t, f"{p}pooler.dense", trunk.pooler)
    if has_head:
        _linear(t, "lm_head.dense", model.lm_head.dense)
        _norm(t, "lm_head.layer_norm", model.lm_head.layer_norm)
        t["lm_head.bias"] = (model.lm_head.bias, False)
    if classifier is not None and hasattr(classifier, "out_proj"):  # sequence classification
        _linear(t, "classifier.dense", classifier.dense)
        _linear(t, "classifier.out_proj", classifier.out_proj)
    elif classifier is not None:  # token classification, multiple choice
        _linear(t, "classifier", classifier)
    if qa is not None:
        _linear(t, "qa_outputs", qa)
    return t


def architecture_name(model: Any) -> str:
    """The HF PyTorch class name saved in ``config.json``'s ``architectures``."""
    return _ARCHITECTURES.get(type(model).__name__, type(model).__name__)


def state_dict(model: Any) -> dict[str, np.ndarray]:
    """Our weights under HF PyTorch names, [out, in] Linear layout, float32 numpy."""
    return {name: np.ascontiguousarray(var.numpy().T if transpose else var.numpy())
            for name, (var, transpose) in weight_table(model).items()}


def h5_state(datasets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """HF TF checkpoint datasets by h5 path -> tensors by PyTorch name, in PyTorch's layout."""
    state = {tf_to_pt_name(path): array for path, array in datasets.items()}
    return {k: (v.T if v.ndim == 2 and k.endswith(".weight") and "embeddings" not in k else v)
            for k, v in state.items()}


def tf_to_pt_name(name: str) -> str:
    # h5 dataset path: "<group>/<model scope>/roberta/encoder/layer_._0/.../kernel:0"
    parts = name.replace(":0", "").split("/")[2:]  # drop the h5 group and the model's scope
    out = ".".join(parts).replace("_._", ".")
    for old, new in ((".kernel", ".weight"), (".embeddings", ".weight"), (".gamma", ".weight"),
                     (".beta", ".bias")):
        if out.endswith(old):
            out = out[: -len(old)] + new
    if out.endswith("word_embeddings.weight.weight"):  # TF names it word_embeddings/weight
        out = out[: -len(".weight")]
    return out


def normalise(state: dict[str, np.ndarray], table: dict[str, Any]) -> dict[str, np.ndarray]:
    """``state`` under ``table``'s names: old gamma/beta names, with or without the
    ``roberta.`` prefix the model wants, HF's aliases of tied weights dropped or renamed."""
    out: dict[str, np.ndarray] = {}
    wants_prefix = any(k.startswith("roberta.") for k in table)
    for key, value in state.items():
        if key.endswith(".gamma"):
            key = key[:-6] + ".weight"  # very old checkpoints
        elif key.endswith(".beta"):
            key = key[:-5] + ".bias"
        if wants_prefix and not key.startswith(_HEAD_SCOPES):
            key = "roberta." + key
        elif not wants_prefix and key.startswith("roberta."):
            key = key[len("roberta."):]
        if key in _ALIASES:
            target = _ALIASES[key]
            if target is None or target in state:
                continue
            key = target
        out[key] = value
    return out


def quiet_unused(table: dict[str, Any], unexpected: list[str]) -> set[str]:
    """Unused checkpoint names not worth a warning: the pooler (HF's heads drop it) and, for a
    model without an LM head, the LM head (HF's task heads ignore it)."""
    quiet = {"pooler.dense.weight", "pooler.dense.bias", "roberta.pooler.dense.weight",
             "roberta.pooler.dense.bias"}
    if not any(k.startswith("lm_head.") for k in table):
        quiet |= {k for k in unexpected if k.startswith("lm_head.")}
    return quiet


_LAYER = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")


def check_state_shapes(state: dict[str, np.ndarray], config: RobertaConfig, source: Any, *,
                       ignore_sizes: bool = False) -> None:
    """The checkpoint's layer count and main shapes against ``config``, from the tensors alone
    (no model is built). A config with more layers than the checkpoint is refused; fewer is
    allowed (the extra checkpoint layers are reported as unused when loading)."""
    layers = {int(m.group(1)) for k in state for m in [_LAYER.search(k)] if m}
    if layers and config.num_hidden_layers > max(layers) + 1:
        raise ValueError(f"{source}: the config (config.json or the config given) has "
                         f"num_hidden_layers={config.num_hidden_layers} but the checkpoint holds "
                         f"{max(layers) + 1} layers")
    if ignore_sizes:
        return
    h, i = config.hidden_size, config.intermediate_size
    want = {"embeddings.word_embeddings.weight": ((config.vocab_size, h), "vocab_size"),
            "embeddings.position_embeddings.weight": ((config.max_position_embeddings, h),
                                                      "max_position_embeddings"),
            "embeddings.token_type_embeddings.weight": ((config.type_vocab_size, h),
                                                        "type_vocab_size"),
            "encoder.layer.0.intermediate.dense.weight": ((i, h), "intermediate_size")}
    for key, array in state.items():
        for suffix, (shape, field) in want.items():
            if (key == suffix or key.endswith("." + suffix)) and \
                    tuple(np.shape(array)) != shape:
                raise ValueError(f"{source}: checkpoint tensor {key} has the wrong shape "
                                 f"{tuple(np.shape(array))}; the config (config.json or the "
                                 f"config given: hidden_size={h}, "
                                 f"{field}={getattr(config, field)}) expects {shape}")
