r"""Canonical JSON: one byte string per value, so a hash of it means one thing.

Objects have their keys sorted, no whitespace is written, text is UTF-8 (not
``\\u`` escapes), and only the exact JSON types are accepted: ``None``,
``bool``, ``int``, ``str``, lists (or tuples) and objects with string keys.
Floats are refused (their text is not canonical across languages; give an
integer or a decimal string), as are strings that cannot be UTF-8 (lone
surrogates). Every problem of a value is reported together, with its path.

Private to :mod:`crmcore.privacy`. May import: ``crmcore.errors``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TypeAlias

from crmcore.errors import PayloadError, Problem

__all__ = ["JsonValue", "canonical_json", "canonical_text", "instant_text"]

JsonValue: TypeAlias = bool | int | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A value canonical JSON can hold."""

MAX_DEPTH = 64
"""How deeply lists and objects may nest."""

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _problems(value: object, path: str, depth: int, found: list[Problem]) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            found.append(Problem(path, "text that cannot be UTF-8 (a lone surrogate)"))
        return
    if depth >= MAX_DEPTH:
        found.append(Problem(path, f"nested deeper than {MAX_DEPTH} levels"))
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _problems(item, f"{path}[{index}]", depth + 1, found)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                found.append(Problem(path, f"an object key must be a string, got {key!r}"))
                continue
            _problems(key, f"{path}.{key}", depth + 1, found)
            _problems(item, f"{path}.{key}", depth + 1, found)
        return
    if isinstance(value, float):
        reason = "a float has no canonical text: give an integer or a decimal string"
    else:
        reason = (
            "expected a JSON value (null, boolean, integer, string, list, object),"
            f" got {type(value).__name__}"
        )
    found.append(Problem(path, reason))


def canonical_text(value: object, *, subject: str = "payload") -> str:
    """Return the canonical JSON text of ``value``.

    >>> canonical_text({"b": [1, True, None], "a": "李娜"})
    '{"a":"李娜","b":[1,true,null]}'

    Args:
        value: A JSON value (see the module docstring).
        subject: What the value is, for the error message.

    Returns:
        Its canonical JSON text.

    Raises:
        PayloadError: Listing every part that is not an exact JSON value, by path.
    """
    found: list[Problem] = []
    _problems(value, "$", 0, found)
    if found:
        raise PayloadError(subject, found)
    return _ENCODER.encode(value)


def canonical_json(value: object, *, subject: str = "payload") -> bytes:
    """Return the canonical JSON of ``value`` as UTF-8 bytes.

    >>> canonical_json({"z": 1, "a": {"y": "x"}})
    b'{"a":{"y":"x"},"z":1}'
    >>> canonical_json({"amount": 1.5})
    Traceback (most recent call last):
    ...
    crmcore.errors.PayloadError: invalid payload (1 problem):
      a float has no canonical text: give an integer or a decimal string @ $.amount

    Raises:
        PayloadError: As :func:`canonical_text`.
    """
    return canonical_text(value, subject=subject).encode("utf-8")


def instant_text(at: dt.datetime) -> str:
    """Return the canonical text of a UTC instant: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Fixed width, so the texts sort as the instants do. ``at`` must already be in UTC.

    >>> instant_text(dt.datetime(2026, 3, 1, 9, 0, 0, 5, tzinfo=dt.UTC))
    '2026-03-01T09:00:00.000005Z'
    """
    return (
        f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:"
        f"{at.second:02d}.{at.microsecond:06d}Z"
    )
