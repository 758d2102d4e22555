"""Grammaticality: the task of the bundled sequence classifier ``roberta-lab/mini-grammar``.

Each template instance (one draw of the agreement fields: subject, attractor, relative clause,
predicate) gives a minimal pair: the sentence with the verb that agrees with the subject (label 1,
"grammatical") and the same sentence with the other number (label 0, "ungrammatical"): is/are,
was/were, has/have. Train sentences come from the corpus's TRAIN agreement frames
(``templates.AGREE_TRAIN``), held-out ones from its EVAL frames (``templates.AGREE_EVAL``, never
rendered into the corpus), so the two splits share no template, hence no template instance and
no sentence; ``make_split`` also drops a held-out text that occurs in train (none does).

    >>> from roberta_lab.training import classify_task
    >>> pairs = classify_task.make_split("heldout", 1)
    >>> [label for _, label in pairs]
    [1, 0]
    >>> pairs[0][0].split()[:2]
    ['Honestly,', 'the']

Fine-tuning (``python -m roberta_lab.training.train grammar --init data/mini-mlm --out ...``)
follows ``train.py``: a step-only schedule (linear warmup then decay), seeded, AdamW with
clipping, ``--jit`` optional, and a ``training_log.json`` with the command, the args and the
held-out accuracy.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time

import numpy as np

from roberta_lab.training import facts, templates

ID2LABEL = {0: "ungrammatical", 1: "grammatical"}
VERB_KINDS = ("be", "be_past", "have")  # the agreeing verbs (see facts.AGREE_VERBS)
DATA_SEED = 0  # the task's data is fixed; --seed only changes the head's init and data order
N_TRAIN, N_HELDOUT = 3000, 400  # template instances (each gives 2 sentences)
SPLITS = {"train": templates.AGREE_TRAIN, "heldout": templates.AGREE_EVAL}


def _other_number(verb):
    for sing, plur in facts.AGREE_VERBS.values():
        if verb in (sing, plur):
            return plur if verb == sing else sing
    raise ValueError(f"{verb!r} is not an agreeing verb of facts.AGREE_VERBS")


def minimal_pair(frame, fields):
    """(grammatical, ungrammatical) renderings of ``frame`` with ``fields``."""
    wrong = dict(fields, V=_other_number(fields["V"]))
    wrong["Vcap"] = templates.cap(wrong["V"])
    return frame.format(**fields), frame.format(**wrong)


def _instances(split, n, seed):
    """Up to ``n`` distinct minimal pairs of ``split``'s frames, deterministic in ``seed``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    frames = [(f, [k for k in kinds.split() if k in VERB_KINDS]) for f, kinds, _ in SPLITS[split]]
    frames = [(f, kinds) for f, kinds in frames if kinds]
    rng = random.Random(f"{split}:{seed}")  # str seeds hash with sha512: stable across runs
    seen, out = set(), []
    for _ in range(50 * n):
        if len(out) == n:
            break
        frame, kinds = frames[len(out) % len(frames)]
        fields = templates.agreement_fields(rng, rng.choice(kinds), rng.random() < 0.5,
                                            rng.random() < 0.5)
        pair = minimal_pair(frame, fields)
        if pair[0] not in seen:
            seen.add(pair[0])
            out.append(pair)
    return out


def make_split(split, n=None, seed=DATA_SEED):
    """``[(text, label), ...]``: ``n`` minimal pairs (2n texts), grammatical first in each pair."""
    n = (N_TRAIN if split == "train" else N_HELDOUT) if n is None else n
    pairs = _instances(split, n, seed)
    if split == "heldout":  # by construction nothing is shared; checked, not assumed
        train = {t for p in _instances("train", N_TRAIN, seed) for t in p}
        pairs = [p for p in pairs if p[0] not in train and p[1] not in train]
    return [(text, label) for good, bad in pairs for text, label in ((good, 1), (bad, 0))]


def encode(tok, examples, seq_len):
    """(ids, mask, labels): ``<s> text </s>`` padded to ``seq_len`` (int32 [n, seq_len], [n])."""
    from roberta_lab.training.train import PAD, encode_lines, pad_rows
    ids = pad_rows(encode_lines(tok, [t for t, _ in examples]), seq_len)
    return ids, (ids != PAD).astype(np.int32), np.asarray([y for _, y in examples], np.int32)


def accuracy(model, tok, examples, seq_len=24, batch=200):
    """Share of ``examples`` whose argmax label is the gold one."""
    ids, mask, labels = encode(tok, examples, seq_len)
    hits = 0
    for s in range(0, len(ids), batch):
        logits = np.asarray(model(ids[s:s + batch], attention_mask=mask[s:s + batch]).logits)
        hits += int((logits.argmax(-1) == labels[s:s + batch]).sum())
    return hits / len(ids)


def train(args):
    """Fine-tune a ``TFRobertaForSequenceClassification`` from ``args.init`` (see module doc)."""
    import keras
    import tensorflow as tf

    from roberta_lab import TFRobertaForSequenceClassification
    from roberta_lab.training.train import load_tokenizer, make_optimizer
    if not args.init:
        raise ValueError("grammar fine-tunes a pretrained model: pass --init (e.g. data/mini-mlm)")
    t_start = time.time()
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tok = load_tokenizer(args.tokenizer)
    model = TFRobertaForSequenceClassification.from_pretrained(
        args.init, num_labels=2, id2label=dict(ID2LABEL), label2id={v: k for k, v in ID2LABEL.items()},
        hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout)
    train_ex, held_ex = make_split("train"), make_split("heldout")
    ids, mask, labels = encode(tok, train_ex, args.seq_len)
    variables = model.trainable_variables
    opt, sched, progress = make_optimizer(args.lr, args.warmup, args.weight_decay)
    opt.build(variables)

    def step(ids, mask, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(ids, attention_mask=mask, labels=labels, training=True).loss)
        grads, norm = tf.clip_by_global_norm(tape.gradient(loss, variables), args.clip)
        opt.apply_gradients(zip(grads, variables))
        return loss

    step_fn = tf.function(step, jit_compile=args.jit, reduce_retracing=True)
    order, pos, history, ema = rng.permutation(len(ids)), 0, [], None
    t_train = time.time()
    for n in range(1, args.steps + 1):
        if pos + args.batch > len(order):
            order, pos = rng.permutation(len(ids)), 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        progress.assign((n - 1) / args.steps)  # step-only: the clock never sets the schedule
        loss = float(step_fn(ids[idx], mask[idx], labels[idx]))
        if not np.isfinite(loss):
            raise FloatingPointError(f"loss is {loss} at step {n}")
        ema = loss if ema is None else 0.98 * ema + 0.02 * loss
        if n % args.log_every == 0 or n == args.steps:
            history.append({"step": n, "loss": round(loss, 4), "ema": round(ema, 4),
                            "seconds": round(time.time() - t_train, 1)})
            print(f"step {n}/{args.steps} loss {loss:.4f} ema {ema:.4f}", flush=True)
    train_s = time.time() - t_train
    held = accuracy(model, tok, held_ex)
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)
    log = {"task": args.task, "command": args.command,
           "args": {k: v for k, v in vars(args).items() if k != "command"},
           "config": model.config.to_dict(), "steps_planned": args.steps, "steps_done": args.steps,
           "complete": True, "stop_reason": "--steps reached",
           "wall_seconds": round(time.time() - t_start, 1), "train_seconds": round(train_s, 1),
           "train_examples": len(train_ex), "heldout_examples": len(held_ex),
           "epochs_seen": round(args.steps * args.batch / len(train_ex), 3),
           "final_loss": ema, "heldout_accuracy": held, "loss_history": history}
    tmp = os.path.join(args.out, "training_log.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(log, fh, indent=2, default=str)
        fh.write("\n")
    os.replace(tmp, os.path.join(args.out, "training_log.json"))
    print(f"done: {args.steps} steps in {train_s:.0f}s, held-out accuracy {held:.4f} "
          f"({len(held_ex)} texts); saved to {args.out}", file=sys.stdout, flush=True)
    return log
