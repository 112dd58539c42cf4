"""Business calendars: working hours, the shipped mainland-China data, loading and JSON."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from crmcore.clock import LATEST
from crmcore.errors import InvalidValueError, PayloadError
from crmcore.lifecycle import (
    BusinessCalendar,
    WorkingHours,
    always_open,
    available_calendars,
    china_mainland,
    load_calendar,
    weekday_calendar,
)
from crmcore.serialization import dumps, loads

SH = "Asia/Shanghai"


def test_working_hours_parse_and_print_as_ranges() -> None:
    assert str(WorkingHours.parse("09:00-12:30")) == "09:00-12:30"


def test_working_hours_that_end_before_they_start_are_rejected() -> None:
    with pytest.raises(InvalidValueError, match="the end must be after the start"):
        WorkingHours.parse("18:00-09:00")


def test_overlapping_working_hours_are_rejected() -> None:
    with pytest.raises(InvalidValueError, match="ranges overlap"):
        weekday_calendar(hours=("09:00-12:00", "11:00-18:00"))


def test_an_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="not an IANA time zone"):
        weekday_calendar("Mars/Olympus")


def test_crmcore_ships_mainland_china_for_2026_and_2027() -> None:
    assert {"cn-2026", "cn-2027"} <= set(available_calendars())


@pytest.mark.parametrize(
    "day",
    [
        "2026-01-01",
        "2026-02-16",
        "2026-02-23",
        "2026-04-06",
        "2026-05-05",
        "2026-06-19",
        "2026-09-25",
        "2026-10-07",
    ],
)
def test_the_2026_public_holidays_are_days_off(day: str) -> None:
    assert not china_mainland().is_working_day(dt.date.fromisoformat(day))


@pytest.mark.parametrize(
    "day", ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
)
def test_the_2026_make_up_days_are_worked(day: str) -> None:
    assert china_mainland().is_working_day(dt.date.fromisoformat(day))


def test_the_2026_arrangement_keeps_thirteen_statutory_days_off() -> None:
    cal = load_calendar("cn-2026")
    weekday_holidays = sum(1 for d in cal.holidays if d.date.weekday() < 5)
    assert weekday_holidays - len(cal.makeup_days) == 13


def test_the_2027_calendar_says_it_is_provisional() -> None:
    assert load_calendar("cn-2027").note.startswith("PROVISIONAL")


def test_the_spring_festival_2027_falls_on_its_lunar_date() -> None:
    assert load_calendar("cn-2027").holiday_name(dt.date(2027, 2, 6)) == "春节"


def test_an_unknown_shipped_calendar_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="not shipped"):
        load_calendar("cn-1999")


def test_working_time_includes_the_closing_instant() -> None:
    cal = china_mainland()
    assert cal.is_working_time(pendulum.datetime(2026, 3, 2, 18, tz=SH))
    assert not cal.is_working_time(pendulum.datetime(2026, 3, 2, 12, 30, tz=SH))


def test_business_time_skips_the_national_day_week() -> None:
    cal = china_mainland()
    start = pendulum.datetime(2026, 9, 30, 16, tz=SH)
    due = cal.add_business_time(start, dt.timedelta(hours=8))
    assert due == pendulum.datetime(2026, 10, 8, 16, tz=SH)


def test_a_start_outside_working_hours_begins_at_the_next_opening() -> None:
    cal = china_mainland()
    assert cal.next_working_time(pendulum.datetime(2026, 10, 3, 10, tz=SH)) == pendulum.datetime(
        2026, 10, 8, 9, tz=SH
    )


def test_always_open_counts_elapsed_time() -> None:
    start = pendulum.datetime(2026, 1, 3, 22, tz="UTC")
    assert always_open().add_business_time(start, dt.timedelta(hours=5)) == start.add(hours=5)


def test_a_negative_duration_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="must not be negative"):
        always_open().add_business_time(pendulum.datetime(2026, 1, 1), dt.timedelta(hours=-1))


def test_a_calendar_round_trips_through_json() -> None:
    cal = china_mainland()
    assert loads(dumps(cal), BusinessCalendar) == cal


def test_a_bad_calendar_payload_reports_every_problem_with_its_path() -> None:
    data = weekday_calendar().to_dict()
    data["timezone"] = "Nowhere/City"
    data["week"]["mon"] = ["9-5"]
    data["holidays"] = [{"date": "2026-02-30", "name": "x"}]
    with pytest.raises(PayloadError) as caught:
        BusinessCalendar.from_dict(data)
    assert caught.value.paths == ("$.timezone", "$.week.mon[0]", "$.holidays[0].date")


def test_a_day_both_holiday_and_make_up_day_is_rejected() -> None:
    data = weekday_calendar().to_dict()
    data["holidays"] = [{"date": "2026-02-14", "name": "x"}]
    data["makeup_days"] = [{"date": "2026-02-14", "name": "y"}]
    with pytest.raises(PayloadError, match="both a holiday and a make-up working day"):
        BusinessCalendar.from_dict(data)


# --------------------------------------------------------------------------- the calendar's ends


def test_a_deadline_past_the_end_of_the_calendar_is_a_clear_error() -> None:
    calendar = china_mainland()
    for start, duration in (
        (LATEST.subtract(hours=1), dt.timedelta(hours=100)),  # raised OverflowError before
        (LATEST.subtract(days=400), dt.timedelta.max),  # would walk 2.7 million years
        (LATEST, dt.timedelta(0)),
    ):
        with pytest.raises(InvalidValueError) as caught:
            calendar.add_business_time(start, duration)
        assert caught.value.field == "deadline"


def test_business_time_up_to_the_end_of_the_calendar_is_counted_without_overflow() -> None:
    start = LATEST.subtract(days=3)
    assert always_open().business_time_between(start, LATEST) <= dt.timedelta(days=3)
