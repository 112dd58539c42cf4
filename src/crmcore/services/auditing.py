"""Record what a service did in the audit chain, in the service's own unit of work.

:func:`record` appends one entry (who, what, which record, about whom,
when, and the payload of personal data) through ``uow.audit``, so the
entry commits with the change it records. Services that audit take an
``audit`` flag (default off, so existing callers keep working).

>>> import pendulum
>>> from crmcore.adapters.memory import MemoryStore
>>> from crmcore.domain import CustomerId, Person, PersonName, register_customer
>>> customer, _ = register_customer(id=CustomerId("c-1"), at=pendulum.datetime(2026, 3, 1),
...                                 person=Person(name=PersonName.parse("李娜")))
>>> with MemoryStore().unit_of_work() as uow:
...     entry = record(uow, actor="u-li", action=AuditAction.READ, record=customer,
...                    at=pendulum.datetime(2026, 3, 2))
>>> entry.record_type, entry.record_id, entry.subject, str(entry.action)
('customer', 'c-1', 'c-1', 'read')

May import: ``crmcore.domain``, ``crmcore.merge``, ``crmcore.privacy``, ``crmcore.ports``,
``crmcore.errors``; attrs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from crmcore.domain import Customer, Lead
from crmcore.errors import InvalidValueError
from crmcore.merge import MergeRecord
from crmcore.ports import UnitOfWork
from crmcore.privacy.audit import AuditAction, AuditDraft, AuditEntry

__all__ = ["SYSTEM_ACTOR", "AuditAction", "record", "record_type_of", "subject_of"]

SYSTEM_ACTOR = "system"
"""The actor recorded when a service is called without a user (``by=None``)."""

_RECORD_TYPES: dict[str, str] = {"MergeRecord": "merge", "SurveyResponse": "survey_response"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def record_type_of(record: object) -> str:
    """Return the audit name of a record's kind: its class name in snake case.

    >>> class ServiceCase: ...
    >>> record_type_of(ServiceCase())
    'service_case'
    """
    name = type(record).__name__
    return _RECORD_TYPES.get(name) or _CAMEL.sub("_", name).lower()


def subject_of(record: object) -> str | None:
    """Return the data subject a record is about: the customer (or lead) it belongs to.

    A customer or lead is its own subject; a merge record's is the survivor;
    any other record's is its ``customer_id`` (``None`` if it has none).
    """
    if isinstance(record, Customer | Lead):
        return record.id
    if isinstance(record, MergeRecord):
        return record.survivor_id
    subject = getattr(record, "customer_id", None)
    return subject if isinstance(subject, str) else None


def record(
    uow: UnitOfWork,
    *,
    actor: str | None,
    action: str,
    record: object,
    at: dt.datetime,
    payload: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append an audit entry about ``record`` to the unit of work's chain.

    Args:
        uow: The active unit of work the change goes through.
        actor: Who did it (``None``: :data:`SYSTEM_ACTOR`).
        action: What was done (:class:`~crmcore.privacy.audit.AuditAction` or a host's word).
        record: The record acted on (anything with an ``id``).
        at: When.
        payload: The personal data of what changed, as a JSON object (kept
            erasable beside the chain).

    Returns:
        The appended entry.

    Raises:
        InvalidValueError: If ``record`` has no string ``id``, or a field is invalid.
        PayloadError: If ``payload`` is not an exact JSON object.
        StorageError: If the unit of work is not active or the backend fails.
        ConcurrencyError: If another unit of work appended first (retry the unit of work).
    """
    record_id = getattr(record, "id", None)
    if not isinstance(record_id, str):
        raise InvalidValueError("record", type(record).__name__, "has no string id to audit")
    draft = AuditDraft.of(
        at=at,
        actor=SYSTEM_ACTOR if actor is None else actor,
        action=action,
        record_type=record_type_of(record),
        record_id=record_id,
        subject=subject_of(record),
        payload=payload,
    )
    return uow.audit.append(draft)
