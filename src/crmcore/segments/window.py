"""Relative and absolute time windows, resolved against an ``at`` in a time zone.

A window is data (it round-trips through JSON); :func:`resolve` turns it
into a :class:`Span` of UTC instants for one evaluation instant ``at`` and
one time zone. Every backend compares timestamps with the same span, so
"this calendar month" means the same month in memory, in SQL and in polars.

- :class:`Within` ``(days)`` — from ``days`` calendar days before ``at`` up
  to and including ``at`` ("within the last 90 days").
- :class:`NotWithin` ``(days)`` — strictly before ``days`` days before
  ``at`` ("not within the last 90 days", "more than 90 days ago").
- :class:`CalendarPeriod` ``(unit, offset)`` — the calendar day, ISO week
  (Monday first), month, quarter or year containing ``at``, shifted by
  ``offset`` periods (0 = this, -1 = the previous one).
- :class:`Before` / :class:`After` ``(date)`` — strictly before the start of
  ``date``, or from the start of the day after ``date``, in the time zone.
- :class:`Between` ``(start, end)`` — from the start of ``start`` to the end
  of ``end`` (both dates included).

May import: ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, TypeAlias, Union

import attrs
import pendulum

from crmcore.clock import utc
from crmcore.errors import InvalidValueError

__all__ = [
    "WINDOW_TYPES",
    "After",
    "Before",
    "Between",
    "CalendarPeriod",
    "NotWithin",
    "PeriodUnit",
    "Span",
    "Window",
    "Within",
    "describe_window",
    "resolve",
    "zone",
]

_MAX_DAYS = 36_600


def _days(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_DAYS:
        raise InvalidValueError("days", value, f"an integer from 0 to {_MAX_DAYS}")
    return value


def _date(value: dt.date | str) -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidValueError("date", value, "expected YYYY-MM-DD") from exc
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidValueError("date", value, "expected a date")
    return dt.date(value.year, value.month, value.day)


@attrs.frozen
class Within:
    """From ``days`` calendar days before ``at`` up to and including ``at``."""

    days: int = attrs.field(converter=_days)


@attrs.frozen
class NotWithin:
    """Strictly before ``days`` calendar days before ``at``."""

    days: int = attrs.field(converter=_days)


class PeriodUnit(enum.StrEnum):
    """A calendar period."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def _offset(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 1000:
        raise InvalidValueError("offset", value, "an integer from -1000 to 1000")
    return value


@attrs.frozen
class CalendarPeriod:
    """The calendar ``unit`` containing ``at`` in the time zone, shifted by ``offset`` units."""

    unit: PeriodUnit = attrs.field(converter=PeriodUnit)
    offset: int = attrs.field(default=0, converter=_offset)


@attrs.frozen
class Before:
    """Strictly before the start of ``date`` in the time zone."""

    date: dt.date = attrs.field(converter=_date)


@attrs.frozen
class After:
    """From the start of the day after ``date`` in the time zone."""

    date: dt.date = attrs.field(converter=_date)


def _end_not_before_start(instance: Between, _: attrs.Attribute[dt.date], value: dt.date) -> None:
    if value < instance.start:
        raise InvalidValueError("end", value.isoformat(), f"before start {instance.start}")


@attrs.frozen
class Between:
    """From the start of ``start`` to the end of ``end`` in the time zone, both days included."""

    start: dt.date = attrs.field(converter=_date)
    end: dt.date = attrs.field(converter=_date, validator=_end_not_before_start)


Window: TypeAlias = Union[Within, NotWithin, CalendarPeriod, Before, After, Between]  # noqa: UP007 - runtime alias read by cattrs.
"""A time window: any class of this module."""

WINDOW_TYPES: tuple[type[Any], ...] = (Within, NotWithin, CalendarPeriod, Before, After, Between)


@attrs.frozen
class Span:
    """A resolved window: ``start <= t`` and ``t < end`` (``t <= end`` when ``end_inclusive``).

    ``None`` means unbounded on that side.
    """

    start: pendulum.DateTime | None
    end: pendulum.DateTime | None
    end_inclusive: bool = False

    def contains(self, instant: dt.datetime) -> bool:
        """Return whether ``instant`` lies in the span."""
        if self.start is not None and instant < self.start:
            return False
        if self.end is None:
            return True
        return instant <= self.end if self.end_inclusive else instant < self.end

    def clipped(self, at: pendulum.DateTime) -> Span:
        """Return the span cut at ``at`` (inclusive): records after ``at`` never count."""
        if self.end is not None and (self.end < at or (self.end == at and not self.end_inclusive)):
            return self
        return Span(self.start, at, end_inclusive=True)


def zone(
    tz: str | pendulum.Timezone | pendulum.FixedTimezone,
) -> pendulum.Timezone | pendulum.FixedTimezone:
    """Return the time zone named ``tz`` (an IANA name such as ``"Asia/Shanghai"``).

    Raises:
        InvalidValueError: If there is no such zone.
    """
    if isinstance(tz, pendulum.Timezone | pendulum.FixedTimezone):
        return tz
    try:
        return pendulum.timezone(tz)
    except (ValueError, LookupError) as exc:
        raise InvalidValueError("time zone", tz, "not an IANA time zone name") from exc


def _start_of_day(
    day: dt.date, tz: pendulum.Timezone | pendulum.FixedTimezone
) -> pendulum.DateTime:
    return utc(pendulum.datetime(day.year, day.month, day.day, tz=tz))


def _period(
    local: pendulum.DateTime,
    unit: PeriodUnit,
    offset: int,
    tz: pendulum.Timezone | pendulum.FixedTimezone,
) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    day = local.date()
    first: dt.date
    nxt: dt.date
    if unit is PeriodUnit.DAY:
        first = day + dt.timedelta(days=offset)
        nxt = first + dt.timedelta(days=1)
    elif unit is PeriodUnit.WEEK:
        first = day - dt.timedelta(days=day.weekday()) + dt.timedelta(weeks=offset)
        nxt = first + dt.timedelta(weeks=1)
    else:
        months = {PeriodUnit.MONTH: 1, PeriodUnit.QUARTER: 3, PeriodUnit.YEAR: 12}[unit]
        index = day.year * 12 + (day.month - 1)
        index = index - index % months + offset * months
        first = dt.date(index // 12, index % 12 + 1, 1)
        index += months
        nxt = dt.date(index // 12, index % 12 + 1, 1)
    return _start_of_day(first, tz), _start_of_day(nxt, tz)


def resolve(
    window: Window, *, at: dt.datetime, tz: str | pendulum.Timezone | pendulum.FixedTimezone = "UTC"
) -> Span:
    """Resolve ``window`` for the instant ``at`` in time zone ``tz``.

    Args:
        window: The window to resolve.
        at: The evaluation instant (aware).
        tz: The time zone calendar days and periods are counted in.

    Returns:
        The span of UTC instants the window covers.

    Raises:
        InvalidValueError: If ``at`` is naive or ``tz`` unknown.

    >>> at = pendulum.datetime(2026, 3, 15, 12)
    >>> span = resolve(CalendarPeriod("month"), at=at, tz="Asia/Shanghai")
    >>> span.start.isoformat(), span.end.isoformat()
    ('2026-02-28T16:00:00+00:00', '2026-03-31T16:00:00+00:00')
    >>> resolve(Within(7), at=at).start.isoformat()
    '2026-03-08T12:00:00+00:00'
    """
    when = utc(at)
    zone_ = zone(tz)
    local = when.in_timezone(zone_)
    if isinstance(window, Within):
        return Span(utc(local.subtract(days=window.days)), when, end_inclusive=True)
    if isinstance(window, NotWithin):
        return Span(None, utc(local.subtract(days=window.days)))
    if isinstance(window, CalendarPeriod):
        start, end = _period(local, window.unit, window.offset, zone_)
        return Span(start, end)
    if isinstance(window, Before):
        return Span(None, _start_of_day(window.date, zone_))
    if isinstance(window, After):
        return Span(_start_of_day(window.date + dt.timedelta(days=1), zone_), None)
    if isinstance(window, Between):
        return Span(
            _start_of_day(window.start, zone_),
            _start_of_day(window.end + dt.timedelta(days=1), zone_),
        )
    raise InvalidValueError("window", window, "expected a time window")


def describe_window(window: Window) -> str:
    """Return ``window`` in words.

    >>> describe_window(Within(90)), describe_window(CalendarPeriod("month", -1))
    ('within the last 90 days', 'in the calendar month -1')
    """
    if isinstance(window, Within):
        return f"within the last {window.days} days"
    if isinstance(window, NotWithin):
        return f"more than {window.days} days ago"
    if isinstance(window, CalendarPeriod):
        if window.offset == 0:
            return f"in this calendar {window.unit.value}"
        return f"in the calendar {window.unit.value} {window.offset:+d}"
    if isinstance(window, Before):
        return f"before {window.date.isoformat()}"
    if isinstance(window, After):
        return f"after {window.date.isoformat()}"
    return f"between {window.start.isoformat()} and {window.end.isoformat()}"
