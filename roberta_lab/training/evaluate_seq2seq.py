"""The mini-seq2seq measurements of ``python -m roberta_lab.training.evaluate seq2seq``.

Greedy exact match on ``seq2seq_heldout.tsv`` and cross-attention on the aligned source position
(see ``evaluate``'s docstring for the alignment convention).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from roberta_lab.training import seq2seq_task
from roberta_lab.training.train import BOS, EOS, PAD, encode_lines

CORPUS_DIR = "data/corpus"



def load_seq2seq(name):
    from roberta_lab import AutoTokenizer, TFRobertaForCausalLM, TFRobertaModel
    from roberta_lab.hub import local_folder
    folder = local_folder(name)
    if folder is None:
        raise ValueError(f"{name}: seq2seq models are loaded from a folder or a bundled name")
    # The encoder was saved without a pooler. TFRobertaModel.from_pretrained has no
    # add_pooling_layer argument (a keyword would become a config field), so the loaded model
    # has a freshly initialised pooler that nothing here uses.
    enc = TFRobertaModel.from_pretrained(str(folder / "encoder"))
    dec = TFRobertaForCausalLM.from_pretrained(str(folder / "decoder"))
    tok = AutoTokenizer.from_pretrained(str(folder))
    layout = json.load(open(folder / "seq2seq.json"))
    return enc, dec, tok, layout


def _pad(rows, width):
    out = np.full((len(rows), width), PAD, np.int32)
    for r, row in enumerate(rows):
        out[r, :len(row)] = row
    return out


def seq2seq_greedy(enc, dec, tok, sources, max_len=16, batch=500):
    """Greedy decoding (full recompute each step); returns the decoded target strings."""
    outs = []
    for i in range(0, len(sources), batch):
        src = _pad([[BOS] + ids + [EOS] for ids in encode_lines(tok, sources[i:i + batch])], max_len)
        src_mask = (src != PAD).astype(np.int32)
        h = enc(src, attention_mask=src_mask).last_hidden_state
        ids = np.full((len(src), 1), BOS, np.int32)
        done = np.zeros(len(src), bool)
        for _ in range(max_len - 1):
            logits = np.asarray(dec(ids, encoder_hidden_states=h, encoder_attention_mask=src_mask).logits)
            nxt = logits[:, -1].argmax(-1).astype(np.int32)
            nxt[done] = PAD
            ids = np.concatenate([ids, nxt[:, None]], axis=1)
            done |= nxt == EOS
            if done.all():
                break
        for row in ids:
            toks = [int(t) for t in row[1:] if t != PAD]
            if EOS in toks:
                toks = toks[:toks.index(EOS)]
            outs.append(tok.decode(toks, skip_special_tokens=True))
    return outs


def seq2seq_alignment(enc, dec, tok, pairs, max_len=16):
    """Mean cross-attention on the aligned source token, per layer and head (teacher forcing).

    Only pairs whose every letter is one token are used: with this tokenizer " q" and " u" are
    two tokens each ("Ġ", "q"), which would shift the letter alignment.
    """
    pairs = [(s, t) for s, t in pairs
             if len(tok.encode(s, add_special_tokens=False)) == len(s.split())
             and len(tok.encode(t, add_special_tokens=False)) == len(t.split())]
    src = _pad([[BOS] + ids + [EOS] for ids in encode_lines(tok, [s for s, _ in pairs])], max_len)
    tgt = _pad([[BOS] + ids + [EOS] for ids in encode_lines(tok, [t for _, t in pairs])], max_len)
    src_mask, tgt_mask = (src != PAD).astype(np.int32), (tgt != PAD).astype(np.int32)
    h = enc(src, attention_mask=src_mask).last_hidden_state
    out = dec(tgt, attention_mask=tgt_mask, encoder_hidden_states=h, encoder_attention_mask=src_mask,
              output_attentions=True)
    cross = np.stack([np.asarray(a) for a in out.cross_attentions])  # [layer, B, head, q, k]
    n_layers, _, n_heads = cross.shape[:3]
    sums = {"predicting": np.zeros((n_layers, n_heads)), "holding": np.zeros((n_layers, n_heads))}
    count = 0
    for b, (s, _) in enumerate(pairs):
        length = len(s.split())
        for i in range(length):
            key = 1 + seq2seq_task.aligned_source_position(i, length)
            sums["predicting"] += cross[:, b, :, i, key]
            sums["holding"] += cross[:, b, :, i + 1, key]
            count += 1
    res = {}
    for conv, total in sums.items():
        mean = total / count  # [layer, head]
        per_layer = mean.mean(axis=1)
        best = int(per_layer.argmax())
        suffix = "" if conv == "predicting" else "_holding"
        res.update({
            f"per_layer_head{suffix}": np.round(mean, 4).tolist(),
            f"per_layer_mean{suffix}": np.round(per_layer, 4).tolist(),
            f"best_layer{suffix}": best,
            f"best_layer_mean{suffix}": round(float(per_layer[best]), 4),
            f"best_head{suffix}": [int(x) for x in np.unravel_index(mean.argmax(), mean.shape)],
            f"best_head_mean{suffix}": round(float(mean.max()), 4),
            f"all_layers_mean{suffix}": round(float(mean.mean()), 4),
        })
    res["n_pairs"] = len(pairs)
    res["n_target_tokens"] = count
    res["uniform_baseline"] = round(float(np.mean([1.0 / (len(s.split()) + 2) for s, _ in pairs])), 4)
    return res


def evaluate_seq2seq(name, args):
    enc, dec, tok, layout = load_seq2seq(name)
    pairs = seq2seq_task.read_pairs(os.path.join(CORPUS_DIR, "seq2seq_heldout.tsv"))
    if args.max_heldout:
        pairs = pairs[:args.max_heldout]
    max_len = int(layout.get("max_length", 16))
    t0 = time.time()
    preds = seq2seq_greedy(enc, dec, tok, [s for s, _ in pairs], max_len)
    correct = [p == t for p, (_, t) in zip(preds, pairs)]
    wrong = [{"source": s, "target": t, "predicted": p}
             for p, (s, t), ok in zip(preds, pairs, correct) if not ok][:args.show_failures]
    return {"model": name, "exact_match": float(np.mean(correct)), "n": len(pairs),
            "alignment": seq2seq_alignment(enc, dec, tok, pairs[:500], max_len),
            "failure_examples": wrong, "seconds": round(time.time() - t0, 1)}
