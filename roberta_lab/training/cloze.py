"""The everyday cloze set: ordinary English sentences with one ``<mask>`` and accepted answers.

``data/probes/everyday_cloze.jsonl`` holds 220 sentences written in the project ("She drank a
cup of <mask>." -> tea, coffee, water, milk). They measure whether a masked LM knows ordinary
English, so they are never trained on: ``filter_lines`` drops every corpus line that contains a
cloze sentence with any word in the mask's place, and the everyday corpus build applies it.

Scoring (``score_cloze``): a sentence counts for top-k when one of its accepted answers whose
`` answer`` is a single token of the tokenizer is among the model's k most probable tokens at the
mask (answers that are several tokens cannot be a single-mask guess and are not scored; every
sentence has at least one single-token answer).

>>> items = [{"id": "x", "text": "She drank a cup of <mask>.", "answers": ["tea"]}]
>>> filter_lines(["She drank a cup of cocoa.", "He drank a cup."], items)
(['He drank a cup.'], 1)
>>> filter_lines(["Snow is white.", "Snow is frozen rain."], [{"text": "Snow is <mask>."}])
(['Snow is frozen rain.'], 1)
"""
from __future__ import annotations

import json
import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLOZE_PATH = os.path.join(ROOT, "data", "probes", "everyday_cloze.jsonl")
MASK_TOKEN = "<mask>"


def read_cloze(path=CLOZE_PATH):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def normalise(text):
    """Lower case, words and sentence ends only, single spaces: 'She's  here, now!' ->
    "she's here now ." (the sentence end is kept so that "Snow is <mask>." does not match the
    start of a longer sentence)."""
    text = re.sub(r"[.!?]+", " . ", text.lower())
    return " ".join(re.sub(r"[^a-z0-9'.]+", " ", text).split())


def _pattern(item):
    left, _, right = item["text"].partition(MASK_TOKEN)
    left, right = normalise(left), normalise(right)
    return re.compile(r"(?:^| )" + re.escape(left) + r" [a-z0-9']+" + (r" " + re.escape(right) if right else "")
                      + r"(?: |$)")


def filter_lines(lines, items):
    """``(kept, n_removed)``: the lines that contain no cloze sentence (any word at the mask).

    Lines are matched after ``normalise``; candidates are found by the first two words of each
    sentence, so the cost is linear in the corpus.
    """
    by_start = {}
    for it in items:
        left = normalise(it["text"].partition(MASK_TOKEN)[0]).split()
        key = " ".join(left[:2]) if len(left) >= 2 else (left[0] if left else "")
        by_start.setdefault(key, []).append(_pattern(it))
    kept, removed = [], 0
    for line in lines:
        norm = normalise(line)
        words = norm.split()
        keys = {" ".join(words[i:i + 2]) for i in range(len(words))} | set(words) | {""}
        pats = [p for k in keys if k in by_start for p in by_start[k]]
        if any(p.search(norm) for p in pats):
            removed += 1
        else:
            kept.append(line)
    return kept, removed


def answer_ids(tok, item):
    """Token ids of the accepted answers that are one token (`` tea``)."""
    ids = [tok.encode(" " + a, add_special_tokens=False) for a in item["answers"]]
    return sorted({i[0] for i in ids if len(i) == 1})


def score_cloze(model, tok, items=None, k=5, batch_size=64):
    """Top-1 and top-``k`` accuracy of a masked LM on the cloze set, and each sentence's top-k.

    Returns ``{"n", "top1", "top5", "items": [{"id", "text", "answers", "top5", "rank_ok"}]}``;
    ``rank_ok`` is the 1-based rank of the best accepted answer within the top k (None if absent).
    """
    items = read_cloze() if items is None else items
    out = []
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        enc = tok([it["text"] for it in chunk], padding=True, return_tensors="np")
        logits = np.asarray(model(enc["input_ids"], attention_mask=enc["attention_mask"]).logits)
        for r, it in enumerate(chunk):
            pos = int(np.flatnonzero(enc["input_ids"][r] == tok.mask_token_id)[0])
            top = [int(t) for t in np.argsort(-logits[r, pos])[:k]]
            ok = [j + 1 for j, t in enumerate(top) if t in answer_ids(tok, it)]
            out.append({"id": it["id"], "text": it["text"], "answers": it["answers"],
                        f"top{k}": [tok.decode([t]).strip() for t in top],
                        "rank_ok": ok[0] if ok else None})
    n = len(out)
    return {"n": n, "top1": sum(o["rank_ok"] == 1 for o in out) / n,
            f"top{k}": sum(o["rank_ok"] is not None for o in out) / n, "items": out}


def context_baseline(lines, items=None, k=5):
    """What the corpus itself says about each cloze blank: a count model of the left context.

    For each sentence the candidates are the words that follow the mask's two left words
    anywhere in ``lines`` (after ``normalise``), ranked by count. Returns ``{"n", "top1",
    "top5", "seen"}``: the count model's accuracy, and the share of sentences where an accepted
    answer ever follows those two words in the corpus (an upper bound on what the corpus shows
    directly). A masked LM also uses the right context and generalises, so this is a yardstick
    of how much the corpus supports the set, not a ceiling.

    >>> lines = ["She drank a cup of tea.", "A cup of tea.", "A cup of coffee.", "Cup of water"]
    >>> items = [{"text": "I want a cup of <mask>.", "answers": ["coffee"]}]
    >>> context_baseline(lines, items)
    {'n': 1, 'top1': 0.0, 'top5': 1.0, 'seen': 1.0}
    """
    items = read_cloze() if items is None else items
    keys = []
    for it in items:
        left = normalise(it["text"].partition(MASK_TOKEN)[0]).split()
        keys.append(tuple(left[-2:]))
    wanted = set(keys)
    follow = {key: {} for key in wanted}
    for line in lines:
        words = normalise(line).split()
        for i in range(2, len(words)):
            key = (words[i - 2], words[i - 1])
            if key in wanted:
                counts = follow[key]
                counts[words[i]] = counts.get(words[i], 0) + 1
    top1 = topk = seen = 0
    for it, key in zip(items, keys):
        answers = {a.lower() for a in it["answers"]}
        ranked = sorted(follow[key].items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        guesses = [w for w, _ in ranked]
        top1 += bool(guesses) and guesses[0] in answers
        topk += bool(answers & set(guesses))
        seen += any(a in follow[key] for a in answers)
    n = len(items)
    return {"n": n, "top1": top1 / n, f"top{k}": topk / n, "seen": seen / n}


def main(argv=None):
    """``python -m roberta_lab.training.cloze --corpus data/corpus-books``: the context baseline."""
    import argparse
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--corpus", required=True, help="a corpus folder with train.txt")
    args = ap.parse_args(argv)
    path = os.path.join(args.corpus, "train.txt")
    if not os.path.isfile(path):
        ap.error(f"--corpus: {path} does not exist")
    with open(path, encoding="utf-8") as fh:
        print(json.dumps(context_baseline(fh), indent=1))


if __name__ == "__main__":
    main()
