"""Freely licensed English books from Debian packages, one sentence a line, for the corpus build.

* ``web_bible_lines``: the World English Bible (``sword-text-web``, public domain, modern
  English), a SWORD zText module. Per testament (``ot``, ``nt``) it has three files: ``.bzs``,
  the block index, 12 bytes a block (uint32 offset into ``.bzz``, uint32 compressed size, uint32
  uncompressed size, little-endian); ``.bzz``, the zlib-compressed blocks one after another; and
  ``.bzv``, the verse index, 10 bytes an entry (uint32 block, uint32 offset into the uncompressed
  block, uint16 size; size 0 for an empty entry). Entries are verses, chapter and book headings in
  canonical order, in OSIS XML: ``<note>`` (footnotes) and non-canonical ``<title>`` (section
  headings) are removed with their text, other tags are removed and their words kept.
* ``austen_lines``: Jane Austen's six novels (``r-cran-janeaustenr``: package MIT, the novels
  public domain), character vectors of text lines in the R lazy-load database ``data/Rdata``:
  ``Rdata.rdx`` is a gzip-compressed R serialization of a list whose ``variables`` element maps
  each name to an (offset, length) pair into ``Rdata.rdb``; each chunk there is a 4-byte big-endian
  length and a zlib stream of the object's R serialization (XDR, big-endian). ``read_rdata`` reads
  what these files hold (character vectors, lists, attributes, NULL, integer/logical/double
  vectors). Blank lines separate paragraphs; headings (``Chapter 1``, ``VOLUME I``, all-capital
  lines) are dropped.
* ``harvard_sentences``: the 720 Harvard sentences (IEEE 1969, public domain) as shipped in
  ``r-cran-stringr`` (``sentences`` in ``data/Rdata``).

Lines are cleaned and kept as in ``sources`` (``clean_line``; ``is_prose``: 4-60 words, ASCII,
mostly letters), after typographic quotes and dashes are made ASCII; deduplicated, in file order.

>>> split_sentences('"Well, Mr. Bennet?" said she. It is so! And then... no.')
['"Well, Mr. Bennet?" said she.', 'It is so!', 'And then... no.']
>>> _osis_text('<w lemma="x">God</w><note>The Hebrew word.</note><w>created</w> <title>A</title>light.')
'God created light.'
>>> import zlib, struct, tempfile, os
>>> osis = b'<w>Jesus</w> wept. <chapter n="2"/>He had left them again.'
>>> nt = {"bzs": struct.pack("<III", 0, len(zlib.compress(osis)), len(osis)),
...       "bzv": struct.pack("<IIH", 0, 0, 0) + struct.pack("<IIH", 0, 0, len(osis)),
...       "bzz": zlib.compress(osis)}
>>> d = tempfile.mkdtemp()
>>> for ext, data in nt.items():
...     _ = open(os.path.join(d, "nt." + ext), "wb").write(data)
...     _ = open(os.path.join(d, "ot." + ext), "wb").write(b"")
>>> zverses(d, "nt")
['', '<w>Jesus</w> wept. <chapter n="2"/>He had left them again.']
>>> web_bible_lines(d, min_words=2)
['Jesus wept.', 'He had left them again.']
>>> x = b"X\\n" + struct.pack(">iii", 2, 0, 0) + struct.pack(">ii", 16, 1) + struct.pack(">ii", 9, 3) + b"Tea"
>>> _Reader(x).read_stream()
['Tea']
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import struct
import zlib

from .sources import clean_line, is_prose

WEB_DIR = "/usr/share/sword/modules/texts/ztext/engWEB2015eb"
AUSTEN_PATH = "/usr/lib/R/site-library/janeaustenr/data/Rdata"
STRINGR_PATH = "/usr/lib/R/site-library/stringr/data/Rdata"
AUSTEN_NOVELS = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey",
                 "persuasion"]  # publication order, as janeaustenr::austen_books()
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "messrs", "mme", "mlle", "col", "capt",
                 "gen", "lt", "rev", "prof", "hon", "esq", "no", "vs", "viz"}
_ASCII = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2014": " -- ",
                        "\u2013": "-", "\u00a0": " ", "\u2026": "..."})
_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*\s+(?=[\"'(]*[A-Z])")


def _missing(path, package):
    return FileNotFoundError(f"{path} not found: install the Debian package {package} "
                             f"(apt-get install {package})")


def split_sentences(text):
    """Split after . ! ? (and closing quotes) before a capital, not after Mr. Mrs. Dr. St. ..."""
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        word = text[start:m.start() + 1].split()[-1].strip("\"'(").rstrip(".").lower()
        if text[m.start()] == "." and (word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())):
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    return out + [tail] if tail else out


def _keep(sentences, out, min_words):
    """Add the prose sentences (already ASCII: callers translate before splitting) to ``out``."""
    for s in sentences:
        s = clean_line(s or "")
        if is_prose(s, min_words=min_words):
            out.setdefault(s, None)


# ---------------------------------------------------------------- World English Bible (zText)

def zverses(module_dir, testament):
    """The raw OSIS text of every entry of one testament's verse index, in order ('' if empty)."""
    base = os.path.join(module_dir, testament)
    with open(base + ".bzs", "rb") as fh:
        bzs = fh.read()
    with open(base + ".bzv", "rb") as fh:
        bzv = fh.read()
    with open(base + ".bzz", "rb") as fh:
        bzz = fh.read()
    blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs) - 11, 12)]
    cache = {}
    out = []
    for i in range(0, len(bzv) - 9, 10):
        block, off, size = struct.unpack_from("<IIH", bzv, i)
        if size == 0:
            out.append("")
            continue
        if block not in cache:
            start, csize, _usize = blocks[block]
            cache = {block: zlib.decompress(bzz[start:start + csize])}  # entries come block by block
        out.append(cache[block][off:off + size].decode("utf-8", errors="replace"))
    return out


def _osis_text(osis):
    """Words of an OSIS fragment: notes and non-canonical titles dropped, other tags removed."""
    text = re.sub(r"<note\b.*?</note>", " ", osis, flags=re.S)
    text = re.sub(r'<title\b(?![^>]*canonical="true")[^>]*>.*?</title>', " ", text, flags=re.S)
    text = re.sub(r"</?(?:w|seg|name|rdg|catchWord|transChange|reference|hi|foreign)\b[^>]*>", "", text)
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r" ([,.;:!?\u2019\u201d)])", r"\1", text).strip()


def web_bible_lines(module_dir=WEB_DIR, min_words=4):
    """The WEB's sentences (Old Testament with deuterocanon, then New), deduplicated."""
    if not os.path.isfile(os.path.join(module_dir, "nt.bzv")):
        raise _missing(module_dir, "sword-text-web")
    out = {}
    for testament in ("ot", "nt"):
        stream = " ".join(zverses(module_dir, testament))
        for part in re.split(r"<chapter\b[^>]*/>|<div\b[^>]*type=\"book\"[^>]*/>", stream):
            _keep(split_sentences(_osis_text(part).translate(_ASCII)), out, min_words)
    return list(out)


# ---------------------------------------------------------------- R lazy-load databases

class _Reader:
    """A minimal reader of R's XDR serialization (format versions 2 and 3)."""

    def __init__(self, data):
        self.data, self.pos, self.refs = data, 0, []

    def int(self):
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def read_stream(self):
        if self.data[:2] != b"X\n":
            raise ValueError("not an R XDR serialization")
        self.pos = 2
        version = self.int()
        self.pos += 8  # writer's and minimal reader's R versions
        if version == 3:
            n = self.int()
            self.pos += n  # the native encoding's name
        return self.item()

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, flags & 0x200, flags & 0x400
        if kind in (254, 242, 241, 253, 252, 251, 247):  # NULL, environments, unbound, missing
            return None
        if kind == 255:  # REFSXP: a symbol read before
            idx = flags >> 8 or self.int()
            return self.refs[idx - 1]
        if kind == 1:  # SYMSXP
            self.refs.append(self.item())
            return self.refs[-1]
        if kind == 9:  # CHARSXP
            n = self.int()
            if n == -1:
                return None
            self.pos += n
            latin1 = (flags >> 12) & 4  # the LATIN1 bit of the CHARSXP's levels
            return self.data[self.pos - n:self.pos].decode("latin-1" if latin1 else "utf-8", errors="replace")
        if kind in (2, 17):  # LISTSXP pairlist (and ATTRLISTSXP): a dict tag -> value
            out = {}
            while kind in (2, 17):
                if has_attr:
                    self.item()
                tag = self.item() if has_tag else str(len(out))
                out[tag] = self.item()
                flags = self.int()
                kind, has_attr, has_tag = flags & 0xFF, flags & 0x200, flags & 0x400
            if kind != 254:
                raise ValueError(f"unexpected pairlist end {kind}")
            return out
        if kind not in (10, 13, 14, 16, 19, 20):
            raise ValueError(f"unsupported R object type {kind}")
        n = self.int()
        if n == -1:
            n = (self.int() << 32) + self.int()
        if kind in (10, 13):  # logical, integer
            value = list(struct.unpack_from(f">{n}i", self.data, self.pos))
            self.pos += 4 * n
        elif kind == 14:  # double
            value = list(struct.unpack_from(f">{n}d", self.data, self.pos))
            self.pos += 8 * n
        else:  # character vector, list, expression
            value = [self.item() for _ in range(n)]
        attrs = self.item() if has_attr else {}
        names = attrs.get("names")
        return dict(zip(names, value)) if kind in (19, 20) and names else value


def read_rdata(path):
    """``{name: value}`` of an R lazy-load database (``path`` without ``.rdb``/``.rdx``)."""
    path = re.sub(r"\.rd[bx]$", "", path)
    with open(path + ".rdx", "rb") as fh:
        rdx = fh.read()
    rdx = gzip.decompress(rdx) if rdx[:2] == b"\x1f\x8b" else zlib.decompress(rdx[4:])
    index = _Reader(rdx).read_stream()
    with open(path + ".rdb", "rb") as fh:
        rdb = fh.read()
    out = {}
    for name, (offset, length) in index["variables"].items():
        chunk = rdb[offset + 4:offset + length]  # after the uncompressed length
        if (index.get("compressed") or [1])[0] in (2, 3):  # bzip2/xz databases: a type byte first
            chunk = {b"2": bz2.decompress, b"X": lzma.decompress, b"Z": zlib.decompress,
                     b"0": bytes}[chunk[:1]](chunk[1:])
        else:
            chunk = zlib.decompress(chunk)
        out[name] = _Reader(chunk).read_stream()
    return out


def _rdata(path, package):
    if not os.path.isfile(re.sub(r"\.rd[bx]$", "", path) + ".rdb"):
        raise _missing(path + ".rdb", package)
    return read_rdata(path)


def _is_heading(par):
    return bool(re.fullmatch(r"(?i)(chapter|volume|book)\s+[0-9ivxlc]+\.?|the end|finis", par)) \
        or par.upper() == par


def austen_paragraphs(lines):
    """Paragraphs (joined text lines, blank lines between) that are not headings."""
    text = "\n".join((line or "").strip() for line in lines)  # NA as a blank line
    pars = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in pars if p and not _is_heading(p)]


def austen_lines(path=AUSTEN_PATH, min_words=4):
    """The sentences of the six novels in publication order, italics' underscores removed."""
    novels = _rdata(path, "r-cran-janeaustenr")
    out = {}
    for name in AUSTEN_NOVELS:
        for par in austen_paragraphs(novels[name]):
            _keep(split_sentences(par.replace("_", "").translate(_ASCII)), out, min_words)
    return list(out)


def harvard_sentences(path=STRINGR_PATH):
    """The 720 Harvard sentences in their order ("The birch canoe slid on the smooth planks.")."""
    out = {}
    _keep([(s or "").translate(_ASCII) for s in _rdata(path, "r-cran-stringr")["sentences"]], out, 4)
    return list(out)
