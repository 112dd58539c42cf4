"""Business time between many pairs of instants at once, from a business calendar.

The calendar's working intervals over the span of the data are listed once
(a few hundred per year); the working time up to any instant ``t`` is then
``F(t)`` = the working time of the intervals before ``t`` plus the part of
the interval ``t`` falls in, found with a binary search. The business time
from ``a`` to ``b`` is ``F(b) - F(a)``: the same answer as
:meth:`~crmcore.lifecycle.business_calendar.BusinessCalendar.business_time_between`,
for a whole column at once. Waiting periods are subtracted the same way.

Private to :mod:`crmcore.analytics`.
"""

from __future__ import annotations

import functools
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pendulum
import polars as pl

from crmcore.lifecycle.business_calendar import BusinessCalendar

Micros: TypeAlias = npt.NDArray[np.int64]

_US = 1_000_000


def _micros(moment: pendulum.DateTime) -> int:
    return int(moment.timestamp()) * _US + moment.microsecond


_DAY_US = 86_400 * _US


def _working_up_to(
    calendar: BusinessCalendar, low: int, high: int
) -> tuple[Micros, Micros, Micros]:
    """Return the working intervals' begins, lengths and the working time before each.

    The span is widened to whole UTC days (a day of margin each side) so that calls over
    similar data share one cached table.
    """
    first_day = low // _DAY_US - 1
    last_day = high // _DAY_US + 1
    return _working_days(calendar, first_day, last_day)


@functools.lru_cache(maxsize=64)
def _working_days(
    calendar: BusinessCalendar, first_day: int, last_day: int
) -> tuple[Micros, Micros, Micros]:
    origin = pendulum.from_timestamp(first_day * 86_400, tz="UTC")
    high = (last_day + 1) * _DAY_US
    begins: list[int] = []
    lengths: list[int] = []
    for begin, end in calendar.intervals(origin):
        first = _micros(begin)
        if first > high:
            break
        begins.append(first)
        lengths.append(_micros(end) - first)
    starts = np.asarray(begins, dtype=np.int64)
    spans = np.asarray(lengths, dtype=np.int64)
    before = np.concatenate(([0], np.cumsum(spans)[:-1])).astype(np.int64)
    for array in (starts, spans, before):
        array.flags.writeable = False
    return starts, spans, before


def business_micros(starts: Micros, ends: Micros, calendar: BusinessCalendar | None) -> Micros:
    """Return the business time from each start to its end, in microseconds (0 if not later).

    ``calendar=None`` means 24×7: plain elapsed time.
    """
    if calendar is None or starts.size == 0:
        elapsed: Micros = np.maximum(ends - starts, 0).astype(np.int64)
        return elapsed
    low = int(min(starts.min(), ends.min()))
    high = int(max(starts.max(), ends.max()))
    begins, spans, before = _working_up_to(calendar, low, high)
    if begins.size == 0:
        return np.zeros(starts.size, dtype=np.int64)

    def worked(t: Micros) -> Micros:
        index = np.searchsorted(begins, t, side="right") - 1
        safe = np.maximum(index, 0)
        inside = np.clip(t - begins[safe], 0, spans[safe])
        done: Micros = np.where(index < 0, 0, before[safe] + inside).astype(np.int64)
        return done

    result: Micros = np.maximum(worked(ends) - worked(starts), 0).astype(np.int64)
    return result


def ends_working_time(moments: Micros, calendar: BusinessCalendar | None) -> npt.NDArray[np.bool_]:
    """Return whether working time runs right up to each instant (``begin < t <= end``).

    A deadline is the first instant at which a budget of business time is used up, so it
    always ends working time; an instant after it that used no more working time (a
    weekend, a night) does not.
    """
    if calendar is None or moments.size == 0:
        return np.ones(moments.size, dtype=np.bool_)
    low, high = int(moments.min()), int(moments.max())
    begins, spans, _ = _working_up_to(calendar, low - 8 * _DAY_US, high)
    index = np.searchsorted(begins, moments, side="left") - 1
    safe = np.maximum(index, 0)
    inside: npt.NDArray[np.bool_] = (index >= 0) & (moments <= begins[safe] + spans[safe])
    return inside


def business_micros_of(
    frame: pl.DataFrame,
    *,
    key: str,
    start: str,
    end: str,
    calendar: BusinessCalendar | None,
    pauses: pl.DataFrame | None = None,
) -> Micros:
    """Return the business time from ``start`` to ``end`` of each row, waiting periods excluded.

    Args:
        frame: Rows with a unique ``key`` and non-null ``start``/``end`` datetimes (UTC).
        key: The column that links a row to its pauses.
        start: The start column.
        end: The end column.
        calendar: The calendar (``None``: 24×7).
        pauses: Rows ``(key, pause_start, pause_end)``: periods that do not count.

    Returns:
        Microseconds, aligned with ``frame``.
    """
    s = frame[start].dt.epoch("us").to_numpy().astype(np.int64)
    e = frame[end].dt.epoch("us").to_numpy().astype(np.int64)
    total = business_micros(s, e, calendar)
    if pauses is None or not pauses.height:
        return total
    clipped = (
        frame.select(key, start, end)
        .with_row_index("_row")
        .join(pauses, on=key, how="inner")
        .with_columns(
            pl.max_horizontal(pl.col("pause_start"), pl.col(start)).alias("_ps"),
            pl.min_horizontal(pl.col("pause_end"), pl.col(end)).alias("_pe"),
        )
        .filter(pl.col("_pe") > pl.col("_ps"))
    )
    if not clipped.height:
        return total
    lost = business_micros(
        clipped["_ps"].dt.epoch("us").to_numpy().astype(np.int64),
        clipped["_pe"].dt.epoch("us").to_numpy().astype(np.int64),
        calendar,
    )
    per_row = (
        pl.DataFrame({"_row": clipped["_row"], "_lost": lost})
        .group_by("_row")
        .agg(pl.col("_lost").sum())
    )
    out = total.copy()
    out[per_row["_row"].to_numpy()] -= per_row["_lost"].to_numpy()
    result: Micros = np.maximum(out, 0).astype(np.int64)
    return result


def business_hours(
    frame: pl.DataFrame,
    *,
    key: str,
    start: str,
    end: str,
    calendar: BusinessCalendar | None,
    pauses: pl.DataFrame | None = None,
) -> pl.Series:
    """Return :func:`business_micros_of` in hours, as a Float64 series."""
    micros = business_micros_of(
        frame, key=key, start=start, end=end, calendar=calendar, pauses=pauses
    )
    return pl.Series(micros / 3_600_000_000, dtype=pl.Float64)
