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
    from ._quiet import import_tensorflow  # noqa: PLC0415

    import_tensorflow()  # without its start-up lines on stderr
    try:
        import absl.logging  # noqa: PLC0415

        absl.logging.set_verbosity("error")
    except ImportError:  # pragma: no cover - absl comes with tensorflow
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _seq2seq_folder(name: str) -> Path | None:
    """The folder of a seq2seq model (``seq2seq.json``: an encoder and a decoder), else None."""
    from .model.hub import local_folder  # noqa: PLC0415

    try:
        folder = local_folder(name)
    except (ValueError, TypeError, OSError):
        return None
    return folder if folder is not None and (folder / "seq2seq.json").is_file() else None


def _load(name: str, kind: str):
    """(model, tokenizer) for a bundled name, a folder or a hub id; failures become CLIError.
    ``kind`` "mlm" needs a masked-LM model, "causal" a decoder; a seq2seq folder gives
    (Seq2Seq, tokenizer) for "causal"."""
    _quiet_tf()
    import roberta_lab as rl  # noqa: PLC0415

    bundled = ", ".join(rl.bundled_models()) or "none"
    seq2seq = _seq2seq_folder(name)
    if seq2seq is not None and kind == "mlm":
        raise CLIError(f"{name} is a seq2seq model (encoder + decoder); this command needs a "
                       f"masked-LM model (bundled models: {bundled})")
    try:
        tok = rl.AutoTokenizer.from_pretrained(str(seq2seq) if seq2seq else name)
        if seq2seq is not None:
            return _Seq2Seq(seq2seq), tok
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
        raise CLIError(f"could not load model {name!r}: {_first_line(exc)} "
                       f"(bundled models: {bundled})") from exc
    return model, tok


class _Seq2Seq:
    """A bundled-style seq2seq folder: ``encoder/`` (TFRobertaModel), ``decoder/``
    (TFRobertaForCausalLM with cross-attention) and ``seq2seq.json`` (start/eos ids)."""

    def __init__(self, folder: Path):
        import roberta_lab as rl  # noqa: PLC0415
        from .model.files import read_json  # noqa: PLC0415

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
_TEXT_SUFFIXES = (".txt", ".text", ".tsv", ".csv", ".jsonl", ".json", ".md", ".lst")


def _looks_like_path(item: str) -> bool:
    """One word that names a file (a folder separator or a file suffix), not a text to sweep."""
    return not any(c.isspace() for c in item) and (
        os.sep in item or "/" in item or item.lower().endswith(_TEXT_SUFFIXES) or
        item.startswith(("~", ".")))


def _read_texts(items: list[str]) -> list[str]:
    """``--texts FILE`` (one text per non-empty line) or ``--texts TEXT [TEXT ...]``. A single
    item that looks like a path must be an existing file: a mistyped file name is an error,
    never swept as if it were a text."""
    from .model.files import check_input_file  # noqa: PLC0415

    if len(items) == 1 and (os.path.lexists(items[0]) or _looks_like_path(items[0])):
        try:
            check_input_file(os.path.expanduser(items[0]), "--texts")
        except ValueError as exc:
            raise CLIError(f"{exc} (give a file with one text per line, or the texts "
                           "themselves)") from None
        try:
            lines = Path(os.path.expanduser(items[0])).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read --texts {items[0]}: {exc}") from exc
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


def _output(path: str, flag: str, inputs: list[str] = ()) -> Path:
    """An output path checked before any work: a writable file, not a folder, not an input."""
    from .model.files import check_output_file  # noqa: PLC0415

    try:
        check_output_file(path, flag)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    for item in inputs:
        if os.path.isfile(item) and os.path.exists(path) and os.path.samefile(item, path):
            raise CLIError(f"{flag} {path} is also an input; it would be overwritten")
    return Path(path)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Every single head ablated on its own; one CSV row per head (layers x heads rows)."""
    texts = _read_texts(args.texts)
    out = _output(args.out, "--out", args.texts)
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


# --- study ----------------------------------------------------------------------------------------
def cmd_study(args: argparse.Namespace) -> int:
    """A resumable ablation study over a text file (engine/study.py); under TF_CONFIG naming
    several workers, each process runs its share and worker 0 merges the parts."""
    texts, out = Path(args.texts), Path(args.out)
    if not texts.is_file():
        raise CLIError(f"--texts: {texts} is not a file")
    if not os.access(texts, os.R_OK):
        raise CLIError(f"--texts: {texts} is not readable")
    if not out.parent.is_dir():
        raise CLIError(f"the folder of --out does not exist: {out.parent}")
    if out.exists() and not args.resume:
        raise CLIError(f"--out: {out} exists; pass --resume to continue it or choose another path")
    for name in ("batch_texts", "screen_texts", "means_texts"):
        if getattr(args, name) < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be a positive integer")
    if args.screen_top_k is not None and args.screen_top_k < 1:
        raise CLIError("--screen-top-k must be a positive integer")
    conditions = args.conditions if args.conditions in ("heads", "layers") else \
        [c for c in args.conditions.split(",") if c.strip()]
    _quiet_tf()
    from .engine.study import run_study, strategy_from_tf_config  # noqa: PLC0415

    try:
        workers = strategy_from_tf_config()  # before the model: collectives start first
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CLIError(f"TF_CONFIG: {exc}") from exc
    model, tok = _load(args.model, "causal" if args.metric == "next-token" else "mlm")
    try:
        result = run_study(model, tok, str(texts), out, conditions=conditions,
                           method=args.method, metric=args.metric, batch_texts=args.batch_texts,
                           means_texts=args.means_texts, dtype=args.dtype,
                           screen_top_k=args.screen_top_k, screen_texts=args.screen_texts,
                           resume=args.resume, progress=not args.no_progress, workers=workers)
    except (ValueError, TypeError, FileExistsError) as exc:
        raise CLIError(str(exc)) from exc
    meta = result.meta
    print(f"{result.texts} texts x {len(result.summary) - 1} conditions in {result.batches} "
          f"batches ({result.computed_batches} computed now) -> {out}")
    if "agreement" in meta:
        a = meta["agreement"]
        print(f"{a['dtype']} vs float32 on batch 0 ({a['texts']} texts): max |metric diff| "
              f"{a['max_abs_metric_diff']:.3g}, rank correlation of mean deltas "
              f"{a['spearman_mean_delta']:.4f}")
    if "screen" in meta and "spearman_abs" in meta["screen"]:
        print(f"screen (Michel, {meta['screen']['texts']} texts) vs exact, top "
              f"{len(meta['screen']['heads'])}: Spearman {meta['screen']['spearman_abs']:.3f}")
    return 0


# --- generate -------------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> int:
    if args.max_new_tokens < 1:
        raise CLIError(f"--max-new-tokens must be a positive integer, got {args.max_new_tokens}")
    if not args.prompt.strip():
        raise CLIError("the prompt is empty")
    trace_path = _output(args.trace, "--trace") if args.trace else None
    model, tok = _load(args.model, "causal")
    from .engine.generation import generate, prompt_ids  # noqa: PLC0415
    from .engine.step_trace import trace_generation  # noqa: PLC0415

    enc_kw = {}
    if isinstance(model, _Seq2Seq):  # the prompt is the source; the decoder starts afresh
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
            from .model.files import write_atomic  # noqa: PLC0415

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
        return _fail(_first_line(exc))
    except Exception as exc:  # noqa: BLE001 - still one line; ROBERTA_LAB_DEBUG=1 shows more
        if os.environ.get("ROBERTA_LAB_DEBUG"):
            raise
        return _fail(f"{type(exc).__name__}: {_first_line(exc)} (set ROBERTA_LAB_DEBUG=1 for "
                     "the traceback)")


def _fail(message: str) -> int:
    print(f"roberta-lab: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
