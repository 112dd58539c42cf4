"""How each aggregate maps to rows of :mod:`crmcore.adapters.sql.tables`.

One :class:`EntityMapping` per aggregate says which table holds it, which
columns are derived from a snapshot and which child tables (emails, phones,
tags...) index it. :func:`check_row` checks that every value fits its
column *before* anything is written, the same way on every backend (SQLite
does not enforce lengths), and raises a :class:`~crmcore.errors.StorageError`
naming the field otherwise.

May import: ``crmcore.adapters.sql.tables``, ``crmcore.domain``,
``crmcore.ports``, ``crmcore.errors``; SQLAlchemy, attrs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import attrs
import sqlalchemy as sa

from crmcore.adapters.sql import tables as t
from crmcore.domain import (
    Activity,
    Case,
    Consent,
    Customer,
    CustomFields,
    Lead,
    Opportunity,
    Order,
    SurveyResponse,
)
from crmcore.errors import StorageError
from crmcore.ports import MergeRecord
from crmcore.privacy.subject import ErasureRequest

__all__ = [
    "ACTIVITIES",
    "CASES",
    "CONSENTS",
    "CUSTOMERS",
    "ERASURES",
    "LEADS",
    "MERGES",
    "OPPORTUNITIES",
    "ORDERS",
    "SURVEY_RESPONSES",
    "ChildMapping",
    "EntityMapping",
    "check_row",
]

_E = TypeVar("_E")

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_AMOUNT_LIMIT = Decimal(10) ** 14  # NUMERIC(20, 6): 14 integer digits
_AMOUNT_PLACES = 6


@attrs.frozen
class ChildMapping:
    """A child table indexing one collection of an aggregate.

    Attributes:
        table: The child table.
        key: Its column holding the parent id.
        field: The aggregate's field the rows come from (for error messages).
        rows: Return the child rows of a snapshot (without ``key``).
    """

    table: sa.Table
    key: str
    field: str
    rows: Callable[[Any], list[dict[str, Any]]]


@attrs.frozen
class EntityMapping(Generic[_E]):
    """Where and how one aggregate is stored.

    Attributes:
        kind: The aggregate's name in errors (``"customer"``).
        cls: The snapshot class.
        table: The table holding one row per snapshot.
        columns: Return the derived columns of a snapshot (all but ``id``,
            ``version`` and ``document``).
        children: The child tables.
        fields: Column name -> snapshot field, where they differ (errors).
    """

    kind: str
    cls: type[_E]
    table: sa.Table
    columns: Callable[[_E], dict[str, Any]]
    children: tuple[ChildMapping, ...] = ()
    fields: Mapping[str, str] = attrs.field(factory=dict)


def _limits(table: sa.Table) -> dict[str, int]:
    limits = {}
    for column in table.columns:
        length = getattr(column.type, "max_length", None) or getattr(column.type, "length", None)
        if isinstance(length, int):
            limits[column.name] = length
    return limits


_LIMITS: dict[str, dict[str, int]] = {
    table.name: _limits(table) for table in t.metadata.sorted_tables
}


def _problem(value: Any, limit: int | None) -> str | None:
    """Return why ``value`` does not fit a column (``limit`` chars for strings), or None."""
    if isinstance(value, str):
        if limit is not None and len(value) > limit:
            return f"{len(value)} characters, longer than the column's {limit}"
        if "\x00" in value:
            return "contains a NUL character"
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return f"{value} is outside the 32-bit integer range"
        return None
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value) >= _AMOUNT_LIMIT:
            return f"{value} does not fit NUMERIC(20, 6)"
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -_AMOUNT_PLACES:
            return f"{value} has more than {_AMOUNT_PLACES} decimal places"
        return None
    if isinstance(value, dt.datetime | dt.date) and not 1000 <= value.year <= 9999:
        return f"year {value.year} is outside 1000-9999"
    return None


def check_row(
    kind: str, table: sa.Table, row: Mapping[str, Any], fields: Mapping[str, str] | None = None
) -> None:
    """Check that every value of ``row`` fits its column of ``table``.

    Args:
        kind: The aggregate's name, for the error.
        table: The table the row goes to.
        row: Column name -> value.
        fields: Column name -> snapshot field, where they differ.

    Raises:
        StorageError: Naming the field whose value does not fit.
    """
    limits = _LIMITS[table.name]
    for name, value in row.items():
        if value is None or name in ("document", "custom"):
            continue
        if type(value) is str:  # the common case, checked inline
            limit = limits.get(name)
            if (limit is None or len(value) <= limit) and "\x00" not in value:
                continue
        reason = _problem(value, limits.get(name))
        if reason is not None:
            field = (fields or {}).get(name, name)
            raise StorageError(f"save {kind}", reason, field=field)


def check_custom(kind: str, custom: Mapping[str, Any], field: str = "custom") -> None:
    """Check that custom field values are JSON (no NaN, no unknown types).

    Raises:
        StorageError: Naming ``custom.<key>`` of the first value that is not JSON.
    """
    for key, value in custom.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"save {kind}", f"not JSON: {exc}", field=f"{field}.{key}") from exc
        if not isinstance(key, str):
            raise StorageError(f"save {kind}", "custom field names are strings", field=field)


def _custom(value: CustomFields) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in value.to_dict().items()}


def _customer_columns(c: Customer) -> dict[str, Any]:
    return {
        "kind": c.kind.value,
        "display_name": c.display_name,
        "tier": c.tier.value,
        "priority": c.priority.value,
        "lifecycle_stage": c.lifecycle_stage.value,
        "source": c.source.value,
        "owner": c.owner,
        "team": c.team,
        "country": c.country.code if c.country is not None else None,
        "merged_into": c.merged_into,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "custom": _custom(c.custom),
    }


def _emails(x: Customer | Lead) -> list[dict[str, Any]]:
    return [{"address": a} for a in dict.fromkeys(e.address.address for e in x.points.emails)]


def _phones(x: Customer | Lead) -> list[dict[str, Any]]:
    return [{"e164": n} for n in dict.fromkeys(p.number.e164 for p in x.points.phones)]


def _tags(c: Customer) -> list[dict[str, Any]]:
    return [{"tag": tag.name} for tag in c.tags]


def _external_ids(c: Customer) -> list[dict[str, Any]]:
    return [{"system": e.system, "value": e.value} for e in c.external_ids]


CUSTOMERS: EntityMapping[Customer] = EntityMapping(
    kind="customer",
    cls=Customer,
    table=t.customers,
    columns=_customer_columns,
    children=(
        ChildMapping(t.customer_emails, "customer_id", "points.emails", _emails),
        ChildMapping(t.customer_phones, "customer_id", "points.phones", _phones),
        ChildMapping(t.customer_tags, "customer_id", "tags", _tags),
        ChildMapping(t.customer_external_ids, "customer_id", "external_ids", _external_ids),
    ),
)


def _lead_columns(x: Lead) -> dict[str, Any]:
    return {
        "status": x.status.value,
        "source": x.source.value,
        "owner": x.owner,
        "team": x.team,
        "score": x.score,
        "company": x.company,
        "converted_customer_id": x.converted_customer_id,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "custom": _custom(x.custom),
    }


LEADS: EntityMapping[Lead] = EntityMapping(
    kind="lead",
    cls=Lead,
    table=t.leads,
    columns=_lead_columns,
    children=(
        ChildMapping(t.lead_emails, "lead_id", "points.emails", _emails),
        ChildMapping(t.lead_phones, "lead_id", "points.phones", _phones),
    ),
)


def _opportunity_columns(x: Opportunity) -> dict[str, Any]:
    return {
        "customer_id": x.customer_id,
        "title": x.title,
        "stage": x.stage.value,
        "amount": x.amount.amount,
        "currency": x.amount.currency,
        "expected_close": x.expected_close,
        "owner": x.owner,
        "team": x.team,
        "lead_id": x.lead_id,
        "closed_at": x.closed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


OPPORTUNITIES: EntityMapping[Opportunity] = EntityMapping(
    kind="opportunity",
    cls=Opportunity,
    table=t.opportunities,
    columns=_opportunity_columns,
    fields={"currency": "amount.currency"},
)


def _activity_columns(x: Activity) -> dict[str, Any]:
    return {
        "kind": x.kind.value,
        "customer_id": x.customer_id,
        "lead_id": x.lead_id,
        "opportunity_id": x.opportunity_id,
        "case_id": x.case_id,
        "owner": x.owner,
        "occurred_at": x.occurred_at,
        "due_at": x.due_at,
        "completed_at": x.completed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


ACTIVITIES: EntityMapping[Activity] = EntityMapping(
    kind="activity", cls=Activity, table=t.activities, columns=_activity_columns
)


def _case_columns(x: Case) -> dict[str, Any]:
    return {
        "customer_id": x.customer_id,
        "kind": x.kind.value,
        "severity": x.severity.value,
        "status": x.status.value,
        "channel": x.channel.value,
        "category": x.category,
        "escalation_level": x.escalation_level,
        "owner": x.owner,
        "team": x.team,
        "opened_at": x.opened_at,
        "first_response_at": x.first_response_at,
        "resolved_at": x.resolved_at,
        "closed_at": x.closed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


CASES: EntityMapping[Case] = EntityMapping(
    kind="case", cls=Case, table=t.cases, columns=_case_columns
)


def _survey_columns(x: SurveyResponse) -> dict[str, Any]:
    return {
        "customer_id": x.customer_id,
        "case_id": x.case_id,
        "csat": x.csat,
        "nps": x.nps,
        "ces": x.ces,
        "responded_at": x.responded_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


SURVEY_RESPONSES: EntityMapping[SurveyResponse] = EntityMapping(
    kind="survey_response",
    cls=SurveyResponse,
    table=t.survey_responses,
    columns=_survey_columns,
)


def _order_columns(x: Order) -> dict[str, Any]:
    return {
        "customer_id": x.customer_id,
        "amount": x.amount.amount,
        "currency": x.amount.currency,
        "status": x.status.value,
        "ordered_at": x.ordered_at,
        "opportunity_id": x.opportunity_id,
        "external_id": x.external_id,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


ORDERS: EntityMapping[Order] = EntityMapping(
    kind="order",
    cls=Order,
    table=t.orders,
    columns=_order_columns,
    fields={"currency": "amount.currency"},
)


def _consent_columns(x: Consent) -> dict[str, Any]:
    return {
        "customer_id": x.customer_id,
        "purpose": x.purpose,
        "channel": x.channel.value,
        "granted_at": x.granted_at,
        "withdrawn_at": x.withdrawn_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


CONSENTS: EntityMapping[Consent] = EntityMapping(
    kind="consent", cls=Consent, table=t.consents, columns=_consent_columns
)


def _merge_columns(x: MergeRecord) -> dict[str, Any]:
    return {"survivor_id": x.survivor_id, "created_at": x.created_at, "updated_at": x.updated_at}


def _merge_members(x: MergeRecord) -> list[dict[str, Any]]:
    ids = dict.fromkeys((x.survivor_id, *x.merged_ids))
    return [{"customer_id": id} for id in ids]


MERGES: EntityMapping[MergeRecord] = EntityMapping(
    kind="merge",
    cls=MergeRecord,
    table=t.merges,
    columns=_merge_columns,
    children=(ChildMapping(t.merge_members, "merge_id", "merged_ids", _merge_members),),
)


def _erasure_columns(x: ErasureRequest) -> dict[str, Any]:
    return {
        "subject": x.subject,
        "requested_at": x.requested_at,
        "completed_at": x.completed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
    }


ERASURES: EntityMapping[ErasureRequest] = EntityMapping(
    kind="erasure", cls=ErasureRequest, table=t.erasure_requests, columns=_erasure_columns
)
