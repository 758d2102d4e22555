"""Loading what a command needs: TensorFlow without its start-up noise, and a model with its
tokenizer for a bundled name, a folder or a hub id, refused with one line when it cannot serve
the command (a task head has no LM head; a causal model cannot fill masks; a seq2seq folder is
an encoder and a decoder).

Example:
    >>> str(CLIError("--top-k must be a positive integer"))
    '--top-k must be a positive integer'
    >>> first_line(ValueError("one\\ntwo"))
    'one'
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL = "roberta-lab/mini-mlm"
DEFAULT_CAUSAL = "roberta-lab/mini-causal"


class CLIError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


def quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from .._quiet import import_tensorflow  # noqa: PLC0415

    import_tensorflow()  # without its start-up lines on stderr
    try:
        import absl.logging  # noqa: PLC0415

        absl.logging.set_verbosity("error")
    except ImportError:  # pragma: no cover - absl comes with tensorflow
        pass


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def seq2seq_folder(name: str) -> Path | None:
    """The folder of a seq2seq model (``seq2seq.json``: an encoder and a decoder), else None."""
    from ..model.hub import local_folder  # noqa: PLC0415

    try:
        folder = local_folder(name)
    except (ValueError, TypeError, OSError):
        return None
    return folder if folder is not None and (folder / "seq2seq.json").is_file() else None


def load_model(name: str, kind: str):
    """(model, tokenizer) for a bundled name, a folder or a hub id; failures become CLIError.
    ``kind`` "mlm" needs a masked-LM model, "causal" a decoder; a seq2seq folder gives
    (Seq2Seq, tokenizer) for "causal"."""
    quiet_tf()
    import roberta_lab as rl  # noqa: PLC0415

    bundled = ", ".join(rl.bundled_models()) or "none"
    seq2seq = seq2seq_folder(name)
    if seq2seq is not None and kind == "mlm":
        raise CLIError(f"{name} is a seq2seq model (encoder + decoder); this command needs a "
                       f"masked-LM model (bundled models: {bundled})")
    try:
        tok = rl.AutoTokenizer.from_pretrained(str(seq2seq) if seq2seq else name)
        if seq2seq is not None:
            return Seq2Seq(seq2seq), tok
        config = rl.RobertaConfig.from_pretrained(name)
        arch = [a for a in (getattr(config, "architectures", None) or [])
                if not a.endswith(("ForMaskedLM", "ForCausalLM", "Model"))]
        if arch:  # a task head's checkpoint has no LM head: its predictions would be random
            raise CLIError(f"{name} is a {arch[0]} (no language-model head); this command needs "
                           f"a {'masked-LM' if kind == 'mlm' else 'causal or seq2seq'} model "
                           f"(bundled models: {bundled})")
        if kind == "mlm" and config.is_decoder:
            raise CLIError(f"{name} is a causal (left-to-right) model; this command needs a "
                           f"masked-LM model (bundled models: {bundled})")
        if kind == "causal" and not config.is_decoder:
            raise CLIError(f"{name} is a masked-LM model (is_decoder is false); generate needs "
                           f"a causal or seq2seq model (bundled models: {bundled})")
        cls = {"mlm": rl.TFRobertaForMaskedLM, "causal": rl.TFRobertaForCausalLM}[kind]
        model = cls.from_pretrained(name, config=config)
    except CLIError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line for the user, not a traceback
        raise CLIError(f"could not load model {name!r}: {first_line(exc)} "
                       f"(bundled models: {bundled})") from exc
    return model, tok


class Seq2Seq:
    """A bundled-style seq2seq folder: ``encoder/`` (TFRobertaModel), ``decoder/``
    (TFRobertaForCausalLM with cross-attention) and ``seq2seq.json`` (start/eos ids)."""

    def __init__(self, folder: Path):
        import roberta_lab as rl  # noqa: PLC0415
        from ..model.files import read_json  # noqa: PLC0415

        self.layout = read_json(folder / "seq2seq.json", "seq2seq layout")
        self.encoder = rl.TFRobertaModel.from_pretrained(str(folder / "encoder"),
                                                         add_pooling_layer=False)
        self.decoder = rl.TFRobertaForCausalLM.from_pretrained(str(folder / "decoder"))
        self.config = self.decoder.config
        for key in ("decoder_start_token_id", "eos_token_id"):
            value = self.layout.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or \
                    not 0 <= value < self.config.vocab_size:
                raise ValueError(f"{folder / 'seq2seq.json'}: {key} must be a token id, got "
                                 f"{value!r}")

    def encode(self, ids):
        import numpy as np  # noqa: PLC0415

        mask = np.ones_like(ids)
        return self.encoder(ids, attention_mask=mask).last_hidden_state, mask
