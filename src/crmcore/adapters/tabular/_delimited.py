r"""Delimited text tables (CSV, semicolon, tab, pipe), read as a stream.

Records come from :mod:`csv` (so quoting is csv's), fed by a line source
that counts physical lines (``\n``, ``\r\n`` or ``\r``), remembers the
lines of the record being read and never hands over more than a bounded
line. When a record cannot be read (a cell over the limit, a line over the
bound) the reader skips to where the next record starts: the end of that
line, or, when the line left a quoted cell open (an odd number of quote
characters since the record started), the line that closes it.

:func:`csv.field_size_limit` is process-wide: the reader sets it to its own
``max_cell`` while it parses and puts the previous value back whenever it
hands a row out, so code running between rows sees its own limit.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, cast

from crmcore.adapters.tabular._detect import detect_delimiter, sample_text
from crmcore.adapters.tabular._model import (
    SourceRecord,
    SourceRow,
    Table,
    TableError,
    extra_cells_problem,
    unique_headers,
)
from crmcore.errors import ConfigurationError

__all__ = ["open_delimited"]

_QUOTE = '"'


class _OverlongLineError(Exception):
    """Raised inside the line source: a physical line is longer than the bound."""


def open_delimited(
    path: Path, *, encoding: str | None, delimiter: str | None, max_cell: int
) -> Table:
    """Open a delimited text file: detect what was not given, read and check the header.

    Raises:
        TableError: If the file cannot be read, is empty or has no header.
        ConfigurationError: If ``encoding`` or ``delimiter`` is not usable.
    """
    enc, text, complete = sample_text(path, encoding)
    if not text.strip():
        raise TableError(path, "the file is empty: a header row is required")
    delim = delimiter or detect_delimiter(text, complete=complete)
    if len(delim) != 1 or delim in f"{_QUOTE}\r\n":
        raise ConfigurationError(f"a delimiter is one character, not a quote or newline: {delim!r}")
    header = cast(SourceRecord | None, next(_records(path, enc, delim, max_cell, None), None))
    if header is None:
        raise TableError(path, "the file is empty: a header row is required")
    if header.problem is not None:
        raise TableError(path, f"line {header.line}: the header cannot be read: {header.problem}")
    headers, issues = unique_headers(header.cells, header.line)
    width = len(headers)

    def records() -> Iterator[SourceRecord]:
        return cast(Iterator[SourceRecord], _records(path, enc, delim, max_cell, width))

    def rows() -> Iterator[SourceRow]:
        rows = _records(path, enc, delim, max_cell, width, headers=headers)
        return cast(Iterator[SourceRow], rows)

    return Table(
        path=path,
        format="csv",
        headers=headers,
        issues=tuple(issues),
        encoding=enc,
        delimiter=delim,
        records=records,
        rows=rows,
    )


class _Lines:
    """The physical lines of a text stream, each at most ``cap`` characters.

    Attributes:
        kept: The lines handed out since the owner last cleared it (the
            record being read); an over-long line is kept as its quote parity.
        exhausted: Whether the stream ended while a record was being read.
    """

    def __init__(self, handle: TextIO, cap: int) -> None:
        self.readline = handle.readline
        self.cap = cap
        self.kept: list[str] = []
        self.exhausted = False

    def lines(self) -> Iterator[str]:
        """Yield lines; raise :class:`_OverlongLineError` (ending) after skipping a long one."""
        readline, cap, keep = self.readline, self.cap, self.kept.append
        while True:
            line = readline(cap)
            if not line:
                self.exhausted = True
                return
            if len(line) == cap and line[-1] != "\n":
                keep(_QUOTE * self._rest_quotes(line))
                raise _OverlongLineError
            keep(line)
            yield line

    def _rest_quotes(self, start: str) -> int:
        """Read to the end of the physical line begun by ``start``: its quote parity."""
        odd = start.count(_QUOTE) & 1
        chunk = start
        while len(chunk) == self.cap and chunk[-1] != "\n":
            chunk = self.readline(self.cap)
            odd ^= chunk.count(_QUOTE) & 1
        if not chunk:
            self.exhausted = True
        return odd

    def skip_open_quote(self) -> int:
        """Skip to the line that closes a quoted cell the kept lines left open.

        Returns:
            How many lines were skipped (0 if no cell was left open).
        """
        odd = sum(line.count(_QUOTE) for line in self.kept) & 1
        skipped = 0
        while odd:
            line = self.readline(self.cap)
            if not line:
                self.exhausted = True
                break
            skipped += 1
            odd ^= self._rest_quotes(line)
        self.kept.clear()
        return skipped


def _records(  # noqa: PLR0912, PLR0915 - one hot loop: each row is checked inline
    path: Path,
    encoding: str,
    delimiter: str,
    max_cell: int,
    width: int | None,
    *,
    headers: tuple[str, ...] | None = None,
) -> Iterator[SourceRecord | SourceRow]:
    """Yield every record after the header; ``width=None``: the header only.

    With ``headers``, rows come as :class:`SourceRow` (built here: a second
    generator on top would cost a third of the time).

    Raises:
        TableError: If the file cannot be opened or read.
    """
    try:
        handle = path.open(encoding=encoding, errors="replace", newline="")
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None
    # A record of `width` cells of at most `max_cell` characters (quotes doubled) fits
    # in this many characters: a longer line has too many cells or a cell too long.
    cap = max((width or 16) + 1, 2) * (2 * max_cell + 3)
    limit = csv.field_size_limit
    outer = limit(max_cell)  # the host's limit, put back whenever a row is handed out
    parsing = True
    source = _Lines(handle, cap)
    clear = source.kept.clear
    offset = 0  # lines read outside the current reader (earlier readers, skipped lines)
    columns = width or 0
    new = tuple.__new__
    number = 0
    header = True  # the first record that is not blank is the header
    reader = None
    prev = 0
    try:
        with handle:
            while True:
                if reader is None:
                    reader = csv.reader(source.lines(), delimiter=delimiter)
                    prev = 0
                try:
                    for cells in reader:
                        now = reader.line_num
                        if not cells or not any(cells):
                            prev = now
                            clear()
                            continue
                        line = offset + prev + 1
                        problem = None
                        if source.exhausted:
                            problem = (
                                f"a quoted cell opened here is never closed: lines {line}–"
                                f"{offset + now} (the end of the file) read as one row"
                            )
                        prev = now
                        clear()
                        if header:
                            header = False
                            if width is None:
                                limit(outer)
                                parsing = False
                                yield SourceRecord(0, line, cells, problem)
                                return
                            continue
                        number += 1
                        count = len(cells)
                        if count != columns:
                            if count < columns:
                                cells.extend([""] * (columns - count))
                            else:
                                extra = cells[columns:]
                                del cells[columns:]
                                if problem is None and any(extra):
                                    problem = extra_cells_problem(columns, extra)
                        limit(outer)
                        parsing = False
                        # tuple.__new__ builds the named tuple without its Python __new__
                        if headers is None:
                            yield new(SourceRecord, (number, line, cells, problem))
                        else:  # cells are exactly as many as headers (padded or trimmed)
                            values = dict(zip(headers, cells))  # noqa: B905
                            yield new(SourceRow, (number, line, values, problem))
                        outer = limit(max_cell)
                        parsing = True
                    return
                except csv.Error as exc:
                    line = offset + prev + 1
                    prev = reader.line_num
                    offset += source.skip_open_quote()
                    reason = str(exc)
                    if "field larger than field limit" in reason:
                        reason = f"a cell is longer than {max_cell:,} characters"
                    else:
                        reason = f"not readable as {_name(delimiter)}-separated text: {reason}"
                except _OverlongLineError:
                    line = offset + prev + 1
                    offset += reader.line_num + 1
                    reader = None
                    offset += source.skip_open_quote()
                    reason = f"a line is longer than {cap:,} characters"
                if header:
                    header = False
                    if width is None:
                        limit(outer)
                        parsing = False
                        yield SourceRecord(0, line, [], reason)
                        return
                    continue
                number += 1
                limit(outer)
                parsing = False
                if headers is None:
                    yield SourceRecord(number, line, [], reason)
                else:
                    yield SourceRow(number, line, {}, reason)
                outer = limit(max_cell)
                parsing = True
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None
    finally:
        if parsing:
            limit(outer)


def _name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(
        delimiter, repr(delimiter)
    )
