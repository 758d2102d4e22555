"""Masked-LM probe set for the bundled small RoBERTa models, and its scorer.

Probes are rendered ONLY from the held-out EVAL templates in ``templates.py``,
so a probe sentence never appears verbatim in ``train.txt``; the CLI checks
this against a built corpus and fails loudly if it does not hold.

Kinds: ``capital`` (both directions), ``agreement`` (is/are, was/were,
has/have after attractors and relative clauses), ``sequence`` (next/previous,
lists, positions) and ``category`` (member -> category).

Item format (one JSON object per line in ``mlm_probes.jsonl``)::

    {"id": "capital-0000", "kind": "capital", "subkind": "country->capital",
     "text_template": "Everyone knows that the capital of France is {mask}.",
     "answer": " Paris"}

Agreement items whose frame does not fix the tense ("Honestly, the lamp {mask} old.") also
carry ``"also_accept": [" was"]``: the same-number form of the other tense, since these probes
test number, and "is" and "was" are both right there. Frames with a tense cue ("Last week")
accept one form only.

``answer`` carries RoBERTa's leading space; the template has a space before
``{mask}``, which the lstrip ``<mask>`` token absorbs.

CLI: ``python -m roberta_lab.training.probes --out data/probes/mlm_probes.jsonl
--train data/corpus/train.txt``
"""
import argparse
import json
import os
import random
import sys

from . import facts, templates

KINDS = ("capital", "agreement", "sequence", "category")
N_AGREEMENT = 240  # cycles over the 5 EVAL frames: 48 simple, 96 attractor, 96 relative
MASK_TOKEN = "<mask>"


def build_probes(seed=0):
    """Deterministic list of probe items (see module docstring)."""
    rng = random.Random(seed)
    items = []
    # Capitals: one forward and one reverse phrasing per country.
    caps = templates.eval_items(rng, "capital")
    fwd_n, rev_n = len(templates.CAPITAL_EVAL_FWD), len(templates.CAPITAL_EVAL_REV)
    per_country = fwd_n + rev_n
    for c in range(len(facts.COUNTRIES)):
        block = caps[c * per_country:(c + 1) * per_country]
        items.append(("capital",) + block[rng.randrange(fwd_n)])
        items.append(("capital",) + block[fwd_n + rng.randrange(rev_n)])
    # Categories: one phrasing per member.
    cats = templates.eval_items(rng, "category")
    k = len(templates.CATEGORY_EVAL)
    for j in range(0, len(cats), k):
        items.append(("category",) + cats[j + rng.randrange(k)])
    # Sequences: every position/list item, and next or previous per pair.
    seqs = templates.eval_items(rng, "sequence")
    for it in seqs:
        if it[2] in ("position", "list") or rng.random() < 0.5:
            items.append(("sequence",) + it)
    items += [("agreement",) + it for it in templates.eval_items(rng, "agreement", n_agreement=N_AGREEMENT)]

    out, counters = [], {k: 0 for k in KINDS}
    for kind, text, answer, sub in items:
        assert " {mask}" in text and answer.startswith(" ") and answer.strip(), (text, answer)
        item = {"id": f"{kind}-{counters[kind]:04d}", "kind": kind, "subkind": sub,
                "text_template": text, "answer": answer}
        other_tense = _OTHER_TENSE.get(answer)
        if kind == "agreement" and other_tense and not text.startswith(_TENSE_CUES):
            item["also_accept"] = [other_tense]
        out.append(item)
        counters[kind] += 1
    return out


_OTHER_TENSE = {" is": " was", " was": " is", " are": " were", " were": " are"}
_TENSE_CUES = ("Last week",)  # EVAL agreement frames that fix the tense


def filled(item):
    """The probe sentence with its answer in place of the mask."""
    return item["text_template"].replace(" {mask}", item["answer"])


def masked_text(item, n_tokens):
    """Text sent to the model: ``n_tokens`` consecutive ``<mask>`` tokens.

    The space before ``{mask}`` stays; RoBERTa's ``<mask>`` is lstrip, so it
    absorbs that space just as the answer's first token carries it.
    """
    return item["text_template"].replace("{mask}", MASK_TOKEN * n_tokens)


def score_probes(items, fill, tokenizer_encode):
    """Top-1 accuracy of a masked LM on ``items``.

    ``tokenizer_encode(answer) -> list[int]`` gives the answer's token ids
    (no specials); ``fill(text) -> list[int]`` returns the predicted id at each
    ``<mask>`` of ``text`` in order. An item counts only if every id matches
    the answer (or one of its ``also_accept`` answers).
    """
    per_kind, failures, n_correct, n_multi = {}, [], 0, 0
    for item in items:
        want = [int(i) for i in tokenizer_encode(item["answer"])]
        if not want:
            raise ValueError(f"answer of {item['id']} encodes to no tokens")
        n_multi += len(want) > 1
        text = masked_text(item, len(want))
        got = [int(i) for i in fill(text)]
        if len(got) != len(want):
            # A wrong count means fill() is broken, not that the model erred.
            raise ValueError(f"fill returned {len(got)} ids for {len(want)} masks: {text!r}")
        ok = got == want or any(got == [int(i) for i in tokenizer_encode(a)]
                                for a in item.get("also_accept", ()))
        n_correct += ok
        k = per_kind.setdefault(item["kind"], {"n": 0, "n_correct": 0})
        k["n"] += 1
        k["n_correct"] += ok
        if not ok:
            failures.append({"id": item["id"], "kind": item["kind"], "text": text,
                             "answer": item["answer"], "expected_ids": want, "predicted_ids": got})
    for k in per_kind.values():
        k["accuracy"] = k["n_correct"] / k["n"]
    n = len(items)
    return {"accuracy": n_correct / n if n else 0.0, "n": n, "n_correct": n_correct,
            "n_multi_token": n_multi, "per_kind": per_kind, "failures": failures}


def find_leaks(items, train_text):
    """Probe sentences (answer filled) that occur as a substring of the training text."""
    seen, leaks = {}, []
    for item in items:
        s = filled(item)
        if s not in seen:
            seen[s] = s in train_text
            if seen[s]:
                leaks.append(s)
    return leaks


def write_jsonl(items, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build the masked-LM probe set.")
    ap.add_argument("--out", default="data/probes/mlm_probes.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", default="data/corpus/train.txt",
                    help="checked for verbatim probe sentences when it exists")
    args = ap.parse_args(argv)
    items = build_probes(args.seed)
    if os.path.exists(args.train):
        with open(args.train, encoding="utf-8") as fh:
            leaks = find_leaks(items, fh.read())
        if leaks:
            sys.exit(f"error: {len(leaks)} probe sentences occur verbatim in {args.train}, e.g. {leaks[:3]}")
        print(f"checked: no probe sentence occurs in {args.train}")
    else:
        print(f"warning: {args.train} not found; leak check skipped", file=sys.stderr)
    write_jsonl(items, args.out)
    counts = {k: sum(it["kind"] == k for it in items) for k in KINDS}
    print(f"wrote {len(items)} probes to {args.out}: {counts}")


if __name__ == "__main__":
    main()
