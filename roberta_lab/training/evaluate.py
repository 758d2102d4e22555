"""Measure the bundled small models; prints one JSON object.

    python -m roberta_lab.training.evaluate mlm     [--model roberta-lab/mini-mlm]
    python -m roberta_lab.training.evaluate causal  [--model roberta-lab/mini-causal]
    python -m roberta_lab.training.evaluate seq2seq [--model roberta-lab/mini-seq2seq]

mlm: everyday cloze top-1/top-5 (``cloze.score_cloze``), probe accuracy (``probes.score_probes``)
overall and per kind, the Paris check, and the held-out masked-LM loss (``heldout.txt``, masking
fixed by ``--seed``; also on the everyday corpus's new held-out lines when it is built).
causal: held-out loss and perplexity, induction on repeated random tokens (loss ratio, per-head
induction and previous-token scores: ``induction.induction_report``), agreement minimal pairs
(the right verb number more probable than the wrong one) and greedy continuations.
seq2seq: greedy exact match on ``seq2seq_heldout.tsv`` and cross-attention on the aligned
source position (``seq2seq_task.aligned_source_position``).

Alignment is measured on the held-out pairs whose letters are all single tokens (" q" and " u"
are two tokens with this tokenizer). Alignment convention: for target token ``i`` the query is the decoder position that *predicts*
it (position ``i``: ``<s>`` for the first token), and the key is the source token
``L - 1 - i``, i.e. source position ``L - i`` after ``<s>``. The numbers with the query at the
position that *holds* target token ``i`` (``i + 1``) are reported too (``..._holding``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from roberta_lab.training import cloze as cloze_mod  # noqa: E402
from roberta_lab.training import probes as probes_mod  # noqa: E402
from roberta_lab.training.evaluate_seq2seq import (evaluate_seq2seq, load_seq2seq,  # noqa: E402,F401
                                                   seq2seq_alignment, seq2seq_greedy)
from roberta_lab.training.induction import induction_report  # noqa: E402
from roberta_lab.training.train import (BOS, EOS, MASK, PAD, causal_labels, encode_lines,  # noqa: E402
                                        mlm_mask, pack_lines, read_lines)

CORPUS_DIR = "data/corpus"
EVERYDAY_DIR = "data/corpus-everyday"
PROBES_PATH = "data/probes/mlm_probes.jsonl"
PARIS_TEXT = "The capital of France is <mask>."
CAUSAL_PROMPTS = ["The capital of France is", "After Monday comes", "The keys to the cabinet",
                  "A salmon is a kind of", "My sisters", "In the morning the children"]
DEFAULT_MODELS = {"mlm": "roberta-lab/mini-mlm", "causal": "roberta-lab/mini-causal",
                  "seq2seq": "roberta-lab/mini-seq2seq"}


# --------------------------------------------------------------------------- masked LM


def mask_predictions(model, tok, texts, batch_size=128):
    """{text: [argmax id at each <mask>]} for every text, batched."""
    out = {}
    for i in range(0, len(texts), batch_size):
        chunk = texts[i:i + batch_size]
        enc = tok(chunk, padding=True, return_tensors="np")
        logits = np.asarray(model(enc["input_ids"], attention_mask=enc["attention_mask"]).logits)
        pred = logits.argmax(-1)
        for r, text in enumerate(chunk):
            out[text] = [int(x) for x in pred[r][enc["input_ids"][r] == MASK]]
    return out


def score_mlm_probes(model, tok, items=None):
    """``probes.score_probes`` on the probe set, with the model's predictions computed batched."""
    items = probes_mod.read_jsonl(PROBES_PATH) if items is None else items

    def encode(answer):
        return tok.encode(answer, add_special_tokens=False)

    texts = sorted({probes_mod.masked_text(it, len(encode(it["answer"]))) for it in items})
    table = mask_predictions(model, tok, texts)
    return probes_mod.score_probes(items, lambda text: table[text], encode)


def bfloat16_agreement(model, tok, items=None):
    """Share of probe ``<mask>`` positions whose top-1 token is the same in bfloat16 mode
    (``model.set_compute_dtype("bfloat16")``) as in float32; the model is left in float32."""
    items = probes_mod.read_jsonl(PROBES_PATH) if items is None else items
    texts = sorted({probes_mod.masked_text(it, len(tok.encode(it["answer"], add_special_tokens=False)))
                    for it in items})
    model.set_compute_dtype(None)
    f32 = mask_predictions(model, tok, texts)
    try:
        model.set_compute_dtype("bfloat16")
        b16 = mask_predictions(model, tok, texts)
    finally:
        model.set_compute_dtype(None)
    same = sum(a == b for t in texts for a, b in zip(f32[t], b16[t]))
    total = sum(len(f32[t]) for t in texts)
    return {"positions": total, "same_top1": same, "agreement": same / total}


def paris_check(model, tok, k=5):
    enc = tok([PARIS_TEXT], return_tensors="np")
    logits = np.asarray(model(enc["input_ids"], attention_mask=enc["attention_mask"]).logits)[0]
    row = logits[list(enc["input_ids"][0]).index(MASK)]
    top = np.argsort(-row)[:k]
    p = np.exp(row - row.max())
    p /= p.sum()
    tokens = [tok.decode([int(t)]) for t in top]
    return {"text": PARIS_TEXT, "top1": tokens[0], "top1_is_paris": tokens[0] == " Paris",
            "topk": [[t, round(float(p[i]), 4)] for t, i in zip(tokens, top)]}


def heldout_mlm_loss(model, tok, seq_len=64, batch=64, seed=0, max_lines=0, path=None):
    """Mean masked-LM cross-entropy over heldout.txt (packed rows, masking fixed by seed)."""
    lines = read_lines(path or os.path.join(CORPUS_DIR, "heldout.txt"), max_lines)
    rows = pack_lines(encode_lines(tok, lines), seq_len)
    rng = np.random.default_rng(seed)
    total, count = 0.0, 0
    for i in range(0, len(rows), batch):
        ids = rows[i:i + batch]
        inputs, labels = mlm_mask(ids, rng, model.config.vocab_size)
        n = int((labels != -100).sum())
        if n == 0:
            continue
        loss = float(np.mean(model(inputs, attention_mask=(ids != PAD).astype(np.int32), labels=labels).loss))
        total += loss * n
        count += n
    return {"loss": total / count, "n_tokens": count, "n_lines": len(lines)}


CLEAR_ROLE = 0.5  # a head has a clear role when one role holds at least half its attention


def head_roles(model, tok, every=3, batch_size=64):
    """Clark et al. head-role scores (``roberta_lab.head_roles``) over every ``every``-th probe
    sentence with its answer filled in (text that ships with the package), and the heads whose
    strongest role holds at least ``CLEAR_ROLE`` of their attention."""
    from roberta_lab.head_roles import head_role_scores, punctuation_ids
    texts = [probes_mod.filled(it) for it in probes_mod.read_jsonl(PROBES_PATH)][::every]
    enc = tok(texts, padding=True, return_tensors="np")
    scores = head_role_scores(model, enc["input_ids"], enc["attention_mask"],
                              punct_ids=punctuation_ids(tok), batch_size=batch_size)
    roles = ("bos", "eos", "punct", "prev", "next", "self")
    stack = np.stack([scores[r] for r in roles])  # [role, layer, head]
    clear = []
    for layer, head in np.ndindex(stack.shape[1:]):
        r = int(stack[:, layer, head].argmax())
        if stack[r, layer, head] >= CLEAR_ROLE:
            clear.append({"layer": layer, "head": head, "role": roles[r],
                          "score": round(float(stack[r, layer, head]), 3),
                          "entropy": round(float(scores.entropy[layer, head]), 3)})
    clear.sort(key=lambda c: -c["score"])
    return {"n_texts": len(texts), "n_query_rows": scores.n_rows, "clear_role_threshold": CLEAR_ROLE,
            "clear_heads": clear,
            "scores": {r: np.round(scores[r], 3).tolist() for r in roles + ("entropy",)}}


def evaluate_mlm(name, args):
    from roberta_lab import AutoTokenizer, TFRobertaForMaskedLM
    model = TFRobertaForMaskedLM.from_pretrained(name)
    tok = AutoTokenizer.from_pretrained(name)
    t0 = time.time()
    if args.quick:  # the numbers of a training curve
        cz, pr = cloze_mod.score_cloze(model, tok), score_mlm_probes(model, tok)
        return {"model": name, "cloze": {k: cz[k] for k in ("n", "top1", "top5")},
                "probes": {k: v for k, v in pr.items() if k != "failures"},
                "heldout_mlm": heldout_mlm_loss(model, tok, max_lines=args.max_heldout)}
    res = score_mlm_probes(model, tok)
    fails = res.pop("failures")
    by_sub = {}
    items = {it["id"]: it for it in probes_mod.read_jsonl(PROBES_PATH)}
    for it in items.values():
        d = by_sub.setdefault(f'{it["kind"]}/{it["subkind"]}', {"n": 0, "n_correct": 0})
        d["n"] += 1
    failed_ids = {f["id"] for f in fails}
    for iid, it in items.items():
        by_sub[f'{it["kind"]}/{it["subkind"]}']["n_correct"] += iid not in failed_ids
    for d in by_sub.values():
        d["accuracy"] = round(d["n_correct"] / d["n"], 4)
    examples = [{"text": f["text"], "answer": f["answer"],
                 "predicted": tok.decode(f["predicted_ids"])} for f in fails[:args.show_failures]]
    cz = cloze_mod.score_cloze(model, tok)
    return {"model": name, "cloze": {"n": cz["n"], "top1": cz["top1"], "top5": cz["top5"],
                                     "file": os.path.relpath(cloze_mod.CLOZE_PATH, cloze_mod.ROOT),
                                     "items": cz["items"]},
            "probes": {**res, "per_subkind": by_sub}, "paris": paris_check(model, tok),
            "heldout_mlm": heldout_mlm_loss(model, tok, max_lines=args.max_heldout),
            "heldout_everyday_mlm": _everyday_heldout(heldout_mlm_loss, model, tok),
            "head_roles": head_roles(model, tok),
            "bfloat16_top1_agreement": bfloat16_agreement(model, tok),
            "failure_examples": examples, "seconds": round(time.time() - t0, 1)}


def _everyday_heldout(fn, model, tok):
    """``fn`` on the everyday corpus's new held-out lines (fortunes), when that corpus is built."""
    path = os.path.join(EVERYDAY_DIR, "heldout_everyday.txt")
    return fn(model, tok, path=path) if os.path.isfile(path) else None


# --------------------------------------------------------------------------- causal LM


def greedy_continue(model, tok, prompt, n_new=12):
    ids = [BOS] + tok.encode(prompt, add_special_tokens=False)
    start = len(ids)
    for _ in range(n_new):
        logits = np.asarray(model(np.array([ids], np.int32)).logits)[0, -1]
        nxt = int(logits.argmax())
        ids.append(nxt)
        if nxt == EOS:
            break
    return tok.decode(ids[start:], skip_special_tokens=True)


OTHER_NUMBER = {" is": " are", " are": " is", " was": " were", " were": " was",
                " has": " have", " have": " has"}


def sentence_logprobs(model, tok, texts, batch_size=128):
    """Total log-probability of each text under a causal LM, ``<s> text </s>`` -> [texts]."""
    import tensorflow as tf
    out = []
    for i in range(0, len(texts), batch_size):
        rows = [[BOS] + tok.encode(t, add_special_tokens=False) + [EOS] for t in texts[i:i + batch_size]]
        width = max(map(len, rows))
        ids = np.array([r + [PAD] * (width - len(r)) for r in rows], np.int32)
        mask = (ids != PAD).astype(np.int32)
        logp = tf.nn.log_softmax(model(ids, attention_mask=mask).logits[:, :-1], axis=-1)
        picked = tf.gather(logp, ids[:, 1:], batch_dims=2).numpy()  # [rows, width - 1]
        out.extend((picked * mask[:, 1:]).sum(axis=1))
    return np.array(out)


def agreement_minimal_pairs(model, tok, items=None):
    """Grammar of a causal LM, BLiMP-style: each agreement probe sentence with its verb in the
    right number against the same sentence with the other number (is/are, was/were, has/have);
    accuracy = share where the right one is more probable, overall and per subkind
    (simple, attractor, relative clause). Chance is 50%."""
    items = probes_mod.read_jsonl(PROBES_PATH) if items is None else items
    items = [it for it in items if it["kind"] == "agreement"]
    good = [it["text_template"].replace("{mask}", it["answer"]) for it in items]
    bad = [it["text_template"].replace("{mask}", OTHER_NUMBER[it["answer"]]) for it in items]
    right = sentence_logprobs(model, tok, good) > sentence_logprobs(model, tok, bad)
    per = {}
    for it, ok in zip(items, right):
        per.setdefault(it["subkind"], []).append(bool(ok))
    return {"n": len(items), "accuracy": float(right.mean()),
            "per_subkind": {k: float(np.mean(v)) for k, v in sorted(per.items())}}


def heldout_causal_loss(model, tok, seq_len=64, batch=64, max_lines=0, path=None):
    lines = read_lines(path or os.path.join(CORPUS_DIR, "heldout.txt"), max_lines)
    rows = pack_lines(encode_lines(tok, lines), seq_len)
    total, count = 0.0, 0
    for i in range(0, len(rows), batch):
        ids = rows[i:i + batch]
        labels = causal_labels(ids)
        n = int((labels[:, 1:] != -100).sum())
        loss = float(np.mean(model(ids, attention_mask=(ids != PAD).astype(np.int32), labels=labels).loss))
        total += loss * n
        count += n
    mean = total / count
    return {"loss": mean, "perplexity": math.exp(mean), "n_tokens": count, "n_lines": len(lines)}


def evaluate_causal(name, args):
    from roberta_lab import AutoTokenizer, TFRobertaForCausalLM
    model = TFRobertaForCausalLM.from_pretrained(name)
    tok = AutoTokenizer.from_pretrained(name)
    if args.quick:
        rep = induction_report(model)
        return {"model": name, "heldout": heldout_causal_loss(model, tok, max_lines=args.max_heldout),
                "induction": {k: v for k, v in rep.items() if not k.endswith("scores")}}
    return {"model": name, "heldout": heldout_causal_loss(model, tok, max_lines=args.max_heldout),
            "heldout_everyday": _everyday_heldout(heldout_causal_loss, model, tok),
            "induction": induction_report(model),
            "agreement_minimal_pairs": agreement_minimal_pairs(model, tok),
            "greedy": [{"prompt": p, "continuation": greedy_continue(model, tok, p)}
                       for p in CAUSAL_PROMPTS]}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Evaluate a bundled small roberta_lab model.")
    ap.add_argument("task", choices=sorted(DEFAULT_MODELS))
    ap.add_argument("--model", help="bundled name or folder (default roberta-lab/mini-<task>)")
    ap.add_argument("--max-heldout", type=int, default=0, help="use only the first N held-out lines")
    ap.add_argument("--show-failures", type=int, default=20)
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--quick", action="store_true",
                    help="mlm: cloze, probes, held-out loss; causal: held-out loss, induction")
    args = ap.parse_args(argv)
    name = args.model or DEFAULT_MODELS[args.task]
    fn = {"mlm": evaluate_mlm, "causal": evaluate_causal, "seq2seq": evaluate_seq2seq}[args.task]
    res = fn(name, args)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return res


if __name__ == "__main__":
    sys.exit(main() and 0)
