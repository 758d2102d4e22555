"""Checkpoints: HF's weight names in one table, file formats, safe loading, atomic saving.

The only place that knows checkpoint names. A model is described by HF **PyTorch** state-dict
names (``roberta.encoder.layer.0.attention.self.query.weight``), which is what
``model.safetensors`` holds; HF's TF ``tf_model.h5`` names are converted to them on read
(drop the first scope, ``_._`` -> ``.``, kernel/embeddings/gamma -> weight, beta -> bias).
PyTorch Linear weights are [out, in]; ours are [in, out]: ``transpose`` marks them.

Safety: safetensors by default; pickle (``pytorch_model.bin``) only with ``allow_pickle=True``
and then with weights-only unpickling; every tensor is checked before any is assigned, so a bad
file leaves the model untouched; saves go to a temporary folder renamed into place.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import numpy as np

from .config import RobertaConfig
from .files import plain_name, read_json
from .hub import hub_kwargs, resolve_file
from .model_folder import (CONFIG_NAME, PT_INDEX, PT_WEIGHTS, SAFE_INDEX, SAFE_WEIGHTS, SHARD,
                           TF_WEIGHTS, Writer, write_model_files)

logger = logging.getLogger(__name__)

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


# --- reading files ------------------------------------------------------------------------------
def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError  # noqa: PLC0415
    from safetensors.numpy import load_file  # noqa: PLC0415

    try:
        try:
            return {k: _widen(v) for k, v in load_file(path).items()}
        except TypeError:
            # numpy has no bfloat16: read through TensorFlow and convert to float32, as HF
            # does when it loads a bfloat16 checkpoint into a float32 model.
            from safetensors.tensorflow import load_file as load_tf  # noqa: PLC0415

            return {k: (v.numpy().astype(np.float32) if v.dtype.is_floating else v.numpy())
                    for k, v in load_tf(path).items()}
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise ValueError(f"checkpoint file {path} is corrupted or truncated: {err}") from None


def _widen(array: np.ndarray) -> np.ndarray:
    """bfloat16 (numpy's ml_dtypes extension, once TensorFlow is loaded) -> float32."""
    return array.astype(np.float32) if array.dtype.name == "bfloat16" else array


def _read_h5(path: str) -> dict[str, np.ndarray]:
    """HF TF checkpoint: one group per top-level layer, 'weight_names' attrs list the variables."""
    import h5py  # noqa: PLC0415

    state: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    state[_tf_to_pt_name(name)] = np.asarray(obj)
            f.visititems(visit)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise ValueError(f"checkpoint file {path} is corrupted or truncated: {err}") from None
    return {k: (v.T if v.ndim == 2 and k.endswith(".weight") and "embeddings" not in k else v)
            for k, v in state.items()}


def _tf_to_pt_name(name: str) -> str:
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


def _read_pickle(path: str) -> dict[str, np.ndarray]:
    import torch  # noqa: PLC0415  (only for opted-in pickle checkpoints)

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for bad files)
        raise ValueError(f"checkpoint file {path} could not be read with weights-only "
                         f"unpickling: {err}") from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ValueError(f"checkpoint file {path} does not hold a state dict (tensor names to "
                         "tensors)")
    return {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}


def read_state(name_or_path: Any, *, allow_pickle: bool = False, use_safetensors: bool | None = None,
               **hub: Any) -> dict[str, np.ndarray]:
    """The checkpoint's tensors by HF PyTorch name, from the safest format present."""
    if use_safetensors is not False:
        path = resolve_file(name_or_path, SAFE_WEIGHTS, required=False, **hub)
        if path:
            return _read_safetensors(path)
        index = resolve_file(name_or_path, SAFE_INDEX, required=False, **hub)
        if index:
            return _read_sharded(name_or_path, index, _read_safetensors, **hub)
        if use_safetensors:
            raise FileNotFoundError(f"use_safetensors=True but {name_or_path} has no "
                                    f"{SAFE_WEIGHTS}")
    path = resolve_file(name_or_path, TF_WEIGHTS, required=False, **hub)
    if path:
        return _read_h5(path)
    pickled = resolve_file(name_or_path, PT_WEIGHTS, required=False, **hub)
    index = None if pickled else resolve_file(name_or_path, PT_INDEX, required=False, **hub)
    if pickled or index:
        if not allow_pickle:
            raise ValueError(f"{name_or_path} only has a pickle checkpoint ({PT_WEIGHTS}); pickle "
                             "files can run code when loaded. Pass allow_pickle=True to load it "
                             "with weights-only unpickling, or convert it to safetensors.")
        return _read_pickle(pickled) if pickled else _read_sharded(name_or_path, index,
                                                                    _read_pickle, **hub)
    raise FileNotFoundError(f"no weights found for {name_or_path!r} (looked for {SAFE_WEIGHTS}, "
                            f"{SAFE_INDEX}, {TF_WEIGHTS}, {PT_WEIGHTS})")


def _read_sharded(name_or_path: Any, index_path: str, reader: Any, **hub: Any) -> dict:
    weight_map = read_json(index_path, "checkpoint index").get("weight_map")
    if not isinstance(weight_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()):
        raise ValueError(f"checkpoint index {index_path}: 'weight_map' must map tensor names to "
                         "shard file names")
    # Shard names come from a file: they must name files in the model folder, nothing else.
    shards = sorted({plain_name(v, f"checkpoint index {index_path}")
                     for v in weight_map.values()})
    state: dict[str, np.ndarray] = {}
    for shard in shards:
        state.update(reader(resolve_file(name_or_path, shard, **hub)))
    missing = set(weight_map) - set(state)
    if missing:
        raise ValueError(f"sharded checkpoint is missing tensors listed in its index: "
                         f"{sorted(missing)[:5]}")
    return state


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


# --- assigning ----------------------------------------------------------------------------------
def _normalise(state: dict[str, np.ndarray], table: dict[str, Any]) -> dict[str, np.ndarray]:
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


def load_state(model: Any, state: dict[str, np.ndarray], *, strict: bool = False,
               ignore_mismatched_sizes: bool = False) -> dict[str, list]:
    """Check every tensor, then assign. Returns HF-style loading info."""
    table = weight_table(model)
    state = _normalise(state, table)
    missing = sorted(set(table) - set(state))
    unexpected = sorted(set(state) - set(table))
    mismatched, values = [], {}
    for name, array in state.items():
        if name not in table:
            continue
        var, transpose = table[name]
        array = _widen(np.asarray(array))
        array = array.T if transpose else array
        if tuple(array.shape) != tuple(var.shape):
            mismatched.append((name, tuple(array.shape), tuple(var.shape)))
            continue
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"checkpoint tensor {name} has non-float dtype {array.dtype}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"checkpoint tensor {name} contains NaN or inf")
        values[name] = array
    if mismatched and not ignore_mismatched_sizes:
        lines = [f"{n}: checkpoint {a}, model {b}" for n, a, b in mismatched]
        raise ValueError("checkpoint tensors have the wrong shape (pass "
                         "ignore_mismatched_sizes=True to keep the model's):\n  " + "\n  ".join(lines))
    quiet = {"pooler.dense.weight", "pooler.dense.bias", "roberta.pooler.dense.weight",
             "roberta.pooler.dense.bias"}
    if not any(k.startswith("lm_head.") for k in table):  # HF's task heads ignore an LM head
        quiet |= {k for k in unexpected if k.startswith("lm_head.")}
    if strict and (missing or unexpected):
        raise ValueError(f"strict loading failed: missing {missing}, unexpected {unexpected}")
    for name, array in values.items():
        table[name][0].assign(array.astype(np.dtype(table[name][0].dtype)))
    model.invalidate_compiled()  # the registry's contract: a weight load empties it
    if missing:
        logger.warning("weights not in the checkpoint, newly initialised: %s", missing)
    if set(unexpected) - quiet:
        logger.warning("checkpoint weights not used by %s: %s", type(model).__name__, unexpected)
    return {"missing_keys": missing, "unexpected_keys": unexpected,
            "mismatched_keys": mismatched, "error_msgs": []}


def from_pretrained(cls: Any, name_or_path: Any, *, config: RobertaConfig | None = None,
                    allow_pickle: bool = False, strict: bool = False,
                    use_safetensors: bool | None = None, output_loading_info: bool = False,
                    ignore_mismatched_sizes: bool = False, **kwargs: Any) -> Any:
    hub = hub_kwargs(kwargs)
    # Constructor options (HF passes these to the model, not the config).
    build = {k: kwargs.pop(k) for k in ("add_pooling_layer",) if k in kwargs}
    if config is None:
        config = RobertaConfig.from_pretrained(name_or_path, **hub, **kwargs)
    elif kwargs:
        config = config.copy(**kwargs)
    state = read_state(name_or_path, allow_pickle=allow_pickle, use_safetensors=use_safetensors,
                       **hub)
    # Before building: a config that disagrees with its weights (10x the layers, another
    # vocabulary) must fail now, not after allocating a model for it.
    check_state_shapes(state, config, name_or_path, ignore_sizes=ignore_mismatched_sizes)
    model = cls(config, **build)
    info = load_state(model, state, strict=strict, ignore_mismatched_sizes=ignore_mismatched_sizes)
    return (model, info) if output_loading_info else model


# --- saving -------------------------------------------------------------------------------------
def state_dict(model: Any) -> dict[str, np.ndarray]:
    """Our weights under HF PyTorch names, [out, in] Linear layout, float32 numpy."""
    return {name: np.ascontiguousarray(var.numpy().T if transpose else var.numpy())
            for name, (var, transpose) in weight_table(model).items()}


def _parse_size(size: int | str | None) -> int | None:
    if size is None:
        return None
    value = None
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    elif isinstance(size, str):
        units = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
        for unit, factor in units.items():
            if size.upper().endswith(unit):
                try:
                    value = int(float(size[: -len(unit)]) * factor)
                except (ValueError, OverflowError):
                    value = None
                break
    if value is None or value < 1:
        raise ValueError(f"max_shard_size must be a positive int or like '200MB', got {size!r}")
    return value


def save_pretrained(model: Any, directory: Any, *, max_shard_size: int | str | None = None) -> None:
    """Write config.json + safetensors (sharded past ``max_shard_size``) into ``directory``.

    Only the model's own files are written, each first to a temporary file in the folder, all
    flushed to disk, then renamed into place (weights first, config.json last); a failure (full
    disk, read-only folder, Ctrl-C) before the renames leaves the folder as it was. Other files
    (a tokenizer, a README) are never touched; a path that is a file, or a folder that is not a
    model folder (see ``model_folder.py``), is refused. Permissions are not changed: a
    replaced file keeps its mode, a new one gets the umask's."""
    from safetensors.numpy import save_file  # noqa: PLC0415

    limit = _parse_size(max_shard_size)
    config = model.config.copy(architectures=[_ARCHITECTURES.get(type(model).__name__,
                                                                  type(model).__name__)])
    state = state_dict(model)
    meta = {"format": "pt"}
    writers: list[Writer] = []
    if limit is None or sum(a.nbytes for a in state.values()) <= limit:
        writers.append((SAFE_WEIGHTS, lambda p: save_file(state, p, metadata=meta)))
    else:
        shards, current, size = [], {}, 0
        for name, array in state.items():
            if current and size + array.nbytes > limit:
                shards.append(current)
                current, size = {}, 0
            current[name] = array
            size += array.nbytes
        shards.append(current)
        weight_map = {}
        for i, shard in enumerate(shards, 1):
            fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            writers.append((fname, lambda p, shard=shard: save_file(shard, p, metadata=meta)))
            weight_map.update({name: fname for name in shard})
        index = {"metadata": {"total_size": int(sum(a.nbytes for a in state.values()))},
                 "weight_map": weight_map}
        writers.append((SAFE_INDEX, (json.dumps(index, indent=2) + "\n").encode("utf-8")))
    writers.append((CONFIG_NAME, config.to_json_string().encode("utf-8")))
    target = write_model_files(directory, writers)
    # Stale weights that would shadow or contradict the new ones (the loader prefers
    # model.safetensors over an index): only this model's own file names.
    written = {name for name, _ in writers}
    for item in target.iterdir():
        if item.name not in written and (item.name in (SAFE_WEIGHTS, SAFE_INDEX) or
                                         (SHARD.match(item.name) and
                                          item.name.endswith(".safetensors"))):
            item.unlink()
