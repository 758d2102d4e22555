"""Checkpoints: loading a model's weights safely, and saving them atomically.

``from_pretrained``: the config, then the tensors (``weight_files.read_state``), checked against
the config before the model is built (``weight_names.check_state_shapes``: nothing large is
allocated for a mismatch), then every tensor checked (shape, float dtype, finite) before any is
assigned, so a bad file leaves the model untouched. ``save_pretrained``: config.json and
safetensors (sharded past ``max_shard_size``) through the model folder's one writer
(``model_folder.write_model_files``: atomic, never into a foreign folder, modes kept).

HF's weight names are known in ``weight_names.py`` alone; this module and ``weight_files.py``
use them. The names below are importable from here as before the split
(``from roberta_lab.checkpoint import state_dict, read_state, weight_table``).

Example:
    >>> import os, tempfile
    >>> from roberta_lab import RobertaConfig, TFRobertaModel
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     TFRobertaModel(cfg).save_pretrained(d, max_shard_size="40KB")
    ...     model, info = from_pretrained(TFRobertaModel, d, output_loading_info=True)
    ...     sorted(n for n in os.listdir(d) if n.endswith(".json"))
    ['config.json', 'model.safetensors.index.json']
    >>> info["missing_keys"], info["unexpected_keys"]
    ([], [])
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from .config import RobertaConfig
from .hub import hub_kwargs
from .model_folder import (CONFIG_NAME, PT_INDEX, PT_WEIGHTS, SAFE_INDEX, SAFE_WEIGHTS, SHARD,
                           TF_WEIGHTS, Writer, check_model_folder, write_model_files)
from .weight_files import read_state, widen
from .weight_names import (architecture_name, check_state_shapes, normalise, quiet_unused,
                           state_dict, weight_table)

__all__ = ["from_pretrained", "load_state", "save_pretrained", "read_state", "state_dict",
           "weight_table", "check_state_shapes", "SAFE_WEIGHTS", "SAFE_INDEX", "TF_WEIGHTS",
           "PT_WEIGHTS", "PT_INDEX"]

logger = logging.getLogger(__name__)


def load_state(model: Any, state: dict[str, np.ndarray], *, strict: bool = False,
               ignore_mismatched_sizes: bool = False) -> dict[str, list]:
    """Check every tensor, then assign. Returns HF-style loading info."""
    table = weight_table(model)
    state = normalise(state, table)
    missing = sorted(set(table) - set(state))
    unexpected = sorted(set(state) - set(table))
    mismatched, values = [], {}
    for name, array in state.items():
        if name not in table:
            continue
        var, transpose = table[name]
        array = widen(np.asarray(array))
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
    if strict and (missing or unexpected):
        raise ValueError(f"strict loading failed: missing {missing}, unexpected {unexpected}")
    for name, array in values.items():
        table[name][0].assign(array.astype(np.dtype(table[name][0].dtype)))
    model.invalidate_compiled()  # the registry's contract: a weight load empties it
    if missing:
        logger.warning("weights not in the checkpoint, newly initialised: %s", missing)
    if set(unexpected) - quiet_unused(table, unexpected):
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
    check_model_folder(directory, [])  # before the weights are copied out of the model
    config = model.config.copy(architectures=[architecture_name(model)])
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
