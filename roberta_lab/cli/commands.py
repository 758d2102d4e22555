"""The commands that read one text or none: ``lab`` (JupyterLab on the notebooks), ``models``
(the bundled names), ``fill-mask`` and ``generate``. Each takes the parsed arguments and returns
the exit status; bad input is a ``CLIError``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from . import loading
from .loading import CLIError, Seq2Seq
from .texts import output_path


def _notebooks_dir() -> Path:
    package = Path(__file__).resolve().parents[1]  # roberta_lab/, beside notebooks/ in a checkout
    for candidate in (package.parent / "notebooks", Path.cwd() / "notebooks"):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


# --- lab ------------------------------------------------------------------------------------------
def cmd_lab(args: argparse.Namespace) -> int:
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("jupyterlab") is None:
        raise CLIError("JupyterLab is not installed: pip install 'roberta_lab[lab]' "
                       "(or run bash scripts/lab.sh)")
    env = dict(os.environ, ROBERTA_LAB_MODEL=args.model, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={_notebooks_dir()}",
           f"--ip={args.ip}", f"--port={args.port}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 0


# --- models ---------------------------------------------------------------------------------------
def cmd_models(_args: argparse.Namespace) -> int:
    from ..model.hub import bundled_models  # noqa: PLC0415

    for name in bundled_models():
        print(name)
    return 0


# --- fill-mask ------------------------------------------------------------------------------------
def cmd_fill_mask(args: argparse.Namespace) -> int:
    """One line per candidate: mask number, rank, token (repr), probability."""
    if args.top_k < 1:
        raise CLIError(f"--top-k must be a positive integer, got {args.top_k}")
    if not args.text.strip():
        raise CLIError("the text is empty")
    if "<mask>" not in args.text:
        raise CLIError("the text must contain <mask>")
    model, tok = loading.load_model(args.model, "mlm")
    from ..engine.fill_mask import fill_mask  # noqa: PLC0415

    try:
        results = fill_mask(model, tok, args.text, top_k=args.top_k)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from exc
    for i, candidates in enumerate(results, start=1):
        for rank, c in enumerate(candidates, start=1):
            print(f"{i}\t{rank}\t{c['token_str']!r}\t{c['score']:.4f}")
    return 0


# --- generate -------------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    if args.max_new_tokens < 1:
        raise CLIError(f"--max-new-tokens must be a positive integer, got {args.max_new_tokens}")
    if not args.prompt.strip():
        raise CLIError("the prompt is empty")
    trace_path = output_path(args.trace, "--trace") if args.trace else None
    model, tok = loading.load_model(args.model, "causal")
    from ..engine.generation import generate, prompt_ids  # noqa: PLC0415
    from ..engine.step_trace import trace_generation  # noqa: PLC0415

    enc_kw = {}
    if isinstance(model, Seq2Seq):  # the prompt is the source; the decoder starts afresh
        import numpy as np  # noqa: PLC0415

        ids = tok(args.prompt, return_tensors="np")["input_ids"]
        limit = model.encoder.config.max_sequence_length
        if ids.shape[1] > limit:
            raise CLIError(f"the prompt is {ids.shape[1]} tokens; the encoder reads at most "
                           f"{limit}")
        states, src_mask = model.encode(ids)
        enc_kw = {"encoder_hidden_states": states, "encoder_attention_mask": src_mask}
        ids = np.array([[model.layout["decoder_start_token_id"]]], np.int32)
        eos = model.layout["eos_token_id"]
        model, prompt_text = model.decoder, ""
    else:
        eos, prompt_text = None, args.prompt
        ids = prompt_ids(tok, args.prompt)  # no trailing </s>: a prompt is continued
    limit = model.config.max_sequence_length
    if ids.shape[1] + args.max_new_tokens > limit:
        raise CLIError(f"prompt ({ids.shape[1]} tokens) + --max-new-tokens "
                       f"({args.max_new_tokens}) exceeds the model's {limit} positions")
    try:
        if trace_path is not None:
            trace = trace_generation(model, ids, max_new_tokens=args.max_new_tokens,
                                     tokenizer=tok, **enc_kw)
            new = trace.tokens
            from ..model.files import write_atomic  # noqa: PLC0415

            write_atomic(trace_path, json.dumps(trace.to_dict()).encode("utf-8"))
        else:
            new = generate(model, ids, max_new_tokens=args.max_new_tokens, eos_token_id=eos,
                           **enc_kw)[0, ids.shape[1]:]
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from exc
    new = [int(t) for t in new]
    if eos is not None and eos in new:  # a seq2seq answer ends at its eos
        new = new[:new.index(eos)]
    # Generation stops at </s>; the pads after it are not text.
    print(prompt_text + tok.decode(new, skip_special_tokens=True))
    if args.trace:
        print(f"trace: {len(trace.steps)} steps -> {args.trace}", file=sys.stderr)
    return 0
