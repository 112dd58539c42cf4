"""Records ↔ polars DataFrames: one row per record, typed columns, an optional exact snapshot.

:func:`to_frame` turns customers, orders, activities or survey answers into
a :class:`polars.DataFrame` with the columns segment rules read (see the
``*_SCHEMA`` constants) plus, by default, a ``document`` column holding the
full JSON snapshot written by :mod:`crmcore.serialization`;
:func:`from_frame` reads the snapshots back, exactly.

Custom fields are one ``custom`` column of compact JSON (keys sorted, no
spaces), the form the polars rule compiler reads. For pandas, convert
with polars' interop: ``to_frame(customers).to_pandas()`` and
``polars.from_pandas(df)``.

May import: ``crmcore.domain``, ``crmcore.serialization``, ``crmcore.errors``; polars.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import polars as pl

from crmcore.domain.activity import Activity
from crmcore.domain.custom import CustomFields
from crmcore.domain.customer import Customer
from crmcore.domain.order import Order
from crmcore.domain.survey import SurveyResponse
from crmcore.errors import InvalidValueError
from crmcore.serialization import dumps, loads

__all__ = [
    "ACTIVITY_SCHEMA",
    "CUSTOMER_SCHEMA",
    "ORDER_SCHEMA",
    "SURVEY_SCHEMA",
    "custom_json",
    "from_frame",
    "schema_of",
    "to_frame",
]

T = TypeVar("T", Customer, Order, Activity, SurveyResponse)

_UTC = pl.Datetime("us", "UTC")

CUSTOMER_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "kind": pl.String(),
    "display_name": pl.String(),
    "tier": pl.String(),
    "priority": pl.String(),
    "lifecycle_stage": pl.String(),
    "source": pl.String(),
    "owner": pl.String(),
    "team": pl.String(),
    "country": pl.String(),
    "merged_into": pl.String(),
    "created_at": _UTC,
    "updated_at": _UTC,
    "tags": pl.List(pl.String()),
    "custom": pl.String(),
}
"""The columns of a customers frame (before ``document``)."""

ORDER_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "amount": pl.Decimal(38, 6),
    "currency": pl.String(),
    "status": pl.String(),
    "ordered_at": _UTC,
}
"""The columns of an orders frame (before ``document``)."""

ACTIVITY_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "kind": pl.String(),
    "occurred_at": _UTC,
}
"""The columns of an activities frame (before ``document``)."""

SURVEY_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "nps": pl.Int64(),
    "csat": pl.Int64(),
    "ces": pl.Int64(),
    "responded_at": _UTC,
}
"""The columns of a survey answers frame (before ``document``)."""


def custom_json(fields: CustomFields) -> str:
    """Return custom field values as the compact JSON of the ``custom`` column.

    >>> custom_json(CustomFields({"region": "south", "budget": "1200.5"}))
    '{"budget":"1200.5","region":"south"}'
    """
    return json.dumps(
        {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=dt.UTC,
    )


def _customer_row(c: Customer) -> tuple[Any, ...]:
    return (
        c.id,
        c.kind.value,
        c.display_name,
        c.tier.value,
        c.priority.value,
        c.lifecycle_stage.value,
        c.source.value,
        c.owner,
        c.team,
        c.country.code if c.country is not None else None,
        c.merged_into,
        _instant(c.created_at),
        _instant(c.updated_at),
        sorted(t.name for t in c.tags),
        custom_json(c.custom),
    )


def _order_row(o: Order) -> tuple[Any, ...]:
    return (
        o.id,
        o.customer_id,
        o.amount.amount,
        o.amount.currency,
        o.status.value,
        _instant(o.ordered_at),
    )


def _activity_row(a: Activity) -> tuple[Any, ...]:
    return (a.id, a.customer_id, a.kind.value, _instant(a.occurred_at))


def _survey_row(s: SurveyResponse) -> tuple[Any, ...]:
    return (s.id, s.customer_id, s.nps, s.csat, s.ces, _instant(s.responded_at))


_KINDS: Mapping[type[Any], tuple[Mapping[str, pl.DataType], Callable[[Any], tuple[Any, ...]]]] = {
    Customer: (CUSTOMER_SCHEMA, _customer_row),
    Order: (ORDER_SCHEMA, _order_row),
    Activity: (ACTIVITY_SCHEMA, _activity_row),
    SurveyResponse: (SURVEY_SCHEMA, _survey_row),
}


def schema_of(record_type: type[Any]) -> Mapping[str, pl.DataType]:
    """Return the frame columns of ``record_type`` (without ``document``).

    Raises:
        InvalidValueError: If crmcore has no frame layout for the type.
    """
    if record_type not in _KINDS:
        raise InvalidValueError(
            "record type", getattr(record_type, "__name__", record_type), "no frame layout"
        )
    return _KINDS[record_type][0]


def to_frame(
    records: Iterable[T],
    *,
    record_type: type[T] | None = None,
    documents: bool = True,
) -> pl.DataFrame:
    """Return ``records`` as a DataFrame, one row each.

    Args:
        records: Customers, orders, activities or survey answers (one type).
        record_type: The type, required when ``records`` may be empty.
        documents: Add the ``document`` column (the exact JSON snapshot that
            :func:`from_frame` reads); skip it for speed when only rules run.

    Returns:
        The frame, columns as in the ``*_SCHEMA`` constants (+ ``document``).

    Raises:
        InvalidValueError: If the type is unknown, mixed or cannot be told.

    >>> from crmcore.domain import Money, Order
    >>> import pendulum
    >>> at = pendulum.datetime(2026, 3, 1)
    >>> o = Order(id="o1", customer_id="c1", amount=Money("99.90", "CNY"), ordered_at=at,
    ...           created_at=at, updated_at=at)
    >>> to_frame([o], documents=False).row(0)[:5]
    ('o1', 'c1', Decimal('99.900000'), 'CNY', 'paid')
    """
    items: Sequence[Any] = list(records)
    kind: type[Any] | None = record_type or (type(items[0]) if items else None)
    if kind is None:
        raise InvalidValueError("records", [], "give record_type for an empty sequence")
    schema = schema_of(kind)
    row = _KINDS[kind][1]
    if any(type(r) is not kind for r in items):
        raise InvalidValueError("records", kind.__name__, "all records must be of one type")
    frame = pl.DataFrame([row(r) for r in items], schema=dict(schema), orient="row")
    if documents:
        frame = frame.with_columns(pl.Series("document", [dumps(r) for r in items], pl.String()))
    return frame


def from_frame(frame: pl.DataFrame, record_type: type[T] = Customer) -> list[T]:  # type: ignore[assignment]  # the default is one of the TypeVar's types
    """Read the records of a frame written by :func:`to_frame` (from its ``document`` column).

    Raises:
        InvalidValueError: If the frame has no ``document`` column.
        PayloadError: If a document is not a valid ``record_type``.
    """
    schema_of(record_type)
    if "document" not in frame.columns:
        raise InvalidValueError(
            "frame", frame.columns, "no document column; write it with to_frame(documents=True)"
        )
    return [loads(text, record_type) for text in frame.get_column("document").to_list()]
