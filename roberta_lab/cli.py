"""The ``roberta-lab`` command: open the workbench, list bundled models, fill a mask.

    roberta-lab lab                       # JupyterLab on notebooks/ with the bundled default model
    roberta-lab models                    # bundled model names
    roberta-lab fill-mask "The capital of France is <mask>." [--model NAME] [--top-k 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_MODEL = "roberta-lab/mini-mlm"


def _notebooks_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "notebooks", Path.cwd() / "notebooks"):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def cmd_lab(args: argparse.Namespace) -> int:
    env = dict(os.environ, ROBERTA_LAB_MODEL=args.model, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={_notebooks_dir()}",
           f"--ip={args.ip}", f"--port={args.port}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    return subprocess.call(cmd, env=env)


def cmd_models(_args: argparse.Namespace) -> int:
    from .hub import bundled_models

    for name in bundled_models():
        print(name)
    return 0


def cmd_fill_mask(args: argparse.Namespace) -> int:
    import numpy as np

    from . import AutoTokenizer, TFRobertaForMaskedLM

    tok = AutoTokenizer.from_pretrained(args.model)
    if tok.mask_token not in args.text:
        print(f"error: text must contain {tok.mask_token}", file=sys.stderr)
        return 2
    model = TFRobertaForMaskedLM.from_pretrained(args.model)
    enc = tok(args.text, return_tensors="np")
    logits = model(enc).logits.numpy()[0]
    for pos in np.flatnonzero(enc["input_ids"][0] == tok.mask_token_id):
        z = logits[pos] - logits[pos].max()
        probs = np.exp(z) / np.exp(z).sum()
        for idx in np.argsort(-probs)[: args.top_k]:
            print(f"{pos}\t{tok.decode([int(idx)])!r}\t{probs[idx]:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="roberta-lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="open the notebooks in JupyterLab")
    lab.add_argument("--model", default=DEFAULT_MODEL)
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(fn=cmd_lab)
    sub.add_parser("models", help="list the bundled models").set_defaults(fn=cmd_models)
    fill = sub.add_parser("fill-mask", help="top-k predictions for each <mask>")
    fill.add_argument("text")
    fill.add_argument("--model", default=DEFAULT_MODEL)
    fill.add_argument("--top-k", type=int, default=5)
    fill.set_defaults(fn=cmd_fill_mask)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
