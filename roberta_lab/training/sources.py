"""Everyday English from Debian packages, for the ``everyday`` corpus (``corpus.py --everyday``).

* ``wordnet_examples``: WordNet 3.0's quoted usage examples (``wordnet-base``), all of those with
  at least three words, as sentences: "she drank a cup of tea" style, the most everyday text here;
* ``fortune_lines``: Debian ``fortunes``/``fortunes-min`` cookies (``%``-separated files), one
  line each, without attributions, from the files in ``FORTUNE_FILES`` (not the ``ethnic`` file,
  the lyrics of ``songs-poems``, ASCII art, or the ``off/`` offensive set);
* ``gcide_lines``: GCIDE's quotations and ``as, ...`` usage examples (``dict-gcide``, dictzip =
  gzip). GPL-2+, so it is opt-in and not in the bundled weights (see data/README.md).

Each reader returns a list of lines in file order, deduplicated, so the corpus build stays a
pure function of the package files.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> _ = open(os.path.join(d, "food"), "w").write(
...     "Eat your greens every day.\\n%\\nA cup of tea\\nsolves most things.\\n\\t-- Anon\\n%\\n$ ls\\n%\\n")
>>> fortune_lines(d, files=["food"])
['Eat your greens every day.', 'A cup of tea solves most things.']
"""
from __future__ import annotations

import gzip
import os
import re

# Prose files of fortunes/fortunes-min (1:1.99.1-7.3); left out: art, ascii-art (pictures),
# ethnic (unsuitable), songs-poems (song lyrics), translate-me (non-English), and off/.
FORTUNE_FILES = ["computers", "cookie", "definitions", "disclaimer", "drugs", "education", "food",
                 "fortunes", "goedel", "humorists", "kids", "law", "linux", "linuxcookie",
                 "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news",
                 "paradoxum", "people", "pets", "platitudes", "politics", "pratchett", "riddles",
                 "science", "sports", "startrek", "tao", "wisdom", "work", "zippy"]
FORTUNE_DIR = "/usr/share/games/fortunes"
GCIDE_PATH = "/usr/share/dictd/gcide.dict.dz"
WORDNET_DIR = "/usr/share/wordnet"
MIN_WORDS, MAX_WORDS = 4, 60  # a line a 64-token row can hold, and more than a fragment


def clean_line(text):
    text = re.sub(r"\s+", " ", text).strip()
    return text[:1].upper() + text[1:] if text else ""


def is_prose(text, min_words=MIN_WORDS, max_words=MAX_WORDS):
    """True for plain prose: enough words, mostly letters, no code or table characters."""
    words = text.split()
    if not min_words <= len(words) <= max_words or re.search(r"[<>{}\[\]|\\=_#@*~^$]", text):
        return False
    letters = sum(c.isalpha() for c in text)
    return letters >= 0.7 * len(text.replace(" ", "")) and text.isascii()


def wordnet_examples(wordnet_dir=WORDNET_DIR):
    """Every quoted example of ``data.{noun,verb,adj,adv}`` with >= 3 words, as a sentence."""
    from .corpus import WORDNET_POS, as_sentence
    out = {}
    for fname, _pos in WORDNET_POS:
        with open(os.path.join(wordnet_dir, "data." + fname), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                for ex in re.findall(r'"([^"]+)"', line.partition(" | ")[2]):
                    if len(ex.split()) >= 3:
                        out.setdefault(as_sentence(ex), None)
    return list(out)


def fortune_lines(fortune_dir=FORTUNE_DIR, files=None):
    """One line per cookie of the chosen files (attribution lines ``-- Name`` dropped)."""
    out = {}
    for name in FORTUNE_FILES if files is None else files:
        path = os.path.join(fortune_dir, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            cookies = fh.read().split("\n%\n")
        for cookie in cookies:
            body = [ln for ln in cookie.strip("%\n").split("\n") if not re.match(r"\s*--", ln)]
            text = clean_line(" ".join(body))
            if is_prose(text):
                out.setdefault(text, None)
    return list(out)


def gcide_lines(path=GCIDE_PATH):
    """GCIDE quotations (indented paragraphs, ``--Author.`` removed) and the ``as, ...``
    examples of definitions, one per line."""
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    out = {}
    for para in text.split("\n\n"):
        lines = [ln for ln in para.split("\n") if ln.strip() and not ln.strip().startswith("[")]
        if not lines:
            continue
        indent = len(lines[0]) - len(lines[0].lstrip())
        joined = " ".join(ln.strip() for ln in lines)
        if indent >= 8:  # a quotation block
            found = [re.sub(r"\s*--[A-Z].*$", "", joined)]
        else:
            found = [m.rstrip(";,") for m in re.findall(r"; as, ([^;\[]+?[.;])", joined)]
        for s in found:
            s = clean_line(s.replace("{", "").replace("}", ""))
            if s and s[-1] not in ".!?":
                s += "."
            if is_prose(s):
                out.setdefault(s, None)
    return list(out)
