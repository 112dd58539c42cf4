r"""One reader for tabular input files: CSV (any delimiter), JSON lines, spreadsheets.

:func:`read_table` opens a file, works out what it can (encoding, delimiter,
headers) and returns a :class:`Table`; its rows stream from the file. It
loses nothing and reports everything:

- a repeated header is renamed (``邮箱``, ``邮箱 (2)``) and an empty one
  named (``column 4``), each with a :class:`TableIssue`;
- a row with non-empty cells beyond the header, a cell longer than
  ``max_cell``, a line over the bound, a quoted cell never closed, a JSON
  line that does not parse: the row comes back with a ``problem`` naming
  its line, and reading goes on with the next row;
- a row with fewer cells than headers is padded with "" (nothing is lost);
- undecodable bytes become U+FFFD, for whoever checks the values to report;
- blank lines (and rows whose cells are all empty) are skipped, but counted
  in ``line``.

Encodings detected: UTF-8 with or without BOM, UTF-16 (BOM, or zero bytes
that give it away), UTF-32 with BOM, GB18030 (and so GBK, GB2312).
Delimiters detected: comma, semicolon, tab, pipe.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "客户.csv"
>>> _ = path.write_bytes("姓名;邮箱;邮箱\n张伟;a@example.com;b@example.com\n".encode("gb18030"))
>>> table = read_table(path)
>>> table.encoding, table.delimiter, table.headers
('gb18030', ';', ('姓名', '邮箱', '邮箱 (2)'))
>>> [str(issue) for issue in table.issues]
["line 1, column 3: header '邮箱' repeats column 2: read as '邮箱 (2)'"]
>>> list(table.rows())  # doctest: +NORMALIZE_WHITESPACE
[SourceRow(number=1, line=2,
           values={'姓名': '张伟', '邮箱': 'a@example.com', '邮箱 (2)': 'b@example.com'},
           problem=None)]

May import: ``crmcore.errors``; attrs; python-calamine (extra ``xlsx``), on use.
"""

from __future__ import annotations

from pathlib import Path

from crmcore.adapters.tabular._delimited import open_delimited
from crmcore.adapters.tabular._detect import (
    DELIMITERS,
    SAMPLE_BYTES,
    detect_delimiter,
    detect_encoding,
)
from crmcore.adapters.tabular._jsonl import open_json_lines
from crmcore.adapters.tabular._model import (
    DEFAULT_MAX_CELL,
    SourceRecord,
    SourceRow,
    Table,
    TableError,
    TableIssue,
    unique_headers,
)
from crmcore.adapters.tabular._sheet import SPREADSHEET_SUFFIXES, open_spreadsheet
from crmcore.errors import ConfigurationError

__all__ = [
    "DEFAULT_MAX_CELL",
    "DELIMITERS",
    "JSON_LINES_SUFFIXES",
    "SAMPLE_BYTES",
    "SPREADSHEET_SUFFIXES",
    "SourceRecord",
    "SourceRow",
    "Table",
    "TableError",
    "TableIssue",
    "detect_delimiter",
    "detect_encoding",
    "read_table",
    "unique_headers",
]

JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
"""File name endings read as JSON lines (one object per line)."""

_DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def read_table(
    path: Path | str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_cell: int = DEFAULT_MAX_CELL,
) -> Table:
    """Open a table file and read its header; the rows stream from :meth:`Table.rows`.

    The format follows the file name: ``.jsonl``/``.ndjson``/``.json`` are
    JSON lines, ``.xlsx``/``.xlsm``/``.xlsb``/``.xls``/``.ods`` spreadsheets
    (extra ``xlsx``), anything else delimited text.

    Args:
        path: The file.
        encoding: A Python codec name; None detects it (text files only).
        delimiter: The cell delimiter, or its name (``tab`` or backslash-t as typed
            in a shell, ``comma``, ``semicolon``, ``pipe``); None detects it
            (delimited text only).
        max_cell: The longest cell accepted, in characters: a row with a
            longer one is reported (``problem``) and reading goes on.

    Returns:
        The table: headers, what was found while opening, and its rows.

    Raises:
        TableError: If the file is missing, unreadable, empty or has no header.
        ConfigurationError: If ``encoding``, ``delimiter`` or ``max_cell`` is not usable.
        MissingExtraError: If the file is a spreadsheet and the ``xlsx`` extra
            (python-calamine) is not installed.
    """
    path = Path(path)
    if max_cell < 1:
        raise ConfigurationError(f"max_cell must be at least 1, not {max_cell}")
    if not path.is_file():
        reason = "is a directory, not a file" if path.is_dir() else "no such file"
        raise TableError(path, reason)
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        return open_spreadsheet(path, max_cell=max_cell)
    if suffix in JSON_LINES_SUFFIXES:
        return open_json_lines(path, encoding=encoding, max_cell=max_cell)
    if delimiter is not None:
        delimiter = _DELIMITER_NAMES.get(delimiter.lower(), delimiter)
    return open_delimited(path, encoding=encoding, delimiter=delimiter, max_cell=max_cell)
