"""Time: the `Clock` port and the strict UTC converter.

Nothing in crmcore reads the wall clock except :class:`SystemClock`; the
domain receives ``at=`` timestamps and services receive a :class:`Clock`.
Every timestamp is an aware UTC :class:`pendulum.DateTime`; :func:`utc`
rejects naive values instead of guessing a zone.

May import: ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

import attrs
import pendulum

from crmcore.errors import InvalidValueError

__all__ = ["Clock", "FixedClock", "SystemClock", "parse_timestamp", "utc"]

_UTC = pendulum.UTC


def utc(value: dt.datetime) -> pendulum.DateTime:
    """Convert an aware datetime to an aware UTC `pendulum.DateTime`.

    Args:
        value: Any timezone-aware :class:`datetime.datetime`.

    Returns:
        The same instant in UTC.

    Raises:
        InvalidValueError: If ``value`` is naive or not a datetime.

    >>> utc(pendulum.datetime(2026, 1, 1, 8, tz="Asia/Shanghai")).isoformat()
    '2026-01-01T00:00:00+00:00'
    """
    if type(value) is pendulum.DateTime and value.tzinfo is _UTC:
        return value
    if not isinstance(value, dt.datetime):
        raise InvalidValueError("timestamp", value, "expected a timezone-aware datetime")
    offset = value.utcoffset()
    if offset is None:
        raise InvalidValueError("timestamp", value, "naive datetime; a time zone is required")
    return pendulum.instance(value).in_timezone(_UTC)


def parse_timestamp(raw: str) -> pendulum.DateTime:
    """Parse an ISO 8601 timestamp that carries an offset, to UTC.

    Raises:
        InvalidValueError: If ``raw`` is not ISO 8601 or has no offset.

    >>> parse_timestamp("2026-03-01T09:30:00+08:00").isoformat()
    '2026-03-01T01:30:00+00:00'
    >>> parse_timestamp("2026-03-01T09:30:00")
    Traceback (most recent call last):
    ...
    crmcore.errors.InvalidValueError: invalid timestamp '2026-03-01T09:30:00': no UTC offset; ...
    """
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError("timestamp", raw, "not an ISO 8601 timestamp") from exc
    if parsed.utcoffset() is None:
        raise InvalidValueError(
            "timestamp", raw, "no UTC offset; write e.g. 2026-03-01T09:30:00+08:00 or ...Z"
        )
    return utc(parsed)


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
        """Move the clock forward and return the new instant."""
        self.at = self.at.add(days=days, hours=hours, minutes=minutes, seconds=seconds)
        return self.at

    def set(self, at: dt.datetime) -> None:
        """Jump to ``at``."""
        self.at = utc(at)
