"""Spreadsheets (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods``) through python-calamine.

python-calamine (extra ``xlsx``) was chosen over openpyxl: it only reads,
which is all an import needs; it parses in Rust, several times faster than
openpyxl's pure-Python XML reading on large sheets; it is maintained and
ships binary wheels for every platform crmcore supports; and one API covers
xlsx, xlsm, xlsb, legacy xls and OpenDocument sheets. Like every xlsx
reader it holds the sheet in memory (a sheet has at most 1,048,576 rows);
rows are still handed out one at a time.

The first sheet is read (an issue says so when there are more). ``line`` is
the sheet's row number as the spreadsheet shows it. Cells become text:
whole numbers without ``.0`` (``13800138000``), other numbers as Python
prints them, dates and times in ISO 8601, booleans ``TRUE``/``FALSE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from crmcore.adapters.tabular._model import (
    SourceRecord,
    Table,
    TableError,
    TableIssue,
    extra_cells_problem,
    unique_headers,
)
from crmcore.errors import MissingExtraError

if TYPE_CHECKING:
    from python_calamine import CalamineSheet

__all__ = ["SPREADSHEET_SUFFIXES", "cell_text", "open_spreadsheet"]

SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})

_EXACT_FLOAT = 2.0**53


def cell_text(value: object) -> str:
    """Return a spreadsheet cell as text.

    >>> import datetime as dt
    >>> [cell_text(v) for v in (13800138000.0, 1.5, 7, True, "张伟", dt.date(1990, 5, 17))]
    ['13800138000', '1.5', '7', 'TRUE', '张伟', '1990-05-17']
    >>> cell_text(dt.datetime(2024, 1, 31, 9, 30))
    '2024-01-31T09:30:00'
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_FLOAT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def open_spreadsheet(path: Path, *, max_cell: int) -> Table:
    """Open a spreadsheet's first sheet and read its header row (the first non-empty row).

    Raises:
        MissingExtraError: If python-calamine (extra ``xlsx``) is not installed.
        TableError: If the file cannot be read as a spreadsheet or has no header.
    """
    try:
        import python_calamine  # noqa: PLC0415 - optional extra, imported on use
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "python_calamine":
            raise
        raise MissingExtraError(
            "xlsx", f"reading {path.suffix.lower()} (crmcore.adapters.tabular)", "python_calamine"
        ) from exc
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        names = list(workbook.sheet_names)
        if not names:
            raise TableError(path, "the workbook has no sheet")
        sheet = workbook.get_sheet_by_index(0)
    except python_calamine.CalamineError as exc:
        raise TableError(path, f"not a readable spreadsheet: {exc}") from None
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None
    issues: list[TableIssue] = []
    if len(names) > 1:
        read = f"the workbook has {len(names)} sheets: read the first, {names[0]!r}"
        issues.append(TableIssue(1, None, read))
    header_line, header = _header(sheet)
    if header is None:
        raise TableError(path, f"sheet {names[0]!r} is empty: a header row is required")
    headers, renamed = unique_headers(header, header_line)
    issues.extend(renamed)
    width = len(headers)

    def records() -> Iterator[SourceRecord]:
        number = 0
        for line, values in enumerate(sheet.iter_rows(), start=1):
            if line <= header_line:
                continue
            cells = [cell_text(v) for v in values]
            if not any(cells):
                continue
            number += 1
            problem = _check(cells, width, max_cell)
            yield SourceRecord(number, line, cells, problem)

    return Table(
        path=path,
        format="xlsx",
        headers=headers,
        issues=tuple(issues),
        encoding=None,
        delimiter=None,
        records=records,
    )


def _header(sheet: CalamineSheet) -> tuple[int, list[str] | None]:
    for line, values in enumerate(sheet.iter_rows(), start=1):
        cells = [cell_text(v) for v in values]
        if any(cells):
            while cells and not cells[-1].strip():
                cells.pop()  # a sheet is as wide as its widest row: trailing blanks are no column
            return line, cells
    return 0, None


def _check(cells: list[str], width: int, max_cell: int) -> str | None:
    """Pad or trim ``cells`` to ``width`` in place; return a problem, or None."""
    count = len(cells)
    problem = None
    if count < width:
        cells.extend([""] * (width - count))
    elif count > width:
        problem = extra_cells_problem(width, cells[width:])
        del cells[width:]
    if problem is None and any(len(c) > max_cell for c in cells):
        problem = f"a cell is longer than {max_cell:,} characters"
    return problem
