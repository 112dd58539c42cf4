"""The per-customer purchase summary the CLV models are fitted on.

:func:`clv_summary` turns an orders frame (the frame contract of
:mod:`crmcore.adapters.frames`: ``customer_id, amount, currency, status,
ordered_at``) into one row per customer, the columns Fader and Hardie (and
lifetimes) use:

- ``frequency`` — repeat purchases: the number of *days* with a purchase,
  minus one (several orders on one day are one purchase);
- ``recency`` — time from the first to the last purchase day;
- ``T`` — time from the first purchase day to the end of the observation;
- ``monetary_value`` — the mean value of the repeat purchase days (the first
  day is left out, as the Gamma-Gamma model expects), 0 without repeats.

Only orders that count as purchases (status ``paid``, see
:class:`crmcore.domain.order.OrderStatus`) are read; refunded and cancelled
orders are left out. Time is measured in whole calendar days of the time
zone ``tz`` and expressed in weeks (``time_unit="W"``: days / 7, as in Fader
and Hardie's CDNOW analyses) or days (``"D"``). Unlike lifetimes'
``freq="W"``, weeks are not calendar buckets: two purchases six days apart
are two purchases.

:func:`calibration_and_holdout` splits the observation at a date into a
calibration summary and the purchases of the same customers in the holdout
period, for :func:`crmcore.analytics.clv.evaluate_holdout`.

Money is summed exactly (the Decimal's integer representation) and the mean
is returned as a float, which is what the models take. One summary is in one
currency: mixed currencies are an error unless ``currency=`` picks one.

May import: ``crmcore.domain``, ``crmcore.errors``; polars.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Final, Literal

import polars as pl

from crmcore.domain.order import OrderStatus
from crmcore.errors import InvalidValueError

__all__ = ["SUMMARY_SCHEMA", "TimeUnit", "calibration_and_holdout", "clv_summary"]

TimeUnit = Literal["W", "D"]
"""The unit of ``recency`` and ``T``: weeks (days / 7) or days."""

SUMMARY_SCHEMA: Final[dict[str, pl.DataType]] = {
    "customer_id": pl.String(),
    "frequency": pl.Int64(),
    "recency": pl.Float64(),
    "T": pl.Float64(),
    "monetary_value": pl.Float64(),
}
"""The columns of :func:`clv_summary`'s frame."""

_DAYS: Final = {"W": 7.0, "D": 1.0}
_REQUIRED: Final = ("customer_id", "amount", "currency", "status", "ordered_at")
_PAID: Final = OrderStatus.PAID.value


def _check_date(name: str, value: object) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidValueError(
            name, value, "must be a datetime.date (the last day observed, inclusive)"
        )
    return value


def _check_unit(time_unit: str) -> float:
    if time_unit not in _DAYS:
        raise InvalidValueError("time_unit", time_unit, "must be 'W' (weeks) or 'D' (days)")
    return _DAYS[time_unit]


def _check_tz(tz: str) -> None:
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidValueError("tz", tz, "not a known IANA time zone") from None


def _first_row(orders: pl.LazyFrame, condition: pl.Expr, column: str) -> tuple[int, object]:
    """Return the index and value of ``column`` in the first row matching ``condition``."""
    row = (
        orders.with_row_index("__row")
        .filter(condition)
        .select("__row", column)
        .head(1)
        .collect()
        .row(0)
    )
    return int(row[0]), row[1]


def _scale(amount: pl.DataType) -> int | None:
    """Return the Decimal scale of ``amount``, None for a float or integer column."""
    if isinstance(amount, pl.Decimal):
        return int(amount.scale)
    if amount.is_numeric():
        return None
    raise InvalidValueError("amount", str(amount), "must be a Decimal (or numeric) column")


def _purchases(
    orders: pl.DataFrame | pl.LazyFrame,
    *,
    last_day: dt.date,
    currency: str | None,
    tz: str,
) -> tuple[pl.LazyFrame, int | None]:
    """Check ``orders`` and return its purchases up to ``last_day`` as (customer, day, amount).

    ``amount`` is exact: the Decimal's integer representation (divide by
    10**scale, the second value returned), or a float for a float column.
    """
    lazy = orders.lazy()
    schema = lazy.collect_schema()
    missing = [c for c in _REQUIRED if c not in schema]
    if missing:
        raise InvalidValueError("orders", sorted(schema), f"missing column(s) {', '.join(missing)}")
    stamp = schema["ordered_at"]
    if not isinstance(stamp, pl.Datetime) or stamp.time_zone is None:
        raise InvalidValueError(
            "ordered_at",
            str(stamp),
            "must be an aware Datetime column (e.g. Datetime('us', 'UTC'))",
        )
    scale = _scale(schema["amount"])
    if currency is not None and (not isinstance(currency, str) or not currency):
        raise InvalidValueError("currency", currency, "must be a currency code such as 'CNY'")
    _check_tz(tz)
    local = pl.col("ordered_at")
    if tz != stamp.time_zone:
        local = local.dt.convert_time_zone(tz)
    day = local.dt.date()
    paid = pl.col("status") == _PAID
    in_window = paid & (day <= last_day)
    counted = in_window if currency is None else in_window & (pl.col("currency") == currency)
    amount_value = pl.col("amount").to_physical() if scale is not None else pl.col("amount")
    checks = lazy.select(
        null_status=pl.col("status").null_count(),
        null_customer=pl.col("customer_id").filter(paid).null_count(),
        null_at=pl.col("ordered_at").filter(paid).null_count(),
        null_amount=pl.col("amount").filter(counted).null_count(),
        negative=(amount_value.filter(counted) < 0).sum(),
        low_currency=pl.col("currency").filter(in_window).min(),
        high_currency=pl.col("currency").filter(in_window).max(),
        null_currency=pl.col("currency").filter(in_window).null_count(),
    ).collect(engine="streaming")
    found = checks.row(0, named=True)
    problems = [
        ("null_status", pl.col("status").is_null(), "status", "must not be null"),
        (
            "null_customer",
            paid & pl.col("customer_id").is_null(),
            "customer_id",
            "must not be null",
        ),
        ("null_at", paid & pl.col("ordered_at").is_null(), "ordered_at", "must not be null"),
        ("null_amount", counted & pl.col("amount").is_null(), "amount", "must not be null"),
        ("negative", counted & (amount_value < 0), "amount", "must not be negative"),
        (
            "null_currency",
            in_window & pl.col("currency").is_null(),
            "currency",
            "must not be null",
        ),
    ]
    for key, condition, column, reason in problems:
        if found[key]:
            index, value = _first_row(lazy, condition, column)
            more = f" ({found[key] - 1:,} more)" if found[key] > 1 else ""
            raise InvalidValueError(f"orders[{index}].{column}", value, reason + more)
    if currency is None and found["low_currency"] != found["high_currency"]:
        currencies = (lazy.filter(in_window).select(pl.col("currency").unique().sort()).collect())[
            "currency"
        ].to_list()
        raise InvalidValueError(
            "currency",
            currencies,
            "orders are in several currencies; pass currency= to summarise one of them",
        )
    # Customers are grouped by a categorical key (four bytes a row, not the text): the
    # group-bys below hold about a quarter less memory on ten million orders.
    purchases = lazy.filter(counted).select(
        pl.col("customer_id").cast(pl.Categorical), day.alias("day"), amount_value.alias("amount")
    )
    return purchases, scale


def _money(total: pl.Expr, scale: int | None) -> pl.Expr:
    value = total.cast(pl.Float64)
    return value / 10.0**scale if scale else value


def _summarise(
    purchases: pl.LazyFrame, *, last_day: dt.date, unit_days: float, scale: int | None
) -> pl.LazyFrame:
    """Return the summary of (customer, day, amount) rows, one row per customer."""
    # The purchase days are the distinct order days. The first day's amount comes from a
    # second pass that joins each order with its customer's first day: summing it inside
    # the group-by (a filter per group) holds every group's orders and doubled the memory.
    per_customer = (
        purchases.group_by("customer_id")
        .agg(
            first=pl.col("day").min(),
            last=pl.col("day").max(),
            days=pl.col("day").n_unique(),
            total=pl.col("amount").sum(),
        )
        .collect(engine="streaming")  # one row per customer: small, and read twice below
        .lazy()
    )
    first_amounts = (
        purchases.join(per_customer.select("customer_id", "first"), on="customer_id")
        .filter(pl.col("day") == pl.col("first"))
        .group_by("customer_id")
        .agg(first_amount=pl.col("amount").sum())
    )
    per_customer = per_customer.join(first_amounts, on="customer_id", how="left")
    frequency = pl.col("days").cast(pl.Int64) - 1
    repeat_total = _money(pl.col("total") - pl.col("first_amount"), scale)
    return per_customer.select(
        pl.col("customer_id").cast(pl.String),
        frequency.alias("frequency"),
        ((pl.col("last") - pl.col("first")).dt.total_days() / unit_days).alias("recency"),
        ((pl.lit(last_day) - pl.col("first")).dt.total_days() / unit_days).alias("T"),
        pl.when(frequency > 0)
        .then(repeat_total / frequency)
        .otherwise(0.0)
        .alias("monetary_value"),
    ).sort("customer_id")


def clv_summary(
    orders: pl.DataFrame | pl.LazyFrame,
    *,
    observation_end: dt.date,
    calibration_end: dt.date | None = None,
    time_unit: TimeUnit = "W",
    currency: str | None = None,
    tz: str = "UTC",
) -> pl.DataFrame:
    """Summarise orders per customer: ``frequency, recency, T, monetary_value``.

    Args:
        orders: An orders frame (``customer_id, amount, currency, status, ordered_at``).
        observation_end: The last day observed (inclusive); later orders are ignored.
        calibration_end: When given, return :func:`calibration_and_holdout` instead
            (calibration up to this day, holdout up to ``observation_end``).
        time_unit: ``"W"`` (weeks, days / 7) or ``"D"`` (days).
        currency: Summarise only the orders in this currency; None (the default)
            requires every counted order to be in one currency.
        tz: The time zone whose calendar days purchases are counted in.

    Returns:
        One row per customer with a purchase up to ``observation_end``, sorted by
        ``customer_id``, with the columns of :data:`SUMMARY_SCHEMA`.

    Raises:
        InvalidValueError: If a column is missing or has the wrong type, a counted
            order has a null or negative value (naming the row), the orders are in
            several currencies and ``currency`` is None, or an argument is invalid.

    >>> import datetime as dt
    >>> from decimal import Decimal
    >>> orders = pl.DataFrame({
    ...     "customer_id": ["c1", "c1", "c1", "c1", "c2"],
    ...     "amount": [Decimal("10"), Decimal("5"), Decimal("7"), Decimal("8"), Decimal("3")],
    ...     "currency": ["CNY"] * 5,
    ...     "status": ["paid", "paid", "paid", "refunded", "paid"],
    ...     "ordered_at": [dt.datetime(2026, 1, d, 9, tzinfo=dt.UTC) for d in (1, 8, 8, 9, 15)],
    ... }, schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> clv_summary(orders, observation_end=dt.date(2026, 1, 29)).rows()
    [('c1', 1, 1.0, 4.0, 12.0), ('c2', 0, 0.0, 2.0, 0.0)]
    """
    if calibration_end is not None:
        return calibration_and_holdout(
            orders,
            calibration_end=calibration_end,
            observation_end=observation_end,
            time_unit=time_unit,
            currency=currency,
            tz=tz,
        )
    last_day = _check_date("observation_end", observation_end)
    unit_days = _check_unit(time_unit)
    purchases, scale = _purchases(orders, last_day=last_day, currency=currency, tz=tz)
    return _summarise(purchases, last_day=last_day, unit_days=unit_days, scale=scale).collect(
        engine="streaming"
    )


def calibration_and_holdout(
    orders: pl.DataFrame | pl.LazyFrame,
    *,
    calibration_end: dt.date,
    observation_end: dt.date,
    time_unit: TimeUnit = "W",
    currency: str | None = None,
    tz: str = "UTC",
) -> pl.DataFrame:
    """Split the observation into a calibration summary and the holdout purchases.

    The customers are those with a purchase up to ``calibration_end``; their
    calibration summary is :func:`clv_summary` up to that day, and their
    holdout is what they bought in the days after it, up to ``observation_end``.

    Args:
        orders: An orders frame (``customer_id, amount, currency, status, ordered_at``).
        calibration_end: The last day of the calibration period (inclusive).
        observation_end: The last day of the holdout period (inclusive).
        time_unit: ``"W"`` (weeks, days / 7) or ``"D"`` (days).
        currency: Summarise only the orders in this currency; None (the default)
            requires every counted order to be in one currency.
        tz: The time zone whose calendar days purchases are counted in.

    Returns:
        One row per calibration customer, sorted by ``customer_id``:
        ``customer_id, frequency_cal, recency_cal, T_cal, monetary_value_cal,
        frequency_holdout`` (purchase days in the holdout), ``monetary_value_holdout``
        (their mean value, 0 without any) and ``duration_holdout``.

    Raises:
        InvalidValueError: As :func:`clv_summary`, or if ``observation_end`` is not
            after ``calibration_end``.

    >>> import datetime as dt
    >>> from decimal import Decimal
    >>> orders = pl.DataFrame({
    ...     "customer_id": ["c1", "c1", "c1", "c2"],
    ...     "amount": [Decimal("10"), Decimal("5"), Decimal("7"), Decimal("3")],
    ...     "currency": ["CNY"] * 4,
    ...     "status": ["paid"] * 4,
    ...     "ordered_at": [dt.datetime(2026, 1, d, tzinfo=dt.UTC) for d in (1, 8, 20, 25)],
    ... }, schema_overrides={"amount": pl.Decimal(38, 6)})
    >>> split = calibration_and_holdout(
    ...     orders, calibration_end=dt.date(2026, 1, 15), observation_end=dt.date(2026, 1, 29))
    >>> split.select("customer_id", "frequency_cal", "frequency_holdout", "duration_holdout").rows()
    [('c1', 1, 1, 2.0)]
    """
    cal_day = _check_date("calibration_end", calibration_end)
    end_day = _check_date("observation_end", observation_end)
    unit_days = _check_unit(time_unit)
    if end_day <= cal_day:
        raise InvalidValueError(
            "observation_end", end_day, f"must be after calibration_end ({cal_day})"
        )
    purchases, scale = _purchases(orders, last_day=end_day, currency=currency, tz=tz)
    calibration = _summarise(
        purchases.filter(pl.col("day") <= cal_day),
        last_day=cal_day,
        unit_days=unit_days,
        scale=scale,
    )
    holdout = (
        purchases.filter(pl.col("day") > cal_day)
        .group_by("customer_id", "day")
        .agg(pl.col("amount").sum())
        .group_by("customer_id")
        .agg(frequency_holdout=pl.len().cast(pl.Int64), total=pl.col("amount").sum())
        .with_columns(pl.col("customer_id").cast(pl.String))
    )
    joined = calibration.join(holdout, on="customer_id", how="left")
    held = pl.col("frequency_holdout").fill_null(0)
    return (
        joined.select(
            pl.col("customer_id"),
            pl.col("frequency").alias("frequency_cal"),
            pl.col("recency").alias("recency_cal"),
            pl.col("T").alias("T_cal"),
            pl.col("monetary_value").alias("monetary_value_cal"),
            held.alias("frequency_holdout"),
            pl.when(held > 0)
            .then(_money(pl.col("total"), scale) / held)
            .otherwise(0.0)
            .alias("monetary_value_holdout"),
            pl.lit((end_day - cal_day).days / unit_days).alias("duration_holdout"),
        )
        .sort("customer_id")
        .collect()
    )
