"""Guessing a text table's encoding and delimiter from its first bytes.

Both guesses look at a sample (the first megabyte), never the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from crmcore.adapters.tabular._model import TableError
from crmcore.errors import ConfigurationError

__all__ = ["DELIMITERS", "SAMPLE_BYTES", "detect_delimiter", "detect_encoding", "sample_text"]

SAMPLE_BYTES: Final = 1 << 20
"""How much of a file the detectors look at."""

DELIMITERS: Final = (",", ";", "\t", "|")
"""Delimiters :func:`detect_delimiter` chooses from, preferred in this order on a tie."""

_SAMPLE_RECORDS: Final = 20
_MOSTLY_BROKEN: Final = 20  # more than 1 line in 20 broken: not UTF-8 with a few bad bytes


def sample_text(path: Path, encoding: str | None) -> tuple[str, str, bool]:
    """Read the first :data:`SAMPLE_BYTES` of a file and decode them.

    Args:
        path: The file.
        encoding: The codec to use; None detects it.

    Returns:
        The encoding, the decoded sample and whether it is the whole file.

    Raises:
        TableError: If the file cannot be read.
        ConfigurationError: If ``encoding`` is not a known codec.
    """
    try:
        with path.open("rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
            complete = not handle.read(1)
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None
    enc = encoding or detect_encoding(sample, complete=complete)
    try:
        decoder = codecs.getincrementaldecoder(enc)(errors="replace")
    except LookupError:
        raise ConfigurationError(f"unknown encoding {enc!r}") from None
    return enc, decoder.decode(sample, final=complete), complete


def detect_encoding(sample: bytes, *, complete: bool = True) -> str:
    r"""Guess the encoding of a text file from its first bytes.

    A byte-order mark decides (UTF-8, UTF-16, UTF-32); UTF-16 without one is
    recognised by its zero bytes. Otherwise the sample is UTF-8 if it decodes
    as UTF-8 with at most one broken line in twenty (those few bytes become
    U+FFFD and their rows are reported by whoever checks the text) or with
    more well-formed non-ASCII characters than broken ones, else
    GB18030 (which covers GBK and GB2312) if that decodes it, else UTF-8.

    Args:
        sample: The first bytes of the file.
        complete: False if the sample was cut from a longer file (its last,
            possibly cut, line is then left out of the judgement).

    Returns:
        A codec name for :func:`open`: ``utf-8``, ``utf-8-sig``, ``utf-16``,
        ``utf-16-le``, ``utf-16-be``, ``utf-32`` or ``gb18030``.

    >>> detect_encoding("姓名,手机\n张伟,13800138000\n".encode("gb18030"))
    'gb18030'
    >>> detect_encoding("姓名,手机\n".encode("utf-8-sig"))
    'utf-8-sig'
    >>> detect_encoding("姓名,手机\n".encode("utf-16"))
    'utf-16'
    >>> detect_encoding("name,phone\n".encode("utf-16-be"))
    'utf-16-be'
    >>> detect_encoding(b"name\nJos\xe9\n" + b"Ann\n" * 40)  # one bad line in 42: UTF-8
    'utf-8'
    >>> detect_encoding("姓名,手机\n".encode() + "张伟,139\n".encode("gbk"))  # one GBK row
    'utf-8'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(sample[:4096])
    if utf16 is not None:
        return utf16
    if not complete and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    text = sample.decode("utf-8", errors="replace")
    lines = text.splitlines()
    broken = sum(1 for line in lines if "\ufffd" in line)
    if broken * _MOSTLY_BROKEN <= max(len(lines), 1):
        return "utf-8"
    # GB18030 text read as UTF-8 breaks at almost every Chinese character and forms a
    # valid multi-byte sequence only by chance (about one per five breaks in CRM
    # data). A UTF-8 file with a few pasted GBK rows has more good characters than
    # breaks, however short it is.
    bad = text.count("\ufffd")
    good = sum(1 for char in text if char > "\x7f") - bad
    if good >= bad:
        return "utf-8"
    try:
        sample.decode("gb18030")
    except UnicodeDecodeError:
        return "utf-8"
    return "gb18030"


def _utf16_without_bom(head: bytes) -> str | None:
    """Return ``utf-16-le``/``-be`` if zero bytes fill one byte of most pairs, else None."""
    if len(head) < 4:
        return None
    even = head[0::2].count(0)
    odd = head[1::2].count(0)
    pairs = len(head) // 2
    if odd * 2 > pairs and even * 8 < pairs:
        return "utf-16-le"
    if even * 2 > pairs and odd * 8 < pairs:
        return "utf-16-be"
    return None


def detect_delimiter(sample: str, *, complete: bool = True) -> str:
    r"""Choose the delimiter that splits the header and the first records consistently.

    For each candidate in :data:`DELIMITERS` the sample's first records are
    split (quotes respected); a candidate must split the header, and the one
    giving the most records as many cells as the header wins (then the
    widest header, then the earlier candidate). A file whose header no
    candidate splits has one column: the comma is returned.

    Args:
        sample: The first characters of the file (decoded).
        complete: False if the sample was cut from a longer file (its last,
            possibly cut, record is then left out).

    Returns:
        The delimiter.

    >>> detect_delimiter("name;email;city\nAnn;ann@example.com;Paris, France\n")
    ';'
    >>> detect_delimiter('name,notes\n"Li, Na","a;b;c"\n')
    ','
    >>> detect_delimiter("姓名\t手机\n张伟\t13800138000\n")
    '\t'
    >>> detect_delimiter("name\nAnn\n")
    ','
    """
    best: tuple[int, int, int] | None = None
    chosen = ","
    for rank, delimiter in enumerate(DELIMITERS):
        widths = _widths(sample, delimiter, complete=complete)
        if not widths or widths[0] < 2:
            continue
        score = (sum(1 for w in widths[1:] if w == widths[0]), widths[0], -rank)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def _widths(sample: str, delimiter: str, *, complete: bool) -> Sequence[int]:
    """Return the cell counts of the sample's first non-blank records split by ``delimiter``."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    widths: list[int] = []
    try:
        for cells in reader:
            if any(cells):
                widths.append(len(cells))
            if len(widths) > _SAMPLE_RECORDS:
                break
    except csv.Error:  # a cell beyond csv's field limit in the sample: judge what came before
        pass
    if not complete and len(widths) > 1 and len(widths) <= _SAMPLE_RECORDS:
        widths.pop()  # the sample ended inside this record
    return widths
