"""The result types every KPI returns: :class:`Period` and :class:`Kpi`.

A KPI result is frozen and says everything a reader needs to trust it: a
one-sentence definition, the period (half-open ``[start, end)`` in UTC) or
the instant it was measured at, the scale or unit, the value, the counts
behind it (numerator and denominator) and, for tabular KPIs (cohort
matrices, counts over time, funnels, per-owner breakdowns), a polars
DataFrame. A KPI over an empty denominator is *undefined*: its ``value``
is ``None``, never a ``ZeroDivisionError`` or a NaN.

May import: ``crmcore.clock``, ``crmcore.errors``; attrs, pendulum, polars.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

import attrs
import pendulum
import polars as pl

from crmcore.clock import utc
from crmcore.errors import InvalidValueError

__all__ = [
    "BUCKETS",
    "COUNT",
    "DAYS",
    "HOURS",
    "MONEY",
    "MONEY_PER_DAY",
    "NPS_POINTS",
    "RATIO",
    "Kpi",
    "Period",
    "per_period",
]

RATIO: Final = "ratio 0–1"
"""Scale of a share or rate: 0 (none) to 1 (all)."""
COUNT: Final = "count"
"""Scale of a head count."""
DAYS: Final = "days"
"""Wall-clock days (86,400 s)."""
HOURS: Final = "hours"
"""Hours of the calendar given (business hours, or wall-clock hours for 24×7)."""
NPS_POINTS: Final = "percentage points −100..100"
"""Scale of the net promoter score."""
MONEY: Final = "money"
"""An amount of money in the result's ``currency`` (a Decimal, never a float)."""
MONEY_PER_DAY: Final = "money per day"
"""An amount of money per wall-clock day."""

BUCKETS: Final[dict[str, str]] = {
    "day": "1d",
    "week": "1w",
    "month": "1mo",
    "quarter": "1q",
    "year": "1y",
}
"""The bucket sizes of KPIs over time (``every=``), as polars durations."""


def _end_after_start(
    instance: Period, _attribute: attrs.Attribute[pendulum.DateTime], _value: pendulum.DateTime
) -> None:
    if instance.end <= instance.start:
        raise InvalidValueError(
            "period", f"{instance.start.isoformat()}..{instance.end.isoformat()}", "end <= start"
        )


@attrs.frozen
class Period:
    """A half-open span of time ``[start, end)`` in UTC.

    An event at ``start`` is inside the period, one at ``end`` is in the next.

    >>> p = Period.month(2026, 3)
    >>> str(p)
    '2026-03-01T00:00:00+00:00..2026-04-01T00:00:00+00:00'
    >>> p.contains(pendulum.datetime(2026, 4, 1))
    False
    >>> [str(b.start.date()) for b in Period.year(2026).buckets("quarter")]
    ['2026-01-01', '2026-04-01', '2026-07-01', '2026-10-01']

    Raises:
        InvalidValueError: If ``end`` is not after ``start`` or a bound is naive.
    """

    start: pendulum.DateTime = attrs.field(converter=utc)
    end: pendulum.DateTime = attrs.field(converter=utc, validator=_end_after_start)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """Return the calendar month ``year-month`` (UTC)."""
        start = pendulum.datetime(year, month, 1)
        return cls(start, start.add(months=1))

    @classmethod
    def year(cls, year: int) -> Period:
        """Return the calendar year (UTC)."""
        start = pendulum.datetime(year, 1, 1)
        return cls(start, start.add(years=1))

    @classmethod
    def days_before(cls, at: pendulum.DateTime, days: int) -> Period:
        """Return the ``days`` days up to ``at`` (``[at - days, at)``)."""
        end = utc(at)
        return cls(end.subtract(days=days), end)

    def contains(self, at: dt.datetime) -> bool:
        """Return whether the instant ``at`` lies in ``[start, end)``."""
        return self.start <= utc(at) < self.end

    def buckets(self, every: str = "month") -> tuple[Period, ...]:
        """Split the period into consecutive buckets of ``every`` (see :data:`BUCKETS`).

        Buckets start at ``start`` and step by the calendar size; the last one is
        cut at ``end``.

        Raises:
            InvalidValueError: If ``every`` is not a key of :data:`BUCKETS`.
        """
        step = _every(every)
        starts = pl.datetime_range(
            self.start.naive(), self.end.naive(), step, closed="left", eager=True
        ).to_list()
        edges = [pendulum.instance(s, tz="UTC") for s in starts] + [self.end]
        return tuple(Period(a, min(b, self.end)) for a, b in itertools.pairwise(edges))

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def _every(every: str) -> str:
    if every not in BUCKETS:
        raise InvalidValueError("every", every, f"one of {', '.join(BUCKETS)}")
    return BUCKETS[every]


Number = int | float | Decimal


@attrs.frozen(kw_only=True)
class Kpi:
    """One KPI result: what it means, when, on what scale, its value and the counts behind it.

    Attributes:
        name: A short name (``"churn rate"``).
        definition: One sentence saying exactly what was computed.
        unit: The scale or unit (:data:`RATIO`, :data:`HOURS`, :data:`MONEY` ...).
        value: The headline value, or ``None`` when it is undefined (an empty
            denominator, or money in several currencies: see ``table``).
        numerator: The count or sum above the line, when the KPI is a ratio or mean.
        denominator: The count below the line (``0`` makes ``value`` ``None``).
        period: The half-open period measured, for KPIs over a period.
        at: The instant measured at, for point-in-time KPIs.
        currency: The ISO 4217 currency of a money ``value``.
        interval: A confidence interval ``(low, high)`` on ``unit``'s scale, when stated.
        method: How the interval or estimate was computed, when there is a choice.
        table: The tabular result (per group, per bucket, per stage), or ``None``.

    >>> k = Kpi(name="win rate", definition="won ÷ closed", unit=RATIO, value=0.5,
    ...         numerator=1, denominator=2)
    >>> str(k)
    'win rate: 0.5 (ratio 0–1; 1 / 2)'
    >>> Kpi(name="win rate", definition="won ÷ closed", unit=RATIO, value=None,
    ...     numerator=0, denominator=0).defined
    False
    """

    name: str
    definition: str
    unit: str
    value: Number | None
    numerator: Number | None = None
    denominator: Number | None = None
    period: Period | None = None
    at: pendulum.DateTime | None = None
    currency: str | None = None
    interval: tuple[float, float] | None = None
    method: str = ""
    table: pl.DataFrame | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def defined(self) -> bool:
        """Whether the KPI has a value (its denominator was not empty)."""
        return self.value is not None

    def __str__(self) -> str:
        value = "undefined" if self.value is None else f"{self.value}"
        if self.currency is not None and self.value is not None:
            value = f"{value} {self.currency}"
        counts = ""
        if self.numerator is not None and self.denominator is not None:
            counts = f"; {self.numerator} / {self.denominator}"
        return f"{self.name}: {value} ({self.unit}{counts})"


def per_period(
    kpi: Callable[..., Kpi], *args: Any, period: Period, every: str = "month", **kwargs: Any
) -> pl.DataFrame:
    """Run a KPI over each bucket of ``period`` and return its headline figures as a frame.

    ``kpi`` is any KPI function taking ``period=``; ``args`` and ``kwargs`` are
    passed on (``by=`` too, but only the headline values are kept: run the KPI on
    one bucket to see its table).

    Returns:
        One row per bucket: ``bucket_start, bucket_end, value, numerator,
        denominator`` (``value`` null where the KPI is undefined). Values and
        numerators are Float64, or Decimal for money; denominators are counts.

    Raises:
        InvalidValueError: If ``every`` is not a bucket size.

    >>> import polars as pl
    >>> from crmcore.analytics.service import customer_satisfaction
    >>> answers = pl.DataFrame({"csat": [5, 2, 4, 4],
    ...     "responded_at": [pendulum.datetime(2026, m, 9) for m in (1, 1, 2, 2)]},
    ...     schema_overrides={"responded_at": pl.Datetime("us", "UTC")})
    >>> q1 = Period(pendulum.datetime(2026, 1, 1), pendulum.datetime(2026, 4, 1))
    >>> per_period(customer_satisfaction, answers, period=q1).select("value", "denominator").rows()
    [(0.5, 2), (1.0, 2), (None, 0)]
    """
    buckets = period.buckets(every)
    results = [kpi(*args, period=bucket, **kwargs) for bucket in buckets]
    figures = [r.value for r in results] + [r.numerator for r in results]
    money = any(isinstance(v, Decimal) for v in figures)
    dtype: pl.DataType = pl.Decimal(38, 6) if money else pl.Float64()
    counted = all(isinstance(r.denominator, int | None) for r in results)

    def column(values: list[Number | None]) -> list[Any]:
        if money:
            return [None if v is None else Decimal(str(v)) for v in values]
        return [None if v is None else float(v) for v in values]

    return pl.DataFrame(
        {
            "bucket_start": [b.start for b in buckets],
            "bucket_end": [b.end for b in buckets],
            "value": column([r.value for r in results]),
            "numerator": column([r.numerator for r in results]),
            "denominator": [r.denominator for r in results],
        },
        schema={
            "bucket_start": pl.Datetime("us", "UTC"),
            "bucket_end": pl.Datetime("us", "UTC"),
            "value": dtype,
            "numerator": dtype,
            "denominator": pl.Int64() if counted else pl.Float64(),
        },
    )
