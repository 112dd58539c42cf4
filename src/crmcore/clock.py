"""Time: the `Clock` port and the strict UTC converter.

Nothing in crmcore reads the wall clock except :class:`SystemClock`; the
domain receives ``at=`` timestamps and services receive a :class:`Clock`.
Every timestamp is an aware UTC :class:`pendulum.DateTime`; :func:`utc`
rejects naive values instead of guessing a zone.

May import: ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Protocol, runtime_checkable

import attrs
import pendulum

from crmcore.errors import InvalidValueError

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_TIMESTAMP_LENGTH",
    "Clock",
    "FixedClock",
    "SystemClock",
    "parse_timestamp",
    "utc",
]

_UTC = pendulum.UTC

EARLIEST: Final = pendulum.datetime(1000, 1, 1, tz=_UTC)
"""The earliest supported instant, ``1000-01-01T00:00:00Z`` (MariaDB ``DATETIME``'s floor)."""

LATEST: Final = pendulum.datetime(9999, 12, 31, 23, 59, 59, 999_999, tz=_UTC)
"""The latest supported instant, ``9999-12-31T23:59:59.999999Z``."""

MAX_TIMESTAMP_LENGTH: Final = 64
"""Longest timestamp string :func:`parse_timestamp` reads; longer ones are rejected unread."""

_EARLIEST_NAIVE: Final = dt.datetime(1000, 1, 1)  # noqa: DTZ001 - UTC wall time, compared naive
_SPAN: Final = dt.datetime(9999, 12, 31, 23, 59, 59, 999_999) - _EARLIEST_NAIVE  # noqa: DTZ001
_RANGE: Final = "outside the supported range 1000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"


def _offset(value: dt.datetime) -> dt.timedelta | None:
    try:
        return value.utcoffset()
    except (ArithmeticError, TypeError, ValueError) as exc:  # a tzinfo that misbehaves
        raise InvalidValueError("timestamp", value, f"unusable time zone: {exc}") from exc


def utc(value: dt.datetime) -> pendulum.DateTime:
    """Convert an aware datetime to an aware UTC `pendulum.DateTime`.

    Every supported instant lies between :data:`EARLIEST` (``1000-01-01T00:00:00Z``) and
    :data:`LATEST` (``9999-12-31T23:59:59.999999Z``), compared in UTC after applying the
    offset: every storage backend (SQLite, PostgreSQL ``timestamptz``, MariaDB
    ``DATETIME(6)``) holds that range, so a timestamp that passes here can be stored.

    Args:
        value: Any timezone-aware :class:`datetime.datetime`.

    Returns:
        The same instant in UTC.

    Raises:
        InvalidValueError: If ``value`` is naive, not a datetime, has a time zone that
            fails, or its UTC instant is outside the supported range.

    >>> utc(pendulum.datetime(2026, 1, 1, 8, tz="Asia/Shanghai")).isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> utc(pendulum.datetime(1000, 1, 1, 8, tz="Asia/Shanghai"))
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid timestamp ...: outside the supported range 1000-...
    """
    if type(value) is pendulum.DateTime and value.tzinfo is _UTC and value.year >= 1000:
        return value  # already UTC and in range (a datetime's year is at most 9999)
    if not isinstance(value, dt.datetime):
        raise InvalidValueError("timestamp", value, "expected a timezone-aware datetime")
    offset = _offset(value)
    if offset is None:
        raise InvalidValueError("timestamp", value, "naive datetime; a time zone is required")
    # timedelta arithmetic cannot overflow here, unlike shifting the datetime itself
    since_earliest = value.replace(tzinfo=None) - _EARLIEST_NAIVE - offset
    if not dt.timedelta(0) <= since_earliest <= _SPAN:
        raise InvalidValueError("timestamp", value, _RANGE)
    return pendulum.instance(value).in_timezone(_UTC)


def parse_timestamp(raw: str) -> pendulum.DateTime:
    """Parse an ISO 8601 timestamp that carries an offset, to UTC.

    The instant must lie in the range :func:`utc` accepts (years 1000 to 9999 in UTC), and
    the text may be at most :data:`MAX_TIMESTAMP_LENGTH` (64) characters long.

    Args:
        raw: An ISO 8601 timestamp with an offset (``+08:00``) or ``Z``.

    Returns:
        The instant in UTC.

    Raises:
        InvalidValueError: If ``raw`` is not a string, is longer than 64 characters, is not
            ISO 8601, has no offset, or its UTC instant is outside the supported range.

    >>> parse_timestamp("2026-03-01T09:30:00+08:00").isoformat()
    '2026-03-01T01:30:00+00:00'
    >>> parse_timestamp("2026-03-01T09:30:00")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid timestamp '2026-03-01T09:30:00': no UTC offset; ...
    >>> parse_timestamp("9999-12-31T23:59:59-14:00")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid timestamp '9999-12-31T23:59:59-14:00': outside ...
    """
    if not isinstance(raw, str):
        raise InvalidValueError("timestamp", raw, "expected an ISO 8601 string")
    if len(raw) > MAX_TIMESTAMP_LENGTH:
        raise InvalidValueError(
            "timestamp",
            f"{raw[:20]}...",
            f"{len(raw)} characters; a timestamp has at most {MAX_TIMESTAMP_LENGTH}",
        )
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidValueError("timestamp", raw, "not an ISO 8601 timestamp") from exc
    if parsed.utcoffset() is None:
        raise InvalidValueError(
            "timestamp", raw, "no UTC offset; write e.g. 2026-03-01T09:30:00+08:00 or ...Z"
        )
    try:
        return utc(parsed)
    except InvalidValueError as exc:
        raise InvalidValueError("timestamp", raw, exc.reason) from exc


@runtime_checkable
class Clock(Protocol):
    """Where "now" comes from. Implementations return aware UTC timestamps."""

    def now(self) -> pendulum.DateTime:
        """Return the current instant in UTC."""
        ...


class SystemClock:
    """The wall clock. The only place in crmcore that reads it."""

    __slots__ = ()

    def now(self) -> pendulum.DateTime:
        """Return the current instant in UTC."""
        return pendulum.now(_UTC)


@attrs.define
class FixedClock:
    """A clock that says what it is told; for tests and replays.

    >>> clock = FixedClock(pendulum.datetime(2026, 1, 1))
    >>> clock.advance(hours=2).isoformat()
    '2026-01-01T02:00:00+00:00'
    """

    at: pendulum.DateTime = attrs.field(converter=utc)

    def now(self) -> pendulum.DateTime:
        """Return the fixed instant."""
        return self.at

    def advance(
        self, *, days: int = 0, hours: int = 0, minutes: int = 0, seconds: int = 0
    ) -> pendulum.DateTime:
        """Move the clock forward and return the new instant.

        Raises:
            InvalidValueError: If the new instant is past :data:`LATEST`.
        """
        try:
            moved = self.at.add(days=days, hours=hours, minutes=minutes, seconds=seconds)
        except OverflowError as exc:
            raise InvalidValueError("timestamp", self.at, _RANGE) from exc
        self.at = utc(moved)
        return self.at

    def set(self, at: dt.datetime) -> None:
        """Jump to ``at``.

        Raises:
            InvalidValueError: If ``at`` is naive or outside the supported range.
        """
        self.at = utc(at)
