"""Build the training corpus for the project's bundled small RoBERTa models.

Writes ``train.txt`` and ``heldout.txt`` (one sentence or short passage per
line), the seq2seq reversal task TSVs, and ``manifest.json`` (line counts,
sha256s, sources, licences, seed).

Two sources:
* project-authored facts (``facts.py``) rendered through many TRAIN templates
  (``templates.py``), repeated enough for a small model to memorise them;
* ordinary English from WordNet 3.0 (Debian package ``wordnet-base``): glosses
  turned into plain sentences, plus the quoted example sentences.

Held out: the EVAL templates are never rendered into train.txt (the probes use
them), and a random 2% of WordNet lines go to heldout.txt only.
Deterministic for a given seed: one ``random.Random(seed)``, lists and dicts
only (no set iteration, no ``hash()``).

CLI: ``python -m roberta_lab.training.corpus --out data/corpus``
"""
import argparse
import hashlib
import json
import os
import random
import re
import time

from . import facts, seq2seq_task, templates

WORDNET_POS = [("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")]
# Fact sentences rendered per fact (scaled by ``fact_scale``). Chosen so facts
# are roughly 60-65% of train lines and each capital appears ~600 times.
PER_CAPITAL, PER_MEMBER, PER_SEQUENCE, N_AGREEMENT = 600, 240, 12000, 90000
N_AGREEMENT_HELDOUT = 2000
PASSAGE_PROB = 0.15  # chance a line joins 2-3 fact sentences into a passage
WORDNET_HELDOUT_FRACTION = 0.02

SOURCES = [
    {"name": "roberta_lab facts and templates",
     "files": ["roberta_lab/training/facts.py", "roberta_lab/training/templates.py"],
     "licence": "project licence (project-authored; facts are not copyrightable)"},
    {"name": "WordNet 3.0 (Debian package wordnet-base)", "files": ["/usr/share/wordnet/data.{noun,verb,adj,adv}"],
     "licence": "WordNet 3.0 licence (permits use, copying, modification and redistribution with the notice); "
                "see data/LICENSE-wordnet.txt"},
]

_ARTICLE_START = ("a ", "an ", "the ", "any ", "one ", "some", "someone", "something", "anything")


def as_sentence(text):
    """Collapse whitespace, capitalise, and end with terminal punctuation."""
    text = re.sub(r"\s+", " ", text).strip().strip(";").strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _gloss_sentence(pos, word, definition):
    # Leading qualifiers like "(of a person)" read badly after "means to".
    definition = re.sub(r"^(\([^)]*\)\s*)+", "", definition).strip()
    if len(definition) < 3:
        return ""
    if pos == "n":
        if word[0].isupper() or not definition.startswith(_ARTICLE_START):
            return as_sentence(f"{word} is {definition}")
        return as_sentence(f"{templates.article(word.lower())} {word} is {definition}")
    if pos == "v":
        return as_sentence(f"to {word} means to {definition}")
    return as_sentence(f"{word} means {definition}")


def wordnet_lines(wordnet_dir="/usr/share/wordnet", max_lines=None):
    """Plain sentences from WordNet glosses and examples, deduplicated, file order."""
    out = {}  # dict as an ordered set: first occurrence wins
    for fname, pos in WORDNET_POS:
        with open(os.path.join(wordnet_dir, "data." + fname), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("  "):  # licence header lines
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                word = re.sub(r"\([a-z]+\)$", "", fields[4]).replace("_", " ")
                definition = gloss.split('"')[0].strip().rstrip(";")
                s = _gloss_sentence(pos, word, definition.strip())
                if s:
                    out.setdefault(s, None)
                for ex in re.findall(r'"([^"]+)"', gloss):
                    if len(ex.split()) >= 3:
                        out.setdefault(as_sentence(ex), None)
                if max_lines is not None and len(out) >= max_lines:
                    return list(out)[:max_lines]
    return list(out)


def fact_sentences(rng, scale=1.0):
    """Training sentences for every fact type, in a fixed generation order."""
    n = lambda k: max(1, int(round(k * scale)))  # noqa: E731
    out = {"capital": [], "category": [], "sequence": [], "agreement": []}
    for entry in facts.COUNTRIES:
        out["capital"] += [templates.train_sentence(rng, "capital", entry) for _ in range(n(PER_CAPITAL))]
    for cat, members in facts.CATEGORY_MEMBERS.items():
        for m in members:
            out["category"] += [templates.train_sentence(rng, "category", (cat, m)) for _ in range(n(PER_MEMBER))]
    for name in facts.SEQUENCES:
        out["sequence"] += [templates.train_sentence(rng, "sequence", name) for _ in range(n(PER_SEQUENCE))]
    out["agreement"] = [templates.train_sentence(rng, "agreement", None) for _ in range(n(N_AGREEMENT))]
    return out


def heldout_fact_sentences(rng, scale=1.0):
    """Every EVAL-template rendering, answers filled in (never in train.txt)."""
    lines = []
    n_agree = max(1, int(round(N_AGREEMENT_HELDOUT * scale)))
    for kind in ("capital", "category", "sequence", "agreement"):
        for text, answer, _sub in templates.eval_items(rng, kind, n_agreement=n_agree):
            lines.append(text.replace(" {mask}", answer))
    return lines


def _to_lines(rng, sentences):
    """Shuffle sentences and join some into 2-3 sentence passages."""
    rng.shuffle(sentences)
    lines, i = [], 0
    while i < len(sentences):
        k = rng.choice((2, 3)) if rng.random() < PASSAGE_PROB else 1
        lines.append(" ".join(sentences[i:i + k]))
        i += k
    return lines


def write_lines(path, lines):
    data = ("\n".join(lines) + "\n").encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(data)
    return {"lines": len(lines), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def base_parts(rng, wordnet_dir="/usr/share/wordnet", facts_only=False, max_wordnet_lines=None,
               fact_scale=1.0):
    """The fact and WordNet lines and their split, drawn from ``rng`` in a fixed order:
    ``(by_kind, fact_lines, heldout, wn_train, wn_heldout)``; ``heldout`` ends with ``wn_heldout``.
    The everyday corpus (``everyday.py``) calls this too, so both share one held-out split."""
    by_kind = fact_sentences(rng, fact_scale)
    fact_list = [s for kind in by_kind for s in by_kind[kind]]
    fact_lines = _to_lines(rng, fact_list)
    heldout = heldout_fact_sentences(rng, fact_scale)
    wn_train, wn_heldout = [], []
    if not facts_only:
        for line in wordnet_lines(wordnet_dir, max_wordnet_lines):
            (wn_heldout if rng.random() < WORDNET_HELDOUT_FRACTION else wn_train).append(line)
    return by_kind, fact_lines, heldout + wn_heldout, wn_train, wn_heldout


def build_corpus(out_dir, seed=0, wordnet_dir="/usr/share/wordnet", facts_only=False,
                 max_wordnet_lines=None, fact_scale=1.0, seq2seq_pairs=(50000, 2000)):
    """Write train.txt, heldout.txt, seq2seq TSVs and manifest.json; return the manifest."""
    t0 = time.time()
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    by_kind, fact_lines, heldout, wn_train, wn_heldout = base_parts(
        rng, wordnet_dir, facts_only, max_wordnet_lines, fact_scale)
    n_heldout_facts = len(heldout) - len(wn_heldout)

    train = fact_lines + wn_train
    rng.shuffle(train)
    rng.shuffle(heldout)
    files = {"train.txt": write_lines(os.path.join(out_dir, "train.txt"), train),
             "heldout.txt": write_lines(os.path.join(out_dir, "heldout.txt"), heldout)}
    if seq2seq_pairs:
        for split, n_pairs in zip(("train", "heldout"), seq2seq_pairs):
            pairs = seq2seq_task.make_pairs(n_pairs, seed, split)
            files[f"seq2seq_{split}.tsv"] = write_lines(os.path.join(out_dir, f"seq2seq_{split}.tsv"),
                                                   [f"{s}\t{t}" for s, t in pairs])
    manifest = {
        "seed": seed, "files": files,
        "counts": {
            "fact_sentences": {k: len(v) for k, v in by_kind.items()},
            "fact_train_lines": len(fact_lines), "wordnet_train_lines": len(wn_train),
            "fact_fraction_of_train_lines": round(len(fact_lines) / max(1, len(train)), 4),
            "heldout_fact_lines": n_heldout_facts, "heldout_wordnet_lines": len(wn_heldout),
        },
        "options": {"facts_only": facts_only, "max_wordnet_lines": max_wordnet_lines,
                    "fact_scale": fact_scale, "wordnet_dir": wordnet_dir},
        "sources": SOURCES if not facts_only else SOURCES[:1],
        "heldout_rule": "EVAL templates (templates.py *_EVAL*) never appear in train.txt; "
                        f"{WORDNET_HELDOUT_FRACTION:.0%} of WordNet lines are held out at random",
        "seq2seq_format": "source<TAB>target, target is the source reversed (see seq2seq_task.py)",
        "build_seconds": round(time.time() - t0, 1),
    }
    return write_manifest(out_dir, manifest)


def write_manifest(out_dir: str, manifest: dict) -> dict:
    """``out_dir/manifest.json`` (indented, a final newline) for a corpus build; returns it."""
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/corpus")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wordnet-dir", default="/usr/share/wordnet")
    ap.add_argument("--facts-only", action="store_true", help="skip WordNet (quick builds)")
    ap.add_argument("--max-wordnet-lines", type=int, default=None)
    ap.add_argument("--fact-scale", type=float, default=1.0)
    args = ap.parse_args(argv)
    if not args.facts_only and not os.path.isdir(args.wordnet_dir):
        ap.error(f"{args.wordnet_dir} not found: apt-get install wordnet-base, or pass --facts-only")
    m = build_corpus(args.out, args.seed, args.wordnet_dir, args.facts_only,
                     args.max_wordnet_lines, args.fact_scale)
    for name, info in m["files"].items():
        print(f"{name}: {info['lines']} lines, {info['bytes'] / 1e6:.1f} MB, sha256 {info['sha256']}")
    print(json.dumps(m["counts"]), f"built in {m['build_seconds']} s")


if __name__ == "__main__":
    main()
