"""Records ↔ polars DataFrames: one row per record, typed columns, an optional exact snapshot.

:func:`to_frame` turns any aggregate — customers, leads, opportunities,
activities, cases, orders, survey answers, consents — into a
:class:`polars.DataFrame` with flat, typed columns (see the ``*_SCHEMA``
constants) plus, by default, a ``document`` column holding the full JSON
snapshot written by :mod:`crmcore.serialization`; :func:`from_frame` reads
the snapshots back, exactly. :func:`events_frame` and
:func:`stage_changes_frame` turn domain events (the event history) into
frames.

Conventions, the same in every frame: instants are ``Datetime("us", "UTC")``,
dates ``Date``, money ``Decimal(38, 6)`` beside a ``currency`` column, ids and
enums ``String`` (the enum's value), integers ``Int64``. Optional values are
null when absent, and so is optional free text left empty (a customer's
``company`` or ``city``, a lead's ``company``, an opportunity's
``lost_reason``, an activity's ``outcome``, a case's ``category``, a
consent's ``source``, a stage change's ``reason``).

Custom fields are one ``custom`` column of compact JSON (keys sorted, no
spaces), the form the polars rule compiler reads; given a
:class:`~crmcore.domain.CustomFieldSchema`, each field also gets a typed
column ``custom_<name>`` (:func:`custom_columns`). For pandas:
``to_frame(customers).to_pandas()`` (the ``frames`` extra installs pandas
and pyarrow) and ``polars.from_pandas(df)``.

May import: ``crmcore.domain``, ``crmcore.ports``, ``crmcore.serialization``,
``crmcore.errors``; polars.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import polars as pl

from crmcore.domain.activity import Activity
from crmcore.domain.case import Case
from crmcore.domain.consent import Consent
from crmcore.domain.custom import CustomFields, CustomFieldSchema, FieldType
from crmcore.domain.customer import Customer
from crmcore.domain.events import DomainEvent, StageChanged
from crmcore.domain.lead import Lead
from crmcore.domain.opportunity import Opportunity
from crmcore.domain.order import Order
from crmcore.domain.survey import SurveyResponse
from crmcore.errors import InvalidValueError
from crmcore.ports import event_aggregate
from crmcore.serialization import dumps, loads

__all__ = [
    "ACTIVITY_SCHEMA",
    "CASE_SCHEMA",
    "CONSENT_SCHEMA",
    "CUSTOMER_SCHEMA",
    "EVENT_SCHEMA",
    "LEAD_SCHEMA",
    "OPPORTUNITY_SCHEMA",
    "ORDER_SCHEMA",
    "STAGE_CHANGE_SCHEMA",
    "SURVEY_SCHEMA",
    "custom_columns",
    "custom_json",
    "custom_schema_columns",
    "events_frame",
    "from_frame",
    "schema_of",
    "stage_changes_frame",
    "to_frame",
]

T = TypeVar("T", Customer, Lead, Opportunity, Activity, Case, Order, SurveyResponse, Consent)

_UTC = pl.Datetime("us", "UTC")
_MONEY = pl.Decimal(38, 6)
_MONEY_PLACES = 6

CUSTOMER_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "kind": pl.String(),
    "display_name": pl.String(),
    "company": pl.String(),
    "tier": pl.String(),
    "priority": pl.String(),
    "lifecycle_stage": pl.String(),
    "source": pl.String(),
    "owner": pl.String(),
    "team": pl.String(),
    "country": pl.String(),
    "city": pl.String(),
    "primary_email": pl.String(),
    "primary_phone": pl.String(),
    "merged_into": pl.String(),
    "created_at": _UTC,
    "updated_at": _UTC,
    "tags": pl.List(pl.String()),
    "custom": pl.String(),
}
"""The columns of a customers frame (before any ``custom_<name>`` and ``document``).

``company`` is the organisation's legal name or the person's employer;
``primary_email`` (canonical), ``primary_phone`` (E.164) and ``city`` come
from the primary email, phone and postal address; ``tags`` are sorted.
"""

LEAD_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "status": pl.String(),
    "source": pl.String(),
    "owner": pl.String(),
    "team": pl.String(),
    "score": pl.Int64(),
    "company": pl.String(),
    "converted_customer_id": pl.String(),
    "converted_opportunity_id": pl.String(),
    "created_at": _UTC,
    "updated_at": _UTC,
    "custom": pl.String(),
}
"""The columns of a leads frame (before any ``custom_<name>`` and ``document``)."""

OPPORTUNITY_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "title": pl.String(),
    "stage": pl.String(),
    "amount": _MONEY,
    "currency": pl.String(),
    "expected_close": pl.Date(),
    "owner": pl.String(),
    "team": pl.String(),
    "lead_id": pl.String(),
    "lost_reason": pl.String(),
    "closed_at": _UTC,
    "created_at": _UTC,
    "updated_at": _UTC,
}
"""The columns of an opportunities frame (before ``document``)."""

ACTIVITY_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "kind": pl.String(),
    "occurred_at": _UTC,
    "lead_id": pl.String(),
    "opportunity_id": pl.String(),
    "case_id": pl.String(),
    "owner": pl.String(),
    "due_at": _UTC,
    "completed_at": _UTC,
    "outcome": pl.String(),
}
"""The columns of an activities frame (before ``document``)."""

CASE_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "kind": pl.String(),
    "category": pl.String(),
    "severity": pl.String(),
    "channel": pl.String(),
    "status": pl.String(),
    "escalation_level": pl.Int64(),
    "owner": pl.String(),
    "team": pl.String(),
    "opened_at": _UTC,
    "first_response_at": _UTC,
    "resolved_at": _UTC,
    "closed_at": _UTC,
    "created_at": _UTC,
    "updated_at": _UTC,
}
"""The columns of a cases frame (before ``document``)."""

ORDER_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "amount": _MONEY,
    "currency": pl.String(),
    "status": pl.String(),
    "ordered_at": _UTC,
    "opportunity_id": pl.String(),
}
"""The columns of an orders frame (before ``document``)."""

SURVEY_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "nps": pl.Int64(),
    "csat": pl.Int64(),
    "ces": pl.Int64(),
    "responded_at": _UTC,
    "case_id": pl.String(),
}
"""The columns of a survey answers frame (before ``document``)."""

CONSENT_SCHEMA: Mapping[str, pl.DataType] = {
    "id": pl.String(),
    "customer_id": pl.String(),
    "purpose": pl.String(),
    "channel": pl.String(),
    "source": pl.String(),
    "granted_at": _UTC,
    "withdrawn_at": _UTC,
    "created_at": _UTC,
    "updated_at": _UTC,
}
"""The columns of a consents frame (before ``document``)."""

EVENT_SCHEMA: Mapping[str, pl.DataType] = {
    "event_id": pl.String(),
    "type": pl.String(),
    "aggregate": pl.String(),
    "aggregate_id": pl.String(),
    "at": _UTC,
    "by": pl.String(),
    "payload": pl.String(),
}
"""The columns of an events frame (:func:`events_frame`).

``type`` is the event class name, ``aggregate`` and ``aggregate_id`` the
record it is about (:data:`crmcore.ports.EVENT_AGGREGATES`), ``payload``
the event as JSON (:func:`crmcore.serialization.dumps`, read back with
:func:`crmcore.serialization.loads_event`).
"""

STAGE_CHANGE_SCHEMA: Mapping[str, pl.DataType] = {
    "event_id": pl.String(),
    "entity": pl.String(),
    "entity_id": pl.String(),
    "workflow": pl.String(),
    "transition": pl.String(),
    "from_stage": pl.String(),
    "to_stage": pl.String(),
    "at": _UTC,
    "by": pl.String(),
    "reason": pl.String(),
}
"""The columns of a stage changes frame (:func:`stage_changes_frame`)."""


def custom_json(fields: CustomFields | Mapping[str, Any]) -> str:
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


def _text(value: object) -> str | None:
    """The text of an optional value; empty text is no value."""
    if value is None:
        return None
    text = str(value)
    return text or None


def _customer_row(c: Customer) -> tuple[Any, ...]:
    person, org, points = c.person, c.organization, c.points
    address = points.primary_address
    return (
        c.id,
        c.kind.value,
        c.display_name,
        _text(org.legal_name if org is not None else person.employer if person else None),
        c.tier.value,
        c.priority.value,
        c.lifecycle_stage.value,
        c.source.value,
        c.owner,
        c.team,
        c.country.code if c.country is not None else None,
        _text(address.city if address is not None else None),
        _text(points.primary_email),
        _text(points.primary_phone.e164 if points.primary_phone is not None else None),
        c.merged_into,
        _instant(c.created_at),
        _instant(c.updated_at),
        sorted(t.name for t in c.tags),
        custom_json(c.custom),
    )


def _lead_row(x: Lead) -> tuple[Any, ...]:
    return (
        x.id,
        x.status.value,
        x.source.value,
        x.owner,
        x.team,
        x.score,
        _text(x.company),
        x.converted_customer_id,
        x.converted_opportunity_id,
        _instant(x.created_at),
        _instant(x.updated_at),
        custom_json(x.custom),
    )


def _opportunity_row(x: Opportunity) -> tuple[Any, ...]:
    return (
        x.id,
        x.customer_id,
        x.title,
        x.stage.value,
        x.amount.amount,
        x.amount.currency,
        x.expected_close,
        x.owner,
        x.team,
        x.lead_id,
        _text(x.lost_reason),
        _instant(x.closed_at),
        _instant(x.created_at),
        _instant(x.updated_at),
    )


def _activity_row(a: Activity) -> tuple[Any, ...]:
    return (
        a.id,
        a.customer_id,
        a.kind.value,
        _instant(a.occurred_at),
        a.lead_id,
        a.opportunity_id,
        a.case_id,
        a.owner,
        _instant(a.due_at),
        _instant(a.completed_at),
        _text(a.outcome),
    )


def _case_row(x: Case) -> tuple[Any, ...]:
    return (
        x.id,
        x.customer_id,
        x.kind.value,
        _text(x.category),
        x.severity.value,
        x.channel.value,
        x.status.value,
        x.escalation_level,
        x.owner,
        x.team,
        _instant(x.opened_at),
        _instant(x.first_response_at),
        _instant(x.resolved_at),
        _instant(x.closed_at),
        _instant(x.created_at),
        _instant(x.updated_at),
    )


def _order_row(o: Order) -> tuple[Any, ...]:
    return (
        o.id,
        o.customer_id,
        o.amount.amount,
        o.amount.currency,
        o.status.value,
        _instant(o.ordered_at),
        o.opportunity_id,
    )


def _survey_row(s: SurveyResponse) -> tuple[Any, ...]:
    return (s.id, s.customer_id, s.nps, s.csat, s.ces, _instant(s.responded_at), s.case_id)


def _consent_row(x: Consent) -> tuple[Any, ...]:
    return (
        x.id,
        x.customer_id,
        x.purpose,
        x.channel.value,
        _text(x.source),
        _instant(x.granted_at),
        _instant(x.withdrawn_at),
        _instant(x.created_at),
        _instant(x.updated_at),
    )


_KINDS: Mapping[type[Any], tuple[Mapping[str, pl.DataType], Callable[[Any], tuple[Any, ...]]]] = {
    Customer: (CUSTOMER_SCHEMA, _customer_row),
    Lead: (LEAD_SCHEMA, _lead_row),
    Opportunity: (OPPORTUNITY_SCHEMA, _opportunity_row),
    Activity: (ACTIVITY_SCHEMA, _activity_row),
    Case: (CASE_SCHEMA, _case_row),
    Order: (ORDER_SCHEMA, _order_row),
    SurveyResponse: (SURVEY_SCHEMA, _survey_row),
    Consent: (CONSENT_SCHEMA, _consent_row),
}


def schema_of(record_type: type[Any]) -> Mapping[str, pl.DataType]:
    """Return the frame columns of ``record_type`` (without custom columns and ``document``).

    >>> list(schema_of(Order))
    ['id', 'customer_id', 'amount', 'currency', 'status', 'ordered_at', 'opportunity_id']

    Raises:
        InvalidValueError: If crmcore has no frame layout for the type.
    """
    if record_type not in _KINDS:
        raise InvalidValueError(
            "record type", getattr(record_type, "__name__", record_type), "no frame layout"
        )
    return _KINDS[record_type][0]


_CUSTOM_DTYPES: Mapping[FieldType, pl.DataType] = {
    FieldType.TEXT: pl.String(),
    FieldType.INTEGER: pl.Int64(),
    FieldType.DECIMAL: pl.Decimal(38, 6),
    FieldType.BOOLEAN: pl.Boolean(),
    FieldType.DATE: pl.Date(),
    FieldType.DATETIME: _UTC,
    FieldType.CHOICE: pl.String(),
    FieldType.MULTI_CHOICE: pl.List(pl.String()),
}


def custom_schema_columns(schema: CustomFieldSchema) -> dict[str, pl.DataType]:
    """Return the typed custom columns a schema adds: ``custom_<name>`` -> dtype.

    Text and choices are ``String``, integers ``Int64``, decimals
    ``Decimal(38, 6)``, booleans ``Boolean``, dates ``Date``, timestamps
    ``Datetime("us", "UTC")``, multi-choices ``List(String)``.

    >>> from crmcore.domain import FieldDef
    >>> custom_schema_columns(CustomFieldSchema((FieldDef(name="budget", type="decimal"),)))
    {'custom_budget': Decimal(precision=38, scale=6)}
    """
    return {f"custom_{fd.name}": _CUSTOM_DTYPES[fd.type] for fd in schema.fields}


def _typed_value(schema: CustomFieldSchema, name: str, raw: Any, record_id: str) -> Any:
    fd = schema.field(name)
    try:
        value = fd.typed(tuple(raw) if isinstance(raw, list) else raw)
    except (ValueError, TypeError, ArithmeticError, InvalidValueError) as exc:
        raise InvalidValueError(
            f"custom field {name} of {record_id}", raw, f"not a valid {fd.type}"
        ) from exc
    expected = {
        FieldType.INTEGER: int,
        FieldType.BOOLEAN: bool,
        FieldType.TEXT: str,
        FieldType.CHOICE: str,
    }.get(fd.type)
    if expected is not None and type(value) is not expected:
        raise InvalidValueError(f"custom field {name} of {record_id}", raw, f"not a {fd.type}")
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if (isinstance(exponent, int) and exponent < -_MONEY_PLACES) or abs(value) >= 10**32:
            raise InvalidValueError(
                f"custom field {name} of {record_id}",
                raw,
                "does not fit the Decimal(38, 6) column (32 digits, 6 places)",
            )
    if isinstance(value, dt.datetime):
        return _instant(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def custom_columns(
    ids: Sequence[str], values: Sequence[Mapping[str, Any]], schema: CustomFieldSchema
) -> list[pl.Series]:
    """Return one typed ``custom_<name>`` column per field of ``schema``.

    Args:
        ids: The record ids, for errors.
        values: Each record's canonical custom field values (a
            :class:`~crmcore.domain.CustomFields` or its JSON object).
        schema: The fields to turn into columns; values of fields it does not
            define stay only in the ``custom`` JSON column.

    Raises:
        InvalidValueError: If a value is not of its field's type, or a decimal
            does not fit ``Decimal(38, 6)`` (naming the record and the field).

    >>> from crmcore.domain import FieldDef
    >>> schema = CustomFieldSchema((FieldDef(name="visits", type="integer"),))
    >>> custom_columns(["c1", "c2"], [{"visits": 3}, {}], schema)[0].to_list()
    [3, None]
    """
    columns = []
    for name, dtype in custom_schema_columns(schema).items():
        field = name.removeprefix("custom_")
        data = [
            None if v.get(field) is None else _typed_value(schema, field, v[field], id)
            for id, v in zip(ids, values, strict=True)
        ]
        columns.append(pl.Series(name, data, dtype=dtype))
    return columns


def to_frame(
    records: Iterable[T],
    *,
    record_type: type[T] | None = None,
    documents: bool = True,
    custom_schema: CustomFieldSchema | None = None,
) -> pl.DataFrame:
    """Return ``records`` as a DataFrame, one row each.

    Args:
        records: Records of one aggregate type: customers, leads,
            opportunities, activities, cases, orders, survey answers or consents.
        record_type: The type, required when ``records`` may be empty.
        documents: Add the ``document`` column (the exact JSON snapshot that
            :func:`from_frame` reads); skip it for speed when only rules run.
        custom_schema: Add a typed ``custom_<name>`` column for each of its
            fields (customers and leads, which carry custom fields).

    Returns:
        The frame, columns as in the ``*_SCHEMA`` constants (then the custom
        columns, then ``document``).

    Raises:
        InvalidValueError: If the type is unknown, mixed or cannot be told; if a
            schema is given for a type without custom fields; or if a custom
            value is not of its field's type.

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
    if custom_schema is not None:
        if "custom" not in schema:
            raise InvalidValueError(
                "custom_schema", kind.__name__, "only customers and leads have custom fields"
            )
        frame = frame.with_columns(
            custom_columns([r.id for r in items], [r.custom for r in items], custom_schema)
        )
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


def events_frame(events: Iterable[DomainEvent]) -> pl.DataFrame:
    """Return domain events (e.g. the event history) as a frame, one row each, in the given order.

    Columns as in :data:`EVENT_SCHEMA`.

    Raises:
        InvalidValueError: If an item is not a crmcore domain event.

    >>> import pendulum
    >>> from crmcore.domain import LeadCaptured
    >>> e = LeadCaptured(id="e1", lead_id="l1", source="website", at=pendulum.datetime(2026, 3, 1))
    >>> events_frame([e]).select("event_id", "type", "aggregate", "aggregate_id").row(0)
    ('e1', 'LeadCaptured', 'lead', 'l1')
    """
    rows = []
    for event in events:
        aggregate, aggregate_id = event_aggregate(event)
        rows.append(
            (
                event.id,
                type(event).__name__,
                aggregate,
                aggregate_id,
                _instant(event.at),
                event.by,
                dumps(event),
            )
        )
    return pl.DataFrame(rows, schema=dict(EVENT_SCHEMA), orient="row")


def stage_changes_frame(events: Iterable[DomainEvent]) -> pl.DataFrame:
    """Return the :class:`~crmcore.domain.StageChanged` events among ``events``, flattened.

    Other events are skipped, so the whole history can be given. Columns as
    in :data:`STAGE_CHANGE_SCHEMA`; an empty ``reason`` is null.

    >>> import pendulum
    >>> from crmcore.domain import StageChanged
    >>> e = StageChanged(id="e1", entity="opportunity", entity_id="o1", workflow="sales",
    ...                  transition="propose", from_stage="qualified", to_stage="proposal",
    ...                  at=pendulum.datetime(2026, 3, 1))
    >>> stage_changes_frame([e]).select("entity_id", "from_stage", "to_stage", "reason").row(0)
    ('o1', 'qualified', 'proposal', None)
    """
    rows = [
        (
            e.id,
            e.entity,
            e.entity_id,
            e.workflow,
            e.transition,
            e.from_stage,
            e.to_stage,
            _instant(e.at),
            e.by,
            _text(e.reason),
        )
        for e in events
        if isinstance(e, StageChanged)
    ]
    return pl.DataFrame(rows, schema=dict(STAGE_CHANGE_SCHEMA), orient="row")
