"""CSV: one flat row per record for spreadsheets and BI tools — a view, not a backup.

A CSV row keeps the columns people filter and pivot on; nested data (every
email but the primary one, contact persons, custom fields, history…) is left
out by design. JSON lines (:mod:`crmcore.adapters.transfer.lines`) is the
lossless format. Timestamps are ISO 8601 in UTC, money is its amount and
currency in two columns, tags are joined with ``;``, a missing value is an
empty cell.

May import: ``crmcore.domain``, ``crmcore.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmcore.adapters.transfer.kinds import RecordKind
from crmcore.domain import Activity, Customer, Order
from crmcore.errors import ConfigurationError

__all__ = [
    "ACTIVITY_COLUMNS",
    "CSV_KINDS",
    "CUSTOMER_COLUMNS",
    "ORDER_COLUMNS",
    "csv_columns",
    "csv_row",
    "csv_values",
]

CUSTOMER_COLUMNS = (
    "id",
    "kind",
    "name",
    "company",
    "email",
    "phone",
    "city",
    "country",
    "tier",
    "lifecycle_stage",
    "owner",
    "tags",
    "merged_into",
    "created_at",
    "updated_at",
)
"""Customer columns: ``name`` is a person's full name (empty for an organisation),
``company`` the organisation's legal name or the person's employer, ``email``,
``phone`` and ``city`` come from the primary email, phone and address."""

ORDER_COLUMNS = (
    "id",
    "customer_id",
    "status",
    "amount",
    "currency",
    "ordered_at",
    "opportunity_id",
    "external_id",
    "created_at",
    "updated_at",
)
"""Order columns: ``amount`` is the decimal amount as written (``"99.00"``)."""

ACTIVITY_COLUMNS = (
    "id",
    "kind",
    "subject",
    "customer_id",
    "lead_id",
    "opportunity_id",
    "case_id",
    "owner",
    "occurred_at",
    "due_at",
    "completed_at",
    "outcome",
    "next_step",
    "created_at",
    "updated_at",
)
"""Activity columns (the free-text ``body`` is in JSON lines only)."""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _time(value: Any) -> str:
    return "" if value is None else str(value.isoformat())


def _customer(customer: Customer) -> tuple[str, ...]:
    person, org = customer.person, customer.organization
    employer = person.employer if person is not None else ""
    company = org.legal_name if org is not None else employer
    address = customer.points.primary_address
    return (
        customer.id,
        customer.kind.value,
        person.name.full if person is not None else "",
        company,
        _text(customer.points.primary_email),
        _text(customer.points.primary_phone),
        address.city if address is not None else "",
        _text(customer.country),
        customer.tier.value,
        customer.lifecycle_stage.value,
        _text(customer.owner),
        ";".join(sorted(t.name for t in customer.tags)),
        _text(customer.merged_into),
        customer.created_at.isoformat(),
        customer.updated_at.isoformat(),
    )


def _order(order: Order) -> tuple[str, ...]:
    return (
        order.id,
        order.customer_id,
        order.status.value,
        str(order.amount.amount),
        order.amount.currency,
        order.ordered_at.isoformat(),
        _text(order.opportunity_id),
        order.external_id,
        order.created_at.isoformat(),
        order.updated_at.isoformat(),
    )


def _activity(activity: Activity) -> tuple[str, ...]:
    return (
        activity.id,
        activity.kind.value,
        activity.subject,
        _text(activity.customer_id),
        _text(activity.lead_id),
        _text(activity.opportunity_id),
        _text(activity.case_id),
        _text(activity.owner),
        activity.occurred_at.isoformat(),
        _time(activity.due_at),
        _time(activity.completed_at),
        activity.outcome,
        activity.next_step,
        activity.created_at.isoformat(),
        activity.updated_at.isoformat(),
    )


_FLAT: dict[RecordKind, tuple[tuple[str, ...], Callable[[Any], tuple[str, ...]]]] = {
    RecordKind.CUSTOMERS: (CUSTOMER_COLUMNS, _customer),
    RecordKind.ORDERS: (ORDER_COLUMNS, _order),
    RecordKind.ACTIVITIES: (ACTIVITY_COLUMNS, _activity),
}

CSV_KINDS: tuple[RecordKind, ...] = tuple(kind for kind in RecordKind if kind in _FLAT)
"""The kinds CSV export supports."""


def _flat(kind: RecordKind) -> tuple[tuple[str, ...], Callable[[Any], tuple[str, ...]]]:
    try:
        return _FLAT[kind]
    except KeyError:
        supported = ", ".join(k.value for k in CSV_KINDS)
        raise ConfigurationError(
            f"CSV export does not support {kind.value}: CSV is a flat view of {supported} only;"
            " export JSON lines (format jsonl) for every kind"
        ) from None


def csv_columns(kind: RecordKind) -> tuple[str, ...]:
    """Return the CSV header of ``kind``.

    >>> csv_columns(RecordKind.ORDERS)[:4]
    ('id', 'customer_id', 'status', 'amount')
    >>> csv_columns(RecordKind.LEADS)
    Traceback (most recent call last):
    ...
    crmcore.errors.ConfigurationError: CSV export does not support leads: CSV is a flat view ...

    Args:
        kind: A kind of :data:`CSV_KINDS`.

    Returns:
        The column names, in order.

    Raises:
        ConfigurationError: If CSV does not support ``kind``.
    """
    return _flat(kind)[0]


def csv_values(kind: RecordKind, record: Any) -> tuple[str, ...]:
    """Return the CSV cells of one record, in :func:`csv_columns` order.

    Args:
        kind: A kind of :data:`CSV_KINDS`.
        record: A snapshot of ``kind.record_type``.

    Returns:
        One string per column; empty for a missing value.

    Raises:
        ConfigurationError: If CSV does not support ``kind``.
    """
    return _flat(kind)[1](record)


def csv_row(kind: RecordKind, record: Any) -> dict[str, str]:
    """Return the CSV row of one record, keyed by column.

    >>> import pendulum
    >>> from crmcore.domain import Money, Order
    >>> at = pendulum.datetime(2026, 3, 1)
    >>> order = Order(id="r-1", customer_id="c-1", amount=Money("99.00", "CNY"),
    ...               ordered_at=at, created_at=at, updated_at=at)
    >>> row = csv_row(RecordKind.ORDERS, order)
    >>> row["amount"], row["currency"], row["ordered_at"], row["opportunity_id"]
    ('99.00', 'CNY', '2026-03-01T00:00:00+00:00', '')

    Args:
        kind: A kind of :data:`CSV_KINDS`.
        record: A snapshot of ``kind.record_type``.

    Returns:
        The cells by column name.

    Raises:
        ConfigurationError: If CSV does not support ``kind``.
    """
    columns, values = _flat(kind)
    return dict(zip(columns, values(record), strict=True))
