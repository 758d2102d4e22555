"""The ``roberta-lab`` command: open the workbench, list bundled models, fill a mask, sweep heads,
generate.

    roberta-lab lab [--no-browser]        # JupyterLab on notebooks/ with the bundled default model
    roberta-lab models                    # bundled model names
    roberta-lab fill-mask "The capital of France is <mask>." [--model NAME] [--top-k 5]
    roberta-lab sweep --texts texts.txt --out results.csv [--model NAME] [--method zero|mean]
    roberta-lab generate "Once upon a time" [--model roberta-lab/mini-causal]
                         [--max-new-tokens 20] [--trace trace.json]

Bad input (a missing <mask>, an unknown model, an empty text file, ...) prints one line
``roberta-lab: error: ...`` on stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_MODEL = "roberta-lab/mini-mlm"
DEFAULT_CAUSAL = "roberta-lab/mini-causal"
SWEEP_MASK_RATE = 0.15
SWEEP_SEED = 0


class CLIError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


def _notebooks_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "notebooks", Path.cwd() / "notebooks"):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def _quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import absl.logging  # noqa: PLC0415

        absl.logging.set_verbosity("error")
    except ImportError:  # pragma: no cover - absl comes with tensorflow
        pass


def _load(name: str, kind: str):
    """(model, tokenizer) for a bundled name, a folder or a hub id; failures become CLIError."""
    _quiet_tf()
    import roberta_lab as rl  # noqa: PLC0415

    cls = {"mlm": rl.TFRobertaForMaskedLM, "causal": rl.TFRobertaForCausalLM}[kind]
    try:
        tok = rl.AutoTokenizer.from_pretrained(name)
        model = cls.from_pretrained(name)
    except Exception as exc:  # noqa: BLE001 - one line for the user, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CLIError(f"could not load model {name!r}: {first} "
                       f"(bundled models: {', '.join(rl.bundled_models()) or 'none'})") from exc
    return model, tok


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
    from .model.hub import bundled_models  # noqa: PLC0415

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
    model, tok = _load(args.model, "mlm")
    from .engine.fill_mask import fill_mask  # noqa: PLC0415

    try:
        results = fill_mask(model, tok, args.text, top_k=args.top_k)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from exc
    for i, candidates in enumerate(results, start=1):
        for rank, c in enumerate(candidates, start=1):
            print(f"{i}\t{rank}\t{c['token_str']!r}\t{c['score']:.4f}")
    return 0


# --- sweep ----------------------------------------------------------------------------------------
def _read_texts(items: list[str]) -> list[str]:
    """``--texts FILE`` (one text per non-empty line) or ``--texts TEXT [TEXT ...]``."""
    if len(items) == 1 and os.path.isfile(items[0]):
        try:
            lines = Path(items[0]).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read {items[0]}: {exc}") from exc
        texts = [t.strip() for t in lines if t.strip()]
        if not texts:
            raise CLIError(f"{items[0]} holds no text (one text per line)")
        return texts
    texts = [t.strip() for t in items]
    if any(not t for t in texts):
        raise CLIError("empty text in --texts")
    return texts


def sweep_inputs(model, tok, texts: list[str], *, rate: float = SWEEP_MASK_RATE,
                 seed: int = SWEEP_SEED):
    """(input_ids, attention_mask, labels, reference_ids) for a masked-LM sweep.

    Texts with ``<mask>``: the labels are the model's own top-1 at each mask (every text must
    then have one). Otherwise a fixed-seed ``rate`` share of each text's non-special tokens is
    replaced by ``<mask>`` and labelled with the original token. ``reference_ids`` are the
    unmasked inputs (for mean ablation)."""
    import numpy as np  # noqa: PLC0415

    from .engine.fill_mask import mask_logits  # noqa: PLC0415

    with_mask = [tok.mask_token in t for t in texts]
    if any(with_mask) and not all(with_mask):
        raise CLIError(f"either every text has {tok.mask_token} or none does")
    enc = tok(texts, padding=True, return_tensors="np")
    ids = np.asarray(enc["input_ids"], np.int32).copy()
    mask = np.asarray(enc["attention_mask"], np.int32)
    limit = model.config.max_sequence_length
    if ids.shape[1] > limit:
        raise CLIError(f"a text is {ids.shape[1]} tokens long; the model reads at most {limit}")
    labels = np.full(ids.shape, -100, np.int64)
    reference = ids.copy()
    if all(with_mask):
        where = np.argwhere(ids == tok.mask_token_id)
        if len(set(where[:, 0].tolist())) != len(ids):
            raise CLIError(f"a text has no {tok.mask_token} token after tokenizing")
        top1 = mask_logits(model, ids, mask, mask_token_id=tok.mask_token_id).numpy().argmax(-1)
        labels[where[:, 0], where[:, 1]] = top1
        return ids, mask, labels, reference
    from .engine.ablation import mask_random_tokens  # noqa: PLC0415

    try:
        masked, new_labels = mask_random_tokens(ids, mask, tok.all_special_ids, tok.mask_token_id,
                                                rate, seed)
    except ValueError as err:
        raise CLIError(str(err)) from None
    ids[...] = masked
    labels[...] = new_labels
    return ids, mask, labels, reference


def cmd_sweep(args: argparse.Namespace) -> int:
    """Every single head ablated on its own; one CSV row per head (layers x heads rows)."""
    texts = _read_texts(args.texts)
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise CLIError(f"the folder of --out does not exist: {out.parent}")
    model, tok = _load(args.model, "mlm")
    from .engine.ablation import head_means, masked_lm_metric, sweep_heads  # noqa: PLC0415

    ids, mask, labels, reference = sweep_inputs(model, tok, texts)
    means = head_means(model, reference, mask) if args.method == "mean" else None
    result = sweep_heads(model, ids, mask, masked_lm_metric(labels), method=args.method,
                         means=means, progress=False)
    result.to_csv(str(out))
    cfg = model.config
    print(f"baseline loss {result.baseline:.4f}; {cfg.num_hidden_layers} layers x "
          f"{cfg.num_attention_heads} heads = {len(result.labels)} rows -> {out}")
    return 0


# --- generate -------------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    if args.max_new_tokens < 1:
        raise CLIError(f"--max-new-tokens must be a positive integer, got {args.max_new_tokens}")
    if not args.prompt.strip():
        raise CLIError("the prompt is empty")
    model, tok = _load(args.model, "causal")
    from .engine.generation import generate  # noqa: PLC0415
    from .engine.step_trace import trace_generation  # noqa: PLC0415

    ids = tok(args.prompt, return_tensors="np")["input_ids"]
    # RoBERTa's tokenizer ends the text with </s>; a prompt is continued, so drop it.
    if ids.shape[1] > 1 and int(ids[0, -1]) == tok.eos_token_id:
        ids = ids[:, :-1]
    limit = model.config.max_sequence_length
    if ids.shape[1] + args.max_new_tokens > limit:
        raise CLIError(f"prompt ({ids.shape[1]} tokens) + --max-new-tokens "
                       f"({args.max_new_tokens}) exceeds the model's {limit} positions")
    try:
        if args.trace:
            trace = trace_generation(model, ids, max_new_tokens=args.max_new_tokens,
                                     tokenizer=tok)
            new = trace.tokens
            path = Path(args.trace)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(trace.to_dict()), encoding="utf-8")
            os.replace(tmp, path)
        else:
            new = generate(model, ids, max_new_tokens=args.max_new_tokens)[0, ids.shape[1]:]
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from exc
    print(args.prompt + tok.decode([int(t) for t in new]))
    if args.trace:
        print(f"trace: {len(trace.steps)} steps -> {args.trace}", file=sys.stderr)
    return 0


# --- entry point ----------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message and exits 2; keep it 1 line
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="roberta-lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    lab = sub.add_parser("lab", help="open the notebooks in JupyterLab")
    lab.add_argument("--model", default=os.environ.get("ROBERTA_LAB_MODEL", DEFAULT_MODEL))
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
    sw = sub.add_parser("sweep", help="single-head ablation sweep of the masked-LM loss to CSV")
    sw.add_argument("--texts", nargs="+", required=True, metavar="FILE|TEXT",
                    help="a file with one text per line, or the texts themselves")
    sw.add_argument("--out", required=True, help="CSV to write (one row per head)")
    sw.add_argument("--model", default=DEFAULT_MODEL)
    sw.add_argument("--method", choices=("zero", "mean"), default="zero")
    sw.set_defaults(fn=cmd_sweep)
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
        print(f"roberta-lab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 130


if __name__ == "__main__":
    sys.exit(main())
