"""The values a tabular reader hands out: tables, rows, issues, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import attrs

from crmcore.errors import CrmError

__all__ = [
    "DEFAULT_MAX_CELL",
    "SourceRecord",
    "SourceRow",
    "Table",
    "TableError",
    "TableIssue",
    "extra_cells_problem",
    "unique_headers",
]

_SHOWN_CELLS = 10
_SHOWN_CHARS = 60

DEFAULT_MAX_CELL = 1_000_000
"""Longest cell a reader accepts, in characters (csv's own limit is 131,072)."""


class TableError(CrmError, ValueError):
    """A file cannot be read as a table at all (missing, empty, no header, unreadable).

    A row that cannot be read is not an error: it comes back with a
    ``problem``. This is for the file as a whole.

    Attributes:
        path: The file.
        reason: Why it cannot be read.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type[TableError], tuple[Path, str]]:
        return (type(self), (self.path, self.reason))


@attrs.frozen
class TableIssue:
    """Something found while opening a table that changes how it reads, but is not fatal.

    Attributes:
        line: The line (or sheet row) it concerns; 1 is the first line of the file.
        column: The 1-based column it concerns, or None for the whole table.
        message: What was found and what the reader did about it.
    """

    line: int
    column: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + ("" if self.column is None else f", column {self.column}")
        return f"{where}: {self.message}"


class SourceRecord(NamedTuple):
    """One record of a table, cells by position (the fast form, for columnar readers).

    Attributes:
        number: The data row number, from 1 (the header is not a row; every
            record counts, broken ones included; blank lines do not).
        line: The line where the record starts (the header is line 1 unless
            blank lines precede it; a quoted cell spanning lines advances it).
        cells: One text per header, in header order ("" for a missing cell).
        problem: None, or why the row must be rejected (then ``cells`` may be
            empty or partial).
    """

    number: int
    line: int
    cells: list[str]
    problem: str | None


class SourceRow(NamedTuple):
    """One record of a table, cells by header.

    Attributes:
        number: The data row number, from 1 (as :class:`SourceRecord`).
        line: The line where the record starts.
        values: Header -> text ("" for a missing cell).
        problem: None, or why the row must be rejected (then ``values`` may be
            empty or partial).
    """

    number: int
    line: int
    values: dict[str, str]
    problem: str | None


@attrs.frozen
class Table:
    """An opened table: its headers and what was found, with its rows read on demand.

    Each call of :meth:`rows` or :meth:`records` reads the file again from the
    start, streaming (a delimited or JSON-lines file is never held in memory;
    a spreadsheet's sheet is, as spreadsheet readers hold it).

    Attributes:
        path: The file.
        format: ``"csv"`` (any delimiter), ``"jsonl"`` or ``"xlsx"`` (any spreadsheet).
        headers: Column names, unique: a repeated header gets `` (2)``, `` (3)``…
            and an empty one is named ``column N``; each renaming is an issue.
        issues: What was found while opening (duplicate headers, extra sheets).
        encoding: The text encoding read (None for a spreadsheet).
        delimiter: The cell delimiter (None for JSON lines and spreadsheets).
    """

    path: Path
    format: str
    headers: tuple[str, ...]
    issues: tuple[TableIssue, ...]
    encoding: str | None
    delimiter: str | None
    _records: Callable[[], Iterator[SourceRecord]] = attrs.field(
        repr=False, eq=False, alias="records"
    )
    _rows: Callable[[], Iterator[SourceRow]] | None = attrs.field(
        default=None, repr=False, eq=False, alias="rows"
    )

    def records(self) -> Iterator[SourceRecord]:
        """Read the rows again from the start, cells by position.

        Returns:
            Every record in file order (see :class:`SourceRecord`).

        Raises:
            TableError: If the file can no longer be read (removed, I/O error).
        """
        return self._records()

    def rows(self) -> Iterator[SourceRow]:
        """Read the rows again from the start, cells by header.

        Returns:
            Every record in file order (see :class:`SourceRow`).

        Raises:
            TableError: If the file can no longer be read (removed, I/O error).
        """
        if self._rows is not None:
            return self._rows()
        return self._rows_from_records()

    def _rows_from_records(self) -> Iterator[SourceRow]:
        headers = self.headers
        for number, line, cells, problem in self._records():
            yield SourceRow(number, line, dict(zip(headers, cells, strict=False)), problem)


def unique_headers(raw: Sequence[str], line: int = 1) -> tuple[tuple[str, ...], list[TableIssue]]:
    """Trim headers, name empty ones and make repeated ones unique, reporting each change.

    Args:
        raw: The header cells as read.
        line: The line the header row is on (for the issues).

    Returns:
        The headers to use and one issue per renamed header.

    >>> headers, issues = unique_headers(["姓名", "邮箱", " 邮箱 ", "", "邮箱 (2)"])
    >>> headers
    ('姓名', '邮箱', '邮箱 (3)', 'column 4', '邮箱 (2)')
    >>> [str(i) for i in issues]  # doctest: +NORMALIZE_WHITESPACE
    ["line 1, column 3: header '邮箱' repeats column 2: read as '邮箱 (3)'",
     "line 1, column 4: empty header: read as 'column 4'"]
    """
    trimmed = [str(h).strip() for h in raw]
    taken = set(trimmed)
    first: dict[str, int] = {}
    headers: list[str] = []
    issues: list[TableIssue] = []
    for place, name in enumerate(trimmed, start=1):
        if name and name not in first:
            first[name] = place
            headers.append(name)
            continue
        base = name or f"column {place}"
        new, count = base, 2
        while new in taken:
            new = f"{base} ({count})"
            count += 1
        taken.add(new)
        first.setdefault(new, place)
        headers.append(new)
        reason = f"header {name!r} repeats column {first[name]}" if name else "empty header"
        issues.append(TableIssue(line, place, f"{reason}: read as {new!r}"))
    return tuple(headers), issues


def extra_cells_problem(width: int, extra: Sequence[str]) -> str | None:
    """Describe the non-empty cells beyond the last column, or return None if all are empty.

    Empty cells past the header (a trailing delimiter, a sheet wider than its
    header) lose nothing and are not a problem.

    Args:
        width: How many columns the header has.
        extra: The cells after the last column.

    Returns:
        The problem for the row, naming each extra cell and its column.

    >>> extra_cells_problem(3, ["", "VIP"])
    "a cell beyond the 3 columns of the header: column 5 'VIP'"
    >>> extra_cells_problem(3, ["", " "]) is None
    False
    >>> extra_cells_problem(3, ["", ""]) is None
    True
    """
    shown = [(width + place, cell) for place, cell in enumerate(extra, start=1) if cell]
    if not shown:
        return None
    cells = ", ".join(
        f"column {place} {cell if len(cell) <= _SHOWN_CHARS else cell[:_SHOWN_CHARS] + '…'!r}"
        for place, cell in shown[:_SHOWN_CELLS]
    )
    more = f" and {len(shown) - _SHOWN_CELLS} more" if len(shown) > _SHOWN_CELLS else ""
    noun = "a cell" if len(shown) == 1 else f"{len(shown)} cells"
    return f"{noun} beyond the {width} columns of the header: {cells}{more}"
