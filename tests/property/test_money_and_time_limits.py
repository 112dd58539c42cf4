"""Money and timestamps that construct can be stored by every backend (issue 13)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pendulum
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crmcore import InvalidValueError
from crmcore.clock import EARLIEST, LATEST, parse_timestamp, utc
from crmcore.domain import Money
from crmcore.testing import strategies as cst

_LIMIT = Decimal(10) ** 14  # NUMERIC(20, 6): magnitude below 10**14 ...
_PLACES = 6  # ... and at most 6 decimal places

_raw_amounts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.text(max_size=40),
    st.from_regex(r"-?[0-9]{0,20}(\.[0-9]{0,10})?([eE][+-]?[0-9]{1,7})?", fullmatch=True),
)
_factors = st.one_of(
    st.integers(-(10**20), 10**20),
    st.decimals(allow_nan=False, allow_infinity=False),
)


def _storable(amount: Decimal) -> bool:
    exponent = amount.as_tuple().exponent
    return (
        amount.is_finite()
        and abs(amount) < _LIMIT
        and isinstance(exponent, int)
        and exponent >= -_PLACES
    )


def _attempt(make: Callable[[], Money]) -> Money | None:
    """Return the Money ``make()`` builds, or None when it raises InvalidValueError."""
    try:
        return make()
    except InvalidValueError:
        return None


@given(_raw_amounts)
def test_any_money_that_constructs_fits_the_amount_column(raw: Decimal | int | str) -> None:
    money = _attempt(lambda: Money(raw, "CNY"))
    assert money is None or _storable(money.amount)


@given(cst.amounts(), cst.amounts())
def test_sums_and_differences_of_amounts_in_range_are_exact_or_rejected(
    a: Decimal, b: Decimal
) -> None:
    total = _attempt(lambda: Money(a, "EUR") + Money(b, "EUR"))
    difference = _attempt(lambda: Money(a, "EUR") - Money(b, "EUR"))
    assert (total is None) == (abs(a + b) >= _LIMIT)
    assert (difference is None) == (abs(a - b) >= _LIMIT)
    assert total is None or (total.amount == a + b and _storable(total.amount))
    assert difference is None or (difference.amount == a - b and _storable(difference.amount))


@given(cst.amounts(), _factors)
def test_products_are_exact_or_rejected_never_rounded(a: Decimal, factor: Decimal | int) -> None:
    product = _attempt(lambda: Money(a, "USD") * factor)
    assert product is None or (product.amount == a * Decimal(factor) and _storable(product.amount))


@given(cst.amounts(), _factors)
def test_times_rounds_the_exact_product_once_to_the_minor_unit(
    a: Decimal, factor: Decimal | int
) -> None:
    product = _attempt(lambda: Money(a, "USD").times(factor))
    assert product is None or (
        abs(product.amount - a * Decimal(factor)) <= Decimal("0.005")
        and product.amount.as_tuple().exponent == -2
    )


@given(st.lists(cst.money(("CNY",)), max_size=20))
def test_summing_many_money_values_equals_summing_their_amounts(moneys: list[Money]) -> None:
    total = sum(moneys, Money.zero("CNY"))
    assert total.amount == sum((m.amount for m in moneys), Decimal(0))


@given(cst.amounts())
def test_rounding_is_in_range_or_rejected(a: Decimal) -> None:
    rounded = _attempt(lambda: Money(a, "JPY").rounded())
    assert rounded is None or (_storable(rounded.amount) and abs(rounded.amount - a) <= 1)


@given(cst.money())
def test_money_strategy_draws_only_storable_amounts(money: Money) -> None:
    assert _storable(money.amount)


_iso_shapes = st.from_regex(
    r"(0001-01-01|9999-12-31|[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2})"
    r"([T ][0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2}(\.[0-9]{1,9})?)?)?)?"
    r"(Z|[+-][0-9]{1,2}(:?[0-9]{2}(:?[0-9]{2}(\.[0-9]{1,6})?)?)?)?",
    fullmatch=True,
)


@given(st.one_of(st.text(), _iso_shapes))
@example("0001-01-01T00:00:00+14:00")
@example("9999-12-31T23:59:59-14:00")
@example("2026-01-01T00:00:00+23:59:59.999999")
def test_parse_timestamp_returns_an_in_range_utc_instant_or_raises_invalid_value(
    raw: str,
) -> None:
    try:
        parsed = parse_timestamp(raw)
    except InvalidValueError:
        return
    assert parsed.tzinfo == pendulum.UTC
    assert EARLIEST <= parsed <= LATEST


@given(
    st.datetimes(timezones=st.just(dt.UTC)),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)
def test_utc_accepts_exactly_the_instants_in_the_supported_range(
    instant: dt.datetime, offset_minutes: int
) -> None:
    zone = dt.timezone(dt.timedelta(minutes=offset_minutes))
    wall = instant.replace(tzinfo=zone)  # the same wall time, read in another zone
    try:
        in_range = wall.astimezone(dt.UTC).year >= EARLIEST.year
    except OverflowError:  # before year 1 or after 9999 in UTC
        in_range = False
    try:
        converted = utc(wall)
    except InvalidValueError:
        assert not in_range
        return
    assert (in_range, converted) == (True, wall)


@given(cst.timestamps(EARLIEST, LATEST))
def test_timestamp_strategy_draws_only_supported_instants(at: pendulum.DateTime) -> None:
    assert EARLIEST <= at <= LATEST


def test_timestamp_strategy_refuses_bounds_outside_the_supported_range() -> None:
    with pytest.raises(InvalidValueError, match="outside the supported range"):
        cst.timestamps(pendulum.datetime(999, 1, 1))
