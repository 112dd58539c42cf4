"""The JSON-lines envelope: a header line, then one ``{"kind": …, "record": …}`` per line.

A crmcore export in JSON lines is UTF-8 text, one JSON object per line::

    {"crmcore":"export","format":1}
    {"kind":"customers","record":{"id":"c-1","version":3,...}}
    {"kind":"orders","record":{"id":"r-1","version":1,...}}

The header says what the file is and which envelope format it uses; every
other line names the kind of its record, so files of several kinds (and
files joined with ``cat``) import back. ``record`` is the snapshot as
:func:`crmcore.serialization.unstructure` writes it: every field, nothing
lost.

May import: ``crmcore.serialization``, ``crmcore.errors``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from crmcore.adapters.transfer.kinds import RecordKind
from crmcore.errors import PayloadError, Problem
from crmcore.serialization import structure, unstructure

__all__ = [
    "FORMAT",
    "HEADER",
    "ParsedLine",
    "header_line",
    "is_header",
    "parse_line",
    "record_line",
]

FORMAT = 1
"""The envelope format this version of crmcore writes and reads."""

HEADER: dict[str, object] = {"crmcore": "export", "format": FORMAT}
"""The first line of every JSON-lines export."""

_KINDS = ", ".join(kind.value for kind in RecordKind)


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def header_line() -> str:
    """Return the header line (without its line break).

    >>> header_line()
    '{"crmcore":"export","format":1}'

    Returns:
        The JSON text of :data:`HEADER`.
    """
    return _dumps(HEADER)


def record_line(kind: RecordKind, record: object) -> str:
    """Return the envelope line of one record (without its line break).

    >>> import pendulum
    >>> from crmcore.domain import Money, Order
    >>> at = pendulum.datetime(2026, 3, 1)
    >>> order = Order(id="r-1", version=1, customer_id="c-1", amount=Money("99.00", "CNY"),
    ...               ordered_at=at, created_at=at, updated_at=at)
    >>> record_line(RecordKind.ORDERS, order)[:70]
    '{"kind":"orders","record":{"id":"r-1","version":1,"customer_id":"c-1",'

    Args:
        kind: The record's kind.
        record: A snapshot of ``kind.record_type``.

    Returns:
        One line of JSON, keys in definition order, sets sorted: equal
        records give equal lines.
    """
    return _dumps({"kind": kind.value, "record": unstructure(record)})


def is_header(data: object) -> bool:
    """Whether a parsed JSON line is an export header (any format).

    >>> is_header({"crmcore": "export", "format": 1}), is_header({"kind": "leads"})
    (True, False)

    Args:
        data: The line, parsed from JSON.

    Returns:
        True for an object whose ``crmcore`` key is ``"export"``.
    """
    return isinstance(data, dict) and data.get("crmcore") == "export"


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedLine:
    """One record line read back: its kind and the structured snapshot.

    Attributes:
        kind: The record's kind.
        record: The snapshot, an instance of ``kind.record_type``.
    """

    kind: RecordKind
    record: Any


def parse_line(text: str | bytes, *, kind: RecordKind | None = None) -> ParsedLine | None:
    """Read one line of a JSON-lines export.

    A line with the envelope names its kind. A bare record (no envelope, as
    crmcore 0.x's ``export --format jsonl`` wrote customers) is read as
    ``kind`` when one is given. Header lines and blank lines return None.

    >>> parsed = parse_line('{"kind":"orders","record":{"id":"r-1"}}')
    Traceback (most recent call last):
    ...
    crmcore.errors.PayloadError: invalid orders record (5 problems):
      required field missing @ $.record.customer_id
      ...
    >>> parse_line('{"crmcore":"export","format":1}') is None
    True

    Args:
        text: The line, as text or UTF-8 bytes (a trailing line break is ignored).
        kind: The kind of bare records; None requires the envelope.

    Returns:
        The kind and record, or None for a header or blank line.

    Raises:
        PayloadError: Listing every problem of the line, each with its
            ``$.path`` in the line (``$.record.points.emails[0].address``):
            not UTF-8, not JSON, not an object, an unknown kind or format, an
            invalid record.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PayloadError("line", [Problem("$", f"not UTF-8 text: {exc}")]) from exc
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        return None
    try:
        data = json.loads(stripped)
    except ValueError as exc:
        raise PayloadError("line", [Problem("$", f"not valid JSON: {exc}")]) from exc
    if not isinstance(data, dict):
        raise PayloadError("line", [Problem("$", "a JSON object is required")])
    if is_header(data):
        if data.get("format") != FORMAT:
            reason = (
                f"unsupported export format {data.get('format')!r}: this crmcore reads {FORMAT}"
            )
            raise PayloadError("header", [Problem("$.format", reason)])
        return None
    if "record" not in data:
        if kind is None:
            reason = 'expected {"kind": …, "record": …} (a crmcore export line)'
            raise PayloadError("line", [Problem("$", reason)])
        return ParsedLine(kind, _structure(data, kind, "$"))
    problems = [Problem("$", f"unexpected key {key!r}") for key in data if key not in _KEYS]
    given = data.get("kind")
    if not isinstance(given, str) or given not in _BY_NAME:
        reason = f"unknown kind {given!r}: one of {_KINDS}" if "kind" in data else "required"
        raise PayloadError("line", [*problems, Problem("$.kind", reason)])
    found = _BY_NAME[given]
    try:
        record = _structure(data["record"], found, "$.record")
    except PayloadError as exc:
        raise PayloadError(exc.subject, [*problems, *exc.problems]) from exc
    if problems:
        raise PayloadError(f"{found.value} line", problems)
    return ParsedLine(found, record)


_KEYS = frozenset({"kind", "record"})
_BY_NAME = {kind.value: kind for kind in RecordKind}


def _structure(data: object, kind: RecordKind, prefix: str) -> Any:
    try:
        return structure(data, kind.record_type)
    except PayloadError as exc:
        problems = [Problem(prefix + p.path.removeprefix("$"), p.message) for p in exc.problems]
        raise PayloadError(f"{kind.value} record", problems) from exc
