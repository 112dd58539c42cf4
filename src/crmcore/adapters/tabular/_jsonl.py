"""JSON lines (``.jsonl``, ``.ndjson``): one JSON object per line, read as a stream.

The headers are every key seen, in order of first appearance, so the file
is read twice (streaming both times). A value that is not text is kept as
its JSON text (``13800138000``, ``true``, ``{"a": 1}``); null and a missing
key read as "".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TextIO

from crmcore.adapters.tabular._detect import sample_text
from crmcore.adapters.tabular._model import SourceRecord, Table, TableError, unique_headers

__all__ = ["cell_text", "open_json_lines"]


def cell_text(value: object) -> str:
    """Return a JSON value as cell text: strings as they are, others as JSON, null as "".

    >>> [cell_text(v) for v in ("张伟", 13800138000, 1.5, True, None, {"城市": "上海"}, [1, 2])]
    ['张伟', '13800138000', '1.5', 'true', '', '{"城市": "上海"}', '[1, 2]']
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def open_json_lines(path: Path, *, encoding: str | None, max_cell: int) -> Table:
    """Open a JSON-lines file: collect its keys (the headers) in one streaming pass.

    Raises:
        TableError: If the file cannot be read or holds no JSON object line.
        ConfigurationError: If ``encoding`` is not a known codec.
    """
    enc, _, _ = sample_text(path, encoding)
    cap = 64 * max_cell + 1024
    keys: dict[str, None] = {}
    for _, text in _lines(path, enc, cap):
        if text is None:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict):
            keys.update(dict.fromkeys(data))
    if not keys:
        raise TableError(path, "no line is a JSON object: nothing to read")
    raw = tuple(keys)
    headers, issues = unique_headers(raw, 1)

    return Table(
        path=path,
        format="jsonl",
        headers=headers,
        issues=tuple(issues),
        encoding=enc,
        delimiter=None,
        records=partial(_records, path, enc, cap=cap, keys=raw, max_cell=max_cell),
    )


def _records(
    path: Path, encoding: str, *, cap: int, keys: tuple[str, ...], max_cell: int
) -> Iterator[SourceRecord]:
    number = 0
    for line, text in _lines(path, encoding, cap):
        if text is None:
            number += 1
            yield SourceRecord(number, line, [], f"a line is longer than {cap:,} characters")
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            number += 1
            yield SourceRecord(number, line, [], f"not valid JSON: {exc}")
            continue
        if not isinstance(data, dict):
            number += 1
            shown = text.strip()
            shown = shown if len(shown) <= 60 else shown[:60] + "…"
            yield SourceRecord(number, line, [], f"not a JSON object: {shown}")
            continue
        cells = [cell_text(data.get(k)) for k in keys]
        if not any(cells):
            continue
        number += 1
        long = [h for h, c in zip(keys, cells, strict=True) if len(c) > max_cell]
        problem = None
        if long:
            problem = f"a cell is longer than {max_cell:,} characters: {long[0]!r}"
        yield SourceRecord(number, line, cells, problem)


def _lines(path: Path, encoding: str, cap: int) -> Iterator[tuple[int, str | None]]:
    """Yield ``(line, text)`` for each non-blank line; text None for a line over ``cap``.

    Raises:
        TableError: If the file cannot be read.
    """
    try:
        handle = path.open(encoding=encoding, errors="replace", newline="")
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        with handle:
            yield from _split(handle, cap)
    except OSError as exc:
        raise TableError(path, f"cannot read: {exc.strerror or exc}") from None


def _split(handle: TextIO, cap: int) -> Iterator[tuple[int, str | None]]:
    readline = handle.readline
    number = 0
    while True:
        text = readline(cap)
        if not text:
            return
        number += 1
        if len(text) == cap and text[-1] != "\n":
            while len(text) == cap and text[-1] != "\n":
                text = readline(cap)
            yield number, None
            continue
        if text.strip():
            yield number, text
