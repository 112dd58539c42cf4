"""Subject requests: export everything about one person, erase it, replay erasures.

:func:`export_subject` and :func:`erase_subject` walk the registry
:data:`~crmcore.privacy.subject.SUBJECT_SOURCES`, so they reach every place
a subject's data can live. Erasure pseudonymises in place (ids and
aggregates stay, so KPIs survive), one step per source, each step committed
with the progress of its :class:`~crmcore.privacy.subject.ErasureRequest`:
an interrupted erasure resumes where it stopped, a finished one is not run
twice, and :func:`replay_erasures` erases the subjects again after a restore
from a backup taken before the erasure.

Correction (rectification) is not special: change the record through the
normal services with auditing on (:func:`crmcore.services.auditing.record`).

>>> import pendulum
>>> from crmcore.adapters.memory import MemoryStore
>>> from crmcore.domain import CustomerId, EmailAddress, Person, PersonName, register_customer
>>> at = pendulum.datetime(2026, 3, 1)
>>> li, registered = register_customer(id=CustomerId("c-1"), at=at,
...     person=Person(name=PersonName.parse("李娜")), emails=[EmailAddress("li.na@example.com")])
>>> store = MemoryStore()
>>> with store.unit_of_work() as uow:
...     _ = uow.customers.save(li)
...     uow.collect(registered)
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     document = export_subject(uow, CustomerId("c-1"), at=at)
>>> document["customer"][0]["points"]["emails"][0]["address"]["address"]
'li.na@example.com'
>>> request = erase_subject(store, CustomerId("c-1"), at=at.add(days=30), request_id="er-1")
>>> request.done, [(s.name, s.changed) for s in request.steps if s.changed]
(True, [('events', 1), ('customer', 1)])
>>> with store.unit_of_work() as uow:
...     "li.na" in str(export_subject(uow, CustomerId("c-1"), at=at.add(days=31)))
False

May import: ``crmcore.ports``, ``crmcore.privacy``, ``crmcore.domain``, ``crmcore.merge``,
``crmcore.errors``, ``crmcore.clock``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol, runtime_checkable

from crmcore.clock import utc
from crmcore.domain import Customer, CustomerId, DomainEvent, Lead, UserId, new_id
from crmcore.errors import InvalidValueError, NotFoundError
from crmcore.merge import MergeRecord
from crmcore.ports import KeyStore, Store, UnitOfWork
from crmcore.privacy.audit import AuditAction, AuditDraft, JsonValue
from crmcore.privacy.subject import (
    ERASURE_STEPS,
    SUBJECT_SOURCES,
    ErasureRequest,
    erase_activity,
    erase_case,
    erase_consent,
    erase_customer,
    erase_event,
    erase_lead,
    erase_merge,
    erase_opportunity,
    erase_survey_response,
    json_value,
)

__all__ = [
    "SYSTEM_ACTOR",
    "erase_subject",
    "export_subject",
    "merge_group",
    "replay_erasures",
    "subject_records",
]

SYSTEM_ACTOR: Final = "system"
"""The actor recorded when a request is run without a user."""

# Which repository of the unit of work holds the records linked by customer_id, and the
# aggregate name their events carry.
_LINKED: Final[dict[str, str]] = {
    "opportunities": "opportunity",
    "activities": "activity",
    "cases": "case",
    "survey_responses": "survey_response",
    "orders": "order",
    "consents": "consent",
}


@runtime_checkable
class _ReportsErased(Protocol):
    """A customer repository that stores fields encrypted and tells which were shredded."""

    def erased_fields(self, ids: Iterable[str]) -> dict[CustomerId, tuple[str, ...]]: ...


def merge_group(uow: UnitOfWork, customer_id: CustomerId) -> tuple[CustomerId, ...]:
    """Return ``customer_id`` and every customer merged with it, directly or not.

    A merge says the records are one person, so an erasure covers them all.
    The requested id comes first, the others follow by id.

    Raises:
        StorageError: If the backend fails.
    """
    seen = {customer_id}
    queue = [customer_id]
    while queue:
        current = queue.pop()
        for merge in uow.merges.find_by_customer(current):
            for other in (merge.survivor_id, *merge.merged_ids):
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
    return (customer_id, *sorted(seen - {customer_id}))


def _leads(uow: UnitOfWork, customers: Sequence[Customer]) -> list[Lead]:
    found: dict[str, Lead] = {}
    for customer in customers:
        for lead in uow.leads.find_by_converted_customer(customer.id):
            found.setdefault(lead.id, lead)
        points = [customer.points, *(c.points for c in customer.contacts)]
        for p in points:
            for email in p.emails:
                for lead in uow.leads.find_by_email(email.address):
                    found.setdefault(lead.id, lead)
            for phone in p.phones:
                for lead in uow.leads.find_by_phone(phone.number):
                    found.setdefault(lead.id, lead)
    return [found[k] for k in sorted(found)]


def _customers(uow: UnitOfWork, ids: Iterable[CustomerId]) -> list[Customer]:
    found = []
    for id in ids:
        try:
            found.append(uow.customers.get(id))
        except NotFoundError:
            continue
    return found


def _linked(uow: UnitOfWork, repository: str, ids: Iterable[CustomerId]) -> list[Any]:
    repo = getattr(uow, repository)
    records: dict[str, Any] = {}
    for id in ids:
        for record in repo.find_by_customer(id):
            records.setdefault(record.id, record)
    return [records[k] for k in sorted(records)]


def _merges(uow: UnitOfWork, ids: Iterable[CustomerId]) -> list[MergeRecord]:
    return list(_linked(uow, "merges", ids))


def _events(uow: UnitOfWork, ids: Sequence[CustomerId]) -> list[DomainEvent]:
    aggregates: list[tuple[str, str]] = [("customer", id) for id in ids]
    for repository, aggregate in _LINKED.items():
        aggregates.extend((aggregate, r.id) for r in _linked(uow, repository, ids))
    aggregates.extend(("lead", lead.id) for lead in _leads(uow, _customers(uow, ids)))
    found: dict[str, DomainEvent] = {}
    for aggregate, aggregate_id in aggregates:
        for event in uow.history.events(aggregate=aggregate, aggregate_id=aggregate_id):
            found.setdefault(event.id, event)
    return sorted(found.values(), key=lambda e: (e.at, e.id))


def subject_records(uow: UnitOfWork, customer_id: CustomerId) -> dict[str, list[Any]]:
    """Return every record about the subject, by source name (:data:`SUBJECT_SOURCES`).

    Covers the customer and every customer merged with it (:func:`merge_group`).

    Raises:
        NotFoundError: If no customer has ``customer_id``.
        StorageError: If the backend fails.
    """
    uow.customers.get(customer_id)  # NotFoundError for an unknown subject
    ids = merge_group(uow, customer_id)
    customers = _customers(uow, ids)
    found: dict[str, list[Any]] = {}
    for source in SUBJECT_SOURCES:
        name = source.name
        if name == "customer":
            found[name] = customers
        elif name == "leads":
            found[name] = _leads(uow, customers)
        elif name in _LINKED:
            found[name] = _linked(uow, name, ids)
        elif name == "merges":
            found[name] = _merges(uow, ids)
        elif name == "consent_ledger":
            found[name] = [e for id in ids for e in uow.consent_ledger.entries_for(id)]
        elif name == "events":
            found[name] = _events(uow, ids)
        elif name == "audit":
            found[name] = [e for id in ids for e in uow.audit.find_by_subject(id)]
        else:  # pragma: no cover - the registry test keeps SUBJECT_SOURCES and this in step
            raise InvalidValueError("source", name, "no reader for this subject source")
    return found


def export_subject(
    uow: UnitOfWork,
    customer_id: CustomerId,
    *,
    at: dt.datetime,
    actor: str | None = None,
    audit: bool = False,
) -> dict[str, JsonValue]:
    """Return everything stored about the subject as one JSON-able document.

    The document has one key per source of
    :data:`~crmcore.privacy.subject.SUBJECT_SOURCES` (audit entries with their
    payloads), plus ``subject``, ``customers`` (the merge group),
    ``exported_at``, ``erasures`` (the subject's erasure requests) and
    ``erased_fields``: for each customer of the group whose encryption key
    was deleted (crypto-shredded, with a store that encrypts fields at
    rest), the fields that were erased with it and now read as blank.
    Every lookup is by an indexed key.

    Args:
        uow: An active unit of work.
        customer_id: The subject.
        at: When the export is made.
        actor: Who asked for it (recorded when ``audit`` is on).
        audit: Append an ``export`` entry to the audit chain (commit the unit of work to keep it).

    Raises:
        NotFoundError: If no customer has ``customer_id``.
        StorageError: If the backend fails.
    """
    when = utc(at)
    records = subject_records(uow, customer_id)
    document: dict[str, JsonValue] = {
        "subject": customer_id,
        "customers": list(merge_group(uow, customer_id)),
        "exported_at": when.isoformat(),
    }
    for name, items in records.items():
        if name == "audit":
            payloads = uow.audit.payloads(e.sequence for e in items)
            document[name] = [
                {
                    "entry": json_value(e),
                    "payload": json_value(
                        payloads[e.sequence].payload if e.sequence in payloads else None
                    ),
                }
                for e in items
            ]
        else:
            document[name] = [json_value(item) for item in items]
    document["erasures"] = [json_value(r) for r in uow.erasures.find_by_subject(customer_id)]
    shredded: dict[str, JsonValue] = {}
    if isinstance(uow.customers, _ReportsErased):
        group = merge_group(uow, customer_id)
        shredded = {k: list(v) for k, v in uow.customers.erased_fields(group).items()}
    document["erased_fields"] = shredded
    if audit:
        uow.audit.append(
            AuditDraft.of(
                at=when,
                actor=actor or SYSTEM_ACTOR,
                action=AuditAction.EXPORT,
                record_type="customer",
                record_id=customer_id,
            )
        )
    return document


# -- erasure ---------------------------------------------------------------------------

_Step = Callable[[UnitOfWork, Sequence[CustomerId], dt.datetime, KeyStore | None], int]


def _save_changed(
    repo: Any, records: Iterable[Any], erase: Callable[..., Any], at: dt.datetime
) -> int:
    changed = [new for old in records if (new := erase(old, at=at)) != old]
    if changed:
        repo.save_many(changed)
    return len(changed)


def _erase_leads(uow: UnitOfWork, ids: Sequence[CustomerId], at: dt.datetime, _: Any) -> int:
    return _save_changed(uow.leads, _leads(uow, _customers(uow, ids)), erase_lead, at)


def _linked_step(repository: str, erase: Callable[..., Any]) -> _Step:
    def step(uow: UnitOfWork, ids: Sequence[CustomerId], at: dt.datetime, _: Any) -> int:
        return _save_changed(getattr(uow, repository), _linked(uow, repository, ids), erase, at)

    return step


def _nothing(_uow: UnitOfWork, _ids: Sequence[CustomerId], _at: dt.datetime, _: Any) -> int:
    return 0


def _erase_events(uow: UnitOfWork, ids: Sequence[CustomerId], _at: dt.datetime, _: Any) -> int:
    changed = [new for old in _events(uow, ids) if (new := erase_event(old)) != old]
    return uow.history.redact(changed) if changed else 0


def _erase_audit(uow: UnitOfWork, ids: Sequence[CustomerId], at: dt.datetime, _: Any) -> int:
    return sum(uow.audit.erase_payloads(id, at=at) for id in ids)


def _erase_customers(uow: UnitOfWork, ids: Sequence[CustomerId], at: dt.datetime, _: Any) -> int:
    return _save_changed(uow.customers, _customers(uow, ids), erase_customer, at)


def _shred_keys(
    _uow: UnitOfWork, ids: Sequence[CustomerId], _at: dt.datetime, keys: KeyStore | None
) -> int:
    if keys is None:
        return 0
    return sum(keys.delete(id) for id in ids)


_STEPS: Final[dict[str, _Step]] = {
    "leads": _erase_leads,
    "opportunities": _linked_step("opportunities", erase_opportunity),
    "activities": _linked_step("activities", erase_activity),
    "cases": _linked_step("cases", erase_case),
    "survey_responses": _linked_step("survey_responses", erase_survey_response),
    "orders": _nothing,  # orders hold no personal text: amounts, status and times only
    "consents": _linked_step("consents", erase_consent),
    "consent_ledger": _nothing,  # kept as proof of consent: ids, purposes and times
    "merges": _linked_step("merges", erase_merge),
    "events": _erase_events,
    "audit": _erase_audit,
    "customer": _erase_customers,
    "keys": _shred_keys,
}


def _run(
    store: Store,
    request_id: str,
    *,
    at: dt.datetime,
    by: UserId | None,
    keys: KeyStore | None,
    stop_after: str | None = None,
) -> ErasureRequest:
    with store.unit_of_work() as uow:
        request = uow.erasures.get(request_id)
    while not request.done:
        step = request.next_step
        if step is None:  # pragma: no cover - not done means there is a next step
            break
        with store.unit_of_work() as uow:
            request = uow.erasures.get(request_id)
            if request.next_step != step:  # another worker did it meanwhile
                continue
            changed = _STEPS[step](uow, request.customers, at, keys)
            request = uow.erasures.save(request.finish(step, changed, at=at))
            if request.done:
                uow.audit.append(
                    AuditDraft.of(
                        at=at,
                        actor=by or SYSTEM_ACTOR,
                        action=AuditAction.ERASE,
                        record_type="erasure",
                        record_id=request.id,
                    )
                )
            uow.commit()
        if step == stop_after:
            break
    return request


def erase_subject(
    store: Store,
    customer_id: CustomerId,
    *,
    at: dt.datetime,
    by: UserId | None = None,
    keys: KeyStore | None = None,
    request_id: str | None = None,
    again: bool = False,
    stop_after: str | None = None,
) -> ErasureRequest:
    """Erase the subject everywhere, resuming an unfinished request; return the request.

    Every step (:data:`~crmcore.privacy.subject.ERASURE_STEPS`) runs in its own
    unit of work and commits with the request's progress, so a crash between
    steps loses nothing: call again and it resumes. The last step deletes
    the subject's encryption key from ``keys`` (crypto-shredding) and
    appends an ``erase`` entry to the audit chain.

    Args:
        store: The store.
        customer_id: The subject.
        at: When the erasure happens.
        by: Who runs it.
        keys: The key store of the :class:`~crmcore.ports.Encryptor`, if one is used.
        request_id: The id of a new request (default: a fresh one).
        again: Run a new request even if the subject was erased before (for
            data recorded since); by default a finished erasure is returned as it is.
        stop_after: Stop after this step (to test resumption).

    Raises:
        NotFoundError: If no customer has ``customer_id`` and no request is open for it.
        InvalidValueError: If ``stop_after`` is not a step.
        StorageError: If the backend fails.
    """
    when = utc(at)
    if stop_after is not None and stop_after not in ERASURE_STEPS:
        raise InvalidValueError("stop_after", stop_after, "not an erasure step")
    with store.unit_of_work() as uow:
        requests = uow.erasures.find_by_subject(customer_id)
        open_ = [r for r in requests if not r.done]
        if open_:
            request = open_[0]
        elif requests and not again:
            return max(requests, key=lambda r: (r.requested_at, r.id))
        else:
            uow.customers.get(customer_id)
            request = uow.erasures.save(
                ErasureRequest(
                    id=request_id or f"erasure-{new_id()}",
                    subject=customer_id,
                    customers=merge_group(uow, customer_id),
                    requested_by=by,
                    requested_at=when,
                    created_at=when,
                )
            )
            uow.commit()
    return _run(store, request.id, at=when, by=by, keys=keys, stop_after=stop_after)


def replay_erasures(
    store: Store,
    requests: Iterable[ErasureRequest],
    *,
    at: dt.datetime,
    by: UserId | None = None,
    keys: KeyStore | None = None,
) -> list[ErasureRequest]:
    """Run again every erasure of ``requests`` the store does not hold as finished.

    Keep the erasure register (it holds no personal data) apart from data
    backups; after restoring a backup taken before some erasures, replay it
    and the subjects are erased again. A request the store lacks is recorded
    anew with its id; one that is finished there is skipped.

    Returns:
        The requests as they stand after the replay.

    Raises:
        StorageError: If the backend fails.
    """
    when = utc(at)
    done: list[ErasureRequest] = []
    for logged in requests:
        with store.unit_of_work() as uow:
            try:
                current = uow.erasures.get(logged.id)
            except NotFoundError:
                current = uow.erasures.save(
                    ErasureRequest(
                        id=logged.id,
                        subject=logged.subject,
                        customers=logged.customers,
                        requested_by=logged.requested_by,
                        requested_at=logged.requested_at,
                        created_at=when,
                    )
                )
                uow.commit()
        if current.done:
            done.append(current)
            continue
        done.append(_run(store, current.id, at=when, by=by, keys=keys))
    return done
