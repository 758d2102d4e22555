"""The books of the everyday corpus (``books.py``): the World English Bible's SWORD zText module
and the R lazy-load databases of janeaustenr and stringr, on fixtures built here, and on the real
Debian packages when they are installed; and ``everyday --books``."""
from __future__ import annotations

import gzip
import json
import os
import struct
import zlib

import pytest

from roberta_lab.training import books, everyday


# ---------------------------------------------------------------- a tiny zText module

def write_ztext(d, testament, blocks):
    """``blocks``: a list of blocks, each a list of OSIS entries ('' for an empty entry)."""
    bzs, bzv, bzz = b"", struct.pack("<IIH", 0, 0, 0), b""
    for number, entries in enumerate(blocks):
        raw = b""
        for entry in entries:
            data = entry.encode("utf-8")
            bzv += struct.pack("<IIH", number, len(raw), len(data))
            raw += data
        packed = zlib.compress(raw)
        bzs += struct.pack("<III", len(bzz), len(packed), len(raw))
        bzz += packed
    for ext, data in (("bzs", bzs), ("bzv", bzv), ("bzz", bzz)):
        (d / f"{testament}.{ext}").write_bytes(data)


@pytest.fixture
def web_dir(tmp_path):
    d = tmp_path / "web"
    d.mkdir()
    write_ztext(d, "ot", [
        ['<div type="book" osisID="Gen" sID="b1"/><title type="main">Genesis</title>',
         '<chapter n="1" osisID="Gen.1" sID="Gen.1"/>',
         '<title>The Creation</title><w lemma="strong:H1">In</w> <w>the</w> <w>beginning</w>, '
         '<w>God</w><note placement="foot"><reference>1:1 </reference>The Hebrew word.</note>'
         '<w>created</w> <w>the</w> <w>heavens</w> <w>and</w> <w>the</w> <w>earth</w>. ',
         '<w>God</w> <w>said</w>, \u201c<w>Let</w> there be light,\u201d and there was light. ',
         '<chapter n="2" osisID="Gen.2" sID="Gen.2"/>',
         'The heavens, the earth, and all their vast array were finished.'],
        ['<chapter n="1" osisID="Exod.1" sID="Exod.1"/>',
         'In the beginning, God created the heavens and the earth.',  # a repeat: dropped
         '<l>The Lord\u2019s word came to me,</l><l>saying that all was well.</l>']])
    write_ztext(d, "nt", [['<chapter n="1"/>', "Jesus wept.", "Mr. Smith went to Bethany too."]])
    return str(d)


def test_zverses_reads_every_entry_of_the_verse_index(web_dir):
    got = books.zverses(web_dir, "ot")
    assert got[0] == "" and len(got) == 10
    assert got[6] == "The heavens, the earth, and all their vast array were finished."
    assert got[-1].startswith("<l>The Lord\u2019s word")


def test_web_bible_lines_strip_notes_headings_and_tags(web_dir):
    assert books.web_bible_lines(web_dir) == [
        "In the beginning, God created the heavens and the earth.",
        'God said, "Let there be light," and there was light.',
        "The heavens, the earth, and all their vast array were finished.",
        "The Lord's word came to me, saying that all was well.",
        "Mr. Smith went to Bethany too."]  # "Jesus wept." is under 4 words


def test_sentences_split_after_ends_and_quotes_not_after_abbreviations():
    text = ('"My dear Mr. Bennet," said his lady. "Have you heard?" Mrs. Long told her. '
            'St. Paul wrote it! J. Smith agreed; a pause... And then he left.')
    assert books.split_sentences(text) == [
        '"My dear Mr. Bennet," said his lady.', '"Have you heard?"', "Mrs. Long told her.",
        "St. Paul wrote it!", "J. Smith agreed; a pause...", "And then he left."]


# ---------------------------------------------------------------- a tiny R lazy-load database

def _i(*values):
    return struct.pack(f">{len(values)}i", *values)


class XDR:
    """Writes the R serializations the reader has to read (format version 3)."""

    def __init__(self):
        self.symbols = []

    def stream(self, obj):
        return b"X\n" + _i(3, 0x40201, 0x30500, 5) + b"UTF-8" + obj

    def chars(self, s):
        if s is None:
            return _i(9, -1)  # NA_character_
        data = s.encode("utf-8")
        return _i(0x40009 if s.isascii() else 0x8009, len(data)) + data

    def strings(self, values):
        return _i(16, len(values)) + b"".join(self.chars(v) for v in values)

    def ints(self, values, kind=13):
        return _i(kind, len(values), *values)

    def symbol(self, name):
        if name in self.symbols:
            return _i(((self.symbols.index(name) + 1) << 8) | 0xFF)  # REFSXP
        self.symbols.append(name)
        return _i(1) + self.chars(name)

    def named_list(self, items):
        attrs = _i(0x402) + self.symbol("names") + self.strings(list(items)) + _i(254)
        return _i(0x213, len(items)) + b"".join(items.values()) + attrs


def write_rdata(stem, variables):
    """``variables``: {name: list of str}; writes ``stem.rdb`` and ``stem.rdx`` as R does."""
    rdb, index = b"", {}
    for name, values in variables.items():
        raw = XDR().stream(XDR().strings(values))
        chunk = struct.pack(">I", len(raw)) + zlib.compress(raw)
        index[name] = (len(rdb), len(chunk))
        rdb += chunk
    x = XDR()
    rdx = x.stream(x.named_list({
        "variables": x.named_list({k: x.ints(list(v)) for k, v in index.items()}),
        "references": _i(19, 0), "compressed": x.ints([1], kind=10)}))
    with open(stem + ".rdb", "wb") as fh:
        fh.write(rdb)
    with open(stem + ".rdx", "wb") as fh:
        fh.write(gzip.compress(rdx))


NOVEL = ["PRIDE AND PREJUDICE", "", "By Jane Austen", "", "", "Chapter 1", "",
         "It is a truth universally acknowledged, that a single man in possession",
         "of a good fortune, must be in want of a wife.", "",
         '"My dear Mr. Bennet," said his lady to him one day, "have you heard that',
         'Netherfield Park is let at last?" Mr. Bennet replied that he had _not_.', "",
         "CHAPTER II", "", "THE END"]


@pytest.fixture
def austen_path(tmp_path):
    stem = str(tmp_path / "Rdata")
    novels = {name: [f"The {name} novel has one sentence of its own.", None]
              for name in books.AUSTEN_NOVELS}
    novels["prideprejudice"] = NOVEL
    write_rdata(stem, novels)
    return stem


def test_read_rdata_reads_character_vectors_with_na_and_unicode(tmp_path):
    stem = str(tmp_path / "Rdata")
    write_rdata(stem, {"a": ["x", None, "caf\u00e9"], "b": []})
    assert books.read_rdata(stem) == {"a": ["x", None, "caf\u00e9"], "b": []}
    assert books.read_rdata(stem + ".rdb") == books.read_rdata(stem)


def test_austen_lines_join_paragraphs_drop_headings_and_split_sentences(austen_path):
    assert books.austen_lines(austen_path) == [
        "The sensesensibility novel has one sentence of its own.",
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
        "must be in want of a wife.",
        '"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park '
        'is let at last?"',
        "Mr. Bennet replied that he had not.",
        "The mansfieldpark novel has one sentence of its own.", "The emma novel has one sentence of its own.",
        "The northangerabbey novel has one sentence of its own.",
        "The persuasion novel has one sentence of its own."]


def test_harvard_sentences_in_order(tmp_path):
    stem = str(tmp_path / "Rdata")
    write_rdata(stem, {"fruit": ["apple"], "sentences": [
        "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
        "The birch canoe slid on the smooth planks."], "words": ["a"]})
    assert books.harvard_sentences(stem) == ["The birch canoe slid on the smooth planks.",
                                             "Glue the sheet to the dark blue background."]


def test_missing_files_name_the_debian_package(tmp_path):
    for call, package in ((lambda: books.web_bible_lines(str(tmp_path)), "sword-text-web"),
                          (lambda: books.austen_lines(str(tmp_path / "Rdata")), "r-cran-janeaustenr"),
                          (lambda: books.harvard_sentences(str(tmp_path / "Rdata")), "r-cran-stringr")):
        with pytest.raises(FileNotFoundError, match=package):
            call()


# ---------------------------------------------------------------- the real packages

def _need(path, package):
    if not os.path.exists(path):
        pytest.skip(f"{package} is not installed")


def test_real_world_english_bible():
    _need(os.path.join(books.WEB_DIR, "ot.bzv"), "sword-text-web")
    verses = [v for t in ("ot", "nt") for v in books.zverses(books.WEB_DIR, t) if v]
    assert len(verses) > 30000
    lines = books.web_bible_lines()
    assert "In the beginning, God created the heavens and the earth." in lines
    assert len(lines) > 30000 and len(set(lines)) == len(lines)
    assert not any("<" in ln or "strong:" in ln for ln in lines)


def test_real_austen_novels():
    _need(books.AUSTEN_PATH + ".rdb", "r-cran-janeaustenr")
    novels = books.read_rdata(books.AUSTEN_PATH)
    assert set(books.AUSTEN_NOVELS) <= set(novels)
    assert len(novels["prideprejudice"]) == 13030  # length(janeaustenr::prideprejudice) in R
    lines = books.austen_lines()
    assert any(ln.startswith("It is a truth universally acknowledged") for ln in lines)
    assert len(lines) > 20000 and not any(ln.lower().startswith("chapter") for ln in lines)


def test_real_harvard_sentences():
    _need(books.STRINGR_PATH + ".rdb", "r-cran-stringr")
    lines = books.harvard_sentences()
    assert len(lines) == 720
    assert lines[0] == "The birch canoe slid on the smooth planks."


# ---------------------------------------------------------------- everyday --books

def test_everyday_books_adds_the_books_after_all_other_draws(tmp_path, web_dir, austen_path):
    wn = tmp_path / "wordnet"
    wn.mkdir()
    for i, pos in enumerate(("noun", "verb", "adj", "adv")):
        (wn / f"data.{pos}").write_text(
            f'{i:08d} 05 n 01 word{i} 0 000 | a gloss number {i}; "a quiet example sentence {i}"\n')
    fort = tmp_path / "fortunes"
    fort.mkdir()
    (fort / "food").write_text("".join(f"Fortune number {i} is a good one.\n%\n" for i in range(300)))
    stringr = str(tmp_path / "stringr")
    write_rdata(stringr, {"sentences": [f"Harvard sentence number {i} is here." for i in range(200)]})
    cz = tmp_path / "cloze.jsonl"
    cz.write_text(json.dumps({"id": "a", "text": "Jesus <mask>.", "answers": ["wept"]}) + "\n")
    kw = dict(seed=0, wordnet_dir=str(wn), fortune_dir=str(fort), cloze_path=str(cz), fact_scale=0.002)
    plain = everyday.build_everyday(str(tmp_path / "plain"), **kw)
    more = everyday.build_everyday(str(tmp_path / "books"), books=True, web_dir=web_dir,
                                   austen_path=austen_path, stringr_path=stringr, **kw)
    assert "book_sources" not in plain["counts"] and "books" not in plain["options"]
    assert set(plain["packages"]) == set(everyday.PACKAGES)
    assert set(more["packages"]) == set(everyday.PACKAGES + everyday.BOOK_PACKAGES)
    read = lambda name, f: (tmp_path / name / f).read_text().splitlines()  # noqa: E731
    # the draws of the other sources are unchanged: the same held-out fortunes, the same lines
    assert read("books", "heldout_everyday.txt")[:plain["counts"]["heldout_lines"]["fortunes"]] == \
        read("plain", "heldout_everyday.txt")
    train, held = read("books", "train.txt"), read("books", "heldout.txt")
    assert set(read("plain", "train.txt")) <= set(train) and not set(train) & set(held)
    assert more["counts"]["book_sources"]["harvard"] == {"lines": 200, "words": 1200}
    c = more["counts"]
    assert c["train_lines"]["harvard"] + c["heldout_lines"]["harvard"] == 200
    assert "Mr. Bennet replied that he had not." in train + held
    assert "In the beginning, God created the heavens and the earth." in train + held
