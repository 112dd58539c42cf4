"""Reading import files (CSV or JSON lines) and opening the database for the ``crmcore`` command."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from crmcore.errors import CrmError
from crmcore.services.cleaning import ROW_ERROR

__all__ = ["InputError", "count_rows", "database_url", "detect_encoding", "read_rows"]


class InputError(CrmError, ValueError):
    """An input file cannot be read (missing, not CSV/JSON lines, no header)."""


def detect_encoding(path: Path) -> str:
    """Return ``utf-8-sig`` for UTF-8 files (BOM or not), else ``gb18030`` if that reads.

    A UTF-8 file with a few undecodable bytes stays UTF-8: those rows are
    rejected and reported, the rest imported.

    Raises:
        InputError: If the file cannot be opened.
    """
    try:
        head = path.read_bytes()[: 1 << 20]
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    text = head.decode("utf-8", errors="replace")
    bad_lines = sum(1 for line in text.splitlines() if "\ufffd" in line)
    if bad_lines * 20 <= max(text.count("\n"), 1):  # at most 5 % broken rows: UTF-8 with errors
        return "utf-8-sig"
    try:
        head.decode("gb18030")
    except UnicodeDecodeError:
        return "utf-8-sig"
    return "gb18030"


def read_rows(
    path: Path, *, encoding: str | None = None
) -> tuple[list[str], Iterator[dict[str, str | None]]]:
    """Open a CSV or JSON-lines file and return its headers and its rows.

    Undecodable bytes become U+FFFD, so the row is rejected and reported
    instead of stopping the import. A JSON line that does not parse becomes a
    row carrying :data:`~crmcore.services.cleaning.ROW_ERROR`.

    Raises:
        InputError: If the file is missing, empty or has no header.
    """
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    enc = encoding or detect_encoding(path)
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        return _json_lines(path, enc)
    handle = path.open(encoding=enc, errors="replace", newline="")
    reader = csv.DictReader(handle)
    try:
        headers = reader.fieldnames
    except csv.Error as exc:
        handle.close()
        raise InputError(f"{path} is not a readable CSV file: {exc}") from exc
    if not headers:
        handle.close()
        raise InputError(f"{path} is empty or has no header row")

    def rows() -> Iterator[dict[str, str | None]]:
        with handle:
            try:
                for row in reader:
                    extra = row.pop(None, None)  # cells beyond the header are ignored
                    del extra
                    yield row
            except csv.Error as exc:
                raise InputError(f"{path}, line {reader.line_num}: {exc}") from exc

    return [h for h in headers if h is not None], rows()


def _json_lines(path: Path, encoding: str) -> tuple[list[str], Iterator[dict[str, str | None]]]:
    headers: dict[str, None] = {}
    with path.open(encoding=encoding, errors="replace") as handle:
        for line in handle:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                headers.update(dict.fromkeys(str(k) for k in data))
    if not headers:
        raise InputError(f"{path} has no JSON object lines")

    def rows() -> Iterator[dict[str, str | None]]:
        with path.open(encoding=encoding, errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError as exc:
                    yield {ROW_ERROR: f"line {number} is not valid JSON: {exc}"}
                    continue
                if not isinstance(data, dict):
                    yield {ROW_ERROR: f"line {number} is not a JSON object"}
                    continue
                yield {str(k): None if v is None else str(v) for k, v in data.items()}

    return list(headers), rows()


def count_rows(path: Path) -> int | None:
    """Return roughly how many rows the file has (lines minus the header), for progress bars."""
    try:
        with path.open("rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None
    return lines if path.suffix.lower() in {".jsonl", ".ndjson", ".json"} else max(lines - 1, 0)


def database_url(value: str) -> str:
    """Accept a SQLAlchemy URL, or a file path meaning an SQLite database there."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"
