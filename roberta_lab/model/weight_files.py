"""Reading checkpoint files: tensors by HF PyTorch name from the safest format present.

safetensors first (one file or a sharded index; bfloat16 and float16 widened to float32 as HF
does), then HF's TF ``tf_model.h5``, then pickle (``pytorch_model.bin``, one file or sharded) only
with ``allow_pickle=True`` and then with weights-only unpickling. Shard names come from a file, so
each must be a plain name inside the model folder. Every problem names the file.

Example:
    >>> import os, tempfile
    >>> from roberta_lab import RobertaConfig, TFRobertaModel
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     TFRobertaModel(cfg).save_pretrained(d)
    ...     state = read_state(d)
    >>> state["embeddings.word_embeddings.weight"].shape
    (99, 32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .files import plain_name, read_json
from .hub import resolve_file
from .model_folder import PT_INDEX, PT_WEIGHTS, SAFE_INDEX, SAFE_WEIGHTS, TF_WEIGHTS
from .weight_names import h5_state

def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError  # noqa: PLC0415
    from safetensors.numpy import load_file  # noqa: PLC0415

    try:
        try:
            return {k: widen(v) for k, v in load_file(path).items()}
        except TypeError:
            # numpy has no bfloat16: read through TensorFlow and convert to float32, as HF
            # does when it loads a bfloat16 checkpoint into a float32 model.
            from safetensors.tensorflow import load_file as load_tf  # noqa: PLC0415

            return {k: (v.numpy().astype(np.float32) if v.dtype.is_floating else v.numpy())
                    for k, v in load_tf(path).items()}
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise ValueError(f"checkpoint file {path} is corrupted or truncated: {err}") from None


def widen(array: np.ndarray) -> np.ndarray:
    """bfloat16 (numpy's ml_dtypes extension, once TensorFlow is loaded) -> float32."""
    return array.astype(np.float32) if array.dtype.name == "bfloat16" else array


def _read_h5(path: str) -> dict[str, np.ndarray]:
    """HF TF checkpoint: one dataset per variable, under the h5 path ``h5_state`` converts."""
    import h5py  # noqa: PLC0415

    datasets: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    datasets[name] = np.asarray(obj)
            f.visititems(visit)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise ValueError(f"checkpoint file {path} is corrupted or truncated: {err}") from None
    return h5_state(datasets)


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
