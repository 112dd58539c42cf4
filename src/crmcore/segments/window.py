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

Window arithmetic saturates at the ends of the supported calendar
(:data:`~crmcore.clock.EARLIEST` .. :data:`~crmcore.clock.LATEST`): a bound
beyond them leaves that side unbounded (every stored instant lies inside),
and a window wholly beyond them is empty. ``After(9999-12-31)`` therefore
holds for nothing and ``Between(2026-01-01, 9999-12-31)`` for everything
from 2026 on; no backend ever sees an out-of-range instant.

May import: ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, TypeAlias, Union

import attrs
import pendulum

from crmcore.clock import EARLIEST, LATEST, utc
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


class _Side(enum.Enum):
    """A window bound that lies outside the supported range of instants."""

    BEFORE = "before"  # earlier than EARLIEST
    AFTER = "after"  # later than LATEST


_Bound: TypeAlias = "pendulum.DateTime | _Side"
_FIRST_DAY = dt.date(EARLIEST.year, EARLIEST.month, EARLIEST.day).toordinal()
_LAST_DAY = dt.date.max.toordinal()
_ONE_DAY = dt.timedelta(days=1)
_EMPTY = Span(EARLIEST, EARLIEST)
"""A span no instant lies in (``EARLIEST <= t < EARLIEST``)."""


def _start_of_day(ordinal: int, tz: pendulum.Timezone | pendulum.FixedTimezone) -> _Bound:
    """Return the UTC instant the local day ``ordinal`` starts at, or the side it falls off.

    ``ordinal`` is a proleptic Gregorian day number (:meth:`datetime.date.toordinal`) and may
    lie beyond the calendar: the day after 9999-12-31 still starts inside the supported
    range in time zones east of UTC.
    """
    if ordinal < _FIRST_DAY:
        return _Side.BEFORE  # every such day starts before 1000-01-01T00:00Z
    if ordinal > _LAST_DAY:
        last = _start_of_day(_LAST_DAY, tz)
        if ordinal > _LAST_DAY + 1 or not isinstance(last, pendulum.DateTime):
            return _Side.AFTER
        return last + _ONE_DAY if LATEST - last >= _ONE_DAY else _Side.AFTER
    day = dt.date.fromordinal(ordinal)
    try:
        return utc(pendulum.datetime(day.year, day.month, day.day, tz=tz))
    except (InvalidValueError, OverflowError):  # 1000-01-01 east of UTC starts before EARLIEST
        return _Side.BEFORE if ordinal - _FIRST_DAY < _LAST_DAY - ordinal else _Side.AFTER


def _days_before(local: pendulum.DateTime, days: int) -> _Bound:
    """Return ``days`` calendar days before ``local`` (same wall time), in UTC, or BEFORE."""
    try:
        return utc(local.subtract(days=days))
    except (InvalidValueError, OverflowError, ValueError):
        return _Side.BEFORE


def _span(start: _Bound, end: _Bound, *, end_inclusive: bool = False) -> Span:
    """Return the span from ``start`` to ``end``, saturated at the supported range."""
    if start is _Side.AFTER or end is _Side.BEFORE:
        return _EMPTY
    return Span(
        start if isinstance(start, pendulum.DateTime) else None,
        end if isinstance(end, pendulum.DateTime) else None,
        end_inclusive=end_inclusive,
    )


def _month_ordinal(index: int) -> int:
    """Return the day number of the first day of month ``index`` (``year * 12 + month - 1``).

    Months before year 1 map below the calendar and months after 10000-01 above it.
    """
    year, month = divmod(index, 12)
    if year < 1:
        return 0
    if year > dt.MAXYEAR:
        return _LAST_DAY + 1 if index == (dt.MAXYEAR + 1) * 12 else _LAST_DAY + 2
    return dt.date(year, month + 1, 1).toordinal()


def _period(
    day: int,
    month: int,
    unit: PeriodUnit,
    offset: int,
    tz: pendulum.Timezone | pendulum.FixedTimezone,
) -> Span:
    """Resolve a calendar period around the local ``day`` (ordinal) in ``month`` (an index)."""
    first: int
    nxt: int
    if unit is PeriodUnit.DAY:
        first = day + offset
        nxt = first + 1
    elif unit is PeriodUnit.WEEK:
        first = day - (day - 1) % 7 + 7 * offset  # ordinal 1 (0001-01-01) is a Monday
        nxt = first + 7
    else:
        months = {PeriodUnit.MONTH: 1, PeriodUnit.QUARTER: 3, PeriodUnit.YEAR: 12}[unit]
        index = month - month % months + offset * months
        first = _month_ordinal(index)
        nxt = _month_ordinal(index + months)
    return _span(_start_of_day(first, tz), _start_of_day(nxt, tz))


def _local(
    when: pendulum.DateTime, tz: pendulum.Timezone | pendulum.FixedTimezone
) -> tuple[pendulum.DateTime, int]:
    """Return ``when``'s local wall time and how many days it lies beyond that value.

    An instant on the last UTC day is already 10000-01-01 east of UTC, which no
    datetime holds: then the local time one day earlier is returned with ``1``.
    """
    try:
        return when.in_timezone(tz), 0
    except OverflowError:
        return when.subtract(days=1).in_timezone(tz), 1


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
        InvalidValueError: If ``at`` is naive, outside the supported range or ``tz`` unknown.

    >>> at = pendulum.datetime(2026, 3, 15, 12)
    >>> span = resolve(CalendarPeriod("month"), at=at, tz="Asia/Shanghai")
    >>> span.start.isoformat(), span.end.isoformat()
    ('2026-02-28T16:00:00+00:00', '2026-03-31T16:00:00+00:00')
    >>> resolve(Within(7), at=at).start.isoformat()
    '2026-03-08T12:00:00+00:00'
    >>> resolve(Between("2026-01-01", "9999-12-31"), at=at).end is None
    True
    """
    when = utc(at)
    zone_ = zone(tz)
    local, beyond = _local(when, zone_)
    if isinstance(window, Within | NotWithin):
        days = window.days - beyond
        start = when if days < 0 else _days_before(local, days)
        if isinstance(window, Within):
            return _span(start, when, end_inclusive=True)
        return _span(_Side.BEFORE, start)
    if isinstance(window, CalendarPeriod):
        day = local.date().toordinal() + beyond
        month = local.year * 12 + local.month - 1 + beyond  # 9999-12-31 + 1 is 10000-01
        return _period(day, month, window.unit, window.offset, zone_)
    if isinstance(window, Before):
        return _span(_Side.BEFORE, _start_of_day(window.date.toordinal(), zone_))
    if isinstance(window, After):
        return _span(_start_of_day(window.date.toordinal() + 1, zone_), _Side.AFTER)
    if isinstance(window, Between):
        return _span(
            _start_of_day(window.start.toordinal(), zone_),
            _start_of_day(window.end.toordinal() + 1, zone_),
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
