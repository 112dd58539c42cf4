"""Properties of business time on the shipped calendars."""

from __future__ import annotations

import datetime as dt

import pendulum
from hypothesis import given
from hypothesis import strategies as st

from crmcore.lifecycle import BusinessCalendar, china_mainland, weekday_calendar

CALENDARS = st.sampled_from(
    [
        china_mainland(),
        weekday_calendar("Europe/Berlin", hours=("08:30-12:00", "13:00-17:30")),
        weekday_calendar("UTC"),
    ]
)
STARTS = st.integers(0, 2 * 365 * 24 * 60).map(
    lambda m: pendulum.datetime(2026, 1, 1, tz="UTC").add(minutes=m)
)
DURATIONS = st.integers(0, 120 * 60).map(lambda m: dt.timedelta(minutes=m))


@st.composite
def pauses(
    draw: st.DrawFn, start: pendulum.DateTime
) -> list[tuple[pendulum.DateTime, pendulum.DateTime]]:
    offsets = draw(st.lists(st.integers(0, 30 * 24 * 60), min_size=0, max_size=6).map(sorted))
    out = []
    for a, b in zip(offsets[::2], offsets[1::2], strict=False):
        out.append((start.add(minutes=a), start.add(minutes=b)))
    return out


@given(CALENDARS, STARTS, DURATIONS)
def test_a_deadline_never_falls_outside_working_time(
    calendar: BusinessCalendar, start: pendulum.DateTime, duration: dt.timedelta
) -> None:
    assert calendar.is_working_time(calendar.add_business_time(start, duration))


@given(CALENDARS, STARTS, DURATIONS, DURATIONS)
def test_adding_more_business_time_never_gives_an_earlier_deadline(
    calendar: BusinessCalendar, start: pendulum.DateTime, a: dt.timedelta, b: dt.timedelta
) -> None:
    short, long = sorted((a, b))
    assert calendar.add_business_time(start, short) <= calendar.add_business_time(start, long)


@given(CALENDARS, STARTS, DURATIONS, DURATIONS)
def test_adding_business_time_in_two_steps_equals_adding_the_sum(
    calendar: BusinessCalendar, start: pendulum.DateTime, a: dt.timedelta, b: dt.timedelta
) -> None:
    stepwise = calendar.add_business_time(calendar.add_business_time(start, a), b)
    assert stepwise == calendar.add_business_time(start, a + b)


@given(CALENDARS, STARTS, DURATIONS)
def test_business_time_between_start_and_deadline_is_the_duration_added(
    calendar: BusinessCalendar, start: pendulum.DateTime, duration: dt.timedelta
) -> None:
    end = calendar.add_business_time(start, duration)
    assert calendar.business_time_between(start, end) == duration


@given(CALENDARS, STARTS, DURATIONS, st.data())
def test_pausing_never_shortens_a_deadline(
    calendar: BusinessCalendar,
    start: pendulum.DateTime,
    duration: dt.timedelta,
    data: st.DataObject,
) -> None:
    paused = data.draw(pauses(start))
    with_pauses = calendar.add_business_time(start, duration, paused=paused)
    assert with_pauses >= calendar.add_business_time(start, duration)
    assert calendar.is_working_time(with_pauses)


@given(CALENDARS, STARTS, DURATIONS, st.data())
def test_paused_time_is_not_counted_between_start_and_deadline(
    calendar: BusinessCalendar,
    start: pendulum.DateTime,
    duration: dt.timedelta,
    data: st.DataObject,
) -> None:
    paused = data.draw(pauses(start))
    end = calendar.add_business_time(start, duration, paused=paused)
    assert calendar.business_time_between(start, end, paused=paused) == duration
