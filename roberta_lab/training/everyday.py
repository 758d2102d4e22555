"""The everyday corpus: the project corpus re-mixed towards ordinary English.

    python -m roberta_lab.training.everyday --out data/corpus-everyday [--gcide] [--books]

Built from the same pieces as ``data/corpus`` (``corpus.base_parts`` with the same seed, so the
held-out split is the same: no line held out there is trained on here) plus:

* the fact lines, of which a share ``fact_keep`` is kept (the probes' facts stay in the mix);
* WordNet: every gloss and example of data/corpus's training split, and each example sentence
  ``example_copies`` times in all (WordNet's examples are the most everyday English here);
* Debian fortunes (``sources.fortune_lines``), 2% held out, the rest ``fortune_copies`` times;
* with ``gcide=True`` only: GCIDE quotations and examples, 2% held out (GPL-2+, see data/README.md);
* with ``books=True`` only (``books.py``): the World English Bible, Jane Austen's six novels and
  the 720 Harvard sentences, one sentence a line, each 2% held out (their draws come after all the
  others, so without ``books`` the corpus is byte for byte what it was).

Every training line that contains an everyday cloze sentence (``cloze.filter_lines``) is dropped.
Outputs ``train.txt``, ``heldout.txt`` (data/corpus's held-out lines + the new sources' held-out
lines), ``heldout_everyday.txt`` (the new sources' held-out lines alone) and ``manifest.json``
(counts, sha256s, Debian package versions, the cloze file's sha256). Deterministic: the new draws
come from ``random.Random(seed + 1)`` after ``base_parts`` has used ``random.Random(seed)``.

>>> import random
>>> _copies(["a", "b"], 3)
['a', 'b', 'a', 'b', 'a', 'b']
>>> _split(["x%d" % i for i in range(100)], random.Random(0), 0.1)[1]
['x35', 'x40', 'x52', 'x75', 'x97']
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import time

from . import books as books_mod
from . import cloze, corpus, sources

HELDOUT_FRACTION = 0.02
PACKAGES = ["wordnet-base", "fortunes", "fortunes-min", "dict-gcide"]
BOOK_PACKAGES = ["sword-text-web", "r-cran-janeaustenr", "r-cran-stringr"]  # recorded with books=True


def _copies(lines, k):
    return [ln for _ in range(k) for ln in lines]


def _split(lines, rng, frac):
    train, held = [], []
    for ln in lines:
        (held if rng.random() < frac else train).append(ln)
    return train, held


def package_versions(names=PACKAGES):
    """``{package: version}`` from dpkg (``None`` where dpkg or the package is missing)."""
    out = {}
    for name in names:
        try:
            got = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
            out[name] = got.stdout.strip() if got.returncode == 0 else None
        except OSError:
            out[name] = None
    return out


def build_everyday(out_dir, seed=0, fact_keep=0.3, example_copies=4, fortune_copies=2, gcide=False,
                   wordnet_dir=sources.WORDNET_DIR, fortune_dir=sources.FORTUNE_DIR,
                   gcide_path=sources.GCIDE_PATH, cloze_path=cloze.CLOZE_PATH, max_wordnet_lines=None,
                   fact_scale=1.0, books=False, web_dir=books_mod.WEB_DIR,
                   austen_path=books_mod.AUSTEN_PATH, stringr_path=books_mod.STRINGR_PATH):
    """Write the everyday corpus to ``out_dir``; return its manifest."""
    t0 = time.time()
    os.makedirs(out_dir, exist_ok=True)
    _by_kind, fact_lines, heldout, wn_train, _wn_held = corpus.base_parts(
        random.Random(seed), wordnet_dir, False, max_wordnet_lines, fact_scale)
    rng = random.Random(seed + 1)
    facts_kept = [ln for ln in fact_lines if rng.random() < fact_keep]
    examples = set(sources.wordnet_examples(wordnet_dir))
    wn_examples = [ln for ln in wn_train if ln in examples]  # training-split examples only
    fort_train, fort_held = _split(sources.fortune_lines(fortune_dir), rng, HELDOUT_FRACTION)
    gc_train, gc_held = _split(sources.gcide_lines(gcide_path), rng, HELDOUT_FRACTION) if gcide else ([], [])
    parts = {"facts": facts_kept, "wordnet": wn_train,
             "wordnet_examples_extra": _copies(wn_examples, example_copies - 1),
             "fortunes": _copies(fort_train, fortune_copies), "gcide": gc_train}
    held_by = {"fortunes": fort_held, "gcide": gc_held}
    book_sources = {}
    if books:  # drawn after every other draw: books=False leaves the corpus as it was
        for name, lines in (("web_bible", books_mod.web_bible_lines(web_dir)),
                            ("austen", books_mod.austen_lines(austen_path)),
                            ("harvard", books_mod.harvard_sentences(stringr_path))):
            book_sources[name] = {"lines": len(lines), "words": sum(len(ln.split()) for ln in lines)}
            parts[name], held_by[name] = _split(lines, rng, HELDOUT_FRACTION)
    items = cloze.read_cloze(cloze_path)
    removed = {}
    for name in parts:
        parts[name], removed[name] = cloze.filter_lines(parts[name], items)
    train = [ln for name in parts for ln in parts[name]]
    rng.shuffle(train)
    new_held = [ln for name in held_by for ln in held_by[name]]
    files = {"train.txt": corpus.write_lines(os.path.join(out_dir, "train.txt"), train),
             "heldout.txt": corpus.write_lines(os.path.join(out_dir, "heldout.txt"), heldout + new_held),
             "heldout_everyday.txt": corpus.write_lines(os.path.join(out_dir, "heldout_everyday.txt"), new_held)}
    with open(cloze_path, "rb") as fh:
        cloze_sha = hashlib.sha256(fh.read()).hexdigest()
    manifest = {
        "seed": seed, "files": files,
        "counts": {"train_lines": {k: len(v) for k, v in parts.items()},
                   "cloze_lines_removed": removed, "wordnet_example_sentences": len(wn_examples),
                   "heldout_lines": {"data/corpus heldout": len(heldout),
                                     **{k: len(v) for k, v in held_by.items()}}},
        "options": {"fact_keep": fact_keep, "example_copies": example_copies,
                    "fortune_copies": fortune_copies, "gcide": gcide, "fact_scale": fact_scale,
                    "max_wordnet_lines": max_wordnet_lines},
        "cloze_filter": {"file": os.path.relpath(cloze_path, cloze.ROOT), "sha256": cloze_sha},
        "packages": package_versions(PACKAGES + BOOK_PACKAGES if books else PACKAGES),
        "fortune_files": sources.FORTUNE_FILES,
        "build_seconds": round(time.time() - t0, 1),
    }
    if books:  # only then, so that the default manifest keeps its keys
        manifest["options"]["books"] = True
        manifest["counts"]["book_sources"] = book_sources
    return corpus.write_manifest(out_dir, manifest)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/corpus-everyday")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gcide", action="store_true", help="add GCIDE (GPL-2+; not in the bundled models)")
    ap.add_argument("--fortune-copies", type=int, default=2,
                    help="0 leaves the fortunes out (quotations of unclear provenance)")
    ap.add_argument("--books", action="store_true",
                    help="add the World English Bible, Jane Austen and the Harvard sentences (books.py)")
    a = ap.parse_args(argv)
    m = build_everyday(a.out, a.seed, gcide=a.gcide, fortune_copies=a.fortune_copies, books=a.books)
    for name, info in m["files"].items():
        print(f"{name}: {info['lines']} lines, {info['bytes'] / 1e6:.1f} MB, sha256 {info['sha256']}")
    print(json.dumps(m["counts"]), f"built in {m['build_seconds']} s")


if __name__ == "__main__":
    main()
