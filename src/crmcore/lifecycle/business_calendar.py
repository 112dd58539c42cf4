"""Business calendars as data: working hours per weekday, a time zone, holidays and make-up days.

A :class:`BusinessCalendar` says when the business works. Holidays are
days off even on a weekday; make-up working days (调休, a weekend day that
is worked to bridge a holiday) use ``makeup_hours``. Business time is
measured in the calendar's own zone and returned as aware UTC instants.

Working time includes the closing instant: a deadline that uses up the
last minute of a day falls *at* 18:00, not at 09:00 the next morning.

Shipped data (``crmcore/lifecycle/data``): mainland China for 2026 (the
State Council's published schedule) and 2027 (**provisional**: derived
from the lunar calendar and the statutory rules until the official notice
is published), via :func:`china_mainland` or :func:`load_calendar`; and
:func:`weekday_calendar` / :func:`always_open` for plain calendars.

May import: ``crmcore.domain``, ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any, Final, TypeVar

import attrs
import pendulum

from crmcore.clock import LATEST, utc
from crmcore.errors import ConfigurationError, InvalidValueError, PayloadError, Problem

__all__ = [
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarDay",
    "WorkingHours",
    "always_open",
    "available_calendars",
    "china_mainland",
    "load_calendar",
    "weekday_calendar",
]

WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys of a calendar's ``week``, Monday first (``date.weekday()`` order)."""

_T = TypeVar("_T")
_RANGE = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_DAY_MINUTES = 24 * 60
_ONE_DAY = dt.timedelta(days=1)
Interval = tuple[pendulum.DateTime, pendulum.DateTime]


def _minute(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _DAY_MINUTES:
        raise InvalidValueError("working hours", value, "minutes from 0 to 1440")
    return value


def _after_start(instance: WorkingHours, _attribute: attrs.Attribute[int], value: int) -> None:
    if value <= instance.start:
        raise InvalidValueError("working hours", str(instance), "the end must be after the start")


@attrs.frozen(order=True)
class WorkingHours:
    """One stretch of working time in a day, in minutes from local midnight.

    >>> WorkingHours.parse("09:00-12:30")
    WorkingHours(start=540, end=750)
    >>> str(WorkingHours(start=780, end=1440))
    '13:00-24:00'
    """

    start: int = attrs.field(converter=_minute)
    end: int = attrs.field(converter=_minute, validator=_after_start)

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Parse ``"HH:MM-HH:MM"`` (``24:00`` is midnight at the end of the day).

        Raises:
            InvalidValueError: If the text is not such a range.
        """
        match = _RANGE.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise InvalidValueError("working hours", text, "expected HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if m1 > 59 or m2 > 59:
            raise InvalidValueError("working hours", text, "minutes go up to 59")
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    @property
    def minutes(self) -> int:
        """How long the stretch is, in minutes."""
        return self.end - self.start

    def __str__(self) -> str:
        return (
            f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        )


def _hours(value: Iterable[WorkingHours | str]) -> tuple[WorkingHours, ...]:
    items = sorted(WorkingHours.parse(v) if isinstance(v, str) else v for v in value)
    for earlier, later in itertools.pairwise(items):
        if later.start < earlier.end:
            raise InvalidValueError("working hours", f"{earlier}, {later}", "ranges overlap")
    return tuple(items)


def _week(value: Sequence[Iterable[WorkingHours | str]]) -> tuple[tuple[WorkingHours, ...], ...]:
    days = tuple(_hours(day) for day in value)
    if len(days) != 7:
        raise InvalidValueError("week", len(days), "seven days, Monday first")
    if not any(days):
        raise InvalidValueError("week", "no working hours", "at least one weekday must be worked")
    return days


def _date(value: dt.date | str) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidValueError("date", value, "expected YYYY-MM-DD") from exc
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidValueError("date", value, "expected a date")
    return value


@attrs.frozen(kw_only=True, order=True)
class CalendarDay:
    """A dated entry of a calendar: a holiday or a make-up working day, with its name."""

    date: dt.date = attrs.field(converter=_date)
    name: str = ""


def _days(value: Iterable[CalendarDay]) -> tuple[CalendarDay, ...]:
    items = tuple(sorted(value))
    dates = [d.date for d in items]
    twice = sorted({d.isoformat() for d in dates if dates.count(d) > 1})
    if twice:
        raise InvalidValueError("calendar days", twice, "listed twice")
    return items


def _zone(value: str) -> str:
    try:
        pendulum.timezone(value)
    except (ValueError, LookupError) as exc:
        raise InvalidValueError("timezone", value, "not an IANA time zone") from exc
    return value


def _no_clash(instance: BusinessCalendar, _attribute: attrs.Attribute[Any], _value: Any) -> None:
    clash = {d.date for d in instance.holidays} & {d.date for d in instance.makeup_days}
    if clash:
        raise InvalidValueError(
            "makeup_days",
            sorted(d.isoformat() for d in clash),
            "a day cannot be both a holiday and a make-up working day",
        )


@attrs.frozen(kw_only=True, cache_hash=True)
class BusinessCalendar:
    """When a business works: hours per weekday, zone, holidays and make-up days (调休).

    Attributes:
        name: A name for the calendar (``"cn"``).
        timezone: The IANA zone working hours are in (``"Asia/Shanghai"``).
        week: Working hours for Monday .. Sunday.
        holidays: Days off (法定节假日), whatever the weekday.
        makeup_days: Days worked although the weekday is not (调休上班).
        makeup_hours: Working hours on make-up days (default: those of the
            first worked weekday).
        note: Where the data comes from, and how sure it is.

    >>> cal = weekday_calendar("Asia/Shanghai", hours=("09:00-12:00", "13:00-18:00"))
    >>> friday_5pm = pendulum.datetime(2026, 3, 6, 17, tz="Asia/Shanghai")
    >>> cal.add_business_time(friday_5pm, dt.timedelta(hours=3)).in_timezone("Asia/Shanghai")
    DateTime(2026, 3, 9, 11, 0, 0, tzinfo=Timezone('Asia/Shanghai'))
    """

    name: str
    timezone: str = attrs.field(converter=_zone)
    week: tuple[tuple[WorkingHours, ...], ...] = attrs.field(converter=_week)
    holidays: tuple[CalendarDay, ...] = attrs.field(default=(), converter=_days)
    makeup_days: tuple[CalendarDay, ...] = attrs.field(
        default=(), converter=_days, validator=_no_clash
    )
    makeup_hours: tuple[WorkingHours, ...] = attrs.field(converter=_hours)
    note: str = ""
    _off: frozenset[dt.date] = attrs.field(init=False, eq=False, repr=False, alias="_off")
    _on: frozenset[dt.date] = attrs.field(init=False, eq=False, repr=False, alias="_on")

    @makeup_hours.default
    def _first_worked_day(self) -> tuple[WorkingHours, ...]:
        return next(day for day in self.week if day)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_off", frozenset(d.date for d in self.holidays))
        object.__setattr__(self, "_on", frozenset(d.date for d in self.makeup_days))

    def hours_on(self, day: dt.date) -> tuple[WorkingHours, ...]:
        """Return the working hours of a local date (none on a holiday)."""
        if day in self._off:
            return ()
        if day in self._on:
            return self.makeup_hours
        return self.week[day.weekday()]

    def is_working_day(self, day: dt.date) -> bool:
        """Return whether any work happens on the local date ``day``."""
        return bool(self.hours_on(day))

    def holiday_name(self, day: dt.date) -> str | None:
        """Return the name of the holiday on ``day``, or ``None`` if it is not a holiday."""
        return next((d.name for d in self.holidays if d.date == day), None)

    def is_working_time(self, at: pendulum.DateTime) -> bool:
        """Return whether ``at`` falls within working hours (closing instant included)."""
        moment = utc(at)
        local = moment.astimezone(_zone_of(self.timezone))
        for day in (local.date() - dt.timedelta(days=1), local.date()):
            if any(start <= moment <= end for start, end in _day(self, day)):
                return True
        return False

    def intervals(self, start: pendulum.DateTime) -> Iterator[Interval]:
        """Yield the working intervals from ``start`` on, in order, as UTC pairs.

        The first interval is cut at ``start``; the sequence never ends.
        """
        moment = utc(start)
        local = moment.astimezone(_zone_of(self.timezone))
        day = dt.date(local.year, local.month, local.day) - _ONE_DAY  # a plain date: fast steps
        while True:
            for begin, end in _day(self, day):
                if end >= moment:
                    yield max(begin, moment), end
            day += _ONE_DAY

    def _working(self, start: pendulum.DateTime, paused: Iterable[Interval]) -> Iterator[Interval]:
        """The working intervals from ``start`` on with ``paused`` cut out (none: as they are)."""
        cuts = tuple(paused)
        return _minus(self.intervals(start), cuts) if cuts else self.intervals(start)

    def add_business_time(
        self,
        start: pendulum.DateTime,
        duration: dt.timedelta,
        *,
        paused: Iterable[Interval] = (),
    ) -> pendulum.DateTime:
        """Return the instant when ``duration`` of working time after ``start`` has passed.

        Args:
            start: Where to start counting (aware).
            duration: Business time to add (not negative).
            paused: Periods (UTC start, end) that do not count, such as the time
                a case waited on the customer.

        Returns:
            An aware UTC instant within working hours (``start`` itself if it is
            working time and ``duration`` is zero).

        Raises:
            InvalidValueError: If ``duration`` is negative, ``start`` naive, or the
                deadline would lie after 9999-12-31 (``crmcore.clock.LATEST``).
            ConfigurationError: Never for a valid calendar (it always has working time).
        """
        if duration < dt.timedelta(0):
            raise InvalidValueError("duration", str(duration), "must not be negative")
        # Business time never passes faster than the clock: a sum past the end is refused
        # before walking millions of days.
        if duration > _elapsed(utc(start), LATEST):
            raise InvalidValueError(
                "deadline",
                f"{utc(start).isoformat()} + {duration}",
                f"lies after {LATEST.isoformat()}, the end of the supported calendar",
            )
        remaining = duration
        try:
            for begin, end in self._working(start, paused):
                span = _elapsed(begin, end)
                if remaining <= span:
                    return utc(_plus(begin, remaining))
                remaining -= span
        except OverflowError:  # the walk ran off the end of the calendar (in local time)
            raise InvalidValueError(
                "deadline",
                f"{utc(start).isoformat()} + {duration}",
                f"the working days it spans run past 9999-12-31 in {self.timezone}, the end of"
                " the supported calendar",
            ) from None
        raise ConfigurationError(f"calendar {self.name!r} has no working time")  # pragma: no cover

    def business_time_between(
        self,
        start: pendulum.DateTime,
        end: pendulum.DateTime,
        *,
        paused: Iterable[Interval] = (),
    ) -> dt.timedelta:
        """Return the working time from ``start`` to ``end`` (zero if ``end`` is not later).

        Raises:
            InvalidValueError: If a timestamp is naive.
        """
        stop = utc(end)
        total = dt.timedelta(0)
        if stop <= utc(start):
            return total
        try:
            for begin, finish in self._working(start, paused):
                if begin >= stop:
                    break
                total += _elapsed(begin, min(finish, stop))
        except OverflowError:  # working time up to the end of the calendar is all there is
            pass
        return dt.timedelta(days=total.days, seconds=total.seconds, microseconds=total.microseconds)

    def next_working_time(self, at: pendulum.DateTime) -> pendulum.DateTime:
        """Return ``at`` if it is working time, else when work next starts."""
        return self.add_business_time(at, dt.timedelta(0))

    def covering(self, other: BusinessCalendar, *, name: str | None = None) -> BusinessCalendar:
        """Return this calendar with the holidays and make-up days of ``other`` added.

        Raises:
            InvalidValueError: If a day is listed by both with different meanings.
        """
        notes = [n for n in (self.note, other.note) if n]
        return attrs.evolve(
            self,
            name=name or self.name,
            holidays=_merge(self.holidays, other.holidays),
            makeup_days=_merge(self.makeup_days, other.makeup_days),
            note=" ".join(dict.fromkeys(notes)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the calendar as JSON-ready data (the format of the shipped files)."""
        return {
            "name": self.name,
            "timezone": self.timezone,
            "week": {
                key: [str(h) for h in day] for key, day in zip(WEEKDAYS, self.week, strict=True)
            },
            "holidays": [{"date": d.date.isoformat(), "name": d.name} for d in self.holidays],
            "makeup_days": [{"date": d.date.isoformat(), "name": d.name} for d in self.makeup_days],
            "makeup_hours": [str(h) for h in self.makeup_hours],
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: object) -> BusinessCalendar:
        """Build a calendar from :meth:`to_dict` data, reporting every problem at once.

        Raises:
            PayloadError: Listing every problem with its ``$.path``.
        """
        return _read(data)


def _merge(left: Iterable[CalendarDay], right: Iterable[CalendarDay]) -> tuple[CalendarDay, ...]:
    by_date = {d.date: d for d in left}
    for day in right:
        by_date.setdefault(day.date, day)
    return tuple(sorted(by_date.values()))


# Instants here are aware pendulum values: plain datetime arithmetic gives the same instant
# and type as pendulum's operators, which build an Interval or Duration on each call and
# cost ten times more (an SLA check walks dozens of working intervals per case).


def _elapsed(start: pendulum.DateTime, end: pendulum.DateTime) -> dt.timedelta:
    return dt.datetime.__sub__(end, start)


def _plus(moment: pendulum.DateTime, delta: dt.timedelta) -> pendulum.DateTime:
    result: pendulum.DateTime = dt.datetime.__add__(moment, delta)
    return result


@functools.cache
def _zone_of(name: str) -> dt.tzinfo:
    """The zone named ``name``, loaded once (``in_timezone(name)`` reads the zone file per call)."""
    return pendulum.timezone(name)


@functools.lru_cache(maxsize=8192)
def _day(calendar: BusinessCalendar, day: dt.date) -> tuple[Interval, ...]:
    """The working intervals of one local date, as UTC pairs (cached)."""
    out: list[Interval] = []
    for hours in calendar.hours_on(day):
        begin = _local(calendar.timezone, day, hours.start)
        end = _local(calendar.timezone, day, hours.end)
        if end > begin:
            out.append((begin, end))
    return tuple(out)


def _local(zone: str, day: dt.date, minute: int) -> pendulum.DateTime:
    moment = pendulum.datetime(day.year, day.month, day.day, tz=zone)
    if minute == _DAY_MINUTES:
        nxt = day + dt.timedelta(days=1)
        moment = pendulum.datetime(nxt.year, nxt.month, nxt.day, tz=zone)
    elif minute:
        moment = pendulum.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tz=zone)
    return moment.in_timezone(pendulum.UTC)


def _minus(intervals: Iterator[Interval], paused: Iterable[Interval]) -> Iterator[Interval]:
    """Yield ``intervals`` with the ``paused`` periods cut out, in order."""
    cuts = sorted((utc(a), utc(b)) for a, b in paused)
    if not cuts:
        yield from intervals
        return
    for begin, end in intervals:
        cursor = begin
        for cut_start, cut_end in cuts:
            if cut_end <= cursor:
                continue
            if cut_start >= end:
                break
            if cut_start > cursor:
                yield cursor, cut_start
            cursor = cut_end
        if cursor < end or (cursor == end == begin):
            yield cursor, end


def _read(data: object) -> BusinessCalendar:
    if not isinstance(data, Mapping):
        raise PayloadError("BusinessCalendar", [Problem("$", "expected an object")])
    problems: list[Problem] = []
    extra = sorted(set(data) - set(_READERS))
    if extra:
        problems.append(Problem("$", f"extra fields found ({', '.join(extra)})"))
    problems.extend(
        Problem(f"$.{key}", "required field missing")
        for key in ("name", "timezone", "week")
        if key not in data
    )
    kwargs = {
        key: reader(data[key], f"$.{key}", problems)
        for key, reader in _READERS.items()
        if key in data
    }
    if problems:
        raise PayloadError("BusinessCalendar", problems)
    try:
        return BusinessCalendar(**kwargs)
    except InvalidValueError as exc:
        raise PayloadError("BusinessCalendar", [Problem("$", str(exc))]) from exc


def _collect(problems: list[Problem], path: str, check: Callable[[], _T]) -> _T | None:
    try:
        return check()
    except InvalidValueError as exc:
        problems.append(Problem(path, str(exc)))
        return None


def _read_text(value: object, path: str, problems: list[Problem]) -> str:
    if isinstance(value, str):
        return value
    problems.append(Problem(path, "expected a string"))
    return ""


def _read_zone(value: object, path: str, problems: list[Problem]) -> str:
    text = _read_text(value, path, problems)
    return _collect(problems, path, lambda: _zone(text)) or "UTC"


def _read_week(week: object, path: str, problems: list[Problem]) -> list[tuple[WorkingHours, ...]]:
    if not isinstance(week, Mapping):
        problems.append(Problem(path, "expected an object with mon .. sun"))
        return [(WorkingHours(0, 1),)] * 7
    extra = sorted(set(week) - set(WEEKDAYS))
    if extra:
        problems.append(Problem(path, f"unknown weekdays ({', '.join(extra)})"))
    return [_read_hours(week.get(key, []), f"{path}.{key}", problems) for key in WEEKDAYS]


def _parse_hours(value: object) -> WorkingHours:
    if not isinstance(value, str):
        raise InvalidValueError("working hours", value, "expected HH:MM-HH:MM")
    return WorkingHours.parse(value)


def _read_hours(value: object, path: str, problems: list[Problem]) -> tuple[WorkingHours, ...]:
    if not isinstance(value, list):
        problems.append(Problem(path, "expected a list of HH:MM-HH:MM ranges"))
        return ()
    parsed = [
        _collect(problems, f"{path}[{i}]", functools.partial(_parse_hours, v))
        for i, v in enumerate(value)
    ]
    hours = [h for h in parsed if h is not None]
    result = _collect(problems, path, lambda: _hours(hours))
    return result if result is not None else ()


def _read_days(value: object, path: str, problems: list[Problem]) -> tuple[CalendarDay, ...]:
    if not isinstance(value, list):
        problems.append(Problem(path, "expected a list of {date, name}"))
        return ()
    days: list[CalendarDay] = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("date"), str):
            problems.append(Problem(where, "expected {date: YYYY-MM-DD, name}"))
            continue
        name = item.get("name", "")
        if not isinstance(name, str) or set(item) - {"date", "name"}:
            problems.append(Problem(where, "only date and a string name are allowed"))
            continue
        day = _collect(
            problems, f"{where}.date", functools.partial(CalendarDay, date=item["date"], name=name)
        )
        if day is not None:
            days.append(day)
    result = _collect(problems, path, lambda: _days(days))
    return result if result is not None else ()


_READERS: Final[Mapping[str, Callable[[object, str, list[Problem]], Any]]] = {
    "name": _read_text,
    "timezone": _read_zone,
    "week": _read_week,
    "holidays": _read_days,
    "makeup_days": _read_days,
    "makeup_hours": _read_hours,
    "note": _read_text,
}


def available_calendars() -> tuple[str, ...]:
    """Return the names of the calendars shipped with crmcore (``"cn-2026"`` ...)."""
    folder = resources.files("crmcore.lifecycle") / "data"
    return tuple(
        sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
    )


@functools.cache
def load_calendar(name: str) -> BusinessCalendar:
    """Load a calendar shipped with crmcore by name (see :func:`available_calendars`).

    Raises:
        InvalidValueError: If there is no such calendar.
    """
    if name not in available_calendars():
        raise InvalidValueError(
            "calendar", name, f"not shipped; choose one of {', '.join(available_calendars())}"
        )
    text = (resources.files("crmcore.lifecycle") / "data" / f"{name}.json").read_text("utf-8")
    return BusinessCalendar.from_dict(json.loads(text))


def china_mainland(years: Iterable[int] = (2026, 2027)) -> BusinessCalendar:
    """Return the mainland-China calendar (Mon–Fri 09:00–12:00, 13:00–18:00) for ``years``.

    Holidays and make-up working days (调休) follow the State Council's
    annual notice. **2027 is provisional**: derived from the lunar calendar
    and the statutory holiday rules until the official notice is published;
    check ``calendar.note`` and replace it when it is.

    Raises:
        InvalidValueError: If a year is not shipped.

    >>> cal = china_mainland()
    >>> cal.holiday_name(dt.date(2026, 10, 1)), cal.is_working_day(dt.date(2026, 9, 20))
    ('国庆节', True)
    """
    calendars = [load_calendar(f"cn-{year}") for year in sorted(set(years))]
    if not calendars:
        raise InvalidValueError("years", list(years), "give at least one year")
    merged = calendars[0]
    for other in calendars[1:]:
        merged = merged.covering(other)
    return attrs.evolve(merged, name="cn")


def weekday_calendar(
    timezone: str = "UTC",
    *,
    hours: Iterable[str] = ("09:00-17:00",),
    name: str = "weekdays",
) -> BusinessCalendar:
    """Return a plain Monday–Friday calendar with no holidays.

    Raises:
        InvalidValueError: If the zone or hours are invalid.
    """
    day = _hours(hours)
    return BusinessCalendar(name=name, timezone=timezone, week=(day, day, day, day, day, (), ()))


def always_open(timezone: str = "UTC") -> BusinessCalendar:
    """Return a 24×7 calendar: business time equals elapsed time.

    Raises:
        InvalidValueError: If the zone is invalid.
    """
    day = (WorkingHours(0, _DAY_MINUTES),)
    return BusinessCalendar(name="24x7", timezone=timezone, week=(day,) * 7)
