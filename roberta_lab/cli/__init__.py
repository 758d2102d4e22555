"""The ``roberta-lab`` command: open the workbench, list bundled models, fill a mask, sweep heads,
generate.

    roberta-lab lab [--no-browser]        # JupyterLab on notebooks/ with the bundled default model
    roberta-lab models                    # bundled model names
    roberta-lab fill-mask "The capital of France is <mask>." [--model NAME] [--top-k 5]
    roberta-lab sweep --texts texts.txt --out results.csv [--model NAME] [--method zero|mean]
    roberta-lab study --texts texts.txt|.jsonl --out study.csv [--conditions heads|layers|L0H1,...]
                      [--method zero|mean] [--metric masked-lm|...] [--dtype bfloat16] [--resume]
    roberta-lab generate "Once upon a time" [--model roberta-lab/mini-causal]
                         [--max-new-tokens 20] [--trace trace.json]

Every model ``roberta-lab models`` lists works with the commands that can use it (the seq2seq
model with ``generate``: the prompt is its source). Input and output paths are checked before any
work (inputs exist and are files; outputs are writable files, not folders); outputs are written
atomically (a temporary file renamed into place), so Ctrl-C or a full disk never leaves half a
file. Bad input, or a failure such as a full disk, prints one line ``roberta-lab: error: ...`` on
stderr and exits with status 2; no traceback (``ROBERTA_LAB_DEBUG=1`` re-raises, for debugging).

The package: ``loading`` (TensorFlow, models and tokenizers), ``texts`` (texts in, paths out,
sweep inputs), ``commands`` (lab, models, fill-mask, generate), ``studies`` (sweep, study); here
the parser and ``main``, the ``roberta-lab`` entry point (``python -m roberta_lab.cli`` too).
"""

from __future__ import annotations

import argparse
import os
import sys

from .commands import cmd_fill_mask, cmd_generate, cmd_lab, cmd_models
from .loading import DEFAULT_CAUSAL, DEFAULT_MODEL, CLIError, first_line
from .studies import cmd_study, cmd_sweep
from .texts import SWEEP_MASK_RATE, SWEEP_SEED, sweep_inputs

__all__ = ["main", "build_parser", "CLIError", "sweep_inputs", "DEFAULT_MODEL", "DEFAULT_CAUSAL",
           "SWEEP_MASK_RATE", "SWEEP_SEED"]


# --- entry point ----------------------------------------------------------------------------------
def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 1..65535, got {port}")
    return port


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message and exits 2; keep it 1 line
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="roberta-lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    lab = sub.add_parser("lab", help="open the notebooks in JupyterLab")
    lab.add_argument("--model", default=os.environ.get("ROBERTA_LAB_MODEL", DEFAULT_MODEL))
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--port", type=_port, default=8888)
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(fn=cmd_lab)
    sub.add_parser("models", help="list the bundled models").set_defaults(fn=cmd_models)
    fill = sub.add_parser("fill-mask", help="top-k predictions for each <mask>")
    fill.add_argument("text")
    fill.add_argument("--model", default=DEFAULT_MODEL)
    fill.add_argument("--top-k", type=int, default=5)
    fill.set_defaults(fn=cmd_fill_mask)
    sw = sub.add_parser("sweep", help="single-head ablation sweep of the masked-LM loss to CSV")
    sw.add_argument("--texts", nargs="+", required=True, metavar="FILE|TEXT",
                    help="a file with one text per line, or the texts themselves")
    sw.add_argument("--out", required=True, help="CSV to write (one row per head)")
    sw.add_argument("--model", default=DEFAULT_MODEL)
    sw.add_argument("--method", choices=("zero", "mean"), default="zero")
    sw.set_defaults(fn=cmd_sweep)
    st = sub.add_parser("study", help="resumable ablation study over a text file to CSV")
    st.add_argument("--texts", required=True, metavar="FILE",
                    help="one text per line, or JSONL with text (and id, target, distractor)")
    st.add_argument("--out", required=True, help="CSV: batch,text_id,condition,metric")
    st.add_argument("--model", default=DEFAULT_MODEL)
    st.add_argument("--conditions", default="heads",
                    help="heads, layers, or head sets like L0H1+L0H2,L1H3")
    st.add_argument("--method", choices=("zero", "mean"), default="zero")
    st.add_argument("--metric", default="masked-lm",
                    choices=("masked-lm", "next-token", "loss", "logprob", "logit_diff"))
    st.add_argument("--batch-texts", type=int, default=16)
    st.add_argument("--means-texts", type=int, default=256)
    st.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    st.add_argument("--screen-top-k", type=int, default=None,
                    help="rank heads by gradient first, then ablate only the top K exactly")
    st.add_argument("--screen-texts", type=int, default=256)
    st.add_argument("--resume", action="store_true", help="continue an interrupted study")
    st.add_argument("--no-progress", action="store_true")
    st.set_defaults(fn=cmd_study)
    gen = sub.add_parser("generate", help="greedy continuation with a causal model")
    gen.add_argument("prompt")
    gen.add_argument("--model", default=DEFAULT_CAUSAL)
    gen.add_argument("--max-new-tokens", type=int, default=20)
    gen.add_argument("--trace", metavar="JSON", help="also write the step trace as JSON")
    gen.set_defaults(fn=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    try:
        return args.fn(args)
    except CLIError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:  # pragma: no cover - interactive; outputs are atomic: none half-written
        print("roberta-lab: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, MemoryError) as exc:  # full disk, unreadable file, ...
        if os.environ.get("ROBERTA_LAB_DEBUG"):
            raise
        return _fail(first_line(exc))
    except Exception as exc:  # noqa: BLE001 - still one line; ROBERTA_LAB_DEBUG=1 shows more
        if os.environ.get("ROBERTA_LAB_DEBUG"):
            raise
        return _fail(f"{type(exc).__name__}: {first_line(exc)} (set ROBERTA_LAB_DEBUG=1 for "
                     "the traceback)")


def _fail(message: str) -> int:
    print(f"roberta-lab: error: {' '.join(message.split())}", file=sys.stderr)
    return 2
