"""Checking input frames against the frame contract, and small shared polars helpers.

Private to :mod:`crmcore.analytics`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final, Literal

import pendulum
import polars as pl

from crmcore.clock import utc
from crmcore.errors import InvalidValueError, PayloadError, Problem

Kind = Literal["string", "datetime", "decimal", "int", "date", "list", "any"]

_EXPECTED: Final[dict[Kind, str]] = {
    "string": "String",
    "datetime": 'Datetime(time_zone="UTC")',
    "decimal": "Decimal",
    "int": "an integer type",
    "date": "Date",
    "list": "List",
    "any": "any type",
}


_DTYPES: Final[dict[Kind, pl.DataType]] = {
    "string": pl.String(),
    "datetime": pl.Datetime("us", "UTC"),
    "decimal": pl.Decimal(38, 6),
    "int": pl.Int64(),
    "date": pl.Date(),
    "list": pl.List(pl.String()),
}
"""The contract's dtype of each kind: an all-null column (dtype ``Null``) is cast to it."""


def _matches(dtype: pl.DataType, kind: Kind) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return dtype in (pl.String, pl.Null)
    if kind == "datetime":
        return (isinstance(dtype, pl.Datetime) and dtype.time_zone == "UTC") or dtype == pl.Null
    if kind == "decimal":
        return isinstance(dtype, pl.Decimal) or dtype == pl.Null
    if kind == "int":
        return dtype.is_integer() or dtype == pl.Null
    if kind == "date":
        return dtype in (pl.Date, pl.Null)
    return isinstance(dtype, pl.List) or dtype == pl.Null


def require(frame: object, name: str, columns: Mapping[str, Kind]) -> pl.DataFrame:
    """Return ``frame`` if it has every column of ``columns`` with the right dtype.

    A column that is all null without a dtype (``pl.Null``, as polars infers for
    ``[None, None]``) is accepted and cast to the contract's dtype.

    Raises:
        PayloadError: Naming the frame and every missing or mistyped column.
    """
    if not isinstance(frame, pl.DataFrame):
        raise PayloadError(
            f"{name} frame", [Problem("$", f"expected a polars DataFrame, got {type(frame)!r}")]
        )
    problems: list[Problem] = []
    schema = frame.schema
    for column, kind in columns.items():
        if column not in schema:
            problems.append(Problem(f"$.{column}", "missing column"))
        elif not _matches(schema[column], kind):
            problems.append(
                Problem(f"$.{column}", f"expected {_EXPECTED[kind]}, got {schema[column]}")
            )
    if problems:
        raise PayloadError(f"{name} frame", problems)
    untyped = [c for c, kind in columns.items() if kind != "any" and schema[c] == pl.Null]
    if untyped:
        frame = frame.with_columns(pl.col(c).cast(_DTYPES[columns[c]]) for c in untyped)
    return frame


def instant(value: dt.datetime, field: str = "at") -> dt.datetime:
    """Return an aware UTC stdlib datetime (what polars compares best with).

    Raises:
        InvalidValueError: If ``value`` is naive or not a datetime.
    """
    if not isinstance(value, dt.datetime):
        raise InvalidValueError(field, value, "expected an aware datetime")
    moment = utc(value)
    return dt.datetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        tzinfo=dt.UTC,
    )


def pendulum_instant(value: dt.datetime) -> pendulum.DateTime:
    """Return a UTC pendulum instant from an aware stdlib datetime."""
    return utc(value)


def group_columns(by: str | Sequence[str] | None, frame: pl.DataFrame, name: str) -> list[str]:
    """Return ``by`` as a list of columns of ``frame``.

    Raises:
        PayloadError: If a column is not in the frame.
    """
    if by is None:
        return []
    columns = [by] if isinstance(by, str) else list(by)
    missing = [Problem(f"$.{c}", "missing column (named in by=)") for c in columns]
    missing = [p for c, p in zip(columns, missing, strict=True) if c not in frame.schema]
    if missing:
        raise PayloadError(f"{name} frame", missing)
    return columns


def ratio(numerator: float | int, denominator: float | int) -> float | None:
    """Return ``numerator / denominator``, or ``None`` when the denominator is zero."""
    if denominator == 0:
        return None
    return float(numerator) / float(denominator)


def ratio_expr(numerator: str, denominator: str) -> pl.Expr:
    """Return ``numerator / denominator`` as Float64, null where the denominator is zero."""
    return (
        pl.when(pl.col(denominator) > 0)
        .then(pl.col(numerator).cast(pl.Float64) / pl.col(denominator).cast(pl.Float64))
        .otherwise(None)
    )


def decimal(value: object) -> Decimal:
    """Return a polars Decimal cell as a Decimal (``0`` for a null)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def check_range(frame: pl.DataFrame, name: str, column: str, low: int, high: int) -> None:
    """Raise if any non-null value of ``column`` lies outside ``[low, high]``.

    Raises:
        PayloadError: Naming the frame, the column and the first bad rows.
    """
    bad = frame.with_row_index("_row").filter(
        pl.col(column).is_not_null() & ~pl.col(column).is_between(low, high)
    )
    if bad.height:
        raise PayloadError(
            f"{name} frame",
            [
                Problem(f"$[{row}].{column}", f"{value} is outside {low}..{high}")
                for row, value in bad.select("_row", column).head(50).iter_rows()
            ],
        )
