from __future__ import annotations

import datetime as dt
import pickle

import pendulum
import pytest

from crmcore import (
    CrmError,
    FixedClock,
    InvalidValueError,
    NotFoundError,
    PayloadError,
    Problem,
    StaleVersionError,
    TransitionNotAllowedError,
    utc,
)
from crmcore.clock import SystemClock, parse_timestamp


def test_every_error_is_a_crm_error_and_its_nearest_builtin() -> None:
    assert isinstance(InvalidValueError("phone", "1", "too short"), ValueError)
    assert isinstance(NotFoundError("customer", "c-1"), LookupError)
    assert isinstance(StaleVersionError("customer", "c-1", 1, 2), CrmError)


def test_invalid_value_message_says_what_which_and_why() -> None:
    assert str(InvalidValueError("phone", "12345", "too short for region CN")) == (
        "invalid phone '12345': too short for region CN"
    )


def test_transition_error_names_the_move_the_state_and_what_is_allowed() -> None:
    error = TransitionNotAllowedError("case", "close", "received", ["acknowledge", "escalate"])
    assert str(error) == "case: can't close when in received; allowed: acknowledge, escalate"


def test_payload_error_lists_every_problem_with_its_path() -> None:
    error = PayloadError("Customer", [Problem("$.a", "bad"), Problem("$.b[0]", "worse")])
    assert error.paths == ("$.a", "$.b[0]")
    assert "bad @ $.a" in str(error)


@pytest.mark.parametrize(
    "error",
    [
        InvalidValueError("phone", "1", "short"),
        NotFoundError("customer", "c-1"),
        StaleVersionError("customer", "c-1", 1, None),
        PayloadError("Customer", [Problem("$", "bad")]),
        TransitionNotAllowedError("lead", "convert", "new", ["contact"], "not qualified"),
    ],
)
def test_errors_survive_pickling_with_their_fields(error: CrmError) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (type(copy), str(copy)) == (type(error), str(error))


def test_utc_converts_aware_datetimes_to_utc_pendulum() -> None:
    shanghai = dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert utc(shanghai) == pendulum.datetime(2026, 1, 1, 0)


def test_utc_rejects_naive_datetimes() -> None:
    with pytest.raises(InvalidValueError, match="naive"):
        utc(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_timestamps_without_offset_are_rejected_not_assumed_utc() -> None:
    with pytest.raises(InvalidValueError, match="offset"):
        parse_timestamp("2026-01-01T00:00:00")


def test_timestamps_with_z_are_utc() -> None:
    assert parse_timestamp("2026-01-01T00:00:00Z") == pendulum.datetime(2026, 1, 1)


@pytest.mark.parametrize(
    "raw", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0999-12-31T23:59:59Z"]
)
def test_timestamps_whose_utc_instant_is_out_of_range_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidValueError, match="outside the supported range") as raised:
        parse_timestamp(raw)
    assert raised.value.value == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1000-01-01T08:00:00+08:00", pendulum.datetime(1000, 1, 1)),
        ("9999-12-31T23:59:59.999999Z", pendulum.datetime(9999, 12, 31, 23, 59, 59, 999_999)),
    ],
)
def test_timestamps_at_the_edges_of_the_range_are_accepted(
    raw: str, expected: pendulum.DateTime
) -> None:
    assert parse_timestamp(raw) == expected


def test_timestamp_text_longer_than_64_characters_is_rejected_quoting_a_prefix() -> None:
    with pytest.raises(InvalidValueError) as raised:
        parse_timestamp("2026-01-01T00:00:00Z" + " " * 100_000)
    assert (raised.value.value, raised.value.reason) == (
        "2026-01-01T00:00:00Z...",
        "100020 characters; a timestamp has at most 64",
    )


def test_utc_rejects_an_aware_datetime_whose_utc_instant_is_before_year_1000() -> None:
    early = dt.datetime(1000, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    with pytest.raises(InvalidValueError, match="outside the supported range"):
        utc(early)


def test_utc_rejects_a_pendulum_utc_timestamp_before_year_1000() -> None:
    with pytest.raises(InvalidValueError, match="outside the supported range"):
        utc(pendulum.datetime(999, 12, 31))


def test_fixed_clock_cannot_advance_past_the_latest_instant() -> None:
    clock = FixedClock(pendulum.datetime(9999, 12, 31))
    with pytest.raises(InvalidValueError, match="outside the supported range"):
        clock.advance(days=1)


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(pendulum.datetime(2026, 1, 1))
    assert clock.now() == clock.now()
    clock.advance(days=1)
    assert clock.now() == pendulum.datetime(2026, 1, 2)


def test_system_clock_returns_aware_utc() -> None:
    assert SystemClock().now().tzinfo == pendulum.UTC
